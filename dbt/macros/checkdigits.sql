{#
  Check digits as SQL (DOMAIN.md, Identifiers), so key conformance runs inside the engine.
  Each macro is true when the value has the right form and its check digit agrees.
#}

{# try_cast: the engine may evaluate the digits before (or without) the form check beside them, and a
   letter in a plain cast stopped the model with the value in its error text #}
{% macro digit_at(x, pos) -%}try_cast(substr({{ x }}, {{ pos }}, 1) as integer){%- endmacro %}

{# 個人番号: 12 digits; weights 6,5,4,3,2,7,6,5,4,3,2 over the first 11; r = sum mod 11; check = 0 if r <= 1 else 11 - r,
   written as mod(mod(11 - r, 11), 10) (r = 0 gives 11 -> 0, r = 1 gives 10 -> 0): the sum once, not twice in a CASE
   (0.21 -> 0.13 s for the 817,000-resident city's 0.7 M 宛名 rows) #}
{% macro mynumber_ok(x) -%}
({{ kikan.re_full(x, '[0-9]{12}') }} and mod(mod(11 - mod({% for w in [6,5,4,3,2,7,6,5,4,3,2] %}{{ kikan.digit_at(x, loop.index) }} * {{ w }}{% if not loop.last %} + {% endif %}{% endfor %}, 11), 11), 10) = {{ kikan.digit_at(x, 12) }})
{%- endmacro %}

{# 法人番号: 13 digits; the first is the check digit; weights 1,2,1,2... over the 12 base digits from the right; check = 9 - (sum mod 9) #}
{% macro hojin_ok(x) -%}
({{ kikan.re_full(x, '[0-9]{13}') }} and 9 - mod({% for j in range(12) %}{{ kikan.digit_at(x, 13 - j) }} * {{ 1 if j % 2 == 0 else 2 }}{% if not loop.last %} + {% endif %}{% endfor %}, 9) = {{ kikan.digit_at(x, 1) }})
{%- endmacro %}

{# modulus 11, weights cycling from the right over the base digits (M11W2-7 by default); 10 and 11 give 0:
   mod(mod(11 - r, 11), 10), the sum once (0.68 -> 0.42 s for the 817,000-resident city's 2.8 M 収納 rows) #}
{% macro m11_ok(x, n, weights=[2, 3, 4, 5, 6, 7]) -%}
({{ kikan.re_full(x, '[0-9]{' ~ n ~ '}') }} and mod(mod(11 - mod({% for j in range(n - 1) %}{{ kikan.digit_at(x, n - 1 - j) }} * {{ weights[j % (weights | length)] }}{% if not loop.last %} + {% endif %}{% endfor %}, 11), 11), 10) = {{ kikan.digit_at(x, n) }})
{%- endmacro %}
