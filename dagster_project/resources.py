"""The Dagster resources every stage uses, built from the settings (:mod:`core.settings`).

An empty field falls back to its ``KIKAN_*`` variable, then to ``var/``; tests and the CLI give
explicit paths. Each stage's definitions name these resources in their asset signatures; the
one set of instances is bound in ``definitions.py``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from dagster_project.core.settings import settings
from dagster_project.spec.config import cached_project


class WarehouseResource(dg.ConfigurableResource):
    """Where the legacy exports are read from and the DuckDB warehouse is written to."""

    path: str = ""
    legacy_dir: str = ""
    reports_dir: str = ""

    @property
    def db_path(self) -> Path:
        return Path(self.path) if self.path else settings().warehouse_path

    @property
    def legacy_path(self) -> Path:
        return Path(self.legacy_dir) if self.legacy_dir else settings().legacy_path

    @property
    def reports_path(self) -> Path:
        return Path(self.reports_dir) if self.reports_dir else settings().reports_path


class ReadinessResource(dg.ConfigurableResource):
    """Where the gate keeps its records and writes packages, which day it judges, and where
    the owners' inputs (decisions, reviews, sign-offs) are read. Empty values fall back to
    KIKAN_READINESS_DIR / KIKAN_EXPORTS_DIR / KIKAN_TODAY, then ``var/`` and city.as_of
    (null: the machine's date)."""

    state_dir: str = ""
    exports_dir: str = ""
    today: str = ""
    owner_dir: str = ""
    keep_packages: int = 3

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir) if self.state_dir else settings().readiness_path

    @property
    def exports_path(self) -> Path:
        return Path(self.exports_dir) if self.exports_dir else settings().exports_path

    @property
    def owner_path(self) -> Path:
        return Path(self.owner_dir) if self.owner_dir else cached_project().root

    def as_of(self) -> dt.date:
        if self.today:
            return dt.date.fromisoformat(self.today)
        return settings().today or cached_project().city.city.as_of or dt.date.today()
