"""Owners' files on the small city's warehouse: a typo blocks only that system's gate (with the
file and line in Japanese) and stops nothing; the workbook the run writes comes back through
``kikan decisions import``.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from openpyxl import load_workbook

from tests.conftest import ROOT

SYS = "kokuho"


@pytest.fixture
def owner(tmp_path):
    root = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", root)
    return root


def _evaluate(city, owner, system):
    from dagster_project.spec.config import load_project
    from dagster_project.readiness.gate import evaluate, load_readiness

    gate = load_readiness(ROOT / "mappings").gate
    return evaluate(load_project(owner), city["db"], system, owner, dt.date(2026, 12, 7), [], gate)


def test_a_typo_in_one_systems_decisions_fails_only_its_gate(extracted_city, owner, tmp_path):
    from dagster_project.spec.config import load_project
    from dagster_project.reports.gap_report import build_report

    (owner / SYS / "gap_decisions.yaml").write_text(
        "system: kokuho\ndecisions:\n  - gap_id: 'kokuho:hihokensha.shimei:legacy_only'\n    decision: 対応不要\n"
        "    reason: 4情報は住民記録から\n    decided_by: 保険年金課長\n    decided_on: 2026/11/20\n"
        "  - gap_id: 'kokuho:hihokensha.birth:legacy_only'\n    decision: 対応しない\n    reason: r\n"
        "    decided_by: 保険年金課長\n    decided_on: 2026-11-20\n", encoding="utf-8")
    ev = _evaluate(extracted_city, owner, SYS)
    gaps = next(c for c in ev.criteria if c.id == "gaps_decided")
    assert not gaps.passed and ev.outcome == "NO-GO"
    assert "mappings/kokuho/gap_decisions.yaml 9行目 decision: 「対応しない」は選べません" in gaps.evidence
    assert "記入ファイルの誤り" in ev.reasons_ja()
    other = next(c for c in _evaluate(extracted_city, owner, "jumin").criteria if c.id == "gaps_decided")
    assert "記入ファイルの誤り" not in other.evidence
    counts = build_report(load_project(owner), extracted_city["db"], SYS, tmp_path / "out")   # does not raise
    assert counts["decision_file_errors"] == 1 and counts["decided"] >= 1


def test_the_runs_workbook_comes_back_through_the_importer(extracted_city, owner, tmp_path):
    from dagster_project.reports import owner_sheets as S
    from dagster_project.spec.config import load_project
    from dagster_project.reports.owner_import import import_workbook
    from dagster_project.reports.owner_workbook import collect, write_xlsx

    db = extracted_city["db"]
    before = next(c for c in _evaluate(extracted_city, owner, SYS).criteria if c.id == "gaps_decided").value
    path = tmp_path / f"{SYS}_移行確認.xlsx"
    write_xlsx(path, collect(load_project(owner), db, SYS, None, owner, None))
    today = dt.date.today()
    # the unchanged workbook: nothing to import
    r = import_workbook(path, owner, db, today=today)
    assert r.ok and r.applied == 0, r.rejections
    wb = load_workbook(path)
    filled = {}
    for sh in (S.SPEC, S.DATA, S.KEYS, S.MYNUMBER):
        ws = wb[sh.name]
        cols = [c.name for c in sh.cols]
        status = sh.col("状態")
        for row in range(S.HEADER_ROW + 1, ws.max_row + 1):
            if ws.cell(row=row, column=status).value == "未決定":
                if sh is S.MYNUMBER:
                    vals = {"確認結果": "修正予定", "確認者": "保険年金課 係長", "確認日": today}
                else:
                    vals = {"対応方針": "データ補正", "理由": "移行前に補正する", "決定者": "保険年金課長", "決定日": today}
                for k, v in vals.items():
                    ws.cell(row=row, column=cols.index(k) + 1, value=v)
                filled[sh.name] = filled.get(sh.name, 0) + 1
                break
    wb.save(path)
    assert filled
    r = import_workbook(path, owner, db, today=today)
    assert r.ok, r.rejections
    assert {k: v.applied for k, v in r.sheets.items() if v.applied} == filled
    again = import_workbook(path, owner, db, today=today)
    assert again.ok and again.applied == 0 and again.files_written == []
    after = next(c for c in _evaluate(extracted_city, owner, SYS).criteria if c.id == "gaps_decided").value
    assert after < before or not (filled.get("仕様差異") or filled.get("データ差異"))
