"""The ICT office's readiness overview (移行可否判定 状況一覧): one HTML page, all systems.

Per system: status colour, days to cutover, the criteria that block it, the difference from
the previous rehearsal, and a trend over the rehearsals; links to the system's gap report
and 外字同定リスト. Made only from the rehearsal history and the decision log, which hold
counts, ids and Japanese labels: no personal data can reach this page.

Only completed rehearsals make the state, the difference and the trend; the rows of a rehearsal
that never completed (a killed run) are listed apart as 中断 and count for nothing. The HTML and
its JSON summary are replaced together (``atomic.write_files``).

The page (``templates/overview.html.j2``) loads nothing from the network (the 庁内 network is
closed): its charts are Altair specs rendered to inline SVG by vl-convert, with dates, a legend,
and decisions recorded on or after the gate date apart from projections before it. The 14 charts
of the demo city cost 1.4 s. 前回リハーサルとの差 compares every figure a history row holds (its
``figures`` and every criterion's value), so a change such as doubtful My Number links 13 → 11
is never shown as 変化なし.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path


from dagster_project.core import atomic
from dagster_project.spec.config import Project
from dagster_project.readiness.gatelog import read_history, read_log
from dagster_project.readiness.gate import OUTCOME_JA, GateConfig, gate_date
from dagster_project.core.templates import ENV as _ENV

COLOUR = {"GO": "#1a7f37", "CONDITIONAL": "#b26b00", "NO-GO": "#c62828", "NONE": "#6b7280"}
FIGURES_JA = {"records": "現行レコード", "quarantined": "隔離", "standard_rows": "標準テーブル行",
              "spec_gaps": "仕様差異", "data_gaps": "データ差異", "open_gaps": "方針未決定ギャップ",
              "conformance_violations": "適合性違反", "failing_criteria": "不合格基準",
              "raw_rows": "抽出行", "missing_tables": "未作成の標準テーブル"}
TRACK_JA = {"on_schedule": "標準準拠（期限内）", "tokutei_ikou_shien": "特定移行支援"}
STATUS_ORDER = ("GO", "CONDITIONAL", "NO-GO")
TREND_REHEARSALS = 20
FONT = "Noto Sans CJK JP"


def system_states(project: Project, state_dir: Path, gate: GateConfig, today: dt.date) -> list[dict]:
    log = read_log(state_dir)
    out = []
    for s in project.city.systems:
        rows = read_history(state_dir, s.id)
        hist = [h for h in rows if h["completed"]]
        cur = hist[-1] if hist else None
        prev = hist[-2] if len(hist) > 1 else None
        gd = gate_date(s.cutover, project.city.city.gate_days_before_cutover)
        mine = [e for e in log if e["system"] == s.id]
        out.append({
            "system": s, "history": hist, "aborted": [h for h in rows if not h["completed"]],
            "current": cur, "previous": prev, "gate_date": gd,
            "days_to_cutover": (s.cutover - today).days, "days_to_gate": (gd - today).days,
            "decisions": mine, "latest_decision": mine[-1] if mine else None,
        })
    return out


def _status_of(st: dict) -> tuple[str, str]:
    """(outcome key for the colour, the Japanese label)."""
    cur, dec = st["current"], st["latest_decision"]
    if cur is None:
        if dec is not None:       # recorded by a rehearsal that did not complete: the log is the record
            return dec["decision"], {"GO": "GO 移行可", "CONDITIONAL": "条件付き可", "NO-GO": "NO-GO 移行不可"}[dec["decision"]]
        return "NONE", "未評価"
    if cur["phase"] == "before_gate":
        return cur["status"], f"判定前（見込み {OUTCOME_JA[cur['status']]}）"
    if dec is None:
        return "NONE", "未判定"
    label = {"GO": "GO 移行可", "CONDITIONAL": "条件付き可", "NO-GO": "NO-GO 移行不可"}[dec["decision"]]
    if cur["phase"] == "after_cutover":
        label = f"移行済（最終判定 {label}）"
    return dec["decision"], label


def _svg(spec: dict, prefix: str) -> str:
    """A Vega-Lite spec as inline SVG (vl-convert: no browser, no network, no script in the page).
    Ids inside the SVG get ``prefix`` so several charts in one page do not share a clip path."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(spec)
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for i in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f'id="{i}"', f'id="{prefix}-{i}"').replace(f"url(#{i})", f"url(#{prefix}-{i})")
    return re.sub(r"^<\?xml[^>]*>\s*", "", svg)


