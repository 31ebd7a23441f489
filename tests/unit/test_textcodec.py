import pytest

from dagster_project.core.textcodec import (
    has_halfwidth_kana,
    pua_to_sjis,
    sjis_to_pua,
    to_fullwidth_kana,
    to_halfwidth_kana,
    zoned_encode,
)
from dagster_project.core.amounts import ParsedAmount, parse_legacy_amount


@pytest.mark.parametrize(
    "full,half",
    [
        ("ヤマダ　タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ"),
        ("パピプペポ", "ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"),
        ("ヴィーナス", "ｳﾞｨｰﾅｽ"),
        ("キョウコ・ガッコウ", "ｷｮｳｺ･ｶﾞｯｺｳ"),
    ],
)
def test_kana_width_round_trip(full, half):
    assert to_halfwidth_kana(full) == half
    assert has_halfwidth_kana(half) and not has_halfwidth_kana(full)
    assert to_fullwidth_kana(half) == full.replace("\u3000", " ")


def test_fullwidth_leaves_other_characters_alone():
    assert to_fullwidth_kana("山田 ABC 123 ﾀﾛｳ") == "山田 ABC 123 タロウ"


@pytest.mark.parametrize("value,length,text", [(0, 5, "0000{"), (123, 5, "0012C"), (-123, 5, "0012L"),
                                               (-10, 4, "001}"), (987654321, 9, "98765432A")])
def test_zoned_decimal(value, length, text):
    assert zoned_encode(value, length) == text
    assert parse_legacy_amount(text, zoned=True) == ParsedAmount("ok", value)


@pytest.mark.parametrize("bad", ["12-3", "１２３", "12 3", "12\t"])
def test_zoned_rejects(bad):
    assert parse_legacy_amount(bad, zoned=True) == ParsedAmount("invalid")


def test_user_defined_area_maps_to_pua():
    assert sjis_to_pua("F040") == "\ue000"
    assert sjis_to_pua("F9FC") == "\ue757"
    assert pua_to_sjis("\ue000") == "F040"
