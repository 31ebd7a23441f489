"""The project's own adapter for Great Expectations on DuckDB: fails loudly if GX moves the
internals it patches, and the committed suites are what the catalog generates. The character-set
query goes through GX's own ``{batch}`` formatting and runs on DuckDB, and an expectation that
raised is reported as not evaluated, never as a data failure."""

import json

import pytest
import sqlalchemy as sa

from dagster_project.conformance import gx_duckdb
from dagster_project.conformance.gx_suites import SUITES_DIR, render_suites
from dagster_project.spec.mapping import load_mappings


def test_the_adapter_finds_the_gx_internals_it_needs():
    import great_expectations.execution_engine.sqlalchemy_execution_engine as see

    gx_duckdb.install()
    assert "duckdb" in [str(d) for d in see._PERSISTED_CONNECTION_DIALECTS]
    for name in gx_duckdb.REGEX_MODULES:
        mod = __import__(name, fromlist=["get_dialect_regex_expression"])
        assert mod.get_dialect_regex_expression.__name__ == "regex_expression", name


def test_regex_becomes_regexp_matches_for_duckdb():
    import duckdb_engine

    gx_duckdb.install()
    from great_expectations.expectations.metrics import util

    expr = util.get_dialect_regex_expression(sa.column("x"), "^[0-9]+$", duckdb_engine.Dialect, positive=False)
    sql = str(expr.compile(compile_kwargs={"literal_binds": True}))
    assert "regexp_matches" in sql and "NOT" in sql.upper()


def test_committed_suites_are_generated_from_the_catalog(project):
    files = render_suites(load_mappings(project))
    committed = {p.name: p.read_text(encoding="utf-8") for p in SUITES_DIR.glob("*.json")}
    assert committed == files, "run: .venv/bin/kikan gx-generate"
    jumin = json.loads(files["std_juki__jumin.json"])
    types = {e["type"] for e in jumin["expectations"]}
    assert {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_in_set",
            "unexpected_rows_expectation", "expect_column_values_to_match_regex"} <= types


# ---------------------------------------------------------------- the character-set expectation

def _charset_queries(project) -> dict[tuple[str, str], str]:
    """(suite, column) -> unexpected_rows_query of every character-set expectation the catalog gives."""
    out = {}
    for name, text in render_suites(load_mappings(project)).items():
        for e in json.loads(text)["expectations"]:
            if e["type"] == "unexpected_rows_expectation":
                out[(name.removesuffix(".json"), e["meta"]["column"])] = e["kwargs"]["unexpected_rows_query"]
    return out


def _gx_substitute(query: str, table: str) -> str:
    """The query as GX runs it on a query asset: the batch is GX's own subquery of the asset's
    statement, formatted into the query by the unexpected-rows metric (``{batch}`` and nothing else)."""
    import duckdb_engine  # noqa: F401  (the dialect GX's engine is built with)
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine
    from great_expectations.execution_engine import sqlalchemy_execution_engine as see
    from great_expectations.expectations.metrics.query_metrics.query_table.unexpected_rows_query_table import (
        UnexpectedRowsQueryTable,
    )

    engine = SqlAlchemyExecutionEngine(connection_string="duckdb:///:memory:")
    try:
        batch = see._query_text_as_subquery(f"select * from standard.{table}")
        return UnexpectedRowsQueryTable._get_substituted_batch_subquery_from_query_and_batch_selectable(
            query=query, batch_selectable=batch, execution_engine=engine)
    finally:
        engine.engine.dispose()


def test_the_charset_query_survives_gx_formatting_and_finds_the_rows_the_ledger_names(project):
    """Every character-set query goes through GX's substitution of ``{batch}`` (``str.format``: a
    brace raises there) and then runs on DuckDB against a findings ledger made here: it returns the
    standard table's rows whose record the ledger names for that source table and item, every one of
    them, and no row the ledger names for another item or another source table."""
    import re

    import duckdb

    queries = _charset_queries(project)
    assert len(queries) >= 20
    con = duckdb.connect()
    con.execute("create schema standard; create schema findings")
    made: set[str] = set()
    pat = re.compile(r"from findings\.(fnd_\w+__chars) where source_table = '(\w+)' and item_id = '(\w+)'")
    for n, ((suite, column), query) in enumerate(sorted(queries.items())):
        m = pat.search(query)
        assert m, (suite, column, query)
        ledger, source_table, item_id = m.groups()
        if ledger not in made:
            con.execute(f"create table findings.{ledger}(source_table varchar, item_id varchar, record_no bigint)")
            made.add(ledger)
        if suite not in made:
            con.execute(f"create table standard.{suite}(_src_record_no bigint, v varchar)")
            con.execute(f"insert into standard.{suite} select r, 'x' from range(1, 40) t(r)")
            made.add(suite)
        # this item's records (one of them named twice, for two characters), and decoys: the same
        # record numbers under another item and another source table
        mine = [3 + n % 7, 11 + n % 5, 30]
        con.execute(f"insert into findings.{ledger} values " + ", ".join(
            [f"('{source_table}', '{item_id}', {r})" for r in mine + [30]]
            + [f"('{source_table}', 'other{n}', 2)", f"('other{n}', '{item_id}', 5)"]))
        sql = _gx_substitute(query, suite)
        assert "{" not in sql and "}" not in sql, (suite, column)
        rows = sorted(r[0] for r in con.execute(sql).fetchall())
        assert rows == sorted(set(mine)), (suite, column, rows)


