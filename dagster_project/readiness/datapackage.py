"""The vendor package's machine-readable description: a Frictionless Data Package (``datapackage.json``).

A vendor loading ``std_kojin_jumin__shuno.csv`` with DuckDB's ``read_csv`` got item 0703001
(通知書番号) as a BIGINT and lost the leading zeros of keys such as ``0001131079``; code columns
named their code table in ``layout.csv`` but not its values; a value that could not be converted
was an empty cell with no reason. The package now says all of it in one standard descriptor
(Data Package v2, read by ``frictionless validate`` and by any loader that reads Table Schema):

- one Table Schema per standard table, built from the catalog (``seeds/std_items.csv``): field
  name = 標準項目ID, Japanese title and description, type (key, number-like and code items are
  ``string``: ``integer`` only for amounts and counts), ``maxLength`` / ``minimum`` /
  ``maximum`` from 桁数 (a longer value is null in the standard layer, flag ``over_length``), the
  standard key as ``primaryKey``, ``enum`` from the standard code table;
- ``foreignKeys`` from every code item to its code table (a resource of the package) and, from
  ``mappings/references.yaml``, every reference whose key space lies wholly in the package (戸籍番号
  within 戸籍, ケース番号 within 生活保護 …). A reference into another system's package (宛名番号 =
  住民記録 ∪ 住登外) cannot be a foreign key here; the field names it under ``kikan:references``;
- the same tables as Parquet (``kikan:parquet`` on each table resource: see :func:`parquet_twin`),
  each column's title and description as Arrow field metadata (plus ``kikan.columns`` in the
  file's key-value metadata, which DuckDB's ``parquet_kv_metadata`` shows); DuckDB's
  ``COPY … (FORMAT parquet)`` writes no field comments, so pyarrow writes these files;
- ``conversion_flags``: per record (internal key, legacy file and line) each item left empty and
  why (reason code and its Japanese name, ``seeds/gap_kinds.csv``). Never a value.

Standard 必須 is stated per field (description and ``kikan:standard.required``) but is not a
``required`` constraint: a required item the legacy data leaves empty, or whose value cannot be
converted, is null in the standard layer by design and listed in ``conversion_flags``. Keys are
required. A package of a system whose data breaks its keys (the gate's キー違反, NO-GO) fails
``frictionless validate`` on exactly those rows: the schema states the standard, not the data.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from dagster_project.core.names import std_name
from dagster_project.core.settings import settings

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
DESCRIPTOR = "datapackage.json"
FLAGS = "conversion_flags"
REASONS = "code_conversion_reason"
CSV_DIALECT = {"header": True, "delimiter": ",", "quoteChar": '"', "doubleQuote": True}
TYPE = {"string": "string", "code": "string", "date": "date", "integer": "integer"}
TYPE_JA = {"string": "文字列", "code": "コード", "date": "日付", "integer": "数値"}
# flags whose value the standard layer set to null (dbtgen.int_sql; a unit test holds them equal);
# the others: the source was empty (required_missing) or the value is kept (out_of_range)
NULLED = ("over_length", "date_invalid", "number_invalid", "unmapped_code")
PARQUET_MEDIATYPE = "application/vnd.apache.parquet"
ROW_GROUP = 122_880     # Parquet rows per row group, fixed so the same rows give the same bytes


def reason_kinds(seeds: Path | None = None) -> dict[str, dict]:
    seeds = seeds or settings().seeds_dir
    """The data-gap kinds a standard item's flag can hold: code -> {label_ja, description_ja}."""
    with (seeds / "gap_kinds.csv").open(encoding="utf-8", newline="") as fh:
        return {r["kind"]: r for r in csv.DictReader(fh) if r["category"] == "data"}


def code_resource_name(code_table: str) -> str:
    return f"code_{code_table}"


def parquet_twin(path: str, meta: dict) -> dict:
    """The Parquet file of a table resource: same rows and columns, typed by its own Arrow schema.

    Not a resource of its own: frictionless reads Parquet through pandas at about 1,300 rows/s
    (26,074 rows of 住民 in 20 s, against 1.4 s for the CSV), so ``frictionless validate`` covers
    the CSV, and :func:`..export.verify_package` checks the Parquet's hash, row count, column names
    and types against this schema."""
    return {"path": path, "format": "parquet", "mediatype": PARQUET_MEDIATYPE, "compression": "zstd",
            "hash": "sha256:" + meta["sha256"], "bytes": meta["bytes"],
            "description": "同じ行と列の Parquet。列の型は Parquet（Arrow）のスキーマ、列の名称と説明はフィールドの"
                           "メタデータ（title, description）とファイルのメタデータ kikan.columns にある。"}


