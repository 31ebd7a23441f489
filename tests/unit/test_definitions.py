"""The asset graph generated from mappings/: a snapshot of every asset key, group and check,
so generating 13 systems cannot drift quietly. After an intended change, regenerate with
``UPDATE_SNAPSHOTS=1 make test`` and review the diff."""

import os
from pathlib import Path

import dagster as dg

from dagster_project.definitions import defs

SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "asset_graph.txt"


def render() -> str:
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        checks = sorted(c.name for c in graph.get_check_keys_for_assets([key]))
        lines.append(f"{node.group_name:10s} {key.to_user_string():32s} {','.join(checks)}")
    return "\n".join(lines) + "\n"


def test_asset_graph_matches_snapshot():
    got = render()
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(got, encoding="utf-8")
    assert got == SNAPSHOT.read_text(encoding="utf-8")


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
