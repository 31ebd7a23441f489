"""The command line guides: options checked before any work (dates as people type them, system
ids listed, files named), a user's mistake is one message and exit 2 without a traceback, every
command's --help is Japanese and English, ``kikan run --system X`` resolves to X's share of the
job, a gate's block counts in either form, runs record into the persistent instance."""

import datetime as dt
from types import SimpleNamespace

import duckdb
import pytest
from typer.testing import CliRunner

from dagster_project import cli, runner

IDS = ["jumin", "koseki", "senkyo", "kokuho", "nenkin", "kouki", "kaigo", "kenko", "kosodate", "zeimu",
       "shogai", "shugaku", "seiho"]


@pytest.fixture
def ran(monkeypatch, tmp_path):
    """cmd_run / run_job replaced: what a command would have run, and KIKAN_TODAY when it did."""
    monkeypatch.setenv("KIKAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KIKAN_TODAY", raising=False)
    calls = []

    def fake(a):
        import os

        calls.append({"system": a.system, "today": os.environ.get("KIKAN_TODAY")})
        return 0

    monkeypatch.setattr(cli, "cmd_run", fake)
    monkeypatch.setattr(cli, "run_job", lambda *a, **k: calls.append("run_job") or True)
    return calls


def invoke(*args):
    return CliRunner().invoke(cli.app, list(args))


@pytest.mark.parametrize("typed", ["2026-12-07", "2026/12/07", "20261207", "2026年12月7日", "令和8年12月7日",
                                   "R8.12.7", "R08/12/07", "２０２６／１２／０７"])
def test_today_is_read_in_the_forms_people_type(ran, typed):
    r = invoke("run", "--today", typed)
    assert r.exit_code == 0, r.output
    assert ran == [{"system": None, "today": "2026-12-07"}]


@pytest.mark.parametrize("typed", ["2026/13/07", "平成31年5月1日", "12/07/2026", "tomorrow", "45000"])
def test_a_date_that_is_not_one_is_said_before_any_work_exit_2(ran, typed):
    r = invoke("run", "--today", typed)
    assert r.exit_code == 2
    assert ran == []                                   # nothing ran
    assert r.stderr.startswith("--today: 日付として読めません")
    assert f"--today: {typed!r} is not a date; accepted forms: {cli.TODAY_FORMS}" in r.stderr
    assert "Traceback" not in r.output + r.stderr


def test_demo_checks_today_too(ran, monkeypatch):
    monkeypatch.setattr(cli, "cmd_demo", lambda a: ran.append("demo") or 0)
    assert invoke("demo", "--today", "2026/02/30").exit_code == 2
    assert ran == []


def test_an_unknown_system_lists_the_known_ids_exit_2(ran):
    r = invoke("run", "--system", "jumin", "--system", "nosuch")
    assert r.exit_code == 2 and ran == []
    assert "システム ID「nosuch」はありません。使えるシステム ID: " + ", ".join(IDS) in r.stderr
    assert "unknown system id 'nosuch'; known ids: " + ", ".join(IDS) in r.stderr


def test_systems_repeat_or_comma_separate(ran):
    assert invoke("run", "-s", "jumin,zeimu", "--system", "jumin").exit_code == 0
    assert ran == [{"system": ["jumin", "zeimu"], "today": None}]


def test_export_of_an_unknown_system_lists_the_known_ids(ran):
    r = invoke("export", "nosuch", "--preview")
    assert r.exit_code == 2 and "システム ID「nosuch」はありません" in r.stderr and "seiho" in r.stderr


def test_a_missing_catalog_file_is_named_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("KIKAN_VAR_DIR", str(tmp_path / "var"))
    missing = tmp_path / "基本データリスト.xlsx"
    r = invoke("import-catalog", str(missing))
    assert r.exit_code == 2
    assert r.stderr.strip() == f"ファイルがありません: {missing} / no such file: {missing}"
    assert cli.main(["import-catalog", str(tmp_path)]) == 2          # a folder is not the file


