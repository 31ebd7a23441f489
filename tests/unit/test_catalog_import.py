"""The 基本データリスト importer: round trip, and a hand-made official-style sheet."""

import filecmp

import pytest
from openpyxl import Workbook

from dagster_project.spec.catalog_import import export_catalog_xlsx, import_catalog_xlsx
from dagster_project.spec.config import ConfigError
from dagster_project.spec.mapping import SEEDS, load_catalog


def test_export_then_import_gives_the_same_seeds(project, tmp_path):
    x = tmp_path / "kihon_data_list.xlsx"
    export_catalog_xlsx(project, x)
    counts = import_catalog_xlsx(project, x, tmp_path / "seeds")
    assert counts["items"] == 223 and counts["tables"] == 30
    assert filecmp.cmp(tmp_path / "seeds" / "std_items.csv", SEEDS / "std_items.csv", shallow=False)
    assert filecmp.cmp(tmp_path / "seeds" / "std_codes.csv", SEEDS / "std_codes.csv", shallow=False)


def test_an_official_style_sheet_without_english_ids(project, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "介護保険"
    # columns in another order, no テーブルID / 項目ID（英字）, the way a published list would be
    ws.append(["項目ID", "項目名", "テーブル名", "データ型", "桁数", "必須", "キー", "コード表", "文字種", "外字使用"])
    ws.append(["1401002", "被保険者番号", "介護保険被保険者", "文字列", 10, "○", "○", None, "数字", None])
    ws.append(["1401099", "新しい項目", "介護保険被保険者", "日付", 10, None, None, None, "日付", None])
    ws.append([None] * 10)
    ws.append(["1402002", "要介護状態区分", "要介護認定", "コード", 2, "必須", None, "yokaigo", "コード", None])
    codes = wb.create_sheet("コード一覧")
    codes.append(["コード表", "コード", "名称"])
    codes.append(["yokaigo", "21", "要介護1"])
    counts = import_catalog_xlsx(project, _save(wb, tmp_path), tmp_path / "seeds")
    assert counts == {"items": 3, "tables": 2, "codes": 1}
    cat = load_catalog(tmp_path / "seeds")
    t = cat.tables["kaigo.hihokensha"]          # table ids kept from the current catalog by name
    assert [i.column_name for i in t.items] == ["hiho_no", "item_1401099"]
    assert t.items[0].required and t.items[0].is_key and not t.items[1].required
    assert cat.tables["kaigo.nintei"].items[0].code_table == "yokaigo"


def _save(wb, tmp_path):
    p = tmp_path / "official.xlsx"
    wb.save(p)
    return p


def test_a_bad_row_is_named(project, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "国民年金"
    ws.append(["テーブル名", "項目ID", "項目名", "データ型", "桁数"])
    ws.append(["国民年金被保険者", "1101001", "基礎年金番号", "文字", 10])
    with pytest.raises(ConfigError, match=r"sheet 国民年金: line 2: field データ型: '文字'"):
        import_catalog_xlsx(project, _save(wb, tmp_path), tmp_path / "seeds")


def test_an_unknown_business_sheet_is_named(project, tmp_path):
    wb = Workbook()
    wb.active.title = "水道"
    with pytest.raises(ConfigError, match="sheet '水道': not a business"):
        import_catalog_xlsx(project, _save(wb, tmp_path), tmp_path / "seeds")
