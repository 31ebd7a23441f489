"""Generate the conformance models: characters, field rules, keys, My Number linkage.

Per current system, from the standard catalog and the mappings (nothing per system by hand):

- ``conf_<system>__chars``: every character of a standard text item that is not in the
  standard character set (行政事務標準文字), with occurrences and sample internal keys;
- ``conf_<system>__findings``: field rules (カナ items full-width katakana, no half-width kana in
  漢字 items, the alphabet of Latin items) and key conformance (duplicate and null keys,
  履歴番号 contiguity, check digits of 個人番号 / 法人番号 / 住民票コード / 宛名番号, code values in
  their code tables, person keys that exist neither in 住民記録 nor in the 住登外 register);
- ``conf_<system>__mynumber_audit``: per record holding a 個人番号, its 4情報 against the
  resident register record of the same number (the 2023 マイナンバー紐付け総点検).

Findings carry counts and internal keys (宛名番号, record numbers) only.
"""

from __future__ import annotations

from .config import Project
from .dbtgen import GEN_MODELS, HEADER, int_name, q, std_name, stg_name
from .mapping import MappingSet, ResolvedTable

PERSON_KEYS = {"atena_no", "owner_atena_no", "jido_atena_no", "hogosha_atena_no", "nushi_atena_no"}
KATAKANA = "[ァ-ヶー　ヽヾ]+"
HALF_KANA = "[ｦ-ﾟ]"
ALPHABET = "[A-Z0-9 ,.''-]+"
REGISTER = ("juki", "jumin")
JUTOGAI = ("kojin_jumin", "atena")


def _finding(system, t: ResolvedTable, item_id, item_name, kind, from_sql, where, sample="_sample",
             count="count(*)") -> str:
    return (f"select {q(system + ':' + t.std.ref + '.' + item_id + ':' + kind)} as finding_id, {q(kind)} as check_kind, "
            f"{q(t.std.ref)} as std_ref, {q(item_id)} as item_id, {q(item_name)} as item_name, "
            f"{count} as violations, " + "{{ kikan.sample_list('" + sample + "') }} as samples "
            f"from {from_sql} where {where}")


def chars_sql(system: str, tables: list[ResolvedTable]) -> str:
    """Characters outside the standard set, counted per item, with sample internal keys.

    Each distinct value is split once, not each row (a city's names and addresses repeat: 1.9 M
    values were 0.2 M distinct in the 20k city), and split with ``string_split`` unless it holds
    an IVS selector (then the regex keeps base + selector together): 24 M characters/s against
    5.6 M for the regex on every row. Only the values that hold an outside character are
    joined back to their rows for the counts and samples.
    """
    parts = []
    for t in tables:
        for ri in t.items:
            it = ri.item
            if ri.expr is None or it.data_type != "string":
                continue
            c = it.column_name
            parts.append(
                f"select {q(t.std.ref)} as std_ref, {q(it.item_id)} as item_id, {q(it.item_name)} as item_name, "
                f"_sample, {c} as v from {{{{ ref('{int_name(t)}') }}}} where {c} is not null and {c} <> ''")
    body = "\n    union all\n    ".join(parts) if parts else \
        "select cast(null as string) as std_ref, cast(null as string) as item_id, cast(null as string) as item_name, " \
        "cast(null as string) as _sample, cast(null as string) as v where 1 = 0"
    return (HEADER + f"-- characters of {system}'s standard text items that are not 行政事務標準文字\n"
            + "with vals as (\n    " + body + "\n),\n"
            + "distinct_vals as (\n    select distinct v from vals\n),\n"
            + "split as (\n    select v, unnest({{ kikan.split_chars('v') }}) as ch from distinct_vals\n),\n"
            + "outside as (\n    select v, ch, count(*) as n from split s\n    where not exists (\n"
            + "        select 1 from {{ source('reference', 'std_charset') }} c where c.ch = s.ch)\n"
            + "    group by v, ch\n),\n"
            + "hits as (\n    select vals.std_ref, vals.item_id, vals.item_name, vals._sample, o.ch, o.n\n"
            + "    from vals\n    inner join outside o on o.v = vals.v\n),\n"
            + "final as (\n    select\n"
            + f"        {q(system)} as system, std_ref, item_id, item_name, ch,\n"
            + "        {{ kikan.codepoints('ch') }} as codepoints,\n"
            + "        sum(n) as occurrences, count(distinct _sample) as records,\n"
            + "        {{ kikan.sample_list('_sample') }} as samples\n"
            + "    from hits\n    group by std_ref, item_id, item_name, ch\n)\nselect * from final\n")


