import datetime as dt
import random

import pytest

from dagster_project.core.wareki import eras, format_legacy_date, parse_legacy_date

D = dt.date


@pytest.mark.parametrize(
    "value,style,expected",
    [
        # DOMAIN.md writes this example as 3600214, which by its own rule (era digit +
        # YYMMDD) is 昭和60年2月14日; the rule wins, and both readings are pinned here.
        ("3360214", "era7", D(1961, 2, 14)),          # 昭和36年2月14日
        ("3600214", "era7", D(1985, 2, 14)),          # 昭和60年2月14日
        ("S360214", "era_letter", D(1961, 2, 14)),
        ("平成15.01.07", "era_dotted", D(2003, 1, 7)),
        ("H15.01.07", "era_dotted", D(2003, 1, 7)),
        ("令和元.05.01", "era_dotted", D(2019, 5, 1)),   # 令和元年 = 令和1年
        ("令和01.05.01", "era_dotted", D(2019, 5, 1)),
        ("5010501", "era7", D(2019, 5, 1)),
        ("20030107", "ymd8", D(2003, 1, 7)),
        ("2003/01/07", "ymd_slash", D(2003, 1, 7)),
        ("200301", "ym6", D(2003, 1, 1)),
        # era boundaries: the change happened during the day, both names are valid
        ("1450730", "era7", D(1912, 7, 30)),           # 明治45年7月30日
        ("2010730", "era7", D(1912, 7, 30)),           # 大正元年7月30日
        ("2151225", "era7", D(1926, 12, 25)),          # 大正15年12月25日
        ("3011225", "era7", D(1926, 12, 25)),          # 昭和元年12月25日
        ("3640107", "era7", D(1989, 1, 7)),            # 昭和64年1月7日
        ("4010108", "era7", D(1989, 1, 8)),            # 平成元年1月8日
        ("4310430", "era7", D(2019, 4, 30)),           # 平成31年4月30日
        ("1010125", "era7", D(1868, 1, 25)),           # 明治元年1月25日 (default start)
        ("4120229", "era7", D(2000, 2, 29)),           # leap day
    ],
)
def test_valid_dates(value, style, expected):
    r = parse_legacy_date(value, style)
    assert r.status == "ok", r.reason
    assert r.date == expected


@pytest.mark.parametrize(
    "value,style",
    [
        ("4310501", "era7"),          # 平成31年5月1日 does not exist
        ("平成31.05.01", "era_dotted"),
        ("H310501", "era_letter"),
        ("1450731", "era7"),          # 明治45年7月31日: 明治 had ended
        ("2151226", "era7"),          # 大正15年12月26日
        ("3640108", "era7"),          # 昭和64年1月8日
        ("5050230", "era7"),          # 2月30日
        ("20230230", "ymd8"),
        ("4110229", "era7"),          # 平成11年 (1999) is not a leap year
        ("5000101", "era7"),          # year 0
        ("6010101", "era7"),          # unknown era digit
        ("1010124", "era7"),          # before 明治 began
        ("3360214X", "era7"),
        ("2003-01-07", "ymd8"),
        ("平成15/01/07", "era_dotted"),
        # what Python's int() and str.strip() took and the staging SQL never did (issue 17)
        ("３３６０２１４", "era7"),        # full-width digits
        ("33٦0214", "era7"),               # an Arabic-Indic digit
        ("3360214\t", "era7"),             # a tab is part of the value, not padding
        ("\n20030107", "ymd8"),
        ("3360214", "era_letter"),         # an era digit in an era-letter field
        ("S360214", "era7"),               # an era letter in an era-digit field
        ("平成１５.01.07", "era_dotted"),
        ("2003/０1/07", "ymd_slash"),
        ("２００３０１", "ym6"),
    ],
)
def test_invalid_dates_are_never_guessed(value, style):
    r = parse_legacy_date(value, style)
    assert r.status == "invalid"
    assert r.date is None and r.reason
    assert value.strip() not in r.reason   # a reason names the rule, never the value (a birth date)


def test_only_the_ascii_and_the_full_width_space_are_padding():
    assert parse_legacy_date(" \u30003360214\u3000 ", "era7").date == D(1961, 2, 14)
    assert parse_legacy_date("\u3000", "era7").status == "blank"
    assert parse_legacy_date("\t", "era7").status == "invalid"


def test_meiji_start_is_configurable():
    # a system that counts 明治 from 1868-10-23 rejects earlier 明治元年 dates
    assert parse_legacy_date("1010301", "era7").status == "ok"
    r = parse_legacy_date("1010301", "era7", meiji_start=D(1868, 10, 23))
    assert r.status == "invalid"
    assert parse_legacy_date("1011023", "era7", meiji_start=D(1868, 10, 23)).date == D(1868, 10, 23)


def test_sentinels_and_blanks_are_inventoried_not_guessed():
    s = {"0000000": "unknown", "9999999": "open"}
    assert parse_legacy_date("0000000", "era7", s).status == "unknown"
    assert parse_legacy_date("9999999", "era7", s).status == "open"
    assert parse_legacy_date("0000000", "era7").status == "invalid"  # not a sentinel here
    assert parse_legacy_date("   ", "era7").status == "blank"
    assert parse_legacy_date("", "ymd8").status == "blank"


def test_era_table_is_contiguous():
    e = eras()
    assert [x.name for x in e] == ["明治", "大正", "昭和", "平成", "令和"]
    for a, b in zip(e, e[1:]):
        assert a.end is not None and (b.start - a.end).days in (0, 1)


@pytest.mark.parametrize("style", ["era7", "era_letter", "era_dotted", "ymd8", "ymd_slash"])
def test_format_then_parse_round_trips(style):
    rnd = random.Random(5)
    for _ in range(2000):
        day = D(1868, 1, 25) + dt.timedelta(days=rnd.randrange(0, 58_000))
        assert parse_legacy_date(format_legacy_date(day, style), style).date == day
