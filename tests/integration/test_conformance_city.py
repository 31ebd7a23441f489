"""The small city's conformance: the standard character set, key conformance and the My
Number linkage audit find every planted character and key defect."""

from collections import Counter

import pytest

from dagster_project.conformance.charset import build_charset
from dagster_project.spec.mapping import load_mappings
from dagster_project.core.textcodec import sjis_to_pua

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mappings(project):
    return load_mappings(project)


def std_ref_of(mappings, system, table):
    return next(t.std.ref for t in mappings.tables if t.system == system and t.source.table == table)


def finding(query, db, system, std_ref, item_name, kind):
    r = query(db, f'select sum(violations) from conformance."conf_{system}__findings" '
              "where std_ref = ? and item_name = ? and check_kind = ?", std_ref, item_name, kind)
    return int(r[0][0] or 0)


def test_the_standard_character_set_is_built_from_the_mj_table():
    charset, index = build_charset()
    s = set(charset["ch"].to_list())
    assert index.height == 58_862
    assert {"𠮷", "髙", "﨑", "葛\U000E0102", "ア", "ー", "、", "A", "１"} <= s
    assert not {"ｱ", "\ue000", "\U000E0102"} & s


@pytest.mark.parametrize("cls,item", [("invalid_mynumber", "個人番号"), ("invalid_hojin_bango", "法人番号"),
                                      ("invalid_juminhyo_cd", "住民票コード")])
def test_planted_bad_check_digits_are_found_exactly(extracted_city, mappings, query, cls, item):
    db, manifest = extracted_city["db"], extracted_city["manifest"]
    planted = Counter((d["system"], d["table"]) for d in manifest["defects"] if d["class"] == cls)
    assert planted
    for (system, table), n in planted.items():
        assert finding(query, db, system, std_ref_of(mappings, system, table), item, "check_digit") == n


def test_atena_numbers_issued_with_a_wrong_check_digit(extracted_city, query):
    db, manifest = extracted_city["db"], extracted_city["manifest"]
    bad = [d["atena_no"] for d in manifest["defects"] if d["class"] == "invalid_atena_no"]
    assert bad
    rows = query(db, "select count(*) from standard.std_juki__jumin where list_contains(?, atena_no)", bad)[0][0]
    assert rows > 0
    assert finding(query, db, "jumin", "juki.jumin", "宛名番号", "check_digit") == rows


# duplicate keys, orphans and the cascade are compared record by record with the planted ones in
# test_findings_ledger.py (every declared key and reference)


def test_wrong_person_links_are_doubtful_and_bad_numbers_are_not_in_the_register(extracted_city, mappings, query):
    db, manifest = extracted_city["db"], extracted_city["manifest"]
    wrong = [d for d in manifest["defects"] if d["class"] == "wrong_person_mynumber"]
    assert wrong
    for d in wrong:
        ref = std_ref_of(mappings, d["system"], d["table"])
        rows = query(db, f'select audit_class from conformance."conf_{d["system"]}__mynumber_audit" '
                     "where std_ref = ? and _sample like ?", ref, f"%（{d['record_no']}行目）")
        assert rows and rows[0][0] in ("3/4", "≤2/4"), d
    invalid = Counter((d["system"], d["table"]) for d in manifest["defects"] if d["class"] == "invalid_mynumber")
    for (system, table), n in invalid.items():
        ref = std_ref_of(mappings, system, table)
        if ref in ("kojin_jumin.atena", "juki.jumin"):
            continue      # 住登外 rows and the register itself are not audited against the register
        (cnt,), = query(db, f'select count(*) from conformance."conf_{system}__mynumber_audit" '
                        "where std_ref = ? and audit_class = '住基に該当なし'", ref)
        assert cnt >= n


def test_every_doubtful_link_is_explained(extracted_city, mappings, query):
    """A doubtful link that was not planted must have an explanation the reviewer can see:
    an unidentified 外字 in one of the names, or a name changed by a planted 外字 defect."""
    db, manifest = extracted_city["db"], extracted_city["manifest"]
    planted = {(d["system"], d["table"], d["record_no"]) for d in manifest["defects"] if d["class"] == "wrong_person_mynumber"}
    orphans = {(d["system"], d["table"], d["record_no"]) for d in manifest["defects"] if d["class"] == "orphan_reference"}
    gaiji_people = {d["record_no"] for d in manifest["defects"]
                    if d["class"] == "unidentified_gaiji" and d["system"] == "jumin"}
    for t in mappings.tables:
        if not any(ri.item.column_name == "kojin_bango" for ri in t.items) or t.std.ref in ("juki.jumin", "kojin_jumin.atena"):
            continue
        rows = query(db, f'select _sample, audit_class, shimei_has_gaiji, match_shimei, register_atena_no, '
                     f'record_person_found from conformance."conf_{t.system}__mynumber_audit" '
                     f'where std_ref = ? and audit_class in (\'3/4\', \'≤2/4\')', t.std.ref)
        for sample, cls, gaiji, name_ok, reg, found in rows:
            line = int(sample.split("（")[1].rstrip("行目）"))
            if (t.system, t.source.table, line) in planted | orphans or gaiji:
                continue      # an orphan's missing 4情報 come from a register record that is not there
            if not found:   # the record's own 宛名番号 is nowhere: a planted orphan
                assert (t.system, t.source.table, line) in orphans, (t.std.ref, sample)
                continue
            # the register name itself carries a planted 外字 change
            lines = {r[0] for r in query(db, "select _src_record_no from standard.std_juki__jumin where atena_no = ?", reg)}
            assert not name_ok and lines & gaiji_people, (t.std.ref, sample, cls)


