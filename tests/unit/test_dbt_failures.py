"""A failed dbt node's error text never passes on: the rule, the column and the type are kept,
the value is not. The events below are dbt 1.11's own (captured from a build whose
intermediate model cast 'CANARY-731942' to an integer), with the canary in every place dbt put
the DuckDB message."""

import json
import subprocess
import sys

import duckdb
import pytest

from dagster_project.mapping.dbt_failures import (
    NodeFailure, RedactedStdout, classify, failures_of, read_failures, record_failures, redact_invocation,
    redact_line, redact_run_results)

CANARY = "CANARY-731942"
DUCK = (f"Conversion Error: Could not convert string '{CANARY}' to INT32 when casting from source column jido_su\n"
        "\nLINE 20: ...        case cast((jotai) as string) when '1' then '1' end as jotai__v\n")
RUNTIME = ("Runtime Error in model int_jido_teate__jukyusha (models/generated/intermediate/kosodate/"
           "int_jido_teate__jukyusha.sql)\n  " + DUCK)
MODEL = "model.kikan.int_jido_teate__jukyusha"
SQL = "select cast(jido_su as integer) as jido_su__v, jotai from stg"
NODE_INFO = {"materialized": "table", "meta": {"system": "kosodate"}, "node_name": "int_jido_teate__jukyusha",
             "node_path": "generated/intermediate/kosodate/int_jido_teate__jukyusha.sql", "node_status": "error",
             "resource_type": "model", "unique_id": MODEL}


def ev(event_name, level, text, /, **data):
    return {"data": data, "info": {"category": "", "code": "X", "extra": {}, "invocation_id": "i", "level": level,
                                   "msg": text, "name": event_name, "pid": 1, "thread": "T",
                                   "ts": "2026-12-01T00:00:00Z"}}


EVENTS = [
    ev("RunResultError", "error", "  " + RUNTIME, msg=RUNTIME, node_info=NODE_INFO),
    ev("CatchableExceptionOnRun", "debug", RUNTIME, exc=RUNTIME, exc_info="Traceback ...\n" + DUCK, node_info=NODE_INFO),
    ev("AdapterEventDebug", "debug", "duckdb error: " + DUCK, args=[], base_msg="duckdb error: " + DUCK,
       name="DuckDB", node_info=NODE_INFO),
    ev("NodeFinished", "debug", f"Finished running node {MODEL}", node_info=NODE_INFO,
       run_result={"status": "error", "message": RUNTIME, "num_failures": 0, "adapter_response": {}}),
    ev("MarkSkippedChildren", "debug", f"Marking all children of '{MODEL}' to be skipped because of status "
       f"'error'.  Reason: {RUNTIME}.", unique_id=MODEL, status="error",
       run_result={"status": "error", "message": RUNTIME}),
    ev("EndRunResult", "debug", "Command end result", results=[
        {"status": "success", "message": "OK", "unique_id": "model.kikan.stg_kosodate__teate_jukyusha"},
        {"status": "error", "message": RUNTIME, "unique_id": MODEL}]),
    ev("MainEncounteredError", "error", "Encountered an error:\n" + DUCK, exc=DUCK),
    ev("SomeFutureEvent", "info", f"a message that quotes {CANARY}", detail=CANARY),
]


@pytest.mark.parametrize("event", EVENTS, ids=[e["info"]["name"] for e in EVENTS])
def test_no_event_keeps_the_value(event):
    out = redact_line(json.dumps(event).encode(), {MODEL: SQL})
    assert CANARY.encode() not in out
    got = json.loads(out)                          # still one JSON event dagster-dbt can read
    assert got["info"]["name"] == event["info"]["name"]
    if "node_info" in event["data"]:
        assert got["data"]["node_info"] == NODE_INFO


def test_the_failure_is_named_by_model_column_and_rule():
    got = json.loads(redact_line(json.dumps(EVENTS[0]).encode(), {MODEL: SQL}))
    assert got["info"]["msg"].strip() == (
        "モデル int_jido_teate__jukyusha: 列 jido_su の型変換不可（→ INT32、DuckDB Conversion Error） / "
        "int_jido_teate__jukyusha: conversion error in column jido_su; the value is not shown")


