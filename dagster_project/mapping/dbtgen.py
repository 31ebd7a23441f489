"""Generate the dbt models of the mapping stage from ``mappings/`` and ``seeds/``.

One generator, not hand-written copies: a 14th system or a new standard item is a change
to the data under ``mappings/`` and ``seeds/``, and the SQL follows. Written under
``dbt/models/generated/`` and ``dbt/macros/generated/`` (not committed); files are only
rewritten when their content changes, so dbt's partial parsing stays effective.

Layers (STYLE.md): ``stg_<system>__<legacy table>`` (the only reader of a source; trim,
和暦 → date, half-width → full-width kana, zoned decimal → integer, 外字 decisions),
``int_<business>__<table>`` (the mapping, with a flag per item and value), ``std_<business>
__<table>`` (the standard layout, contract enforced) and ``gaps_<system>__{items,spec,data}``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import yaml

from dagster_project.conformance.charsql import split_chars_sql
from dagster_project.spec.config import PROJECT_ROOT, Layout, LayoutFile, Project
from dagster_project.spec.mapping import SEEDS, MappingSet, ResolvedItem, ResolvedTable
from dagster_project.spec.ranges import ItemRange, load_item_ranges
from dagster_project.mapping.confgen import render_conformance
from dagster_project.mapping.findgen import code_counts_sql, data_gaps_sql, render_findings
from dagster_project.mapping.recongen import render_recon
from dagster_project.core.names import GEN_MACROS, GEN_MODELS, HEADER, int_name, q, std_name, stg_name  # noqa: F401 (re-exported)
from dagster_project.core.textcodec import _FULL_TO_HALF
from dagster_project.core.amounts import AMOUNT_PATTERN, ZONED_NEGATIVE, ZONED_POSITIVE, ZONED_PATTERN
from dagster_project.mapping.sqlread import read_bigint_sql, safe_expr  # noqa: F401 (safe_expr re-exported)
from dagster_project.core.wareki import date_pattern, eras

DBT_DIR = PROJECT_ROOT / "dbt"

# "string" is VARCHAR on DuckDB and STRING on Spark (Spark refuses a VARCHAR without a length)
SQL_TYPE = {"string": "string", "code": "string", "date": "date", "integer": "bigint"}


# --------------------------------------------------------------------------- macros

def kana_macro() -> str:
    """zenkaku_kana(expr): half-width katakana to full-width, voiced marks joined."""
    voiced = [(h, chr(f)) for f, h in _FULL_TO_HALF.items() if len(h) == 2]
    # the ASCII space of a half-width kana field becomes the full-width space of a カナ item
    single = [(h, chr(f)) for f, h in _FULL_TO_HALF.items() if len(h) == 1]
    expr = "{{ expr }}"
    for h, f in sorted(voiced):
        expr = f"replace({expr}, {q(h)}, {q(f)})"
    src = "".join(h for h, _ in single)
    dst = "".join(f for _, f in single)
    # the 28 replaces run only on values that hold a half-width character at all (few do): the
    # unguarded chain cost 5 s of 住民記録's staging in the 100k benchmark
    guard = "{{ kikan.re_find(expr, '[" + src + "]') }}"
    return (HEADER.replace("--", "{#") + " #}\n"
            "{% macro zenkaku_kana(expr) -%}\n"
            f"case when {guard} then translate({expr}, {q(src)}, {q(dst)}) else {{{{ expr }}}} end\n"
            "{%- endmacro %}\n")


def split_chars_macro() -> str:
    """DuckDB's split_chars(expr), from the one Python spelling the GX suites use too."""
    return (HEADER.replace("--", "{#") + " #}\n"
            "{% macro default__split_chars(expr) -%}\n"
            + split_chars_sql("{{ expr }}") + "\n{%- endmacro %}\n")


# --------------------------------------------------------------------------- staging

def _gaiji_decisions(root: Path, systems) -> dict[str, list[tuple[str, str]]]:
    """system -> [(PUA character, standard character)] from mappings/gaiji/decisions.csv: the rows
    that validate (a mistaken row is left out and named by that system's gate, never a stopped run)."""
    from dagster_project.conformance.gaiji import load_gaiji_decisions_checked

    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in load_gaiji_decisions_checked(systems, root)[0]:
        if d.decision in ("同定", "縮退") and d.character:
            out[d.system].append((bytes.fromhex(d.code).decode("cp932"), d.character))
    return out


