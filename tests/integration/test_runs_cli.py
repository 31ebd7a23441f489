"""Whole rehearsals through the real command line (``kikan run``), in child processes.

Personal data stays inside: a canary resident (a distinctive name, address and 個人番号) is
planted in 住民記録's export; after a run, no log, no Dagster event (the instance's storage,
read as bytes), no ICT-office view, no gap report and no Data Docs page holds any of the three,
while the vendor export package of 住民記録 does, correctly.

Crash and rerun: a run killed with SIGKILL in the middle of extraction, of the dbt build and of
writing an export package, then run again, leaves the same warehouse contents and the same export
files as a run that was never interrupted; no half-written package is ever visible; the decision
log stays whole; the killed rehearsals are recorded as aborted (中断) and never counted. Runs go
through the real command line (``kikan run``) in child processes.
"""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from dagster_project.readiness import gatelog
from dagster_project.readiness.export import verify_package

TODAY = "2026-12-07"
VOLATILE = {("meta", "extract_files", "extracted_at")}   # when it ran, not what it holds


# the canary: 金糸雀 is "canary"; the number carries a valid check digit
CANARY_NAME = "鵜飼　金糸雀"
CANARY_KANA = "ｳｶｲ ｶﾅﾘｱ"
CANARY_ADDRESS = "大阪府堺市北区金糸雀町９丁目９９番９号"


def canary_number() -> str:
    from dagster_project.core.checkdigits import mynumber_check_digit

    base = "97531864202"
    return base + str(mynumber_check_digit(base))


def plant_canary(legacy: Path) -> str:
    """Give the first resident of JUMIN_KOJIN.CSV (every history row) the canary's identity."""
    f = legacy / "jumin" / "JUMIN_KOJIN.CSV"
    lines = f.read_bytes().decode("cp932").split("\r\n")
    header = lines[0].split(",")
    col = {name: header.index(name) for name in ("宛名番号", "氏名", "氏名カナ", "住所", "個人番号")}
    atena = lines[1].split(",")[col["宛名番号"]]
    for i, line in enumerate(lines[1:], start=1):
        parts = line.split(",")
        if len(parts) == len(header) and parts[col["宛名番号"]] == atena:
            parts[col["氏名"]], parts[col["氏名カナ"]] = CANARY_NAME, CANARY_KANA
            parts[col["住所"]], parts[col["個人番号"]] = CANARY_ADDRESS, canary_number()
            lines[i] = ",".join(parts)
    f.write_bytes("\r\n".join(lines).encode("cp932"))
    return atena


@pytest.fixture(scope="module")
def clean_city(tmp_path_factory):
    from dagster_project.simulate.city import generate_city

    out = tmp_path_factory.mktemp("crashcity") / "legacy"
    generate_city(out, 600, 5, defect_scale=0.0, log=lambda s: None)
    plant_canary(out)
    return out


