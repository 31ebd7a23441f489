"""The asset graph generated from mappings/: a snapshot of every asset key, group, owner and check,
so generating 13 systems cannot drift quietly. The snapshot is plain text
(``__snapshots__/test_definitions/test_asset_graph_matches_snapshot.txt``, one asset a line), so a
change reads as an ordinary diff. After an intended change, regenerate it with
``.venv/bin/python -m pytest tests/unit/test_definitions.py --snapshot-update`` and review the diff."""

import re
import shutil
from pathlib import Path

import dagster as dg
import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from dagster_project.definitions import defs


class TextSnapshot(SingleFileSnapshotExtension):
    """One UTF-8 text file per snapshot (syrupy's amber format would wrap it in a quoted, indented block)."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


def render() -> str:
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        checks = sorted(c.name for c in graph.get_check_keys_for_assets([key]))
        owners = ",".join(node.owners)
        lines.append(f"{node.group_name:10s} {key.to_user_string():32s} {owners:27s} {','.join(checks)}".rstrip())
    return "\n".join(lines) + "\n"


def test_asset_graph_matches_snapshot(snapshot):
    assert render() == snapshot.use_extension(TextSnapshot)


def test_every_system_is_one_group_and_every_raw_table_has_a_blocking_check(project):
    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {s.id for s in project.city.systems} | {"reference", "bookkeeping", "ict_office"}
    for key in graph.get_all_asset_keys():
        checks = list(graph.get_check_keys_for_assets([key]))
        if key.path[0] != "raw" or key.path[1].endswith("__quarantine"):
            continue
        by_name = {c.name: graph.get_check_spec(c) for c in checks}
        assert set(by_name) == {"row_conservation", "file_accepted"}
        assert by_name["row_conservation"].blocking
        # a refused file fails its system's gate, not the one dbt build of every system
        assert not by_name["file_accepted"].blocking


def test_main_job_and_executor():
    job = defs.resolve_job_def("migration")
    assert job.executor_def.name == "in_process"


def test_every_system_has_its_layers_and_report(project):
    graph = defs.resolve_asset_graph()
    for s in project.city.systems:
        layers = {k.path[0] for k in graph.get_all_asset_keys() if graph.get(k).group_name == s.id}
        assert layers >= {"raw", "staging", "intermediate", "standard", "gaps", "reports", "conformance",
                          "readiness"}, s.id


def test_every_system_has_a_gate_and_an_export_and_the_rehearsal_is_scheduled(project):
    graph = defs.resolve_asset_graph()
    for s in project.city.systems:
        for key in (dg.AssetKey(["readiness", f"gate_{s.id}"]), dg.AssetKey(["exports", f"package_{s.id}"])):
            node = graph.get(key)
            assert node.group_name == s.id and node.description, key
        assert dg.AssetKey(["readiness", f"gate_{s.id}"]) in graph.get(dg.AssetKey(["exports", f"package_{s.id}"])).parent_keys
    sched = defs.resolve_schedule_def("daily_rehearsal")
    assert sched.cron_schedule == "0 2 * * *" and sched.execution_timezone == "Asia/Tokyo"
    assert defs.resolve_sensor_def("overview_after_rehearsal") and defs.resolve_sensor_def("overview_after_failed_rehearsal")
    migration = defs.resolve_job_def("migration")
    assert dg.AssetKey(["reports", "readiness_overview"]) not in migration.asset_layer.executable_asset_keys


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_every_asset_is_owned_by_its_shokanka_and_described_in_japanese(project):
    """The ICT office reads the graph: each system's assets are owned by its 所管課 (team:<owner_team>
    of mappings/city.yaml), the shared ones by the ICT office, and every description is Japanese,
    never a dbt model's SQL (dagster-dbt's default for a model without a description)."""
    graph = defs.resolve_asset_graph()
    teams = {s.id: f"team:{s.owner_team}" for s in project.city.systems}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        want = teams.get(node.group_name, "team:ict_office")
        assert list(node.owners) == [want], (key, node.owners)
        d = node.description or ""
        assert JAPANESE.search(d) and "select" not in d.lower() and "{{" not in d, (key, d[:200])
    g = graph.get
    assert g(dg.AssetKey(["standard", "std_juki__jumin"])).description.startswith(
        "住民基本台帳「住民」の標準テーブル（標準データ項目 26）: 移行元 住民記録システム「")
    assert g(dg.AssetKey(["raw", "jumin__kojin"])).description.startswith("住民記録システム「")
    assert g(dg.AssetKey(["readiness", "gate_kokuho"])).owners == ["team:kokumin_kenko_hoken"]
    assert g(dg.AssetKey(["exports", "package_shugaku"])).owners == ["team:gakumu"]
    assert g(dg.AssetKey(["reports", "readiness_overview"])).owners == ["team:ict_office"]
    assert g(dg.AssetKey(["reference", "std_items"])).owners == ["team:ict_office"]


@pytest.mark.parametrize("old,new", [
    ("owner_team: senkyo_jimukyoku", "owner_team: koseki_jumin"),           # another 所管課's team
    ("    owner_team: kokumin_kenko_hoken\n    track: on_schedule\n    cutover: 2027-01-04\n  - id: kouki",
     "    owner_team: nenkin_ka\n    track: on_schedule\n    cutover: 2027-01-04\n  - id: kouki"),  # 2 teams, 1 課
    ("owner_team: gakumu", "owner_team: 学務課"),                              # not ASCII
])
def test_owner_teams_are_one_per_shokanka_and_ascii(tmp_path, old, new):
    from dagster_project.spec.config import ConfigError, load_project

    mappings = tmp_path / "mappings"
    shutil.copytree(Path(__file__).parents[2] / "mappings", mappings)
    city = mappings / "city.yaml"
    text = city.read_text(encoding="utf-8")
    assert text.count(old) == 1
    city.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError, match="owner_team"):
        load_project(mappings)


def test_the_nightly_rehearsal_is_running_by_default():
    assert defs.resolve_schedule_def("daily_rehearsal").default_status == dg.DefaultScheduleStatus.RUNNING


def _history_row(system: str, status: str) -> dict:
    return {"system": system, "rehearsal_id": "R20261001-0000aaaa", "run_id": "0000aaaa-run",
            "evaluated_at": "2026-10-01T00:00:00+00:00", "as_of": "2026-10-01", "phase": "before_gate",
            "outcome": status, "status": status, "decision_id": None, "export_allowed": False,
            "data_passed": False, "figures": {},
            "criteria": [{"id": "key_violations", "label": "キー違反", "passed": False},
                         {"id": "row_conservation", "label": "件数保存", "passed": True}]}


def _export_alone(tmp_path, system: str):
    """Materialize one system's export asset alone, in process, on the gate records in tmp_path."""
    from dagster_project.readiness import defs as readiness
    from dagster_project.readiness.defs import ReadinessResource
    from dagster_project.extract.assets import WarehouseResource

    key = dg.AssetKey(["exports", f"package_{system}"])
    export = next(a for a in readiness.assets if key in a.keys)
    return dg.materialize([export], raise_on_error=False, resources={
        "warehouse": WarehouseResource(path=str(tmp_path / "none.duckdb"), legacy_dir=str(tmp_path),
                                       reports_dir=str(tmp_path / "reports")),
        "readiness": ReadinessResource(state_dir=str(tmp_path / "readiness"), exports_dir=str(tmp_path / "exports"),
                                       today="2026-10-01")})


