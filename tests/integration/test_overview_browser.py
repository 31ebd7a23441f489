"""The pages the ICT office and the owners open, in a real headless Chromium (Debian's package,
driven by playwright-core from npm) with the network cut as on the closed 庁内 network: every
request that is not a local file is aborted and counted, and must be 0 for each page (GX's own
Data Docs asked for 16, from CDNs). The overview: every system is a row with a visible, coloured
status, the links lead to reports that exist, the trend chart is drawn with dates and a legend.
Screenshots are kept for a person to look at (``var/screenshots/``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT

COLOURS = {"GO": "rgb(26, 127, 55)", "CONDITIONAL": "rgb(178, 107, 0)", "NO-GO": "rgb(198, 40, 40)",
           "NONE": "rgb(107, 114, 128)"}
SHOTS = ROOT / "var" / "screenshots"


def _node(script: str, *args) -> dict:
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    assert Path(chromium).exists(), ("Chromium is needed for this test: `python3.11 tasks.py test` installs "
                                     "Debian's chromium and fonts-noto-cjk (apt-get, as root)")
    node_dir = os.environ.get("KIKAN_NODE_DIR", str(ROOT / "node"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    res = subprocess.run([shutil.which("node") or "node", str(ROOT / "tests" / "browser" / script), *map(str, args)],
                         capture_output=True, text=True, timeout=300, cwd=node_dir,
                         env=dict(os.environ, KIKAN_NODE_DIR=node_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_overview_renders_in_chromium(extracted_city, project):
    page = extracted_city["reports"] / "readiness_overview.html"
    assert page.exists()
    shot = SHOTS / "readiness_overview.png"
    out = _node("overview.mjs", page, shot)
    assert out["blocked"] == []
    assert "移行可否判定" in out["title"] and "13システム" in out["h1"]
    assert [r["system"] for r in out["rows"]] == [s.id for s in project.city.systems]
    for r in out["rows"]:
        assert r["visible"], r
        assert r["colour"] == COLOURS[r["status"]], r
        assert r["chart"] > 50, r                   # each evaluated system has its dated chart
        for href in r["links"]:
            assert (page.parent / href).exists(), f"{r['system']}: link to a missing report {href}"
    [trend] = out["trend"]
    assert trend["bars"] >= 1 and "2026-12-07" in trend["texts"], trend
    assert {"状況", "区分", "記録（判定日以降）", "見込み（判定日前）"} <= set(trend["texts"]), trend["texts"]
    nav = {a["id"]: a["href"] for a in out["nav"]}
    assert set(nav) == {"link-gx-docs", "link-dbt-docs"}
    for href in nav.values():
        assert (page.parent / href).is_file(), href
    assert shot.stat().st_size > 20_000


def test_every_page_loads_with_no_network(extracted_city, project):
    """Overview, a gap report, an owner workbook's HTML twin, the conformance pages (index and one
    table) and dbt docs: none asks for anything off the machine, each shows its content styled."""
    reports, wh = extracted_city["reports"], extracted_city["wh"]
    s = project.city.systems[0].id
    pages = {
        "overview": reports / "readiness_overview.html",
        "gap_report": reports / s / f"gap_report_{s}.html",
        "owner_workbook": reports / s / f"{s}_移行確認.html",
        "gx_index": wh / "gx_docs" / "index.html",
        "gx_table": wh / "gx_docs" / "tables" / "std_juki__jumin.html",
        "dbt_docs": wh / "dbt_docs" / "index.html",
    }
    for name, p in pages.items():
        assert p.is_file(), f"{name}: {p} was not written"
    out = _node("offline.mjs", SHOTS, *(f"{k}={v}" for k, v in pages.items()))
    print({k: len(v["blocked"]) for k, v in out.items()})      # the blocked-request count per page
    assert {k: v["blocked"] for k, v in out.items()} == {k: [] for k in pages}
    for name, v in out.items():
        assert v["text"] > 300, (name, v["text"])                # drawn, not empty
        # a style sheet that did not load leaves the browser's default font (GX's Data Docs did)
        assert "Times New Roman" not in v["font"], (name, v["font"])
        if name != "dbt_docs":   # dbt's app asks for "{{ getIcon(...) }}" before Angular fills it in
            assert v["failed"] == [], (name, v["failed"])
        assert (SHOTS / f"offline_{name}.png").stat().st_size > 10_000
    assert out["gx_index"]["tables"] == 1 and out["gx_table"]["tables"] == 1
    assert "dbt" in out["dbt_docs"]["title"]
