"""A system's failure is visible and contained, and its value leaks nowhere (issue 17, part 2).

One 子育て record's 対象児童数 holds a canary, 'CANARY-731942', and a copy of the dbt project casts
that field with a plain CAST in the mapping (what ``cast(jido_su as integer)`` did before mappings
were made TRY_CASTs): DuckDB fails the model with an error that quotes the value. Two systems are
rehearsed on a copy of the session city's warehouse (子育て and 選挙; the other systems' tables are
those the session run built): 子育て's gate is NO-GO naming the model, the column and the rule;
選挙's models, gate and export step go on; ``kikan run``'s report says FAILED kosodate and the run
is not ok; and the canary is in no file the rehearsal wrote outside the warehouse (dbt's target
folder, run_results.json included, the reports, the readiness records, the exports, the Dagster
instance's event log and compute logs), nor on stdout / stderr, nor in any Dagster event.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.conftest import city_resources

ROOT = Path(__file__).resolve().parents[2]
CANARY = "CANARY-731942"
FAILING, OTHER = "kosodate", "senkyo"
TODAY = "2026-12-07"
INT_MODEL = "int_jido_teate__jukyusha"


def _dbt_copy(base: Path, warehouse: Path) -> Path:
    """The generated dbt project, copied, with the mapping of 対象児童数 a plain CAST; parsed."""
    from dagster_project.mapping.dbt_project import dbt_executable, prepare

    prepare()                                             # the generated models are current
    src = ROOT / "dbt"
    proj = base / "dbt"
    shutil.copytree(src, proj, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (base / "seeds").symlink_to(ROOT / "seeds")          # dbt_project.yml: seed-paths ../seeds
    model = next(proj.rglob(f"{INT_MODEL}.sql"))
    sql, n = re.subn(r"(?m)^(\s*).+ as jido_su__v,$", r"\1cast(jido_su as integer) as jido_su__v,",
                     model.read_text(encoding="utf-8"))
    assert n == 1, f"the expression of jido_su__v was not found in {model}"
    model.write_text(sql, encoding="utf-8")
    env = dict(os.environ, KIKAN_WAREHOUSE=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    res = subprocess.run([dbt_executable(), "parse", "--quiet", "--profiles-dir", str(proj), "--project-dir",
                          str(proj)], cwd=proj, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return proj


def _plant(db: Path) -> int:
    """The canary in one record's 対象児童数; returns its line number. Every other value of the
    field converts, so the error DuckDB raises can only quote the canary."""
    con = duckdb.connect(str(db))
    try:
        line = con.execute("select min(_record_no) from raw.kosodate__teate_jukyusha").fetchone()[0]
        con.execute("update raw.kosodate__teate_jukyusha set jido_su = '1' "
                    "where jido_su is not null and try_cast(trim(jido_su) as integer) is null")
        con.execute("update raw.kosodate__teate_jukyusha set jido_su = ? where _record_no = ?", [CANARY, line])
        return line
    finally:
        con.close()


@pytest.fixture(scope="module")
def failed_rehearsal(extracted_city, tmp_path_factory):
    from dagster_dbt import DbtProject

    from dagster_project.definitions import defs
    from dagster_project.mapping.defs import KikanDbtCliResource, build_mapping_stage
    from dagster_project.readiness.defs import judge_gate
    from dagster_project.mapping.dbt_project import dbt_executable

    import time

    started = time.perf_counter()
    base = tmp_path_factory.mktemp("modelfail")
    wh = base / "wh"
    wh.mkdir()
    shutil.copyfile(extracted_city["db"], wh / "warehouse.duckdb")
    line = _plant(wh / "warehouse.duckdb")
    proj = _dbt_copy(base, wh / "warehouse.duckdb")
    stage = build_mapping_stage(DbtProject(project_dir=proj, profiles_dir=proj), judge_gate=judge_gate)
    assets = [stage] + [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.node_def.name != "mapping_stage"]
    selection = dg.AssetSelection.groups(FAILING, OTHER) - dg.AssetSelection.key_prefixes("raw")
    instance_dir = base / "dagster_home"
    instance_dir.mkdir()
    resources = {**city_resources(extracted_city["legacy"], wh, TODAY),
                 "dbt": KikanDbtCliResource(project_dir=str(proj), profiles_dir=str(proj),
                                            dbt_executable=dbt_executable())}
    env_before = os.environ.get("KIKAN_WAREHOUSE")
    try:
        with dg.instance_for_test(temp_dir=str(instance_dir)) as instance:
            capture = base / "stdout.txt"
            with capture.open("w", encoding="utf-8") as out:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                    result = dg.materialize(assets, selection=selection, resources=resources, instance=instance,
                                            raise_on_error=False)
            records = [str(r.event_log_entry) for r in instance.get_records_for_run(result.run_id, limit=100000).records]
    finally:
        if env_before is None:
            os.environ.pop("KIKAN_WAREHOUSE", None)
        else:
            os.environ["KIKAN_WAREHOUSE"] = env_before
    return {"result": result, "wh": wh, "proj": proj, "base": base, "line": line, "records": records,
            "seconds": time.perf_counter() - started,
            "instance_dir": instance_dir, "stdout": capture.read_text(encoding="utf-8")}


def _history(wh: Path, system: str) -> list[dict]:
    from dagster_project.readiness.gatelog import read_history

    return read_history(wh / "readiness", system)


def test_the_failing_systems_gate_is_no_go_naming_model_column_and_rule(failed_rehearsal):
    r = failed_rehearsal["result"]
    h = _history(failed_rehearsal["wh"], FAILING)[-1]
    assert h["run_id"] == r.run_id, "the failing system's gate was judged in this rehearsal"
    assert h["outcome"] == "NO-GO" and not h["data_passed"]
    crit = {c["id"]: c for c in h["criteria"]}
    assert not crit["pipeline_complete"]["passed"]
    ev = crit["pipeline_complete"]["evidence"]
    assert f"モデル {INT_MODEL}: 列 jido_su の型変換不可" in ev, ev
    assert "未実行" in ev and f"上流 {INT_MODEL}" in ev
    # Dagster skipped the gate step (its models were not built); the dbt step judged it
    gate_step = f"readiness__gate_{FAILING}"
    assert any(e.event_type_value == "STEP_SKIPPED" and e.step_key == gate_step for e in r.all_events)
    obs = [e.event_specific_data.asset_observation for e in r.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    failed = [o for o in obs if o.metadata.get("dbt_status") and o.metadata["dbt_status"].value == "error"]
    assert [(o.asset_key.path[-1], o.metadata["system"].value, o.metadata["rule"].value, o.metadata["column"].value)
            for o in failed] == [(INT_MODEL, FAILING, "conversion", "jido_su")]
    con = duckdb.connect(str(failed_rehearsal["wh"] / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select node, status from meta.model_failures where system = ? order by status, node",
                           [FAILING]).fetchall()
    finally:
        con.close()
    assert (INT_MODEL, "error") in rows and ("std_jido_teate__jukyusha", "skipped") in rows


def test_the_other_system_goes_on(failed_rehearsal):
    r = failed_rehearsal["result"]
    mats = {e.event_specific_data.materialization.asset_key.to_user_string() for e in r.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert f"readiness/gate_{OTHER}" in mats and f"reports/gap_report_{OTHER}" in mats
    assert any(k.startswith("standard/std_senkyo") for k in mats)
    # 子育て's other tables were built too: only what the failed model feeds was skipped
    assert "staging/stg_kosodate__teate_jukyusha" in mats and "standard/std_jido_teate__jido" in mats
    h = _history(failed_rehearsal["wh"], OTHER)[-1]
    assert h["run_id"] == r.run_id
    crit = {c["id"]: c for c in h["criteria"]}
    assert crit["pipeline_complete"]["passed"], crit["pipeline_complete"]["evidence"]
    # its export step ran (written, or blocked by its own gate: not skipped for 子育て's failure)
    assert not any(e.event_type_value == "STEP_SKIPPED" and e.step_key == f"exports__package_{OTHER}"
                   for e in r.all_events)


def test_kikan_run_reports_failed_and_is_not_ok(failed_rehearsal, capsys):
    from dagster_project import runner

    ok = runner.report_run(failed_rehearsal["result"], quiet=True)
    err = capsys.readouterr().err
    assert not ok, "a rehearsal whose model failed is not ok (kikan run exits 1)"
    line = next(x for x in err.splitlines() if x.startswith(f"FAILED {FAILING}:"))
    assert f"モデル {INT_MODEL}: 列 jido_su の型変換不可" in line and CANARY not in err
    assert not any(x.startswith(f"FAILED {OTHER}") for x in err.splitlines())


def _scan(root: Path) -> tuple[int, list[str]]:
    n, hits = 0, []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        n += 1
        if CANARY.encode() in f.read_bytes():
            hits.append(str(f))
    return n, hits


def test_the_canary_is_nowhere_but_the_warehouse(failed_rehearsal):
    fr = failed_rehearsal
    con = duckdb.connect(str(fr["wh"] / "warehouse.duckdb"), read_only=True)
    try:      # positive control: the value is in the data, and the failure was its cast
        assert con.execute("select count(*) from raw.kosodate__teate_jukyusha where jido_su = ?",
                           [CANARY]).fetchone()[0] == 1
    finally:
        con.close()
    targets = sorted((fr["proj"] / "target").glob("mapping_stage-*"))
    assert targets and all((t / "run_results.json").exists() for t in targets)
    assert not list((fr["proj"] / "target").rglob("dbt.log")), "dbt writes no debug log"
    places = {"dbt target": fr["proj"] / "target", "dbt project": fr["proj"] / "logs",
              "reports": fr["wh"] / "reports", "readiness": fr["wh"] / "readiness", "exports": fr["wh"] / "exports",
              "Dagster instance (event log, compute logs)": fr["instance_dir"]}
    scanned = 0
    for where, root in places.items():
        if not root.exists():
            continue
        n, hits = _scan(root)
        scanned += n
        assert not hits, f"the canary is in {where}: {hits}"
    assert scanned > 40, scanned
    assert any("run_results.json" in str(p) for p in fr["proj"].rglob("run_results.json"))
    assert CANARY not in fr["stdout"], "the canary is on stdout / stderr (the run log)"
    assert "列 jido_su の型変換不可" in fr["stdout"]          # the redacted line is what was printed
    assert not [r for r in fr["records"] if CANARY in r], "the canary is in the Dagster event log"
    print(f"canary scan: {scanned} files, {len(fr['records'])} Dagster event records, "
          f"{len(fr['stdout'].splitlines())} lines of output; the failing rehearsal took {fr['seconds']:.1f} s")