def test_a_blocked_export_is_a_successful_run_with_a_failed_check(tmp_path):
    """A NO-GO gate blocks the package: the run succeeds, nothing is written or materialized, and the
    check gate_allows_export fails as a warning with the reason (kikan run counts blocks by it)."""
    from dagster_project.readiness.defs import GATE_EXPORT_CHECK
    from dagster_project.readiness import gatelog
    from tests.conftest import blocked_exports, succeeded_but_blocked

    gatelog.append_history(tmp_path / "readiness", _history_row("kaigo", "NO-GO"))
    result = _export_alone(tmp_path, "kaigo")
    assert result.success and succeeded_but_blocked(result)
    assert not [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    [check] = result.get_asset_check_evaluations()
    reason = "介護保険システム: 移行可否判定 NO-GO（移行不可、判定前の見込み）のため移行データを出力しない。満たしていない基準: キー違反"
    assert (check.asset_key, check.check_name) == (dg.AssetKey(["exports", "package_kaigo"]), GATE_EXPORT_CHECK)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN and check.description == reason
    md = {k: v.value for k, v in check.metadata.items()}
    assert md["reason"] == reason and md["decision"] == "NO-GO" and md["blocked_by_gate"] is True
    assert md["failing_criteria"] == ["キー違反"]
    assert blocked_exports(result) == {"kaigo": reason}
    assert not (tmp_path / "exports" / "kaigo").exists() or not any((tmp_path / "exports" / "kaigo").iterdir())


def test_an_export_refused_for_another_reason_than_the_gate_fails_its_step(tmp_path):
    """No evaluation on record (not the gate's decision): something is wrong, the step fails."""
    from tests.conftest import succeeded_but_blocked

    result = _export_alone(tmp_path, "kaigo")
    failed = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failed] == ["exports__package_kaigo"]
    assert "未評価" in failed[0].event_specific_data.user_failure_data.description
    assert not result.success and not succeeded_but_blocked(result)
