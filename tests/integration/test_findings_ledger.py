"""The findings ledger lists exactly the planted records, per defect class and per place.

The simulator plants key defects at every place the configuration can hold them (every declared
key, every reference, every check-digit identifier); the expected records are taken from its
manifest (where it planted) or computed here from the legacy bytes, never from the ledger's SQL.
"""

from collections import defaultdict

import pytest

from dagster_project.spec.mapping import load_mappings
from dagster_project.spec.references import checked_ids
from dagster_project.spec.rules import GX_LABELS

pytestmark = pytest.mark.slow

# planted class -> the ledger rule that must list its records
RULE_OF = {
    "duplicate_key": "duplicate_key", "orphan_reference": "orphan_reference",
    "invalid_mynumber": "check_digit", "invalid_hojin_bango": "check_digit", "invalid_juminhyo_cd": "check_digit",
    "unmapped_code": "unmapped_code", "impossible_date": "date_invalid", "overlong_value": "over_length",
    "halfwidth_kana": "hankaku_kana", "truncated_record": "quarantined", "overlong_record": "quarantined",
    "undecodable_bytes": "quarantined", "missing_required": "required_missing",
    "wrong_person_mynumber": "mynumber_link", "unidentified_gaiji": "charset", "csv_overlong": "legacy_overlong",
    "out_of_range": "out_of_range",
}
# rules whose every record in the ledger must have been planted (nothing occurs naturally)
EXACT = {"duplicate_key", "orphan_reference", "orphan_cascade", "check_digit", "unmapped_code", "date_invalid",
         "over_length", "hankaku_kana", "quarantined", "legacy_overlong", "out_of_range"}


@pytest.fixture(scope="module")
def mappings(project):
    return load_mappings(project)


@pytest.fixture(scope="module")
def ledger(extracted_city, query):
    out = defaultdict(set)
    for system, table, rec, rule in query(extracted_city["db"], "select system, source_table, record_no, rule_id "
                                                              "from findings.findings"):
        out[(rule, system, table)].add(rec)
    return out


def _quarantined_values(query, db, project, mt, field: str) -> set[str]:
    """The value of ``field`` in each quarantined record of the member's legacy table, read from
    the record's bytes as the layout places it (CSV: the field's position; fixed: its offsets)."""
    lf = mt.source
    idx = [f.name for f in lf.fields].index(field)
    out = set()
    for (hexed,) in query(db, f'select raw_hex from raw."{mt.system}__quarantine" where table_name = ?', lf.table):
        raw = bytes.fromhex(hexed)
        if lf.format == "fixed":
            a, b = lf.offsets[idx]
            v = raw[a:b].decode("ascii", errors="replace")
        else:
            parts = raw.decode("cp932", errors="replace").split(",")
            v = parts[idx].strip('"') if idx < len(parts) else ""
        if v.strip():
            out.add(v.strip())
    return out


def expected_findings(manifest, mappings, project, query, db):
    from dagster_project.conformance.gaiji import load_gaiji_decisions

    decided = {(d.system, d.code) for d in load_gaiji_decisions(project)}
    migrated = {(t.system, t.source.table, ri.lineage[0]) for t in mappings.tables for ri in t.items
                if ri.expr and len(ri.lineage) == 1 and ri.item.data_type == "string"}
    exp = defaultdict(set)
    for d in manifest["defects"]:
        rule = RULE_OF.get(d["class"])
        if rule is None or d.get("record_no") is None:
            continue
        if d["class"] == "unidentified_gaiji" and ((d["system"], d["char_code"]) in decided
                                                   or (d["system"], d["table"], d["field"]) not in migrated):
            continue        # decided by the owner (substituted in staging), or in a field nothing migrates
        exp[(rule, d["system"], d["table"])].add(d["record_no"])
        if d["class"] == "duplicate_key":          # the copy follows the record it copies
            exp[(rule, d["system"], d["table"])].add(d["record_no"] - 1)
    # 宛名番号 and 世帯番号 issued with a wrong check digit: every record holding one, wherever checked
    bad = sorted([d["atena_no"] for d in manifest["defects"] if d["class"] == "invalid_atena_no"]
                 + [d["setai_no"] for d in manifest["defects"] if d["class"] == "invalid_setai_no"])
    by_ref = {t.std.ref: t for t in mappings.tables}
    for c in checked_ids(mappings.references, mappings.catalog):
        if c.rule != "atena" or not bad:
            continue
        t = by_ref[c.table]
        for (rec,) in query(db, f"select _src_record_no from standard.std_{t.std.business_id}__{t.std.table_id} "
                                f"where list_contains(?, {c.column})", bad):
            exp[("check_digit", t.system, t.source.table)].add(rec)
    # the cascade: a reference whose record exists in the legacy file but was quarantined
    refs = mappings.references
    for r in refs.references:
        ks = refs.key_spaces[r.to]
        lost, present = set(), set()
        for m in ks.members:
            mt = by_ref[m.table]
            ri = next(ri for ri in mt.items if ri.item.column_name == m.column)
            lost |= _quarantined_values(query, db, project, mt, ri.lineage[0])
            where = f" where {m.where}" if m.where else ""
            present |= {v for (v,) in query(db, f"select {m.column} from standard.std_{mt.std.business_id}__"
                                                f"{mt.std.table_id}{where}")}
        t = by_ref[r.table]
        for rec, v in query(db, f"select _src_record_no, {r.column} from standard.std_{t.std.business_id}__"
                                f"{t.std.table_id} where {r.column} is not null"):
            if v not in present and v in lost:
                exp[("orphan_cascade", t.system, t.source.table)].add(rec)
    return exp


