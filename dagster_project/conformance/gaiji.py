"""文字同定 (identification of 外字): the list each system owner works through (the decisions
file staging applies is read by :mod:`spec.gaiji_decisions`).

For every character of a system's standard tables that is not 行政事務標準文字 the list says
where it occurs (table, item, occurrences, sample internal keys), what the vendor's 外字 table
knows of it (住基ネット統一文字コード, 戸籍統一文字番号, description), and the candidate standard
characters found through those codes in the MJ文字情報一覧表. The owner records the outcome in
``mappings/gaiji/decisions.csv`` (同定: this standard character / 縮退: this character by a rule /
要確認: still open); the next run applies 同定 and 縮退 in staging, and the character leaves
the list.

The workbook is written by XlsxWriter (:mod:`core.xlsx_out`, text always as text; its default
mode: ``constant_memory`` was no faster for the gap report). Only the MJ文字情報 rows the vendor's
外字 table cites are read, not the whole index: the 13 lists, 100,000 residents, 3.8 -> 1.7 s.
"""

from __future__ import annotations

from pathlib import Path

from dagster_project.core.templates import ENV as _ENV
from dagster_project.core import atomic
from dagster_project.core.duck import open_warehouse
from dagster_project.spec.config import Project
from dagster_project.core.textcodec import PUA_RE, pua_to_sjis
from dagster_project.core import xlsx_out as X
from dagster_project.spec.gaiji_decisions import (DECISION_FIELDS, GaijiDecision, GaijiProblem,  # noqa: F401 (re-exported)
                                                  is_one_character, load_gaiji_decisions,
                                                  load_gaiji_decisions_checked, problems_for)

HEADER = ["文字", "コード（Shift_JIS）", "Unicode", "出現数", "レコード数", "出現箇所（標準テーブル・項目）", "サンプル（内部キー・行番号）",
          "ベンダー外字表の記載", "住基ネット統一文字コード", "戸籍統一文字番号", "同定候補（MJ）", "状態"]


def build_gaiji_list(project: Project, db: Path, system: str, out_dir: Path) -> dict:
    decisions = {d.code: d for d in load_gaiji_decisions_checked(project, project.root)[0] if d.system == system}
    vendor = {g.code: g for g in project.gaiji[system]}
    con = open_warehouse(db, read_only=True)
    try:
        rows = con.execute(
            f'select ch, codepoints, sum(occurrences), sum(records), string_agg(std_ref || '
            f"'.' || item_name, '、' order by std_ref, item_name), min(samples) "
            f'from conformance."conf_{system}__chars" group by ch, codepoints order by sum(occurrences) desc, ch'
        ).fetchall()
        # only the MJ characters the vendor's 外字 table cites (the index has some 58,000)
        cited = sorted({c for g in vendor.values() for c in (g.juki_code, g.koseki_no) if c})
        mj = con.execute("select mj, coalesce(ivs, ucs) as ch, juki_code, koseki_no from reference.mj_index "
                         "where list_contains(?, juki_code) or list_contains(?, koseki_no)", [cited, cited]).fetchall()
        fold = dict(con.execute("select ch, folded from reference.char_fold").fetchall())
    finally:
        con.close()
    by_juki = {j: (m, c) for m, c, j, k in mj if j}
    by_koseki = {k: (m, c) for m, c, j, k in mj if k}
    table = []
    for ch, cps, occ, recs, where, samples in rows:
        code = pua_to_sjis(ch) if PUA_RE.fullmatch(ch) else ""
        v = vendor.get(code)
        cands = []
        if v and v.juki_code and v.juki_code in by_juki:
            m, c = by_juki[v.juki_code]
            cands.append(f"{c}（{m}、住基 {v.juki_code}）")
        if v and v.koseki_no and v.koseki_no in by_koseki:
            m, c = by_koseki[v.koseki_no]
            cands.append(f"{c}（{m}、戸籍 {v.koseki_no}）")
        for c in [x.split("（")[0] for x in cands]:
            if c in fold:   # what 縮退 by the MJ縮退マップ (親字正字 / JIS包摂規準) would give
                cands.append(f"縮退候補: {fold[c]}（MJ縮退マップ）")
        if not code and "\uff61" <= ch[0] <= "\uff9f":
            cands.append("全角カタカナへ変換（半角カナ）")
        d = decisions.get(code)
        status = (f"{d.decision}済: {d.character}" if d and d.decision != "要確認" else "要確認") if d else "未同定"
        table.append([ch if not code else f"（外字 {code}）", code, cps, int(occ), int(recs), where, samples,
                      (v.description if v else ("ベンダー外字表に記載なし" if code else "")),
                      v.juki_code if v and v.juki_code else "", v.koseki_no if v and v.koseki_no else "",
                      " / ".join(dict.fromkeys(cands)) or ("候補なし：紙の原票等で確認" if code else ""), status])
    name = project.city.system(system).name
    out_dir = Path(out_dir)
    xlsx, htmlp = out_dir / f"gaiji_list_{system}.xlsx", out_dir / f"gaiji_list_{system}.html"

    def write_xlsx(p):
        wb = X.workbook(p)
        st = X.Styles(wb)
        ws = wb.add_worksheet("外字同定リスト")
        X.write_row(ws, 0, HEADER, st.cell({**X.fill("1F4E78"), "bold": True, "font_color": "#FFFFFF"}))
        plain = st.cell()
        for r, row in enumerate(table, start=1):
            X.write_row(ws, r, row, plain)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, len(table), len(HEADER) - 1)
        for i, w in enumerate([10, 12, 16, 8, 8, 40, 40, 28, 14, 14, 40, 14]):
            X.set_width(ws, i, w)
        wb.close()

    def write_html(p):
        p.write_text(_ENV.get_template("gaiji_list.html.j2").render(name=name, header=HEADER, rows=table),
                     encoding="utf-8")

    atomic.write_files({xlsx: write_xlsx, htmlp: write_html})
    return {"xlsx": str(xlsx), "html": str(htmlp), "characters": len(table),
            "occurrences": sum(r[3] for r in table), "with_candidates": sum(1 for r in table if "（MJ" in r[10]),
            "open": sum(1 for r in table if r[11] in ("未同定", "要確認"))}
