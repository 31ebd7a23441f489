"""The system owner's workbook, opened as an owner would: every sheet, every affected record, the
decision columns with their lists, print setup, no personal data; its HTML twin in Chromium."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from dagster_project.reports import owner_sheets as S
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def workbook(extracted_city, system):
    return extracted_city["reports"] / system / f"{system}_移行確認.xlsx"


def data_rows(ws, sheet: S.Sheet) -> list[dict]:
    head = [c.value for c in ws[S.HEADER_ROW]]
    assert head == [c.name for c in sheet.cols], sheet.name
    out = []
    for row in ws.iter_rows(min_row=S.HEADER_ROW + 1, values_only=True):
        if row[0] is None or row[0] == "（該当なし）":
            continue
        out.append(dict(zip(head, row)))
    return out


def test_every_system_has_a_workbook_and_its_twin(extracted_city, project):
    for s in project.city.systems:
        assert workbook(extracted_city, s.id).exists(), s.id
        assert workbook(extracted_city, s.id).with_suffix(".html").exists(), s.id


@pytest.mark.parametrize("system", ["jumin", "zeimu", "kokuho"])
def test_every_finding_is_in_the_workbook(extracted_city, query, system):
    db = extracted_city["db"]
    wb = load_workbook(workbook(extracted_city, system))
    assert wb.sheetnames == [S.COVER] + [s.name for s in S.ALL_SHEETS]
    assert wb[S.COVER]["B3"].value == system
    records = data_rows(wb[S.RECORDS.name], S.RECORDS)
    (n,), = query(db, f'select count(*) from findings."fnd_{system}"')
    assert len(records) == n and n > 0
    listed = {(r["現行ファイル"], r["行番号"], r["指摘"], r["項目ID"] or None) for r in records}
    ledger = {(f, int(rec), reason, item) for f, rec, reason, item in
              query(db, f'select source_file, record_no, reason, item_id from findings."fnd_{system}"')}
    assert listed == ledger
    keys = data_rows(wb[S.KEYS.name], S.KEYS)
    (k,), = query(db, f'select count(*) from findings."fnd_{system}" f join reference.finding_rules r '
                      "on r.rule_id = f.rule_id where r.category = 'key'")
    assert len(keys) == k and all(r["状態"] in ("未決定", "決定済み") for r in keys)
    spec = data_rows(wb[S.SPEC.name], S.SPEC)
    (g,), = query(db, f'select count(*) from gaps."gaps_{system}__spec"')
    assert len(spec) == g
    for r in spec:    # every gap says where it stands: no blank cell where the HTML says 未決定
        assert r["状態"] in ("未決定", "決定済み", "決定不要"), r
        if r["状態"] == "決定不要":
            assert not r["該当件数"], r


def test_the_decision_columns_have_their_lists_and_the_sheets_print(extracted_city):
    wb = load_workbook(workbook(extracted_city, "jumin"))
    for sheet in S.INPUT_SHEETS:
        ws = wb[sheet.name]
        lists = {dv.formula1.strip('"') for dv in ws.data_validations.dataValidation if dv.type == "list"}
        for c in sheet.cols:
            if c.choices:
                assert ",".join(c.choices) in lists, (sheet.name, c.name)
        # one page wide (fitToWidth 1 is the schema default, which XlsxWriter leaves out), as tall as needed
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth in (None, 1)
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
        assert ws.page_setup.paperSize in (9, "9")      # A4
        # an open status is painted pink: a conditional format's solid fill is its bgColor in Excel
        rules = [(str(cf.sqref), r) for cf in ws.conditional_formatting for r in cf.rules]
        col = get_column_letter(sheet.col("状態"))
        assert len(rules) == 1, sheet.name
        sqref, rule = rules[0]
        assert rule.dxf.fill.bgColor.rgb[-6:] == "F8D7DA", sheet.name
        assert rule.formula == [f'${col}{S.HEADER_ROW + 1}="未決定"'] and sqref.startswith(f"{col}{S.HEADER_ROW + 1}")
        assert ws.print_title_rows.replace("$", "") == f"{S.HEADER_ROW}:{S.HEADER_ROW}"
        assert ws.freeze_panes == f"A{S.HEADER_ROW + 1}"
        assert ws.tables, sheet.name
        wrapped = [c.name for c in sheet.cols if c.wrap]
        if wrapped and data_rows(ws, sheet):
            cell = ws.cell(row=S.HEADER_ROW + 1, column=sheet.col(wrapped[0]))
            assert cell.alignment.wrap_text


def test_the_gaiji_sheet_shows_glyphs_and_keeps_decided_characters(extracted_city):
    from dagster_project.conformance.glyphs import font_path

    wb = load_workbook(workbook(extracted_city, "jumin"))
    ws = wb[S.GAIJI.name]
    rows = data_rows(ws, S.GAIJI)
    codes = {r["外字コード"]: r for r in rows}
    assert "F045" in codes and codes["F045"]["状態"] == "決定済み"        # mappings/gaiji/decisions.csv
    assert codes["F045"]["判定"] == "同定" and codes["F045"]["標準の文字"]
    assert not any(r["外字コード"].startswith("U+FF") for r in rows)         # half-width kana: データ補正
    if font_path() is not None and any(str(r["候補（MJ文字図形名）"]).startswith("MJ") for r in rows):
        assert ws._images, "the vendor glyphs and candidates are drawn"
    for r in rows:
        if not r["候補（MJ文字図形名）"].startswith("MJ"):
            assert r["現行の字形"] in ("（字形なし）", None, ""), r


def test_no_personal_data_in_any_workbook(extracted_city, query, project):
    db = extracted_city["db"]
    names = {v for (v,) in query(db, "select shimei from standard.std_juki__jumin where shimei is not null")}
    addresses = {v for (v,) in query(db, "select jusho from standard.std_juki__jumin where jusho is not null")}
    numbers = {v for (v,) in query(db, "select kojin_bango from standard.std_juki__jumin where kojin_bango is not null")}
    births = {v.isoformat() for (v,) in query(db, "select birth_date from standard.std_juki__jumin "
                                                  "where birth_date is not null")}
    atena = {v for (v,) in query(db, 'select internal_key from findings."fnd_jumin" where internal_key is not null')}
    seen_keys = False
    for s in project.city.systems:
        wb = load_workbook(workbook(extracted_city, s.id))
        cells, texts = set(), set()       # every value; the text ones (dates typed as dates are decisions)
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                for v in row:
                    if v is not None and not isinstance(v, (dt.date, dt.datetime)):
                        cells.add(str(v))
                        texts.add(str(v))
        text = workbook(extracted_city, s.id).with_suffix(".html").read_text(encoding="utf-8")
        assert not cells & names and not cells & numbers and not cells & addresses, s.id
        assert not [n for n in names if len(n) >= 4 and n in text], s.id
        assert not [n for n in numbers if n in text], s.id
        assert not texts & births, s.id
        seen_keys |= bool(cells & atena)
    assert seen_keys, "internal keys identify the records"


def test_the_html_twin_reads_at_1280px_offline(extracted_city):
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    assert Path(chromium).exists(), "Chromium is needed: `python3.11 tasks.py test` installs it"
    page = workbook(extracted_city, "jumin").with_suffix(".html")
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for anchor, name in (("", "owner_workbook_jumin.png"), ("#s5", "owner_workbook_jumin_gaiji.png")):
        res = subprocess.run([shutil.which("node") or "node", str(ROOT / "tests" / "browser" / "owner_workbook.mjs"),
                              str(page) + anchor, str(shots / name)], capture_output=True, text=True, timeout=120,
                             cwd=ROOT / "node", env=dict(os.environ, KIKAN_NODE_DIR=str(ROOT / "node")))
        assert res.returncode == 0, res.stderr[-2000:]
        out = json.loads(res.stdout.strip().splitlines()[-1])
        assert out["blocked"] == [], out["blocked"]
        narrow = [t for t in out["tables"] if t["narrowest_chars"] < 4]
        assert not narrow, narrow
        assert all(i["ok"] and i["w"] > 0 for i in out["images"])
        assert (shots / name).stat().st_size > 20_000