def _era_cases(layout: Layout, key_kind: str) -> tuple[str, str, str]:
    """CASE expressions (over ``__key``) for the era's first year, first day and last day."""
    y0, lo, hi = [], [], []
    for e in eras():
        keys = {"digit": [str(e.digit)], "letter": [e.letter], "name": [e.name, e.letter]}[key_kind]
        start = layout.meiji_start if e.code == "meiji" else e.start
        for k in keys:
            y0.append(f"when {q(k)} then {e.start.year}")
            lo.append(f"when {q(k)} then date {q(start.isoformat())}")
            hi.append(f"when {q(k)} then " + (f"date {q(e.end.isoformat())}" if e.end else "null"))
    return ("case __key " + " ".join(y0) + " end",
            "case __key " + " ".join(lo) + " end",
            "case __key " + " ".join(hi) + " end")


_DATE_PARTS = {
    # style: (key, year, month, day, key kind); the form is wareki.date_pattern(style), the one the
    # Python reader uses too
    "era7": ("substr(__v, 1, 1)", "substr(__v, 2, 2)", "substr(__v, 4, 2)", "substr(__v, 6, 2)", "digit"),
    "era_letter": ("substr(__v, 1, 1)", "substr(__v, 2, 2)", "substr(__v, 4, 2)", "substr(__v, 6, 2)", "letter"),
    "ymd8": (None, "substr(__v, 1, 4)", "substr(__v, 5, 2)", "substr(__v, 7, 2)", None),
    "ym6": (None, "substr(__v, 1, 4)", "substr(__v, 5, 2)", "'1'", None),
}


def _date_parts(col: str, style: str, layout: Layout) -> tuple[list[str], list[str]]:
    """(groups, parts): the regex groups of a legacy date, extracted once per value (a CTE of
    their own), and the columns <col>__ok, __y, __m, __d, __lo, __hi computed from them."""
    groups = []
    rx = date_pattern(style)
    if style in ("era_dotted", "ymd_slash"):
        n = 4 if style == "era_dotted" else 3
        # one regex pass per value instead of one per piece (12 passes made 選挙人名簿 the slowest
        # staging model of the 100k benchmark)
        groups.append("{{ kikan.re_groups('" + col + "', '" + rx.replace("'", "''") + "', " + str(n) + ") }} as "
                      + col + "__g")
        g = [f"__v__g.g{i}" for i in range(1, n + 1)]
    if style == "era_dotted":
        key = g[0]
        yy = f"(case {g[1]} when '元' then '1' else {g[1]} end)"
        mm, dd = g[2], g[3]
        kind = "name"
    elif style == "ymd_slash":
        key, kind = None, None
        yy, mm, dd = g
    else:
        key, yy, mm, dd, kind = _DATE_PARTS[style]
    ok = "{{ kikan.re_full('" + col + "', '" + rx.replace("'", "''") + "') }}"
    # try_cast although the form was checked: DuckDB evaluates a regex group's cast outside the
    # CASE that guards it (a struct field from the grouped CTE), and a value of the wrong form
    # ('H8.13.x7') stopped the whole staging model with "Could not convert string '' to INT32"
    if key is None:
        y, lo, hi = f"try_cast({yy} as integer)", "date '0001-01-01'", "cast(null as date)"
    else:
        y0, lo, hi = (x.replace("__key", "(" + key + ")") for x in _era_cases(layout, kind))
        y = f"case when try_cast({yy} as integer) >= 1 then {y0} + try_cast({yy} as integer) - 1 end"
    sub = lambda s_: s_.replace("__v", col)  # noqa: E731
    return groups, [
        f"{ok} as {col}__ok",
        f"case when {ok} then {sub(y)} end as {col}__y",
        f"case when {ok} then try_cast({sub(mm)} as integer) end as {col}__m",
        f"case when {ok} then try_cast({sub(dd)} as integer) end as {col}__d",
        f"case when {ok} then {sub(lo)} end as {col}__lo",
        f"case when {ok} then {sub(hi)} end as {col}__hi",
    ]