def test_a_missing_workbook_for_decisions_import_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("KIKAN_VAR_DIR", str(tmp_path / "var"))
    r = invoke("decisions", "import", str(tmp_path / "missing.xlsx"))
    assert r.exit_code == 2 and "ファイルがありません" in r.stderr and "missing.xlsx" in r.stderr
    assert "Traceback" not in r.output + r.stderr


COMMANDS = [["demo"], ["run"], ["generate"], ["gx-generate"], ["import-catalog"], ["export-catalog"], ["export"],
            ["decisions"], ["decisions", "import"], ["decisions", "import-inbox"], []]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "kikan")
def test_help_is_japanese_and_english(cmd):
    r = CliRunner().invoke(cli.app, [*cmd, "--help"], terminal_width=200)
    assert r.exit_code == 0
    text = r.output
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text), text   # Japanese
    english = {"demo": "Simulate the default city", "run": "Run the main job", "generate": "Write the dbt models",
               "gx-generate": "Rewrite the Great Expectations", "import-catalog": "Read an official-style",
               "export-catalog": "Write the current catalog", "export": "Write a system's vendor package",
               "decisions": "Owners' decisions", "import": "Read an owner's filled workbook",
               "import-inbox": "Import every *.xlsx", "": "The command line of the migration rehearsal"}
    assert english[cmd[-1] if cmd else ""] in " ".join(text.split())


def test_the_pass_through_commands_are_listed():
    r = CliRunner().invoke(cli.app, ["--help"], terminal_width=200)
    assert all(f" {c} " in r.output for c in ("simulate", "spark", "bench"))


