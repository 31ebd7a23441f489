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


from dagster_project.core.names import GEN_MODELS, HEADER, q, stg_name, std_name
from dagster_project.spec.mapping import MappingSet, ResolvedTable
from dagster_project.mapping.sqlread import jinja_str, safe_expr
from dagster_project.readiness.gate import ReconConfig, load_readiness


def _row(kind, subject, src_sql, tgt_sql, tol, frm="") -> str:
    return (f"select {q(kind)} as check_kind, {q(subject)} as subject, cast(({src_sql}) as bigint) as source_value, "
            f"cast(({tgt_sql}) as bigint) as target_value, {tol} as tolerance{frm}")


# --------------------------------------------------------------------------- 金額

# legacy numbers are read with at most this many digits: a wider integer than any standard column,
# yet no sum of them can overflow (10^30 x 10^8 records < 1.7 x 10^38); longer ones are counted as
# values that could not become a number
LEGACY_DIGITS = 30


def _legacy_number(text: str, zoned: bool) -> str:
    """SQL: the integer the legacy text says, as a wide integer (kikan.wide_int), or null when it is
    not one. Read here on its own, not with the staging reader: a value the standard side lost
    (beyond BIGINT, beyond the item's digits) must still count on the legacy side."""
    wide = "{{ kikan.wide_int() }}"
    if not zoned:
        form = "{{ kikan.re_full(" + jinja_str(text) + ", '-?[0-9]{1," + str(LEGACY_DIGITS) + "}') }}"
        return f"case when {form} then try_cast({text} as {wide}) end"
    form = "{{ kikan.re_full(" + jinja_str(text) + ", '[0-9]{0," + str(LEGACY_DIGITS - 1) + "}[0-9{}A-R]') }}"
    last = f"right({text}, 1)"
    signed = (f"concat(case when {last} in ('}}', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R') then '-' else '' end, "
              f"substr({text}, 1, length({text}) - 1), translate({last}, '{{ABCDEFGHI}}JKLMNOPQR', '01234567890123456789'))")
    # try_cast although the form was checked: an engine may evaluate the cast outside its guard
    return f"case when {form} then try_cast({signed} as {wide}) end"


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
    return f"cast(({safe_expr(ri.expr)}) as string)", False


def _amount_rows(label, it, ri, lf, stg, std, year, cfg) -> list[str]:
    """金額: the item's total as the legacy file says it against the standard table's (by 年度 where
    the table has one), and the count of legacy values that are no number at all."""
    text, zoned = _legacy_text(ri, lf)
    src, col = _legacy_number(text, zoned), it.column_name
    wide = "{{ kikan.wide_int() }}"
    rows = []
    if year:
        ycol = f"({safe_expr(year.expr)})"
        rows.append(
            f"select '金額' as check_kind, {q(label + ': ' + it.item_name + ' 合計（年度 ')} || y || '）' as subject, "
            f"s as source_value, t as target_value, {cfg.amount_tolerance} as tolerance from ("
            f"select coalesce(a.y, b.y) as y, cast(coalesce(a.s, 0) as {wide}) as s, "
            f"cast(coalesce(b.t, 0) as {wide}) as t from "
            f"(select {ycol} as y, sum({src}) as s from {stg} group by 1) a full outer join "
            f"(select {year.item.column_name} as y, sum({col}) as t from {std} group by 1) b on a.y = b.y)")
    else:
        rows.append(f"select '金額' as check_kind, {q(label + ': ' + it.item_name + ' 合計')} as subject, "
                    f"cast((select coalesce(sum({src}), 0) from {stg}) as {wide}) as source_value, "
                    f"cast((select coalesce(sum({col}), 0) from {std}) as {wide}) as target_value, "
                    f"{cfg.amount_tolerance} as tolerance")
    # a legacy value that is no number (or has more digits than any total can carry) is in neither
    # total above: count it, so 突合 cannot say 一致 while a value of the file is in no sum
    rows.append(_row("金額", f"{label}: {it.item_name} 数値にできない現行の値（件）",
                     f"select count(*) from {stg} where {text} is not null and ({src}) is null",
                     "select 0", cfg.record_count_tolerance))
    return rows


