"""The one Jinja2 environment every page is rendered with (``dagster_project/templates/``):
autoescaping on for HTML, blocks trimmed. The overview, the conformance pages, the gap reports,
the 外字同定リスト and the owners' workbook pages all render through it."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

ENV = Environment(loader=PackageLoader("dagster_project", "templates"), autoescape=select_autoescape(["html", "j2"]),
                  trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context) -> str:
    return ENV.get_template(template).render(**context)
