"""Generate the findings ledger: one row per affected record and rule, per current system.

A system owner must correct or decide on every affected record before cutover (the 2023
総点検 asked for 全データ点検, not a sample). ``findings.fnd_<system>`` therefore lists every
record each rule finds, nothing capped: data gaps (per item flag), legacy values longer than the
layout declares, field rules, keys (null, duplicate, 履歴番号 contiguity), check digits of every
identifier, every declared reference (``mappings/references.yaml``, with the cascade to a
quarantined record as a reason of its own), characters outside 行政事務標準文字, quarantined
records, and doubtful My Number links. ``findings.findings`` is their union.

Each row names the record by system, legacy table and file, physical record number and the
table's internal key (宛名番号 or the table's own key; never names or 個人番号); ``occurrences`` is how often a character occurs in
the value (charset), 1 for every other rule. Rule labels and
severities are the seed ``finding_rules`` joined in SQL. The counts the gates and reports read
(``gaps_<system>__data``, ``conf_<system>__findings``, ``conf_<system>__chars`` and the code
counts of ``gaps_<system>__spec``) are aggregates of this table, so a count and its list can
never disagree.
"""

from __future__ import annotations

from dagster_project.core.names import GEN_MODELS, HEADER, int_name, q, stg_name
from dagster_project.spec.mapping import MappingSet, ResolvedTable
from dagster_project.spec.references import checked_ids
from dagster_project.spec.rules import charset_applies, field_rules_for

DATA_RULES = ("date_invalid", "number_invalid", "over_length", "out_of_range", "unmapped_code", "required_missing",
              "legacy_overlong")
CONF_CATEGORIES = ("key", "field")

# a few records of a group, as an owner reads them: internal key and line (the full list is the ledger)
SAMPLES = "{{ kikan.sample_list(\"coalesce(internal_key, '') || '（' || cast(record_no as string) || '行目）'\") }}"
# the columns of every branch of the ledger, in order
COLS = ["source_table", "source_file", "record_no", "std_ref", "item_id", "item_name", "internal_key",
        "rule_id", "gap_id", "detail"]


def fnd_name(system: str) -> str:
    return f"fnd_{system}"


def _row(t: ResolvedTable | None, *, source_table: str, source_file: str, record_no: str, item=None,
         key: str = "_key", rule: str, gap_id: str | None = None, detail: str = "cast(null as string)",
         frm: str, where: str) -> str:
    """One branch of the ledger: ``select <COLS> from frm where where``."""
    std_ref = q(t.std.ref) if t else "cast(null as string)"
    item_id = q(item.item_id) if item else "cast(null as string)"
    item_name = q(item.item_name) if item else "cast(null as string)"
    gap = gap_id or "cast(null as string)"
    return (f"select {q(source_table)} as source_table, {q(source_file)} as source_file, "
            f"cast({record_no} as bigint) as record_no, {std_ref} as std_ref, {item_id} as item_id, "
            f"{item_name} as item_name, cast({key} as string) as internal_key, {rule} as rule_id, "
            f"{gap} as gap_id, cast({detail} as string) as detail\n        from {frm}\n        where {where}")


def _check_digit_sql(rule: str, c: str, city) -> str:
    if rule == "mynumber":
        return "{{ kikan.mynumber_ok('" + c + "') }}"
    if rule == "hojin":
        return "{{ kikan.hojin_ok('" + c + "') }}"
    if rule == "juminhyo":
        return "{{ kikan.m11_ok('" + c + "', 11, " + str(list(city.juminhyo_weights)) + ") }}"
    if rule == "atena":
        # 宛名番号・世帯番号: modulus 11 weights 2–7 over the base digits, the city's length
        return "{{ kikan.m11_ok('" + c + "', 10) }}"
    raise ValueError(rule)