def _kind(h: dict) -> str:
    return "見込み" if h["phase"] == "before_gate" else "記録"


def _rehearsal_order(states: list[dict]) -> list[tuple[str, str]]:
    """Completed rehearsals, oldest first: (rehearsal id, its 基準日 label on the x axis; a second
    rehearsal on the same 基準日 gets its ordinal)."""
    first: dict[str, tuple[str, str]] = {}
    for st in states:
        for h in st["history"]:
            r = first.get(h["rehearsal_id"])
            key = (h["evaluated_at"], h["as_of"])
            if r is None or key < r:
                first[h["rehearsal_id"]] = key
    ids = sorted(first, key=lambda r: first[r])[-TREND_REHEARSALS:]
    labels, seen = [], {}
    for r in ids:
        day = first[r][1]
        seen[day] = seen.get(day, 0) + 1
        labels.append((r, day if seen[day] == 1 else f"{day}（{seen[day]}回目）"))
    return labels


def trend_data(states: list[dict]) -> list[dict]:
    """Per rehearsal (oldest first), how many systems stood at each status, recorded (判定日以降の
    記録) apart from projected (判定日前の見込み). A system a rehearsal did not reach keeps its last
    known status, so each bar covers every system evaluated so far."""
    order = _rehearsal_order(states)
    rows_of = {(st["system"].id, h["rehearsal_id"]): h for st in states for h in st["history"]}
    known: dict[str, dict] = {}
    out = []
    for i, (rid, label) in enumerate(order):
        for st in states:
            h = rows_of.get((st["system"].id, rid))
            if h is not None:
                known[st["system"].id] = h
        counts: dict[tuple[str, str], int] = {}
        for h in known.values():
            k = (h["status"], _kind(h))
            counts[k] = counts.get(k, 0) + 1
        for (status, kind), n in sorted(counts.items(), key=lambda kv: (STATUS_ORDER.index(kv[0][0]), kv[0][1])):
            out.append({"rehearsal": rid, "order": i, "date": label, "status": OUTCOME_JA[status],
                        "kind": kind, "systems": n})
    return out


def _trend_chart(states: list[dict]) -> str:
    """Stacked bars with Altair: per rehearsal date, how many systems were GO / CONDITIONAL /
    NO-GO, recorded decisions solid and projections pale; a legend for both."""
    import altair as alt

    data = trend_data(states)
    if not data:
        return "<p>リハーサルの記録がまだない。</p>"
    dates = list(dict.fromkeys(d["date"] for d in data))
    chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
        x=alt.X("date:O", sort=dates, title="リハーサルの基準日（古い順）", axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("sum(systems):Q", title="システム数", scale=alt.Scale(domain=[0, len(states)])),
        color=alt.Color("status:N", title="状況",
                        scale=alt.Scale(domain=[OUTCOME_JA[k] for k in STATUS_ORDER],
                                        range=[COLOUR[k] for k in STATUS_ORDER])),
        opacity=alt.Opacity("kind:N", title="区分", scale=alt.Scale(domain=["記録", "見込み"], range=[1.0, 0.4]),
                            legend=alt.Legend(labelExpr="datum.label == '記録' ? '記録（判定日以降）' : '見込み（判定日前）'",
                                              # no cut at Vega's 160 px: with a wide Japanese font
                                              # (IPAmj明朝, installed for the 外字 list) the label read 記録（判定日以…
                                              labelLimit=0)),
        order=alt.Order("order_key:Q"),
        tooltip=["date:O", "status:N", "kind:N", "sum(systems):Q"],
    ).transform_calculate(
        order_key=f"indexof({json.dumps([OUTCOME_JA[k] for k in STATUS_ORDER], ensure_ascii=False)}, datum.status) * 2"
                  " + (datum.kind == '記録' ? 0 : 1)",
    ).properties(width=max(240, 56 * len(dates)), height=200, title="リハーサルごとの判定状況")
    return _svg(chart.configure(font=FONT).to_dict(), "trend")


