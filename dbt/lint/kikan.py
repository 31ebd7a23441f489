"""sqlfluff's view of ``kikan.<macro>(...)``: the project macro of that name, from the template's context.

sqlfluff's jinja templater (dbt/.sqlfluff: ``library_path = lint``) loads the macros of dbt/macros as
plain names; dbt calls them through the project's namespace. This module is that namespace for
the linter: ``kikan.re_full`` resolves to the loaded macro ``re_full``.
"""

from jinja2 import pass_context


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)

    @pass_context
    def call(ctx, *args, **kwargs):
        return ctx.resolve_or_missing(name)(*args, **kwargs)
    return call