def staging_sql(system: str, layout: Layout, lf: LayoutFile, decisions: list[tuple[str, str]]) -> str:
    trimmed, normalized, groups, parts, cands = [], [], [], [], []
    final = ["_record_no", "_byte_offset", "_overlong"]
    for f in lf.fields:
        c = f.name
        trimmed.append("{{ kikan.trim_blanks('" + c + "') }} as " + c)
        n = c
        if f.type in ("text", "kana", "alpha"):
            for pua, ch in decisions:
                n = f"replace({n}, {q(pua)}, {q(ch)})"
        if f.type == "kana":
            n = "{{ kikan.zenkaku_kana('" + n.replace("'", "\\'") + "') }}"
        normalized.append(f"{n} as {c}")
        if f.type == "date":
            g, pt = _date_parts(c, f.style, layout)
            groups += g
            parts += pt
            cands.append("{{ kikan.try_date('" + c + "__y', '" + c + "__m', '" + c + "__d') }} as " + c + "__d0")
            unknown = [k for k, v in layout.date_sentinels.items() if v == "unknown"]
            opened = [k for k, v in layout.date_sentinels.items() if v == "open"]
            valid = f"({c}__d0 >= {c}__lo and ({c}__hi is null or {c}__d0 <= {c}__hi))"
            final += [
                f"case when {valid} then {c}__d0 end as {c}",
                f"{c} as {c}__raw",
                "case when " + c + " is null then 'blank'"
                + (f" when {c} in ({', '.join(map(q, unknown))}) then 'unknown'" if unknown else "")
                + (f" when {c} in ({', '.join(map(q, opened))}) then 'open'" if opened else "")
                + f" when {valid} then 'ok' else 'invalid' end as {c}__status",
            ]
        elif f.type == "amount":
            # a value of the right form that does not fit a bigint is 'overflow', never a silent null
            # (a 20-digit 国保 amount came out of staging as null with status ok, and 突合 said 一致)
            if f.zoned:
                ok = "{{ kikan.re_full('" + c + "', '" + ZONED_PATTERN + "') }}"
                # the sign in front of the digits, so the one negative number whose digits alone
                # exceed a BIGINT (-9223372036854775808) is read, as the plain reader reads it
                neg = ", ".join(q(x) for x in ZONED_NEGATIVE)
                digits = (f"concat(case when right({c}, 1) in ({neg}) then '-' else '' end, "
                          f"left({c}, length({c}) - 1), translate(right({c}, 1), "
                          f"{q(ZONED_POSITIVE + ZONED_NEGATIVE)}, '01234567890123456789'))")
                val = f"case when {ok} then " + "{{ kikan.try_bigint(\"" + digits + "\") }} end"
            else:
                ok = "{{ kikan.re_full('" + c + "', '" + AMOUNT_PATTERN + "') }}"
                val = f"case when {ok} then " + "{{ kikan.try_bigint('" + c + "') }} end"
            final += [f"{val} as {c}", f"{c} as {c}__raw",
                      f"case when {c} is null then 'blank' when not {ok} then 'invalid' when ({val}) is null "
                      f"then 'overflow' else 'ok' end as {c}__status"]
        else:
            final.append(c)

    def cte(name, cols, src, star=False):
        lead = "*" if star else "_record_no,\n        _byte_offset,\n        _overlong"
        body = "".join(",\n        " + x for x in cols) if cols else ""
        return f"{name} as (\n    select\n        {lead}{body}\n    from {src}\n)"

    return (
        HEADER
        + f"-- {layout.system}「{lf.label}」 {lf.file}\n"
        + "with source as (\n    select * from {{ source('raw', '" + f"{system}__{lf.table}" + "') }}\n),\n"
        + cte("trimmed", trimmed, "source") + ",\n"
        + cte("normalized", normalized, "trimmed") + ",\n"
        + cte("grouped", groups, "normalized", star=True) + ",\n"
        + cte("parts", parts, "grouped", star=True) + ",\n"
        + cte("candidates", cands, "parts", star=True) + ",\n"
        + "final as (\n    select\n        " + ",\n        ".join(final) + "\n    from candidates\n)\n"
        + "select * from final\n"
    )


# --------------------------------------------------------------------------- intermediate / standard

