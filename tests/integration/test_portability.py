"""SQL portability (DESIGN principle 6): every model dbt compiled for DuckDB transpiles to Spark
with sqlglot, and whatever DuckDB-only function it calls comes from a dispatched macro."""

import pytest

from dagster_project.mapping import sqlcheck


@pytest.fixture(scope="module")
def compiled(extracted_city):
    target = extracted_city["dbt_target"]
    assert target is not None, "the small city's dbt build left no target folder"
    models = sqlcheck.read_compiled(target / "compiled")
    assert len(models) > 150, len(models)
    return models


def test_every_model_transpiles_and_duckdb_only_calls_are_dispatched(compiled):
    r = sqlcheck.transpile_report(compiled)
    assert r["errors"] == {}
    assert r["undispatched"] == {}
    # the check has teeth: the dispatched DuckDB spellings are really there and really not Spark's
    assert "regexp_full_match" in r["duckdb_only_dispatched"]


def test_a_duckdb_only_call_written_into_a_model_is_caught(compiled):
    planted = {"stg_planted": "select jaro_winkler_similarity(a, b) as s from raw.t",
               # sqlglot writes this as `a && b`, which is not Spark SQL: caught as an error
               "stg_planted_2": "select list_has_any(a, b) as x from raw.t"}
    r = sqlcheck.transpile_report({**compiled, **planted})
    assert r["undispatched"] == {"stg_planted": ["jarowinkler_similarity"]}
    assert set(r["errors"]) == {"stg_planted_2"}


def test_spark_side_check_names_calls_spark_lacks():
    spark = sqlcheck.spark_functions()
    assert {"try_to_date", "rlike", "collect_list", "array_join"} <= spark
    out = sqlcheck.unknown_functions(
        {"ok": "select try_to_date(a, 'yyyy-MM-dd'), array_join(collect_list(b), ',') from t group by a",
         "bad": "select try_strptime(a, '%Y-%m-%d') from t"}, spark | sqlcheck.SPARK_SYNTAX)
    assert out == {"bad": ["try_strptime"]}
