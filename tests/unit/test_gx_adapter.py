"""The project's own adapter for Great Expectations on DuckDB: fails loudly if GX moves the
internals it patches, and the committed suites are what the catalog generates."""

import json

import sqlalchemy as sa

from dagster_project.lib import gx_duckdb
from dagster_project.lib.gx_suites import SUITES_DIR, render_suites
from dagster_project.lib.mapping import load_mappings


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