def _field_types(lf: LayoutFile) -> dict[str, str]:
    return {f.name: f.type for f in lf.fields}


def _item_sql(ri: ResolvedItem, lf: LayoutFile, rng: ItemRange | None = None) -> tuple[list[str], str | None]:
    """(select expressions for the item, name of its flag column or None). ``rng``: the item's
    range (seeds/std_item_ranges.csv); a value outside it is flagged out_of_range and kept."""
    it = ri.item
    c = it.column_name
    typ = SQL_TYPE[it.data_type]
    if ri.expr is None:
        return [f"cast(null as {typ}) as {c}"], None
    e = f"({safe_expr(ri.expr)})"
    types = _field_types(lf)
    date_bad = [f"{f}__status = 'invalid'" for f in ri.lineage if types.get(f) == "date"]
    num_bad = [f"{f}__status in ('invalid', 'overflow')" for f in ri.lineage if types.get(f) == "amount"]
    sentinel = [f"{f}__status in ('unknown', 'open')" for f in ri.lineage if types.get(f) == "date"]
    # a legacy value was there, but the mapping gave no value of the item's type
    present = " or ".join(f"{f} is not null" for f in ri.lineage)
    cases = []
    if date_bad:
        cases.append(f"when {' or '.join(date_bad)} then 'date_invalid'")
    if num_bad:
        cases.append(f"when {' or '.join(num_bad)} then 'number_invalid'")
    out = []
    if ri.codemap is not None:
        keys = ", ".join(q(k) for k in ri.codemap)
        whens = " ".join(f"when {q(k)} then {q(v) if v != '' else 'null'}" for k, v in ri.codemap.items())
        out.append(f"cast({e} as string) as {c}__legacy")
        out.append(f"case cast({e} as string) {whens} end as {c}__v")
        cases.append(f"when {c}__legacy is not null and {c}__legacy not in ({keys}) then 'unmapped_code'")
        if it.data_type == "string":
            cases.append(f"when length({c}__v) > {it.length} then 'over_length'")
    elif it.data_type == "string":
        out.append(f"cast({e} as string) as {c}__v")
        cases.append(f"when length({c}__v) > {it.length} then 'over_length'")
    elif it.data_type == "integer":
        bare = ri.expr.strip() in ri.lineage and types.get(ri.expr.strip()) == "amount"
        # a staging amount is a BIGINT already; anything else is read strictly
        out.append(f"{e} as {c}__v" if bare else f"{read_bigint_sql(e)} as {c}__v")
        if present:
            cases.append(f"when {c}__v is null and ({present}) then 'number_invalid'")
        if it.length < 19:   # every BIGINT fits 19 digits (and abs() of the smallest one overflows)
            most = 10 ** it.length - 1
            cases.append(f"when {c}__v > {most} or {c}__v < -{most} then 'over_length'")
    else:
        out.append(f"try_cast({e} as date) as {c}__v")
        if present:
            cases.append(f"when {c}__v is null and ({present}) then 'date_invalid'")
    outside = rng.sql(f"{c}__v") if rng is not None and it.data_type in ("integer", "date") else None
    if outside:
        cases.append(f"when {outside} then 'out_of_range'")
    if it.required:
        blank = f"({c}__v is null" + (f" or {c}__v = ''" if typ == "string" else "") + ")"
        if sentinel:
            blank = f"({blank} and not ({' or '.join(sentinel)}))"
        cases.append(f"when {blank} then 'required_missing'")
    flag = f"case {' '.join(cases)} end as {c}__flag" if cases else f"cast(null as string) as {c}__flag"
    return out + [flag], f"{c}__flag"