def _system_chart(st: dict) -> str:
    """One system's failing criteria per rehearsal, dated; recorded and projected points apart."""
    import altair as alt

    hist = st["history"][-TREND_REHEARSALS:]
    if not hist:
        return ""
    data = [{"date": h["as_of"], "n": h["figures"].get("failing_criteria", sum(not c["passed"] for c in h["criteria"])),
             "kind": _kind(h), "i": i} for i, h in enumerate(hist)]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("i:O", title=None, axis=alt.Axis(labelExpr=f"{json.dumps([d['date'][5:] for d in data])}[datum.value]",
                                                labelAngle=0, labelFontSize=9)),
        y=alt.Y("n:Q", title=None, axis=alt.Axis(tickMinStep=1, labelFontSize=9)))
    line = base.mark_line(color="#334155")
    points = base.mark_point(filled=True, size=40).encode(
        shape=alt.Shape("kind:N", scale=alt.Scale(domain=["記録", "見込み"], range=["circle", "triangle-up"]),
                        legend=None),
        color=alt.Color("kind:N", scale=alt.Scale(domain=["記録", "見込み"], range=["#334155", "#94a3b8"]), legend=None))
    chart = (line + points).properties(width=max(90, 22 * len(data)), height=50)
    return _svg(chart.configure(font=FONT).configure_view(stroke=None).to_dict(), f"sys-{st['system'].id}")


def aborted_rehearsals(states: list[dict]) -> list[dict]:
    """The rehearsals that never completed, oldest first: id, when its first gate evaluated, the
    systems whose gates it reached."""
    by: dict[str, dict] = {}
    for st in states:
        for h in st["aborted"]:
            r = by.setdefault(h["rehearsal_id"], {"rehearsal_id": h["rehearsal_id"], "evaluated_at": h["evaluated_at"],
                                                  "systems": []})
            r["evaluated_at"] = min(r["evaluated_at"], h["evaluated_at"])
            r["systems"].append(st["system"].id)
    return sorted(by.values(), key=lambda r: r["evaluated_at"])


def figure_labels(gate: GateConfig) -> dict[str, str]:
    """Every headline figure a history row holds: its figures and each criterion's value."""
    return {**{f"figures.{k}": v for k, v in FIGURES_JA.items()},
            **{f"criteria.{c.id}": c.label for c in gate.criteria}}


def _figures_of(h: dict) -> dict[str, int]:
    out = {f"figures.{k}": v for k, v in (h.get("figures") or {}).items() if isinstance(v, (int, float))}
    out.update({f"criteria.{c['id']}": c["value"] for c in h.get("criteria") or []})
    return out


def diff(cur: dict | None, prev: dict | None, labels: dict[str, str]) -> list[dict]:
    """What changed from the previous completed rehearsal: the status and every figure (the
    history row's figures and every criterion's value), labelled in Japanese; a figure the labels
    do not know is listed by its key rather than left out."""
    if not cur or not prev:
        return []
    out = []
    if (prev["status"], _kind(prev)) != (cur["status"], _kind(cur)):
        out.append({"key": "status", "label": "状況", "before": f"{OUTCOME_JA[prev['status']]}（{_kind(prev)}）",
                    "after": f"{OUTCOME_JA[cur['status']]}（{_kind(cur)}）"})
    a, b = _figures_of(prev), _figures_of(cur)
    keys = [k for k in labels if k in a or k in b] + sorted(k for k in {*a, *b} if k not in labels)
    for k in keys:
        if a.get(k) != b.get(k):
            out.append({"key": k, "label": labels.get(k, k.split(".", 1)[1]),
                        "before": "－" if a.get(k) is None else f"{a[k]:,}",
                        "after": "－" if b.get(k) is None else f"{b[k]:,}"})
    return out


