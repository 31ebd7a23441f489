"""The vendor package of every system of the session city, as a Frictionless Data Package.

The packages are written straight from ``extracted_city``'s warehouse with ``write_package`` (its
dirty gates block the pipeline's own exports). The city is planted with duplicate keys and broken
references in every system, so no package of it can be valid against a schema that states the
standard's keys: ``frictionless validate`` must find every other part valid (types, lengths, code
values, hashes, row counts) and name exactly the rows the warehouse and the findings ledger name
for those key violations, no more and no fewer. A clean package is validated whole in
``tests/unit/test_datapackage.py``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from dagster_project.spec.mapping import cached_mappings
from dagster_project.core.names import std_name

pytestmark = pytest.mark.slow

KEY_RULES = ("orphan_reference", "orphan_cascade")
FLAG_OF_CLASS = {"unmapped_code": "unmapped_code", "impossible_date": "date_invalid",
                 "overlong_value": "over_length", "missing_required": "required_missing"}
DUCK_TYPE = {"string": "VARCHAR", "integer": "BIGINT", "date": "DATE", "boolean": "BOOLEAN"}


@pytest.fixture(scope="module")
def packages(extracted_city, tmp_path_factory, project):
    from dagster_project.readiness.export import write_package

    out = tmp_path_factory.mktemp("vendor")
    by = {}
    for s in project.city.systems:
        m = write_package(extracted_city["db"], s.id, cached_mappings().for_system(s.id), out,
                          "P20261207000000-test", {"status": "test", "decision_id": None}, preview=True)
        by[s.id] = out / s.id / m["package_id"]
    return by


@pytest.fixture(scope="module")
def reports(packages):
    from frictionless import validate

    return {sid: validate(str(pkg / "datapackage.json")) for sid, pkg in packages.items()}


def _descriptor(pkg: Path) -> dict:
    return json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))


def test_every_package_verifies_and_validates_but_for_the_key_violations(extracted_city, packages, reports, query):
    from dagster_project.readiness.export import verify_package

    db = extracted_city["db"]
    by_name = {std_name(t): t for t in cached_mappings().tables}
    seen = Counter()
    for sid, pkg in packages.items():
        assert verify_package(pkg) == [], sid
        desc = _descriptor(pkg)
        manifest = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
        manifest_rows = {t["table"]: t["rows"] for t in manifest["tables"]}
        manifest_rows |= {r["resource"]: r["rows"] for r in manifest["resources"]}
        report = reports[sid]
        assert {t.name for t in report.tasks} == {r["name"] for r in desc["resources"]}
        for task in report.tasks:
            rows = task.stats.get("rows") or 0      # frictionless gives no count for a table with no rows
            assert rows == manifest_rows[task.name], (sid, task.name)
            res = next(r for r in desc["resources"] if r["name"] == task.name)
            if task.name not in by_name:
                assert task.errors == [], (sid, task.name, [e.message for e in task.errors][:3])
                continue
            t = by_name[task.name]
            assert rows == query(db, f'select count(*) from standard."{task.name}"')[0][0]
            kinds = Counter(e.type for e in task.errors)
            assert set(kinds) <= {"primary-key", "foreign-key"}, (sid, task.name, kinds)
            fields = [f["name"] for f in res["schema"]["fields"]]
            # primary key: frictionless names each row after the first of a key; the warehouse the same groups
            key = res["schema"]["primaryKey"]
            pk_err = Counter(tuple(e.cells[fields.index(k)] for k in key) for e in task.errors if e.type == "primary-key")
            cols = ", ".join(f"cast({c} as varchar)" for c in t.std.key)
            dup = {tuple(r[:-1]): r[-1] - 1 for r in query(
                db, f'select {cols}, count(*) from standard."{task.name}" group by all having count(*) > 1')}
            assert pk_err == Counter(dup), (sid, task.name)
            seen["primary-key"] += sum(pk_err.values())
            # foreign keys: every row naming a record the package does not hold is the ledger's orphan
            fk_err = Counter((e.field_names[0], e.field_cells[0]) for e in task.errors if e.type == "foreign-key")
            fk_fields = {fk["fields"][0] for fk in res["schema"].get("foreignKeys", [])
                         if not fk["reference"]["resource"].startswith("code_")}
            ledger = Counter(query(db, "select item_id, detail from findings.findings where std_ref = ? and "
                                   f"rule_id in {KEY_RULES} and list_contains(?, item_id)", t.std.ref, sorted(fk_fields)))
            assert fk_err == ledger, (sid, task.name)
            seen["foreign-key"] += sum(fk_err.values())
    assert seen["primary-key"] > 0 and seen["foreign-key"] > 0    # the comparison had something to compare


def test_conversion_flags_are_the_ledgers_and_name_the_planted_records(extracted_city, packages, query):
    import csv

    from dagster_project.readiness.datapackage import reason_kinds

    db = extracted_city["db"]
    tables = {std_name(t): t for t in cached_mappings().tables}
    flagged = set()
    for sid, pkg in packages.items():
        with (pkg / "conversion_flags.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        got = Counter((tables[r["table"]].std.ref, int(r["record_no"]), r["item_id"], r["reason_code"]) for r in rows)
        kinds = sorted({k for *_, k in got} | (set(reason_kinds()) - {"legacy_overlong"}))   # the legacy file's, not an item's
        want = Counter(query(db, "select std_ref, record_no, item_id, rule_id from findings.findings "
                                 "where system = ? and list_contains(?, rule_id) and std_ref is not null", sid, kinds))
        assert got == want, sid
        assert all(r["reason_ja"] and r["item_name"] for r in rows)
        for r in rows:
            flagged.add((sid, tables[r["table"]].source.table, int(r["record_no"]), r["reason_code"]))
            # the internal key is the record's primary key, as the package's CSV spells it
            assert r["internal_key"].count("|") == len(tables[r["table"]].std.key) - 1
    planted = [d for d in extracted_city["manifest"]["defects"] if d["class"] in FLAG_OF_CLASS and d.get("record_no")]
    migrated = {(t.system, t.source.table, f) for t in tables.values() for ri in t.items if ri.expr for f in ri.lineage}
    planted = [d for d in planted if (d["system"], d["table"], d["field"]) in migrated]
    assert planted
    missing = [d for d in planted
               if (d["system"], d["table"], d["record_no"], FLAG_OF_CLASS[d["class"]]) not in flagged]
    assert missing == []


def _create_from_schema(con, desc: dict, pkg: Path, name: str) -> None:
    """What a vendor's loader does: a table per resource from its Table Schema, loaded with those types."""
    res = next(r for r in desc["resources"] if r["name"] == name)
    fields = res["schema"]["fields"]
    con.execute(f'create table "{name}" (' + ", ".join(f'"{f["name"]}" {DUCK_TYPE[f["type"]]}' for f in fields) + ")")
    types = "{" + ", ".join(f"'{f['name']}': '{DUCK_TYPE[f['type']]}'" for f in fields) + "}"
    con.execute(f"insert into \"{name}\" select * from read_csv('{pkg / res['path']}', header = true, "
                f"columns = {types}, auto_detect = false)")