def test_unidentified_gaiji_are_open_and_a_decision_closes_one(extracted_city, query):
    db = extracted_city["db"]
    chars = {r[0] for r in query(db, "select ch from conformance.conf_jumin__chars")}
    used = {r[0]: r[1] for r in query(db, "select sjis_code, bool_or(substituted_with is not null) "
                                          "from meta.gaiji_usage where system = 'jumin' group by 1")}
    decided = {"F045"}                              # mappings/gaiji/decisions.csv
    assert {"F045", "F0A0"} <= set(used)            # both planted in the small city
    for code, identified in used.items():
        pua = sjis_to_pua(code)
        if identified or code in decided:
            assert pua not in chars, code           # substituted at extract or in staging
        else:
            assert pua in chars, code               # still to identify: open
    (occ,), = query(db, "select count(*) from standard.std_juki__jumin where contains(shimei, '㟢')")
    assert occ > 0                                  # the decision was applied in staging


def test_the_gaiji_list_gives_candidates_and_status(extracted_city, project):
    from openpyxl import load_workbook

    ws = load_workbook(extracted_city["reports"] / "jumin" / "gaiji_list_jumin.xlsx")["外字同定リスト"]
    header = [c.value for c in ws[1]]
    rows = {r[1]: dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["F0A0"]["ベンダー外字表の記載"] == "ベンダー外字表に記載なし" and rows["F0A0"]["状態"] == "未同定"
    assert "F045" not in rows                       # decided: no longer a non-standard character
    for code, r in rows.items():                    # a vendor code with a 住基 code finds its MJ character
        g = next((g for g in project.gaiji["jumin"] if g.code == code), None)
        if g and g.juki_code:
            assert "MJ" in r["同定候補（MJ）"], code


def test_gx_suites_run_as_asset_checks_and_find_planted_duplicates(extracted_city, mappings):
    res = extracted_city["result"]
    evals = {e.asset_key.path[1]: e for e in res.get_asset_check_evaluations() if e.check_name == "gx_conformance"}
    assert len(evals) == len(mappings.tables)
    manifest = extracted_city["manifest"]
    dups = Counter((d["system"], d["table"]) for d in manifest["defects"] if d["class"] == "duplicate_key")
    for (system, table), n in dups.items():
        t = next(t for t in mappings.tables if t.system == system and t.source.table == table)
        e = evals[f"std_{t.std.business_id}__{t.std.table_id}"]
        assert not e.passed
        rules = {r["rule"]: r["unexpected_count"] for r in e.metadata["failed_rules"].value}
        assert rules["主キー重複"] >= 2 * n       # every row of a duplicated key is unexpected


def test_data_docs_hold_no_personal_data(extracted_city, query):
    docs = extracted_city["reports"].parent / "gx_docs"
    pages = list(docs.rglob("*.html"))
    assert len(pages) > 30
    names = {r[0] for r in query(extracted_city["db"], "select shimei from standard.std_juki__jumin where shimei is not null")}
    numbers = {r[0] for r in query(extracted_city["db"], "select kojin_bango from standard.std_juki__jumin where kojin_bango is not null")}
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    assert not [n for n in names if len(n) >= 4 and n in text]
    assert not [n for n in numbers if n in text]


def test_planted_halfwidth_kana_is_found_exactly(extracted_city, mappings, query):
    db, manifest = extracted_city["db"], extracted_city["manifest"]
    planted = Counter((d["system"], d["table"], d["field"]) for d in manifest["defects"] if d["class"] == "halfwidth_kana")
    assert planted
    for (system, table, field), n in planted.items():
        t = next(t for t in mappings.tables if t.system == system and t.source.table == table)
        item = next(ri.item.item_name for ri in t.items if ri.lineage == (field,))
        assert finding(query, db, system, t.std.ref, item, "hankaku_kana") == n, (system, table, field)


def test_unidentified_gaiji_occurrences_are_found_exactly(extracted_city, mappings, query, project):
    """Every vendor 外字 the extract could not substitute and nobody has decided appears in the
    standard tables' non-conforming characters exactly as often as the simulator wrote it."""
    from dagster_project.conformance.gaiji import load_gaiji_decisions

    db, manifest = extracted_city["db"], extracted_city["manifest"]
    decided = {(d.system, d.code) for d in load_gaiji_decisions(project)}
    expected = Counter()
    for g in manifest["gaiji"]:
        if g["knows"] == "ucs" or (g["system"], g["code"]) in decided:
            continue
        for t in mappings.tables:
            if t.system == g["system"] and t.source.table == g["table"]:
                for ri in t.items:
                    if ri.expr and ri.expr.strip() == g["field"] and ri.item.data_type == "string":
                        expected[(g["system"], t.std.ref, ri.item.item_name, sjis_to_pua(g["code"]))] += g["occurrences"]
    assert expected
    found = Counter()
    for s in {k[0] for k in expected}:
        for ref, item, ch, occ in query(db, f'select std_ref, item_name, ch, occurrences from conformance."conf_{s}__chars"'):
            if "\ue000" <= ch[0] <= "\ue757":
                found[(s, ref, item, ch)] += occ
    assert found == expected
