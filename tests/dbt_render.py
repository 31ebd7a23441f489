"""dbt's Jinja, small: render a generated model with the project's macros, without dbt.

The macros of dbt/macros/ (hand-written, and the generated ones of dbt/macros/generated/) are
called as dbt calls them: ``kikan.x(...)``, ``{{ return(...) }}``, and ``adapter.dispatch`` to the
``default__`` (DuckDB) branch; ``source()`` and ``ref()`` become plain table names (a seed, its rows
inline). What comes out
is the SQL dbt would compile for DuckDB, to run on a test's own tables in a second, with no dbt
parse of the project.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import jinja2

from dagster_project.core.settings import settings


class _Return(Exception):
    def __init__(self, value):
        self.value = value


def _return(value):
    raise _Return(value)


class Macros:
    """The project's macros, callable as dbt calls them (``kikan.x(...)``, ``adapter.dispatch``)."""

    def __init__(self, sources: list[str]):
        env = jinja2.Environment(extensions=["jinja2.ext.do"])
        self._m = {}
        for src in sources:
            t = env.from_string(src, globals={"kikan": self, "adapter": self, "return": _return})
            ctx = t.new_context()
            for _ in t.root_render_func(ctx):
                pass
            self._m.update({k: v for k, v in ctx.vars.items() if isinstance(v, jinja2.runtime.Macro)})

    def __getattr__(self, name):
        macro = self._m[name]

        def call(*args, **kwargs):
            try:
                return str(macro(*args, **kwargs))
            except _Return as r:
                return r.value
        return call

    def dispatch(self, name, package=None):
        return getattr(self, f"default__{name}" if f"default__{name}" in self._m else name)


@lru_cache(maxsize=4)
def _macros(macro_dir: str, stamp: tuple) -> Macros:
    paths = sorted(p for p in Path(macro_dir).rglob("*.sql") if p.name != "tests.sql")
    return Macros([p.read_text(encoding="utf-8") for p in paths])


def macros(dbt_dir: Path | None = None) -> Macros:
    """The macros of the dbt project (default: the settings'), read again when a file changed."""
    macro_dir = Path(dbt_dir or settings().dbt_dir) / "macros"
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in sorted(macro_dir.rglob("*.sql")))
    return _macros(str(macro_dir), stamp)


def seed_values(path: Path) -> str:
    """A seed as an inline table (every column text, as the seeds a model joins are read)."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    lit = lambda v: "null" if v == "" else "'" + v.replace("'", "''") + "'"  # noqa: E731
    values = ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows[1:])
    return f"(select * from (values {values}) as {path.stem} ({', '.join(rows[0])}))"


def render(sql: str, dbt_dir: Path | None = None) -> str:
    """The model's SQL for DuckDB: ``source('raw', 't')`` is raw."t", ``ref('m')`` is m, or the
    seed m (seeds/m.csv) written out as an inline table."""
    seeds = settings().seeds_dir
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    return env.from_string(sql).render(
        kikan=macros(dbt_dir), source=lambda s, t: f'{s}."{t}"',
        ref=lambda m: seed_values(seeds / f"{m}.csv") if (seeds / f"{m}.csv").exists() else m, **{"return": _return})