def test_duckdb_loads_with_the_schema_types_and_the_keys_come_back_unchanged(extracted_city, packages, query):
    pkg = packages["zeimu"]
    desc = _descriptor(pkg)
    con = duckdb.connect()
    con.execute(f"attach '{extracted_city['db']}' as wh (read_only)")
    checked = zeros = 0
    for t in cached_mappings().for_system("zeimu"):
        name = std_name(t)
        _create_from_schema(con, desc, pkg, name)
        cols = ", ".join(f'"{i.column_name}" as "{i.item_id}"' for i in t.std.items)
        # every row and column, typed as the warehouse holds it: nothing lost or changed either way
        for a, b in ((f'"{name}"', f'(select {cols} from wh.standard."{name}")'),
                     (f'(select {cols} from wh.standard."{name}")', f'"{name}"'),
                     (f"read_parquet('{pkg / (name + '.parquet')}')", f'"{name}"')):
            assert con.execute(f"select count(*) from (select * from {a} except all select * from {b})").fetchone()[0] == 0
        key = [i.item_id for i in t.std.items if i.is_key]
        loaded = con.execute(f'select {", ".join(chr(34) + k + chr(34) for k in key)} from "{name}" order by all').fetchall()
        wh = con.execute(f'select {", ".join(i.column_name for i in t.std.items if i.is_key)} from wh.standard."{name}" '
                         "order by all").fetchall()
        assert loaded == wh
        zeros += sum(1 for row in loaded for v in row if isinstance(v, str) and v.startswith("0"))
        checked += 1
    assert checked == 7 and zeros > 0     # keys such as 宛名番号 0001131079 came back with their zeros
    # without the schema DuckDB guesses: 通知書番号 (0703001), a string of digits in the standard, becomes a
    # number (a value with leading zeros would lose them), and so do 課税年度 and the code 住登内外区分
    guessed = {}
    for n in ("std_kojin_jumin__shuno", "std_kojin_jumin__kazei", "std_kojin_jumin__atena"):
        guessed |= dict(con.execute(f"select column_name, column_type from (describe select * from "
                                    f"read_csv('{pkg / (n + '.csv')}'))").fetchall())
    assert (guessed["0703001"], guessed["0702001"], guessed["0701002"]) == ("BIGINT", "BIGINT", "BIGINT")
    types = {f["name"]: f["type"] for r in desc["resources"] for f in r["schema"]["fields"]}
    assert (types["0703001"], types["0702001"], types["0701002"]) == ("string", "string", "string")
    con.close()