def test_a_brace_in_the_charset_query_fails_here(project):
    """The test above would catch a brace (a regex ``{7}``): GX refuses it while formatting, and the
    generator refuses it before a suite is written."""
    from great_expectations.expectations.metrics.query_metric_provider import UnsubstitutableQueryBraceError

    from dagster_project.conformance.gx_suites import _gx_query

    (suite, _), query = next(iter(_charset_queries(project).items()))
    old = query.replace("where source_table", "where regexp_matches(item_id, '^[0-9]{7}$') and source_table")
    assert old != query
    with pytest.raises(UnsubstitutableQueryBraceError):
        _gx_substitute(old, suite)
    with pytest.raises(ValueError, match="no brace but"):
        _gx_query(old, suite, "item")


def test_split_chars_keeps_a_selector_with_its_base_and_uses_string_split_without_one():
    import duckdb

    from dagster_project.conformance.charsql import IVS_CLASS, split_chars_sql

    sql = split_chars_sql("x")
    assert "{" not in sql and "}" not in sql
    assert sql.endswith(" else string_split(x, '') end")
    con = duckdb.connect()

    def split(s):
        return con.execute(f"select {sql}, regexp_matches(x, '{IVS_CLASS}') from (select ?::varchar as x)", [s]).fetchone()

    assert split("葛\U000E0100飾\U000E01EF区") == (["葛\U000E0100", "飾\U000E01EF", "区"], True)
    assert split("a𠮷葛飾") == (["a", "𠮷", "葛", "飾"], False)      # no selector: the string_split branch


def test_the_dbt_macro_renders_the_same_split():
    import jinja2

    from dagster_project.conformance.charsql import split_chars_sql
    from dagster_project.mapping.dbtgen import split_chars_macro

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    out = env.from_string(split_chars_macro() + "{{ default__split_chars('d.v') }}").render()
    assert out.strip() == split_chars_sql("d.v")


# ---------------------------------------------------------------- raised is not failed

def _evr(type_, kwargs, meta, success, result=None, exception_info=None):
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    return ExpectationValidationResult(
        success=success, result=result or {}, exception_info=exception_info,
        expectation_config=ExpectationConfiguration(type=type_, kwargs=kwargs, meta=meta, id="e-" + type_))


def test_summary_tells_raised_from_failed():
    from types import SimpleNamespace

    from great_expectations.validator.exception_info import ExceptionInfo

    from dagster_project.conformance.gx_suites import summarize

    tb = ("Traceback (most recent call last):\n  ...\ngreat_expectations.expectations.metrics.query_metric_provider."
          "UnsubstitutableQueryBraceError: `E0100` is not a placeholder ... 山田太郎\n")
    info = {"('unexpected_rows_query.table', ...)": ExceptionInfo(exception_traceback=tb, exception_message="山田太郎")}
    vr = SimpleNamespace(success=False, results=[
        _evr("unexpected_rows_expectation", {"unexpected_rows_query": "select 1 from {batch}"},
             {"rule": "行政事務標準文字にない文字", "item_id": "0101003", "item_name": "氏名", "column": "shimei"},
             False, exception_info=info),
        _evr("expect_compound_columns_to_be_unique", {"column_list": ["a", "b"]}, {"rule": "主キー重複"},
             False, {"unexpected_count": 12}),
        _evr("expect_column_values_to_not_be_null", {"column": "a"}, {"rule": "主キー欠落"}, True,
             {"unexpected_count": 0}),
    ])
    s = summarize(vr)
    assert s["evaluated"] == 2 and s["success"] is False
    assert [e["raised"] for e in s["expectations"]] == [True, False, False]
    assert s["expectations"][0] | {"exception": None} == {
        "id": "e-unexpected_rows_expectation", "type": "unexpected_rows_expectation", "rule": "行政事務標準文字にない文字",
        "item_id": "0101003", "item": "氏名", "columns": ["shimei"], "success": False, "unexpected_count": None,
        "raised": True, "exception": None}
    assert s["expectations"][0]["exception"] == ["UnsubstitutableQueryBraceError"]
    assert [f["rule"] for f in s["failed"]] == ["主キー重複"] and s["failed"][0]["unexpected_count"] == 12
    assert [r["rule"] for r in s["raised"]] == ["行政事務標準文字にない文字"]
    assert s["expectations"][2]["columns"] == ["a"] and s["expectations"][1]["columns"] == ["a", "b"]
    assert "山田太郎" not in json.dumps(s, ensure_ascii=False)


def test_a_raised_expectation_fails_the_check_as_not_evaluated(tmp_path):
    import dagster as dg

    from dagster_project.conformance.defs import check_result

    raised = {"id": "x", "rule": "行政事務標準文字にない文字", "type": "unexpected_rows_expectation", "item": "氏名",
              "item_id": "0101003", "columns": ["shimei"], "exception": ["MetricResolutionError"]}
    failed = {"id": "y", "rule": "主キー重複", "type": "expect_compound_columns_to_be_unique", "item": "a,b",
              "item_id": None, "columns": ["a", "b"], "unexpected_count": 12}
    r = check_result("std_juki__jumin", {"expectations": [{}, {}], "evaluated": 1, "failed": [failed],
                                         "raised": [raised], "success": False}, tmp_path)
    assert not r.passed and r.severity == dg.AssetCheckSeverity.ERROR
    assert r.description.startswith("expectation raised (not evaluated): std_juki__jumin: 行政事務標準文字にない文字 (氏名)")
    assert r.metadata["raised"].value == 1 and r.metadata["evaluated"].value == 1
    assert [f["rule"] for f in r.metadata["failed_rules"].value] == ["主キー重複"]
    ok = check_result("std_juki__jumin", {"expectations": [{}], "evaluated": 1, "failed": [failed], "raised": [],
                                          "success": False}, tmp_path)
    assert not ok.passed and ok.severity == dg.AssetCheckSeverity.WARN and ok.description is None
    assert ok.metadata["raised"].value == 0
