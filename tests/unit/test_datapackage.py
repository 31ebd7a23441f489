"""The vendor package as a Frictionless Data Package, on a tiny hand-made warehouse.

Two standard tables of 介護保険 (被保険者, 要介護認定: a foreign key between them and three code
tables), with keys that begin with zeros and planted conversion flags. No pipeline run.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest

SYSTEM = "kaigo"
# 被保険者: 1401001..1401008, keyed by 1401002
HIHO = [
    ("271403", "0000012345", "0001131079", None, "1", "2001-04-01", None, "05", "kaigo", 11, None),
    ("271403", "0000012346", "0001131080", None, "2", "2010-10-01", "2020-03-31", None, "kaigo", 12,
     "shotoku_dankai:unmapped_code"),
    # 資格取得年月日 could not be read (date_invalid, nulled) and 被保険者区分 is blank at the source
    ("271403", "0000012347", "0009000001", None, None, None, None, "01", "kaigo", 13,
     "hiho_kubun:required_missing,shutoku_date:date_invalid"),
]
# 要介護認定: 1402001..1402005, keyed by (1402001, 1402003); 1402001 refers to 被保険者
NINTEI = [
    ("0000012345", "21", "2024-04-01", "2025-03-31", "2024-03-01", "kaigo", 21, None),
    ("0000012345", "22", "2025-04-01", "2026-03-31", "2025-03-02", "kaigo", 22, None),
    ("0000012347", None, "2024-06-01", "2025-05-31", "2024-05-20", "kaigo", 23, "yokaigo:unmapped_code"),
]


def _tables():
    from dagster_project.spec.mapping import cached_mappings

    return cached_mappings().for_system(SYSTEM)


@pytest.fixture(scope="module")
def tiny_wh(tmp_path_factory) -> Path:
    from dagster_project.mapping.dbtgen import SQL_TYPE
    from dagster_project.core.names import std_name

    db = tmp_path_factory.mktemp("tinywh") / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema standard")
    for t, rows in zip(_tables(), (HIHO, NINTEI)):
        assert t.std.ref in ("kaigo.hihokensha", "kaigo.nintei")
        cols = [f"{i.column_name} {SQL_TYPE[i.data_type]}" for i in t.std.items]
        cols += ["_src_system string", "_src_record_no bigint", "_flags string"]
        con.execute(f"create table standard.{std_name(t)} ({', '.join(cols)})")
        con.executemany(f"insert into standard.{std_name(t)} values ({', '.join('?' * len(rows[0]))})", rows)
    con.close()
    return db


def _write(db: Path, out: Path, package_id: str, preview: bool = False, status: str = "GO") -> Path:
    from dagster_project.readiness.export import write_package

    m = write_package(db, SYSTEM, _tables(), out, package_id, {"status": status, "decision_id": None},
                      preview=preview)
    return out / SYSTEM / m["package_id"]


def _errors(report) -> list[tuple[str, str, int | None, str | None]]:
    return [(t.name, e.type, getattr(e, "row_number", None), getattr(e, "field_name", None))
            for t in report.tasks for e in t.errors]


def test_package_validates_with_its_rows_and_flags(tiny_wh, tmp_path):
    from frictionless import validate

    from dagster_project.readiness.export import verify_package

    pkg = _write(tiny_wh, tmp_path, "P20261207000000-unit")
    report = validate(str(pkg / "datapackage.json"))
    assert report.valid, _errors(report)
    rows = {t.name: t.stats["rows"] for t in report.tasks}
    assert rows["std_kaigo__hihokensha"] == len(HIHO) and rows["std_kaigo__nintei"] == len(NINTEI)
    assert rows["code_yokaigo"] == 9 and rows["conversion_flags"] == 4
    assert verify_package(pkg) == []
    with (pkg / "conversion_flags.csv").open(encoding="utf-8", newline="") as fh:
        flags = list(csv.DictReader(fh))
    assert [(f["table"], f["internal_key"], f["record_no"], f["item_id"], f["reason_code"], f["reason_ja"])
            for f in flags] == [
        ("std_kaigo__hihokensha", "0000012346", "12", "1401008", "unmapped_code", "コード値対応なし"),
        ("std_kaigo__hihokensha", "0000012347", "13", "1401005", "required_missing", "必須項目欠落"),
        ("std_kaigo__hihokensha", "0000012347", "13", "1401006", "date_invalid", "日付変換不可"),
        ("std_kaigo__nintei", "0000012347|2024-06-01", "23", "1402002", "unmapped_code", "コード値対応なし"),
    ]
    assert {f["source_file"] for f in flags} == {t.source.file for t in _tables()}


def test_descriptor_states_types_keys_codes_and_references(tiny_wh, tmp_path):
    pkg = _write(tiny_wh, tmp_path, "P20261207000001-unit")
    d = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
    res = {r["name"]: r for r in d["resources"]}
    assert set(res) == {"std_kaigo__hihokensha", "std_kaigo__nintei", "code_kaigo_hiho_kubun", "code_shotoku_dankai",
                        "code_yokaigo", "code_conversion_reason", "conversion_flags"}
    nintei = res["std_kaigo__nintei"]["schema"]
    f = {x["name"]: x for x in nintei["fields"]}
    assert f["1402001"]["type"] == "string" and f["1402001"]["title"] == "被保険者番号"
    assert f["1402001"]["constraints"] == {"required": True, "maxLength": 10}
    assert f["1402003"]["type"] == "date"
    assert f["1402002"]["constraints"]["enum"] == ["00", "12", "13", "21", "22", "23", "24", "25", "99"]
    assert nintei["primaryKey"] == ["1402001", "1402003"]
    assert {"fields": ["1402001"], "reference": {"resource": "std_kaigo__hihokensha", "fields": ["1401002"]}} \
        in nintei["foreignKeys"]
    assert {"fields": ["1402002"], "reference": {"resource": "code_yokaigo", "fields": ["code"]}} in nintei["foreignKeys"]
    hiho = {x["name"]: x for x in res["std_kaigo__hihokensha"]["schema"]["fields"]}
    # 宛名番号 refers to 住民記録 ∪ 住登外: another system's package, so a note and no foreign key
    assert hiho["1401003"]["kikan:references"]["key_space"] == "atena"
    assert all(fk["fields"] != ["1401003"] for fk in res["std_kaigo__hihokensha"]["schema"]["foreignKeys"])
    assert "必須" in hiho["1401005"]["description"] and "required" not in hiho["1401005"].get("constraints", {})
    assert res["std_kaigo__hihokensha"]["title"] == "介護保険・介護保険被保険者"
    assert d["kikan:preview"] is False and d["kikan:release"]["status"] == "GO"


def test_parquet_columns_carry_the_catalog_descriptions(tiny_wh, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pkg = _write(tiny_wh, tmp_path, "P20261207000002-unit")
    schema = pq.read_schema(pkg / "std_kaigo__nintei.parquet")
    assert schema.names == ["1402001", "1402002", "1402003", "1402004", "1402005"]
    assert schema.field("1402001").type == pa.string() and schema.field("1402003").type == pa.date32()
    assert schema.field("1402002").metadata[b"title"].decode() == "要介護状態区分"
    assert "標準項目ID 1402002" in schema.field("1402002").metadata[b"description"].decode()
    con = duckdb.connect()
    kv = dict(con.execute("select decode(key), decode(value) from parquet_kv_metadata(?)",
                          [str(pkg / "std_kaigo__nintei.parquet")]).fetchall())
    assert json.loads(kv["kikan.columns"])["1402003"]["title"] == "認定有効期間開始年月日"
    got = con.execute(f"select \"1402001\", \"1402002\" from '{pkg / 'std_kaigo__nintei.parquet'}'").fetchall()
    assert got == [(r[0], r[1]) for r in NINTEI]


def test_verify_names_a_changed_descriptor_and_a_foreign_parquet(tiny_wh, tmp_path):
    from dagster_project.readiness.export import verify_package

    pkg = _write(tiny_wh, tmp_path, "P20261207000003-unit")
    d = pkg / "datapackage.json"
    d.write_text(d.read_text(encoding="utf-8").replace('"maxLength": 10', '"maxLength": 9'), encoding="utf-8")
    assert verify_package(pkg) == ["datapackage.json: SHA-256 differs"]
    pkg = _write(tiny_wh, tmp_path, "P20261207000004-unit")
    shutil.copy(pkg / "std_kaigo__nintei.parquet", pkg / "std_kaigo__hihokensha.parquet")   # same row count
    assert verify_package(pkg) == [
        "std_kaigo__hihokensha.parquet: SHA-256 differs",
        "std_kaigo__hihokensha.parquet: columns ['1402001', '1402002', '1402003', '1402004', '1402005'] differ "
        "from the schema's ['1401001', '1401002', '1401003', '1401004', '1401005', '1401006', '1401007', '1401008']"]


def test_an_enum_violation_fails_validation_naming_the_field(tiny_wh, tmp_path):
    from frictionless import validate

    pkg = _write(tiny_wh, tmp_path, "P20261207000005-unit")
    csv_path = pkg / "std_kaigo__nintei.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[2].startswith("0000012345,22,")
    lines[2] = lines[2].replace("0000012345,22,", "0000012345,77,", 1)   # row 3 of the file
    csv_path.write_text("".join(lines), encoding="utf-8")
    d = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
    for r in d["resources"]:
        if r["name"] == "std_kaigo__nintei":   # only the value is wrong, not the declared hash
            del r["hash"], r["bytes"]
    (pkg / "datapackage.json").write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    report = validate(str(pkg / "datapackage.json"))
    assert not report.valid
    assert sorted(_errors(report), key=str) == [("std_kaigo__nintei", "constraint-error", 3, "1402002"),
                                               ("std_kaigo__nintei", "foreign-key", 3, None)]


def test_preview_is_marked_and_never_latest_and_pruned_apart(tiny_wh, tmp_path):
    from dagster_project.readiness.export import PREVIEW_SUFFIX, prune, verify_package

    rel = _write(tiny_wh, tmp_path, "P20261207000010-unit")
    assert (tmp_path / SYSTEM / "LATEST").read_text(encoding="utf-8").strip() == rel.name
    previews = [_write(tiny_wh, tmp_path, f"P2026120700002{i}-unit", preview=True, status="NO-GO") for i in range(3)]
    for p in previews:
        assert p.name.endswith(PREVIEW_SUFFIX) and verify_package(p) == []
        m = json.loads((p / "manifest.json").read_text(encoding="utf-8"))
        assert m["preview"] is True and m["purpose_ja"] == "参考（本番移行には使用しない）"
        d = json.loads((p / "datapackage.json").read_text(encoding="utf-8"))
        assert d["title"].startswith("【参考】") and d["name"].endswith("-preview")
    assert (tmp_path / SYSTEM / "LATEST").read_text(encoding="utf-8").strip() == rel.name
    prune(tmp_path, SYSTEM, keep=2)
    left = sorted(p.name for p in (tmp_path / SYSTEM).iterdir() if p.is_dir())
    assert left == [rel.name, previews[1].name, previews[2].name]   # the release is not pushed out by previews


def test_nulled_flags_are_the_standard_layers():
    """conversion_flags says which flags emptied the value; that list must be dbtgen's."""
    from dagster_project.readiness.datapackage import NULLED
    from dagster_project.mapping.dbtgen import int_sql

    sql = int_sql(_tables()[1])
    assert "in (" + ", ".join(f"'{k}'" for k in NULLED) + ") then null" in sql