def findings_sql(project: Project, system: str, tables: list[ResolvedTable]) -> str:
    city = project.city.city
    parts = []
    register = f"{{{{ ref('std_{REGISTER[0]}__{REGISTER[1]}') }}}}"
    jutogai = f"{{{{ ref('std_{JUTOGAI[0]}__{JUTOGAI[1]}') }}}}"
    for t in tables:
        src = f"{{{{ ref('{int_name(t)}') }}}}"
        key = t.std.key
        items = {ri.item.column_name: ri for ri in t.items}
        if key:
            kid = items[key[0]].item.item_id
            cols = ", ".join(key)
            parts.append(_finding(system, t, kid, "主キー", "duplicate_key",
                                  f"(select {cols}, min(_sample) as _sample, count(*) as n from {src} group by {cols} having count(*) > 1) d",
                                  "true"))
            parts.append(_finding(system, t, kid, "主キー", "null_key", src,
                                  " or ".join(f"{k} is null" for k in key)))
            if {"atena_no", "rireki_no"} <= set(key):
                parts.append(_finding(system, t, items["rireki_no"].item.item_id, "履歴番号", "rireki_gap",
                                      f"(select atena_no, min(_sample) as _sample, min(cast(rireki_no as integer)) as lo, "
                                      f"max(cast(rireki_no as integer)) as hi, count(distinct rireki_no) as n from {src} "
                                      f"where rireki_no is not null group by atena_no) r", "lo <> 1 or hi <> n"))
        for ri in t.items:
            it = ri.item
            if ri.expr is None:
                continue
            c = it.column_name
            checks = []
            if it.char_class == "カナ":
                checks.append(("kana_rule", f"{c} is not null and not " + "{{ kikan.re_full('" + c + "', '" + KATAKANA + "') }}"))
            if it.char_class == "漢字":
                checks.append(("hankaku_kana", f"{c} is not null and " + "{{ kikan.re_find('" + c + "', '" + HALF_KANA + "') }}"))
            if it.char_class == "英数":
                checks.append(("alphabet_rule", f"{c} is not null and not " + "{{ kikan.re_full('" + c + "', \"" + ALPHABET + "\") }}"))
            if c == "kojin_bango":
                checks.append(("check_digit", f"{c} is not null and not " + "{{ kikan.mynumber_ok('" + c + "') }}"))
            if c == "hojin_bango":
                checks.append(("check_digit", f"{c} is not null and not " + "{{ kikan.hojin_ok('" + c + "') }}"))
            if c == "juminhyo_cd":
                w = list(city.juminhyo_weights)
                checks.append(("check_digit", f"{c} is not null and not " + "{{ kikan.m11_ok('" + c + "', 11, " + str(w) + ") }}"))
            if c in PERSON_KEYS and city.atena_check_digit == "m11w27":
                checks.append(("check_digit", f"{c} is not null and not " + "{{ kikan.m11_ok('" + c + "', 10) }}"))
            # correlated subqueries name the outer row "o": an unqualified column would bind inside
            if it.data_type == "code" and it.code_table:
                checks.append(("code_not_in_table", f"o.{c} is not null and not exists (select 1 from "
                               "{{ ref('std_codes') }} k where k.code_table = " + q(it.code_table) + f" and k.code = o.{c})"))
            if c in PERSON_KEYS and (t.std.business_id, t.std.table_id) != REGISTER:
                checks.append(("orphan_person", f"o.{c} is not null and not exists (select 1 from {register} r "
                               f"where r.atena_no = o.{c}) and not exists (select 1 from {jutogai} j "
                               f"where j.atena_no = o.{c} and j.juto_kubun = '2')"))
            for kind, where in checks:
                parts.append(_finding(system, t, it.item_id, it.item_name, kind, src + " o", where))
    body = "\n    union all\n    ".join(parts)
    return (HEADER + f"-- field rules and key conformance of {system}\n"
            + "with findings as (\n    " + body + "\n)\n"
            + f"select {q(system)} as system, * from findings where violations > 0\n")


