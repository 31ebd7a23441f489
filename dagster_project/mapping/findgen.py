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
never disagree. A row's columns are the macro ``kikan.finding`` (dbt/macros/mapping.sql).
"""

from __future__ import annotations

from dagster_project.core.names import GEN_MODELS, fnd_name, int_name, q, stg_name
from dagster_project.mapping.sqlread import JinjaExpr, header, macro_call, render
from dagster_project.spec.mapping import MappingSet, ResolvedTable
from dagster_project.spec.references import checked_ids
from dagster_project.spec.rules import charset_applies, field_rules_for

DATA_RULES = ("date_invalid", "number_invalid", "over_length", "out_of_range", "unmapped_code", "required_missing",
              "legacy_overlong")
CONF_CATEGORIES = ("key", "field")
CITY = "mappings/city.yaml"
# the columns of every findings ledger (fnd_<system>), in order
LEDGER_COLUMNS = ("finding_id", "system", "source_table", "source_file", "record_no", "std_ref", "item_id", "item_name",
                  "internal_key", "rule_id", "gap_id", "severity", "reason", "detail", "occurrences")


def _ref(model: str) -> str:
    return "{{ ref('" + model + "') }}"


def _system_files(system: str) -> list[str]:
    return [f"mappings/{system}/mapping.yaml", f"mappings/{system}/layout.yaml"]


def _branch(t: ResolvedTable | None, *, source_table: str, source_file: str, item=None, frm: str, where: str | None,
            comment: str | None = None, rule_block: str | None = None, **finding) -> dict:
    """One branch of the ledger: its kikan.finding call (``finding``: rule or rule_sql, record_no,
    key, gap_id, detail), FROM and WHERE. ``rule_block``: SQL of the rule that reads other models,
    set as the model's Jinja variable ``rule`` above the branch and given as rule_sql."""
    if rule_block is not None:
        finding["rule_sql"] = JinjaExpr("rule")
    columns = macro_call("finding", source_table, source_file, t.std.ref if t else None,
                         item.item_id if item else None, item.item_name if item else None, indent=11, **finding)
    return {"columns": columns, "from": frm, "where": where, "comment": comment, "rule_block": rule_block}


def _check_digit_sql(rule: str, c: str, city) -> str:
    if rule == "mynumber":
        return macro_call("mynumber_ok", c)
    if rule == "hojin":
        return macro_call("hojin_ok", c)
    if rule == "juminhyo":
        return macro_call("m11_ok", c, 11, list(city.juminhyo_weights))
    if rule == "atena":
        # 宛名番号・世帯番号: modulus 11 weights 2–7 over the base digits, the city's length
        return macro_call("m11_ok", c, 10)
    raise ValueError(rule)


