"""The system owner's workbook: every finding out, every decision back in (``<system>_移行確認.xlsx``).

システム所管課 work in Excel, not YAML or SQL. Each run writes, per system, one workbook and its
HTML twin: a cover sheet (where the system stands against each readiness criterion, what is left
to do) and one sheet per kind of work, every affected record listed from the findings ledger.
The owner fills the decision columns and drops the workbook back (``kikan decisions import``);
the next run applies the decisions. Layout: :mod:`.owner_sheets` (shared with the importer).

openpyxl, not XlsxWriter: the same library reads the filled workbook back, and the round-trip
test fills it the way an owner's Excel would; XlsxWriter cannot read. Internal keys, line numbers,
codes and single characters only: no names, addresses, birth dates or 個人番号.
"""

from __future__ import annotations

import base64
import datetime as dt
from copy import copy
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from openpyxl import Workbook
from openpyxl.drawing.image import Image as XLImage
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

from dagster_project.core import atomic
from dagster_project.spec import decisions as D
from dagster_project.reports import owner_sheets as S
from dagster_project.spec.config import Project
from dagster_project.core.duck import open_warehouse
from dagster_project.reports.gap_report import gap_kinds
from dagster_project.core.textcodec import PUA_RE, has_halfwidth_kana, pua_to_sjis, sjis_to_pua
from dagster_project.spec.gaiji_decisions import load_gaiji_decisions_checked, problems_for
from dagster_project.readiness.gate import load_mynumber_reviews_checked
from dagster_project.core.templates import ENV as _ENV

OPEN, DONE = D.OPEN, D.DONE
HEAD_FILL = PatternFill("solid", fgColor="1F4E78")
INPUT_FILL = PatternFill("solid", fgColor="FFF8DC")
OPEN_FILL = PatternFill("solid", fgColor="F8D7DA")
GLYPH_PX = 40
GAIJI_RECORDS = 10     # records named in the 外字 row itself; every one is in 対象レコード一覧


@dataclass
class SheetData:
    sheet: S.Sheet
    rows: list[list] = field(default_factory=list)
    images: dict[tuple[int, str], bytes] = field(default_factory=dict)   # (row index, column) -> PNG
    notes: list[str] = field(default_factory=list)

    @property
    def open_count(self) -> int:
        i = self.sheet.col("状態") - 1 if any(c.name == "状態" for c in self.sheet.cols) else None
        return sum(1 for r in self.rows if i is not None and r[i] == OPEN)


@dataclass
class WorkbookData:
    system: str
    title: str
    cover: list[tuple[str, str]]
    criteria: list[dict]
    sheets: list[SheetData]
    errors: list[str]


def _rows(con, sql: str, params=()) -> list[dict]:
    try:
        cur = con.execute(sql, list(params))
    except Exception as exc:       # a table the run did not build: said on the cover, never raised
        if "does not exist" in str(exc):
            return []
        raise
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _decision_cells(d) -> list:
    if d is None:
        return ["", "", "", None]
    return [d.decision, d.reason, d.decided_by, d.decided_on]