# --------------------------------------------------------------------------- the model

def recon_sql(system: str, tables: list[ResolvedTable], cfg: ReconConfig) -> str:
    parts = []
    for t in tables:
        lf = t.source
        stg = f"{{{{ ref('{stg_name(system, lf.table)}') }}}}"
        std = f"{{{{ ref('{std_name(t)}') }}}}"
        ref = t.std.ref
        label = f"{t.std.table_name}（{ref}）"
        files = "{{ source('meta', 'extract_files') }}"
        quarantine = f"{{{{ source('raw', '{system}__quarantine') }}}}"
        # a refused file's records (counted from its bytes) are neither standard rows nor quarantined:
        # they stand on the target side as refused, so a refused file neither reads 0 = 0 + 0 nor
        # fails here a second time (its refusal fails 移行処理の完了)
        file_row = f"from {files} where system = {q(system)} and table_name = {q(lf.table)}"
        parts.append(_row(
            "件数", f"{label}: {lf.file} の件数 = 標準テーブル + 隔離 + 受付不可",
            f"select records_in_file {file_row}",
            f"(select count(*) from {std}) + (select count(*) from {quarantine} where table_name = {q(lf.table)})"
            f" + coalesce((select refused_records {file_row}), 0)",
            cfg.record_count_tolerance))
        person = next((ri for ri in t.items if lf.person_key and ri.lineage == (lf.person_key,)), None)
        if person:
            parts.append(_row("人数", f"{label}: {person.item.item_name}の人数",
                              f"select count(distinct {lf.person_key}) from {stg}",
                              f"select count(distinct {person.item.column_name}) from {std}",
                              cfg.person_count_tolerance))
        year = next((ri for ri in t.items if ri.item.column_name == "nendo" and ri.expr), None)
        for ri in t.items:
            it = ri.item
            if it.data_type == "integer" and ri.expr and len(ri.lineage) == 1:
                parts += _amount_rows(label, it, ri, lf, stg, std, year, cfg)
            if ri.codemap is not None and ri.expr and it.data_type == "code":
                col = it.column_name
                whens = " ".join(f"when {q(k)} then {q(v) if v else 'null'}" for k, v in ri.codemap.items())
                parts.append(
                    f"select '区分別件数' as check_kind, {q(label + ': ' + it.item_name + ' = ')} || k as subject, "
                    f"s as source_value, t as target_value, {cfg.category_count_tolerance} as tolerance from ("
                    f"select coalesce(a.k, b.k) as k, coalesce(a.n, 0) as s, coalesce(b.n, 0) as t from "
                    f"(select coalesce(case cast(({safe_expr(ri.expr)}) as string) {whens} end, '（対応なし）') as k, count(*) as n "
                    f"from {stg} group by 1) a full outer join "
                    f"(select coalesce({col}, '（対応なし）') as k, count(*) as n from {std} group by 1) b on a.k = b.k)")
    body = "\n    union all\n    ".join(parts)
    return (HEADER + f"-- reconciliation of {system}: counts, persons, amounts and categories, legacy against standard\n"
            + "with checks as (\n    " + body + "\n)\n"
            + f"select {q(system)} as system, check_kind, subject, source_value, target_value,\n"
            + "    target_value - source_value as difference, tolerance,\n"
            + "    case when target_value = source_value then '一致'\n"
            + "         when abs(target_value - source_value) <= tolerance then '許容範囲内'\n"
            + "         else '不一致' end as status\n"
            + "from checks\n")


def render_recon(project, mappings: MappingSet) -> tuple[dict, list[dict]]:
    cfg = load_readiness(project.root).reconciliation
    files, models = {}, []
    for s in project.city.systems:
        name = f"recon_{s.id}"
        files[GEN_MODELS / "readiness" / s.id / f"{name}.sql"] = recon_sql(s.id, mappings.for_system(s.id), cfg)
        models.append({"name": name, "config": {"meta": {"system": s.id}, "tags": [s.id, "readiness"]}})
    return files, models


