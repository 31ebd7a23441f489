"""The system owner's workbook: every finding out, every decision back in (``<system>_移行確認.xlsx``).

システム所管課 work in Excel, not YAML or SQL. Each run writes, per system, one workbook and its
HTML twin: a cover sheet (where the system stands against each readiness criterion, what is left
to do) and one sheet per kind of work, every affected record listed from the findings ledger.
The owner fills the decision columns and drops the workbook back (``kikan decisions import``);
the next run applies the decisions. Layout: :mod:`.owner_sheets` (shared with the importer).

XlsxWriter writes the workbook, openpyxl reads it back (the importer, :mod:`.owner_import`, and the
round-trip test, which fills it the way an owner's Excel would): XlsxWriter cannot read, but the
writer never needs to, and it writes the same cells in less than half of openpyxl's time (the 13
workbooks: 2.5-2.8 -> 1.1-1.3 s at 20,000 residents, 9.3 -> 3.6-4.1 s at 100,000). The shared
helpers (text always as text, formats by style, widths in Excel's unit) are in
:mod:`core.xlsx_out`. A table (every input sheet is one) rules out XlsxWriter's
``constant_memory`` mode, so the cells are kept until the file is closed.
Internal keys, line numbers, codes and single characters only: no names, addresses, birth dates
or 個人番号.
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from dagster_project.core import atomic
from dagster_project.spec import decisions as D
from dagster_project.reports import owner_sheets as S
from dagster_project.core import xlsx_out as X
from dagster_project.spec.config import Project
from dagster_project.core.duck import open_warehouse
from dagster_project.reports.gap_report import gap_kinds
from dagster_project.core.textcodec import PUA_RE, has_halfwidth_kana, pua_to_sjis, sjis_to_pua
from dagster_project.spec.gaiji_decisions import load_gaiji_decisions_checked, problems_for
from dagster_project.readiness.gate import load_mynumber_reviews_checked
from dagster_project.core.templates import ENV as _ENV

OPEN, DONE = D.OPEN, D.DONE
HEAD_FILL = X.fill("1F4E78")
INPUT_FILL = X.fill("FFF8DC")
INPUT_HEAD_FILL = X.fill("B8860B")
OPEN_FILL = X.fill("F8D7DA")
HEAD_FONT = {"bold": True, "font_color": "#FFFFFF"}
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
    wb = X.workbook(path)
    st = X.Styles(wb)
    ws = wb.add_worksheet(S.COVER)
    plain = st.cell()
    bold = st.cell({"bold": True})
    h13 = st.cell({"bold": True, "font_size": 13})

    def put(r: int, c: int, v, cs: X.CellStyle = plain) -> None:     # 1-based, as the layout reads
        X.write(ws, r - 1, c - 1, v, cs)

    put(1, 1, d.title, st.cell({"bold": True, "font_size": 16}))
    put(3, 1, "システムID")
    put(3, 2, d.system)      # read back by the importer
    r = 4
    for k, v in d.cover:
        put(r, 1, k, bold)
        put(r, 2, v)
        r += 1
    r += 1
    put(r, 1, "判定基準", h13)
    r += 1
    head = st.cell({**HEAD_FILL, **HEAD_FONT})
    for i, h in enumerate(["基準", "値", "閾値", "結果", "根拠"], start=1):
        put(r, i, h, head)
    wrap_top = st.cell({"text_wrap": True, "valign": "top"})
    for c in d.criteria:
        r += 1
        put(r, 1, c.get("label"), wrap_top)
        put(r, 2, c.get("value"), st.cell({"align": "left", "valign": "top"}))
        put(r, 3, _threshold(c))
        put(r, 4, "合格" if c.get("passed") else "不合格", plain if c.get("passed") else st.cell(OPEN_FILL))
        put(r, 5, c.get("evidence"), wrap_top)
    if not d.criteria:
        r += 1
        put(r, 1, "（この実行では判定を評価していません）")
    r += 2
    put(r, 1, "残っている作業", h13)
    for k, v in _todo(d):
        r += 1
        put(r, 1, k)
        put(r, 2, v)
    for e in d.errors:
        r += 2
        put(r, 1, "決定ファイルの誤り", st.cell({"bold": True, "font_color": "#B00020", **OPEN_FILL}))
        put(r, 2, e, st.cell({"text_wrap": True}))
    r += 2
    put(r, 1, "記入のしかた", bold)
    put(r + 1, 1, "各シートの黄色の列（対応方針・理由・決定者・決定日など）に記入して保存し、"
                  "このファイルを ICT 担当に渡してください（ICT 担当が受付フォルダ var/inbox に置き、kikan decisions import-inbox で取り込みます）。"
                  "取り込んだ決定は次回の実行（リハーサル）で判定に反映されます。")
    for col, w in enumerate((40, 40, 10, 10, 70)):
        X.set_width(ws, col, w)
    _print_setup(ws, None)
    wb.define_name("kikan_system", f"='{S.COVER}'!$B$3")

    for sd in d.sheets:
        _write_sheet(wb, st, sd)
    wb.close()


def _print_setup(ws, header_row: int | None) -> None:
    """A4 landscape, all columns on one page wide (XlsxWriter leaves out fitToWidth="1", the
    default), as many pages tall as needed, the heading row (1-based) on every page."""
    ws.set_landscape()
    ws.set_paper(9)          # A4
    ws.fit_to_pages(1, 0)
    if header_row:
        ws.repeat_rows(header_row - 1)


def _png_size(png: bytes) -> tuple[int, int]:
    """A PNG's pixel width and height (its IHDR chunk)."""
    return struct.unpack(">II", png[16:24])