def test_what_dbt_composes_from_names_and_counts_passes_unchanged():
    safe = [ev("LogModelResult", "error", "4 of 21 ERROR creating sql table model intermediate.int_jido_teate__jukyusha",
               node_info=NODE_INFO, status="error", index=4, total=21, execution_time=0.03),
            ev("StatsLine", "info", "Done. PASS=3 WARN=0 ERROR=1 SKIP=17 NO-OP=0 TOTAL=21", stats={"error": 1}),
            ev("RunResultWarningMessage", "warn", "Got 3 results, configured to warn if != 0",
               msg="Got 3 results, configured to warn if != 0")]
    for e in safe:
        assert json.loads(redact_line(json.dumps(e).encode())) == e


def test_a_line_that_is_not_a_dbt_event_is_withheld():
    out = redact_line(f"Traceback: ValueError: {CANARY}\n".encode())
    assert CANARY.encode() not in out and "not shown".encode() in out


@pytest.mark.parametrize("message, rule, column", [
    (DUCK, "conversion", "jido_su"),
    ("Constraint Error: NOT NULL constraint failed: std_x.atena_no", "not_null", "atena_no"),
    (f'Constraint Error: Duplicate key "atena_no: {CANARY}" violates primary key constraint.', "unique", None),
    (f"Out of Range Error: Overflow in multiplication of INT32 ({CANARY} * 100)!", "out_of_range", None),
    (f"Invalid Input Error: {CANARY}", "invalid_input", None),
    ('IO Error: Could not write file "/var/w.duckdb": No space left on device', "disk_full", None),
    ("Binder Error: Referenced column \"jido\" not found in FROM clause!", "sql", None),
    ("Compilation Error in model std_x\n  This model has an enforced contract that failed.", "contract", None),
])
def test_classify_never_returns_the_value(message, rule, column):
    f = classify(message, SQL + " atena_no")
    assert (f.rule, f.column) == (rule, column)
    assert CANARY not in f.describe("m")


def test_a_column_is_named_only_when_the_models_sql_names_it():
    """A value shaped like a column name, at the place DuckDB puts the column, is not taken."""
    msg = "Conversion Error: Could not convert string 'x' to INT32 when casting from source column yamada_taro"
    assert classify(msg, SQL).column is None
    assert classify(msg, SQL + " yamada_taro").column == "yamada_taro"


def test_dagster_dbt_reads_the_redacted_pipe(tmp_path, capsys):
    """Through dagster-dbt's own reader (DbtCliInvocation over a real process): nothing it prints
    or keeps holds the value. Fails if an upgrade reads the dbt process in another way."""
    from dagster_dbt import DagsterDbtTranslator
    from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
    from packaging import version

    stream = tmp_path / "dbt-stdout.jsonl"
    stream.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdout.write(open(sys.argv[1]).read())",
                             str(stream)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    inv = DbtCliInvocation(process=proc, manifest={"nodes": {MODEL: {"raw_code": SQL}}},
                           dagster_dbt_translator=DagsterDbtTranslator(), project_dir=tmp_path,
                           target_path=tmp_path, raise_on_error=False, cli_version=version.parse("1.11.16"))
    pipe = redact_invocation(inv, inv.manifest)
    assert isinstance(inv.process.stdout, RedactedStdout)
    events = list(inv.stream_raw_events())
    printed = capsys.readouterr().out
    assert len(events) == len(EVENTS)
    assert CANARY not in printed and "列 jido_su の型変換不可" in printed
    assert CANARY not in str(inv.get_error())
    assert any("型変換不可" in r for r in pipe.reasons) and not pipe.disk_full


