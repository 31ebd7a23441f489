"""The ICT office's conformance pages (適合性検査結果), made from the Great Expectations results.

They replace GX's Data Docs: GX's site loads 14 scripts, style sheets and fonts from CDNs
(Bootstrap, jQuery, Vega, Font Awesome; none is in the great_expectations wheel), so on the
closed 庁内 network its ``index.html`` is unstyled and empty. These pages are plain HTML with
their style inline: one index, one page per standard table listing every expectation of its
suite (rule, item, kind, parameters) and its result (passed, unexpected count, or raised).
They hold what :func:`gx_suites.summarize` holds plus the committed suite's parameters (catalog
values: code lists, lengths, patterns), never a value from the data. Skipping GX's site builder
also saves its page rendering, which was the larger part of the validation child's time.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path


from dagster_project.conformance.gx_suites import SUITES_DIR
from dagster_project.core.templates import ENV as _ENV
from dagster_project.core.names import std_name
from dagster_project.spec.mapping import cached_mappings

TABLE_DIR = "tables"


def _params(kwargs: dict) -> str:
    """The expectation's parameters for a person: the catalog's, not the data's."""
    shown = {k: v for k, v in kwargs.items() if k not in ("column", "column_list", "batch_id", "unexpected_rows_query")}
    return "、".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in shown.items())


def table_rows(name: str, result: dict, suites_dir: Path = SUITES_DIR) -> tuple[dict, list[dict]]:
    """The suite's meta and, in the suite's order, every expectation joined with its result."""
    suite = json.loads((suites_dir / f"{name}.json").read_text(encoding="utf-8"))
    by_id = {e["id"]: e for e in result.get("expectations") or []}
    rows = []
    for e in suite["expectations"]:
        r = by_id.get(e["id"])
        meta, kwargs = e.get("meta") or {}, e.get("kwargs") or {}
        status = "missing" if r is None else ("raised" if r["raised"] else ("passed" if r["success"] else "failed"))
        rows.append({"id": e["id"], "type": e["type"], "rule": meta.get("rule") or "",
                     "item": (r or {}).get("item") or meta.get("item_name") or kwargs.get("column") or "",
                     "severity": e.get("severity") or "", "params": _params(kwargs),
                     "query": kwargs.get("unexpected_rows_query") or "",
                     "status": status, "unexpected_count": (r or {}).get("unexpected_count"),
                     "exception": ", ".join((r or {}).get("exception") or [])})
    return suite.get("meta") or {}, rows


def write_site(folder: Path, results: dict[str, dict], city_name: str = "",
               suites_dir: Path = SUITES_DIR) -> list[Path]:
    """Write ``index.html`` and ``tables/<table>.html`` into ``folder`` (a build folder that
    ``atomic.replace_dir`` swaps in). Returns the pages written."""
    folder = Path(folder)
    (folder / TABLE_DIR).mkdir(parents=True, exist_ok=True)
    made = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    index, pages = [], []
    # which current system hosts each standard table: the city's mappings say (not the suite, which
    # is the catalog's and stays the same when a table moves to another system)
    hosts = {std_name(t): t.system for t in cached_mappings().tables}
    for name in sorted(results):
        meta, rows = table_rows(name, results[name], suites_dir)
        counts = {k: sum(r["status"] == k for r in rows) for k in ("passed", "failed", "raised", "missing")}
        entry = {"name": name, "href": f"{TABLE_DIR}/{name}.html", "table_name": meta.get("table_name") or name,
                 "standard_table": meta.get("standard_table") or "", "system": hosts.get(name, ""),
                 "expectations": len(rows), **counts}
        index.append(entry)
        page = folder / TABLE_DIR / f"{name}.html"
        page.write_text(_ENV.get_template("gx_table.html.j2").render(t=entry, rows=rows, made=made, city=city_name),
                        encoding="utf-8")
        pages.append(page)
    (folder / "index.html").write_text(
        _ENV.get_template("gx_index.html.j2").render(tables=index, made=made, city=city_name), encoding="utf-8")
    return [folder / "index.html", *pages]
