{# A (possibly composite) key that must be unique: rows returned are the duplicated keys. #}
{% test kikan_unique_key(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
