{#
  The few functions whose spelling differs between engines, dispatched per adapter so the
  generated models run on DuckDB and on Spark alike (STACK.md: sqlglot passes
  regexp_full_match and try_strptime through to Spark unflagged).
#}

{% macro re_full(expr, pattern) -%}{{ return(adapter.dispatch('re_full', 'kikan')(expr, pattern)) }}{%- endmacro %}
{% macro default__re_full(expr, pattern) -%}regexp_full_match({{ expr }}, '{{ pattern }}'){%- endmacro %}
{% macro spark__re_full(expr, pattern) -%}({{ expr }} rlike '^(?:{{ pattern }})$'){%- endmacro %}

{% macro try_date(y, m, d) -%}{{ return(adapter.dispatch('try_date', 'kikan')(y, m, d)) }}{%- endmacro %}
{# DuckDB: the day from its pieces, checked against the month's last day (no text to build and
   parse: 0.5 s of a 5.6 s staging model at 817,000); make_date runs only where the case allows #}
{% macro default__try_date(y, m, d) -%}
case when {{ y }} between 1 and 9999 and {{ m }} between 1 and 12 and {{ d }} >= 1
and {{ d }} <= day(last_day(make_date({{ y }}, {{ m }}, 1))) then make_date({{ y }}, {{ m }}, {{ d }}) end
{%- endmacro %}
{% macro spark__try_date(y, m, d) -%}
try_to_date(concat(lpad(cast({{ y }} as string), 4, '0'), '-', lpad(cast({{ m }} as string), 2, '0'), '-', lpad(cast({{ d }} as string), 2, '0')), 'yyyy-MM-dd')
{%- endmacro %}

{% macro trim_blanks(expr) -%}{{ return(adapter.dispatch('trim_blanks', 'kikan')(expr)) }}{%- endmacro %}
{# DuckDB's trim with a set of characters costs about 60 ns a value, and most values have no blank at
   either end (a CSV's): trimmed only when one may be there (a blank first or last, or a full-width
   one anywhere), the same text either way #}
{% macro default__trim_blanks(expr) -%}
nullif(case when starts_with({{ expr }}, ' ') or ends_with({{ expr }}, ' ') or contains({{ expr }}, '　')
then trim({{ expr }}, ' 　') else {{ expr }} end, '')
{%- endmacro %}
{% macro spark__trim_blanks(expr) -%}nullif(trim(BOTH ' 　' FROM {{ expr }}), ''){%- endmacro %}

{% macro sample_list(expr, n=5) -%}{{ return(adapter.dispatch('sample_list', 'kikan')(expr, n)) }}{%- endmacro %}
{% macro default__sample_list(expr, n) -%}array_to_string(list_slice(list_sort(list({{ expr }})), 1, {{ n }}), ', '){%- endmacro %}
{% macro spark__sample_list(expr, n) -%}array_join(slice(array_sort(collect_list({{ expr }})), 1, {{ n }}), ', '){%- endmacro %}

{% macro try_bigint(expr) -%}{{ return(adapter.dispatch('try_bigint', 'kikan')(expr)) }}{%- endmacro %}
{% macro default__try_bigint(expr) -%}try_cast({{ expr }} as bigint){%- endmacro %}
{% macro spark__try_bigint(expr) -%}try_cast({{ expr }} as bigint){%- endmacro %}

{# an integer wider than BIGINT, for totals of legacy amounts that a BIGINT column could not hold #}
{% macro wide_int() -%}{{ return(adapter.dispatch('wide_int', 'kikan')()) }}{%- endmacro %}
{% macro default__wide_int() -%}hugeint{%- endmacro %}
{% macro spark__wide_int() -%}decimal(38, 0){%- endmacro %}

{# the first n line numbers, in numeric order, written as 「N行目」 #}
{% macro sample_lines(expr, n=5) -%}{{ return(adapter.dispatch('sample_lines', 'kikan')(expr, n)) }}{%- endmacro %}
{% macro default__sample_lines(expr, n) -%}array_to_string(list_transform(list_slice(list_sort(list({{ expr }})), 1, {{ n }}), lambda x: cast(x as varchar) || '行目'), ', '){%- endmacro %}
{% macro spark__sample_lines(expr, n) -%}array_join(transform(slice(array_sort(collect_list({{ expr }})), 1, {{ n }}), x -> concat(cast(x as string), '行目')), ', '){%- endmacro %}

{% macro re_find(expr, pattern) -%}{{ return(adapter.dispatch('re_find', 'kikan')(expr, pattern)) }}{%- endmacro %}
{% macro default__re_find(expr, pattern) -%}regexp_matches({{ expr }}, '{{ pattern }}'){%- endmacro %}
{% macro spark__re_find(expr, pattern) -%}({{ expr }} rlike '{{ pattern }}'){%- endmacro %}

{# U+XXXX of a character, and of its variation selector when it has one #}
{% macro codepoints(ch) -%}{{ return(adapter.dispatch('codepoints', 'kikan')(ch)) }}{%- endmacro %}
{% macro default__codepoints(ch) -%}
array_to_string(list_transform(regexp_extract_all({{ ch }}, '.'), lambda c: printf('U+%04X', unicode(c))), ' ')
{%- endmacro %}
{% macro spark__codepoints(ch) -%}
concat('U+', upper(hex(ascii({{ ch }}))))
{%- endmacro %}

{# the characters of a string, an IVS selector kept with its base character #}
{% macro split_chars(expr) -%}{{ return(adapter.dispatch('split_chars', 'kikan')(expr)) }}{%- endmacro %}
{# default__split_chars is generated from lib/charsql.py (dbt/macros/generated/charsql.sql) #}
{% macro spark__split_chars(expr) -%}
filter(regexp_extract_all({{ expr }}, '([^\\x{E0100}-\\x{E01EF}][\\x{E0100}-\\x{E01EF}]?)', 1), c -> c <> '')
{%- endmacro %}

{# the n capture groups of a regex as a struct g1..gn, in one pass where the engine allows #}
{% macro re_groups(expr, pattern, n) -%}{{ return(adapter.dispatch('re_groups', 'kikan')(expr, pattern, n)) }}{%- endmacro %}
{% macro default__re_groups(expr, pattern, n) -%}
regexp_extract({{ expr }}, '{{ pattern }}', [{% for i in range(1, n + 1) %}'g{{ i }}'{{ ", " if not loop.last }}{% endfor %}])
{%- endmacro %}
{% macro spark__re_groups(expr, pattern, n) -%}
named_struct({% for i in range(1, n + 1) %}'g{{ i }}', regexp_extract({{ expr }}, '{{ pattern }}', {{ i }}){{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{# one map from two columns of a table (an aggregate), and a string's characters folded through it #}
{% macro char_map(key, value) -%}{{ return(adapter.dispatch('char_map', 'kikan')(key, value)) }}{%- endmacro %}
{% macro default__char_map(key, value) -%}map(list({{ key }}), list({{ value }})){%- endmacro %}
{% macro spark__char_map(key, value) -%}map_from_arrays(collect_list({{ key }}), collect_list({{ value }})){%- endmacro %}

{% macro fold_chars(expr, m) -%}{{ return(adapter.dispatch('fold_chars', 'kikan')(expr, m)) }}{%- endmacro %}
{% macro default__fold_chars(expr, m) -%}
array_to_string(list_transform({{ kikan.split_chars(expr) }}, lambda x: coalesce({{ m }}[x], x)), '')
{%- endmacro %}
{% macro spark__fold_chars(expr, m) -%}
array_join(transform({{ kikan.split_chars(expr) }}, x -> coalesce(element_at({{ m }}, x), x)), '')
{%- endmacro %}
