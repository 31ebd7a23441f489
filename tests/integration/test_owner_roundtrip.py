"""The owner's round trip: the run writes the workbook, the owner fills it in Excel (openpyxl here,
as Excel saves it), the import applies the good rows and rejects the bad ones by sheet, row and
column, and the next evaluation of the gate moves as expected, for this system only."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from openpyxl import load_workbook

from dagster_project.reports import owner_sheets as S
from dagster_project.reports.owner_import import import_workbook
from dagster_project.readiness.gate import evaluate, load_readiness
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
SYSTEM = "zeimu"
AS_OF = dt.date(2026, 12, 7)


def gate(project, db, system, owner_root):
    ev = evaluate(project, db, system, owner_root, AS_OF, [], load_readiness(project.root).gate)
    return {c.id: (c.value, c.passed) for c in ev.criteria}


def fill(ws, sheet: S.Sheet, row: int, values: dict):
    for name, v in values.items():
        ws.cell(row=row, column=sheet.col(name), value=v)


def test_round_trip(extracted_city, project, tmp_path):
    db = extracted_city["db"]
    owner = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", owner)
    before = {s.id: gate(project, db, s.id, owner) for s in project.city.systems}
    assert not before[SYSTEM]["gaps_decided"][1] and not before[SYSTEM]["mynumber_reviewed"][1]

    src = extracted_city["reports"] / SYSTEM / f"{SYSTEM}_移行確認.xlsx"
    filled = tmp_path / f"{SYSTEM}_移行確認.xlsx"
    wb = load_workbook(src)
    counts = {}
    planted_bad = []
    for sheet, values in ((S.SPEC, {"対応方針": "データ補正", "理由": "現行データを修正する", "決定者": "税務運営課 課税係",
                                   "決定日": dt.datetime(2026, 11, 20)}),
                          (S.DATA, {"対応方針": "データ補正", "理由": "移行前に補正", "決定者": "税務運営課 課税係",
                                    "決定日": "令和8年11月20日"}),
                          (S.MYNUMBER, {"確認結果": "本人確認済", "確認者": "税務運営課 課税係", "確認日": "2026/11/21"})):
        ws = wb[sheet.name]
        state = sheet.col("状態")
        rows = [r for r in range(S.HEADER_ROW + 1, ws.max_row + 1) if ws.cell(row=r, column=state).value == "未決定"]
        assert rows, sheet.name
        counts[sheet.name] = len(rows)
        for r in rows:
            fill(ws, sheet, r, values)
    # the mistakes owners make, one row each (on the key-violation sheet, which the gate does not clear)
    ks = wb[S.KEYS.name]
    krows = list(range(S.HEADER_ROW + 1, ks.max_row + 1))
    assert len(krows) >= 4
    fill(ks, S.KEYS, krows[0], {"対応方針": "わからない", "理由": "x", "決定者": "課税係", "決定日": "2026-11-20"})
    fill(ks, S.KEYS, krows[1], {"対応方針": "データ補正", "理由": "x", "決定者": "課税係", "決定日": "2026/13/01"})
    fill(ks, S.KEYS, krows[2], {"対応方針": "データ補正", "理由": "x", "決定日": "2026-11-20"})
    fill(ks, S.KEYS, krows[3], {"対応方針": "データ補正", "理由": "重複を統合", "決定者": "課税係", "決定日": "R8.11.22"})
    planted_bad = [(krows[0], "対応方針"), (krows[1], "決定日"), (krows[2], "決定者")]
    wb.save(filled)

    res = import_workbook(filled, owner, db)
    assert res.system == SYSTEM
    assert res.sheets[S.SPEC.name].applied == counts[S.SPEC.name]
    assert res.sheets[S.DATA.name].applied == counts[S.DATA.name]
    assert res.sheets[S.MYNUMBER.name].applied == counts[S.MYNUMBER.name]
    assert res.sheets[S.KEYS.name].applied == 1 and res.sheets[S.KEYS.name].rejected == 3
    for row, col in planted_bad:
        assert any(f"「{S.KEYS.name}」" in m and f"{row}行目" in m and f"「{col}」" in m for m in res.rejections), \
            (row, col, res.rejections)
    assert (owner / SYSTEM / "decision_imports.csv").exists()

    after = {s.id: gate(project, db, s.id, owner) for s in project.city.systems}
    assert after[SYSTEM]["gaps_decided"] == (0, True)
    assert after[SYSTEM]["mynumber_reviewed"] == (0, True)
    assert after[SYSTEM]["key_violations"] == before[SYSTEM]["key_violations"]     # decided, not yet corrected
    for s in project.city.systems:
        if s.id != SYSTEM:
            assert after[s.id] == before[s.id], s.id

    again = import_workbook(filled, owner, db)
    assert again.applied == 0 and again.unchanged == sum(counts.values()) + 1