def ledger_sql(project, mappings: MappingSet, system: str) -> str:
    city = project.city.city
    layout = project.layouts[system]
    tables = mappings.for_system(system)
    refs = mappings.references
    by_ref = {t.std.ref: t for t in mappings.tables}
    ids = {(c.table, c.column): c for c in checked_ids(refs, mappings.catalog)}
    parts: list[str] = []

    # legacy tables: their file and the internal key shown for legacy-level findings
    key_of: dict[str, str] = {}
    for t in tables:
        key_of.setdefault(t.source.table, t.sample_key)
    for lf in layout.files:
        key_of.setdefault(lf.table, lf.key[0])

    for t in tables:
        src = f"{{{{ ref('{int_name(t)}') }}}}"
        st, sf = t.source.table, t.source.file
        base = dict(source_table=st, source_file=sf, record_no="_src_record_no")
        items = {ri.item.column_name: ri for ri in t.items}
        for ri in t.items:
            it = ri.item
            c = it.column_name
            if ri.expr is None:
                continue
            gid = f"{q(system + ':' + t.std.ref + '.' + it.item_id + ':')} || {c}__flag"
            detail = f"case when {c}__flag = 'unmapped_code' then {c}__legacy end" if ri.codemap is not None \
                else "cast(null as string)"
            parts.append(_row(t, **base, item=it, rule=f"{c}__flag", gap_id=gid, detail=detail, frm=src,
                              where=f"{c}__flag is not null"))
            checks = [(r.rule_id, r.sql(c)) for r in field_rules_for(it)]
            cd = ids.get((t.std.ref, c))
            if cd:
                checks.append(("check_digit", f"{c} is not null and not " + _check_digit_sql(cd.rule, c, city)))
            if it.data_type == "code" and it.code_table:
                checks.append(("code_not_in_table", f"o.{c} is not null and not exists (select 1 from "
                               "{{ ref('std_codes') }} k where k.code_table = " + q(it.code_table)
                               + f" and k.code = o.{c})"))
            for rule, where in checks:
                parts.append(_row(t, **base, item=it, rule=q(rule), frm=src + " o", where=where))

        # keys: null, duplicate (every record of the group), 履歴番号 contiguity (every record of the person)
        key = t.std.key
        if key:
            kit = items[key[0]].item
            parts.append(_row(t, **base, item=kit, rule="'null_key'", frm=src,
                              where=" or ".join(f"{k} is null" for k in key)))
            on = " and ".join(f"o.{k} = d.{k}" for k in key)
            cols = ", ".join(key)
            parts.append(_row(t, **base, item=kit, rule="'duplicate_key'",
                              frm=f"{src} o\n        inner join (select {cols} from {src} group by {cols} "
                                  f"having count(*) > 1) d on {on}", where="true"))
            if {"atena_no", "rireki_no"} <= set(key):
                parts.append(_row(t, **base, item=items["rireki_no"].item, rule="'rireki_gap'",
                                  frm=f"{src} o\n        inner join (select atena_no from {src} where rireki_no is "
                                      "not null group by atena_no having min(try_cast(rireki_no as integer)) <> 1 or "
                                      "max(try_cast(rireki_no as integer)) <> count(distinct rireki_no)) r "
                                      "on o.atena_no = r.atena_no", where="true"))

        # every declared reference: orphan, or cascade when the referenced record was quarantined
        for r in refs.references:
            if r.table != t.std.ref or r.column not in items or items[r.column].expr is None:
                continue
            ks = refs.key_spaces[r.to]
            c = r.column
            missing, quarantined = [], []
            for m in ks.members:
                mt = by_ref[m.table]
                cond = f" and ({m.where})" if m.where else ""
                missing.append(f"not exists (select 1 from {{{{ ref('{int_name(mt)}') }}}} m "
                               f"where m.{m.column} = o.{c}{cond})")
                quarantined.append(f"select 1 from {{{{ source('raw', '{mt.system}__quarantine') }}}} qr "
                                   f"where qr.table_name = {q(mt.source.table)} and "
                                   + _in_quarantined_field(mt, m.column, f"o.{c}"))
            rule = (f"case when exists ({' union all '.join(quarantined)}) "
                    "then 'orphan_cascade' else 'orphan_reference' end")
            parts.append(_row(t, **base, item=items[c].item, rule=rule, detail=f"o.{c}", frm=src + " o",
                              where=f"o.{c} is not null and " + " and ".join(missing)))

    # legacy values longer than the layout declares (CSV; fixed-width records cannot be): per
    # record and field, at the first standard item the field feeds
    feeds: dict[tuple[str, str], tuple[ResolvedTable, object]] = {}
    for t in tables:
        for ri in t.items:
            for f in ri.lineage:
                feeds.setdefault((t.source.table, f), (t, ri.item))
    for lf in layout.files:
        if lf.format != "csv":
            continue
        stg = f"{{{{ ref('{stg_name(system, lf.table)}') }}}}"
        for f in lf.fields:
            t, it = feeds.get((lf.table, f.name), (None, None))
            gid = (q(f"{system}:{t.std.ref}.{it.item_id}:legacy_overlong") if it
                   else q(f"{system}:{lf.table}.{f.name}:legacy_overlong"))
            parts.append(_row(t, source_table=lf.table, source_file=lf.file, record_no="_record_no", item=it,
                              key=key_of[lf.table], rule="'legacy_overlong'", gap_id=gid, detail=q(f.name),
                              frm=stg, where=f"concat(',', _overlong, ',') like {q('%,' + f.name + ',%')}"))

    # quarantined records: read nothing of them but where they are and why
    parts.append(
        "select table_name as source_table, file_name as source_file, record_no, cast(null as string) as std_ref, "
        "cast(null as string) as item_id, cast(null as string) as item_name, cast(null as string) as internal_key, "
        "'quarantined' as rule_id, cast(null as string) as gap_id, "
        "reason_code || coalesce(':' || field_name, '') as detail\n"
        f"        from {{{{ source('raw', '{system}__quarantine') }}}}")

    # doubtful My Number links (the audit compares each record's 4情報 with the register)
    audited = [t for t in tables if _audited(t)]
    if audited:
        ids = " ".join(f"when {q(t.std.ref)} then {q(ri.item.item_id)}" for t in audited for ri in t.items
                       if ri.item.column_name == "kojin_bango")
        parts.append(
            f"select source_table, source_file, record_no, std_ref, case std_ref {ids} end as item_id, "
            "'個人番号' as item_name, "
            "atena_no as internal_key, 'mynumber_link' as rule_id, cast(null as string) as gap_id, "
            "audit_class as detail\n"
            f"        from {{{{ ref('conf_{system}__mynumber_audit') }}}}\n        where audit_class <> '4/4'")

    hits = "\n    union all\n    ".join(parts)
    return (HEADER + f"-- findings ledger of {system}: one row per affected record and rule, nothing capped\n"
            + "with hits as (\n    " + hits + "\n),\n"
            + "chars as (\n    select source_table, source_file, record_no, std_ref, item_id, item_name, internal_key,\n"
            + "        'charset' as rule_id, cast(null as string) as gap_id, ch as detail, occurrences\n"
            + f"    from {{{{ ref('fnd_{system}__chars') }}}}\n),\n"
            + "rules as (\n    select rule_id, severity, label_ja from {{ ref('finding_rules') }}\n),\n"
            + "all_hits as (\n    select *, cast(1 as bigint) as occurrences from hits\n    union all\n    select * from chars\n),\n"
            + "final as (\n    select\n"
            + f"        concat_ws('|', {q(system)}, h.rule_id, coalesce(h.std_ref, ''), coalesce(h.item_id, ''),\n"
            + "            h.source_table, cast(h.record_no as string), coalesce(h.detail, '')) as finding_id,\n"
            + f"        {q(system)} as system,\n"
            + "        h.source_table, h.source_file, h.record_no, h.std_ref, h.item_id, h.item_name,\n"
            + "        h.internal_key, h.rule_id,\n"
            + f"        coalesce(h.gap_id, {q(system + ':')} || coalesce(h.std_ref || '.' || h.item_id, h.source_table) "
            + "|| ':' || h.rule_id) as gap_id,\n"
            + "        r.severity, r.label_ja as reason, h.detail,\n"
            + "        h.occurrences\n"
            + "    from all_hits h\n    left join rules r on r.rule_id = h.rule_id\n)\n"
            + "select * from final\n")