def collect(project: Project, db: Path, system: str, gate: dict | None = None,
            owner_root: Path | None = None, glyph=None) -> WorkbookData:
    """Everything the workbook shows, read once from the warehouse and the owner's files."""

    owner_root = Path(owner_root or project.root)
    sysconf = project.city.system(system)
    kinds = gap_kinds()
    # an owner's file with a mistake: the good rows apply, each mistake is said on the cover
    gap_dec, errors = D.load_decisions_checked(system, owner_root)
    decided = {d.gap_id: d for d in gap_dec.decisions}
    rec_dec, e = D.load_record_decisions_checked(owner_root, system)
    errors += e
    reviews, e = load_mynumber_reviews_checked(owner_root, system)
    errors += e
    gdec, problems = load_gaiji_decisions_checked(project, owner_root)
    errors += problems_for(problems, system)
    gaiji_dec = {d.code: d for d in gdec if d.system == system}

    con = open_warehouse(db, read_only=True)
    try:
        spec = _rows(con, f'select * from gaps."gaps_{system}__spec" order by gap_kind, gap_id')
        data = _rows(con, f'select * from gaps."gaps_{system}__data" order by gap_id')
        keys = _rows(con, f'select f.* from findings."fnd_{system}" f join reference.finding_rules r '
                          "on r.rule_id = f.rule_id where r.category = 'key' order by source_table, record_no, rule_id")
        audit = _rows(con, f'select * from conformance."conf_{system}__mynumber_audit" where audit_class <> \'4/4\' '
                           "order by std_ref, record_no")
        chars = _rows(con, "select detail as ch, sum(occurrences) as occ, "
                           "list(distinct coalesce(internal_key, '') || '（' || source_file || ' ' || "
                           "cast(record_no as varchar) || '行）') as records "
                           f'from findings."fnd_{system}" where rule_id = \'charset\' group by detail order by occ desc')
        usage = {r["sjis_code"]: r for r in _rows(con, "select sjis_code, any_value(juki_code) as juki_code, "
                                                       "any_value(koseki_no) as koseki_no, sum(occurrences) as occ "
                                                       "from meta.gaiji_usage where system = ? group by 1", [system])}
        cited = sorted({c for g in project.gaiji[system] for c in (g.juki_code, g.koseki_no) if c}
                       | {c for u in usage.values() for c in (u["juki_code"], u["koseki_no"]) if c})
        mj = _rows(con, "select mj, coalesce(ivs, ucs) as ch, juki_code, koseki_no from reference.mj_index "
                        "where list_contains(?, juki_code) or list_contains(?, koseki_no)", [cited, cited])
        recon = _rows(con, f'select * from readiness."recon_{system}" order by check_kind, subject')
        records = _rows(con, f'select * from findings."fnd_{system}" order by source_table, record_no, rule_id, item_id')
    finally:
        con.close()

    gap_st = D.gap_status(spec, data, decided)

    sd = SheetData(S.SPEC)
    for g in spec:
        sd.rows.append([g["gap_id"], kinds[g["gap_kind"]]["label_ja"], f"{g['business_id'] or ''}.{g['table_id'] or ''}"
                        if g["business_id"] else "", g["item_id"] or "", g["item_name"] or "",
                        g["legacy_field"] or "", g["legacy_value"] or "", g["detail"] or "",
                        g["record_count"] if g["record_count"] is not None else "", gap_st[g["gap_id"]]]
                       + _decision_cells(decided.get(g["gap_id"])))
    dd = SheetData(S.DATA)
    for g in data:
        dd.rows.append([g["gap_id"], kinds.get(g["gap_kind"], {"label_ja": g["gap_kind"]})["label_ja"],
                        f"{g['business_id']}.{g['table_id']}" if g["business_id"] else "", g["item_id"] or "",
                        g["item_name"] or "", g["record_count"], gap_st[g["gap_id"]]]
                       + _decision_cells(decided.get(g["gap_id"])))
    if any(r[6] == D.TWIN for r in dd.rows):
        dd.notes.append("「仕様差異で決定」: コード値の対応なしは、仕様差異（コード値ごと）の決定がこのデータ差異にも適用されます。")

    kd = SheetData(S.KEYS)
    for f in keys:
        d = rec_dec.get(f["finding_id"])
        kd.rows.append([f["finding_id"], f["source_file"], f["record_no"], f["internal_key"] or "", f["reason"],
                        f["std_ref"] or "", f["item_name"] or "", f["detail"] or "", DONE if d else OPEN]
                       + _decision_cells(d))

    md = SheetData(S.MYNUMBER)
    for a in audit:
        rv = reviews.get((a["std_ref"], a["atena_no"])) if reviews else None
        mark = lambda b: "一致" if b else "不一致"  # noqa: E731
        note = "、".join(x for x, on in (("氏名に外字", a["shimei_has_gaiji"]), ("異体字のみの違い", a["shimei_variant_only"]),
                                          ("宛名番号が住基・住登外にない", not a["record_person_found"])) if on)
        md.rows.append([a["std_ref"], a["source_file"], a["record_no"], a["atena_no"] or "", a["register_atena_no"] or "",
                        a["audit_class"], mark(a["match_shimei"]), mark(a["match_birth"]), mark(a["match_sex"]),
                        mark(a["match_jusho"]), note, DONE if rv else OPEN,
                        rv.result if rv else "", rv.reviewed_by if rv else "", rv.reviewed_on if rv else None])

    gd = SheetData(S.GAIJI)
    by_juki = {m["juki_code"]: m for m in mj if m["juki_code"]}
    by_koseki = {m["koseki_no"]: m for m in mj if m["koseki_no"]}
    vendor = {g.code: g for g in project.gaiji[system]}
    half = [c for c in chars if c["ch"] and has_halfwidth_kana(c["ch"])]
    seen = {c["ch"] for c in chars}
    # decided characters stay listed (their history) after staging has substituted them
    decided_only = [{"ch": sjis_to_pua(code), "occ": 0, "records": []} for code in gaiji_dec
                    if sjis_to_pua(code) not in seen]
    for c in [c for c in chars if c not in half] + decided_only:
        ch = c["ch"]
        code = pua_to_sjis(ch) if ch and PUA_RE.fullmatch(ch) else ""
        v = vendor.get(code)
        juki = (v.juki_code if v else None) or (usage.get(code) or {}).get("juki_code")
        koseki = (v.koseki_no if v else None) or (usage.get(code) or {}).get("koseki_no")
        cands = [m for m in (by_juki.get(juki), by_koseki.get(koseki)) if m]
        cands = list({m["mj"]: m for m in cands}.values())
        d = gaiji_dec.get(code)
        status = DONE if d and d.decision != "要確認" else ("要確認" if d else OPEN)
        row = len(gd.rows)
        cps = " ".join(f"U+{ord(x):04X}" for x in ch)
        recs = sorted(c["records"] or [])
        where = "、".join(recs[:GAIJI_RECORDS]) + (f" ほか {len(recs) - GAIJI_RECORDS:,} 件（全件は「対象レコード一覧」）"
                                                   if len(recs) > GAIJI_RECORDS else "")
        gd.rows.append([code or cps, "", cps, int(c["occ"] or 0), where or ("（決定済み・現在のデータにはない）" if d else ""),
                        juki or "", koseki or "",
                        "、".join(f"{m['mj']} {m['ch']}" for m in cands) or ("候補なし：紙の原票等で確認" if code else ""),
                        "", status, d.decision if d else "", d.character if d else "", d.decided_by if d else "",
                        d.decided_on if d else None, d.note if d else ""])
        if glyph is not None:
            # the vendor's glyph: drawn from the MJ character its 外字 table cites; a PUA code has none
            src = cands[0]["ch"] if cands else (ch if not code else None)
            png = glyph(src) if src else None
            if png:
                gd.images[(row, "現行の字形")] = png
            else:
                gd.rows[row][1] = "（字形なし）" if code else ""
            if cands:
                cpng = glyph(cands[0]["ch"])
                if cpng:
                    gd.images[(row, "候補の字形")] = cpng
    if half:
        gd.notes.append(f"半角カナ {len(half)} 文字（{sum(int(c['occ']) for c in half)} 箇所）は外字ではなく、全角カタカナへの"
                        "データ補正の対象です（「対象レコード一覧」の「行政事務標準文字にない文字」）。")

    rd = SheetData(S.RECON)
    for r in recon:
        rd.rows.append([r["check_kind"], r["subject"], r["source_value"], r["target_value"], r.get("difference"),
                        r.get("tolerance"), r["status"]])
    ld = SheetData(S.RECORDS)
    sev = {"error": "エラー", "warning": "警告"}
    for f in records:
        ld.rows.append([f["source_file"], f["record_no"], f["internal_key"] or "", f["reason"], sev.get(f["severity"], ""),
                        f["std_ref"] or "", f["item_id"] or "", f["item_name"] or "", f["detail"] or "", f["gap_id"]])

    sheets = [sd, dd, kd, md, gd, rd, ld]
    criteria = (gate or {}).get("criteria") or []
    status = (gate or {}).get("status")
    cover = [
        ("システム", f"{sysconf.name}（{system}）"),
        ("所管課", sysconf.owner),
        ("事業者", sysconf.vendor),
        ("移行予定日", sysconf.cutover.isoformat()),
        ("移行可否判定", {"GO": "移行可", "CONDITIONAL": "条件付き可", "NO-GO": "移行不可"}.get(status, "未評価")
         + (f"（{'判定日前の見込み、' if gate.get('phase') == 'before_gate' else ''}{gate.get('as_of')} 時点の評価）"
            if gate else "")),
        ("作成日時", dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
    ]
    return WorkbookData(system, f"{sysconf.name} 移行確認", cover, criteria, sheets, errors)


# --------------------------------------------------------------------------- Excel

def _threshold(c: dict) -> str:
    """「0 以下」「3 以上」: the criterion's threshold as a person reads it."""
    word = {"<=": "以下", ">=": "以上"}.get(c.get("rule", ""), c.get("rule", ""))
    return f"{c.get('threshold', '')} {word}".strip()


def _todo(d: WorkbookData) -> list[tuple[str, str]]:
    out = []
    for s in d.sheets:
        if s.sheet in S.INPUT_SHEETS:
            out.append((f"「{s.sheet.name}」", f"{len(s.rows):,} 行（うち未決定 {s.open_count:,}）"))
    return out


def write_xlsx(path: Path, d: WorkbookData) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = S.COVER
    ws["A1"] = d.title
    ws["A1"].font = Font(bold=True, size=16)
    ws["A3"], ws["B3"] = "システムID", d.system      # read back by the importer
    r = 4
    for k, v in d.cover:
        ws.cell(row=r, column=1, value=k).font = Font(bold=True)
        ws.cell(row=r, column=2, value=v)
        r += 1
    r += 1
    ws.cell(row=r, column=1, value="判定基準").font = Font(bold=True, size=13)
    r += 1
    for i, h in enumerate(["基準", "値", "閾値", "結果", "根拠"], start=1):
        c = ws.cell(row=r, column=i, value=h)
        c.fill, c.font = HEAD_FILL, Font(bold=True, color="FFFFFF")
    for c in d.criteria:
        r += 1
        ws.cell(row=r, column=1, value=c.get("label")).alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(row=r, column=2, value=c.get("value")).alignment = Alignment(horizontal="left", vertical="top")
        ws.cell(row=r, column=3, value=_threshold(c))
        res = ws.cell(row=r, column=4, value="合格" if c.get("passed") else "不合格")
        if not c.get("passed"):
            res.fill = OPEN_FILL
        ws.cell(row=r, column=5, value=c.get("evidence")).alignment = Alignment(wrap_text=True, vertical="top")
    if not d.criteria:
        r += 1
        ws.cell(row=r, column=1, value="（この実行では判定を評価していません）")
    r += 2
    ws.cell(row=r, column=1, value="残っている作業").font = Font(bold=True, size=13)
    for k, v in _todo(d):
        r += 1
        ws.cell(row=r, column=1, value=k)
        ws.cell(row=r, column=2, value=v)
    for e in d.errors:
        r += 2
        c = ws.cell(row=r, column=1, value="決定ファイルの誤り")
        c.font, c.fill = Font(bold=True, color="B00020"), OPEN_FILL
        ws.cell(row=r, column=2, value=e).alignment = Alignment(wrap_text=True)
    r += 2
    ws.cell(row=r, column=1, value="記入のしかた").font = Font(bold=True)
    ws.cell(row=r + 1, column=1, value="各シートの黄色の列（対応方針・理由・決定者・決定日など）に記入して保存し、"
                                        "このファイルを ICT 担当に渡してください（受付フォルダ var/inbox に置くと取り込まれます）。"
                                        "取り込んだ決定は次回の実行（リハーサル）で判定に反映されます。")
    for col, w in (("A", 40), ("B", 40), ("C", 10), ("D", 10), ("E", 70)):
        ws.column_dimensions[col].width = w
    _print_setup(ws, None)
    wb.defined_names["kikan_system"] = DefinedName("kikan_system", attr_text=f"'{S.COVER}'!$B$3")

    for sd in d.sheets:
        _write_sheet(wb, sd)
    wb.save(path)


def _print_setup(ws, header_row: int | None) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    if header_row:
        ws.print_title_rows = f"{header_row}:{header_row}"


def _write_sheet(wb: Workbook, sd: SheetData) -> None:
    sh = sd.sheet
    ws = wb.create_sheet(sh.name)
    ws["A1"] = sh.title
    ws["A1"].font = Font(bold=True, size=13)
    ws["A2"] = sh.how + (" " + " ".join(sd.notes) if sd.notes else "")
    ws["A2"].alignment = Alignment(wrap_text=False)
    hr = S.HEADER_ROW
    for i, c in enumerate(sh.cols, start=1):
        cell = ws.cell(row=hr, column=i, value=c.name)
        cell.fill = HEAD_FILL if not c.input else PatternFill("solid", fgColor="B8860B")
        cell.font = Font(bold=True, color="FFFFFF")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[get_column_letter(i)].width = c.width
    ws.row_dimensions[hr].height = 15 * max(-(-S.display_width(c.name) // max(int(c.width) - 2, 1)) for c in sh.cols)
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    styles: dict[int, object] = {}      # a column's style, made once and copied: setting a style per
    for ri, row in enumerate(sd.rows):  # cell hashed it again (25 s of 52 for zeimu's 70,000 rows)
        excel_row = hr + 1 + ri
        lines = 1
        for ci, (c, v) in enumerate(zip(sh.cols, row), start=1):
            cell = ws.cell(row=excel_row, column=ci, value=v)
            if ci in styles:
                cell._style = copy(styles[ci])
            else:
                cell.alignment = wrap if c.wrap else top
                if c.input:
                    cell.fill = INPUT_FILL
                if c.date:
                    cell.number_format = "yyyy-mm-dd"
                styles[ci] = copy(cell._style)
            if c.wrap and isinstance(v, str):
                lines = max(lines, -(-S.display_width(v) // max(int(c.width) - 3, 1)) + (1 if len(v) > 40 else 0))
        if lines > 1:
            # the height a wrapped row needs: not every spreadsheet program fits it on opening
            ws.row_dimensions[excel_row].height = 15 * min(lines, 30)
    last = hr + max(len(sd.rows), 1)
    ncol = len(sh.cols)
    if not sd.rows:
        ws.cell(row=hr + 1, column=1, value="（該当なし）")
    ref = f"A{hr}:{get_column_letter(ncol)}{last}"
    table = Table(displayName=f"t_{sh.name}".replace("・", "_"), ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = ws.cell(row=hr + 1, column=1)
    # dropdowns from the standard lists, for the rows there are and room for more
    for c in sh.cols:
        if c.choices:
            col = get_column_letter(sh.col(c.name))
            dv = DataValidation(type="list", formula1='"' + ",".join(c.choices) + '"', allow_blank=True)
            dv.error, dv.errorTitle, dv.showErrorMessage = "一覧から選んでください", c.name, True
            ws.add_data_validation(dv)
            dv.add(f"{col}{hr + 1}:{col}{last + 200}")
        if c.date:
            col = get_column_letter(sh.col(c.name))
            dv = DataValidation(type="date", operator="greaterThan", formula1="36526", allow_blank=True)
            dv.error, dv.errorTitle, dv.showErrorMessage = "日付（例 2026/11/20）で入力してください", c.name, True
            ws.add_data_validation(dv)
            dv.add(f"{col}{hr + 1}:{col}{last + 200}")
    if any(c.name == "状態" for c in sh.cols):
        col = get_column_letter(sh.col("状態"))
        # the status cell only: the yellow input cells stay yellow
        ws.conditional_formatting.add(
            f"{col}{hr + 1}:{col}{last}",
            FormulaRule(formula=[f'${col}{hr + 1}="{OPEN}"'], fill=OPEN_FILL))
    for (ri, colname), png in sd.images.items():
        img = XLImage(BytesIO(png))
        img.width = img.height = GLYPH_PX
        ws.add_image(img, f"{get_column_letter(sh.col(colname))}{hr + 1 + ri}")
        ws.row_dimensions[hr + 1 + ri].height = GLYPH_PX * 0.8
    _print_setup(ws, hr)


# --------------------------------------------------------------------------- HTML twin



def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    return str(v)


def render_html(d: WorkbookData) -> str:
    sheets = []
    for sd in d.sheets:
        imgs = {(ri, c): "data:image/png;base64," + base64.b64encode(png).decode() for (ri, c), png in sd.images.items()}
        # per column: its class and whether an empty cell reads 未決定; per cell (class, text, image).
        # Tuples, not a dict per cell with the class worked out in the template: the zeimu sheets
        # have ~10^6 cells at 817,000 residents
        cols = [("input" if c.input else "", " mj" if c.name in ("外字コード", "候補（MJ文字図形名）") else "",
                 c.input and c.name in ("対応方針", "確認結果", "判定"), c.name) for c in sd.sheet.cols]
        rows = []
        for ri, row in enumerate(sd.rows):
            cells = []
            for (cls, mj, opens, name), v in zip(cols, row):
                text = _cell(v)
                if opens and not text:
                    text = OPEN
                cells.append((cls + (" open" if text == OPEN else "") + mj, text,
                              imgs.get((ri, name)) if imgs else None))
            rows.append(cells)
        sheets.append({"name": sd.sheet.name, "title": sd.sheet.title, "how": sd.sheet.how, "notes": sd.notes,
                       "cols": sd.sheet.cols, "rows": rows, "open": sd.open_count})
    return _ENV.get_template("owner_workbook.html.j2").render(
        title=d.title, cover=d.cover, criteria=d.criteria, todo=_todo(d), errors=d.errors, sheets=sheets)


# --------------------------------------------------------------------------- entry point

def build_owner_workbook(project: Project, db: Path, system: str, out_dir: Path, gate: dict | None = None,
                         owner_root: Path | None = None) -> dict:
    """Write ``<system>_移行確認.xlsx`` and ``.html``; return counts and paths (for metadata)."""
    try:
        from dagster_project.conformance.glyphs import glyph_png
    except ImportError:       # no Pillow / font: the sheet says the glyph cannot be drawn
        glyph_png = None
    d = collect(project, db, system, gate, owner_root, glyph_png)
    out_dir = Path(out_dir)
    xlsx = out_dir / f"{system}_移行確認.xlsx"
    htmlp = out_dir / f"{system}_移行確認.html"
    atomic.write_files({xlsx: lambda p: write_xlsx(p, d),                 # replaced together
                        htmlp: lambda p: p.write_text(render_html(d), encoding="utf-8")})
    counts = {f"rows_{s.sheet.name}": len(s.rows) for s in d.sheets}
    counts.update({f"open_{s.sheet.name}": s.open_count for s in d.sheets if s.sheet in S.INPUT_SHEETS})
    return {"xlsx": str(xlsx), "html": str(htmlp), "errors": len(d.errors), **counts}
