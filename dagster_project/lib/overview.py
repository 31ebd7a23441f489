"""The ICT office's readiness overview (移行可否判定 状況一覧): one HTML page, all systems.

Per system: status colour, days to cutover, the criteria that block it, the difference from
the previous rehearsal, and a trend over the rehearsals; links to the system's gap report
and 外字同定リスト. Made only from the rehearsal history and the decision log, which hold
counts, ids and Japanese labels: no personal data can reach this page.

Only completed rehearsals make the state, the difference and the trend; the rows of a rehearsal
that never completed (a killed run) are listed apart as 中断 and count for nothing. The HTML and
its JSON summary are replaced together (``atomic.write_files``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

from . import atomic
from .config import Project
from .gatelog import read_history, read_log
from .readiness import OUTCOME_JA, GateConfig, gate_date

COLOUR = {"GO": "#1a7f37", "CONDITIONAL": "#b26b00", "NO-GO": "#c62828", "NONE": "#6b7280"}
FIGURES_JA = {"records": "現行レコード", "quarantined": "隔離", "standard_rows": "標準テーブル行",
              "spec_gaps": "仕様差異", "data_gaps": "データ差異", "open_gaps": "方針未決定ギャップ",
              "conformance_violations": "適合性違反", "failing_criteria": "不合格基準"}
TRACK_JA = {"on_schedule": "標準準拠（期限内）", "tokutei_ikou_shien": "特定移行支援"}


def _e(s) -> str:
    return html.escape(str(s), quote=True)


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


def _spark(values: list[int], width=140, height=28, colour="#334155") -> str:
    if not values:
        return ""
    top = max(max(values), 1)
    n = len(values)
    step = width / max(n - 1, 1)
    pts = " ".join(f"{i * step:.1f},{height - 3 - (v / top) * (height - 6):.1f}" for i, v in enumerate(values))
    last = values[-1]
    return (f'<svg class="spark" width="{width + 30}" height="{height}" role="img" '
            f'aria-label="不合格基準数の推移 {"→".join(map(str, values))}">'
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>'
            f'<text x="{width + 4}" y="{height - 8}" font-size="11">{last}</text></svg>')


def _trend_chart(states: list[dict]) -> str:
    """Stacked bars: per rehearsal date, how many systems were GO / CONDITIONAL / NO-GO."""
    by_rehearsal: dict[str, dict[str, str]] = {}
    for st in states:
        for h in st["history"]:
            by_rehearsal.setdefault(h["rehearsal_id"], {})[st["system"].id] = h["status"]
    # carry each system's last known status forward so every bar covers all systems evaluated so far
    ids = sorted(by_rehearsal, key=lambda r: min(h["evaluated_at"] for st in states for h in st["history"]
                                                  if h["rehearsal_id"] == r))[-20:]
    known: dict[str, str] = {}
    bars = []
    for r in ids:
        known.update(by_rehearsal[r])
        bars.append((r, {k: sum(1 for v in known.values() if v == k) for k in ("GO", "CONDITIONAL", "NO-GO")}))
    if not bars:
        return "<p>リハーサルの記録がまだない。</p>"
    total = len(states)
    w, h, bw = 40 + 46 * len(bars), 180, 30
    parts = [f'<svg class="trend" width="{w}" height="{h + 60}" role="img" aria-label="リハーサルごとの判定状況の推移">']
    for i, (r, c) in enumerate(bars):
        x, y = 30 + i * 46, h
        for k in ("GO", "CONDITIONAL", "NO-GO"):
            bh = h * c[k] / max(total, 1)
            y -= bh
            if bh:
                parts.append(f'<rect x="{x}" y="{y:.1f}" width="{bw}" height="{bh:.1f}" fill="{COLOUR[k]}">'
                             f'<title>{_e(r)}: {OUTCOME_JA[k]} {c[k]}</title></rect>')
        parts.append(f'<text x="{x + bw / 2}" y="{h + 14}" font-size="10" text-anchor="middle">{i + 1}</text>')
    parts.append(f'<line x1="26" y1="{h}" x2="{w}" y2="{h}" stroke="#999"/>')
    parts.append(f'<text x="0" y="12" font-size="10">{total}</text><text x="0" y="{h}" font-size="10">0</text>')
    parts.append(f'<text x="30" y="{h + 32}" font-size="11">リハーサル（古い順、最新 {len(bars)} 回）</text></svg>')
    return "".join(parts)


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


def _aborted_table(states: list[dict]) -> str:
    rows = aborted_rehearsals(states)
    if not rows:
        return "<p>中断したリハーサルはない。</p>"
    name = {st["system"].id: st["system"].name for st in states}
    body = "".join(f'<tr data-rehearsal="{_e(r["rehearsal_id"])}"><td>{_e(r["rehearsal_id"])}</td>'
                   f'<td>{_e(r["evaluated_at"])}</td><td>{_e("、".join(name[s] for s in r["systems"]))}</td>'
                   '<td>中断（最後まで実行されなかった）</td></tr>' for r in rows)
    return ('<table id="aborted"><thead><tr><th>リハーサル</th><th>最初の判定評価</th><th>評価まで進んだシステム</th>'
            f'<th>状態</th></tr></thead><tbody>{body}</tbody></table>')


def _diff(cur: dict | None, prev: dict | None) -> str:
    if not cur or not prev:
        return "（初回）" if cur else ""
    out = []
    for k, label in FIGURES_JA.items():
        a, b = prev["figures"].get(k), cur["figures"].get(k)
        if a is not None and b is not None and a != b:
            out.append(f"{label} {a:,}→{b:,}")
    return "、".join(out) or "変化なし"


def render(project: Project, state_dir: Path, gate: GateConfig, today: dt.date, out_path: Path,
           reports_rel: str = ".") -> dict:
    states = system_states(project, state_dir, gate, today)
    counts = {"GO": 0, "CONDITIONAL": 0, "NO-GO": 0, "BEFORE": 0, "NONE": 0}
    rows, matrix = [], []
    crit_ids = [c.id for c in gate.criteria]
    crit_label = {c.id: c.label for c in gate.criteria}
    for st in states:
        s, cur = st["system"], st["current"]
        key, label = _status_of(st)
        counts["BEFORE" if cur and cur["phase"] == "before_gate" else key] += 1
        failing = [c for c in (cur["criteria"] if cur else []) if not c["passed"]]
        dec = st["latest_decision"]
        biz = "・".join(project.city.business(b).name for b in s.businesses)
        spark = _spark([h["figures"].get("failing_criteria", 0) for h in st["history"]][-20:])
        links = "<br>".join(f'<a style="white-space:nowrap" href="{_e(reports_rel)}/{s.id}/{f}">{label}</a>'
                            for f, label in ((f"{s.id}_移行確認.html", "移行確認ブック"),
                                             (f"gap_report_{s.id}.html", "ギャップレポート"),
                                             (f"gaiji_list_{s.id}.html", "外字同定リスト")))
        days = st["days_to_cutover"]
        gate_txt = (f"{st['gate_date'].isoformat()}（あと{st['days_to_gate']}日）" if st["days_to_gate"] > 0
                    else st["gate_date"].isoformat())
        export = ""
        if cur:
            export = "出力可" if cur.get("export_allowed") else "出力停止"
        rows.append(
            f'<tr data-system="{s.id}" data-status="{key}">'
            f'<td><b>{_e(s.name)}</b><br><small>{_e(biz)}</small></td>'
            f'<td><small>{_e(s.owner)}</small></td><td>{_e(TRACK_JA.get(s.track, s.track))}</td>'
            f'<td>{s.cutover.isoformat()}<br><small>{"あと" + str(days) + "日" if days >= 0 else "移行済"}</small></td>'
            f'<td>{gate_txt}</td>'
            f'<td><span class="badge" style="background:{COLOUR[key]}">{_e(label)}</span>'
            f'<br><small>{_e(dec["decision_id"]) if dec else ""}</small></td>'
            f'<td>{"<br>".join(_e(c["label"]) + "：" + _e(c["evidence"]) for c in failing) or "なし"}</td>'
            f'<td><small>{_e(_diff(cur, st["previous"]))}</small></td>'
            f'<td>{spark}<br><small>リハーサル {len(st["history"])} 回'
            + (f'<br><span class="aborted">中断 {len(st["aborted"])} 回（数えない）</span>' if st["aborted"] else "")
            + '</small></td>'
            f'<td>{_e(export)}</td><td>{links}</td></tr>')
        cells = []
        by_id = {c["id"]: c for c in (cur["criteria"] if cur else [])}
        for cid in crit_ids:
            c = by_id.get(cid)
            if c is None:
                cells.append('<td class="na">－</td>')
            else:
                cls = "ok" if c["passed"] else ("ng" if c["on_fail"] == "NO-GO" else "cond")
                cells.append(f'<td class="{cls}" title="{_e(c["evidence"])}">{"○" if c["passed"] else "×"}'
                             f'<small>{c["value"]:,}</small></td>')
        matrix.append(f'<tr><th>{_e(s.name)}</th>{"".join(cells)}</tr>')

    gen = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    head = "".join(f"<th>{_e(crit_label[c])}</th>" for c in crit_ids)
    page = f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<title>移行可否判定 状況一覧 — {_e(project.city.city.name)}</title>
<style>
body{{font-family:"Noto Sans CJK JP","Noto Sans JP","IPAexGothic",sans-serif;margin:24px;color:#111}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:17px;margin-top:28px}}
table{{border-collapse:collapse;font-size:13px}} th,td{{border:1px solid #cbd5e1;padding:5px 7px;vertical-align:top}}
th{{background:#f1f5f9;text-align:left}} small{{color:#475569}}
.badge{{color:#fff;border-radius:4px;padding:2px 8px;font-weight:bold;white-space:nowrap;display:inline-block}}
.summary span{{display:inline-block;margin-right:16px;font-size:15px}}
.summary b{{display:inline-block;min-width:26px;text-align:center;color:#fff;border-radius:4px;padding:2px 6px}}
td.ok{{background:#e7f5ec;text-align:center}} td.ng{{background:#fde2e1;text-align:center;font-weight:bold}}
td.cond{{background:#fff1d6;text-align:center;font-weight:bold}} td.na{{color:#999;text-align:center}}
td small{{display:block;font-weight:normal}} .aborted{{color:#92400e}}
</style></head><body>
<h1>移行可否判定 状況一覧（{_e(project.city.city.name)}・{len(states)}システム）</h1>
<p>基準日 <b>{today.isoformat()}</b>　判定は移行日の{project.city.city.gate_days_before_cutover}日前から判定ログ（decision_log.jsonl）に記録。作成 {gen}。
個人を特定する情報は含まない（件数・内部ID・判定基準のみ）。</p>
<p class="summary">
<span><b style="background:{COLOUR['GO']}">{counts['GO']}</b> 移行可（GO）</span>
<span><b style="background:{COLOUR['CONDITIONAL']}">{counts['CONDITIONAL']}</b> 条件付き可</span>
<span><b style="background:{COLOUR['NO-GO']}">{counts['NO-GO']}</b> 移行不可（NO-GO）</span>
<span><b style="background:#64748b">{counts['BEFORE']}</b> 判定前</span>
<span><b style="background:{COLOUR['NONE']}">{counts['NONE']}</b> 未評価・未判定</span>
<small>（判定前のシステムは見込みの色で表示）</small></p>
<table id="systems"><thead><tr><th>現行システム・業務</th><th>所管課</th><th>区分</th><th>移行日</th><th>判定日</th>
<th>状況・判定ID</th><th>満たしていない基準（根拠）</th><th>前回リハーサルとの差</th><th>不合格基準数の推移</th>
<th>移行データ</th><th>報告書</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<h2>判定基準ごとの状況（最新リハーサル）</h2>
<p><small>○ 合格、× 不合格（赤: 移行不可となる基準、黄: 条件付き可となる基準）。数字は根拠の値。</small></p>
<table id="criteria"><thead><tr><th>システム</th>{head}</tr></thead><tbody>{''.join(matrix)}</tbody></table>
<h2>リハーサルごとの推移</h2>
{_trend_chart(states)}
<h2>中断したリハーサル</h2>
<p><small>実行が最後まで完了しなかったリハーサル（強制終了など）。連続合格リハーサル回数にも推移にも数えない。</small></p>
{_aborted_table(states)}
</body></html>
"""
    summary = {st["system"].id: _status_of(st)[0] for st in states}
    aborted = [r["rehearsal_id"] for r in aborted_rehearsals(states)]
    json_path = Path(out_path).with_suffix(".json")
    doc = json.dumps({"as_of": today.isoformat(), "status": summary, "aborted_rehearsals": aborted},
                     ensure_ascii=False, indent=1)
    atomic.write_files({Path(out_path): lambda p: p.write_text(page, encoding="utf-8"),
                        json_path: lambda p: p.write_text(doc, encoding="utf-8")})
    return {"html": str(out_path), "json": str(json_path), "aborted_rehearsals": len(aborted),
            **{k.lower().replace("-", "_"): v for k, v in counts.items()}}
