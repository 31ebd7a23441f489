"""``kikan run`` on a disk that fills during the rehearsal (issue 17, part 3): the terminal says
so first (the path, the free space, the space needed), with no traceback, and exits 2; what the
run had written is whole and nothing half-written is visible.

The run's var folder (warehouse, Dagster's storage, logs) is a 12 MB tmpfs, the legacy exports of
a 300-resident city are elsewhere: the disk fills during extraction or just after it (where
exactly varies from run to run), before the run is over. Skipped where a tmpfs cannot be mounted (it needs root). About 10 s of CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_var(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(var)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()[:80]})")
    try:
        yield var
    finally:
        subprocess.run(["umount", "-l", str(var)], capture_output=True)


def test_a_full_disk_is_said_first_and_nothing_half_written_is_visible(tmp_path, small_var):
    from dagster_project.readiness.export import verify_package
    from dagster_project.simulate.city import generate_city

    legacy = tmp_path / "legacy"
    generate_city(legacy, 300, 5, defect_scale=0.0, log=lambda s: None)
    env = dict(os.environ, KIKAN_LEGACY_DIR=str(legacy), KIKAN_VAR_DIR=str(small_var), KIKAN_TODAY="2026-12-07",
               DAGSTER_HOME=str(small_var / "dagster_home"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    for k in ("KIKAN_WAREHOUSE", "KIKAN_REPORTS_DIR", "KIKAN_READINESS_DIR", "KIKAN_EXPORTS_DIR", "KIKAN_FAULT_PAUSE"):
        env.pop(k, None)
    proc = subprocess.run([sys.executable, "-m", "dagster_project.cli", "run"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    err = [line for line in proc.stderr.splitlines() if not line.startswith("空き容量が不足する見込み")]
    assert err[0].startswith(f"ディスク容量不足 / DISK FULL: {small_var}"), proc.stderr[:2000]
    assert "必要な見込み" in err[1] and "needed" in err[1]
    assert "Traceback" not in proc.stderr and "cannot rollback" not in proc.stderr + proc.stdout
    # what was written is whole: every system in the warehouse has all its bookkeeping, or none
    con = duckdb.connect(str(small_var / "warehouse.duckdb"), read_only=True)
    try:
        files = dict(con.execute("select system, count(*) from meta.extract_files group by 1").fetchall())
        raw = con.execute("select table_name from information_schema.tables where table_schema = 'raw'").fetchall()
    finally:
        con.close()
    from dagster_project.spec.config import cached_project

    project = cached_project()
    assert files, "some systems were extracted before the disk filled"
    for system, n in files.items():
        assert n == len(project.layouts[system].files), system
    extracted = {t.split("__")[0] for (t,) in raw}
    assert extracted == set(files), "a system has raw tables without its bookkeeping (half-written)"
    for pkg in (small_var / "exports").glob("*/*") if (small_var / "exports").exists() else []:
        if pkg.is_dir() and not pkg.name.startswith("."):
            assert verify_package(pkg) == [], pkg