def render(project: Project, state_dir: Path, gate: GateConfig, today: dt.date, out_path: Path,
           reports_rel: str = ".", dbt_docs_href: str | None = None) -> dict:
    """Write the overview (``templates/overview.html.j2``) and its JSON summary together.
    ``dbt_docs_href``: the dbt docs page, relative to the overview, when one was generated."""
    states = system_states(project, state_dir, gate, today)
    counts = {"GO": 0, "CONDITIONAL": 0, "NO-GO": 0, "BEFORE": 0, "NONE": 0}
    labels = figure_labels(gate)
    rows = []
    for st in states:
        s, cur = st["system"], st["current"]
        key, label = _status_of(st)
        counts["BEFORE" if cur and cur["phase"] == "before_gate" else key] += 1
        by_id = {c["id"]: c for c in (cur["criteria"] if cur else [])}
        dec = st["latest_decision"]
        rows.append({
            "id": s.id, "name": s.name, "owner": s.owner, "track": TRACK_JA.get(s.track, s.track),
            "businesses": "・".join(project.city.business(b).name for b in s.businesses),
            "cutover": s.cutover.isoformat(), "days": st["days_to_cutover"],
            "gate_date": st["gate_date"].isoformat(), "days_to_gate": st["days_to_gate"],
            "key": key, "label": label, "colour": COLOUR[key], "decision_id": dec["decision_id"] if dec else "",
            "failing": [c for c in (cur["criteria"] if cur else []) if not c["passed"]],
            "first": cur is not None and st["previous"] is None, "diff": diff(cur, st["previous"], labels),
            "chart": _system_chart(st), "rehearsals": len(st["history"]), "aborted": len(st["aborted"]),
            "export": ("出力可" if cur.get("export_allowed") else "出力停止") if cur else "",
            "links": [(f"{reports_rel}/{s.id}/{f}", t) for f, t in ((f"{s.id}_移行確認.html", "移行確認ブック"),
                                                                     (f"gap_report_{s.id}.html", "ギャップレポート"),
                                                                     (f"gaiji_list_{s.id}.html", "外字同定リスト"))],
            "cells": [by_id.get(c.id) and {**by_id[c.id], "cls": "ok" if by_id[c.id]["passed"] else
                                           ("ng" if by_id[c.id]["on_fail"] == "NO-GO" else "cond")}
                      for c in gate.criteria],
        })
    name = {st["system"].id: st["system"].name for st in states}
    aborted_rows = [dict(r, names="、".join(name[x] for x in r["systems"])) for r in aborted_rehearsals(states)]
    page = _ENV.get_template("overview.html.j2").render(
        city=project.city.city.name, n=len(states), today=today.isoformat(),
        gate_days=project.city.city.gate_days_before_cutover, made=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        counts=counts, colour=COLOUR, rows=rows, criteria=[c.label for c in gate.criteria],
        trend=_trend_chart(states), aborted=aborted_rows, dbt_docs=dbt_docs_href,
        gx_docs=os.path.relpath(Path(out_path).parent.parent / "gx_docs" / "index.html", Path(out_path).parent))
    summary = {st["system"].id: _status_of(st)[0] for st in states}
    aborted = [r["rehearsal_id"] for r in aborted_rows]
    json_path = Path(out_path).with_suffix(".json")
    doc = json.dumps({"as_of": today.isoformat(), "status": summary, "aborted_rehearsals": aborted,
                      "changes": {r["id"]: r["diff"] for r in rows}},
                     ensure_ascii=False, indent=1)
    atomic.write_files({Path(out_path): lambda p: p.write_text(page, encoding="utf-8"),
                        json_path: lambda p: p.write_text(doc, encoding="utf-8")})
    return {"html": str(out_path), "json": str(json_path), "aborted_rehearsals": len(aborted),
            **{k.lower().replace("-", "_"): v for k, v in counts.items()}}