MANIFEST = {
    "nodes": {
        MODEL: {"resource_type": "model", "name": "int_jido_teate__jukyusha", "raw_code": SQL,
                "config": {"meta": {"system": "kosodate"}}},
        "model.kikan.std_jido_teate__jukyusha": {"resource_type": "model", "name": "std_jido_teate__jukyusha",
                                                 "config": {"meta": {"system": "kosodate"}}},
        "model.kikan.findings": {"resource_type": "model", "name": "findings", "config": {"meta": {}}},
        "test.kikan.unique_std_x.abc": {"resource_type": "test", "name": "unique_std_x",
                                        "depends_on": {"nodes": ["model.kikan.std_jido_teate__jukyusha"]}},
        "test.kikan.kikan_unique_key_std_kaigo.def": {"resource_type": "test", "name": "kikan_unique_key_std_kaigo",
                                                      "depends_on": {"nodes": []}},
    },
    "parent_map": {"model.kikan.std_jido_teate__jukyusha": [MODEL],
                   "model.kikan.findings": ["model.kikan.std_jido_teate__jukyusha"],
                   "test.kikan.unique_std_x.abc": ["model.kikan.std_jido_teate__jukyusha"]},
}
RESULTS = {"results": [
    {"unique_id": MODEL, "status": "error", "message": RUNTIME, "compiled_code": SQL},
    {"unique_id": "model.kikan.std_jido_teate__jukyusha", "status": "skipped", "message": None},
    {"unique_id": "model.kikan.findings", "status": "skipped", "message": None},
    {"unique_id": "test.kikan.unique_std_x.abc", "status": "skipped", "message": None},
    {"unique_id": "test.kikan.kikan_unique_key_std_kaigo.def", "status": "fail",
     "message": "Got 3 results, configured to fail if != 0"},
]}


def test_failures_name_the_model_and_what_it_left_unbuilt():
    got = {(f.node, f.status, f.system, f.rule, f.column_name, f.upstream) for f in failures_of(RESULTS, MANIFEST)}
    assert got == {
        ("int_jido_teate__jukyusha", "error", "kosodate", "conversion", "jido_su", None),
        ("std_jido_teate__jukyusha", "skipped", "kosodate", "skipped", None, "int_jido_teate__jukyusha"),
        ("findings", "skipped", None, "skipped", None, "int_jido_teate__jukyusha"),
        ("unique_std_x", "skipped", "kosodate", "skipped", None, "int_jido_teate__jukyusha"),
    }   # a data test that failed (status fail) is its asset check's business, not a failure of the build


def test_run_results_are_rewritten_without_the_value(tmp_path):
    p = tmp_path / "run_results.json"
    p.write_text(json.dumps(RESULTS), encoding="utf-8")
    redact_run_results(p, MANIFEST)
    text = p.read_text(encoding="utf-8")
    assert CANARY not in text and "型変換不可" in text
    assert "Got 3 results, configured to fail if != 0" in text      # dbt's own words stay
    assert not list(tmp_path.glob(".*"))                             # no temporary file left beside it


def test_failures_are_kept_per_node_until_it_builds_again(tmp_path):
    db = tmp_path / "w.duckdb"
    failures = failures_of(RESULTS, MANIFEST)
    record_failures(db, "run-1", [r["unique_id"] for r in RESULTS["results"]], failures)
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = read_failures(con, "kosodate")
        assert [(r["node"], r["status"]) for r in rows] == [
            ("int_jido_teate__jukyusha", "error"), ("std_jido_teate__jukyusha", "skipped"),
            ("unique_std_x", "skipped")]
        assert read_failures(con, "kaigo") == []
        assert CANARY not in json.dumps(con.execute("select * from meta.model_failures").fetchall(), default=str)
    finally:
        con.close()
    # the next build ran only the intermediate model, and built it: its row goes, the others stay
    record_failures(db, "run-2", [MODEL], [])
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert [r["node"] for r in read_failures(con, "kosodate")] == ["std_jido_teate__jukyusha", "unique_std_x"]
    finally:
        con.close()


def test_a_node_failure_row_has_the_table_columns():
    f = NodeFailure("m", "model.kikan.m", "model", "s", "error", "conversion", "c", "r", None)
    assert list(f.as_row()) == ["node", "unique_id", "resource_type", "system", "status", "rule", "column_name",
                                "reason", "upstream"]
