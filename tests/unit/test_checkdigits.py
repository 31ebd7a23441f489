import random

import pytest
from stdnum.jp import cn as stdnum_cn
from stdnum.jp import in_ as stdnum_in

from dagster_project.core import checkdigits as cd


def test_worked_examples_from_domain_md():
    assert cd.is_valid_mynumber("621498320257")
    assert cd.is_valid_hojin("7123456789012")
    assert cd.is_valid_local_gov("131016")
    assert cd.is_valid_local_gov("271403")  # the default city


@pytest.mark.parametrize("bad", ["621498320258", "62149832025", "６２１４９８３２０２５７", "", "abcdefghijkl"])
def test_mynumber_rejects(bad):
    assert not cd.is_valid_mynumber(bad)


def test_mynumber_agrees_with_python_stdnum():
    rnd = random.Random(1)
    for _ in range(5000):
        n = "".join(rnd.choice("0123456789") for _ in range(12))
        assert cd.is_valid_mynumber(n) == stdnum_in.is_valid(n), n


def test_hojin_agrees_with_python_stdnum():
    rnd = random.Random(2)
    for _ in range(5000):
        n = "".join(rnd.choice("0123456789") for _ in range(13))
        assert cd.is_valid_hojin(n) == stdnum_cn.is_valid(n), n


def test_m11_weights_cycle_from_the_right():
    # 1 2 3 4 5 6 7 8 9 from the right with weights 2..7,2..4: sum 9*2+8*3+7*4+6*5+5*6+4*7+3*2+2*3+1*4 = 174
    assert 174 % 11 == 9
    assert cd.m11_check_digit("123456789") == 2
    assert cd.is_valid_m11("1234567892")
    assert not cd.is_valid_m11("1234567893")


def test_juminhyo_weights_are_a_parameter():
    base = "1234567890"
    d_default = cd.juminhyo_check_digit(base)
    d_other = cd.juminhyo_check_digit(base, weights=(1, 3, 7))
    assert cd.is_valid_juminhyo(base + str(d_default))
    assert cd.is_valid_juminhyo(base + str(d_other), weights=(1, 3, 7))
    assert d_default != d_other
