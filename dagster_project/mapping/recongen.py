"""Reconciliation models (突合): what procurement contracts ask for, per current system.

Generated from the mappings, nothing per system by hand. Per standard table:

- 件数: records in the legacy file = rows in the standard table + quarantined records + records
  of the file if it was refused as a whole (counted from its bytes);
- 人数: distinct persons (the layout's person key) in the legacy data and in the standard table;
- 金額: the total of every integer item as the legacy file says it (the field's text read here on
  its own, into an integer wider than BIGINT) against the standard table's, by 年度 where the
  table has one: a value the standard side lost (beyond BIGINT, beyond the item's digits) is a
  difference, not 一致 on both sides; and the count of legacy values that are no number at all
  (which no total can show);
- 区分別件数: records per standard code of every code item, the legacy codes mapped by the
  same code map (unmapped codes show as （対応なし）).

Each row: source value, target value, difference, tolerance (``mappings/readiness.yaml``) and a
status 一致 / 許容範囲内 / 不一致. Internal values only: counts and totals.
"""

from __future__ import annotations


from dagster_project.core.names import GEN_MODELS, q, stg_name, std_name
from dagster_project.mapping.findgen import _qualified
from dagster_project.mapping.sqlread import header, macro_call, render, safe_expr
from dagster_project.spec.reconciliation import ReconConfig, load_reconciliation
from dagster_project.spec.mapping import MappingSet, ResolvedTable

WIDE = "{{ kikan.wide_int() }}"


def _sub(sql: str) -> str:
    """A scalar subquery on lines of its own."""
    return "(\n    " + sql.replace("\n", "\n    ") + "\n)"


def _check(kind, subject, source, target, tolerance, frm=None, cast_to="bigint") -> dict:
    """One row of the checks: source and target are scalar queries (cast to ``cast_to``), or column
    expressions over ``frm``."""
    if frm is None:
        source, target = f"cast({_sub(source)} as {cast_to})", f"cast({_sub(target)} as {cast_to})"
    return {"kind": kind, "subject": subject if frm else q(subject), "source": source, "target": target,
            "tolerance": tolerance, "frm": frm}


# --------------------------------------------------------------------------- 金額

# legacy numbers are read with at most this many digits: a wider integer than any standard column,
# yet no sum of them can overflow (10^30 x 10^8 records < 1.7 x 10^38); longer ones are counted as
# values that could not become a number
LEGACY_DIGITS = 30


def _legacy_number(text: str, zoned: bool) -> str:
    """SQL: the integer the legacy text says, as a wide integer, or null when it is not one
    (kikan.legacy_number). Read here on its own, not with the staging reader: a value the standard
    side lost (beyond BIGINT, beyond the item's digits) must still count on the legacy side."""
    return macro_call("legacy_number", text, zoned=zoned or None,
                      digits=LEGACY_DIGITS if LEGACY_DIGITS != 30 else None)


def _legacy_text(ri, lf) -> tuple[str, bool]:
    """(SQL text of the legacy value over the staging model, zoned?). The field's own text when the
    item is the field or a cast of it (the amount's text as the file holds it, blanks trimmed);
    otherwise the mapping expression's result (its arithmetic is the mapping's), as text."""
    import sqlglot
    from sqlglot import exp

    f = lf.field(ri.lineage[0])
    node = sqlglot.parse_one(ri.expr, read="duckdb")
    while isinstance(node, (exp.Cast, exp.TryCast, exp.Paren)):
        node = node.this
    if isinstance(node, exp.Column) and node.name == f.name:
        return (f"{f.name}__raw" if f.type in ("amount", "date") else f.name), f.zoned
    return f"cast({safe_expr(ri.expr)} as string)", False


def _select(targets: list[str]) -> str:
    """``select`` and its targets as the project's SQL style has them (one on the line, more below)."""
    return "select " + targets[0] if len(targets) == 1 else "select\n    " + ",\n    ".join(targets)


def _amount_checks(label, t, amounts, stg, std, year, cfg, n) -> tuple[list[list[dict]], list[tuple[str, str]]]:
    """金額: each integer item's total as the legacy file says it against the standard table's (by
    年度 where the table has one), and the count of legacy values that are no number at all.

    One scan of each side per table, whatever the number of items: the legacy side parses every
    amount once (``legacy_amounts_<n>``: per 年度, each item's total and the count of its values
    that are no number), the standard side sums every item once (``standard_amounts_<n>``); the
    checks read those few rows. (A scalar query per item and per check scanned the legacy table
    twice per item: 28 scans of 2.8 M rows for zeimu at 817,000 residents.)"""
    lf = t.source
    leg, tgt = f"legacy_amounts_{n}", f"standard_amounts_{n}"
    y_in = [f"{safe_expr(year.expr)} as y"] if year else []
    y_std = [f"{year.item.column_name} as y"] if year else []
    inner, outer, sums = list(y_in), ["y"] if year else [], list(y_std)
    for k, ri in enumerate(amounts, 1):
        text, zoned = _legacy_text(ri, lf)
        inner += [f"{text} as t{k}", f"{_legacy_number(text, zoned)} as p{k}"]
        # a legacy value that is no number (or has more digits than any total can carry) is in
        # neither total: count it, so 突合 cannot say 一致 while a value of the file is in no sum
        outer += [f"sum(p{k}) as s{k}", f"sum(case when t{k} is not null and p{k} is null then 1 else 0 end) as bad{k}"]
        sums.append(f"sum({ri.item.column_name}) as t{k}")
    group = "\ngroup by 1" if year else ""
    ctes = [(leg, _select(outer) + "\nfrom (\n    " + _select(inner).replace("\n", "\n    ")
             + f"\n    from {stg}\n) as l" + group),
            (tgt, _select(sums) + f"\nfrom {std}" + group)]
    out = []                      # per item: its total, then its count of non-numbers
    for k, ri in enumerate(amounts, 1):
        it = ri.item
        out.append([])
        if year:
            frm = (f"(\n    select\n        coalesce(a.y, b.y) as y,\n        cast(coalesce(a.s{k}, 0) as {WIDE}) as s,\n"
                   f"        cast(coalesce(b.t{k}, 0) as {WIDE}) as t\n    from {leg} as a\n"
                   f"    full outer join {tgt} as b on a.y = b.y\n)")
            out[-1].append(_check("金額", f"{q(label + ': ' + it.item_name + ' 合計（年度 ')} || y || '）'", "s", "t",
                              cfg.amount_tolerance, frm=frm))
        else:
            out[-1].append(_check("金額", f"{label}: {it.item_name} 合計", f"select coalesce(sum(s{k}), 0) from {leg}",
                              f"select coalesce(sum(t{k}), 0) from {tgt}", cfg.amount_tolerance, cast_to=WIDE))
        out[-1].append(_check("金額", f"{label}: {it.item_name} 数値にできない現行の値（件）",
                          f"select coalesce(sum(bad{k}), 0) from {leg}", "select 0", cfg.record_count_tolerance))
    return out, ctes


