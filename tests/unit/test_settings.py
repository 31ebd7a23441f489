"""The one settings object (core/settings.py): what the environment says, resolved once."""

from __future__ import annotations

from pathlib import Path

from dagster_project.core.settings import Settings


def test_an_empty_variable_counts_as_unset(monkeypatch):
    monkeypatch.setenv("KIKAN_WAREHOUSE", "")
    assert Settings().warehouse_path == Settings(_env_file=None).var_dir / "warehouse.duckdb"


def test_dbt_gets_the_warehouse_as_an_absolute_path(monkeypatch, tmp_path):
    """dbt runs in the dbt project's folder: a relative KIKAN_WAREHOUSE (a benchmark's --out
    var/bench2) named a file that does not exist there, and dbt stopped with an I/O error."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIKAN_WAREHOUSE", "var/w.duckdb")
    env = Settings().dbt_env()
    assert env["KIKAN_WAREHOUSE"] == str(tmp_path / "var" / "w.duckdb")
    assert Path(Settings().dbt_env(Path("x/y.duckdb"))["KIKAN_WAREHOUSE"]) == tmp_path / "x" / "y.duckdb"
