"""Shared fixtures: a small simulated city, extracted once per test session."""

from __future__ import annotations

import json
import time
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

# pyspark (the optional Spark target) exits the process when pyspark.sql.connect is imported
# without its grpc extras and __main__ has no file (it takes that for a doctest run), and Great
# Expectations imports it. A pytest-xdist worker's __main__ is execnet's bootstrap, which has none.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    # before any test loads the definitions (they only read the manifest): `dbt parse` when the
    # committed project changed since the last parse. No generation here: the committed models are
    # what is tested, and tests/unit/test_dbt_committed.py fails when they are stale.
    from dagster_project.mapping.dbt_project import parse_if_changed

    parse_if_changed()


# small enough for seconds, large enough that every planted defect class occurs
SMALL_RESIDENTS = 3000
SMALL_SEED = 11


def _city_files() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py")
            if "extracted_city" in p.read_text(encoding="utf-8")}


# The modules that take longest on one worker (``--durations`` of a whole suite, 2026-12-02, 2
# cores: the killed runs and the canary 235 s, Spark 145 s, the fourteenth system 100 s, sqlfluff
# 78 s, ...), handed out first after the city's tests, longest first: xdist hands out a module when
# a worker runs dry, and a long one handed out last runs alone at the end while the other worker
# idles. A module missing here only costs balance, never a result.
LONGEST_FIRST = (
    "tests/integration/test_runs_cli.py", "tests/integration/test_spark.py", "tests/e2e/test_fourteenth_system.py",
    "tests/integration/test_readiness.py", "tests/unit/test_dbt_committed.py",
    "tests/independent/test_independent_city.py", "tests/integration/test_loopback.py",
    "tests/integration/test_encryption.py", "tests/integration/test_badfiles.py",
)


def pytest_collection_modifyitems(session, config, items):
    """The order modules are handed to the workers (LONGEST_FIRST, after the city's tests), the
    tests of each module in their own order. Every worker sorts the same collection the same way."""
    city = _city_files()

    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        if path in city:
            return 0
        return 1 + LONGEST_FIRST.index(path) if path in LONGEST_FIRST else 1 + len(LONGEST_FIRST)

    items.sort(key=rank)     # stable: each module's tests keep their order


def pytest_xdist_make_scheduler(config, log):
    """Two workers (pytest-xdist): the tests of a module stay together (their module fixtures, e.g.
    a whole ``kikan run``, are built once), and every module that reads the session city runs on
    the worker that built it. (A scheduler, not ``xdist_group`` marks: xdist 3.8 writes the group
    into ``item._nodeid``, which pytest 9 no longer reads.) Modules go out in the collection's
    order (pytest_collection_modifyitems), not xdist's most-tests-first."""
    from xdist.scheduler import LoadScopeScheduling

    city_files = _city_files()
    config.option.loadscopereorder = False

    class ByModuleAndCity(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "city" if path in city_files else path

    return ByModuleAndCity(config, log)


@pytest.fixture(scope="session")
def project():
    from dagster_project.spec.config import load_project

    return load_project(ROOT / "mappings")


@pytest.fixture(scope="session")
def small_city(tmp_path_factory):
    from dagster_project.simulate.city import generate_city

    out = tmp_path_factory.mktemp("city") / "legacy"
    manifest = generate_city(out, SMALL_RESIDENTS, SMALL_SEED, defect_scale=3.0, log=lambda s: None)
    return out, manifest


def run_city(legacy: Path, wh: Path, today: str):
    """Materialize every asset and check (one rehearsal) of the city in ``legacy`` into ``wh``."""
    import dagster as dg

    from dagster_project.definitions import defs

    assets = list(defs.assets) + list(defs.asset_checks or [])
    return dg.materialize(assets, resources=city_resources(legacy, wh, today), raise_on_error=False)


def city_resources(legacy: Path, wh: Path, today: str, owner_dir: Path | None = None) -> dict:
    from dagster_project.definitions import defs
    from dagster_project.resources import ReadinessResource
    from dagster_project.resources import WarehouseResource

    return {**defs.resources,
            "warehouse": WarehouseResource(path=str(wh / "warehouse.duckdb"), legacy_dir=str(legacy),
                                           reports_dir=str(wh / "reports")),
            "readiness": ReadinessResource(state_dir=str(wh / "readiness"), exports_dir=str(wh / "exports"),
                                           today=today, owner_dir=str(owner_dir or ""))}


@pytest.fixture(scope="session")
def extracted_city(small_city, tmp_path_factory):
    """The small city through the whole main job in process (extract, dbt, reports, gates), into tmp paths."""
    legacy, manifest = small_city
    wh = tmp_path_factory.mktemp("wh")
    started = time.time()
    result = run_city(legacy, wh, "2026-12-07")
    # the dbt target folder of this run's build (dagster-dbt makes one per invocation)
    targets = [p for p in (Path(__file__).resolve().parents[1] / "dbt" / "target").glob("mapping_stage-*")
               if p.stat().st_mtime >= started and (p / "run_results.json").exists()]
    return {"db": wh / "warehouse.duckdb", "legacy": legacy, "manifest": manifest, "result": result,
            "reports": wh / "reports", "wh": wh,
            "dbt_target": max(targets, key=lambda p: p.stat().st_mtime) if targets else None}


def succeeded_but_blocked(result) -> bool:
    """The run did everything; the export packages its NO-GO gates blocked are no failure (the gate
    doing its job: no materialization, a failed ``gate_allows_export`` check naming the reason, see
    ``blocked_exports``). Any failed step is a failure, an export's included."""
    failed = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return not failed and all("出力しない" in reason for reason in blocked_exports(result).values())


def blocked_exports(result) -> dict[str, str]:
    """The systems whose gate blocked the export in this run, with the check's reason."""
    return {e.asset_key.path[-1].removeprefix("package_"): e.description or ""
            for e in result.get_asset_check_evaluations()
            if e.check_name == "gate_allows_export" and not e.passed}


def load_manifest(legacy: Path) -> dict:
    return json.loads((legacy / "_truth" / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def query():
    """Run SQL read-only on a DuckDB file: query(db, sql, *params) -> rows."""
    import duckdb

    def run(db, sql, *params):
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()
    return run