def _in_quarantined_field(mt: ResolvedTable, column: str, value: str) -> str:
    """SQL: ``value`` is the member field of a quarantined record, read from its bytes (hex) where
    the layout puts it. Fixed width: the field's byte range starts with the value. CSV: the value
    is a whole field (between delimiters, or quoted) anywhere in the record: a quarantined CSV
    record may have lost or gained a field, so its position cannot be trusted, but a key that
    stands as a field of its own is the record the reference meant."""
    ri = next(ri for ri in mt.items if ri.item.column_name == column)
    lf = mt.source
    field = ri.lineage[0]
    h = f"upper(hex({value}))"
    if lf.format == "fixed":
        start, end = lf.offsets[[f.name for f in lf.fields].index(field)]
        return (f"left(substr(qr.raw_hex, {2 * start + 1}, {2 * (end - start)}), length({h})) = {h}")
    return (f"(contains('2C' || qr.raw_hex || '2C', '2C' || {h} || '2C') "
            f"or contains(qr.raw_hex, '22' || {h} || '22'))")


def _audited(t: ResolvedTable) -> bool:
    cols = {ri.item.column_name for ri in t.items}
    return "kojin_bango" in cols and (t.std.business_id, t.std.table_id) != ("juki", "jumin") and \
        any(c in cols for c in ("atena_no", "nushi_atena_no"))


