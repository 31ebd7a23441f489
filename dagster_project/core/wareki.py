"""和暦 (Japanese era) dates: the era table, and the legacy date styles of the current systems.

The era table is ``seeds/eras.csv`` (one source of truth, also loaded by dbt). Boundaries
follow DOMAIN.md: the change of era happened during the day, so 明治45年7月30日 and
大正元年7月30日 are the same valid day, as are 大正15年12月25日 and 昭和元年12月25日; 平成31年
5月1日 does not exist (令和元年5月1日 does). 明治 starts 1868-01-25 by default; a system
that counts from 1868-10-23 says so in its layout (``meiji_start``).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from dagster_project.core.settings import settings


@dataclass(frozen=True)
class Era:
    code: str
    name: str
    letter: str
    digit: int
    start: dt.date
    end: dt.date | None  # last valid day (inclusive); None for the current era


@lru_cache(maxsize=1)
def eras() -> tuple[Era, ...]:
    path = settings().seeds_dir / "eras.csv"
    out = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.append(
                Era(
                    code=row["era_code"],
                    name=row["era_name"],
                    letter=row["era_letter"],
                    digit=int(row["era_digit"]),
                    start=dt.date.fromisoformat(row["start_date"]),
                    end=dt.date.fromisoformat(row["end_date"]) if row["end_date"] else None,
                )
            )
    return tuple(out)


def era_by(key: str | int) -> Era | None:
    for e in eras():
        if key in (e.code, e.name, e.letter, e.digit, str(e.digit)):
            return e
    return None


def era_of(day: dt.date) -> tuple[Era, int]:
    """The era a day is written in (the newer era on a change-over day) and its year."""
    for e in reversed(eras()):
        if day >= e.start:
            return e, day.year - e.start.year + 1
    raise ValueError(f"{day} is before 明治")


# the characters trimmed from both ends of every legacy value (kikan.trim_blanks in SQL): the
# ASCII and the full-width space, nothing else (a tab or a newline is part of the value)
BLANKS = " \u3000"


def date_pattern(style: str) -> str:
    """The form of a legacy date style, as a regex both readers use (``re.fullmatch`` here,
    ``kikan.re_full`` in the staging SQL). Digits are ASCII ``[0-9]``: a full-width or other
    Unicode digit is not a digit of these exports. Era digits, letters and names come from the
    era table."""
    digits = "".join(str(e.digit) for e in eras())
    letters = "".join(e.letter for e in eras())
    names = "|".join(e.name for e in eras())
    return {
        "era7": f"[{digits}][0-9]{{6}}",
        "era_letter": f"[{letters}][0-9]{{6}}",
        "era_dotted": f"({names}|[{letters}])(元|[0-9]{{1,2}})[.．]([0-9]{{1,2}})[.．]([0-9]{{1,2}})",
        "ymd8": "[0-9]{8}",
        "ymd_slash": "([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})",
        "ym6": "[0-9]{6}",
    }[style]


@dataclass(frozen=True)
class ParsedDate:
    """The reading of one legacy date value.

    status: ``ok`` (date set), ``blank``, ``unknown`` / ``open`` (a sentinel of the system),
    or ``invalid`` (reason set). Invalid values are never guessed into a date.
    """

    status: str
    date: dt.date | None = None
    reason: str | None = None


def _day(era: Era | None, year: int, month: int, day: int, meiji_start: dt.date | None) -> ParsedDate:
    """A real day of the era (or of the Gregorian calendar when ``era`` is None), else invalid."""
    if year < 1:
        return ParsedDate("invalid", reason="the year must be 1 or more")
    try:
        d = dt.date((era.start.year + year - 1) if era else year, month, day)
    except ValueError:
        return ParsedDate("invalid", reason="not a calendar date")
    if era is not None:
        start = meiji_start if (era.code == "meiji" and meiji_start) else era.start
        if d < start:
            return ParsedDate("invalid", reason=f"before {era.name} began ({start})")
        if era.end is not None and d > era.end:
            return ParsedDate("invalid", reason=f"after {era.name} ended ({era.end})")
    return ParsedDate("ok", d)


def parse_legacy_date(
    value: str | None,
    style: str,
    sentinels: dict[str, str] | None = None,
    meiji_start: dt.date | None = None,
) -> ParsedDate:
    """Read a date in one of the legacy styles of ``mappings/<system>/layout.yaml``, exactly as
    the staging SQL (``dbtgen.staging_sql``) reads it: the same status and the same day for every
    string (``tests/unit/test_readers_differential.py`` holds the two equal). Never raises for a
    value; an unknown style is a programming error (the layout model allows none).

    era7        era digit + YYMMDD         3600214  = 昭和60年2月14日
    era_letter  era letter + YYMMDD        S360214
    era_dotted  era name + YY.MM.DD        平成15.01.07 (元 allowed for year 1)
    ymd8        YYYYMMDD                   20030107
    ymd_slash   YYYY/MM/DD                 2003/01/07
    ym6         YYYYMM (a month)           200301   -> the 1st of the month

    The reason of an invalid value names the rule, never the value (it may be a birth date).
    """
    if style not in ("era7", "era_letter", "era_dotted", "ymd8", "ymd_slash", "ym6"):
        raise ValueError(f"unknown date style {style!r}")
    v = (value or "").strip(BLANKS)
    if not v:
        return ParsedDate("blank")
    if sentinels and v in sentinels:
        return ParsedDate(sentinels[v])
    m = re.fullmatch(date_pattern(style), v)
    if not m:
        return ParsedDate("invalid", reason=f"not of the form {style}")
    if style in ("era7", "era_letter"):
        era = era_by(v[0]) if style == "era_letter" else era_by(int(v[0]))
        return _day(era, int(v[1:3]), int(v[3:5]), int(v[5:7]), meiji_start)
    if style == "era_dotted":
        year = 1 if m.group(2) == "元" else int(m.group(2))
        return _day(era_by(m.group(1)), year, int(m.group(3)), int(m.group(4)), meiji_start)
    if style == "ymd_slash":
        return _day(None, int(m.group(1)), int(m.group(2)), int(m.group(3)), None)
    if style == "ymd8":
        return _day(None, int(v[:4]), int(v[4:6]), int(v[6:]), None)
    return _day(None, int(v[:4]), int(v[4:]), 1, None)     # ym6


def format_legacy_date(day: dt.date, style: str) -> str:
    """Write a real day in a legacy style (the inverse of parse_legacy_date for valid days)."""
    if style in ("era7", "era_letter", "era_dotted"):
        era, year = era_of(day)
        if style == "era7":
            return f"{era.digit}{year:02d}{day.month:02d}{day.day:02d}"
        if style == "era_letter":
            return f"{era.letter}{year:02d}{day.month:02d}{day.day:02d}"
        return f"{era.name}{year:02d}.{day.month:02d}.{day.day:02d}"
    if style == "ymd8":
        return day.strftime("%Y%m%d")
    if style == "ymd_slash":
        return day.strftime("%Y/%m/%d")
    if style == "ym6":
        return day.strftime("%Y%m")
    raise ValueError(f"unknown date style {style!r}")
