"""The conformance pages (conformance/gx_docs) that replace GX's Data Docs: every expectation of every
suite is on its table's page with its own result, and no page asks for anything off the machine."""

from __future__ import annotations

import json
import re

from dagster_project.conformance import gx_docs
from dagster_project.conformance.gx_suites import SUITES_DIR


def _suite(name):
    return json.loads((SUITES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def test_each_expectation_appears_with_its_own_result(tmp_path):
    name = "std_juki__jumin"
    exps = _suite(name)["expectations"]
    failed, raised = exps[0]["id"], exps[1]["id"]
    rows = [{"id": e["id"], "item": "", "success": e["id"] not in (failed, raised), "raised": e["id"] == raised,
             "unexpected_count": 1234 if e["id"] == failed else (None if e["id"] == raised else 0),
             **({"exception": ["ProgrammingError"]} if e["id"] == raised else {})}
            for e in exps[2:] + exps[:2]]           # the result's order is not the suite's
    pages = gx_docs.write_site(tmp_path, {name: {"expectations": rows}}, "テスト市")
    assert [p.relative_to(tmp_path).as_posix() for p in pages] == ["index.html", f"tables/{name}.html"]
    page = (tmp_path / "tables" / f"{name}.html").read_text(encoding="utf-8")
    got = re.findall(r'data-expectation="([^"]+)" data-status="(\w+)"', page)
    assert [i for i, _ in got] == [e["id"] for e in exps]           # every expectation, in the suite's order
    status = dict(got)
    assert status[failed] == "failed" and status[raised] == "raised"
    assert {s for i, s in got if i not in (failed, raised)} == {"passed"}
    assert "1,234" in page and "ProgrammingError" in page
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    row = re.search(rf'<tr data-table="{name}".*?</tr>', index, re.S).group(0)
    nums = re.findall(r'<td class="num">(\d+)</td>', row)
    assert nums == [str(len(exps)), str(len(exps) - 2), "1", "1"]
    for text in (page, index):
        assert not re.search(r'(src|href)="(https?:)?//', text), "a page asks for something off the machine"


def test_every_suite_gets_a_page(tmp_path):
    names = sorted(p.stem for p in SUITES_DIR.glob("*.json"))
    gx_docs.write_site(tmp_path, {n: {"expectations": []} for n in names})
    assert sorted(p.stem for p in (tmp_path / "tables").glob("*.html")) == names
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'href="tables/([^"]+)\.html"', index) == names
