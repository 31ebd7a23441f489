"""Reconciliation models (突合): what procurement contracts ask for, per current system.

Generated from the mappings, nothing per system by hand. Per standard table:

- 件数: records in the legacy file = rows in the standard table + quarantined records;
- 人数: distinct persons (the layout's person key) in the legacy data and in the standard table;
- 金額: the total of every amount item, legacy side (staging) against standard side, by
  年度 where the table has one, and the count of legacy values that could not become a number
  (which no total can show);
- 区分別件数: records per standard code of every code item, the legacy codes mapped by the
  same code map (unmapped codes show as （対応なし）).

Each row: source value, target value, difference, tolerance (``mappings/readiness.yaml``) and a
status 一致 / 許容範囲内 / 不一致. Internal values only: counts and totals.
"""

from __future__ import annotations


from .sqlnames import GEN_MODELS, HEADER, q, stg_name, std_name
from .mapping import MappingSet, ResolvedTable
from .readiness import ReconConfig, load_readiness


def _row(kind, subject, src_sql, tgt_sql, tol, frm="") -> str:
    return (f"select {q(kind)} as check_kind, {q(subject)} as subject, cast(({src_sql}) as bigint) as source_value, "
            f"cast(({tgt_sql}) as bigint) as target_value, {tol} as tolerance{frm}")


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
        parts.append(_row(
            "件数", f"{label}: {lf.file} の件数 = 標準テーブル + 隔離",
            f"select records_in_file from {files} where system = {q(system)} and table_name = {q(lf.table)}",
            f"(select count(*) from {std}) + (select count(*) from {quarantine} where table_name = {q(lf.table)})",
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
                src, col = f"try_cast(({ri.expr}) as bigint)", it.column_name
                if year:
                    ycol = f"({year.expr})"
                    parts.append(
                        f"select '金額' as check_kind, {q(label + ': ' + it.item_name + ' 合計（年度 ')} || y || '）' as subject, "
                        f"s as source_value, t as target_value, {cfg.amount_tolerance} as tolerance from ("
                        f"select coalesce(a.y, b.y) as y, coalesce(a.s, 0) as s, coalesce(b.t, 0) as t from "
                        f"(select {ycol} as y, sum({src}) as s from {stg} group by 1) a full outer join "
                        f"(select {year.item.column_name} as y, sum({col}) as t from {std} group by 1) b on a.y = b.y)")
                else:
                    parts.append(_row("金額", f"{label}: {it.item_name} 合計",
                                      f"select coalesce(sum({src}), 0) from {stg}",
                                      f"select coalesce(sum({col}), 0) from {std}", cfg.amount_tolerance))
                f = lf.field(ri.lineage[0])
                if f.type == "amount":
                    # what the legacy file holds, not what survived the cast: a value of the file that
                    # is not a number (or beyond BIGINT) is missing from both totals above, so count it
                    parts.append(_row("金額", f"{label}: {it.item_name} 数値にできない現行の値（件）",
                                      f"select count(*) from {stg} where {f.name}__status in ('invalid', 'overflow')",
                                      "select 0", cfg.record_count_tolerance))
            if ri.codemap is not None and ri.expr and it.data_type == "code":
                col = it.column_name
                whens = " ".join(f"when {q(k)} then {q(v) if v else 'null'}" for k, v in ri.codemap.items())
                parts.append(
                    f"select '区分別件数' as check_kind, {q(label + ': ' + it.item_name + ' = ')} || k as subject, "
                    f"s as source_value, t as target_value, {cfg.category_count_tolerance} as tolerance from ("
                    f"select coalesce(a.k, b.k) as k, coalesce(a.n, 0) as s, coalesce(b.n, 0) as t from "
                    f"(select coalesce(case cast(({ri.expr}) as string) {whens} end, '（対応なし）') as k, count(*) as n "
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


