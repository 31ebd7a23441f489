"""The same dbt models on Apache Spark (dbt-spark, local session): 住民記録 and 税総合's staging,
standard and gaps models built from the same mappings, compared with DuckDB row for row, and
every model of the project compiled for Spark calling only functions Spark has."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_jumin_and_zeimu_on_spark_match_duckdb(extracted_city, tmp_path):
    work = tmp_path / "spark"
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    proc = subprocess.run([sys.executable, "-m", "dagster_project.cli", "spark", "--systems", "jumin", "zeimu",
                           "--warehouse", str(extracted_city["db"]), "--work", str(work)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert (work / "result.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads((work / "result.json").read_text(encoding="utf-8"))
    assert r["failed"] == [], r["failed"]
    assert r["different"] == [], {m: r["compared"][m] for m in r["different"]}
    built = set(r["built"])
    for prefix in ("stg_jumin__", "stg_zeimu__", "std_juki__", "std_kojin_jumin__", "gaps_jumin__", "gaps_zeimu__"):
        assert any(m.startswith(prefix) for m in built), prefix
    assert r["rows"] > 10_000
    assert r["portability"]["compile_success"]
    assert r["portability"]["compiled_for_spark"] > 150
    assert r["portability"]["calls_spark_lacks"] == {}
    assert proc.returncode == 0, proc.stdout[-3000:]
