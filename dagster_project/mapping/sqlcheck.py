"""Portability of the dbt models, checked with sqlglot (DESIGN principle 6).

Two checks over compiled models:

- :func:`transpile_report` takes the SQL dbt compiled for DuckDB and transpiles it to Spark
  with ``ErrorLevel.RAISE``. sqlglot passes functions it does not know through unchanged
  (STACK.md: ``regexp_full_match``, ``try_strptime``), so the functions left anonymous are
  listed, and each must be one the project dispatches per engine (a ``default__`` macro in
  ``dbt/macros/portable.sql`` emits it): a DuckDB-only call written straight into a model fails.
- :func:`unknown_functions` takes SQL compiled for Spark and names every function call that
  Spark's own function registry (``SHOW FUNCTIONS``) does not have.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from dagster_project.spec.config import PROJECT_ROOT

PORTABLE = PROJECT_ROOT / "dbt" / "macros" / "portable.sql"
# Spark's SHOW FUNCTIONS, written by `kikan spark --write-functions` (Spark 4.3 from pyspark 4.3.0)
SPARK_FUNCTIONS = PROJECT_ROOT / "dbt" / "spark_functions.txt"
# spelled like calls in SQL, but syntax rather than registered functions
SPARK_SYNTAX = {"cast", "try_cast", "if", "extract", "trim", "struct"}


def spark_functions(path: Path = SPARK_FUNCTIONS) -> set[str]:
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def dispatched_functions(paths: list[Path] | None = None) -> set[str]:
    """Function names that appear in the DuckDB (``default__``) branch of a dispatched macro
    (hand-written in ``portable.sql`` or generated, as ``split_chars`` is)."""
    paths = paths or [PORTABLE, *sorted((PORTABLE.parent / "generated").glob("*.sql"))]
    text = "\n".join(p.read_text(encoding="utf-8") for p in paths)
    names: set[str] = set()
    for body in re.findall(r"macro default__\w+\(.*?\)\s*-?%\}(.*?)\{%-?\s*endmacro", text, flags=re.S):
        names |= {m.lower() for m in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", body)}
    return names


def calls(sql: str, dialect: str = "spark") -> set[str]:
    """The names of the functions ``sql`` calls, as ``dialect`` spells them."""
    names = set()
    for stmt in sqlglot.parse(sql, read=dialect):
        if stmt is None:
            continue
        for f in stmt.find_all(exp.Func):
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\(", f.sql(dialect=dialect))
            if m:
                names.add(m.group(1).lower())
    return names


def transpile_report(compiled: dict[str, str], spark: set[str] | None = None) -> dict:
    """``compiled``: model name -> DuckDB SQL. Each model is transpiled to Spark (errors raise);
    the calls Spark lacks are allowed only when a dispatched macro emits them on DuckDB."""
    spark = (spark if spark is not None else spark_functions()) | SPARK_SYNTAX
    allowed = dispatched_functions()
    errors, undispatched, dispatched = {}, {}, set()
    for name, sql in sorted(compiled.items()):
        try:
            out = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
            lacking = set()
            for stmt in out:
                lacking |= calls(stmt) - spark
        except sqlglot.errors.SqlglotError as e:
            errors[name] = str(e).splitlines()[0][:300]
            continue
        dispatched |= lacking & allowed
        if lacking - allowed:
            undispatched[name] = sorted(lacking - allowed)
    return {"models": len(compiled), "errors": errors, "undispatched": undispatched,
            "duckdb_only_dispatched": sorted(dispatched)}


def unknown_functions(compiled: dict[str, str], spark: set[str]) -> dict[str, list[str]]:
    """``compiled``: model name -> Spark SQL. Returns the models calling functions Spark lacks
    (or that Spark's parser in sqlglot cannot read: listed as ``<parse error>``)."""
    out = {}
    for name, sql in sorted(compiled.items()):
        try:
            missing = sorted(calls(sql) - spark)
        except sqlglot.errors.SqlglotError:
            missing = ["<parse error>"]
        if missing:
            out[name] = missing
    return out


def read_compiled(root: Path) -> dict[str, str]:
    """Model name -> compiled SQL, from a dbt target's ``compiled/`` tree (models only)."""
    return {p.stem: p.read_text(encoding="utf-8") for p in Path(root).rglob("*.sql")
            if "/models/" in p.as_posix() and "/tests/" not in p.as_posix()}