def int_sql(t: ResolvedTable, ranges: dict | None = None) -> str:
    mapped, flags = [], []
    finals = []
    for ri in t.items:
        exprs, flag = _item_sql(ri, t.source, (ranges or {}).get((t.std.ref, ri.item.item_id)))
        c = ri.item.column_name
        if flag is None:
            finals.append(exprs[0])
            continue
        mapped += exprs[:-1]
        flags.append(exprs[-1])
        bad = "('over_length', 'date_invalid', 'number_invalid', 'unmapped_code')"
        finals.append(f"case when {c}__flag in {bad} then null else {c}__v end as {c}")
        finals.append(f"{c}__flag")
        if ri.codemap is not None:
            finals.append(f"{c}__legacy")
    where = f"\n    where {t.where}" if t.where else ""
    return (
        HEADER
        + f"-- {t.std.ref}（{t.std.table_name}） from {t.system}.{t.source.table}\n"
        + "with src as (\n    select * from {{ ref('" + stg_name(t.system, t.source.table) + "') }}" + where + "\n),\n"
        + "mapped as (\n    select\n        *,\n        " + ",\n        ".join(mapped or ["1 as __none"]) + "\n    from src\n),\n"
        + "flagged as (\n    select\n        *,\n        " + ",\n        ".join(flags or ["1 as __noflag"]) + "\n    from mapped\n),\n"
        + "final as (\n    select\n        " + ",\n        ".join(finals) + ",\n"
        + f"        {q(t.system)} as _src_system,\n"
        + "        _record_no as _src_record_no,\n"
        + f"        cast({t.sample_key} as string) as _key,\n"
        + f"        cast({t.sample_key} as string) || '（' || cast(_record_no as string) || '行目）' as _sample\n"
        + "    from flagged\n)\nselect * from final\n"
    )


def std_sql(t: ResolvedTable) -> str:
    cols = [ri.item.column_name for ri in t.items]
    flagged = [ri.item.column_name for ri in t.items if ri.expr is not None]
    flags = ", ".join(f"case when {c}__flag is not null then '{c}:' || {c}__flag end" for c in flagged)
    return (
        HEADER
        + f"-- {t.std.ref}（{t.std.table_name}）: the standard layout, in catalog order\n"
        + "with checked as (\n    select * from {{ ref('" + int_name(t) + "') }}\n),\n"
        + "final as (\n    select\n        " + ",\n        ".join(cols) + ",\n"
        + "        _src_system,\n        _src_record_no,\n"
        + (f"        nullif(concat_ws(',', {flags}), '') as _flags\n" if flags else "        cast(null as string) as _flags\n")
        + "    from checked\n)\nselect * from final\n"
    )


def std_yml(t: ResolvedTable) -> dict:
    cols = []
    for ri in t.items:
        it = ri.item
        col = {"name": it.column_name, "data_type": SQL_TYPE[it.data_type],
               "description": f"{it.item_id} {it.item_name}"}
        cols.append(col)
    cols += [
        {"name": "_src_system", "data_type": "string", "description": "移行元システム"},
        {"name": "_src_record_no", "data_type": "bigint", "description": "移行元ファイルの行番号"},
        {"name": "_flags", "data_type": "string", "description": "変換できなかった項目（項目:差異の種類）"},
    ]
    model = {
        "name": std_name(t),
        "description": f"標準データ要件「{t.std.table_name}」({t.std.ref}) — 移行元 {t.system}.{t.source.table}",
        "config": {"contract": {"enforced": True}, "meta": {"system": t.system, "business": t.std.business_id},
                   "tags": [t.system, "standard"]},
        "columns": cols,
    }
    key = t.std.key
    if key:
        model["data_tests"] = [{"kikan_unique_key": {"arguments": {"columns": key}, "config": {"severity": "warn"}}}]
    return model


# --------------------------------------------------------------------------- gaps

def _values(rows: list[tuple], columns: list[str]) -> str:
    if not rows:
        cols = ", ".join(f"cast(null as string) as {c}" for c in columns)
        return f"select {cols} where 1 = 0"
    body = ",\n        ".join("(" + ", ".join("null" if v is None else (q(v) if not isinstance(v, int) else str(v))
                                              for v in r) + ")" for r in rows)
    return f"select * from (values\n        {body}\n    ) as v({', '.join(columns)})"


ITEM_COLS = ["business_id", "table_id", "table_name", "item_id", "column_name", "item_name", "data_type",
             "std_length", "required", "status", "source_table", "lineage", "expression", "codemap", "note"]


