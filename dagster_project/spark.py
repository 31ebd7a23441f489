"""``kikan spark``: the same dbt models on Apache Spark (dbt-spark, ``session`` method, local PySpark).

A prefecture or a vendor migrating many cities runs the mapping on a distributed engine; the
models are not rewritten for it. This command proves it on one city:

1. the raw tables of the chosen systems are taken from a finished DuckDB warehouse (the
   extract stage's output) as Parquet and registered in Spark's ``raw`` database;
2. ``dbt run --target spark`` builds the staging, intermediate, standard and gaps models of
   those systems (and any model they read), from the same generated SQL; the few functions
   spelled differently per engine go through the macros in ``dbt/macros/portable.sql``;
3. every model Spark built is compared with DuckDB's table of the same name, row for row
   (``EXCEPT ALL`` both ways, every column cast to text), and the result is printed and written
   as JSON. Any difference fails the command.

Spark's metastore (Derby) and warehouse live under ``--work`` (default ``var/spark``); Derby
admits one process at a time, so one ``kikan spark`` runs at a time. The Spark session binds
to 127.0.0.1 and has no UI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from dagster_project.core.warehouse import default_var_dir, default_warehouse_path

def spark_conf(work: Path) -> dict[str, str]:
    """The local session: absolute warehouse and metastore paths, quiet, no UI, loopback only."""
    return {
        "spark.master": "local[2]",
        "spark.app.name": "kikan-dbt",
        "spark.sql.warehouse.dir": str(work / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={work / 'metastore_db'};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={work} -Dderby.stream.error.file={work / 'derby.log'}",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.memory": "2g",
        "spark.sql.session.timeZone": "Asia/Tokyo",
    }


def select_models(manifest: dict, systems: list[str]) -> list[str]:
    """The staging, standard and gaps models of the systems (those not counted from the findings
    ledger), with every model they read."""
    nodes = manifest["nodes"]
    wanted = {u for u, n in nodes.items() if n["resource_type"] == "model"
              and set(n["tags"]) & set(systems) and (set(n["tags"]) & {"staging", "standard", "gaps"})}
    # gap counts are aggregates of the findings ledger, which reads the conformance models and
    # other systems' tables (references): compiled and function-checked for Spark like every
    # model, but not run here (the comparison covers staging, standard and the item list)
    wanted = {u for u in wanted if not any("findings" in nodes.get(p, {}).get("tags", [])
                                           for p in manifest["parent_map"].get(u, []))}
    todo, out = list(wanted), set()
    while todo:
        u = todo.pop()
        if u in out:
            continue
        out.add(u)
        todo += [p for p in manifest["parent_map"].get(u, []) if p.startswith("model.")]
    return sorted(nodes[u]["name"] for u in out)


def _schemas(manifest: dict) -> dict[str, str]:
    """model name -> the schema dbt builds it in."""
    return {n["name"]: n["schema"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def run(systems: list[str], warehouse: Path, work: Path, write_functions: bool = False) -> dict:
    from dagster_project.core.duck import open_warehouse
    from dagster_project.mapping import sqlcheck
    from dagster_project.mapping.dbt_project import prepare

    project = prepare()
    manifest = json.loads(Path(project.manifest_path).read_text(encoding="utf-8"))
    models = select_models(manifest, systems)
    schema = _schemas(manifest)
    sources = sorted({manifest["sources"][p]["name"] for n in manifest["nodes"].values()
                      if n["resource_type"] == "model" and n["name"] in models
                      for p in n["depends_on"]["nodes"] if p.startswith("source.")})
    # the seeds the models join (the code maps, generated into seeds/code_maps.csv): dbt loads them
    # into Spark before the run, as the Dagster step does into DuckDB
    seeds = sorted({manifest["nodes"][p]["name"] for n in manifest["nodes"].values()
                    if n["resource_type"] == "model" and n["name"] in models
                    for p in n["depends_on"]["nodes"] if p.startswith("seed.")})
    shutil.rmtree(work, ignore_errors=True)
    (work / "input").mkdir(parents=True)
    (work / "expected").mkdir(parents=True)
    t0 = time.perf_counter()
    con = open_warehouse(warehouse, read_only=True)   # plain or encrypted, as every stage opens it
    try:
        for s in sources:
            con.execute(f"copy (select * from raw.\"{s}\") to '{work / 'input' / s}.parquet' (format parquet)")
        for m in models:
            con.execute(f"copy (select * from \"{schema[m]}\".\"{m}\") "
                        f"to '{work / 'expected' / m}.parquet' (format parquet)")
    finally:
        con.close()
    t_export = time.perf_counter() - t0

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["KIKAN_SPARK_DIR"] = str(work)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for k, v in spark_conf(work).items():
        builder = builder.config(k, v)
    cwd = os.getcwd()
    os.chdir(work)   # anything Spark or Derby still writes relative to the cwd lands here
    try:
        t0 = time.perf_counter()
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        spark.sql("create database if not exists raw")
        for s in sources:
            spark.sql(f"drop table if exists raw.`{s}`")
            spark.sql(f"create table raw.`{s}` using parquet location '{work / 'input' / s}.parquet'")
        t_session = time.perf_counter() - t0

        from dbt.cli.main import dbtRunner

        t0 = time.perf_counter()
        dbt_args = ["--target", "spark", "--project-dir", str(project.project_dir),
                    "--profiles-dir", str(project.project_dir), "--target-path", str(work / "target"),
                    "--log-path", str(work / "logs"), "--quiet"]
        if seeds:
            seeded = dbtRunner().invoke(["seed", *dbt_args, "--select", *seeds])
            if not seeded.success:
                raise RuntimeError(f"dbt seed on Spark failed for {', '.join(seeds)}: {seeded.exception}")
        res = dbtRunner().invoke(["run", "--target", "spark", "--project-dir", str(project.project_dir),
                                  "--profiles-dir", str(project.project_dir), "--target-path", str(work / "target"),
                                  "--log-path", str(work / "logs"), "--quiet", "--select", *models])
        t_dbt = time.perf_counter() - t0
        results = {r.node.name: r.status for r in (res.result or [])} if res.result is not None else {}
        built = [m for m in models if str(results.get(m)) == "success"]
        failed = sorted(m for m in models if m not in built)

        # every model (not only the ones built) compiled for Spark: each call must be a Spark function
        t0 = time.perf_counter()
        comp = dbtRunner().invoke(["compile", "--target", "spark", "--project-dir", str(project.project_dir),
                                   "--profiles-dir", str(project.project_dir), "--target-path",
                                   str(work / "target-compile"), "--log-path", str(work / "logs-compile"), "--quiet"])
        spark_functions = {r[0].split(".")[-1].strip("`").lower() for r in spark.sql("show functions").collect()}
        compiled = sqlcheck.read_compiled(work / "target-compile" / "compiled")
        unknown = sqlcheck.unknown_functions(compiled, spark_functions | sqlcheck.SPARK_SYNTAX)
        t_portability = time.perf_counter() - t0
        if write_functions:
            sqlcheck.SPARK_FUNCTIONS.write_text("\n".join(sorted(spark_functions)) + "\n", encoding="utf-8")

        t0 = time.perf_counter()
        compared = {}
        for m in built:
            got = spark.table(f"`{schema[m]}`.`{m}`")
            exp = spark.read.parquet(str(work / "expected" / f"{m}.parquet"))
            cols = [c for c in exp.columns]
            missing = sorted(set(cols) - set(got.columns))
            if missing:
                compared[m] = {"rows": None, "only_duckdb": None, "only_spark": None, "missing_columns": missing}
                continue
            g = got.selectExpr(*[f"cast(`{c}` as string) as `{c}`" for c in cols])
            e = exp.selectExpr(*[f"cast(`{c}` as string) as `{c}`" for c in cols])
            compared[m] = {"rows": g.count(), "duckdb_rows": e.count(),
                           "only_duckdb": e.exceptAll(g).count(), "only_spark": g.exceptAll(e).count()}
        t_compare = time.perf_counter() - t0
        spark.stop()
    finally:
        os.chdir(cwd)
    same = [m for m, c in compared.items() if c.get("only_duckdb") == 0 and c.get("only_spark") == 0
            and c["rows"] == c["duckdb_rows"]]
    return {"systems": systems, "models": models, "built": built, "failed": failed, "compared": compared,
            "identical": sorted(same), "different": sorted(set(compared) - set(same)),
            "rows": sum(c["rows"] or 0 for c in compared.values()),
            "seconds": {"duckdb_to_parquet": round(t_export, 1), "spark_session_and_raw": round(t_session, 1),
                        "dbt_run_on_spark": round(t_dbt, 1), "compare": round(t_compare, 1),
                        "compile_all_and_check": round(t_portability, 1)},
            "portability": {"compiled_for_spark": len(compiled), "compile_success": bool(comp.success),
                            "calls_spark_lacks": unknown},
            "dbt_success": bool(res.success)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kikan spark", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", nargs="+", default=["jumin", "zeimu"])
    ap.add_argument("--warehouse", type=Path, default=None, help="a finished DuckDB warehouse (default: the demo's)")
    ap.add_argument("--work", type=Path, default=None, help="Spark's folder (default var/spark)")
    ap.add_argument("--write-functions", action="store_true",
                    help="rewrite dbt/spark_functions.txt from this Spark's SHOW FUNCTIONS")
    a = ap.parse_args(argv)
    try:
        import pyspark  # noqa: F401
        import dbt.adapters.spark  # noqa: F401
    except ImportError:
        print("the Spark target needs dbt-spark and pyspark: python3.11 tasks.py setup --spark", file=sys.stderr)
        return 2
    warehouse = (a.warehouse or default_warehouse_path()).resolve()
    if not warehouse.exists():
        print(f"{warehouse}: no warehouse; run `python3.11 tasks.py demo` first", file=sys.stderr)
        return 2
    work = (a.work or default_var_dir() / "spark").resolve()
    r = run(a.systems, warehouse, work, a.write_functions)
    (work / "result.json").write_text(json.dumps(r, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"Spark: {len(r['built'])}/{len(r['models'])} models built for {', '.join(a.systems)}; "
          f"{len(r['identical'])} identical to DuckDB row for row ({r['rows']:,} rows)")
    for m in r["different"]:
        print(f"DIFFERENT {m}: {r['compared'][m]}")
    for m in r["failed"]:
        print(f"FAILED {m} (see {work / 'logs'})")
    pt = r["portability"]
    print(f"portability: {pt['compiled_for_spark']} models compiled for Spark; "
          f"{len(pt['calls_spark_lacks'])} call functions Spark lacks")
    for m, fs in pt["calls_spark_lacks"].items():
        print(f"NOT PORTABLE {m}: {', '.join(fs)}")
    print("seconds: " + ", ".join(f"{k} {v}" for k, v in r["seconds"].items()))
    ok = r["dbt_success"] and not r["different"] and not r["failed"]
    return 0 if ok and pt["compile_success"] and not pt["calls_spark_lacks"] else 1