def test_an_enum_violation_is_caught_naming_the_field(packages, tmp_path):
    from frictionless import validate

    pkg = tmp_path / "kaigo"
    shutil.copytree(packages["kaigo"], pkg)
    desc = _descriptor(pkg)
    res = next(r for r in desc["resources"] if r["name"] == "std_kaigo__nintei")
    del res["hash"], res["bytes"]     # only the value is planted, not a changed file
    (pkg / "datapackage.json").write_text(json.dumps(desc, ensure_ascii=False), encoding="utf-8")
    before = validate(str(pkg / "datapackage.json"))
    bad_rows = {e.row_number for t in before.tasks for e in t.errors if t.name == "std_kaigo__nintei"}
    path = pkg / "std_kaigo__nintei.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    pos = [f["name"] for f in res["schema"]["fields"]].index("1402002")
    row = next(n for n in range(2, len(lines) + 1)
               if n not in bad_rows and lines[n - 1].split(",")[pos] in res["schema"]["fields"][pos]["constraints"]["enum"])
    cells = lines[row - 1].split(",")
    cells[pos] = "77"                      # 要介護状態区分: no such code in yokaigo
    lines[row - 1] = ",".join(cells)
    path.write_text("".join(lines), encoding="utf-8")
    after = validate(str(pkg / "datapackage.json"))
    new = sorted((e.type, e.row_number, getattr(e, "field_name", None) or e.field_names[0])
                 for t in after.tasks for e in t.errors if t.name == "std_kaigo__nintei" and e.row_number == row)
    assert not after.valid
    assert new == [("constraint-error", row, "1402002"), ("foreign-key", row, "1402002")]


# ---------------------------------------------------------------- kikan export


@pytest.fixture
def cli_env(extracted_city, tmp_path, monkeypatch):
    monkeypatch.setenv("KIKAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KIKAN_WAREHOUSE", str(extracted_city["db"]))
    monkeypatch.setenv("KIKAN_READINESS_DIR", str(extracted_city["wh"] / "readiness"))
    monkeypatch.setenv("KIKAN_EXPORTS_DIR", str(tmp_path / "exports"))
    return tmp_path / "exports"


def test_cli_export_unknown_id_lists_the_known_ones(cli_env, capsys, project):
    from dagster_project.cli import main

    assert main(["export", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "システム ID「nosuch」はありません" in err
    assert all(s.id in err for s in project.city.systems)
    assert not cli_env.exists()


def test_cli_export_of_a_system_the_gate_holds_back_exits_2_and_preview_writes_a_参考_package(
        cli_env, extracted_city, capsys):
    from dagster_project.cli import main
    from dagster_project.readiness import gatelog
    from dagster_project.readiness.export import verify_package

    hist = gatelog.read_history(extracted_city["wh"] / "readiness", "jumin")[-1]
    assert hist["status"] == "NO-GO"
    assert main(["export", "jumin"]) == 2
    err = capsys.readouterr().err
    named = hist["decision_id"] if hist["phase"] != "before_gate" else "判定前の見込み"
    assert f"移行可否判定 NO-GO（移行不可、{named}）のため移行データを出力しない" in err
    assert "kikan export jumin --preview" in err
    assert not (cli_env / "jumin").exists() or not any((cli_env / "jumin").iterdir())

    assert main(["export", "jumin", "--preview"]) == 0
    out = capsys.readouterr().out
    [pkg] = [p for p in (cli_env / "jumin").iterdir() if p.is_dir()]
    assert pkg.name.endswith("-参考") and str(pkg) in out
    assert not (cli_env / "jumin" / "LATEST").exists()
    assert verify_package(pkg) == []
    m = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
    assert m["preview"] is True and m["purpose_ja"] == "参考（本番移行には使用しない）"
    assert m["release"]["status"] == "NO-GO" and m["release"]["decision_id"] == hist["decision_id"]


def test_cli_export_of_a_released_system_writes_latest(cli_env, tmp_path, monkeypatch, capsys):
    """A GO projection (before the gate date) releases the package: the same rule as the export asset."""
    from dagster_project.cli import main

    state = tmp_path / "state"
    state.mkdir()
    (state / "rehearsals.jsonl").write_text(json.dumps(
        {"system": "kaigo", "rehearsal_id": "R20261101-x", "run_id": "x", "phase": "before_gate", "outcome": "GO",
         "status": "GO", "decision_id": None, "as_of": "2026-11-01", "criteria": []}) + "\n", encoding="utf-8")
    monkeypatch.setenv("KIKAN_READINESS_DIR", str(state))
    assert main(["export", "kaigo"]) == 0
    latest = (cli_env / "kaigo" / "LATEST").read_text(encoding="utf-8").strip()
    assert not latest.endswith("-参考")
    m = json.loads((cli_env / "kaigo" / latest / "manifest.json").read_text(encoding="utf-8"))
    assert m["preview"] is False and m["release"]["status"] == "GO"
    assert main(["export", "kaigo", "--preview"]) == 0          # a preview beside it leaves LATEST alone
    assert (cli_env / "kaigo" / "LATEST").read_text(encoding="utf-8").strip() == latest
    capsys.readouterr()