def references_in_package(refs, tables) -> dict[tuple[str, str], dict]:
    """(std ref, column) -> what it refers to: a foreign key when the key space is one member
    table of this package without a filter, else a note of the key space."""
    if refs is None:
        return {}
    in_pkg = {t.std.ref: t for t in tables}
    out = {}
    for r in refs.references:
        if r.table not in in_pkg:
            continue
        ks = refs.key_spaces[r.to]
        members = [f"{m.table}.{m.column}" + (f"（{m.where}）" if m.where else "") for m in ks.members]
        m0 = ks.members[0]
        local = (len(ks.members) == 1 and not m0.where and m0.table in in_pkg
                 and (m0.table, m0.column) != (r.table, r.column))
        target = None
        if local:
            tt = in_pkg[m0.table]
            it = next(i for i in tt.std.items if i.column_name == m0.column)
            target = (tt, it.item_id)
        out[(r.table, r.column)] = {"key_space": r.to, "label": ks.label, "members": members, "target": target}
    return out


def _field(ri, code_values: dict[str, dict[str, str]], ref: dict | None) -> dict:
    it = ri.item
    parts = [f"標準項目ID {it.item_id}", TYPE_JA[it.data_type], f"桁数 {it.length}",
             "必須" if it.required else "任意", f"文字種 {it.char_class}"]
    if it.gaiji_allowed:
        parts.append("外字使用可")
    if it.code_table:
        parts.append(f"コード表 {it.code_table}（{code_resource_name(it.code_table)}）")
    if it.is_key:
        parts.append("主キー")
    desc = f"{it.item_name}（{'、'.join(parts)}）。"
    if ri.expr is None:
        desc += "現行システムに移行元がないため常に空欄。"
    elif not it.is_key:
        desc += "変換できない値は空欄とし、理由を conversion_flags に記録する。"
    if ref:
        desc += f"参照先: {ref['label']}（{'、'.join(ref['members'])}）"
        desc += "。" if ref["target"] else ("。参照先がこのパッケージの一つの表に収まらない（他システムの"
                                           "パッケージ、または条件付き）ため、外部キーとしては宣言しない。")
    f = {"name": it.item_id, "title": it.item_name, "type": TYPE[it.data_type], "description": desc,
         "kikan:column": it.column_name, "kikan:mapping_status": ri.status,
         "kikan:standard": {"data_type": it.data_type, "length": it.length, "required": it.required,
                            "char_class": it.char_class, "gaiji_allowed": it.gaiji_allowed,
                            "code_table": it.code_table, "is_key": it.is_key}}
    c: dict = {}
    if it.is_key:
        c["required"] = True
    if it.data_type == "string":
        c["maxLength"] = it.length
    elif it.data_type == "integer":
        c["minimum"], c["maximum"] = -(10 ** it.length - 1), 10 ** it.length - 1
    elif it.data_type == "code" and it.code_table:
        c["enum"] = list(code_values[it.code_table])
    if c:
        f["constraints"] = c
    if ref:
        f["kikan:references"] = {k: ref[k] for k in ("key_space", "label", "members")}
    return f


def table_schema(t, code_values: dict[str, dict[str, str]], refs_of: dict) -> dict:
    """The Table Schema of one standard table."""
    fields, fks = [], []
    for ri in t.items:
        it = ri.item
        ref = refs_of.get((t.std.ref, it.column_name))
        fields.append(_field(ri, code_values, ref))
        if it.data_type == "code" and it.code_table:
            fks.append({"fields": [it.item_id],
                        "reference": {"resource": code_resource_name(it.code_table), "fields": ["code"]}})
        if ref and ref["target"]:

            tt, tid = ref["target"]
            fks.append({"fields": [it.item_id], "reference": {"resource": std_name(tt), "fields": [tid]}})
    schema = {"fields": fields, "missingValues": [""]}
    key = [i.item_id for i in t.std.items if i.is_key]
    if key:
        schema["primaryKey"] = key
    if fks:
        schema["foreignKeys"] = fks
    return schema


def code_tables_used(tables) -> list[str]:
    seen: list[str] = []
    for t in tables:
        for i in t.std.items:
            if i.data_type == "code" and i.code_table and i.code_table not in seen:
                seen.append(i.code_table)
    return seen


def code_table_resource(code_table: str, tables, path: str, file_meta: dict) -> dict:
    users = []
    for t in tables:
        users += [i.item_name for i in t.std.items if i.code_table == code_table and i.item_name not in users]
    return {"name": code_resource_name(code_table), "type": "table", "path": path, "format": "csv",
            "mediatype": "text/csv", "encoding": "utf-8", "dialect": CSV_DIALECT,
            "title": f"標準コード表 {code_table}（{'・'.join(users)}）",
            "description": f"標準コード表 {code_table} のコードと名称（seeds/std_codes.csv）。"
                           f"項目 {'・'.join(users)} の値はこの表のコード。",
            **file_meta,
            "schema": {"fields": [{"name": "code", "title": "コード", "type": "string", "constraints": {"required": True}},
                                  {"name": "label", "title": "名称", "type": "string"}],
                       "primaryKey": ["code"], "missingValues": [""]}}


