"""A legacy city written independently of the simulator (tests/independent/writer.py) through the
whole pipeline: every file is accepted and nothing is quarantined, the findings ledger finds every
planted defect on its physical line with the expected rule, and has nothing on any clean record."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict

import duckdb
import pytest
import yaml

from tests.conftest import run_city, succeeded_but_blocked
from tests.independent.writer import MAPPINGS, Sentinel, load_layouts, write_city

pytestmark = pytest.mark.slow
TODAY = "2026-12-07"


@pytest.fixture(scope="module")
def city_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("independent")
    city = write_city(base / "legacy")
    wh = base / "wh"
    wh.mkdir()
    result = run_city(city.out, wh, TODAY)
    return {"city": city, "db": wh / "warehouse.duckdb", "result": result}


def rows(db, sql, *params):
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def test_the_run_finishes(city_run):
    res = city_run["result"]
    failed = []
    for e in res.all_events:
        if e.event_type_value != "STEP_FAILURE":
            continue
        err = e.event_specific_data.error
        msg = err.message.strip().splitlines()[0] if err and err.message else ""
        cause = err.cause if err else None
        while cause is not None and cause.cause is not None:
            cause = cause.cause
        if cause is not None:
            msg += " <- " + cause.message.strip().splitlines()[0]
        failed.append(f"  {e.step_key}: {msg[:400]}")
    assert succeeded_but_blocked(res) and not failed, "failed steps:\n" + "\n".join(failed)


def test_every_file_is_accepted_whole_and_nothing_is_quarantined(city_run):
    city, db = city_run["city"], city_run["db"]
    files = {(r["system"], r["table_name"]): r for r in rows(db, "select * from meta.extract_files")}
    assert set(files) == set(city.files), "files the pipeline extracted differ from the files written"
    problems = []
    for key, fi in sorted(city.files.items()):
        r = files[key]
        if r["refused"] is not None:
            problems.append(f"{key}: refused: {r['refused']}")
        if (r["records_in_file"], r["raw_rows"], r["quarantined"], r["header_lines"]) != (fi.records, fi.records, 0, fi.header_lines):
            problems.append(f"{key}: written {fi.records} records ({fi.header_lines} header line), extracted "
                            f"records={r['records_in_file']} raw={r['raw_rows']} quarantined={r['quarantined']} "
                            f"header_lines={r['header_lines']}")
    for system in sorted({s for s, _ in city.files}):
        for q in rows(db, f'select table_name, record_no, reason_code, field_name, detail from raw."{system}__quarantine"'):
            problems.append(f"{system}.{q['table_name']} line {q['record_no']}: quarantined {q['reason_code']} "
                            f"{q['field_name']} {q['detail']}")
    assert not problems, "\n".join(problems)


def test_raw_record_numbers_are_the_physical_lines(city_run):
    city, db = city_run["city"], city_run["db"]
    for (system, table), fi in city.files.items():
        got = [r["_record_no"] for r in rows(db, f'select _record_no from raw."{system}__{table}" order by 1')]
        assert got == list(range(fi.header_lines + 1, fi.header_lines + fi.records + 1)), (system, table)


def _expected(f: dict, v, codemap: dict | None):
    """What the standard layer should hold for a value written into legacy field ``f``."""
    if isinstance(v, dt.date):
        return v
    if isinstance(v, Sentinel):   # 不詳 / 期限なし: no date in the standard layer (and no finding)
        return None
    if v is None or v == "":
        return None
    if f["type"] == "amount":
        return int(v)
    s = str(v).strip(" \u3000")
    if f["type"] == "kana":   # half-width kana and the ASCII space become full-width
        s = unicodedata.normalize("NFKC", s).replace(" ", "\u3000")
    if codemap is not None:
        s = codemap[s] or None
    return s or None


def test_standard_values_are_the_values_written(city_run):
    """Every item mapped straight from one legacy field (with or without a code map) holds, for
    every clean record, exactly what was written: 和暦 and 西暦 dates, zoned and plain amounts,
    half-width kana, codes, padded fixed-width text."""
    city, db = city_run["city"], city_run["db"]
    layouts = load_layouts()
    wrong, compared = [], 0
    for system, lay in layouts.items():
        with (MAPPINGS / system / "mapping.yaml").open(encoding="utf-8") as fh:
            mapping = yaml.safe_load(fh)
        for ref, tm in mapping["tables"].items():
            lf = next(x for x in lay["files"] if x["table"] == tm["source"])
            fields = {f["name"]: f for f in lf["fields"]}
            direct = {}
            for item, spec in tm["items"].items():
                expr = spec if isinstance(spec, str) else spec.get("expr")
                if isinstance(expr, str) and re.fullmatch(r"[a-z_][a-z0-9_]*", expr) and expr in fields:
                    cm = spec.get("codemap") if isinstance(spec, dict) else None
                    direct[item] = (fields[expr], mapping["codemaps"][cm] if cm else None)
            business, table = ref.split(".")
            cols = ", ".join(direct)
            got = {r["_src_record_no"]: r for r in rows(db, f"select _src_record_no, {cols} from standard.std_{business}__{table}")}
            for rec_no, values in city.clean_values(system, tm["source"]).items():
                for item, (f, cm) in direct.items():
                    exp = _expected(f, values.get(f["name"]), cm)
                    have = got.get(rec_no, {}).get(item, "<no row>")
                    if isinstance(have, int) and isinstance(exp, str):
                        exp = int(exp)
                    compared += 1
                    if have != exp:
                        wrong.append(f"  {system}.{tm['source']} line {rec_no} -> {ref}.{item} (from {f['name']}, "
                                     f"{f['type']}{'/' + f['style'] if f.get('style') else ''}): "
                                     f"standard has {have!r}, written {values.get(f['name'])!r}, expected {exp!r}")
    assert compared > 500
    assert not wrong, f"{len(wrong)} of {compared} values differ:\n" + "\n".join(wrong)


def _ledger(db):
    exists = rows(db, "select count(*) as n from information_schema.tables "
                      "where table_schema = 'findings' and table_name = 'findings'")[0]["n"]
    if not exists:
        pytest.skip("the findings ledger (view findings.findings) does not exist in this build yet")
    return rows(db, "select system, source_table, record_no, rule_id, item_id, item_name, std_ref, reason, detail "
                    "from findings.findings")


def _fmt(r) -> str:
    return (f"{r['system']}.{r['source_table']} line {r['record_no']}: {r['rule_id']} "
            f"[{r['std_ref']} {r['item_id']} {r['item_name']}] {r['reason']} / {r['detail']}")


def test_the_ledger_finds_every_planted_defect_on_its_line(city_run):
    city, db = city_run["city"], city_run["db"]
    ledger = _ledger(db)
    found = defaultdict(list)
    for r in ledger:
        found[r["system"], r["source_table"], r["record_no"]].append(r)
    missing, also = [], []
    for p in city.planted:
        at = found.get((p.system, p.table, p.record_no), [])
        if not any(r["rule_id"] == p.rule_id for r in at):
            got = ", ".join(sorted({r["rule_id"] for r in at})) or "nothing"
            missing.append(f"  {p.system}.{p.table} line {p.record_no}: planted {p.kind} ({p.note}), "
                           f"expected {p.rule_id}, ledger has {got}")
        also += [f"  {_fmt(r)}" for r in at if r["rule_id"] != p.rule_id]
    msg = "planted defects the ledger does not find:\n" + "\n".join(missing)
    if also:
        msg += "\n(other rules on planted records, not a failure:)\n" + "\n".join(sorted(set(also)))
    assert not missing, msg


def test_the_ledger_has_nothing_on_clean_records(city_run):
    city, db = city_run["city"], city_run["db"]
    ledger = _ledger(db)
    planted = {(p.system, p.table, p.record_no) for p in city.planted}
    written = city.all_records()
    unexpected, nowhere = [], []
    for r in ledger:
        key = (r["system"], r["source_table"], r["record_no"])
        if key in planted:
            continue
        note = city.notes.get(key)
        line = "  " + _fmt(r) + (f"   <- writer's note: {note}" if note else "")
        (unexpected if key in written else nowhere).append(line)
    msg = ""
    if unexpected:
        msg += "findings on records written clean:\n" + "\n".join(sorted(unexpected)) + "\n"
    if nowhere:
        msg += "findings on no record the writer wrote (record_no null or beyond the file):\n" + "\n".join(sorted(nowhere))
    assert not msg, msg


# the planted numbers and dates a reader takes but the standard item cannot (issue 17): the record,
# the rule and the item, all of them and nothing else
VALUE_RULES = ("number_invalid", "over_length", "out_of_range")
ITEM_OF = {"kokuho_amount_overflow": "医療分", "kokuho_amount_over_digits": "医療分",
           "kosodate_count_over_digits": "支給対象児童数", "kosodate_count_out_of_range": "支給対象児童数",
           "kenko_height_out_of_range": "身長（mm）", "kenko_date_out_of_range": "受診年月日",
           "zeimu_negative_amount": "所得割額"}


def test_numbers_and_dates_outside_the_item_are_gaps_with_their_records(city_run):
    city, db = city_run["city"], city_run["db"]
    want = {(p.system, p.table, p.record_no, p.rule_id, ITEM_OF[p.kind]) for p in city.planted
            if p.rule_id in VALUE_RULES}
    assert len(want) == 7 and {w[3] for w in want} == set(VALUE_RULES)
    got = {(r["system"], r["source_table"], r["record_no"], r["rule_id"], r["item_name"]) for r in _ledger(db)
           if r["rule_id"] in VALUE_RULES}
    assert got == want, f"ledger only: {sorted(got - want)}\nplanted only: {sorted(want - got)}"
    # and in the data gaps each system's owner answers, counted from the ledger, the lines named
    for system in {w[0] for w in want}:
        gaps = {(g["gap_kind"], g["item_name"]): g for g in rows(db, f'select * from gaps."gaps_{system}__data"')}
        for s_, _, rec, rule, item in want:
            if s_ == system:
                g = gaps[(rule, item)]
                assert g["record_count"] == sum(1 for w in want if w[0] == system and w[3:] == (rule, item))
                assert f"（{rec}行目）" in g["samples"], (g["samples"], rec)


def test_reconciliation_compares_what_the_legacy_file_says(city_run):
    """金額 reads the legacy text on its own: the 20-digit 医療分 (beyond BIGINT), the 12-digit one
    (beyond the standard's 11) and the 11-digit 対象児童数 are in the legacy totals and missing from
    the standard ones, so exactly those totals differ; values kept in the standard table though out
    of range (a negative 所得割額, a 身長 of 9,999) agree, and no legacy value is left unread."""
    db = city_run["db"]
    systems = sorted({s for s, _ in city_run["city"].files})
    amounts = [dict(r, system=s) for s in systems for r in rows(
        db, f'select subject, source_value, target_value, status from readiness."recon_{s}" where check_kind = \'金額\'')]
    differ = {(r["system"], r["subject"].split(": ", 1)[1], r["source_value"], r["target_value"])
              for r in amounts if r["status"] != "一致"}
    assert differ == {
        ("kokuho", "医療分 合計（年度 2025）", 99999999999999999999, 0),
        ("kokuho", "医療分 合計（年度 2024）", 123456789012, 0),
        ("kosodate", "支給対象児童数 合計", 2 + 1 + 1 + 98765432109 + 0, 2 + 1 + 1 + 0),
    }, sorted(differ)
    unread = [r for r in amounts if "数値にできない" in r["subject"]]
    assert unread and all(r["source_value"] == 0 for r in unread), unread
    kojin = {r["subject"].split(": ", 1)[1]: r for r in amounts if r["system"] == "zeimu"}
    assert kojin["所得割額 合計（年度 2025）"]["source_value"] == -5300 == kojin["所得割額 合計（年度 2025）"]["target_value"]
