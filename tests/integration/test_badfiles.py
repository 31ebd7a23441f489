"""The bad-input corpus (tests/badfiles/): every hand-made malformed file is either refused with a
message naming the file, the line and what is wrong (its records counted from its bytes as
refused), or read with each bad record quarantined with a reason; records in the file always equal
raw rows + quarantined rows + refused records; and the values that
survive extraction (dates, zoned amounts, half-width kana) come out of the real staging SQL with
the status written in cases.yaml. Nothing escapes as any other exception.

Staging is the SQL dbt compiled for the small city's build, run on the extracted frame.
"""

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from dagster_project.spec.config import cached_project
from dagster_project.extract.reader import ExtractError, count_records, extract_file, refused_extract
from dagster_project.core.textcodec import sjis_to_pua

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


def _case(case: str):
    path = next(p for p in (CORPUS / case).iterdir())
    return (path, *_layout_of(path.name))


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file(case):
    want = CASES[case]
    path, system, lay, lf, gaiji = _case(case)
    if "error" in want:
        with pytest.raises(ExtractError) as e:
            extract_file(path, lay, lf, gaiji)
        msg = str(e.value)
        assert msg.startswith(str(path)), msg          # names the file
        assert re.search(want["error"], msg), msg
        # its records are counted from its bytes and accounted for as refused
        r = refused_extract(path, lay, lf, msg)
        assert r.refused == msg and r.frame.height == 0 and r.quarantine.height == 0
        assert r.refused_records == r.records_in_file == want["records"]
        assert r.records_counted == count_records(path.read_bytes(), lf.header) == want["records"]
        return
    r = extract_file(path, lay, lf, gaiji)
    assert r.records_in_file == want["records"] == count_records(path.read_bytes(), lf.header)
    assert r.frame.height + r.quarantine.height == r.records_in_file          # row conservation
    assert r.refused is None and r.refused_records == 0
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


STAGED = sorted(c for c, want in CASES.items() if {"dates", "amounts", "kana"} & set(want))


@pytest.mark.parametrize("case", STAGED)
def test_bad_file_staged(case, staging_sql):
    """What staging makes of the values that survive extraction (the small city's compiled SQL)."""
    want = CASES[case]
    path, system, lay, lf, gaiji = _case(case)
    r = extract_file(path, lay, lf, gaiji)
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


def test_a_refused_files_records_are_accounted_for_in_conservation(tmp_path, project):
    """05_utf8_not_cp932 as 選挙's only file, through the extract asset, the warehouse and the gate's
    criterion: its 4 records are counted from its bytes and stand as refused (4 = 0 + 0 + 4), where
    a refused file used to read 0 = 0 + 0. Only 選挙's extract runs (one system, one file)."""
    import datetime as dt
    import shutil

    import dagster as dg

    from dagster_project.extract.assets import build_extract_assets

    from dagster_project.resources import WarehouseResource
    from dagster_project.readiness.gate import CriterionConfig, Ctx, GateConfig, ev_row_conservation
    from dagster_project.core.warehouse import connect

    legacy = tmp_path / "legacy"
    (legacy / "senkyo").mkdir(parents=True)
    shutil.copy(CORPUS / "05_utf8_not_cp932" / "SENKYO_MEIBO.CSV", legacy / "senkyo" / "SENKYO_MEIBO.CSV")
    db = tmp_path / "w.duckdb"
    asset = next(a for a in build_extract_assets(project) if a.node_def.name == "extract_senkyo")
    res = dg.materialize([asset], raise_on_error=False,
                         resources={"warehouse": WarehouseResource(path=str(db), legacy_dir=str(legacy))})
    assert res.success
    checks = {e.event_specific_data.check_name: e.event_specific_data for e in res.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert not checks["file_accepted"].passed
    conservation = checks["row_conservation"]
    assert conservation.passed
    assert {k: v.value for k, v in conservation.metadata.items()} == {
        "records_in_file": 4, "raw_rows": 0, "quarantined": 0, "refused": 4, "difference": 0}
    with connect(db, read_only=True) as con:
        row = con.execute("select records_in_file, raw_rows, quarantined, refused_records, refused is not null "
                          "from meta.extract_files where system = 'senkyo'").fetchall()
        assert row == [(4, 0, 0, 4, True)]
        ctx = Ctx(project, con, "senkyo", tmp_path, dt.date(2026, 1, 1), [], GateConfig())
        value, evidence = ev_row_conservation(ctx, CriterionConfig(id="row_conservation", label="件数", on_fail="NO-GO"))
    assert value == 0        # conserved: the refusal itself fails 移行処理の完了
    assert "受付不可のファイル 1 件のレコード 4 件は受付不可として計上" in evidence