def ledger_sql(project, mappings: MappingSet, system: str) -> str:
    city = project.city.city
    layout = project.layouts[system]
    tables = mappings.for_system(system)
    refs = mappings.references
    by_ref = {t.std.ref: t for t in mappings.tables}
    refs_of: dict[str, list] = {}   # each table's declared references, in the file's order (one pass)
    for r in refs.references:
        refs_of.setdefault(r.table, []).append(r)
    ids = {(c.table, c.column): c for c in checked_ids(refs, mappings.catalog)}
    branches: list[dict] = []
    ctes: list[dict] = []
    read_systems: set[str] = set()

    # legacy tables: their file and the internal key shown for legacy-level findings
    key_of: dict[str, str] = {}
    for t in tables:
        key_of.setdefault(t.source.table, t.sample_key)
    for lf in layout.files:
        key_of.setdefault(lf.table, lf.key[0])

    for t in tables:
        src = _ref(int_name(t))
        base = dict(source_table=t.source.table, source_file=t.source.file)
        items = {ri.item.column_name: ri for ri in t.items}
        for ri in t.items:
            it = ri.item
            c = it.column_name
            if ri.expr is None:
                continue
            branches.append({
                "columns": macro_call("flag_finding", system, t.source.table, t.source.file, t.std.ref, it.item_id,
                                      it.item_name, c, code=ri.codemap is not None or None, indent=11),
                "from": src, "where": f"{c}__flag is not null", "comment": f"{t.std.ref}.{it.item_id} {it.item_name}",
                "rule_block": None})
            checks = [(r.rule_id, r.sql(c)) for r in field_rules_for(it)]
            cd = ids.get((t.std.ref, c))
            if cd:
                checks.append(("check_digit", f"{c} is not null and not " + _check_digit_sql(cd.rule, c, city)))
            if it.data_type == "code" and it.code_table:
                checks.append(("code_not_in_table",
                               f"o.{c} is not null\nand not exists (\n"
                               f"    select 1 from {_ref('std_codes')} as k\n"
                               f"    where k.code_table = {q(it.code_table)} and k.code = o.{c}\n)"))
            for rule, where in checks:
                branches.append(_branch(t, **base, item=it, rule=rule, frm=src + (" as o" if "o." in where else ""),
                                        where=where))

        # keys: null, duplicate (every record of the group), 履歴番号 contiguity (every record of the person)
        key = t.std.key
        if key:
            kit = items[key[0]].item
            branches.append(_branch(t, **base, item=kit, rule="null_key", frm=src,
                                    comment=f"{t.std.ref}: keys", where=" or ".join(f"{k} is null" for k in key)))
            dup = f"duplicate_keys__{t.std.business_id}__{t.std.table_id}"
            ctes.append({"name": dup, "comment": f"the keys of {t.std.ref} that more than one record has",
                         "sql": ("select" + ("\n    " + ",\n    ".join(key) if len(key) > 1 else f" {key[0]}")
                                 + f"\nfrom {src}\ngroup by {', '.join(key)}\nhaving count(*) > 1")})
            branches.append(_branch(
                t, **base, item=kit, rule="duplicate_key", where=None,
                frm=f"{src} as o\ninner join {dup} as d\n    on " + " and ".join(f"o.{k} = d.{k}" for k in key)))
            if {"atena_no", "rireki_no"} <= set(key):
                gap = f"rireki_gaps__{t.std.business_id}__{t.std.table_id}"
                ctes.append({"name": gap, "comment": f"the persons of {t.std.ref} whose 履歴番号 are not 1, 2, 3, ...",
                             "sql": (f"select atena_no\nfrom {src}\nwhere rireki_no is not null\ngroup by atena_no\n"
                                     "having\n    min(try_cast(rireki_no as integer)) <> 1\n"
                                     "    or max(try_cast(rireki_no as integer)) <> count(distinct rireki_no)")})
                branches.append(_branch(
                    t, **base, item=items["rireki_no"].item, rule="rireki_gap", where=None,
                    frm=f"{src} as o\ninner join {gap} as r on o.atena_no = r.atena_no"))

        # every declared reference: orphan, or cascade when the referenced record was quarantined
        for r in refs_of.get(t.std.ref, []):
            if r.column not in items or items[r.column].expr is None:
                continue
            ks = refs.key_spaces[r.to]
            c = r.column
            missing, quarantined = [], []
            for m in ks.members:
                mt = by_ref[m.table]
                read_systems.add(mt.system)
                cond = f" and ({_qualified(m.where, 'm')})" if m.where else ""
                missing.append(f"not exists (\n    select 1 from {_ref(int_name(mt))} as m\n"
                               f"    where m.{m.column} = o.{c}{cond}\n)")
                quarantined.append(f"select 1 from {{{{ source('raw', '{mt.system}__quarantine') }}}} as qr\n"
                                   f"where\n    qr.table_name = {q(mt.source.table)}\n"
                                   f"    and {_in_quarantined_field(mt, m.column, f'o.{c}')}")
            rule = ("case when exists (\n    " + "\n    union all\n    ".join(x.replace("\n", "\n    ")
                                                                           for x in quarantined)
                    + "\n) then 'orphan_cascade' else 'orphan_reference' end")
            branches.append(_branch(t, **base, item=items[c].item, rule_block=rule, detail=f"o.{c}",
                                    frm=src + " as o", comment=f"{t.std.ref}.{c} refers to {r.to}",
                                    where=f"o.{c} is not null\nand " + "\nand ".join(missing)))

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
        stg = _ref(stg_name(system, lf.table))
        for f in lf.fields:
            t, it = feeds.get((lf.table, f.name), (None, None))
            gid = (q(f"{system}:{t.std.ref}.{it.item_id}:legacy_overlong") if it
                   else q(f"{system}:{lf.table}.{f.name}:legacy_overlong"))
            branches.append(_branch(t, source_table=lf.table, source_file=lf.file, record_no="_record_no", item=it,
                                    key=key_of[lf.table], rule="legacy_overlong", gap_id=gid, detail=q(f.name),
                                    frm=stg, comment=f"{lf.file} {f.name}: longer than the layout says",
                                    where=f"concat(',', _overlong, ',') like {q('%,' + f.name + ',%')}"))

    audited = [(t.std.ref, ri.item.item_id) for t in tables if _audited(t) for ri in t.items
               if ri.item.column_name == "kojin_bango"]
    # the systems whose records it refers to: their mapping and layout say where a record is
    others = ["mappings/*/layout.yaml", "mappings/*/mapping.yaml"] if read_systems - {system} else []
    sources = ["mappings/references.yaml"] + (others or _system_files(system))
    return render("findings_ledger.sql.j2", header=header(sources),
                  system=system, branches=branches, ctes=ctes, audited=audited, ledger=fnd_name(system))