# --------------------------------------------------------------------------- the model

def recon_sql(system: str, tables: list[ResolvedTable], cfg: ReconConfig) -> str:
    checks, ctes = [], []
    for t in tables:
        lf = t.source
        stg = f"{{{{ ref('{stg_name(system, lf.table)}') }}}}"
        std = f"{{{{ ref('{std_name(t)}') }}}}"
        label = f"{t.std.table_name}（{t.std.ref}）"
        files = "{{ source('meta', 'extract_files') }}"
        quarantine = f"{{{{ source('raw', '{system}__quarantine') }}}}"
        # a refused file's records (counted from its bytes) are neither standard rows nor quarantined:
        # they stand on the target side as refused, so a refused file neither reads 0 = 0 + 0 nor
        # fails here a second time (its refusal fails 移行処理の完了)
        file_row = f"from {files}\nwhere system = {q(system)} and table_name = {q(lf.table)}"
        checks.append(_check(
            "件数", f"{label}: {lf.file} の件数 = 標準テーブル + 隔離 + 受付不可",
            f"select records_in_file {file_row}",
            f"(select count(*) from {std})\n"
            f"+ (\n    select count(*) from {quarantine}\n    where table_name = {q(lf.table)}\n)\n"
            f"+ coalesce({_sub('select refused_records ' + file_row)}, 0)",
            cfg.record_count_tolerance))
        person = next((ri for ri in t.items if lf.person_key and ri.lineage == (lf.person_key,)), None)
        if person:
            checks.append(_check("人数", f"{label}: {person.item.item_name}の人数",
                                 f"select count(distinct {lf.person_key}) from {stg}",
                                 f"select count(distinct {person.item.column_name}) from {std}",
                                 cfg.person_count_tolerance))
        year = next((ri for ri in t.items if ri.item.column_name == "nendo" and ri.expr), None)
        amounts = [ri for ri in t.items if ri.item.data_type == "integer" and ri.expr and len(ri.lineage) == 1]
        amount_checks = {}
        if amounts:
            got, more = _amount_checks(label, t, amounts, stg, std, year, cfg, len(ctes) // 2 + 1)
            ctes += more
            amount_checks = {id(ri): c for ri, c in zip(amounts, got)}   # placed in the items' order below
        for ri in t.items:
            it = ri.item
            checks += amount_checks.get(id(ri), [])
            if ri.codemap is not None and ri.expr and it.data_type == "code":
                legacy = f"cast({_qualified(safe_expr(ri.expr), 'l')} as string)"
                frm = ("(\n    select\n        coalesce(a.k, b.k) as k,\n        coalesce(a.n, 0) as s,\n"
                       "        coalesce(b.n, 0) as t\n    from (\n        select\n"
                       "            coalesce(m.std_code, '（対応なし）') as k,\n"
                       "            count(*) as n\n"
                       f"        from {stg} as l\n        left join {{{{ ref('code_maps') }}}} as m\n"
                       f"            on\n                m.code_map = {q(system + '.' + ri.codemap_name)}\n"
                       f"                and {legacy} = m.legacy_code\n"
                       "        group by 1\n    ) as a\n    full outer join (\n"
                       f"        select\n            coalesce({it.column_name}, '（対応なし）') as k,\n"
                       f"            count(*) as n\n        from {std}\n        group by 1\n"
                       "    ) as b on a.k = b.k\n)")
                checks.append(_check("区分別件数", f"{q(label + ': ' + it.item_name + ' = ')} || k", "s", "t",
                                     cfg.category_count_tolerance, frm=frm))
    return render("recon.sql.j2", header=header([f"mappings/{system}/mapping.yaml", f"mappings/{system}/layout.yaml",
                                                 "mappings/readiness.yaml"]),
                  system=system, checks=checks, ctes=ctes)


def render_recon(project, mappings: MappingSet) -> tuple[dict, list[dict]]:
    cfg = load_reconciliation(project.root)
    files, models = {}, []
    for s in project.city.systems:
        name = f"recon_{s.id}"
        files[GEN_MODELS / "readiness" / s.id / f"{name}.sql"] = recon_sql(s.id, mappings.for_system(s.id), cfg)
        models.append({"name": name, "config": {"meta": {"system": s.id}, "tags": [s.id, "readiness"]}})
    return files, models