def items_sql(system: str, tables: list[ResolvedTable]) -> str:
    rows = []
    for t in tables:
        labels = {f.name: f.label for f in t.source.fields}
        for ri in t.items:
            it = ri.item
            rows.append((it.business_id, it.table_id, t.std.table_name, it.item_id, it.column_name, it.item_name,
                         it.data_type, it.length, "Y" if it.required else "N", ri.status,
                         f"{system}.{t.source.table}",
                         "、".join(f"{labels[f]}（{f}）" for f in ri.lineage) or None,
                         ri.expr, ri.codemap_name, ri.note or None))
    return HEADER + f"-- every standard item {system} feeds, with its mapping status and lineage\n" \
        + _values(rows, ITEM_COLS) + "\n"


SPEC_COLS = ["gap_id", "gap_kind", "business_id", "table_id", "item_id", "item_name", "source_table",
             "legacy_field", "legacy_value", "detail"]


def spec_sql(system: str, layout: Layout, tables: list[ResolvedTable]) -> str:
    static, code_rows, legacy_rows = [], [], []
    for t in tables:
        types = {f.name: f for f in t.source.fields}
        for ri in t.items:
            it = ri.item
            base = f"{system}:{t.std.ref}.{it.item_id}"
            if ri.status == "no_source" and it.required:
                static.append((f"{base}:required_no_source", "required_no_source", it.business_id, it.table_id,
                               it.item_id, it.item_name, f"{system}.{t.source.table}", None, None,
                               ri.note or "移行元の項目がない"))
            if ri.expr and len(ri.lineage) == 1:
                f = types[ri.lineage[0]]
                if it.data_type == "date" and f.type != "date":
                    static.append((f"{base}:type_conflict", "type_conflict", it.business_id, it.table_id, it.item_id,
                                   it.item_name, f"{system}.{t.source.table}", f.name, None,
                                   f"標準は日付型、現行「{f.label}」は{f.type}"))
                if it.data_type == "integer" and f.type not in ("amount", "digits"):
                    static.append((f"{base}:type_conflict", "type_conflict", it.business_id, it.table_id, it.item_id,
                                   it.item_name, f"{system}.{t.source.table}", f.name, None,
                                   f"標準は数値型、現行「{f.label}」は{f.type}"))
                if it.data_type == "string" and f.length > it.length and ri.expr.strip() == f.name:
                    static.append((f"{base}:length_conflict", "length_conflict", it.business_id, it.table_id,
                                   it.item_id, it.item_name, f"{system}.{t.source.table}", f.name, None,
                                   f"標準{it.length}桁、現行「{f.label}」{f.length}バイト"))
            if ri.codemap is not None and len(ri.lineage) == 1 and types[ri.lineage[0]].codes:
                f = types[ri.lineage[0]]
                for code, label in layout.codes[f.codes].items():
                    if code not in ri.codemap:
                        code_rows.append((f"{base}:code_unmapped:{code}", "code_unmapped", it.business_id,
                                          it.table_id, it.item_id, it.item_name, f"{system}.{t.source.table}",
                                          f.name, code, f"現行コード {code}（{label}）に対応する標準コードがない"))
    # 独自項目: legacy fields that feed no standard item
    by_source: dict[str, set[str]] = defaultdict(set)
    for t in tables:
        for ri in t.items:
            by_source[t.source.table] |= set(ri.lineage)
        by_source[t.source.table] |= {t.sample_key}
    for lf in layout.files:
        for f in lf.fields:
            if f.name in by_source.get(lf.table, set()):
                continue
            legacy_rows.append((lf.table, f.name, f.label, f.type))
    parts = [_values(static, SPEC_COLS)]
    codes_static = _values(code_rows, SPEC_COLS)
    sql = HEADER + f"-- spec gaps of {system}: per standard item, per unmapped code value, per legacy-only field\n"
    sql += "with static_gaps as (\n    " + parts[0] + "\n),\n"
    sql += "vendor_codes as (\n    " + codes_static + "\n),\n"
    sql += "code_counts as (\n    " + code_counts_sql(system) + "\n),\n"
    # unexpected codes (in the data but not even in the vendor's list) become gaps too
    sql += ("code_gaps as (\n    select\n        coalesce(v.gap_id, "
            f"{q(system + ':')} || c.std_ref || '.' || c.item_id || ':code_unmapped:' || c.legacy_value) as gap_id,\n"
            "        'code_unmapped' as gap_kind,\n"
            "        coalesce(v.business_id, split_part(c.std_ref, '.', 1)) as business_id,\n"
            "        coalesce(v.table_id, split_part(c.std_ref, '.', 2)) as table_id,\n"
            "        coalesce(v.item_id, c.item_id) as item_id,\n"
            "        v.item_name, v.source_table, v.legacy_field,\n"
            "        coalesce(v.legacy_value, c.legacy_value) as legacy_value,\n"
            "        coalesce(v.detail, '現行コード ' || c.legacy_value || '（コード表にない値）に対応する標準コードがない') as detail,\n"
            "        coalesce(c.record_count, 0) as record_count,\n"
            "        c.samples\n"
            "    from vendor_codes v\n"
            "    full outer join code_counts c\n"
            f"        on {q(system + ':')} || c.std_ref || '.' || c.item_id || ':code_unmapped:' || c.legacy_value = v.gap_id\n),\n")
    legacy_parts = []
    for table, field, label, typ in legacy_rows:
        col = f"{field}__raw" if typ in ("date", "amount") else field
        legacy_parts.append(
            f"select {q(system + ':' + table + '.' + field + ':legacy_only')} as gap_id, 'legacy_only' as gap_kind, "
            f"cast(null as string) as business_id, cast(null as string) as table_id, cast(null as string) as item_id, "
            f"cast(null as string) as item_name, {q(system + '.' + table)} as source_table, {q(field)} as legacy_field, "
            f"cast(null as string) as legacy_value, {q('現行「' + label + '」にデータがあるが移行先の標準項目がない')} as detail, "
            f"count({col}) as record_count, "
            + "{{ kikan.sample_lines('case when " + col + " is not null then _record_no end') }}"
            + f" as samples from {{{{ ref('{stg_name(system, table)}') }}}} having count({col}) > 0")
    sql += "legacy_gaps as (\n    " + ("\n    union all\n    ".join(legacy_parts) if legacy_parts else
                                       "select *, cast(null as bigint) as record_count, cast(null as string) as samples "
                                       "from static_gaps where 1 = 0") + "\n),\n"
    sql += ("final as (\n"
            "    select *, cast(null as bigint) as record_count, cast(null as string) as samples from static_gaps\n"
            "    union all\n    select * from code_gaps\n"
            "    union all\n    select * from legacy_gaps\n)\n")
    sql += f"select {q(system)} as system, * from final\n"
    return sql


