"""dbt's Jinja, small: render a generated model with the project's macros, without dbt.

The macros of dbt/macros/ (and the two the generator writes) are called as dbt calls them:
``kikan.x(...)``, ``{{ return(...) }}``, and ``adapter.dispatch`` to the ``default__`` (DuckDB)
branch; ``source()`` and ``ref()`` become plain table names. What comes out is the SQL dbt would
compile for DuckDB, to run on a test's own tables in a second, with no dbt parse of the project.
"""

from __future__ import annotations

import jinja2

from dagster_project.mapping import dbtgen
from dagster_project.spec.config import PROJECT_ROOT


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


def render(sql: str) -> str:
    """The model's SQL for DuckDB: ``source('raw', 't')`` is raw."t", ``ref('m')`` is m."""
    macro_dir = PROJECT_ROOT / "dbt" / "macros"
    sources = [p.read_text(encoding="utf-8") for p in sorted(macro_dir.glob("*.sql")) if p.name != "tests.sql"]
    sources += [dbtgen.kana_macro(), dbtgen.split_chars_macro()]
    kikan = Macros(sources)
    env = jinja2.Environment()
    return env.from_string(sql).render(kikan=kikan, source=lambda s, t: f'{s}."{t}"', ref=lambda m: m)
