"""The gap report of one current system, for its owner (システム所管課): Excel and HTML.

Item by item of the standard data requirements: whether the system's data fits, and if not
why, how many records and which (by internal key and line number, never names or 個人番号),
with the owner's decision beside each gap. The decision itself is written in
``mappings/<system>/gap_decisions.yaml``; the next run shows it here.

The workbook is written by XlsxWriter through the shared helpers of :mod:`core.xlsx_out` (text
always as text); openpyxl reads it back in the tests. Writing the 13 workbooks: 20,000 residents
1.0-1.3 -> 0.6 s, 100,000 residents 4.4 -> 2.1 s. XlsxWriter's ``constant_memory`` mode would fit
(rows in order, no table) but was not faster (it writes every text inline, escaped cell by cell:
0.77-0.83 s at 20,000, 2.0 s at 100,000), so the default mode.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from dagster_project.core import atomic
from dagster_project.core.duck import open_warehouse
from dagster_project.core.templates import ENV as _ENV
from dagster_project.core import xlsx_out as X
from dagster_project.spec.config import Project
from dagster_project.spec.decisions import DECISIONS, NOT_NEEDED, TWIN, gap_status, load_decisions_checked, needing_decision, reconcile
from dagster_project.core.settings import settings

STATUS_JA = {"mapped": "対応済", "partial": "一部対応", "no_source": "移行元なし"}


def gap_kinds() -> dict[str, dict]:
    with (settings().seeds_dir / "gap_kinds.csv").open(encoding="utf-8") as fh:
        return {r["kind"]: r for r in csv.DictReader(fh)}


@dataclass
class ReportData:
    system: str
    items: list[dict]
    spec: list[dict]
    data: list[dict]
    findings: list[dict]

    @property
    def gap_ids(self) -> list[str]:
        return [g["gap_id"] for g in self.spec] + [g["gap_id"] for g in self.data]


def read_gaps(db: Path, system: str) -> ReportData:
    con = open_warehouse(db, read_only=True)
    try:
        def rows(sql):
            cur = con.execute(sql)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]
        items = rows(f'select * from gaps."gaps_{system}__items" order by item_id')
        spec = rows(f'select * from gaps."gaps_{system}__spec" order by gap_kind, gap_id')
        data = rows(f'select * from gaps."gaps_{system}__data" order by gap_id')
        # every affected record, from the findings ledger (nothing capped)
        findings = rows(f'select * from findings."fnd_{system}" order by source_table, record_no, rule_id, item_id')
    finally:
        con.close()
    return ReportData(system, items, spec, data, findings)


def build_report(project: Project, db: Path, system: str, out_dir: Path, now: dt.datetime | None = None) -> dict:
    """Write ``gap_report_<system>.xlsx`` and ``.html``; return counts (for metadata)."""
    now = now or dt.datetime.now()
    sysconf = project.city.system(system)
    kinds = gap_kinds()
    d = read_gaps(db, system)
    # an owner's mistaken decision file is named here and by the gate, never a stopped run
    decisions, decision_errors = load_decisions_checked(system, project.root)
    rec = reconcile(d.gap_ids, decisions, needing_decision(d.spec, d.data))
    status = gap_status(d.spec, d.data, rec.decided)
    bname = {b.id: b.name for b in project.city.businesses}
    tname = {(i["business_id"], i["table_id"]): i["table_name"] for i in d.items}

    def decision_cols(gid):
        dec = rec.decided.get(gid)
        if dec:
            return [dec.decision, dec.reason, dec.decided_by, dec.decided_on.isoformat()]
        st = status.get(gid)
        if st == NOT_NEEDED:
            return ["（決定不要）", "該当するレコードがない", "", ""]
        if st == TWIN:
            return ["（仕様差異で決定）", "コード値ごとの仕様差異の決定を適用", "", ""]
        return ["", "", "", ""]

    item_header = ["業務", "標準テーブル", "項目ID", "項目名", "型", "桁数", "必須", "対応状況", "移行元テーブル",
                   "移行元項目（系譜）", "変換式", "コード対応表", "備考"]
    item_rows = [[bname.get(i["business_id"], i["business_id"]), i["table_name"], i["item_id"], i["item_name"],
                  i["data_type"], i["std_length"], "必須" if i["required"] == "Y" else "", STATUS_JA[i["status"]],
                  i["source_table"], i["lineage"] or "", i["expression"] or "", i["codemap"] or "", i["note"] or ""]
                 for i in d.items]
    spec_header = ["ギャップID", "差異の種類", "業務", "標準テーブル", "項目ID", "項目名", "移行元", "現行項目",
                   "現行コード値", "内容", "該当件数", "サンプル（内部キー・行番号）", "対応方針", "理由", "決定者", "決定日"]
    spec_rows = [[g["gap_id"], kinds[g["gap_kind"]]["label_ja"], bname.get(g["business_id"] or "", ""),
                  tname.get((g["business_id"], g["table_id"]), g["table_id"] or ""), g["item_id"] or "",
                  g["item_name"] or "", g["source_table"] or "",
                  g["legacy_field"] or "", g["legacy_value"] or "", g["detail"] or "",
                  g["record_count"] if g["record_count"] is not None else "", g["samples"] or ""]
                 + decision_cols(g["gap_id"]) for g in d.spec]
    data_header = ["ギャップID", "差異の種類", "業務", "標準テーブル", "項目ID", "項目名", "該当件数",
                   "サンプル（内部キー・行番号）", "対応方針", "理由", "決定者", "決定日"]
    data_rows = [[g["gap_id"], kinds[g["gap_kind"]]["label_ja"], bname.get(g["business_id"], ""),
                  tname.get((g["business_id"], g["table_id"]), g["table_id"]),
                  g["item_id"], g["item_name"], g["record_count"], g["samples"] or ""] + decision_cols(g["gap_id"])
                 for g in d.data]
    rec_header = ["現行ファイル", "行番号", "内部キー", "指摘", "重大度", "標準テーブル", "項目ID", "項目名", "内容",
                  "ギャップID"]
    rec_rows = [[f["source_file"], f["record_no"], f["internal_key"] or "", f["reason"], SEVERITY_JA.get(f["severity"], ""),
                 f["std_ref"] or "", f["item_id"] or "", f["item_name"] or "", f["detail"] or "", f["gap_id"]]
                for f in d.findings]
    stale_header = ["ギャップID", "対応方針", "理由", "決定者", "決定日", "状態"]
    stale_rows = [[s.gap_id, s.decision, s.reason, s.decided_by, s.decided_on.isoformat(),
                   "該当する差異が現在のデータにない（解消済みか、ギャップIDの誤り）"] for s in rec.stale]

    status_counts = {k: sum(1 for i in d.items if i["status"] == k) for k in STATUS_JA}
    spec_by_kind = {}
    for g in d.spec:
        spec_by_kind[g["gap_kind"]] = spec_by_kind.get(g["gap_kind"], 0) + 1
    data_by_kind = {}
    for g in d.data:
        c = data_by_kind.setdefault(g["gap_kind"], [0, 0])
        c[0] += 1
        c[1] += int(g["record_count"] or 0)
    summary = [
        ("システム", f"{sysconf.name}（{system}）"),
        ("対象業務", "・".join(bname[b] for b in sysconf.businesses)),
        ("所管課", sysconf.owner),
        ("事業者", sysconf.vendor),
        ("移行区分", sysconf.track_ja),
        ("移行予定日", sysconf.cutover.isoformat()),
        ("作成日時", now.strftime("%Y-%m-%d %H:%M")),
        ("", ""),
        ("標準項目数", len(d.items)),
        *[(f"　{STATUS_JA[k]}", v) for k, v in status_counts.items()],
        ("", ""),
        ("仕様差異（件）", len(d.spec)),
        *[(f"　{kinds[k]['label_ja']}", v) for k, v in sorted(spec_by_kind.items())],
        ("データ差異（項目×種類）", len(d.data)),
        *[(f"　{kinds[k]['label_ja']}", f"{v[0]} 項目・{v[1]:,} レコード") for k, v in sorted(data_by_kind.items())],
        ("", ""),
        ("指摘のあるレコード（規則ごと、全件を「対象レコード一覧」に掲載）", len(d.findings)),
        ("", ""),
        ("対応方針 決定済み", len(rec.decided)),
        ("対応方針 未決定", len(rec.open)),
        ("古い決定（該当する差異なし）", len(rec.stale)),
        *[("決定ファイルの誤り", e) for e in decision_errors],
    ]

    out_dir = Path(out_dir)
    xlsx = out_dir / f"gap_report_{system}.xlsx"
    htmlp = out_dir / f"gap_report_{system}.html"
    sheets = [("項目対応表", item_header, item_rows), ("仕様差異", spec_header, spec_rows),
              ("データ差異", data_header, data_rows), ("対象レコード一覧", rec_header, rec_rows)]
    if stale_rows:
        sheets.append(("古い決定", stale_header, stale_rows))
    # the workbook and its HTML twin are replaced together: a reader never sees one new and one old
    # (the workbook in the side worker, the twin here: core.side)
    atomic.write_files({xlsx: atomic.InWorker(_write_xlsx, (sysconf.name, summary, sheets)),
                        htmlp: lambda p: p.write_text(_html(sysconf.name, summary, sheets, kinds), encoding="utf-8")})
    return {
        "xlsx": str(xlsx), "html": str(htmlp), "items": len(d.items), "items_no_source": status_counts["no_source"],
        "spec_gaps": len(d.spec), "data_gaps": len(d.data),
        "data_gap_records": sum(v[1] for v in data_by_kind.values()),
        "decided": len(rec.decided), "open": len(rec.open), "stale": len(rec.stale),
        "decision_file_errors": len(decision_errors),
        "finding_records": len(d.findings),
    }


SEVERITY_JA = {"error": "エラー（移行不可の要因）", "warning": "警告"}
HEAD_STYLE = {**X.fill("1F4E78"), "bold": True, "font_color": "#FFFFFF", "valign": "vcenter", "text_wrap": True}


def _write_xlsx(path: Path, title: str, summary, sheets) -> None:
    wb = X.workbook(path)
    st = X.Styles(wb)
    plain, bold = st.cell(), st.cell({"bold": True})
    ws = wb.add_worksheet("概要")
    X.write(ws, 0, 0, f"{title} 標準データ要件 差異一覧（ギャップレポート）", st.cell({"bold": True, "font_size": 14}))
    for i, (k, v) in enumerate(summary, start=2):
        X.write(ws, i, 0, k, bold if k and not k.startswith("　") else plain)
        X.write(ws, i, 1, v, plain)
    X.set_width(ws, 0, 34)
    X.set_width(ws, 1, 60)
    head = st.cell(HEAD_STYLE)
    for name, header, rows in sheets:
        sh = wb.add_worksheet(name)
        X.write_row(sh, 0, header, head)
        for r, row in enumerate(rows, start=1):
            X.write_row(sh, r, row, plain)
        sh.freeze_panes(1, 0)
        sh.autofilter(0, 0, max(len(rows), 1), len(header) - 1)
        for c, h in enumerate(header):
            width = max([len(str(h)) * 2] + [min(len(str(r[c])) * 1.6, 60) for r in rows[:500]] + [8])
            X.set_width(sh, c, min(max(width, 10), 60))
        if "対応方針" in header:
            col = header.index("対応方針")
            # as before: the list to choose from, a wrong entry not refused (no error dialog)
            rc = sh.data_validation(1, col, max(len(rows), 1) + 199, col, {
                "validate": "list", "source": list(DECISIONS), "ignore_blank": True, "show_input": False,
                "error_message": "一覧から選んでください", "error_title": "対応方針", "show_error": False})
            if rc:
                raise ValueError(f"「{name}」対応方針: XlsxWriter refused the list ({rc})")
    wb.close()


def _html(title: str, summary, sheets, kinds) -> str:
    """The HTML twin (``templates/gap_report.html.j2``); a blank 対応方針 shows as 未決定."""
    return _ENV.get_template("gap_report.html.j2").render(
        title=title, summary=summary, kinds=list(kinds.values()),
        sheets=[{"name": name, "header": header, "rows": rows,
                 "decision_col": header.index("対応方針") if "対応方針" in header else None}
                for name, header, rows in sheets])
