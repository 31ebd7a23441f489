"""The overview's difference from the previous rehearsal covers every headline figure (the issue
saw 変化なし while a system's doubtful My Number links went 13 → 11), and its trend keeps recorded
decisions apart from projections, dated."""

from __future__ import annotations

import datetime as dt
import json
import re

from dagster_project.readiness import gatelog
from dagster_project.reports.overview import render, system_states, trend_data
from dagster_project.readiness.gate import load_readiness


def _crit(id_, value, passed):
    return {"id": id_, "label": id_, "value": value, "passed": passed, "on_fail": "NO-GO", "evidence": f"{value} 件",
            "rule": "<=", "threshold": 0}


def _row(state, rid, day, phase, status, doubtful, quarantined, system="nenkin"):
    gatelog.append_history(state, {
        "system": system, "rehearsal_id": rid, "run_id": f"run-{rid}", "evaluated_at": f"{day}T00:00:00+00:00",
        "as_of": day, "phase": phase, "outcome": status, "status": status, "decision_id": None,
        "export_allowed": False, "data_passed": False,
        "figures": {"failing_criteria": 1, "quarantined": quarantined, "records": 100},
        "criteria": [_crit("mynumber_reviewed", doubtful, doubtful == 0), _crit("key_violations", 0, True)]})
    gatelog.complete_rehearsal(state, f"run-{rid}")


def test_the_difference_names_every_changed_figure(tmp_path, project):
    gate = load_readiness(project.root).gate
    _row(tmp_path, "R1", "2026-11-20", "before_gate", "NO-GO", doubtful=13, quarantined=8)
    _row(tmp_path, "R2", "2026-11-27", "gate", "CONDITIONAL", doubtful=11, quarantined=8)
    out = tmp_path / "reports" / "readiness_overview.html"
    render(project, tmp_path, gate, dt.date(2026, 11, 27), out)
    page = out.read_text(encoding="utf-8")
    row = page.split('data-system="nenkin"')[1].split("</tr>")[0]
    label = next(c.label for c in gate.criteria if c.id == "mynumber_reviewed")
    items = re.findall(r'<li data-figure="([^"]+)">([^<]*)</li>', row)
    assert items == [("status", "状況 移行不可（見込み）→条件付き可（記録）"),
                     ("criteria.mynumber_reviewed", f"{label} 13→11")]
    assert "変化なし" not in row
    changes = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["changes"]["nenkin"]
    assert [(c["key"], c["before"], c["after"]) for c in changes][1] == ("criteria.mynumber_reviewed", "13", "11")


def test_an_unchanged_rehearsal_says_so_and_a_figure_without_a_label_is_still_diffed(tmp_path, project):
    gate = load_readiness(project.root).gate
    _row(tmp_path, "R1", "2026-11-20", "before_gate", "NO-GO", doubtful=13, quarantined=8)
    _row(tmp_path, "R2", "2026-11-21", "before_gate", "NO-GO", doubtful=13, quarantined=8)
    out = tmp_path / "reports" / "readiness_overview.html"
    render(project, tmp_path, gate, dt.date(2026, 11, 21), out)
    assert "変化なし" in out.read_text(encoding="utf-8").split('data-system="nenkin"')[1].split("</tr>")[0]
    rows = [json.loads(line) for line in (tmp_path / gatelog.HISTORY).read_text(encoding="utf-8").splitlines()]
    from dagster_project.reports.overview import diff, figure_labels
    a, b = (dict(r, figures=dict(r["figures"], new_count=n)) for r, n in zip([x for x in rows if "figures" in x], (1, 2)))
    assert [d["key"] for d in diff(b, a, figure_labels(gate))] == ["figures.new_count"]


def test_the_trend_keeps_recorded_and_projected_apart_by_date(tmp_path, project):
    gate = load_readiness(project.root).gate
    _row(tmp_path, "R1", "2026-11-20", "before_gate", "NO-GO", doubtful=13, quarantined=8)
    _row(tmp_path, "R1", "2026-11-20", "before_gate", "NO-GO", doubtful=1, quarantined=8, system="jumin")
    _row(tmp_path, "R2", "2026-11-27", "gate", "CONDITIONAL", doubtful=11, quarantined=8)
    states = system_states(project, tmp_path, gate, dt.date(2026, 11, 27))
    got = [(d["date"], d["status"], d["kind"], d["systems"]) for d in trend_data(states)]
    assert got == [("2026-11-20", "移行不可", "見込み", 2),
                   ("2026-11-27", "条件付き可", "記録", 1), ("2026-11-27", "移行不可", "見込み", 1)]
    out = tmp_path / "readiness_overview.html"
    render(project, tmp_path, gate, dt.date(2026, 11, 27), out)
    trend = out.read_text(encoding="utf-8").split('<figure class="trend">')[1].split("</figure>")[0]
    for text in ("2026-11-20", "2026-11-27", "記録（判定日以降）", "見込み（判定日前）", "状況", "区分"):
        assert f">{text}</text>" in trend, text