def audit_sql(system: str, tables: list[ResolvedTable]) -> str | None:
    """My Number linkage audit: records with a 個人番号 against the register's 4情報."""
    parts = []
    for t in tables:
        cols = {ri.item.column_name: ri for ri in t.items}
        if "kojin_bango" not in cols or (t.std.business_id, t.std.table_id) == REGISTER:
            continue
        person = next((c for c in ("atena_no", "nushi_atena_no") if c in cols), None)
        if person is None:
            continue
        fi = t.four_info or {}
        f = {k: (f"cast(({fi[k]}) as {'date' if k == 'birth_date' else 'string'})" if k in fi else "null")
             for k in ("shimei", "birth_date", "sex", "jusho")}
        where = "i_kojin_bango is not null"
        if (t.std.business_id, t.std.table_id) == JUTOGAI:
            where += " and i_juto = '1'"   # 住登外 numbers are not in the resident register
        juto = ", juto_kubun as i_juto" if (t.std.business_id, t.std.table_id) == JUTOGAI else ""
        parts.append(
            f"select {q(t.std.ref)} as std_ref, i_sample as _sample, i_person as atena_no, i_kojin_bango as kojin_bango, "
            f"{f['shimei']} as rec_shimei, {f['birth_date']} as rec_birth, {f['sex']} as rec_sex, {f['jusho']} as rec_jusho "
            f"from (select _sample as i_sample, _src_record_no as i_rec, {person} as i_person, "
            f"kojin_bango as i_kojin_bango{juto} from {{{{ ref('{int_name(t)}') }}}}) i "
            f"join {{{{ ref('{stg_name(system, t.source.table)}') }}}} s on i.i_rec = s._record_no where {where}")
    if not parts:
        return None
    norm = lambda x: f"replace(replace({x}, ' ', ''), '　', '')"  # noqa: E731
    return (HEADER + f"-- マイナンバー紐付け点検 of {system}: each record's 4情報 against the register record of its 個人番号\n"
            + "with register as (\n    select * from (\n        select *, row_number() over (partition by atena_no order by rireki_no desc) as rn\n"
            + "        from {{ ref('std_juki__jumin') }}\n    ) where rn = 1\n),\n"
            + "tsusho as (\n    select atena_no, tsusho from (\n        select atena_no, tsusho, row_number() over "
            + "(partition by atena_no order by rireki_no desc) as rn\n"
            + "        from {{ ref('std_juki__gaikokujin') }}\n    ) where rn = 1 and tsusho is not null\n),\n"
            + "records as (\n    " + "\n    union all\n    ".join(parts) + "\n),\n"
            + "compared as (\n    select\n        rec.std_ref, rec._sample, rec.atena_no,\n"
            + "        byno.atena_no as register_atena_no,\n"
            + "        (rec.rec_shimei is not null or own.atena_no is not null) as record_person_found,\n"
            + "        coalesce(rec.rec_shimei, own.shimei) as my_shimei, byno.shimei as reg_shimei, ts.tsusho as reg_tsusho,\n"
            + "        coalesce(rec.rec_birth, own.birth_date) as my_birth, byno.birth_date as reg_birth,\n"
            + "        coalesce(rec.rec_sex, own.sex) as my_sex, byno.sex as reg_sex,\n"
            + "        coalesce(rec.rec_jusho, own.jusho) as my_jusho, byno.jusho as reg_jusho\n"
            + "    from records rec\n"
            + "    left join register byno on byno.kojin_bango = rec.kojin_bango\n"
            + "    left join register own on own.atena_no = rec.atena_no\n"
            + "    left join tsusho ts on ts.atena_no = byno.atena_no\n),\n"
            + "fold as (\n    select {{ kikan.char_map('ch', 'folded') }} as m from {{ source('reference', 'char_fold') }}\n),\n"
            + "exact as (\n    select\n        c.*,\n"
            + f"        coalesce({norm('my_shimei')} = {norm('reg_shimei')}, false)\n"
            + f"            or coalesce({norm('my_shimei')} = {norm('reg_tsusho')}, false) as shimei_exact\n"
            + "    from compared c\n),\n"
            # folding splits both names into characters: done only where the names differ
            # (most records match exactly; the audit of 税 took 3.4 s of 20k city's dbt step)
            + "folded as (\n    select\n        c.*,\n"
            + "        case when shimei_exact then true else\n"
            + "        {{ kikan.fold_chars(\"" + norm('my_shimei') + "\", 'fold.m') }} = "
            + "{{ kikan.fold_chars(\"" + norm('reg_shimei') + "\", 'fold.m') }} end as shimei_folded\n"
            + "    from exact c cross join fold\n),\n"
            + "matched as (\n    select\n        *,\n"
            + "        coalesce(shimei_exact or shimei_folded, false) as match_shimei,\n"
            + "        coalesce(not shimei_exact and shimei_folded, false) as shimei_variant_only,\n"
            + "        coalesce(my_birth = reg_birth, false) as match_birth,\n"
            + "        coalesce(my_sex = reg_sex, false) as match_sex,\n"
            + "        coalesce(my_jusho = reg_jusho or starts_with(my_jusho, reg_jusho || '　'), false) as match_jusho,\n"
            + "        coalesce({{ kikan.re_find('my_shimei', '[\ue000-\uf8ff]') }}, false)\n"
            + "            or coalesce({{ kikan.re_find('reg_shimei', '[\ue000-\uf8ff]') }}, false) as shimei_has_gaiji\n"
            + "    from folded\n),\n"
            + "final as (\n    select\n"
            + f"        {q(system)} as system, std_ref, _sample, atena_no, register_atena_no, record_person_found,\n"
            + "        match_shimei, match_birth, match_sex, match_jusho, shimei_variant_only, shimei_has_gaiji,\n"
            + "        cast(match_shimei as integer) + cast(match_birth as integer) + cast(match_sex as integer)"
            + " + cast(match_jusho as integer) as matches,\n"
            + "        case when register_atena_no is null then '住基に該当なし'\n"
            + "             when cast(match_shimei as integer) + cast(match_birth as integer) + cast(match_sex as integer)"
            + " + cast(match_jusho as integer) = 4 then '4/4'\n"
            + "             when cast(match_shimei as integer) + cast(match_birth as integer) + cast(match_sex as integer)"
            + " + cast(match_jusho as integer) = 3 then '3/4'\n"
            + "             else '≤2/4' end as audit_class\n"
            + "    from matched\n)\nselect * from final\n")


def render_conformance(project: Project, mappings: MappingSet) -> dict:
    files = {}
    models = []
    for s in project.city.systems:
        ts = mappings.for_system(s.id)
        files[GEN_MODELS / "conformance" / s.id / f"conf_{s.id}__chars.sql"] = chars_sql(s.id, ts)
        files[GEN_MODELS / "conformance" / s.id / f"conf_{s.id}__findings.sql"] = findings_sql(project, s.id, ts)
        models += [f"conf_{s.id}__chars", f"conf_{s.id}__findings"]
        a = audit_sql(s.id, ts)
        if a:
            files[GEN_MODELS / "conformance" / s.id / f"conf_{s.id}__mynumber_audit.sql"] = a
            models.append(f"conf_{s.id}__mynumber_audit")
    return files, [{"name": m, "config": {"meta": {"system": m.split("__")[0][5:]}, "tags": [m.split("__")[0][5:], "conformance"]}}
                   for m in models]


__all__ = ["render_conformance", "std_name"]