def _write_sheet(wb, st: X.Styles, sd: SheetData) -> None:
    sh = sd.sheet
    ws = wb.add_worksheet(sh.name)
    X.write(ws, 0, 0, sh.title, st.cell({"bold": True, "font_size": 13}))
    X.write(ws, 1, 0, sh.how + (" " + " ".join(sd.notes) if sd.notes else ""), st.cell())
    hr = S.HEADER_ROW            # 1-based, as the layout and the importer count; XlsxWriter's rows are 0-based
    heads = []
    for i, c in enumerate(sh.cols):
        heads.append(st.format({**(INPUT_HEAD_FILL if c.input else HEAD_FILL), **HEAD_FONT,
                                "text_wrap": True, "valign": "vcenter"}))
        X.write_text(ws, hr - 1, i, c.name, heads[-1])
        X.set_width(ws, i, c.width)
    ws.set_row(hr - 1, 15 * max(-(-S.display_width(c.name) // max(int(c.width) - 2, 1)) for c in sh.cols))
    # a column's style, made once: wrapped or top-aligned, yellow where the owner types, a date format
    styles = [st.cell({**({"text_wrap": True} if c.wrap else {}), "valign": "top", **(INPUT_FILL if c.input else {}),
                       **({"num_format": X.DATE_FORMAT} if c.date else {})}) for c in sh.cols]
    wraps = [(ci, max(int(c.width) - 3, 1)) for ci, c in enumerate(sh.cols) if c.wrap]
    write = X.write
    for ri, row in enumerate(sd.rows):
        excel_row = hr + ri          # 0-based: the row below the headings
        for ci, (v, cs) in enumerate(zip(row, styles)):
            write(ws, excel_row, ci, v, cs)
        lines = 1
        for ci, w in wraps:
            v = row[ci]
            if isinstance(v, str):
                lines = max(lines, -(-S.display_width(v) // w) + (1 if len(v) > 40 else 0))
        if lines > 1:
            # the height a wrapped row needs: not every spreadsheet program fits it on opening
            ws.set_row(excel_row, 15 * min(lines, 30))
    last = hr + max(len(sd.rows), 1)          # 1-based, the table's last row
    ncol = len(sh.cols)
    if not sd.rows:
        X.write(ws, hr, 0, "（該当なし）", st.cell())
    _ok(ws.add_table(hr - 1, 0, last - 1, ncol - 1, {
        "name": f"t_{sh.name}".replace("・", "_"), "style": "Table Style Light 9",
        "banded_rows": True, "banded_columns": False, "first_column": False, "last_column": False,
        "autofilter": True, "columns": [{"header": c.name, "header_format": f} for c, f in zip(sh.cols, heads)]}),
        sh.name, "table")
    ws.freeze_panes(hr, 0)
    # dropdowns from the standard lists, for the rows there are and room for more
    for c in sh.cols:
        col = sh.col(c.name) - 1
        if c.choices:
            _ok(ws.data_validation(hr, col, last + 199, col, {
                "validate": "list", "source": list(c.choices), "ignore_blank": True, "show_input": False,
                "error_message": "一覧から選んでください", "error_title": c.name, "show_error": True}), sh.name, c.name)
        if c.date:
            _ok(ws.data_validation(hr, col, last + 199, col, {
                "validate": "date", "criteria": ">", "value": "36526", "ignore_blank": True, "show_input": False,
                "error_message": "日付（例 2026/11/20）で入力してください", "error_title": c.name, "show_error": True}),
                sh.name, c.name)
    if any(c.name == "状態" for c in sh.cols):
        col = X.col_letter(sh.col("状態") - 1)
        # the status cell only: the yellow input cells stay yellow. In a conditional format Excel
        # paints a solid fill in its bgColor (openpyxl's fgColor-only fill left it black); both
        # colours are the same here, so a program reading either one shows the same pink
        _ok(ws.conditional_format(f"{col}{hr + 1}:{col}{last}", {
            "type": "formula", "criteria": f'=${col}{hr + 1}="{OPEN}"',
            "format": wb.add_format({"bg_color": OPEN_FILL["bg_color"], "fg_color": OPEN_FILL["bg_color"]})}),
            sh.name, "状態")
    for (ri, colname), png in sd.images.items():
        w, h = _png_size(png)
        ws.insert_image(hr + ri, sh.col(colname) - 1, f"glyph{ri}.png", {
            "image_data": BytesIO(png), "x_scale": GLYPH_PX / w, "y_scale": GLYPH_PX / h,
            "object_position": 2})      # moves with its cell, keeps its size (openpyxl's one-cell anchor)
        ws.set_row(hr + ri, GLYPH_PX * 0.8)
    _print_setup(ws, hr)


def _ok(rc, sheet: str, what: str) -> None:
    """XlsxWriter says a refused table, list or format by a negative return and a warning; here it stops."""
    if rc is not None and rc < 0:
        raise ValueError(f"「{sheet}」{what}: XlsxWriter refused it ({rc})")


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
    # replaced together; the workbook is written in the side worker while the twin renders here
    atomic.write_files({xlsx: atomic.InWorker(write_xlsx, (d,)),
                        htmlp: lambda p: p.write_text(render_html(d), encoding="utf-8")})
    counts = {f"rows_{s.sheet.name}": len(s.rows) for s in d.sheets}
    counts.update({f"open_{s.sheet.name}": s.open_count for s in d.sheets if s.sheet in S.INPUT_SHEETS})
    return {"xlsx": str(xlsx), "html": str(htmlp), "errors": len(d.errors), **counts}