# --------------------------------------------------------------------------- writing

def sources_yml(project: Project) -> dict:
    reference = {"name": "reference", "schema": "reference",
                 "tables": [{"name": "std_charset"}, {"name": "mj_index"}, {"name": "char_fold"}]}
    tables = []
    for s in project.city.systems:
        for lf in project.layouts[s.id].files:
            tables.append({"name": f"{s.id}__{lf.table}", "description": f"{s.name}「{lf.label}」({lf.file})",
                           "meta": {"system": s.id}})
        tables.append({"name": f"{s.id}__quarantine", "meta": {"system": s.id}})
    meta = {"name": "meta", "schema": "meta",
            "description": "Extract bookkeeping written by every system's extract asset (counts, hashes, 外字 seen)",
            "tables": [{"name": "extract_files", "meta": {"group": "bookkeeping"}},
                       {"name": "gaiji_usage", "meta": {"group": "bookkeeping"}}]}
    return {"version": 2, "sources": [{"name": "raw", "schema": "raw", "tables": tables}, reference, meta]}


def render_all(project: Project, mappings: MappingSet) -> dict[Path, str]:
    """Every generated file, relative to the dbt project, and its content."""
    files: dict[Path, str] = {}
    decisions = _gaiji_decisions(project.root, [s.id for s in project.city.systems])
    files[GEN_MACROS / "kana.sql"] = kana_macro()
    files[GEN_MACROS / "charsql.sql"] = split_chars_macro()
    files[GEN_MODELS / "sources.yml"] = yaml.safe_dump(sources_yml(project), allow_unicode=True, sort_keys=False)
    staging_models = []
    for s in project.city.systems:
        layout = project.layouts[s.id]
        for lf in layout.files:
            name = stg_name(s.id, lf.table)
            files[GEN_MODELS / "staging" / s.id / f"{name}.sql"] = staging_sql(s.id, layout, lf, decisions.get(s.id, []))
            staging_models.append({
                "name": name, "description": f"{s.name}「{lf.label}」: 型変換・和暦変換・カナ全角化・外字同定の適用",
                "config": {"meta": {"system": s.id}, "tags": [s.id, "staging"]},
                "columns": [{"name": "_record_no", "data_tests": ["not_null", "unique"]}],
            })
    files[GEN_MODELS / "staging" / "_staging.yml"] = yaml.safe_dump(
        {"version": 2, "models": staging_models}, allow_unicode=True, sort_keys=False)
    std_models, int_models, gap_models = [], [], []
    ranges = load_item_ranges(mappings.catalog, SEEDS / "std_item_ranges.csv")
    for t in mappings.tables:
        files[GEN_MODELS / "intermediate" / t.system / f"{int_name(t)}.sql"] = int_sql(t, ranges)
        int_models.append({"name": int_name(t), "config": {"meta": {"system": t.system}, "tags": [t.system]}})
        files[GEN_MODELS / "standard" / t.std.business_id / f"{std_name(t)}.sql"] = std_sql(t)
        std_models.append(std_yml(t))
    for s in project.city.systems:
        ts = mappings.for_system(s.id)
        files[GEN_MODELS / "gaps" / s.id / f"gaps_{s.id}__items.sql"] = items_sql(s.id, ts)
        files[GEN_MODELS / "gaps" / s.id / f"gaps_{s.id}__spec.sql"] = spec_sql(s.id, project.layouts[s.id], ts)
        files[GEN_MODELS / "gaps" / s.id / f"gaps_{s.id}__data.sql"] = data_gaps_sql(s.id)
        for kind in ("items", "spec", "data"):
            m = {"name": f"gaps_{s.id}__{kind}", "config": {"meta": {"system": s.id}, "tags": [s.id, "gaps"]}}
            if kind != "items":
                m["columns"] = [{"name": "gap_id", "data_tests": ["unique", "not_null"]}]
            gap_models.append(m)
    files[GEN_MODELS / "intermediate" / "_intermediate.yml"] = yaml.safe_dump(
        {"version": 2, "models": int_models}, allow_unicode=True, sort_keys=False)
    files[GEN_MODELS / "standard" / "_standard.yml"] = yaml.safe_dump(
        {"version": 2, "models": std_models}, allow_unicode=True, sort_keys=False)
    files[GEN_MODELS / "gaps" / "_gaps.yml"] = yaml.safe_dump(
        {"version": 2, "models": gap_models}, allow_unicode=True, sort_keys=False)
    conf_files, conf_models = render_conformance(project, mappings)
    files.update(conf_files)
    files[GEN_MODELS / "conformance" / "_conformance.yml"] = yaml.safe_dump(
        {"version": 2, "models": conf_models}, allow_unicode=True, sort_keys=False)
    fnd_files, fnd_models = render_findings(project, mappings)
    files.update(fnd_files)
    files[GEN_MODELS / "findings" / "_findings.yml"] = yaml.safe_dump(
        {"version": 2, "models": fnd_models}, allow_unicode=True, sort_keys=False)

    recon_files, recon_models = render_recon(project, mappings)
    files.update(recon_files)
    files[GEN_MODELS / "readiness" / "_readiness.yml"] = yaml.safe_dump(
        {"version": 2, "models": recon_models}, allow_unicode=True, sort_keys=False)
    return files


def generate(project: Project, mappings: MappingSet, dbt_dir: Path = DBT_DIR) -> tuple[int, str]:
    """Write the generated files; returns (files changed, fingerprint of all content)."""
    files = render_all(project, mappings)
    changed = 0
    for root in (dbt_dir / GEN_MODELS, dbt_dir / GEN_MACROS):
        if root.exists():
            for p in root.rglob("*"):
                if p.is_file() and p.relative_to(dbt_dir) not in files:
                    p.unlink()
                    changed += 1
    h = hashlib.sha256()
    for rel, content in sorted(files.items()):
        h.update(str(rel).encode() + b"\0" + content.encode())
        p = dbt_dir / rel
        if not p.exists() or p.read_text(encoding="utf-8") != content:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content, encoding="utf-8")
            changed += 1
    return changed, h.hexdigest()
