"""Import the standard data requirements from a spreadsheet shaped like the official
基本データリスト, into ``seeds/std_items.csv`` and ``seeds/std_codes.csv``.

The Digital Agency's exact sheet layout was not available when this was written (DOMAIN.md:
*assumed*), so the importer matches columns by their Japanese header, in any order, and the
expected shape is documented in README (標準データ要件の取り込み):

- one sheet per business, named with the business's name as in ``mappings/city.yaml``
  (e.g. 住民基本台帳), each row one data item, with the headers
  テーブル名, テーブルID (optional), 項目ID, 項目名, 項目ID（英字） (optional), データ型, 桁数,
  必須, コード表, 文字種, 外字使用, キー;
- a sheet named コード一覧 with コード表, コード, 名称.

データ型 is 文字列 / 数値 / 日付 / コード; 必須, 外字使用 and キー are 〇, ○, ◯, Y or 必須/可 for
yes and blank for no. Where the sheet has no English identifiers, existing ones are kept by
項目ID, and new items get ``item_<項目ID>``, so mappings written against the old catalog stay
valid.
"""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook, load_workbook

from dagster_project.spec.config import ConfigError, Project
from dagster_project.spec.mapping import load_catalog

ITEM_FIELDS = ["business_id", "table_id", "table_name", "item_id", "column_name", "item_name", "data_type",
               "length", "required", "code_table", "char_class", "gaiji_allowed", "is_key", "item_order"]
HEADERS = ["テーブル名", "テーブルID", "項目ID", "項目名", "項目ID（英字）", "データ型", "桁数", "必須", "コード表",
           "文字種", "外字使用", "キー"]
REQUIRED_HEADERS = ["テーブル名", "項目ID", "項目名", "データ型", "桁数"]
TYPES = {"文字列": "string", "数値": "integer", "日付": "date", "コード": "code"}
TYPES_BACK = {v: k for k, v in TYPES.items()}
YES = {"〇", "○", "◯", "Y", "y", "必須", "可", "1", "TRUE", "True"}
CODES_SHEET = "コード一覧"


def export_catalog_xlsx(project: Project, path: Path, seeds: Path | None = None) -> None:
    """Write the current catalog in the shape the importer reads (for review, and round trips)."""
    cat = load_catalog(seeds) if seeds else load_catalog()
    wb = Workbook()
    wb.remove(wb.active)
    for b in project.city.businesses:
        ws = wb.create_sheet(b.name)
        ws.append(HEADERS)
        for t in (t for t in cat.tables.values() if t.business_id == b.id):
            for i in t.items:
                ws.append([t.table_name, t.table_id, i.item_id, i.item_name, i.column_name, TYPES_BACK[i.data_type],
                           i.length, "〇" if i.required else "", i.code_table or "", i.char_class,
                           "可" if i.gaiji_allowed else "", "〇" if i.is_key else ""])
    ws = wb.create_sheet(CODES_SHEET)
    ws.append(["コード表", "コード", "名称"])
    for table, codes in cat.codes.items():
        for code, label in codes.items():
            ws.append([table, code, label])
    wb.save(path)


def _cell(v) -> str:
    return "" if v is None else str(v).strip()


def import_catalog_xlsx(project: Project, path: Path, seeds_out: Path, seeds_in: Path | None = None) -> dict:
    """Read the spreadsheet and write std_items.csv / std_codes.csv into ``seeds_out``."""
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        existing = load_catalog(seeds_in) if seeds_in else load_catalog()
    except (ConfigError, FileNotFoundError):
        existing = None
    known_cols = {}
    known_tables = {}
    if existing:
        for t in existing.tables.values():
            known_tables[(t.business_id, t.table_name)] = t.table_id
            for i in t.items:
                known_cols[i.item_id] = i.column_name
    by_name = {b.name: b.id for b in project.city.businesses}
    rows: list[dict] = []
    for ws in wb.worksheets:
        if ws.title == CODES_SHEET:
            continue
        if ws.title not in by_name:
            raise ConfigError(f"{path}: sheet {ws.title!r}: not a business of mappings/city.yaml "
                              f"({', '.join(by_name)}) nor {CODES_SHEET}")
        bid = by_name[ws.title]
        it = ws.iter_rows(values_only=True)
        header = [_cell(h) for h in next(it, [])]
        missing = [h for h in REQUIRED_HEADERS if h not in header]
        if missing:
            raise ConfigError(f"{path}: sheet {ws.title}: line 1: missing column(s) {missing}")
        col = {h: header.index(h) for h in HEADERS if h in header}
        order: dict[str, int] = {}
        for line, raw in enumerate(it, start=2):
            v = {h: _cell(raw[i]) if i < len(raw) else "" for h, i in col.items()}
            if not any(v.values()):
                continue
            where = f"{path}: sheet {ws.title}: line {line}"
            if v["データ型"] not in TYPES:
                raise ConfigError(f"{where}: field データ型: {v['データ型']!r} is not one of {list(TYPES)}")
            if not v["桁数"].isdigit():
                raise ConfigError(f"{where}: field 桁数: {v['桁数']!r} is not a whole number")
            tname = v["テーブル名"]
            tid = v.get("テーブルID") or known_tables.get((bid, tname)) or f"t{len(order) + 1:02d}"
            known_tables.setdefault((bid, tname), tid)
            order[tid] = order.get(tid, 0) + 1
            item_id = v["項目ID"]
            rows.append({
                "business_id": bid, "table_id": tid, "table_name": tname, "item_id": item_id,
                "column_name": v.get("項目ID（英字）") or known_cols.get(item_id) or f"item_{item_id}",
                "item_name": v["項目名"], "data_type": TYPES[v["データ型"]], "length": int(v["桁数"]),
                "required": "Y" if v.get("必須") in YES else "N", "code_table": v.get("コード表", ""),
                "char_class": v.get("文字種", ""), "gaiji_allowed": "Y" if v.get("外字使用") in YES else "N",
                "is_key": "Y" if v.get("キー") in YES else "N", "item_order": order[tid],
            })
    codes: list[tuple[str, str, str]] = []
    if CODES_SHEET in wb.sheetnames:
        it = wb[CODES_SHEET].iter_rows(values_only=True)
        header = [_cell(h) for h in next(it, [])]
        if header[:3] != ["コード表", "コード", "名称"]:
            raise ConfigError(f"{path}: sheet {CODES_SHEET}: line 1: expected コード表, コード, 名称")
        for raw in it:
            t, c, label = (_cell(x) for x in raw[:3])
            if t:
                codes.append((t, c, label))
    ids = [r["item_id"] for r in rows]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{path}: 項目ID used more than once: {dup[:10]}")
    seeds_out.mkdir(parents=True, exist_ok=True)
    with (seeds_out / "std_items.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=ITEM_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    with (seeds_out / "std_codes.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["code_table", "code", "label"])
        w.writerows(codes)
    load_catalog(seeds_out)  # the result must itself be a valid catalog
    return {"items": len(rows), "tables": len({(r["business_id"], r["table_id"]) for r in rows}), "codes": len(codes)}
