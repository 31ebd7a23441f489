"""The ICT office's overview page in a real headless Chromium (Debian's package, driven by
playwright-core from npm): every system is a row with a visible, coloured status, the links
lead to the gap reports that exist, and a screenshot is kept for a person to look at
(``var/screenshots/readiness_overview.png``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT

COLOURS = {"GO": "rgb(26, 127, 55)", "CONDITIONAL": "rgb(178, 107, 0)", "NO-GO": "rgb(198, 40, 40)",
           "NONE": "rgb(107, 114, 128)"}


def test_overview_renders_in_chromium(extracted_city, project):
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    assert Path(chromium).exists(), ("Chromium is needed for this test: `python3.11 tasks.py test` installs "
                                     "Debian's chromium and fonts-noto-cjk (apt-get, as root)")
    page = extracted_city["reports"] / "readiness_overview.html"
    assert page.exists()
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "readiness_overview.png"
    res = subprocess.run([shutil.which("node") or "node", str(ROOT / "tests" / "browser" / "overview.mjs"),
                          str(page), str(shot)], capture_output=True, text=True, timeout=120,
                         cwd=ROOT / "node", env=dict(os.environ, KIKAN_NODE_DIR=str(ROOT / "node")))
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert "移行可否判定" in out["title"] and "13システム" in out["h1"]
    assert [r["system"] for r in out["rows"]] == [s.id for s in project.city.systems]
    for r in out["rows"]:
        assert r["visible"], r
        assert r["colour"] == COLOURS[r["status"]], r
        for href in r["links"]:
            assert (page.parent / href).exists(), f"{r['system']}: link to a missing report {href}"
    assert out["trendBars"] >= 1
    assert shot.stat().st_size > 20_000
