"""Great Expectations on DuckDB by SQL: the two things GX 1.x lacks for the duckdb dialect.

1. GX fetches metric results after returning a pooled connection, which duckdb-engine does
   not survive ("list index out of range"); GX keeps one persistent connection for the
   dialects listed in ``_PERSISTED_CONNECTION_DIALECTS``, so duckdb is added there.
2. GX's regex expectations refuse dialects it does not know; for duckdb the regex becomes
   DuckDB's ``regexp_matches`` (a partial match, as GX's regex expectations are).

3. Not about DuckDB, about cost: GX's Data Docs views build a new Jinja environment per page
   and compile every template again (41 % of the validation child's time in the 100k
   benchmark); the views here share one in-memory bytecode cache, keyed by template name and
   source checksum, so each template compiles once per process. The pipeline no longer builds
   GX's site (its pages load from CDNs; ``conformance/gx_docs`` writes the ICT office's pages from the
   results instead), so this matters only where a caller still asks GX for Data Docs.

All three touch GX internals; ``tests/unit/test_gx_adapter.py`` fails loudly if an upgrade moves
them. Table assets also lose their schema in one metric query, so validations use query
assets (``select * from standard.<table>``).
"""

from __future__ import annotations

import importlib

import jinja2
import sqlalchemy as sa

REGEX_MODULES = (
    "great_expectations.expectations.metrics.column_map_metrics.column_values_match_regex",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_not_match_regex",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_match_regex_list",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_not_match_regex_list",
)
_installed = False


class _DialectName(str):
    """A str with .value, as GX compares dialect names to its enum by both."""

    @property
    def value(self) -> str:
        return str(self)


def _is_duckdb(dialect) -> bool:
    for obj in (dialect, getattr(dialect, "dialect", None)):
        name = getattr(obj, "name", None) or getattr(obj, "__name__", "")
        if "duckdb" in str(name).lower():
            return True
    return False


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = _MemoryBytecodeCache()


def install() -> None:
    global _installed
    if _installed:
        return
    see = importlib.import_module("great_expectations.execution_engine.sqlalchemy_execution_engine")
    if "duckdb" not in [str(d) for d in see._PERSISTED_CONNECTION_DIALECTS]:
        see._PERSISTED_CONNECTION_DIALECTS = tuple(see._PERSISTED_CONNECTION_DIALECTS) + (_DialectName("duckdb"),)
    util = importlib.import_module("great_expectations.expectations.metrics.util")
    original = util.get_dialect_regex_expression

    def regex_expression(column, regex, dialect, positive=True):
        if _is_duckdb(dialect):
            expr = sa.func.regexp_matches(column, sa.literal(regex))
            return expr if positive else sa.not_(expr)
        return original(column, regex, dialect, positive)

    for name in REGEX_MODULES:
        mod = importlib.import_module(name)
        if not hasattr(mod, "get_dialect_regex_expression"):
            raise RuntimeError(f"GX moved get_dialect_regex_expression out of {name}: update gx_duckdb")
        mod.get_dialect_regex_expression = regex_expression
    util.get_dialect_regex_expression = regex_expression

    view = importlib.import_module("great_expectations.render.view.view")
    init = view.DefaultJinjaView.__init__
    if not getattr(init, "_kikan_cached", False):
        def cached_init(self, *args, **kwargs):
            init(self, *args, **kwargs)
            if not isinstance(getattr(self, "env", None), jinja2.Environment):
                raise RuntimeError("GX's DefaultJinjaView no longer keeps its Environment in .env: update gx_duckdb")
            self.env.bytecode_cache = TEMPLATE_CACHE
        cached_init._kikan_cached = True
        view.DefaultJinjaView.__init__ = cached_init
    _installed = True
