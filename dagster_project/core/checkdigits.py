"""Check digits of the identifiers the standard data carries (DOMAIN.md, Identifiers).

Weights that DOMAIN.md marks *assumed* (住民票コード) are parameters with the assumed value
as default, so the real rule can be dropped in from configuration.
"""

from __future__ import annotations


def _digits(s: str, n: int | None = None) -> list[int] | None:
    if not isinstance(s, str) or not s.isascii() or not s.isdigit():
        return None
    if n is not None and len(s) != n:
        return None
    return [int(c) for c in s]


def mynumber_check_digit(base11: str) -> int:
    """個人番号: weights 6,5,4,3,2,7,6,5,4,3,2 over the first 11 digits, left to right."""
    d = _digits(base11, 11)
    if d is None:
        raise ValueError("個人番号 base must be 11 ASCII digits")
    r = sum(x * w for x, w in zip(d, (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2))) % 11
    return 0 if r <= 1 else 11 - r


def is_valid_mynumber(s: str) -> bool:
    d = _digits(s, 12)
    return d is not None and mynumber_check_digit(s[:11]) == d[11]


def hojin_check_digit(base12: str) -> int:
    """法人番号: the first digit; weights 1,2,1,2… over the 12 base digits from the right."""
    d = _digits(base12, 12)
    if d is None:
        raise ValueError("法人番号 base must be 12 ASCII digits")
    s = sum(x * (1 if i % 2 == 0 else 2) for i, x in enumerate(reversed(d)))
    return 9 - (s % 9)


def is_valid_hojin(s: str) -> bool:
    d = _digits(s, 13)
    return d is not None and hojin_check_digit(s[1:]) == d[0]


def m11_check_digit(base: str, weights: tuple[int, ...] = (2, 3, 4, 5, 6, 7)) -> int:
    """Modulus 11, weights cycling 2..7 from the right (M11W2-7); 10 and 11 give 0."""
    d = _digits(base)
    if d is None or not d:
        raise ValueError("base must be ASCII digits")
    s = sum(x * weights[i % len(weights)] for i, x in enumerate(reversed(d)))
    c = 11 - (s % 11)
    return 0 if c >= 10 else c


def is_valid_m11(s: str, weights: tuple[int, ...] = (2, 3, 4, 5, 6, 7)) -> bool:
    d = _digits(s)
    return d is not None and len(d) >= 2 and m11_check_digit(s[:-1], weights) == d[-1]


def juminhyo_check_digit(base10: str, weights: tuple[int, ...] = (2, 3, 4, 5, 6, 7)) -> int:
    """住民票コード: the last of 11 digits, mod 11 with weights 2..7 from the right (assumed)."""
    if len(base10) != 10:
        raise ValueError("住民票コード base must be 10 digits")
    return m11_check_digit(base10, weights)


def is_valid_juminhyo(s: str, weights: tuple[int, ...] = (2, 3, 4, 5, 6, 7)) -> bool:
    return isinstance(s, str) and len(s) == 11 and is_valid_m11(s, weights)


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
