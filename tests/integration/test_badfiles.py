"""The bad-input corpus (tests/badfiles/): every hand-made malformed file is either refused with a
message naming the file, the line and what is wrong, or read with each bad record quarantined
with a reason; records in the file always equal raw rows + quarantined rows; and the values that
survive extraction (dates, zoned amounts, half-width kana) come out of the real staging SQL with
the status written in cases.yaml. Nothing escapes as any other exception.

Staging is the SQL dbt compiled for the small city's build, run on the extracted frame.
"""

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from dagster_project.lib.config import cached_project
from dagster_project.lib.extract import ExtractError, count_records, extract_file
from dagster_project.lib.textcodec import sjis_to_pua

CORPUS = Path(__file__).resolve().parents[1] / "badfiles"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))


def _layout_of(name: str):
    project = cached_project()
    for system, lay in project.layouts.items():
        for lf in lay.files:
            if lf.file == name:
                return system, lay, lf, project.gaiji[system]
    raise AssertionError(f"no layout reads {name}")


def test_corpus_is_complete():
    dirs = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    assert dirs == sorted(CASES), "every file has its expectation and every expectation its file"
    assert len(dirs) >= 30


@pytest.fixture(scope="module")
def staging_sql(extracted_city):
    compiled = extracted_city["dbt_target"] / "compiled" / "kikan" / "models" / "generated" / "staging"

    def sql(system: str, table: str) -> str:
        return (compiled / system / f"stg_{system}__{table}.sql").read_text(encoding="utf-8")
    return sql


def _stage(sql: str, system: str, table: str, frame):
    con = duckdb.connect()
    try:
        con.execute("attach ':memory:' as warehouse")
        con.execute("create schema warehouse.raw")
        con.register("extracted", frame.to_arrow())
        con.execute(f'create table warehouse.raw."{system}__{table}" as select * from extracted')
        rel = con.execute(sql)
        cols = [d[0] for d in rel.description]
        return {r[cols.index("_record_no")]: dict(zip(cols, r)) for r in rel.fetchall()}
    finally:
        con.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file(case, staging_sql):
    want = CASES[case]
    path = next(p for p in (CORPUS / case).iterdir())
    system, lay, lf, gaiji = _layout_of(path.name)
    if "error" in want:
        with pytest.raises(ExtractError) as e:
            extract_file(path, lay, lf, gaiji)
        msg = str(e.value)
        assert msg.startswith(str(path)), msg          # names the file
        assert re.search(want["error"], msg), msg
        return
    r = extract_file(path, lay, lf, gaiji)
    assert r.records_in_file == want["records"] == count_records(path.read_bytes(), lf.header)
    assert r.frame.height + r.quarantine.height == r.records_in_file          # row conservation
    got_q: dict[str, list] = {}
    for code, field, rec, reason in zip(r.quarantine["reason_code"], r.quarantine["field_name"],
                                        r.quarantine["record_no"], r.quarantine["reason"]):
        got_q.setdefault(code, []).append([rec, field])
        assert reason, "every quarantined record says why, in Japanese"
    assert got_q == want.get("quarantine", {})
    if "gaiji" in want:
        usage = {row["sjis_code"]: row["in_vendor_table"] for row in r.gaiji_usage.iter_rows(named=True)}
        assert usage == want["gaiji"]
        rows = r.frame["shimei"].to_list()
        assert any(sjis_to_pua(code) in v for code in want["gaiji"] for v in rows)   # kept, for 文字同定
    checks = {k: want[k] for k in ("dates", "amounts", "kana") if k in want}
    if checks:
        staged = _stage(staging_sql(system, lf.table), system, lf.table, r.frame)
        for field, by_rec in want.get("dates", {}).items():
            for rec, status in by_rec.items():
                assert staged[rec][f"{field}__status"] == status, (field, rec, staged[rec][f"{field}__raw"])
                assert (staged[rec][field] is None) == (status != "ok")
        for field, by_rec in want.get("amounts", {}).items():
            for rec, value in by_rec.items():
                assert staged[rec][field] == value and staged[rec][f"{field}__status"] == "ok"
        for field, by_rec in want.get("kana", {}).items():
            for rec, value in by_rec.items():
                assert staged[rec][field] == value
