"""Every ``KIKAN_*`` setting, typed and defaulted in one place (pydantic-settings).

This module is the only reader of ``KIKAN_*`` variables (a test holds it to that). Everything a
run reads or writes by default lies under ``var/``; each place can be moved by its variable:

===============================  ===========================================================
``KIKAN_VAR_DIR``                the run's folder (default ``var/``)
``KIKAN_WAREHOUSE``              the DuckDB warehouse (default ``<var>/warehouse.duckdb``)
``KIKAN_LEGACY_DIR``             the current systems' export files (default ``<var>/legacy``)
``KIKAN_REPORTS_DIR``            owners' workbooks and the pages (default ``<var>/reports``)
``KIKAN_READINESS_DIR``          the gate's records (default ``<var>/readiness``)
``KIKAN_EXPORTS_DIR``            the vendor packages (default ``<var>/exports``)
``KIKAN_MAPPINGS_DIR``           the city's configuration (default ``mappings/``)
``KIKAN_SEEDS_DIR``              the standard catalog, codes and rules (default ``seeds/``; dbt reads
                                 ``../seeds`` beside its project, so a copied project keeps them side by side)
``KIKAN_DBT_DIR``                the dbt project the models are generated into (default ``dbt/``)
``KIKAN_TODAY``                  the day the gates judge on (default: the city's as-of date)
``KIKAN_WAREHOUSE_KEY``          encrypts the warehouse (DuckDB AES-GCM)
``KIKAN_DBT_MEMORY_LIMIT``       DuckDB's memory limit in the dbt build, a DuckDB size such as
                                 ``4GB`` (default 2GB; beyond it DuckDB spills to ``<warehouse>.tmp``)
``KIKAN_DBT_READ_ONLY``          ``1``: dbt attaches the warehouse read only (set by :meth:`Settings.dbt_env`
                                 for ``dbt docs generate``, which only reads)
``KIKAN_SIDE_WORKER``            ``0`` writes the reports' workbooks in this process instead of the
                                 side worker (``core/side.py``; default on)
``KIKAN_WAREHOUSE_CRYPTO_UNSAFE``  lets DuckDB encrypt without OpenSSL (tests only)
``KIKAN_GLYPH_FONT``             IPAmj明朝's file, for the 外字 list's glyphs
``KIKAN_MOJIDATA``               the MJ文字情報 database (default ``node/node_modules/...``)
``KIKAN_NODE_DIR``               the node folder (Playwright, mojidata)
``KIKAN_SPARK_DIR``              the Spark target's work folder
``KIKAN_FAULT_PAUSE``            ``<point>:<seconds>``: hold a run once (crash tests only)
===============================  ===========================================================

The settings are read when asked (:func:`settings`), not at import: the CLI, the tests and the
benchmark move the folders by setting the variables before a run, and a child process (dbt,
the GX step) inherits them. dbt reads the warehouse from ``KIKAN_WAREHOUSE`` in its environment
(the profile's plugin, ``mapping/duck_dbt.py``), set by :meth:`Settings.dbt_env`, the one place
that sets it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KIKAN_", frozen=True, extra="ignore")

    var_dir: Path = PROJECT_ROOT / "var"
    warehouse: Path | None = None
    legacy_dir: Path | None = None
    reports_dir: Path | None = None
    readiness_dir: Path | None = None
    exports_dir: Path | None = None
    mappings_dir: Path = PROJECT_ROOT / "mappings"
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    dbt_dir: Path = PROJECT_ROOT / "dbt"
    today: dt.date | None = None
    warehouse_key: SecretStr | None = None
    dbt_memory_limit: str = "2GB"
    side_worker: bool = True
    dbt_read_only: bool = False
    warehouse_crypto_unsafe: bool = False
    glyph_font: Path | None = None
    mojidata: Path | None = None
    node_dir: Path = PROJECT_ROOT / "node"
    spark_dir: Path | None = None
    fault_pause: str = ""

    # an empty variable means "not set": `KIKAN_TODAY=` falls back like an unset one
    def __init__(self, **values):
        for name in type(self).model_fields:
            if os.environ.get(f"KIKAN_{name.upper()}") == "":
                values.setdefault(name, type(self).model_fields[name].default)
        super().__init__(**values)

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse or self.var_dir / "warehouse.duckdb"

    @property
    def legacy_path(self) -> Path:
        return self.legacy_dir or self.var_dir / "legacy"

    @property
    def reports_path(self) -> Path:
        return self.reports_dir or self.var_dir / "reports"

    @property
    def readiness_path(self) -> Path:
        return self.readiness_dir or self.var_dir / "readiness"

    @property
    def exports_path(self) -> Path:
        return self.exports_dir or self.var_dir / "exports"

    @property
    def mojidata_path(self) -> Path:
        return self.mojidata or self.node_dir / "node_modules" / "@mandel59" / "mojidata" / "dist" / "moji.db"

    @property
    def key(self) -> str | None:
        return self.warehouse_key.get_secret_value() if self.warehouse_key else None

    def dbt_env(self, warehouse: Path | None = None, read_only: bool = False) -> dict[str, str]:
        """The environment of a dbt process: the profile reads the warehouse from it. ``read_only``
        for a dbt command that only reads (``docs generate``): it can then run while other readers
        hold the file (a GX child started ahead), where a writer would be refused the lock."""
        # absolute: dbt runs in the dbt project's folder, where a relative path would name another file
        return {**os.environ, "KIKAN_WAREHOUSE": str(Path(warehouse or self.warehouse_path).resolve()),
                "KIKAN_DBT_READ_ONLY": "1" if read_only else "0", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def settings() -> Settings:
    """The settings as the environment says now (cheap: read on each call)."""
    return Settings()


# the names the callers used before the settings object; each reads the settings
def default_var_dir() -> Path:
    return settings().var_dir


def default_warehouse_path() -> Path:
    return settings().warehouse_path


def default_legacy_dir() -> Path:
    return settings().legacy_path


def default_reports_dir() -> Path:
    return settings().reports_path
