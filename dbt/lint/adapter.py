"""sqlfluff's view of ``adapter.dispatch(name, package)``: the DuckDB (``default__``) branch, as dbt
dispatches it for the warehouse the models are linted for."""

from jinja2 import pass_context


@pass_context
def dispatch(ctx, name, package=None):
    macro = ctx.resolve_or_missing("default__" + name)
    return macro if macro is not None and not _missing(macro) else ctx.resolve_or_missing(name)


def _missing(value) -> bool:
    from jinja2.utils import missing
    return value is missing