def chars_ledger_sql(system: str, tables: list[ResolvedTable]) -> str:
    """Every (record, item, character) outside the standard set.

    Each distinct value is split once, not each row (a city's names and addresses repeat: 1.9 M
    values were 0.2 M distinct in the 20k city), and split with ``string_split`` unless it holds
    an IVS selector; only the values that hold an outside character are joined back to rows.
    """
    parts = []
    for t in tables:
        for ri in t.items:
            it = ri.item
            if ri.expr is None or not charset_applies(it):
                continue
            c = it.column_name
            parts.append(
                f"select {q(t.source.table)} as source_table, {q(t.source.file)} as source_file, "
                f"_src_record_no as record_no, {q(t.std.ref)} as std_ref, {q(it.item_id)} as item_id, "
                f"{q(it.item_name)} as item_name, _key as internal_key, {c} as v "
                f"from {{{{ ref('{int_name(t)}') }}}} where {c} is not null and {c} <> ''")
    body = "\n    union all\n    ".join(parts) if parts else (
        "select " + ", ".join(f"cast(null as string) as {c}" for c in ("source_table", "source_file"))
        + ", cast(null as bigint) as record_no, " + ", ".join(
            f"cast(null as string) as {c}" for c in ("std_ref", "item_id", "item_name", "internal_key", "v"))
        + " where 1 = 0")
    return (HEADER + f"-- characters of {system}'s standard text items that are not 行政事務標準文字, per record\n"
            + "with vals as (\n    " + body + "\n),\n"
            + "distinct_vals as (\n    select distinct v from vals\n),\n"
            + "split as (\n    select v, unnest({{ kikan.split_chars('v') }}) as ch from distinct_vals\n),\n"
            + "outside as (\n    select v, ch, count(*) as occurrences from split s\n    where not exists (\n"
            + "        select 1 from {{ source('reference', 'std_charset') }} c where c.ch = s.ch)\n    group by v, ch\n),\n"
            + "final as (\n    select vals.source_table, vals.source_file, vals.record_no, vals.std_ref, vals.item_id,\n"
            + "        vals.item_name, vals.internal_key, o.ch, o.occurrences\n"
            + "    from vals\n    inner join outside o on o.v = vals.v\n)\nselect * from final\n")


def union_sql(systems: list[str]) -> str:
    body = "\n    union all\n    ".join(f"select * from {{{{ ref('{fnd_name(s)}') }}}}" for s in systems)
    return (HEADER + "-- the findings ledger of every system (one row per affected record and rule)\n"
            + "with ledgers as (\n    " + body + "\n)\nselect * from ledgers\n")


# --------------------------------------------------------------------------- counts from the ledger