def _qualified(sql: str, table: str) -> str:
    """A condition of references.yaml over a member table, its columns qualified with the member's
    alias (inside ``exists (select 1 from <member> as m ...)`` an unqualified column is the
    member's already: the same reading, said plainly)."""
    import sqlglot
    from sqlglot import exp

    from dagster_project.mapping.sqlread import _lower_keywords

    tree = sqlglot.parse_one(sql, read="duckdb").transform(
        lambda n: exp.column(n.name, table=table) if isinstance(n, exp.Column) and not n.table else n)
    return _lower_keywords(tree.sql(dialect="duckdb"))


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
        return f"left(substr(qr.raw_hex, {2 * start + 1}, {2 * (end - start)}), length({h}))\n    = {h}"
    return (f"(\n        contains('2C' || qr.raw_hex || '2C', '2C' || {h} || '2C')\n"
            f"        or contains(qr.raw_hex, '22' || {h} || '22')\n    )")


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
    values = []
    for t in tables:
        for ri in t.items:
            it = ri.item
            if ri.expr is None or not charset_applies(it):
                continue
            values.append({"model": int_name(t), "column": it.column_name,
                           "columns": macro_call("item_text", t.source.table, t.source.file, t.std.ref, it.item_id,
                                                 it.item_name, it.column_name, indent=11)})
    return render("findings_chars.sql.j2", header=header(_system_files(system)[:1]),
                  system=system, values=values)


def union_sql(systems: list[str]) -> str:
    return render("findings_union.sql.j2", header=header([CITY]), systems=systems, columns=LEDGER_COLUMNS)


# --------------------------------------------------------------------------- counts from the ledger

def data_gaps_sql(system: str) -> str:
    return render("gaps_data.sql.j2", header=header([CITY]), system=system,
                  ledger=fnd_name(system), rules=DATA_RULES)


def conf_findings_sql(system: str) -> str:
    return render("conf_findings.sql.j2", header=header([CITY]), system=system,
                  ledger=fnd_name(system), categories=CONF_CATEGORIES)


def conf_chars_sql(system: str) -> str:
    return render("conf_chars.sql.j2", header=header([CITY]), system=system,
                  ledger=fnd_name(system))


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