def _env(legacy: Path, var: Path, **extra) -> dict:
    env = dict(os.environ, KIKAN_LEGACY_DIR=str(legacy), KIKAN_VAR_DIR=str(var), KIKAN_TODAY=TODAY,
               DAGSTER_HOME=str(var / "dagster_home"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    for k in ("KIKAN_WAREHOUSE", "KIKAN_REPORTS_DIR", "KIKAN_READINESS_DIR", "KIKAN_EXPORTS_DIR", "KIKAN_FAULT_PAUSE"):
        env.pop(k, None)
    env.update(extra)
    return env


def _cmd():
    return [sys.executable, "-m", "dagster_project.cli", "run"]


def run_to_end(legacy: Path, var: Path) -> subprocess.CompletedProcess:
    var.mkdir(parents=True, exist_ok=True)
    return subprocess.run(_cmd(), env=_env(legacy, var), capture_output=True, text=True, timeout=900)


def run_and_kill(legacy: Path, var: Path, marker: str, pause: str | None = None, after: float = 0.0):
    """Start a run, wait until its log shows ``marker``, wait ``after`` seconds, SIGKILL the whole
    process group (dbt and the GX child included)."""
    var.mkdir(parents=True, exist_ok=True)
    extra = {"KIKAN_FAULT_PAUSE": pause} if pause else {}
    proc = subprocess.Popen(_cmd(), env=_env(legacy, var, **extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    try:
        while time.time() < deadline:
            logs = sorted((var / "logs").glob("run-*.log")) if (var / "logs").exists() else []
            text = logs[-1].read_text(encoding="utf-8", errors="replace") if logs else ""
            if re.search(marker, text):
                time.sleep(after)
                break
            assert proc.poll() is None, f"the run ended before {marker!r}"
            time.sleep(0.2)
        else:
            raise AssertionError(f"{marker!r} never appeared")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run was killed, not finished"


def warehouse_digest(db: Path) -> dict[str, str]:
    """Per table: row count and a hash of its rows, order-independent (volatile columns left out)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        tables = con.execute("select schema_name, table_name from duckdb_tables() order by 1, 2").fetchall()
        for schema, table in tables:
            cols = [c for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
                "order by column_index", [schema, table]).fetchall() if (schema, table, c) not in VOLATILE]
            row = "concat_ws('|', " + ", ".join(f'coalesce(cast("{c}" as varchar), \'∅\')' for c in cols) + ")"
            n, h = con.execute(f'select count(*), coalesce(sum(hash({row})), 0) from "{schema}"."{table}"').fetchone()
            out[f"{schema}.{table}"] = f"{n}:{h}"
        return out
    finally:
        con.close()


def export_files(var: Path) -> dict[str, str]:
    """system/file -> SHA-256 of the data files of each system's LATEST package (ids and release
    lines differ between runs by design: they name the run)."""
    out = {}
    root = var / "exports"
    for latest in sorted(root.glob("*/LATEST")) if root.exists() else []:
        pkg = latest.parent / latest.read_text(encoding="utf-8").strip()
        for f in sorted(pkg.iterdir()):
            if f.suffix in (".csv", ".parquet"):
                out[f"{latest.parent.name}/{f.name}"] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def assert_nothing_half_written(var: Path) -> None:
    root = var / "exports"
    for system_dir in (root.iterdir() if root.exists() else []):
        for pkg in system_dir.iterdir():
            if pkg.is_dir() and not pkg.name.startswith("."):
                assert verify_package(pkg) == [], pkg     # every visible package is whole
        latest = system_dir / "LATEST"
        if latest.exists():
            assert (system_dir / latest.read_text(encoding="utf-8").strip()).is_dir()
    state = var / "readiness"
    if (state / gatelog.LOG).exists():
        gatelog.read_log(state)                           # raises LogCorrupted naming the line


@pytest.fixture(scope="module")
def reference(clean_city, tmp_path_factory):
    var = tmp_path_factory.mktemp("ref")
    proc = run_to_end(clean_city, var)
    assert "FAILED" not in proc.stderr, proc.stderr[-2000:]
    files = export_files(var)
    assert len({k.split("/")[0] for k in files}) >= 3, "a clean city exports several systems"
    return {"var": var, "warehouse": warehouse_digest(var / "warehouse.duckdb"), "exports": files,
            "stdout": proc.stdout + proc.stderr}


def _texts(path: Path):
    """Every file under ``path`` as text, zip members (.xlsx) opened: (name, text)."""
    import zipfile

    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        data = f.read_bytes()
        if data[:2] == b"PK":
            with zipfile.ZipFile(f) as z:
                for m in z.namelist():
                    yield f"{f}!{m}", z.read(m).decode("utf-8", errors="replace")
        else:
            yield str(f), data.decode("utf-8", errors="replace")


@pytest.mark.slow
def test_canary_personal_data_stays_inside(reference):
    var = reference["var"]
    needles = {"name": CANARY_NAME, "name without space": CANARY_NAME.replace("　", ""), "kana": "ウカイ　カナリア",
               "half-width kana": CANARY_KANA, "address": CANARY_ADDRESS, "個人番号": canary_number()}
    places = {
        "logs": [var / "logs"],
        "Dagster event storage and compute logs": [var / "dagster_home"],
        "ICT office views and gap reports": [var / "reports"],
        "Data Docs": [var / "gx_docs"],
        "decision log and rehearsal history": [var / "readiness"],
    }
    scanned = 0
    for where, roots in places.items():
        for root in roots:
            assert root.exists(), f"{where}: {root} was not written"
            for name, text in _texts(root):
                scanned += 1
                for what, needle in needles.items():
                    assert needle not in text, f"the canary's {what} is in {where}: {name}"
    assert scanned > 50
    for what, needle in needles.items():
        assert needle not in reference["stdout"], f"the canary's {what} is on the terminal"
    # dbt's own logs and artifacts of this run (the stream is also in the run log)
    # and, as a positive control, the canary is where it belongs: the vendor package of 住民記録
    latest = var / "exports" / "jumin" / "LATEST"
    assert latest.exists(), "住民記録 was exported (a clean city's gate allows it)"
    pkg = latest.parent / latest.read_text(encoding="utf-8").strip()
    jumin = (pkg / "std_juki__jumin.csv").read_text(encoding="utf-8")
    row = next(line for line in jumin.splitlines() if canary_number() in line)
    assert CANARY_NAME in row and CANARY_ADDRESS in row and "ウカイ　カナリア" in row


KILL_POINTS = [
    # inside the extract transaction of a system: tables written, not committed
    ("extract", r"KIKAN_FAULT_PAUSE at extract", "extract:120", 0.5),
    # dbt building, 12 s after it started (models half built)
    ("dbt", r"Running dbt command", None, 12.0),
    # an export package half written in its hidden folder
    ("export", r"KIKAN_FAULT_PAUSE at export", "export:120", 0.5),
]


@pytest.mark.slow
def test_killed_runs_then_rerun_equal_an_uninterrupted_run(clean_city, reference, tmp_path):
    """Three rehearsals killed with SIGKILL in a row on the same folders (inside extraction, during
    the dbt build, inside an export package), then one run to the end: the warehouse and the
    export files equal those of the uninterrupted reference run, byte for byte. The rerun is an
    independent second run on the same inputs, so this is also the two-runs identity check."""
    var = tmp_path / "killed"
    for point, marker, pause, after in KILL_POINTS:
        run_and_kill(clean_city, var, marker, pause, after)
        assert_nothing_half_written(var)
        if point == "export":
            assert list((var / "exports").glob("*/.tmp-*")), "the kill landed inside a package being written"
    proc = run_to_end(clean_city, var)
    assert "FAILED" not in proc.stderr, proc.stderr[-2000:]
    assert_nothing_half_written(var)
    assert not list((var / "exports").glob("*/.tmp-*")), "the rerun cleared what the killed run left"
    assert warehouse_digest(var / "warehouse.duckdb") == reference["warehouse"]
    assert export_files(var) == reference["exports"]
    # the run killed inside an export package had evaluated gates: their rows are aborted (中断), and
    # the rerun's gates count one passing rehearsal, their own, not the killed one before it
    rows = gatelog.read_history(var / "readiness")
    aborted = [h for h in rows if not h["completed"]]
    done = [h for h in rows if h["completed"]]
    assert aborted and {h["rehearsal_id"] for h in aborted}.isdisjoint(h["rehearsal_id"] for h in done)
    assert len({h["run_id"] for h in done}) == 1, "only the run that ended is completed"
    passed_before = {h["system"] for h in aborted if h["data_passed"]}
    assert passed_before, "a gate that allowed its export ran before the kill"
    counted = {h["system"]: next(c["value"] for c in h["criteria"] if c["id"] == "rehearsals") for h in done}
    assert {s: counted[s] for s in passed_before} == {s: 1 for s in passed_before}
    page = (var / "reports" / "readiness_overview.html").read_text(encoding="utf-8")
    assert all(f'data-rehearsal="{r}"' in page for r in {h["rehearsal_id"] for h in aborted})