def data_gaps_sql(system: str) -> str:
    rules = ", ".join(q(r) for r in DATA_RULES)
    return (HEADER + f"-- data gaps of {system}: per standard item and kind, counted from the findings ledger\n"
            + f"with ledger as (\n    select * from {{{{ ref('{fnd_name(system)}') }}}} where rule_id in ({rules})\n),\n"
            + "final as (\n    select\n"
            + f"        {q(system)} as system,\n"
            + "        gap_id,\n        min(rule_id) as gap_kind,\n"
            + "        min(split_part(std_ref, '.', 1)) as business_id,\n"
            + "        min(split_part(std_ref, '.', 2)) as table_id,\n"
            + "        min(item_id) as item_id,\n        min(item_name) as item_name,\n"
            + "        count(*) as record_count,\n"
            + "        " + SAMPLES
            + " as samples\n"
            + "    from ledger\n    group by gap_id\n)\nselect * from final\n")


def conf_findings_sql(system: str) -> str:
    return (HEADER + f"-- field rules and key conformance of {system}, counted from the findings ledger\n"
            + f"with ledger as (\n    select l.* from {{{{ ref('{fnd_name(system)}') }}}} l\n"
            + "    inner join {{ ref('finding_rules') }} r on r.rule_id = l.rule_id\n"
            + f"    where r.category in ({', '.join(q(c) for c in CONF_CATEGORIES)})\n),\n"
            + "final as (\n    select\n"
            + f"        {q(system)} as system,\n"
            + f"        {q(system + ':')} || std_ref || '.' || item_id || ':' || rule_id as finding_id,\n"
            + "        rule_id as check_kind, std_ref, item_id, min(item_name) as item_name,\n"
            + "        count(*) as violations,\n"
            + "        " + SAMPLES
            + " as samples\n"
            + "    from ledger\n    group by rule_id, std_ref, item_id\n)\nselect * from final\n")


def conf_chars_sql(system: str) -> str:
    return (HEADER + f"-- characters of {system} outside 行政事務標準文字, counted from the findings ledger\n"
            + f"with ledger as (\n    select * from {{{{ ref('{fnd_name(system)}') }}}} where rule_id = 'charset'\n),\n"
            + "final as (\n    select\n"
            + f"        {q(system)} as system, std_ref, item_id, min(item_name) as item_name, detail as ch,\n"
            + "        {{ kikan.codepoints('detail') }} as codepoints,\n"
            + "        sum(occurrences) as occurrences, count(distinct record_no) as records,\n"
            + "        " + SAMPLES
            + " as samples\n"
            + "    from ledger\n    group by std_ref, item_id, detail\n)\nselect * from final\n")


def code_counts_sql(system: str) -> str:
    """The code_counts CTE of the spec gaps: records per unmapped legacy code, from the ledger."""
    return ("select std_ref, item_id, detail as legacy_value, count(*) as record_count, "
            + SAMPLES + f" as samples from {{{{ ref('{fnd_name(system)}') }}}} where rule_id = 'unmapped_code' "
            "group by std_ref, item_id, detail")


def render_findings(project, mappings: MappingSet) -> tuple[dict, list[dict]]:
    files, models = {}, []
    systems = [s.id for s in project.city.systems]
    for s in systems:
        ts = mappings.for_system(s)
        files[GEN_MODELS / "findings" / s / f"{fnd_name(s)}.sql"] = ledger_sql(project, mappings, s)
        files[GEN_MODELS / "findings" / s / f"{fnd_name(s)}__chars.sql"] = chars_ledger_sql(s, ts)
        models.append({"name": fnd_name(s),
                       "description": f"{project.city.system(s).name}の指摘一覧（対象レコードごと・規則ごとに1行、上限なし）",
                       "config": {"meta": {"system": s}, "tags": [s, "findings"]},
                       "columns": [{"name": "finding_id", "data_tests": ["unique", "not_null"]},
                                   {"name": "record_no", "data_tests": ["not_null"]},
                                   {"name": "severity", "data_tests": ["not_null"]}]})
        models.append({"name": f"{fnd_name(s)}__chars", "config": {"meta": {"system": s}, "tags": [s, "findings"]}})
    files[GEN_MODELS / "findings" / "findings.sql"] = union_sql(systems)
    models.append({"name": "findings", "description": "全システムの指摘一覧（対象レコードごと・規則ごとに1行）",
                   "config": {"materialized": "view", "meta": {"group": "bookkeeping"}, "tags": ["findings"]}})
    return files, models
