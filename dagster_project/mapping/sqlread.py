"""Readers in generated SQL that never raise: the pieces the model generators share.

Every value of a legacy file reaches the models as text; a cast that cannot take it must give a
null and a flag naming the record, never an error that stops a system's models and quotes the
value (issue 17). Imports nothing of the project but the amount form, so every generator may use it.
"""

from __future__ import annotations

from dagster_project.core.amounts import AMOUNT_PATTERN


def safe_expr(expr: str) -> str:
    """A mapping expression with every CAST made a TRY_CAST: one value a cast cannot take (a
    対象児童数 of 11 digits in ``cast(jido_su as integer)``) failed the whole system's models and put
    the value into dbt's error text; now it is null, and the item's flag names the record.

    A cast to a signed integer narrower than BIGINT is widened to BIGINT: the standard's integer
    column is a BIGINT, so the narrow type only turned a number into a null (11 digits are not an
    INTEGER); read whole, it is measured against the item's digits and range and flagged as what
    it is (桁数超過, 範囲外), with its record."""
    import sqlglot
    from sqlglot import exp

    narrow = {exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT}

    def fix(n):
        if not isinstance(n, exp.Cast):
            return n
        to = n.args["to"]
        if isinstance(to, exp.DataType) and to.this in narrow:
            to = exp.DataType.build("bigint")
        return exp.TryCast(this=n.this, to=to)

    return sqlglot.parse_one(expr, read="duckdb").transform(fix).sql(dialect="duckdb")


def jinja_str(sql: str) -> str:
    """``sql`` as a Jinja string literal (an argument of a kikan.* macro)."""
    return "'" + sql.replace("\\", "\\\\").replace("'", "\\'") + "'"


def read_bigint_sql(expr: str) -> str:
    """The integer an expression holds, read strictly: its text must be ``-?[0-9]+`` and fit a
    BIGINT, else null (then the item's flag says 数値変換不可). ``try_cast`` alone is lax: it takes
    '1_000', ' 12 ', '0x10' and '1e3', and rounds 12.5 to 13."""
    txt = f"cast({expr} as string)"
    return ("case when {{ kikan.re_full(" + jinja_str(txt) + ", '" + AMOUNT_PATTERN + "') }} "
            "then {{ kikan.try_bigint(" + jinja_str(txt) + ") }} end")