def _state(tmp_path: Path, rows: list[dict]) -> Path:
    state = tmp_path / "readiness"
    state.mkdir(parents=True)
    with (state / "rehearsals.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return state


def _row(status: str, criteria: list[dict]) -> dict:
    return {"system": SYSTEM, "rehearsal_id": "R20261101-x", "run_id": "x", "phase": "before_gate",
            "outcome": status, "status": status, "decision_id": None, "as_of": "2026-11-01", "criteria": criteria}


def test_gate_release_rule(tmp_path):
    from dagster_project.readiness.export import gate_release

    none = gate_release(_state(tmp_path / "a", []), SYSTEM, "介護保険システム", ["GO", "CONDITIONAL"])
    assert not none.allowed and not none.blocked_by_gate and "未評価" in none.message_ja
    crit = [{"label": "キー違反", "passed": False}, {"label": "所管課の承認", "passed": True}]
    nogo = gate_release(_state(tmp_path / "b", [_row("NO-GO", crit)]), SYSTEM, "介護保険システム", ["GO", "CONDITIONAL"])
    assert not nogo.allowed and nogo.blocked_by_gate and nogo.failing == ["キー違反"]
    assert nogo.message_ja == ("介護保険システム: 移行可否判定 NO-GO（移行不可、判定前の見込み）のため移行データを出力しない。"
                               "満たしていない基準: キー違反")
    go = gate_release(_state(tmp_path / "c", [_row("GO", [])]), SYSTEM, "介護保険システム", ["GO", "CONDITIONAL"])
    assert go.allowed and go.release["status"] == "GO" and go.release["phase"] == "before_gate"
