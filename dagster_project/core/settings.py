"""Where a run reads and writes by default: the ``var/`` folder and what lies in it, each
overridable by its ``KIKAN_*`` variable. Imports nothing of the project but its root, so every
module (the warehouse, the disk-space check) can ask without importing the other."""

from __future__ import annotations

import os
from pathlib import Path

from dagster_project.spec.config import PROJECT_ROOT


def default_var_dir() -> Path:
    return Path(os.environ.get("KIKAN_VAR_DIR", PROJECT_ROOT / "var"))


def default_warehouse_path() -> Path:
    return Path(os.environ.get("KIKAN_WAREHOUSE", default_var_dir() / "warehouse.duckdb"))


def default_legacy_dir() -> Path:
    return Path(os.environ.get("KIKAN_LEGACY_DIR", default_var_dir() / "legacy"))


def default_reports_dir() -> Path:
    return Path(os.environ.get("KIKAN_REPORTS_DIR", default_var_dir() / "reports"))