def test_every_planted_key_defect_place_is_covered(extracted_city, mappings, project):
    """The simulator planted at every declared key, reference, check-digit identifier and CSV text field."""
    manifest = extracted_city["manifest"]
    places = defaultdict(set)
    for d in manifest["defects"]:
        places[d["class"]].add((d["system"], d["table"], d["field"]))
    refs = mappings.references
    n_refs = sum(1 for r in refs.references if r.table not in {m.table for m in refs.key_spaces[r.to].members})
    assert len(places["orphan_reference"]) == n_refs
    assert len({(s, t) for s, t, _ in places["duplicate_key"]}) == sum(
        len(extracted_city["manifest"]["systems"][s]) for s in extracted_city["manifest"]["systems"])
    assert len(places["invalid_mynumber"]) >= 8 and places["invalid_juminhyo_cd"]
    assert places["invalid_setai_no"] and places["invalid_atena_no"]
    csv_fields = {(s, lf.table, f.name) for s in manifest["systems"] for lf in project.layouts[s].files
                  if lf.format == "csv" for f in lf.fields if f.type in ("text", "kana", "alpha")}
    assert places["csv_overlong"] == csv_fields


def test_the_ledger_lists_exactly_the_planted_records(extracted_city, mappings, project, query, ledger):
    db, manifest = extracted_city["db"], extracted_city["manifest"]
    exp = expected_findings(manifest, mappings, project, query, db)
    problems = []
    for key in sorted(set(exp) | {k for k in ledger if k[0] in EXACT}):
        rule = key[0]
        want, got = exp.get(key, set()), ledger.get(key, set())
        if rule in EXACT:
            if want != got:
                problems.append(f"{key}: missing {sorted(want - got)[:10]}, not planted {sorted(got - want)[:10]}")
        elif want - got:
            problems.append(f"{key}: missing {sorted(want - got)[:10]}")
    assert not problems, "\n".join(problems)
    # every class and the cascade occurred, so the comparison above compared something
    assert {k[0] for k in exp} >= EXACT


def test_every_count_is_a_count_of_the_ledger(extracted_city, query, project):
    db = extracted_city["db"]
    for s in (x.id for x in project.city.systems):
        led = dict(query(db, "select rule_id, count(*) from findings.findings where system = ? group by 1", s))
        (occ,), = query(db, "select coalesce(sum(occurrences), 0) from findings.findings "
                            "where system = ? and rule_id = 'charset'", s)
        data = dict(query(db, f'select gap_kind, sum(record_count) from gaps."gaps_{s}__data" group by 1'))
        for rule in ("date_invalid", "number_invalid", "over_length", "out_of_range", "unmapped_code",
                     "required_missing", "legacy_overlong"):
            assert int(data.get(rule) or 0) == led.get(rule, 0), (s, rule)
        conf = dict(query(db, f'select check_kind, sum(violations) from conformance."conf_{s}__findings" group by 1'))
        for rule, n in conf.items():
            assert int(n) == led.get(rule, 0), (s, rule)
        (chars,), = query(db, f'select coalesce(sum(occurrences), 0) from conformance."conf_{s}__chars"')
        assert int(chars) == int(occ), s
        codes = query(db, f'select coalesce(sum(record_count), 0) from gaps."gaps_{s}__spec" where gap_kind = '
                          "'code_unmapped'")
        assert int(codes[0][0]) == led.get("unmapped_code", 0), s


def test_the_ledger_holds_no_personal_value(extracted_city, query):
    """Internal keys and codes only: no 個人番号, name or address of the city is anywhere in it."""
    db = extracted_city["db"]
    personal = {v for (v,) in query(db, "select kojin_bango from standard.std_juki__jumin where kojin_bango is not null "
                                        "union select shimei from standard.std_juki__jumin where shimei is not null "
                                        "union select jusho from standard.std_juki__jumin where jusho is not null")}
    assert len(personal) > 1000
    values = {v for row in query(db, "select internal_key, detail, item_name from findings.findings") for v in row if v}
    assert not values & personal


# GX rule (expectation meta.rule) -> the ledger rule: both generated from spec/rules.py
GX_RULE = GX_LABELS


def test_great_expectations_counts_equal_the_ledger(extracted_city, mappings, query):
    """The ICT office's view (GX asset checks) and the owners' lists (the ledger) count the same
    records for the same rule, table and item; a GX result that raised is never a count."""
    db, res = extracted_city["db"], extracted_city["result"]
    evals = {e.asset_key.path[1]: e for e in res.get_asset_check_evaluations() if e.check_name == "gx_conformance"}
    assert len(evals) == len(mappings.tables)
    compared = 0
    for t in mappings.tables:
        e = evals[f"std_{t.std.business_id}__{t.std.table_id}"]
        gx = {}
        for r in e.metadata["failed_rules"].value:
            assert not r.get("error") and not r.get("raised"), (t.std.ref, r)
            if r["rule"] in GX_RULE:
                gx[(GX_RULE[r["rule"]], r["item"] if r["rule"] != "主キー重複" else None)] = int(r["unexpected_count"])
        led = {}
        for rule, item, n in query(db, "select rule_id, item_name, count(distinct record_no) from findings.findings "
                                       "where std_ref = ? group by 1, 2", t.std.ref):
            if rule in GX_RULE.values():
                led[(rule, item if rule != "duplicate_key" else None)] = int(n)
        assert gx == led, t.std.ref
        compared += len(led)
    assert compared >= 10