def test_runs_record_into_the_persistent_instance_under_var(tmp_path, monkeypatch):
    monkeypatch.setenv("KIKAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    inst = runner._instance()
    try:
        assert inst.is_persistent
        assert inst.root_directory == str(tmp_path / "var" / "dagster_home")
        assert (tmp_path / "var" / "dagster_home" / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    finally:
        inst.dispose()


def test_run_system_resolves_to_that_systems_share():
    """The old group selection raised DagsterInvalidSubsetError (GX's one multi-check over every
    standard table cannot be split); the subset now resolves without running anything."""
    from dagster_project.definitions import defs

    job, left_out = runner.job_for(defs, ["jumin"])
    steps = {n.name for n in job.graph.nodes}
    assert {"extract_jumin", "mapping_stage", "readiness__gate_jumin", "exports__package_jumin"} <= steps
    assert not any(s.endswith("_zeimu") for s in steps)
    assert {ck.name for ck in left_out} == {"gx_conformance"}
    keys, checks, _ = runner.system_selection(defs.resolve_asset_graph(), ["jumin"])
    assert {(ck.asset_key.to_user_string(), ck.name) for ck in checks} >= {
        ("exports/package_jumin", "gate_allows_export"), ("readiness/gate_jumin", "readiness_decision")}
    assert all(ck.asset_key in keys for ck in checks)


def _check(name, passed, severity="WARN", reason=None, key="exports/package_jumin"):
    import dagster as dg

    md = {"reason": SimpleNamespace(value=reason)} if reason else {}
    return SimpleNamespace(event_type_value="ASSET_CHECK_EVALUATION", step_key="exports__package_jumin",
                           event_specific_data=SimpleNamespace(
                               check_name=name, passed=passed, severity=getattr(dg.AssetCheckSeverity, severity),
                               metadata=md, description=None, asset_key=dg.AssetKey(key.split("/"))))


def _step_failure(step, description, metadata=None):
    ufd = SimpleNamespace(description=description, metadata=metadata or {})
    return SimpleNamespace(event_type_value="STEP_FAILURE", step_key=step,
                           event_specific_data=SimpleNamespace(user_failure_data=ufd, error=None))


def test_a_gate_block_counts_as_a_failed_check_or_the_older_step_failure(capsys):
    new = SimpleNamespace(success=True, all_events=[
        _check(runner.GATE_EXPORT_CHECK, False, reason="移行可否判定 NO-GO のため移行データを出力しない")])
    assert runner.report_run(new) is True
    out = capsys.readouterr()
    assert "BLOCKED exports/package_jumin: 移行可否判定 NO-GO のため移行データを出力しない" in out.out
    assert "FAILED" not in out.err and "warned" not in out.out         # a block is not a warning either
    old = SimpleNamespace(success=False, all_events=[
        _step_failure("exports__package_zeimu", "移行可否判定 NO-GO（移行不可）のため移行データを出力しない")])
    assert runner.report_run(old) is True
    out = capsys.readouterr()
    assert "BLOCKED exports__package_zeimu" in out.out and "FAILED" not in out.err
    broken = SimpleNamespace(success=False, all_events=[_step_failure("extract_kaigo", "抽出できません")])
    assert runner.report_run(broken) is False
    assert "FAILED extract_kaigo: 抽出できません" in capsys.readouterr().err


def test_the_gate_check_name_is_the_export_assets():
    from dagster_project.readiness.defs import BLOCKED_BY_GATE, GATE_EXPORT_CHECK

    assert runner.GATE_EXPORT_CHECK == GATE_EXPORT_CHECK
    old = SimpleNamespace(success=False, all_events=[_step_failure("exports__package_kaigo", "判定", {BLOCKED_BY_GATE: 1})])
    assert runner.report_run(old, quiet=True) is True


def test_the_extract_summary_is_a_table_of_counts(tmp_path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema meta")
    con.execute("create table meta.extract_files (system varchar, records_in_file bigint, raw_rows bigint, "
                "quarantined bigint, refused_records bigint)")
    con.execute("insert into meta.extract_files values ('jumin', 1200, 1190, 7, 3), ('jumin', 10, 10, 0, null), "
                "('zeimu', 5000, 5000, 0, 0)")
    con.execute("create table meta.gaiji_usage (system varchar, occurrences bigint, substituted_with varchar)")
    con.execute("insert into meta.gaiji_usage values ('jumin', 4, null), ('jumin', 9, 'x')")
    con.close()
    rows = [line.replace("│", " ").split() for line in cli.summary(db).splitlines()]
    assert ["jumin", "2", "1,210", "1,200", "7", "3", "4"] in rows
    assert ["zeimu", "1", "5,000", "5,000", "0", "0", "0"] in rows
    assert ["total", "3", "6,210", "6,200", "7", "3", "4"] in rows


def test_stage_of_steps():
    assert [runner.stage_of(s) for s in ("extract_jumin", "mapping_stage", "readiness__gate_jumin",
                                      "exports__package_jumin", "reports__gap_report_jumin", "gx_conformance")] == \
        ["extract", "dbt", "gates", "exports", "reports", "checks"]


def test_today_default_is_unchanged(ran):
    assert invoke("run").exit_code == 0
    assert ran == [{"system": None, "today": None}]
    assert dt.date.fromisoformat(cli.parse_today("令和元年5月1日")) == dt.date(2019, 5, 1)


def test_the_progress_has_a_bar_per_stage_and_per_system_fed_by_events():
    import io

    from rich.console import Console

    from dagster_project.definitions import defs

    job, _ = runner.job_for(defs, ["jumin"])
    bar = runner.RunProgress(job, defs.resolve_asset_graph(), Console(file=io.StringIO()))
    tasks = {t.description.strip(): t for t in bar.progress.tasks}
    assert set(tasks) == {"抽出 / extract", "変換 dbt / models", "帳票 / reports", "判定 / gates", "出力 / exports",
                          "jumin"}
    assert tasks["抽出 / extract"].total == 1 and tasks["帳票 / reports"].total == 3

    def ev(kind, step, key=None):
        import dagster as dg

        return SimpleNamespace(dagster_event=SimpleNamespace(
            event_type_value=kind, step_key=step, asset_key=dg.AssetKey(key) if key else None))

    bar(ev("STEP_START", "extract_jumin"))
    raw = next(k for k, g in bar.group.items() if g == "jumin" and k.path[0] == "raw")
    bar(ev("ASSET_MATERIALIZATION", "extract_jumin", raw.path))
    bar(ev("STEP_SUCCESS", "extract_jumin"))
    bar(SimpleNamespace(dagster_event=None))                      # a log line, not an event
    assert tasks["抽出 / extract"].completed == 1 and tasks["変換 dbt / models"].completed == 0
    assert tasks["jumin"].completed == 1
