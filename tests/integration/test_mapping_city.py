"""The small city through dbt: standard tables for every business, and every planted
mapping-level defect found as the right gap with the right count."""

import shutil
from collections import Counter

import pytest
from openpyxl import load_workbook

from dagster_project.spec.config import load_project
from dagster_project.reports.gap_report import build_report
from dagster_project.spec.mapping import load_mappings
from tests.conftest import succeeded_but_blocked

pytestmark = pytest.mark.slow




@pytest.fixture(scope="module")
def mappings(project):
    return load_mappings(project)


def _gap(query, db, system, gap_id, kind="data"):
    r = query(db, f'select record_count from gaps."gaps_{system}__{kind}" where gap_id = ?', gap_id)
    return r[0][0] if r else 0


def test_the_run_succeeded_with_every_standard_table(extracted_city, mappings, query):
    res = extracted_city["result"]
    assert succeeded_but_blocked(res)
    db = extracted_city["db"]
    for t in mappings.tables:
        raw = query(db, f'select count(*) from raw."{t.system}__{t.source.table}"')[0][0]
        std = query(db, f'select count(*) from standard."std_{t.std.business_id}__{t.std.table_id}"')[0][0]
        assert std == raw > 0, t.std.ref   # every readable legacy row lands in the standard table


def _items_fed_by(mappings, system, table, field):
    for t in mappings.tables:
        if t.system == system and t.source.table == table:
            for ri in t.items:
                if field in ri.lineage:
                    yield t, ri


@pytest.mark.parametrize("cls,kind", [("impossible_date", "date_invalid"), ("unmapped_code", "unmapped_code"),
                                      ("overlong_value", "over_length"), ("missing_required", "required_missing")])
def test_planted_defects_become_data_gaps_with_exact_counts(extracted_city, mappings, cls, kind, query):
    db, manifest = extracted_city["db"], extracted_city["manifest"]
    planted = Counter((d["system"], d["table"], d["field"]) for d in manifest["defects"] if d["class"] == cls)
    assert planted, f"no {cls} planted"
    for (system, table, field), n in planted.items():
        found = [(t, ri) for t, ri in _items_fed_by(mappings, system, table, field)]
        assert found, (system, table, field)
        for t, ri in found:
            gid = f"{system}:{t.std.ref}.{ri.item.item_id}:{kind}"
            assert _gap(query, db, system, gid) == n, gid


def test_unmapped_code_values_are_spec_gaps_counted_per_value(extracted_city, mappings, project, query):
    db, manifest = extracted_city["db"], extracted_city["manifest"]
    planted = Counter((d["system"], d["table"], d["field"], d["code"]) for d in manifest["defects"]
                      if d["class"] == "unmapped_code")
    for (system, table, field, code), n in planted.items():
        (t, ri), = list(_items_fed_by(mappings, system, table, field))
        gid = f"{system}:{t.std.ref}.{ri.item.item_id}:code_unmapped:{code}"
        assert _gap(query, db, system, gid, "spec") == n, gid


def test_spec_gaps_name_what_is_missing_and_what_would_be_lost(extracted_city, query):
    db = extracted_city["db"]
    kinds = {(s, k) for s, k in query(db, "select system, gap_kind from gaps.gaps_kokuho__spec union all "
                                      "select system, gap_kind from gaps.gaps_jumin__spec")}
    assert ("kokuho", "required_no_source") in kinds
    assert ("jumin", "length_conflict") in kinds
    raw = query(db, 'select count(*) from raw."jumin__kojin"')[0][0]
    assert _gap(query, db, "jumin", "jumin:kojin.koho_kubun:legacy_only", "spec") == raw


def test_gap_ids_are_unique_across_systems(extracted_city, project, query):
    db = extracted_city["db"]
    ids = []
    for s in project.city.systems:
        for kind in ("spec", "data"):
            ids += [r[0] for r in query(db, f'select gap_id from gaps."gaps_{s.id}__{kind}"')]
    assert len(ids) == len(set(ids)) > 0
    assert all(i.split(":")[0] in {s.id for s in project.city.systems} for i in ids)


def test_unconvertible_values_stay_as_null_with_a_flag(extracted_city, query):
    db = extracted_city["db"]
    rows = query(db, 'select todoke_date, _flags from standard."std_juki__jumin" where _flags like ?',
             "%todoke_date:date_invalid%")
    assert rows and all(r[0] is None for r in rows)


def test_a_gap_report_per_system_with_decisions(extracted_city, project):
    reports = extracted_city["reports"]
    for s in project.city.systems:
        x = reports / s.id / f"gap_report_{s.id}.xlsx"
        assert x.exists() and (reports / s.id / f"gap_report_{s.id}.html").exists()
    wb = load_workbook(reports / "jumin" / "gap_report_jumin.xlsx")
    assert wb.sheetnames[:4] == ["概要", "項目対応表", "仕様差異", "データ差異"]
    ws = wb["仕様差異"]
    header = [c.value for c in ws[1]]
    assert header[:2] == ["ギャップID", "差異の種類"] and "対応方針" in header and ws.freeze_panes == "A2"
    decided = {r[0]: r[header.index("対応方針")] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert decided["jumin:kojin.koho_kubun:legacy_only"] == "対応不要"


def test_a_stale_decision_is_reported(extracted_city, project, tmp_path):
    root = tmp_path / "mappings"
    shutil.copytree(project.root, root)
    p = root / "kaigo" / "gap_decisions.yaml"
    p.write_text("system: kaigo\ndecisions:\n  - gap_id: 'kaigo:kaigo.nintei.1402099:over_length'\n"
                 "    decision: データ補正\n    reason: 以前の差異\n    decided_by: 介護保険課\n    decided_on: 2026-10-01\n",
                 encoding="utf-8")
    counts = build_report(load_project(root), extracted_city["db"], "kaigo", tmp_path / "out")
    assert counts["stale"] == 1 and counts["decided"] == 0 and counts["open"] > 0
    assert "古い決定" in load_workbook(counts["xlsx"]).sheetnames


def test_reports_identify_records_by_internal_key_only(extracted_city, query):
    db, reports = extracted_city["db"], extracted_city["reports"]
    names = {r[0].strip() for r in query(db, 'select shimei from raw."jumin__kojin" where shimei is not null')}
    numbers = {r[0] for r in query(db, 'select kojin_bango from raw."jumin__kojin" where kojin_bango <> \'\'')}
    for system in ("jumin", "zeimu", "kokuho"):
        text = (reports / system / f"gap_report_{system}.html").read_text(encoding="utf-8")
        assert not [n for n in names if len(n) >= 4 and n in text]
        assert not [n for n in numbers if n in text]


def test_reconciliation_counts_every_record_person_amount_and_category(extracted_city, project, mappings, query):
    db = extracted_city["db"]
    rows = []
    for s in project.city.systems:
        rows += query(db, f'select check_kind, status, source_value, target_value from readiness."recon_{s.id}"')
    kinds = Counter(r[0] for r in rows)
    assert kinds["件数"] == len(mappings.tables)
    assert kinds["金額"] > 0 and kinds["区分別件数"] > 0 and kinds["人数"] > 0
    # nothing in the small city drops rows or changes amounts between legacy and standard
    assert all(r[1] == "一致" for r in rows), [r for r in rows if r[1] != "一致"][:5]
    total = sum(r[2] for r in rows if r[0] == "件数")
    files = query(db, "select sum(records_in_file) from meta.extract_files")[0][0]
    assert total == files
