"""Legacy amounts: signed integers as text, and zoned decimal from mainframe exports.

The staging SQL (``dbtgen.staging_sql``) reads every amount; this is the same reading in Python,
for the tests and the fuzz harnesses: the same status and the same number for every string
(``tests/unit/test_readers_differential.py`` holds the two equal). Statuses:

- ``ok``: a number that fits a BIGINT (the standard's integer column);
- ``blank``: nothing but the ASCII or full-width space;
- ``invalid``: not of the form (``-?[0-9]+``, or zoned ``[0-9]*[0-9{}A-R]``). Digits are ASCII:
  a full-width or other Unicode digit, a sign other than a leading ``-``, a tab or a newline is
  not part of an amount of these exports;
- ``overflow``: of the form, but beyond a BIGINT: a number of the file that no standard column
  can hold, never a silent null.

Zoned decimal carries the sign over-punched in the last digit: ``{`` or ``A``–``I`` positive
(0–9), ``}`` or ``J``–``R`` negative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dagster_project.core.wareki import BLANKS

AMOUNT_PATTERN = "-?[0-9]+"
ZONED_PATTERN = "[0-9]*[0-9{}A-R]"
ZONED_POSITIVE = "{ABCDEFGHI"
ZONED_NEGATIVE = "}JKLMNOPQR"
BIGINT_MIN, BIGINT_MAX = -(2 ** 63), 2 ** 63 - 1


@dataclass(frozen=True)
class ParsedAmount:
    status: str
    value: int | None = None


def parse_legacy_amount(value: str | None, zoned: bool = False) -> ParsedAmount:
    """Read one legacy amount; never raises."""
    v = (value or "").strip(BLANKS)
    if not v:
        return ParsedAmount("blank")
    if not re.fullmatch(ZONED_PATTERN if zoned else AMOUNT_PATTERN, v):
        return ParsedAmount("invalid")
    if zoned and not v[-1].isdigit():
        negative = v[-1] in ZONED_NEGATIVE
        last = (ZONED_NEGATIVE if negative else ZONED_POSITIVE).index(v[-1])
        v = ("-" if negative else "") + v[:-1] + str(last)
    n = int(v)
    if not BIGINT_MIN <= n <= BIGINT_MAX:
        return ParsedAmount("overflow")
    return ParsedAmount("ok", n)
