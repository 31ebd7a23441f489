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
from pathlib import Path

from .config import PROJECT_ROOT


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
    path = Path(PROJECT_ROOT) / "seeds" / "eras.csv"
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


def wareki_to_date(
    era: Era, year: int, month: int, day: int, meiji_start: dt.date | None = None
) -> dt.date:
    """Convert an era date; raise ValueError naming why it is not a real day of that era."""
    if year < 1:
        raise ValueError(f"{era.name}{year}年: the year must be 1 or more")
    try:
        d = dt.date(era.start.year + year - 1, month, day)
    except ValueError:
        raise ValueError(f"{era.name}{year}年{month}月{day}日 is not a calendar date") from None
    start = meiji_start if (era.code == "meiji" and meiji_start) else era.start
    if d < start:
        raise ValueError(f"{era.name}{year}年{month}月{day}日 is before {era.name} began ({start})")
    if era.end is not None and d > era.end:
        raise ValueError(f"{era.name}{year}年{month}月{day}日 is after {era.name} ended ({era.end})")
    return d


@dataclass(frozen=True)
class ParsedDate:
    """The reading of one legacy date value.

    status: ``ok`` (date set), ``blank``, ``unknown`` / ``open`` (a sentinel of the system),
    or ``invalid`` (reason set). Invalid values are never guessed into a date.
    """

    status: str
    date: dt.date | None = None
    reason: str | None = None


_DOTTED = re.compile(r"^(明治|大正|昭和|平成|令和|[MTSHR])(元|\d{1,2})[.．](\d{1,2})[.．](\d{1,2})$")


def parse_legacy_date(
    value: str | None,
    style: str,
    sentinels: dict[str, str] | None = None,
    meiji_start: dt.date | None = None,
) -> ParsedDate:
    """Read a date in one of the legacy styles of ``mappings/<system>/layout.yaml``.

    era7        era digit + YYMMDD         3600214  = 昭和36年2月14日
    era_letter  era letter + YYMMDD        S360214
    era_dotted  era name + YY.MM.DD        平成15.01.07 (元 allowed for year 1)
    ymd8        YYYYMMDD                   20030107
    ymd_slash   YYYY/MM/DD                 2003/01/07
    ym6         YYYYMM (a month)           200301   -> the 1st of the month
    """
    v = (value or "").strip().strip("\u3000")
    if not v:
        return ParsedDate("blank")
    if sentinels and v in sentinels:
        return ParsedDate(sentinels[v])
    try:
        if style == "era7" or style == "era_letter":
            if len(v) != 7 or not v[1:].isdigit():
                return ParsedDate("invalid", reason=f"{v!r} is not era + YYMMDD")
            era = era_by(v[0]) if style == "era_letter" else era_by(int(v[0]) if v[0].isdigit() else -1)
            if era is None:
                return ParsedDate("invalid", reason=f"{v!r}: unknown era {v[0]!r}")
            return ParsedDate("ok", wareki_to_date(era, int(v[1:3]), int(v[3:5]), int(v[5:7]), meiji_start))
        if style == "era_dotted":
            m = _DOTTED.match(v)
            if not m:
                return ParsedDate("invalid", reason=f"{v!r} is not 元号YY.MM.DD")
            era = era_by(m.group(1))
            year = 1 if m.group(2) == "元" else int(m.group(2))
            return ParsedDate("ok", wareki_to_date(era, year, int(m.group(3)), int(m.group(4)), meiji_start))
        if style == "ymd8":
            if len(v) != 8 or not v.isdigit():
                return ParsedDate("invalid", reason=f"{v!r} is not YYYYMMDD")
            return ParsedDate("ok", dt.date(int(v[:4]), int(v[4:6]), int(v[6:])))
        if style == "ymd_slash":
            m = re.fullmatch(r"(\d{4})/(\d{1,2})/(\d{1,2})", v)
            if not m:
                return ParsedDate("invalid", reason=f"{v!r} is not YYYY/MM/DD")
            return ParsedDate("ok", dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        if style == "ym6":
            if len(v) != 6 or not v.isdigit():
                return ParsedDate("invalid", reason=f"{v!r} is not YYYYMM")
            return ParsedDate("ok", dt.date(int(v[:4]), int(v[4:]), 1))
    except ValueError as exc:
        return ParsedDate("invalid", reason=str(exc))
    raise ValueError(f"unknown date style {style!r}")


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
