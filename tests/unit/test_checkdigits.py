"""Check digits: the Python side (core/checkdigits.py: python-stdnum for 個人番号 and 法人番号) and
the SQL macros the pipeline runs (dbt/macros/checkdigits.sql, rendered by tests/dbt_render.py),
both held against python-stdnum over many random numbers."""

import random

import duckdb
import pytest
from stdnum.jp import cn as stdnum_cn
from stdnum.jp import in_ as stdnum_in

from dagster_project.core import checkdigits as cd
from tests.dbt_render import render

N = 20_000


def _numbers(rnd: random.Random, width: int, calc, check_first: bool) -> list[str]:
    """Half with the right check digit (by stdnum), half random; plus every one-digit change of a
    valid number (what a typist gets wrong)."""
    out = []
    for i in range(N):
        base = "".join(rnd.choice("0123456789") for _ in range(width - 1))
        d = calc(base) if i % 2 == 0 else rnd.choice("0123456789")
        out.append(d + base if check_first else base + d)
    valid = out[0]
    for pos in range(width):
        out += [valid[:pos] + c + valid[pos + 1:] for c in "0123456789" if c != valid[pos]]
    return out


# separators and spaces that stdnum's compact() strips; a legacy field holding them is not a number
MALFORMED = ["", "abcdefghijkl", "６２１４９８３２０２５７", "6214 9832 0257", "6214-9832-0257", " 621498320257",
             "621498320257 ", "62149832025", "6214983202570", "62149832025x", "7-1234-5678-9012", "7123 4567 89012",
             "712345678901", "71234567890123", "７１２３４５６７８９０１２"]


def test_worked_examples_from_domain_md():
    assert cd.is_valid_mynumber("621498320257")
    assert cd.mynumber_check_digit("62149832025") == 7
    assert cd.is_valid_hojin("7123456789012")
    assert cd.hojin_check_digit("123456789012") == 7
    assert cd.is_valid_local_gov("131016")
    assert cd.is_valid_local_gov("271403")  # the default city


@pytest.mark.parametrize("bad", ["621498320258", "62149832025", "６２１４９８３２０２５７", "", "abcdefghijkl",
                                 "6214 9832 0257", "6214-9832-0257", None])
def test_mynumber_rejects(bad):
    assert not cd.is_valid_mynumber(bad)


@pytest.mark.parametrize("bad", ["7123456789013", "712345678901", "７１２３４５６７８９０１２", "7-1234-5678-9012", None])
def test_hojin_rejects(bad):
    assert not cd.is_valid_hojin(bad)


@pytest.mark.parametrize("fn,base", [(cd.mynumber_check_digit, "6214983202"), (cd.mynumber_check_digit, "6214 983202"),
                                     (cd.hojin_check_digit, "12345678901"), (cd.hojin_check_digit, "12345678901２")])
def test_a_base_of_the_wrong_form_is_an_error(fn, base):
    with pytest.raises(ValueError):
        fn(base)


def test_mynumber_agrees_with_python_stdnum():
    numbers = _numbers(random.Random(1), 12, stdnum_in.calc_check_digit, check_first=False)
    for n in numbers + MALFORMED:
        exact = n.isascii() and n.isdigit()
        assert cd.is_valid_mynumber(n) == (exact and stdnum_in.is_valid(n)), n
        if exact and len(n) == 12:
            assert str(cd.mynumber_check_digit(n[:11])) == stdnum_in.calc_check_digit(n[:11]), n
    assert sum(map(cd.is_valid_mynumber, numbers)) > N // 2        # the valid half, and a tenth of the rest


def test_hojin_agrees_with_python_stdnum():
    numbers = _numbers(random.Random(2), 13, stdnum_cn.calc_check_digit, check_first=True)
    for n in numbers + MALFORMED:
        exact = n.isascii() and n.isdigit()
        assert cd.is_valid_hojin(n) == (exact and stdnum_cn.is_valid(n)), n
        if exact and len(n) == 13:
            assert str(cd.hojin_check_digit(n[1:])) == stdnum_cn.calc_check_digit(n[1:]), n
    assert sum(map(cd.is_valid_hojin, numbers)) > N // 2


def _sql_verdicts(macro_sql: str, values: list[str]) -> dict[str, bool]:
    con = duckdb.connect()
    con.execute("create table t as select unnest(?::varchar[]) as v", [values])
    sql = render("select v, coalesce(" + macro_sql + ", false) as ok from t")
    return dict(con.execute(sql).fetchall())


def test_the_sql_macros_agree_with_python_stdnum():
    """The pipeline's own check (the SQL) on the same numbers: stdnum is the oracle, the exact form
    (ASCII digits, no separator) the SQL's regular expression."""
    numbers = _numbers(random.Random(3), 12, stdnum_in.calc_check_digit, check_first=False) + MALFORMED
    got = _sql_verdicts("{{ kikan.mynumber_ok('v') }}", numbers)
    assert {n: got[n] for n in numbers} == {n: n.isascii() and n.isdigit() and stdnum_in.is_valid(n) for n in numbers}
    numbers = _numbers(random.Random(4), 13, stdnum_cn.calc_check_digit, check_first=True) + MALFORMED
    got = _sql_verdicts("{{ kikan.hojin_ok('v') }}", numbers)
    assert {n: got[n] for n in numbers} == {n: n.isascii() and n.isdigit() and stdnum_cn.is_valid(n) for n in numbers}


def test_m11_weights_cycle_from_the_right():
    # 1 2 3 4 5 6 7 8 9 from the right with weights 2..7,2..4: sum 9*2+8*3+7*4+6*5+5*6+4*7+3*2+2*3+1*4 = 174
    assert 174 % 11 == 9
    assert cd.m11_check_digit("123456789") == 2
    assert cd.is_valid_m11("1234567892")
    assert not cd.is_valid_m11("1234567893")


@pytest.mark.parametrize("weights", [(2, 3, 4, 5, 6, 7), (1, 3, 7)])
def test_the_juminhyo_weights_reach_the_sql_and_agree_with_python(weights):
    """住民票コード: the weights are city.yaml's juminhyo_weights, passed to the SQL macro (the
    assumed M11W2-7 by default); the Python m11 with the same weights gives the same verdicts."""
    rnd = random.Random(5)
    bases = ["".join(rnd.choice("0123456789") for _ in range(10)) for _ in range(2000)]
    numbers = [b + str(cd.m11_check_digit(b, weights)) for b in bases] + [b + rnd.choice("0123456789") for b in bases]
    got = _sql_verdicts("{{ kikan.m11_ok('v', 11, " + str(list(weights)) + ") }}", numbers)
    assert {n: got[n] for n in numbers} == {n: cd.is_valid_m11(n, weights) for n in numbers}
    other = (1, 3, 7) if weights != (1, 3, 7) else (2, 3, 4, 5, 6, 7)
    assert any(cd.is_valid_m11(n, weights) != cd.is_valid_m11(n, other) for n in numbers)
