{#
  The repeated shapes of the generated models (models/generated/), written once: how a legacy
  date and amount are read in staging, how an item's flag is decided in the intermediate layer,
  and the columns of a findings ledger row. Every macro writes portable SQL (the engine-specific spellings go through portable.sql).
#}

{# ------------------------------------------------------------------ literals #}

{# a SQL string literal of a value; none is a typed null #}
{% macro lit(value) -%}
{%- if value is none -%}cast(null as string){%- else -%}'{{ value | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}

{# a comma-separated list of SQL string literals #}
{% macro lits(values) -%}
{%- for v in values %}{{ kikan.lit(v) }}{{ ", " if not loop.last }}{% endfor -%}
{%- endmacro %}

{# ------------------------------------------------------------------ staging: dates #}

{# the first year (what: 'year'), first day ('start') or last day ('end') of the era a key names;
   meiji_start: the day 明治 starts for this system (DOMAIN.md) #}
{% macro era_case(key, kind, what, meiji_start=none) -%}
case ({{ key }})
{%- for era in kikan.eras() %}
{%- for k in ([era.digit | string] if kind == 'digit' else [era.letter] if kind == 'letter' else [era.name, era.letter]) %}
 when '{{ k }}' then
{%- if what == 'year' %} {{ era.start[:4] | int }}
{%- elif what == 'start' %} date '{{ meiji_start if era.code == 'meiji' and meiji_start else era.start }}'
{%- elif era.end %} date '{{ era.end }}'
{%- else %} null
{%- endif %}{% endfor %}{% endfor %} end
{%- endmacro %}

{# where a date style keeps its pieces: (era key, year, month, day, era key kind), over the value v
   or over its regex groups g (a struct of g1..gn, see re_groups) #}
{% macro date_pieces(v, style) -%}
{%- set g = v ~ '__g' -%}
{%- if style == 'era7' or style == 'era_letter' -%}
{{ return(['substr(' ~ v ~ ', 1, 1)', 'substr(' ~ v ~ ', 2, 2)', 'substr(' ~ v ~ ', 4, 2)', 'substr(' ~ v ~ ', 6, 2)',
           'digit' if style == 'era7' else 'letter']) }}
{%- elif style == 'ymd8' -%}
{{ return([none, 'substr(' ~ v ~ ', 1, 4)', 'substr(' ~ v ~ ', 5, 2)', 'substr(' ~ v ~ ', 7, 2)', none]) }}
{%- elif style == 'ym6' -%}
{{ return([none, 'substr(' ~ v ~ ', 1, 4)', 'substr(' ~ v ~ ', 5, 2)', "'1'", none]) }}
{%- elif style == 'era_dotted' -%}
{{ return([g ~ '.g1', '(case ' ~ g ~ ".g2 when '元' then '1' else " ~ g ~ '.g2 end)', g ~ '.g3', g ~ '.g4', 'name']) }}
{%- elif style == 'ymd_slash' -%}
{{ return([none, g ~ '.g1', g ~ '.g2', g ~ '.g3', none]) }}
{%- endif -%}
{%- endmacro %}

{# the regex groups of a date style whose pieces are not at fixed places, taken once per value
   (a column <v>__g; one pass instead of one per piece) #}
{% macro date_groups(v, style) -%}
{{ kikan.re_groups(v, kikan.date_pattern(style), 4 if style == 'era_dotted' else 3) }} as {{ v }}__g
{%- endmacro %}

{# <v>__ok: whether a legacy date has its style's form (kikan.date_pattern, generated with the era
   table). Its own column, computed once in the forms CTE: the pieces below test it five times,
   and DuckDB evaluated the regex again for each (0.3 s of a 5.6 s staging model at 817,000). #}
{% macro date_form(v, style) -%}
{{ kikan.re_full(v, kikan.date_pattern(style)) }} as {{ v }}__ok
{%- endmacro %}

{# the columns <v>__y, __m, __d, __lo, __hi of a legacy date of the form (<v>__ok): its year, month
   and day as written, and the first and last day its era allows.
   try_cast although the form was checked: DuckDB may evaluate a regex group's cast outside the
   CASE that guards it, and a value of the wrong form must give a null, never stop the model. #}

{% macro date_parts(v, style, meiji_start=none) -%}
{%- set p = kikan.date_pieces(v, style) -%}
{%- set ok = v ~ '__ok' -%}
{%- if p[0] is none -%}
  {%- set y, lo, hi = 'try_cast(' ~ p[1] ~ ' as integer)', "date '0001-01-01'", 'cast(null as date)' -%}
{%- else -%}
  {%- set y = 'case when try_cast(' ~ p[1] ~ ' as integer) >= 1 then ' ~ kikan.era_case(p[0], p[4], 'year')
              ~ ' + try_cast(' ~ p[1] ~ ' as integer) - 1 end' -%}
  {%- set lo = kikan.era_case(p[0], p[4], 'start', meiji_start) -%}
  {%- set hi = kikan.era_case(p[0], p[4], 'end') -%}
{%- endif -%}
case when {{ ok }} then {{ y }} end as {{ v }}__y,
        case when {{ ok }} then try_cast({{ p[2] }} as integer) end as {{ v }}__m,
        case when {{ ok }} then try_cast({{ p[3] }} as integer) end as {{ v }}__d,
        case when {{ ok }} then {{ lo }} end as {{ v }}__lo,
        case when {{ ok }} then {{ hi }} end as {{ v }}__hi
{%- endmacro %}

{# the day a legacy date's pieces name, or null when there is no such day (31 February) #}
{% macro date_candidate(v) -%}
{{ kikan.try_date(v ~ '__y', v ~ '__m', v ~ '__d') }} as {{ v }}__d0
{%- endmacro %}

{# a legacy date's final columns: <v> (the day, when its era allows it), <v>__raw (the text) and
   <v>__status: blank, unknown / open (the system's sentinels), ok or invalid #}
{% macro date_columns(v, unknown=[], open=[]) -%}
{%- set valid = '(' ~ v ~ '__d0 >= ' ~ v ~ '__lo and (' ~ v ~ '__hi is null or ' ~ v ~ '__d0 <= ' ~ v ~ '__hi))' -%}
case when {{ valid }} then {{ v }}__d0 end as {{ v }},
        {{ v }} as {{ v }}__raw,
        case when {{ v }} is null then 'blank'
        {%- if unknown %} when {{ v }} in ({{ kikan.lits(unknown) }}) then 'unknown'{% endif %}
        {%- if open %} when {{ v }} in ({{ kikan.lits(open) }}) then 'open'{% endif %}
        when {{ valid }} then 'ok' else 'invalid' end as {{ v }}__status
{%- endmacro %}

{# ------------------------------------------------------------------ staging: amounts #}

{# a legacy amount read once, in the forms CTE: <v>__ok, whether it has the form (pattern), and
   <v>__n, its digits cast to a BIGINT (null when they are not a number or do not fit; try_cast
   gives a null for any text, so it needs no guard). zoned: the sign is over-punched in the last
   character (positive, negative: the characters for 0-9). The columns used to test the form
   three times and cast twice: the regex was a third of the 817,000-resident city's largest
   staging model. #}
{% macro amount_form(v, pattern, positive=none, negative=none) -%}
{%- if positive is none -%}
  {%- set digits = v -%}
{%- else -%}
  {#- the sign in front of the digits, so the one negative number whose digits alone exceed a
      BIGINT (-9223372036854775808) is read, as the plain reader reads it -#}
  {%- set digits = 'concat(case when right(' ~ v ~ ', 1) in (' ~ kikan.lits(negative | list) ~ ") then '-' else '' end, "
                   ~ 'left(' ~ v ~ ', length(' ~ v ~ ') - 1), '
                   ~ kikan.zoned_digit('right(' ~ v ~ ', 1)', positive ~ negative) ~ ')' -%}
{%- endif -%}
{{ kikan.re_full(v, pattern) }} as {{ v }}__ok,
        {{ kikan.try_bigint(digits) }} as {{ v }}__n
{%- endmacro %}

{# the digit a zoned decimal's last character stands for (the n-th of `chars`: n mod 10; the
   positive signs' ten, then the negative signs'), any other character as it is: what
   translate(last, chars, '01234567890123456789') gives, as a CASE. DuckDB's translate took 0.93 s
   for the 2.8 M 収納 rows of the 817,000-resident city (of its staging model's 3.1 s), the CASE
   0.05 s. #}
{% macro zoned_digit(last, chars='{ABCDEFGHI}JKLMNOPQR') -%}
case {{ last }}{% for c in chars %} when {{ kikan.lit(c) }} then '{{ loop.index0 % 10 }}'{% endfor %} else {{ last }} end
{%- endmacro %}

{# a legacy amount's columns from its form: <v> (a BIGINT), <v>__raw (the text) and <v>__status
   (blank, invalid, overflow or ok); a value of the right form that does not fit a BIGINT is
   'overflow', never a silent null. #}
{% macro amount_columns(v) -%}
case when {{ v }}__ok then {{ v }}__n end as {{ v }},
        {{ v }} as {{ v }}__raw,
        case when {{ v }} is null then 'blank' when not {{ v }}__ok then 'invalid' when {{ v }}__n is null
        then 'overflow' else 'ok' end as {{ v }}__status
{%- endmacro %}

{# ------------------------------------------------------------------ intermediate: numbers #}

{# the integer a text holds, read strictly: it must have the form (-?[0-9]+) and fit a BIGINT, else
   null (then the item's flag says number_invalid). try_cast alone is lax: it takes '1_000',
   ' 12 ', '0x10' and '1e3', and rounds 12.5 to 13. #}
{% macro read_bigint(text, pattern) -%}
case when {{ kikan.re_full(text, pattern) }} then {{ kikan.try_bigint(text) }} end
{%- endmacro %}

{# ------------------------------------------------------------------ intermediate: the item's flag #}

{# An item's flag: the first reason its value could not become the standard's, or null.
   c: the item's column (its value is <c>__v); data_type: the catalog's (string, code, integer,
   date); length: its digits; fields: the legacy fields that feed it, with their layout type (date
   and amount fields carry a __status from staging); code: the value comes from a code map
   (seeds/code_maps.csv, joined: <c>__legacy is the legacy code, <c>__known whether the map has it);
   low, high: its range (SQL literals); required: whether the catalog requires a value. The order
   of the checks is the order of the reasons (a date the legacy file could not say is
   date_invalid before it is required_missing). #}
{% macro item_flag(c, data_type, length=none, fields={}, code=false, low=none, high=none, required=false) -%}
{%- set date_bad, number_bad, sentinel, present, whens = [], [], [], [], [] -%}
{%- for f, t in fields.items() -%}
  {%- if t == 'date' -%}
    {%- do date_bad.append(f ~ "__status = 'invalid'") -%}
    {%- do sentinel.append(f ~ "__status in ('unknown', 'open')") -%}
  {%- elif t == 'amount' -%}
    {%- do number_bad.append(f ~ "__status in ('invalid', 'overflow')") -%}
  {%- endif -%}
  {%- do present.append(f ~ ' is not null') -%}
{%- endfor -%}
{%- set over_length = 'when length(' ~ c ~ '__v) > ' ~ length ~ " then 'over_length'" -%}
{%- if date_bad %}{% do whens.append('when ' ~ date_bad | join(' or ') ~ " then 'date_invalid'") %}{% endif -%}
{%- if number_bad %}{% do whens.append('when ' ~ number_bad | join(' or ') ~ " then 'number_invalid'") %}{% endif -%}
{%- if code -%}
  {%- do whens.append('when ' ~ c ~ '__legacy is not null and not ' ~ c ~ "__known then 'unmapped_code'") -%}
  {%- if data_type == 'string' %}{% do whens.append(over_length) %}{% endif -%}
{%- elif data_type == 'string' -%}
  {%- do whens.append(over_length) -%}
{%- elif data_type == 'integer' -%}
  {%- if present -%}
    {%- do whens.append('when ' ~ c ~ '__v is null and (' ~ present | join(' or ') ~ ") then 'number_invalid'") -%}
  {%- endif -%}
  {#- every BIGINT fits 19 digits (and abs() of the smallest one overflows) -#}
  {%- if length < 19 -%}
    {%- set most = 10 ** length - 1 -%}
    {%- do whens.append('when ' ~ c ~ '__v > ' ~ most ~ ' or ' ~ c ~ '__v < -' ~ most ~ " then 'over_length'") -%}
  {%- endif -%}
{%- elif present -%}
  {%- do whens.append('when ' ~ c ~ '__v is null and (' ~ present | join(' or ') ~ ") then 'date_invalid'") -%}
{%- endif -%}
{%- set outside = [] -%}
{%- if low is not none %}{% do outside.append(c ~ '__v < ' ~ low) %}{% endif -%}
{%- if high is not none %}{% do outside.append(c ~ '__v > ' ~ high) %}{% endif -%}
{%- if outside %}{% do whens.append('when ' ~ outside | join(' or ') ~ " then 'out_of_range'") %}{% endif -%}
{%- if required -%}
  {%- set blank = '(' ~ c ~ '__v is null' ~ (' or ' ~ c ~ "__v = ''" if data_type in ('string', 'code') else '') ~ ')' -%}
  {%- if sentinel %}{% set blank = '(' ~ blank ~ ' and not (' ~ sentinel | join(' or ') ~ '))' %}{% endif -%}
  {%- do whens.append('when ' ~ blank ~ " then 'required_missing'") -%}
{%- endif -%}
{%- if whens -%}
case {{ whens | join(' ') }} end
{%- else -%}
cast(null as string)
{%- endif -%}
{%- endmacro %}

{# ------------------------------------------------------------------ readiness: legacy numbers #}

{# the integer a legacy text says, as a wide integer (kikan.wide_int), or null when it is not one:
   at most `digits` digits (more than any standard column, yet no sum of them overflows), zoned
   decimal when `zoned`. Read on its own for 突合, not with the staging reader: a value the
   standard side lost (beyond BIGINT, beyond the item's digits) must still count on the legacy
   side. try_cast although the form was checked: an engine may evaluate the cast outside its guard. #}
{% macro legacy_number(text, zoned=false, digits=30) -%}
{%- if not zoned -%}
case when {{ kikan.re_full(text, '-?[0-9]{1,' ~ digits ~ '}') }} then try_cast({{ text }} as {{ kikan.wide_int() }}) end
{%- else -%}
{%- set last = 'right(' ~ text ~ ', 1)' -%}
case when {{ kikan.re_full(text, '[0-9]{0,' ~ (digits - 1) ~ '}[0-9{}A-R]') }}
then try_cast(concat(case when {{ last }} in ('}', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R') then '-' else '' end,
    substr({{ text }}, 1, length({{ text }}) - 1),
    {{ kikan.zoned_digit(last) }}) as {{ kikan.wide_int() }}) end
{%- endif -%}
{%- endmacro %}

{# ------------------------------------------------------------------ findings: one row #}

{# The columns of one findings ledger row, in the ledger's order. The first five are values (the
   legacy table and file, the standard table, item id and name; none for a row of no item); the
   rest are SQL: the record's line, its internal key, the rule (rule: a rule id; rule_sql: an
   expression giving it), the gap the row counts towards, and the detail shown to the owner. #}
{% macro finding(source_table, source_file, std_ref=none, item_id=none, item_name=none, rule=none, rule_sql=none,
                 record_no='_src_record_no', key='_key', gap_id=none, detail=none) -%}
{#- literals written here rather than through kikan.lit: ~650 rows per project, and each macro call
    costs dbt's parse and compile time -#}
{%- set v = [] -%}
{%- for x in [source_table, source_file, std_ref, item_id, item_name, rule] -%}
  {%- do v.append("cast(null as string)" if x is none else "'" ~ (x | replace("'", "''")) ~ "'") -%}
{%- endfor -%}
{{ v[0] }} as source_table,
{{ v[1] }} as source_file,
cast({{ record_no }} as bigint) as record_no,
{{ v[2] }} as std_ref,
{{ v[3] }} as item_id,
{{ v[4] }} as item_name,
cast({{ key }} as string) as internal_key,
{{ rule_sql if rule_sql is not none else v[5] }} as rule_id,
{{ gap_id if gap_id is not none else 'cast(null as string)' }} as gap_id,
{{ 'cast(' ~ detail ~ ' as string)' if detail is not none else 'cast(null as string)' }} as detail
{%- endmacro %}

{# a few records of a group, as an owner reads them: internal key and line (the full list is the
   ledger); an aggregate over findings ledger rows #}
{% macro finding_samples() -%}
{{ kikan.sample_list("coalesce(internal_key, '') || '（' || cast(record_no as string) || '行目）'") }}
{%- endmacro %}

{# the ledger row of an item's flag (<c>__flag, see item_flag): its gap is the item's gap of that
   kind; a code the map does not know is shown as the detail (code: the item has a code map) #}
{% macro flag_finding(system, source_table, source_file, std_ref, item_id, item_name, c, code=false) -%}
{{ kikan.finding(source_table, source_file, std_ref, item_id, item_name, rule_sql=c ~ '__flag',
                 gap_id=kikan.lit(system ~ ':' ~ std_ref ~ '.' ~ item_id ~ ':') ~ ' || ' ~ c ~ '__flag',
                 detail=("case when " ~ c ~ "__flag = 'unmapped_code' then " ~ c ~ "__legacy end") if code else none) }}
{%- endmacro %}

{# ------------------------------------------------------------------ gaps: a legacy-only field #}

{# The columns of a spec gap for a legacy field that feeds no standard item (独自項目), over its
   staging model: how many records hold a value, and the first lines. column: the staging column
   holding the field's text (<field>__raw for a date or an amount). #}
{% macro legacy_only_gap(system, table, field, label, column=none) -%}
{%- set col = column or field -%}
{{ kikan.lit(system ~ ':' ~ table ~ '.' ~ field ~ ':legacy_only') }} as gap_id, 'legacy_only' as gap_kind,
cast(null as string) as business_id, cast(null as string) as table_id, cast(null as string) as item_id,
cast(null as string) as item_name, {{ kikan.lit(system ~ '.' ~ table) }} as source_table,
{{ kikan.lit(field) }} as legacy_field, cast(null as string) as legacy_value,
{{ kikan.lit('現行「' ~ label ~ '」にデータがあるが移行先の標準項目がない') }} as detail,
count({{ col }}) as record_count,
{{ kikan.sample_lines('case when ' ~ col ~ ' is not null then _record_no end') }} as samples
{%- endmacro %}

{# ------------------------------------------------------------------ findings: a text value #}

{# The columns of one standard text item's values for the character check (fnd_<system>__chars):
   where the value is (legacy table and file, line, standard table and item, internal key) and
   the value v, over an intermediate model. #}
{% macro item_text(source_table, source_file, std_ref, item_id, item_name, column) -%}
{{ kikan.lit(source_table) }} as source_table, {{ kikan.lit(source_file) }} as source_file,
_src_record_no as record_no, {{ kikan.lit(std_ref) }} as std_ref, {{ kikan.lit(item_id) }} as item_id,
{{ kikan.lit(item_name) }} as item_name, _key as internal_key, {{ column }} as v
{%- endmacro %}
