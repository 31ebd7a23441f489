"""Check digits of the identifiers the simulator writes and the tests plant (DOMAIN.md, Identifiers).

The pipeline checks them in SQL (``dbt/macros/checkdigits.sql``); these are the Python side, for
the simulator and the tests. 個人番号 and 法人番号 come from python-stdnum (``stdnum.jp.in_``,
``stdnum.jp.cn``); only the exact form is checked here first (ASCII digits, no separators), since
stdnum also accepts ``6214 9832 0257`` and a legacy field must not.
"""

from __future__ import annotations

from stdnum.jp import cn as _hojin
from stdnum.jp import in_ as _mynumber


def _digits(s: str, n: int | None = None) -> list[int] | None:
    if not isinstance(s, str) or not s.isascii() or not s.isdigit():
        return None
    if n is not None and len(s) != n:
        return None
    return [int(c) for c in s]


def mynumber_check_digit(base11: str) -> int:
    """個人番号: the 12th digit of 11 ASCII digits (stdnum.jp.in_)."""
    if _digits(base11, 11) is None:
        raise ValueError("個人番号 base must be 11 ASCII digits")
    return int(_mynumber.calc_check_digit(base11))


def is_valid_mynumber(s: str) -> bool:
    return _digits(s, 12) is not None and _mynumber.is_valid(s)


def hojin_check_digit(base12: str) -> int:
    """法人番号: the first digit, before 12 ASCII base digits (stdnum.jp.cn)."""
    if _digits(base12, 12) is None:
        raise ValueError("法人番号 base must be 12 ASCII digits")
    return int(_hojin.calc_check_digit(base12))


def is_valid_hojin(s: str) -> bool:
    return _digits(s, 13) is not None and _hojin.is_valid(s)


# hand-rolled: stdnum has no weighted modulus 11 of Japanese local identifiers (宛名番号, 住民票コード)
def m11_check_digit(base: str, weights: tuple[int, ...] = (2, 3, 4, 5, 6, 7)) -> int:
    """Modulus 11, weights cycling 2..7 from the right (M11W2-7); 10 and 11 give 0. The
    simulator's 宛名番号 and 住民票コード (whose weights city.yaml ``juminhyo_weights`` gives the SQL)."""
    d = _digits(base)
    if d is None or not d:
        raise ValueError("base must be ASCII digits")
    s = sum(x * weights[i % len(weights)] for i, x in enumerate(reversed(d)))
    c = 11 - (s % 11)
    return 0 if c >= 10 else c


def is_valid_m11(s: str, weights: tuple[int, ...] = (2, 3, 4, 5, 6, 7)) -> bool:
    d = _digits(s)
    return d is not None and len(d) >= 2 and m11_check_digit(s[:-1], weights) == d[-1]


# hand-rolled: stdnum has no 全国地方公共団体コード
def local_gov_check_digit(base5: str) -> int:
    """全国地方公共団体コード: weights 6,5,4,3,2; check = last digit of 11 - (sum mod 11)."""
    d = _digits(base5, 5)
    if d is None:
        raise ValueError("団体コード base must be 5 digits")
    s = sum(x * w for x, w in zip(d, (6, 5, 4, 3, 2)))
    return (11 - s % 11) % 10


def is_valid_local_gov(s: str) -> bool:
    d = _digits(s, 6)
    return d is not None and local_gov_check_digit(s[:5]) == d[5]
