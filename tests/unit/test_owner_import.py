"""Reading the owner's workbook back (reports/owner_import.py), owners' file mistakes as messages, and
one decision per issue.

Workbooks are built here with openpyxl from the layout in reports/owner_sheets.py (headings on row
HEADER_ROW, the system id on the cover's B3), the warehouse is a small DuckDB file holding only
the tables the importer checks against, and mappings/ is a temporary copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook
from openpyxl.workbook.defined_name import DefinedName

from dagster_project import cli
from dagster_project.reports import owner_sheets as S
from dagster_project.spec.config import ConfigError, load_project
from dagster_project.spec.decisions import (DATE_FORMS, DateError, load_decisions, load_decisions_checked, load_record_decisions,
                                           needing_decision, gap_status, parse_date, reconcile)
from dagster_project.conformance.gaiji import load_gaiji_decisions, load_gaiji_decisions_checked, problems_for
from dagster_project.reports.owner_import import ImportUserError, format_result, import_inbox, import_workbook

SYS = "kokuho"
TODAY = dt.date(2026, 11, 30)
SPEC_ID = "kokuho:kokuho.hihokensha.1001001:required_no_source"
DATA_IDS = ["kokuho:kokuho.hihokensha.1001010:over_length", "kokuho:kokuho.hihokensha.1001011:date_invalid",
            "kokuho:kokuho.hihokensha.1001012:required_missing"]
FINDING = "kokuho|check_digit|kokuho.hihokensha|1001005|hihokensha|2850|"
PERSON = ("kokuho.hihokensha", "0001126105")
CODE = "F241"


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def root(tmp_path, project):
    dst = tmp_path / "mappings"
    shutil.copytree(project.root, dst)
    return dst


@pytest.fixture
def db(tmp_path):
    p = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(p))
    for s in ("gaps", "findings", "conformance", "meta"):
        con.execute(f"create schema {s}")
    con.execute(f'create table gaps."gaps_{SYS}__spec" (gap_id varchar, gap_kind varchar, record_count bigint)')
    con.execute(f'insert into gaps."gaps_{SYS}__spec" values (?, \'required_no_source\', null)', [SPEC_ID])
    con.execute(f'create table gaps."gaps_{SYS}__data" (gap_id varchar, gap_kind varchar, record_count bigint)')
    for g in DATA_IDS:
        con.execute(f'insert into gaps."gaps_{SYS}__data" values (?, ?, 3)', [g, g.rsplit(":", 1)[1]])
    con.execute(f'create table findings."fnd_{SYS}" (finding_id varchar)')
    con.execute(f'insert into findings."fnd_{SYS}" values (?)', [FINDING])
    con.execute(f'create table conformance."conf_{SYS}__mynumber_audit" (std_ref varchar, atena_no varchar, audit_class varchar)')
    con.execute(f'insert into conformance."conf_{SYS}__mynumber_audit" values (?, ?, \'3/4\')', list(PERSON))
    con.execute("create table meta.gaiji_usage (system varchar, sjis_code varchar)")
    con.execute("insert into meta.gaiji_usage values (?, ?), ('jumin', 'F045')", [SYS, CODE])
    con.close()
    return p


def gap(gid, decision="データ補正", reason="移行前に補正する", by="保険年金課長", on="2026/11/20"):
    return {"ギャップID": gid, "対応方針": decision, "理由": reason, "決定者": by, "決定日": on}


def make_workbook(path: Path, rows: dict[str, list[dict]], system: str | None = SYS, *, name: str | None = None,
                  header_row: int = S.HEADER_ROW, reorder: bool = False, extra: bool = False) -> Path:
    """A workbook laid out by owner_sheets: cover with the system id in B3, one sheet per input
    kind, headings on ``header_row``; ``rows`` by sheet name, cells by heading."""
    wb = Workbook()
    cover = wb.active
    cover.title = S.COVER
    cover["A1"] = "移行確認"
    if system is not None:
        cover["A3"], cover["B3"] = "システムID", system
    if name is not None:
        wb.defined_names["kikan_system"] = DefinedName("kikan_system", attr_text=f"'{S.COVER}'!$B$3")
        cover["B3"] = name
    for sh in S.INPUT_SHEETS:
        ws = wb.create_sheet(sh.name)
        ws["A1"], ws["A2"] = sh.title, sh.how
        cols = [c.name for c in sh.cols]
        if reorder:
            cols = list(reversed(cols))
        if extra:
            cols.insert(1, "所管課メモ")
        for i, c in enumerate(cols, start=1):
            ws.cell(row=header_row, column=i, value=c)
        for r, row in enumerate(rows.get(sh.name, []), start=header_row + 1):
            for k, v in row.items():
                ws.cell(row=r, column=cols.index(k) + 1, value=v)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def run(path, root, db, **kw):
    kw.setdefault("today", TODAY)
    return import_workbook(path, root, db, **kw)


def tree_hashes(root: Path, skip_system: str | None = None) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not (skip_system and p.relative_to(root).parts[0] == skip_system)}


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize("value,day", [
    (dt.datetime(2026, 11, 20, 0, 0), dt.date(2026, 11, 20)),   # an Excel date cell
    (dt.date(2026, 11, 20), dt.date(2026, 11, 20)),
    ("2026-11-20", dt.date(2026, 11, 20)),
    ("2026/11/20", dt.date(2026, 11, 20)),
    ("2026/1/5", dt.date(2026, 1, 5)),
    ("2026.11.20", dt.date(2026, 11, 20)),
    ("2026年11月20日", dt.date(2026, 11, 20)),
    ("２０２６／１１／２０", dt.date(2026, 11, 20)),
    ("20261120", dt.date(2026, 11, 20)),
    ("令和8年11月20日", dt.date(2026, 11, 20)),
    ("令和元年5月1日", dt.date(2019, 5, 1)),
    ("令和元年11月20日", dt.date(2019, 11, 20)),
    ("令和8.11.20", dt.date(2026, 11, 20)),
    ("R8.11.20", dt.date(2026, 11, 20)),
    ("R08/11/20", dt.date(2026, 11, 20)),
    ("r8.11.20", dt.date(2026, 11, 20)),
    ("平成31年4月30日", dt.date(2019, 4, 30)),
    ("H31.4.30", dt.date(2019, 4, 30)),
    (46346, dt.date(2026, 11, 20)),                                # an Excel serial in a general cell
    ("2026-11-20 00:00:00", dt.date(2026, 11, 20)),
])
def test_date_spellings_are_read(value, day):
    assert parse_date(value, today=TODAY) == day


@pytest.mark.parametrize("value,message", [
    ("2026/13/01", "日付として読めません（2026/13/01）"),
    ("2026/2/30", "日付として読めません（2026/2/30）。存在しない日付です"),
    ("平成31年5月1日", "日付として読めません（平成31年5月1日）。平成は1989年1月8日から2019年4月30日までです"),
    ("令和元年4月30日", "令和は2019年5月1日からです"),
    ("来週", "日付として読めません（来週）。書き方の例: 2026/11/20、2026-11-20、"),
    ("2027/1/5", "未来の日付です（2027/1/5 → 2027-01-05、今日は 2026-11-30）"),
])
def test_impossible_and_future_dates_are_refused(value, message):
    with pytest.raises(DateError) as e:
        parse_date(value, today=TODAY)
    assert message in str(e.value)


# ---------------------------------------------------------------- importing


def test_good_rows_apply_and_a_bad_row_in_the_same_sheet_is_rejected(tmp_path, root, db):
    wb = make_workbook(tmp_path / "in" / "kokuho_移行確認.xlsx", {
        "仕様差異": [gap(SPEC_ID, decision="標準仕様への要望", on=dt.datetime(2026, 11, 18))],
        "データ差異": [gap(DATA_IDS[0], on="令和8年11月20日"),
                       gap(DATA_IDS[1], on="2026/13/01"),                 # row 6: rejected on its own
                       gap(DATA_IDS[2], on="R8.11.21")],
    })
    r = run(wb, root, db)
    assert r.system == SYS
    assert (r.sheets["仕様差異"].applied, r.sheets["データ差異"].applied, r.sheets["データ差異"].rejected) == (1, 2, 1)
    # the month named, and the forms an owner may type
    assert r.rejections == ["「データ差異」シート 6行目「決定日」: 日付として読めません（2026/13/01）。月は 1〜12 です"
                            f"（書き方の例: {DATE_FORMS}）"]
    path = root / SYS / "gap_decisions.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# 所管課の対応方針")                            # the header comment is kept
    loaded = load_decisions(SYS, root)                                     # the YAML written loads back
    assert [d.gap_id for d in loaded.decisions] == sorted([SPEC_ID, DATA_IDS[0], DATA_IDS[2]])
    by = {d.gap_id: d for d in loaded.decisions}
    assert by[DATA_IDS[0]].decided_on == dt.date(2026, 11, 20) and by[SPEC_ID].decision == "標準仕様への要望"
    assert path in r.files_written
    log = (root / SYS / "decision_imports.csv").read_text(encoding="utf-8").splitlines()
    assert log[0] == "imported_at,file,sha256,sheet,row,target,key,change,decided_by"
    assert len(log) == 4 and any(f",データ差異,5,mappings/{SYS}/gap_decisions.yaml,{DATA_IDS[0]},（なし） → データ補正,保険年金課長"
                                 in x for x in log)
    assert r.sha256 in log[1]


def test_a_second_import_of_the_same_workbook_changes_nothing(tmp_path, root, db):
    wb = make_workbook(tmp_path / "k.xlsx", {
        "データ差異": [gap(DATA_IDS[0])],
        "キー違反": [{"指摘ID": FINDING, "対応方針": "データ補正", "理由": "検査数字を直す", "決定者": "係長", "決定日": "2026-11-20"}],
        "個人番号紐付け確認": [{"標準テーブル": PERSON[0], "宛名番号": PERSON[1], "確認結果": "本人確認済",
                                "確認者": "係長", "確認日": "2026/11/21"}],
        "外字同定": [{"外字コード": CODE, "判定": "同定", "標準の文字": "槗", "判定者": "係長", "判定日": "2026/11/22",
                      "備考": "原票で確認"}],
    })
    first = run(wb, root, db)
    assert first.ok and first.applied == 4
    before = tree_hashes(root)
    second = run(wb, root, db)
    assert second.ok and second.applied == 0 and second.unchanged == 4 and second.files_written == []
    assert tree_hashes(root) == before
    assert "変更はありません" in format_result(second)
    # what the first import wrote, each file loading back through its validated loader
    assert load_record_decisions(root, SYS)[FINDING].decision == "データ補正"
    from dagster_project.readiness.gate import load_mynumber_reviews
    assert load_mynumber_reviews(root, SYS)[PERSON].result == "本人確認済"
    g = [d for d in load_gaiji_decisions(load_project(root)) if d.system == SYS]
    assert [(d.code, d.decision, d.character, d.note) for d in g] == [(CODE, "同定", "槗", "原票で確認")]


def test_a_changed_decision_replaces_the_old_one_and_says_what_changed(tmp_path, root, db):
    run(make_workbook(tmp_path / "a.xlsx", {"データ差異": [gap(DATA_IDS[0])]}), root, db)
    r = run(make_workbook(tmp_path / "b.xlsx", {"データ差異": [gap(DATA_IDS[0], reason="補正ではなく運用で対応",
                                                                      decision="業務フロー変更")]}), root, db)
    assert r.applied == 1 and r.changes[0].change == "データ補正 → 業務フロー変更"
    r = run(make_workbook(tmp_path / "c.xlsx", {"データ差異": [gap(DATA_IDS[0], reason="別の理由",
                                                                      decision="業務フロー変更")]}), root, db)
    assert r.changes[0].change == "業務フロー変更 → 業務フロー変更（理由を変更）"
    assert [d.reason for d in load_decisions(SYS, root).decisions if d.gap_id == DATA_IDS[0]] == ["別の理由"]


def test_decisions_of_other_gaps_and_other_systems_are_kept(tmp_path, root, db):
    jumin_before = (root / "jumin" / "gap_decisions.yaml").read_bytes()
    (root / SYS / "gap_decisions.yaml").write_text(
        "# 所管課の対応方針（手書き）\nsystem: kokuho\ndecisions:\n  - gap_id: 'kokuho:gone:legacy_only'\n"
        "    decision: 対応不要\n    reason: r\n    decided_by: a\n    decided_on: 2026-11-01\n", encoding="utf-8")
    others = tree_hashes(root, skip_system=SYS)
    gaiji_before = (root / "gaiji" / "decisions.csv").read_text(encoding="utf-8")
    wb = make_workbook(tmp_path / "k.xlsx", {
        "データ差異": [gap(DATA_IDS[0])],
        "外字同定": [{"外字コード": CODE, "判定": "縮退", "標準の文字": "橋", "判定者": "係長", "判定日": "2026/11/22"}]})
    r = run(wb, root, db)
    assert r.ok and r.applied == 2
    text = (root / SYS / "gap_decisions.yaml").read_text(encoding="utf-8")
    assert text.startswith("# 所管課の対応方針（手書き）\nsystem: kokuho\n")
    assert [d.gap_id for d in load_decisions(SYS, root).decisions] == sorted(["kokuho:gone:legacy_only", DATA_IDS[0]])
    after = tree_hashes(root, skip_system=SYS)
    changed = {k for k in others if others[k] != after.get(k)}
    assert changed == {"gaiji/decisions.csv"}
    gaiji_after = (root / "gaiji" / "decisions.csv").read_text(encoding="utf-8")
    assert gaiji_after.startswith(gaiji_before)                            # jumin's row, byte for byte
    assert gaiji_after[len(gaiji_before):].startswith(f"{SYS},{CODE},縮退,橋,所管課判定")
    assert (root / "jumin" / "gap_decisions.yaml").read_bytes() == jumin_before


def row_of(sheet, **cells):
    base = {
        "仕様差異": gap(SPEC_ID), "データ差異": gap(DATA_IDS[0]),
        "キー違反": {"指摘ID": FINDING, "対応方針": "データ補正", "理由": "直す", "決定者": "係長", "決定日": "2026/11/20"},
        "個人番号紐付け確認": {"標準テーブル": PERSON[0], "宛名番号": PERSON[1], "確認結果": "修正済", "確認者": "係長",
                                "確認日": "2026/11/20"},
        "外字同定": {"外字コード": CODE, "判定": "同定", "標準の文字": "槗", "判定者": "係長", "判定日": "2026/11/20"},
    }[sheet]
    return {**base, **cells}


@pytest.mark.parametrize("sheet,cells,message", [
    ("データ差異", {"対応方針": "後で考える"},
     "「データ差異」シート 5行目「対応方針」: 「後で考える」は一覧にありません（業務フロー変更・疎結合システムで対応・データ補正・"
     "標準仕様への要望・対応不要 から選んでください）"),
    ("データ差異", {"理由": None}, "「データ差異」シート 5行目「理由」: 記入がありません"),
    ("仕様差異", {"決定者": "  "}, "「仕様差異」シート 5行目「決定者」: 記入がありません"),
    ("データ差異", {"対応方針": None, "決定者": None, "決定日": None},
     "「データ差異」シート 5行目「対応方針」「決定者」「決定日」: 記入がありません"),
    ("データ差異", {"決定日": "2026/13/01"}, "「データ差異」シート 5行目「決定日」: 日付として読めません（2026/13/01）"),
    ("データ差異", {"決定日": "2027/01/05"}, "「データ差異」シート 5行目「決定日」: 未来の日付です"),
    ("データ差異", {"ギャップID": "kokuho:kokuho.hihokensha.1001099:over_length"},
     "「データ差異」シート 5行目「ギャップID」: 現在のデータにこのギャップはありません"),
    ("データ差異", {"ギャップID": "jumin:juki.jumin.0101015:over_length"},
     "「データ差異」シート 5行目「ギャップID」: このシステム（kokuho）のギャップIDではありません"),
    ("データ差異", {"ギャップID": None}, "「データ差異」シート 5行目「ギャップID」: 空です"),
    ("キー違反", {"指摘ID": "kokuho|dup|x|1|y|9|"}, "「キー違反」シート 5行目「指摘ID」: 現在のデータにこの指摘はありません"),
    ("キー違反", {"決定日": "昨日"}, "「キー違反」シート 5行目「決定日」: 日付として読めません（昨日）"),
    ("個人番号紐付け確認", {"確認結果": "OK"}, "「個人番号紐付け確認」シート 5行目「確認結果」: 「OK」は一覧にありません"),
    ("個人番号紐付け確認", {"宛名番号": "0009999999"},
     "「個人番号紐付け確認」シート 5行目「宛名番号」: 現在の紐付け点検にこの標準テーブル・宛名番号の組はありません"),
    ("外字同定", {"外字コード": "U+9AD9"}, "「外字同定」シート 5行目「外字コード」: U+9AD9 はベンダー外字ではないため"),
    ("外字同定", {"外字コード": "U+9AD9"}, "データ補正（現行データの修正）で対応してください"),
    ("外字同定", {"標準の文字": None}, "「外字同定」シート 5行目「標準の文字」: 判定が同定のときは標準の文字が必要です"),
    ("外字同定", {"判定": "縮退", "標準の文字": None}, "「外字同定」シート 5行目「標準の文字」: 判定が縮退のときは標準の文字が必要です"),
    ("外字同定", {"標準の文字": "高橋"}, "「外字同定」シート 5行目「標準の文字」: 1文字（または異体字セレクタ付きの1文字）で書いてください"),
    ("外字同定", {"判定": "たぶん"}, "「外字同定」シート 5行目「判定」: 「たぶん」は一覧にありません（同定・縮退・要確認 から選んでください）"),
    ("外字同定", {"外字コード": "F2A0"}, "「外字同定」シート 5行目「外字コード」: 現在のデータ（kokuho）にこの外字コードはありません"),
    ("外字同定", {"外字コード": "8140"}, "「外字同定」シート 5行目「外字コード」: 8140 はベンダー外字のコード"),
    ("外字同定", {"判定": None, "判定者": None, "判定日": None, "標準の文字": None, "備考": "調査中"},
     "「外字同定」シート 5行目「判定」「判定者」「判定日」: 記入がありません"),
])
def test_every_rejection_names_sheet_row_and_column(tmp_path, root, db, sheet, cells, message):
    before = tree_hashes(root)
    r = run(make_workbook(tmp_path / "k.xlsx", {sheet: [row_of(sheet, **cells)]}), root, db)
    assert not r.ok and r.sheets[sheet].rejected == 1 and r.applied == 0
    assert any(message in m for m in r.rejections), r.rejections
    assert tree_hashes(root) == before


def test_an_ivs_character_and_a_pending_gaiji_are_accepted(tmp_path, root, db):
    r = run(make_workbook(tmp_path / "k.xlsx", {"外字同定": [
        row_of("外字同定", **{"標準の文字": "葛\U000E0100"})]}), root, db)
    assert r.ok and r.applied == 1
    r = run(make_workbook(tmp_path / "k2.xlsx", {"外字同定": [
        row_of("外字同定", **{"判定": "要確認", "標準の文字": None})]}), root, db)
    assert r.ok and r.changes[0].change == "同定 葛\U000E0100 → 要確認"


def test_empty_rows_are_no_decision_and_rows_of_the_workbook_repeat_consistently(tmp_path, root, db):
    untouched = {"ギャップID": DATA_IDS[1], "差異の種類": "日付変換不可", "該当件数": 3, "状態": "未決定"}
    r = run(make_workbook(tmp_path / "k.xlsx", {
        "データ差異": [untouched, gap(DATA_IDS[0])],
        "個人番号紐付け確認": [row_of("個人番号紐付け確認"), row_of("個人番号紐付け確認"),
                                row_of("個人番号紐付け確認", **{"確認結果": "修正予定"})]}), root, db)
    assert r.sheets["データ差異"].applied == 1 and r.sheets["データ差異"].rejected == 0
    assert (r.sheets["個人番号紐付け確認"].applied, r.sheets["個人番号紐付け確認"].unchanged,
            r.sheets["個人番号紐付け確認"].rejected) == (1, 1, 1)
    assert any("「個人番号紐付け確認」シート 7行目「宛名番号」: 同じ紐付けの決定が「個人番号紐付け確認」シート 5行目にもあり、内容が違います"
               in m for m in r.rejections)


def test_headings_are_found_by_name_in_any_order_with_extra_columns(tmp_path, root, db):
    wb = make_workbook(tmp_path / "k.xlsx", {"データ差異": [gap(DATA_IDS[0])]}, header_row=6, reorder=True, extra=True)
    r = run(wb, root, db)
    assert r.ok and r.sheets["データ差異"].applied == 1


def test_a_sheet_without_its_headings_is_refused_by_name(tmp_path, root, db):
    p = make_workbook(tmp_path / "k.xlsx", {"データ差異": [gap(DATA_IDS[0])]})
    from openpyxl import load_workbook
    wb = load_workbook(p)
    wb["データ差異"].cell(row=S.HEADER_ROW, column=S.DATA.col("理由"), value="理由（必須）")
    wb.save(p)
    r = run(p, root, db)
    assert r.rejections == ["「データ差異」シート: 見出し「理由」が見つからないため、このシートは取り込めません（見出しは 4行目）"]


def test_without_a_warehouse_the_existence_checks_are_skipped_and_said(tmp_path, root, db):
    r = run(make_workbook(tmp_path / "k.xlsx", {"データ差異": [gap("kokuho:kokuho.x.1:over_length")]}), root, None)
    assert r.ok and r.applied == 1
    assert any("倉庫（warehouse.duckdb）の指定がないため" in n and "確認していません" in n for n in r.notes)
    con = duckdb.connect(str(db))
    con.execute(f'drop table findings."fnd_{SYS}"')
    con.close()
    r = run(make_workbook(tmp_path / "k2.xlsx", {"キー違反": [row_of("キー違反")]}), root, db)
    assert r.ok and any(f"倉庫に findings.fnd_{SYS} がないため、指摘が現在のデータにあるかは確認していません" in n for n in r.notes)


def test_dry_run_writes_nothing(tmp_path, root, db):
    before = tree_hashes(root)
    r = run(make_workbook(tmp_path / "k.xlsx", {"データ差異": [gap(DATA_IDS[0])]}), root, db, dry_run=True)
    assert r.applied == 1 and r.files_written == [] and r.targets == [root / SYS / "gap_decisions.yaml"]
    assert tree_hashes(root) == before


def test_a_mistaken_decision_file_is_not_overwritten(tmp_path, root, db):
    p = root / SYS / "gap_decisions.yaml"
    p.write_text("system: kokuho\ndecisions:\n  - gap_id: 'kokuho:a:legacy_only'\n    decision: あとで\n"
                 "    reason: r\n    decided_by: a\n    decided_on: 2026-11-01\n", encoding="utf-8")
    before = p.read_bytes()
    r = run(make_workbook(tmp_path / "k.xlsx", {"データ差異": [gap(DATA_IDS[0])]}), root, db)
    assert r.rejected == 1 and p.read_bytes() == before
    assert ("「データ差異」シート 5行目: mappings/kokuho/gap_decisions.yaml に誤りがあるため書き込めません。先にファイルを直してください"
            "（mappings/kokuho/gap_decisions.yaml 4行目 decision:") in r.rejections[0]


# ---------------------------------------------------------------- the system id


def test_an_unknown_system_id_is_refused_with_the_valid_ones(tmp_path, root, db):
    with pytest.raises(ImportUserError) as e:
        run(make_workbook(tmp_path / "k.xlsx", {}, system="water"), root, db)
    assert "ブックのシステムID「water」はこの市のシステムではありません。有効なシステムID: jumin, " in str(e.value)
    assert "kokuho" in str(e.value)


def test_the_defined_name_is_read_and_must_agree_with_the_caller(tmp_path, root, db):
    p = make_workbook(tmp_path / "k.xlsx", {"データ差異": [gap(DATA_IDS[0])]}, system=None, name=SYS)
    assert run(p, root, db).system == SYS
    with pytest.raises(ImportUserError, match="ブックのシステムID「kokuho」と指定（--system jumin）が一致しません"):
        run(p, root, db, system="jumin")
    p2 = make_workbook(tmp_path / "none.xlsx", {"データ差異": [gap(DATA_IDS[0])]}, system=None)
    with pytest.raises(ImportUserError, match="ブックにシステムIDがありません"):
        run(p2, root, db)
    assert run(p2, root, db, system=SYS).system == SYS


@pytest.fixture
def cli_env(tmp_path, root, monkeypatch):
    monkeypatch.setenv("KIKAN_MAPPINGS_DIR", str(root))
    monkeypatch.setenv("KIKAN_VAR_DIR", str(tmp_path / "var"))
    return tmp_path


def recent(days=5) -> str:
    return (dt.date.today() - dt.timedelta(days=days)).strftime("%Y/%m/%d")


def test_cli_exit_codes_and_summary(cli_env, root, db, capsys):
    tmp = cli_env
    bad = make_workbook(tmp / "water.xlsx", {}, system="water")
    assert cli.main(["decisions", "import", str(bad), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "取り込めません: ブックのシステムID「water」はこの市のシステムではありません" in err and "Traceback" not in err
    assert cli.main(["decisions", "import", str(tmp / "missing.xlsx")]) == 2
    assert "ファイルがありません" in capsys.readouterr().err
    (tmp / "notes.xlsx").write_text("not a workbook", encoding="utf-8")
    assert cli.main(["decisions", "import", str(tmp / "notes.xlsx")]) == 2
    assert "Excel ブック（.xlsx）として開けません" in capsys.readouterr().err

    mixed = make_workbook(tmp / "mixed.xlsx", {"データ差異": [gap(DATA_IDS[0], on=recent()), gap(DATA_IDS[1], decision="?")]})
    assert cli.main(["decisions", "import", str(mixed), "--db", str(db), "--dry-run"]) == 1
    assert not (root / SYS / "decision_imports.csv").exists()
    assert cli.main(["decisions", "import", str(mixed), "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "mixed.xlsx（システム kokuho）の取り込み結果" in out and "「データ差異」シート 6行目「対応方針」" in out
    line = next(x for x in out.splitlines() if x.startswith("データ差異"))
    assert line.split() == ["データ差異", "1", "0", "1"]
    good = make_workbook(tmp / "good.xlsx", {"データ差異": [gap(DATA_IDS[0], on=recent())]})
    assert cli.main(["decisions", "import", str(good), "--db", str(db), "--system", SYS]) == 0
    assert cli.main(["decisions", "import", str(good), "--db", str(tmp / "nowhere.duckdb")]) == 2
    assert "倉庫がありません" in capsys.readouterr().err


def test_inbox_moves_each_workbook_to_done_or_rejected(cli_env, root, db, capsys):
    inbox = cli_env / "inbox"
    make_workbook(inbox / "good.xlsx", {"データ差異": [gap(DATA_IDS[0], on=recent())]})
    make_workbook(inbox / "mixed.xlsx", {"データ差異": [gap(DATA_IDS[1], on=recent()), gap(DATA_IDS[2], on="2026/13/01")]})
    make_workbook(inbox / "water.xlsx", {}, system="water")
    (inbox / "~$good.xlsx").write_bytes(b"lock")
    assert cli.main(["decisions", "import-inbox", str(inbox), "--db", str(db)]) == 1
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["good.xlsx"]
    assert sorted(p.name for p in (inbox / "rejected").iterdir()) == ["mixed.txt", "mixed.xlsx", "water.txt", "water.xlsx"]
    assert "「データ差異」シート 6行目「決定日」: 日付として読めません（2026/13/01）" in (inbox / "rejected" / "mixed.txt").read_text(encoding="utf-8")
    assert "有効なシステムID" in (inbox / "rejected" / "water.txt").read_text(encoding="utf-8")
    assert (inbox / "~$good.xlsx").exists()
    assert {d.gap_id for d in load_decisions(SYS, root).decisions} >= {DATA_IDS[0], DATA_IDS[1]}
    # the same file name again goes beside the first, never over it
    make_workbook(inbox / "good.xlsx", {"データ差異": [gap(DATA_IDS[0], on=recent())]})
    items = import_inbox(inbox, root, db)
    assert items[0].ok and items[0].moved_to.parent == inbox / "done" and items[0].moved_to.name != "good.xlsx"
    assert cli.main(["decisions", "import-inbox", str(cli_env / "nowhere")]) == 2


# ---------------------------------------------------------------- owners' files during a run


def test_a_typo_in_gap_decisions_yaml_is_a_japanese_message_with_its_line(root):
    (root / SYS / "gap_decisions.yaml").write_text(
        "# コメント\n"                                      # 1
        "system: kokuho\n"                                 # 2
        "decisions:\n"                                     # 3
        "  - gap_id: 'kokuho:a:legacy_only'\n"            # 4
        "    decision: 対応不要\n"                          # 5
        "    reason: r\n"                                  # 6
        "    decided_by: a\n"                              # 7
        "    decided_on: 2026/11/20\n"                     # 8  another spelling: fine
        "  - gap_id: 'kokuho:b:legacy_only'\n"            # 9
        "    decision: 様子見\n"                            # 10
        "    reason: r\n"                                  # 11
        "    decided_by: a\n"                              # 12
        "    decided_on: 2026-11-20\n"                     # 13
        "  - gap_id: 'kokuho:c:legacy_only'\n"            # 14
        "    decision: データ補正\n"                        # 15
        "    reason: r\n"                                  # 16
        "    decided_by: a\n"                              # 17
        "    decided_on: 2026/13/01\n"                     # 18
        "  - gap_id: 'kokuho:d:legacy_only'\n"            # 19
        "    decision: データ補正\n"                        # 20
        "    reasn: r\n"                                   # 21
        "    decided_by: a\n"                              # 22
        "    decided_on: 2026-11-20\n",                    # 23
        encoding="utf-8")
    f, errors = load_decisions_checked(SYS, root)
    assert [d.gap_id for d in f.decisions] == ["kokuho:a:legacy_only"]
    assert f.decisions[0].decided_on == dt.date(2026, 11, 20)
    assert errors == [
        "mappings/kokuho/gap_decisions.yaml 10行目 decision: 「様子見」は選べません（業務フロー変更・疎結合システムで対応・"
        "データ補正・標準仕様への要望・対応不要 のいずれか）",
        f"mappings/kokuho/gap_decisions.yaml 18行目 decided_on: 日付として読めません（2026/13/01）。月は 1〜12 です（書き方の例: {DATE_FORMS}）",
        "mappings/kokuho/gap_decisions.yaml 19行目 reason: 記入がありません",
        "mappings/kokuho/gap_decisions.yaml 21行目 reasn: 知らない項目です（綴りを確認してください）",
    ]
    with pytest.raises(ConfigError):        # the strict loader still refuses the file
        load_decisions(SYS, root)


def test_a_yaml_syntax_error_is_named_with_its_line(root):
    (root / SYS / "gap_decisions.yaml").write_text(
        "system: kokuho\ndecisions:\n  - gap_id: 'kokuho:a'\n    decision: 対応不要\n   reason: r\n", encoding="utf-8")
    f, errors = load_decisions_checked(SYS, root)
    assert f.decisions == [] and len(errors) == 1
    assert errors[0].startswith("mappings/kokuho/gap_decisions.yaml 5行目: YAML として読めません")


def _ctx(root, db, system=SYS):
    from dagster_project.readiness.gate import Ctx, GateConfig

    con = duckdb.connect(str(db), read_only=True)
    return Ctx(load_project(root), con, system, root, TODAY, [], GateConfig())


def test_the_gate_fails_gaps_decided_with_the_message_and_other_systems_are_unaffected(root, db):
    from dagster_project.readiness.gate import CriterionConfig, ev_gaps_decided

    cfg = CriterionConfig(id="gaps_decided", label="ギャップの対応方針決定", on_fail="NO-GO")
    (root / SYS / "gap_decisions.yaml").write_text(
        "system: kokuho\ndecisions:\n" + "".join(
            f"  - gap_id: '{g}'\n    decision: データ補正\n    reason: r\n    decided_by: a\n    decided_on: 2026-11-20\n"
            for g in [SPEC_ID] + DATA_IDS[:2])
        + f"  - gap_id: '{DATA_IDS[2]}'\n    decision: データ補正\n    reason: r\n    decided_by: a\n"
          "    decided_on: 2026/11/32\n", encoding="utf-8")
    ctx = _ctx(root, db)
    value, ev = ev_gaps_decided(ctx, cfg)
    ctx.con.close()
    assert value == 2             # the undecided gap, and the mistake itself
    assert "mappings/kokuho/gap_decisions.yaml 22行目 decided_on: 日付として読めません（2026/11/32）。存在しない日付です" in ev
    ok_root_ctx = _ctx(root, db, "jumin")
    v, ev = ev_gaps_decided(ok_root_ctx, cfg)     # jumin's file is fine: no message of kokuho's there
    ok_root_ctx.con.close()
    assert "記入ファイルの誤り" not in ev and "kokuho" not in ev


def test_mynumber_and_gaiji_file_mistakes_fail_their_criteria_with_lines(root, db):
    from dagster_project.readiness.gate import CriterionConfig, ev_gaiji_identified, ev_mynumber_reviewed

    (root / SYS / "mynumber_reviews.csv").write_text(
        "std_ref,atena_no,result,reviewed_by,reviewed_on\n"
        f"{PERSON[0]},{PERSON[1]},確認した,係長,2026-11-20\n", encoding="utf-8")
    con = duckdb.connect(str(db))
    con.execute(f'create table conformance."conf_{SYS}__chars" (ch varchar, codepoints varchar)')
    con.close()
    ctx = _ctx(root, db)
    v, ev = ev_mynumber_reviewed(ctx, CriterionConfig(id="mynumber_reviewed", label="x", on_fail="NO-GO"))
    assert v == 2 and "mappings/kokuho/mynumber_reviews.csv 2行目 result: 「確認した」は選べません" in ev
    with (root / "gaiji" / "decisions.csv").open("a", encoding="utf-8") as fh:
        fh.write("kokuho,F241,同定,,,係長,2026-11-20,\n")          # line 3: 同定 without the character
    v, ev = ev_gaiji_identified(ctx, CriterionConfig(id="gaiji_identified", label="x", on_fail="NO-GO"))
    ctx.con.close()
    assert v == 1 and "mappings/gaiji/decisions.csv 3行目: 判定が同定のときは標準の文字（character）が必要です" in ev
    decisions, problems = load_gaiji_decisions_checked(load_project(root), root)
    assert [d.code for d in decisions] == ["F045"] and problems_for(problems, "jumin") == []


def test_gaiji_loaders_accept_date_spellings_and_name_bad_rows(root):
    p = root / "gaiji" / "decisions.csv"
    p.write_text("system,code,decision,character,rule,decided_by,decided_on,note\n"
                 "jumin,F045,同定,㟢,,係長,令和8年11月15日,\n"
                 "kokuho,U+9AD9,同定,高,,係長,2026/11/20,\n"
                 "water,F240,要確認,,,係長,2026/11/20,\n", encoding="utf-8")
    d, problems = load_gaiji_decisions_checked(load_project(root), root)
    assert [(x.system, x.code, x.decided_on) for x in d] == [("jumin", "F045", dt.date(2026, 11, 15))]
    msgs = [x.message for x in problems]
    assert msgs[0].startswith("mappings/gaiji/decisions.csv 3行目 code: U+9AD9 はベンダー外字ではありません")
    assert msgs[1] == "mappings/gaiji/decisions.csv 4行目 system: 「water」は city.yaml のシステムではありません"
    assert problems_for(problems, "kokuho") == [msgs[0]] and problems_for(problems, "jumin") == []


def test_record_decisions_loader_validates(root):
    p = root / SYS / "record_decisions.csv"
    p.write_text("finding_id,decision,reason,decided_by,decided_on\n"
                 f"{FINDING},データ補正,直す,係長,R8.11.20\n"
                 "jumin|x|y|1|z|2|,データ補正,直す,係長,2026-11-20\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mappings/kokuho/record_decisions\.csv 3行目 finding_id: 別のシステムの指摘IDです"):
        load_record_decisions(root, SYS)
    p.write_text("finding_id,decision\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="1行目: 見出しは finding_id,decision,reason,decided_by,decided_on にしてください"):
        load_record_decisions(root, SYS)


# ---------------------------------------------------------------- one decision per issue


SPEC_ROWS = [
    {"gap_id": "s:b.t.1:code_unmapped:90", "gap_kind": "code_unmapped", "record_count": 26},
    {"gap_id": "s:b.t.1:code_unmapped:91", "gap_kind": "code_unmapped", "record_count": 4},
    {"gap_id": "s:b.t.1:code_unmapped:99", "gap_kind": "code_unmapped", "record_count": 0},   # no record holds it
    {"gap_id": "s:b.t.2:length_conflict", "gap_kind": "length_conflict", "record_count": None},
    {"gap_id": "s:b.t.3:code_unmapped:x", "gap_kind": "code_unmapped", "record_count": 0},
]
DATA_ROWS = [
    {"gap_id": "s:b.t.1:unmapped_code", "gap_kind": "unmapped_code", "record_count": 30},    # twin of 90 and 91
    {"gap_id": "s:b.t.3:unmapped_code", "gap_kind": "unmapped_code", "record_count": 2},     # no spec twin with records
    {"gap_id": "s:b.t.2:over_length", "gap_kind": "over_length", "record_count": 5},
]


def test_needing_decision_skips_zero_record_gaps_and_data_twins():
    assert needing_decision(SPEC_ROWS, DATA_ROWS) == [
        "s:b.t.1:code_unmapped:90", "s:b.t.1:code_unmapped:91", "s:b.t.2:length_conflict",
        "s:b.t.3:unmapped_code", "s:b.t.2:over_length"]


def test_a_decision_on_the_spec_gaps_covers_their_data_twin():
    ids = [g["gap_id"] for g in SPEC_ROWS + DATA_ROWS]
    need = needing_decision(SPEC_ROWS, DATA_ROWS)
    from dagster_project.spec.decisions import DecisionFile, GapDecision

    def decided(*gids):
        return DecisionFile(system="s", decisions=[GapDecision(gap_id=g, decision="データ補正", reason="r", decided_by="a",
                                                               decided_on="2026/11/20") for g in gids])
    one = decided("s:b.t.1:code_unmapped:90")
    st = gap_status(SPEC_ROWS, DATA_ROWS, {d.gap_id for d in one.decisions})
    assert st["s:b.t.1:unmapped_code"] == "仕様差異で決定" and st["s:b.t.1:code_unmapped:99"] == "決定不要"
    both = decided("s:b.t.1:code_unmapped:90", "s:b.t.1:code_unmapped:91", "s:b.t.1:code_unmapped:99")
    rec = reconcile(ids, both, need)
    assert "s:b.t.1:unmapped_code" not in rec.open and rec.stale == []        # a decision on a 0-record gap is not stale
    assert rec.open == ["s:b.t.2:length_conflict", "s:b.t.3:unmapped_code", "s:b.t.2:over_length"]
    st = gap_status(SPEC_ROWS, DATA_ROWS, {d.gap_id for d in both.decisions})
    assert st["s:b.t.1:unmapped_code"] == "仕様差異で決定" and st["s:b.t.1:code_unmapped:99"] == "決定済み"


def test_staging_applies_the_good_gaiji_rows_and_skips_a_bad_one(root):
    from dagster_project.mapping.dbtgen import _gaiji_decisions

    with (root / "gaiji" / "decisions.csv").open("a", encoding="utf-8") as fh:
        fh.write("kokuho,U+9AD9,同定,高,,係長,2026-11-20,\n")            # raised ValueError in dbtgen before
    out = _gaiji_decisions(root, [s.id for s in load_project(root).city.systems])
    assert dict(out) == {"jumin": [("\ue005", "㟢")]}