def reasons_resource(path: str, file_meta: dict) -> dict:
    return {"name": REASONS, "type": "table", "path": path, "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8", "dialect": CSV_DIALECT, "title": "変換フラグの理由（コード表）",
            "description": "conversion_flags の reason_code の意味。value_nulled が true の理由は、値が読めない・"
                           "標準に合わないため標準テーブルで空欄にしたもの（false: 移行元が空）。",
            **file_meta,
            "schema": {"fields": [{"name": "code", "title": "理由コード", "type": "string", "constraints": {"required": True}},
                                  {"name": "label", "title": "理由", "type": "string"},
                                  {"name": "description", "title": "説明", "type": "string"},
                                  {"name": "value_nulled", "title": "値を空欄にした", "type": "boolean"}],
                       "primaryKey": ["code"], "missingValues": [""]}}


def flags_resource(path: str, file_meta: dict, table_names: list[str], reasons: dict) -> dict:
    return {
        "name": FLAGS, "type": "table", "path": path, "format": "csv", "mediatype": "text/csv",
        "encoding": "utf-8", "dialect": CSV_DIALECT, "title": "変換フラグ（レコード・項目ごとの理由）",
        "description": "標準テーブルのレコードごとに、値を空欄にした項目（変換できない値）、必須なのに移行元が空の項目、"
                       "値は残したが標準に合わない項目（範囲外など）を、内部キー・現行ファイルと行番号・項目・理由で一行ずつ示す。"
                       "値を空欄にしたかどうかは code_conversion_reason の value_nulled。値そのものは含まない。",
        **file_meta,
        "schema": {
            "fields": [
                {"name": "table", "title": "標準テーブル", "type": "string", "description": "このパッケージのリソース名",
                 "constraints": {"required": True, "enum": table_names}},
                {"name": "internal_key", "title": "内部キー", "type": "string",
                 "description": "そのテーブルの主キー（primaryKey）の値を順に「|」で連結したもの"},
                {"name": "source_file", "title": "現行ファイル", "type": "string"},
                {"name": "record_no", "title": "行番号", "type": "integer", "description": "現行ファイルの物理行",
                 "constraints": {"required": True}},
                {"name": "item_id", "title": "標準項目ID", "type": "string", "constraints": {"required": True}},
                {"name": "item_name", "title": "項目名", "type": "string"},
                {"name": "reason_code", "title": "理由コード", "type": "string",
                 "constraints": {"required": True, "enum": list(reasons)}},
                {"name": "reason_ja", "title": "理由", "type": "string"},
            ],
            "primaryKey": ["table", "record_no", "item_id"],
            "foreignKeys": [{"fields": ["reason_code"], "reference": {"resource": REASONS, "fields": ["code"]}}],
            "missingValues": [""],
        },
    }


def write_parquet(con, sql: str, path: Path, t) -> None:
    """The rows of ``sql`` as Parquet (zstd) whose columns carry the catalog's title and description.

    Row groups are cut at a fixed size from DuckDB's Arrow stream (whose batch sizes vary from run
    to run), so the same rows give the same bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_type = {"string": pa.string(), "code": pa.string(), "date": pa.date32(), "integer": pa.int64()}
    fields, columns = [], {}
    for i in t.std.items:
        title = i.item_name
        desc = f"{i.item_name}（標準項目ID {i.item_id}、{TYPE_JA[i.data_type]}、桁数 {i.length}）"
        fields.append(pa.field(i.item_id, arrow_type[i.data_type], metadata={
            "title": title, "description": desc, "column": i.column_name}))
        columns[i.item_id] = {"title": title, "description": desc}
    schema = pa.schema(fields, metadata={"kikan.columns": json.dumps(columns, ensure_ascii=False)})
    reader = con.sql(sql).to_arrow_reader(ROW_GROUP)
    with pq.ParquetWriter(path, schema, compression="zstd") as w:
        pending, n, written = [], 0, 0
        for b in reader:
            pending += pa.Table.from_batches([b]).cast(schema).to_batches()
            n += b.num_rows
            while n >= ROW_GROUP:
                tbl = pa.Table.from_batches(pending, schema=schema)
                w.write_table(tbl.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                written += ROW_GROUP
                rest = tbl.slice(ROW_GROUP)
                pending, n = rest.to_batches(), rest.num_rows
        if n or not written:   # the last, short row group; an empty table still gets its schema
            tbl = pa.Table.from_batches(pending, schema=schema) if n else schema.empty_table()
            w.write_table(tbl, row_group_size=ROW_GROUP)


def parquet_schema_problems(path: Path, schema: dict) -> list[str]:
    """Where a Parquet twin's columns differ from its table's Table Schema (names, order, types)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    want = {"string": pa.string(), "date": pa.date32(), "integer": pa.int64()}
    got = pq.read_schema(path)
    names = [f["name"] for f in schema["fields"]]
    if got.names != names:
        return [f"{path.name}: columns {got.names} differ from the schema's {names}"]
    return [f"{path.name}: column {f['name']} is {got.field(f['name']).type}, the schema says {f['type']}"
            for f in schema["fields"] if got.field(f["name"]).type != want[f["type"]]]


def validate_descriptor(descriptor: dict) -> list[str]:
    """Problems frictionless finds in the descriptor itself (not the data): cheap, run on every write."""
    from frictionless import Package

    report = Package.validate_descriptor(descriptor)
    return [e.message for e in report.errors]
