"""A zoned decimal's last character read in SQL: the CASE (kikan.zoned_digit) gives what DuckDB's
translate gives, for every character a value can end in, and for NULL and the empty text."""

import duckdb

from tests.dbt_render import render


def test_the_case_is_translate():
    values = [None, ""] + [chr(c) for c in range(0x20, 0x250)] + ["ｱ", "山", "\U0001f600", "'"]
    case = render("{{ kikan.zoned_digit('v') }}")
    assert "translate" not in case
    con = duckdb.connect()
    con.execute("create table t (i integer, v varchar)")
    con.executemany("insert into t values (?, ?)", list(enumerate(values)))
    rows = con.execute(f"select v, {case}, translate(v, '{{ABCDEFGHI}}JKLMNOPQR', '01234567890123456789') "
                       "from t order by i").fetchall()
    assert [(v, got) for v, got, want in rows if got != want] == []
    got = dict((v, g) for v, g, _ in rows)
    assert (got["{"], got["I"], got["}"], got["R"], got["5"], got["x"], got[None]) == ("0", "9", "0", "9", "5", "x", None)
