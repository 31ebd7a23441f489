"""The Python readers of legacy dates and amounts (core/wareki, core/amounts) and the staging SQL
that reads them in the pipeline (dbtgen.staging_sql with the project's dbt macros) give the same
status and the same value for every string: a differential test over generated strings.

The strings come from both sides: forms the Python reader writes and reads (format_legacy_date,
amounts, every era boundary), strings built from the SQL's own grammar (random digits in the
positions the pattern allows, so most are of the form but no real day), the same mutated with the
characters where the two once disagreed (full-width and Arabic-Indic digits, tab and newline
padding, an era digit in an era-letter field, NUL, signs, overpunch letters), and random strings
of those characters. Every string goes through each layout configuration of mappings/ (its
sentinels and 明治 start) in one DuckDB query; a single disagreement, either way, fails.

The SQL is the model text the generator writes, rendered with the project's macros by
tests/dbt_render.py (no dbt parse): a few seconds in all.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import duckdb
import pyarrow as pa
import pytest

from dagster_project.mapping import dbtgen
from dagster_project.core.amounts import BIGINT_MAX, BIGINT_MIN, parse_legacy_amount
from dagster_project.spec.config import Layout, LayoutField, LayoutFile
from dagster_project.core.wareki import eras, format_legacy_date, parse_legacy_date
from tests.dbt_render import render

DATE_STYLES = ["era7", "era_letter", "era_dotted", "ymd8", "ymd_slash", "ym6"]
AMOUNT_STYLES = ["amount", "zoned"]
N = 3000   # strings per style


# --------------------------------------------------------------------------- the strings

ASCII = "0123456789"
FULL = "０１２３４５６７８９"
ARABIC = "٠١٢٣٤٥٦٧٨٩"
DEVANAGARI = "०१२३४५६७८९"
ERA_CHARS = ["M", "T", "S", "H", "R", "m", "h", "明", "大", "昭", "平", "令", "元", "明治", "大正", "昭和", "平成", "令和"]
SEPARATORS = [".", "．", "/", "／", "-", "年", "月", "日", ":"]
PADDING = [" ", "\u3000", "\t", "\n", "\r", "\x0b", "\x0c", "\x00", "\u00a0", "  ", "\u3000 "]
SIGNS = ["-", "+", "−", "ー", "－"]
OVERPUNCH = list("{}ABCDEFGHIJKLMNOPQRSTUVWXYZ")
OTHER = ["_", "e", "x", "²", "½", "𝟘", "Ⅰ", "'", ",", "a"]
VOCAB = (list(ASCII) * 6 + list(FULL) + list(ARABIC) + list(DEVANAGARI) + ERA_CHARS + SEPARATORS + PADDING
         + SIGNS + OVERPUNCH + OTHER)
SENTINELS = ["0000000", "9999999", "00000000", "99999999"]


def _boundary_days() -> list[dt.date]:
    out = []
    for e in eras():
        for d in (e.start, e.end, dt.date(1868, 10, 23)):
            if d:
                out += [d - dt.timedelta(days=1), d, d + dt.timedelta(days=1)]
    return out + [dt.date(2000, 2, 29), dt.date(1900, 2, 28), dt.date(2099, 12, 31), dt.date(1, 1, 1)]


def _formatted(rnd: random.Random, style: str) -> str:
    """A string the Python side writes: a real day (or month) in the style, boundaries often."""
    if rnd.random() < 0.2:
        day = rnd.choice(_boundary_days())
    else:
        day = dt.date(1868, 1, 1) + dt.timedelta(days=rnd.randrange(0, 85_000))
    if day < dt.date(1868, 1, 25) and style in ("era7", "era_letter", "era_dotted"):
        day = dt.date(1868, 1, 25)
    if style == "ym6":
        return day.strftime("%Y%m") if day.year >= 1000 else f"{day.year:04d}{day.month:02d}"
    s = format_legacy_date(day, style) if day.year >= 1000 else f"{day.year:04d}{day.month:02d}{day.day:02d}"
    if style == "era_dotted" and rnd.random() < 0.2:
        s = s.replace(s[2:4], "元", 1) if s[2:4] == "01" else s
    return s


def _grammar(rnd: random.Random, style: str) -> str:
    """A string of the SQL's form (digits anywhere the pattern allows): mostly no real day."""
    def dd(n, hi=None):
        return "".join(rnd.choice(ASCII) for _ in range(n)) if hi is None else f"{rnd.randrange(0, hi):0{n}d}"
    e = rnd.choice(eras())
    if style == "era7":
        return f"{rnd.choice([e.digit, 0, 6, 9])}{dd(2, 100)}{dd(2, 14)}{dd(2, 33)}"
    if style == "era_letter":
        return f"{rnd.choice([e.letter, e.letter, 'X'])}{dd(2, 100)}{dd(2, 14)}{dd(2, 33)}"
    if style == "era_dotted":
        head = rnd.choice([e.name, e.letter])
        year = rnd.choice(["元", dd(1), dd(2, 100)])
        sep = rnd.choice([".", "．"])
        return f"{head}{year}{sep}{rnd.randrange(0, 14)}{sep}{dd(rnd.choice([1, 2]), 33)}"
    if style == "ymd8":
        return f"{dd(4, 10000)}{dd(2, 14)}{dd(2, 33)}"
    if style == "ymd_slash":
        return f"{dd(4, 10000)}/{rnd.randrange(0, 14)}/{dd(rnd.choice([1, 2]), 33)}"
    return f"{dd(4, 10000)}{dd(2, 14)}"   # ym6


def _amount(rnd: random.Random, zoned: bool) -> str:
    r = rnd.random()
    if r < 0.15:
        n = rnd.choice([0, 1, -1, BIGINT_MAX, BIGINT_MIN, BIGINT_MAX + 1, BIGINT_MIN - 1, 10 ** 19, -(10 ** 19),
                        99999999999999999999, 98765432109, 2 ** 31, -(2 ** 31) - 1])
    else:
        digits = rnd.randrange(1, 24)
        n = rnd.randrange(0, 10 ** digits) * rnd.choice([1, 1, -1])
    width = rnd.choice([0, 0, 7, 11, 21])
    if not zoned:
        s = str(n)
        return ("-" + s[1:].zfill(width) if s.startswith("-") else s.zfill(width)) if width else s
    body = f"{abs(n):0{max(width, 1)}d}"
    last = ("}JKLMNOPQR" if n < 0 else ("{ABCDEFGHI" if rnd.random() < 0.8 else ASCII))[int(body[-1])]
    return body[:-1] + last


def _mutate(rnd: random.Random, s: str) -> str:
    for _ in range(rnd.choice([1, 1, 1, 2, 3])):
        k = rnd.randrange(8)
        if k == 0 and s:                                   # one character replaced
            i = rnd.randrange(len(s))
            s = s[:i] + rnd.choice(VOCAB) + s[i + 1:]
        elif k == 1:                                       # one character inserted
            i = rnd.randrange(len(s) + 1)
            s = s[:i] + rnd.choice(VOCAB) + s[i:]
        elif k == 2 and s:                                 # one character dropped
            i = rnd.randrange(len(s))
            s = s[:i] + s[i + 1:]
        elif k == 3:                                       # padding at either end
            pad = rnd.choice(PADDING)
            s = pad + s if rnd.random() < 0.5 else s + pad
        elif k == 4:                                       # every digit full-width
            s = s.translate(str.maketrans(ASCII, FULL))
        elif k == 5:                                       # one digit of another script
            idx = [i for i, c in enumerate(s) if c in ASCII]
            if idx:
                i = rnd.choice(idx)
                s = s[:i] + rnd.choice([FULL, ARABIC, DEVANAGARI])[int(s[i])] + s[i + 1:]
        elif k == 6 and s:                                 # the era mark swapped: digit, letter, name
            e = rnd.choice(eras())
            s = rnd.choice([str(e.digit), e.letter, e.name, e.name[0]]) + s[1:]
        else:                                              # a sign in front
            s = rnd.choice(SIGNS) + s
    return s


def corpus(style: str, n: int = N, seed: int = 17) -> list[str]:
    rnd = random.Random(f"{seed}:{style}")
    out: list[str] = []

    def base():
        if style in AMOUNT_STYLES:
            return _amount(rnd, style == "zoned")
        other = rnd.choice(DATE_STYLES) if rnd.random() < 0.1 else style   # an era digit in an era-letter field, …
        return _formatted(rnd, other) if rnd.random() < 0.5 else _grammar(rnd, other)

    while len(out) < n:
        r = rnd.random()
        if r < 0.35:
            out.append(base())
        elif r < 0.80:
            out.append(_mutate(rnd, base()))
        elif r < 0.95:
            out.append("".join(rnd.choice(VOCAB) for _ in range(rnd.randrange(0, 15))))
        else:
            out.append(rnd.choice(SENTINELS + ["", " ", "\u3000\u3000", "\t", "元", "-", "{"]))
    return out


# --------------------------------------------------------------------------- the two readers

def _configs(project) -> list[tuple[tuple, dt.date]]:
    """Every (date sentinels, 明治 start) a layout of mappings/ declares."""
    return sorted({(tuple(sorted(lay.date_sentinels.items())), lay.meiji_start) for lay in project.layouts.values()})


def _layout(sentinels: tuple, meiji_start: dt.date) -> tuple[Layout, LayoutFile]:
    fields = [LayoutField(name="k", label="k", type="digits", length=10)]
    fields += [LayoutField(name=f"d_{s}", label=s, type="date", style=s, length=40) for s in DATE_STYLES]
    fields += [LayoutField(name="a_amount", label="amount", type="amount", length=40),
               LayoutField(name="a_zoned", label="zoned", type="amount", zoned=True, length=40)]
    lf = LayoutFile(table="t", file="T.CSV", label="t", format="csv", key=["k"], fields=fields)
    return Layout(system="diff", date_sentinels=dict(sentinels), meiji_start=meiji_start, files=[lf]), lf


def sql_readings(strings: dict[str, list[str]], sentinels: tuple, meiji_start: dt.date) -> dict[str, list[tuple]]:
    """style -> [(status, value)] of each string, from the staging SQL in one query."""
    layout, lf = _layout(sentinels, meiji_start)
    sql = render(dbtgen.staging_sql("diff", layout, lf, []))
    n = len(next(iter(strings.values())))
    cols = {"k": [str(i) for i in range(n)]}
    cols.update({f"d_{s}": strings[s] for s in DATE_STYLES})
    cols.update({f"a_{s}": strings[s] for s in AMOUNT_STYLES})
    cols.update({"_record_no": list(range(1, n + 1)), "_byte_offset": [0] * n, "_overlong": [None] * n})
    con = duckdb.connect()
    try:
        con.execute("create schema raw")
        con.register("strings", pa.table(cols))
        con.execute('create table raw."diff__t" as select * from strings')
        want = [f"{p}_{s}" for p, ss in (("d", DATE_STYLES), ("a", AMOUNT_STYLES)) for s in ss]
        sel = ", ".join(f"{c}__status, {c}" for c in want)
        rows = con.execute(f"select {sel} from ({sql}) order by _record_no").fetchall()
    finally:
        con.close()
    out = {}
    for j, c in enumerate(want):
        out[c.split("_", 1)[1]] = [(r[2 * j], r[2 * j + 1]) for r in rows]
    return out


def py_reading(style: str, s: str, sentinels: dict, meiji_start: dt.date) -> tuple:
    if style in AMOUNT_STYLES:
        r = parse_legacy_amount(s, zoned=style == "zoned")
        return r.status, r.value
    r = parse_legacy_date(s, style, sentinels, meiji_start)
    return r.status, r.date


@pytest.fixture(scope="module")
def strings():
    return {s: corpus(s) for s in DATE_STYLES + AMOUNT_STYLES}


@pytest.fixture(scope="module")
def compared(project, strings):
    """(style -> Counter of SQL statuses, style -> checks, disagreements) over every configuration."""
    statuses: dict[str, Counter] = {s: Counter() for s in strings}
    checks: Counter = Counter()
    disagree = []
    for sentinels, meiji in _configs(project):
        sql = sql_readings(strings, sentinels, meiji)
        for style, values in strings.items():
            for s, got in zip(values, sql[style]):
                want = py_reading(style, s, dict(sentinels), meiji)
                checks[style] += 1
                statuses[style][got[0]] += 1
                if want != got:
                    disagree.append((style, dict(sentinels), meiji, s, want, got))
    return statuses, checks, disagree


def test_python_and_sql_readers_agree_on_every_string(compared):
    statuses, checks, disagree = compared
    report = "\n".join(f"  {s:10s} {checks[s]:6d} readings: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
                       for s, c in statuses.items())
    shown = "\n".join(f"  {st}: {s!r} python={w} sql={g} (sentinels {sn}, 明治 {m})"
                      for st, sn, m, s, w, g in disagree[:25])
    assert not disagree, f"{len(disagree)} disagreements of {sum(checks.values())}:\n{shown}\n{report}"
    print("\n" + report)


def test_the_corpus_reaches_every_status(compared, strings):
    """Each style's strings hit every status its reader has, in numbers: a corpus of junk alone
    (everything invalid on both sides) would agree and prove nothing."""
    statuses, _, _ = compared
    for style in DATE_STYLES:
        c = statuses[style]
        assert len(strings[style]) == N
        assert c["ok"] >= 0.15 * sum(c.values()) and c["invalid"] >= 0.2 * sum(c.values()), (style, c)
        assert c["blank"] and c["unknown"] and c["open"], (style, c)
    for style in AMOUNT_STYLES:
        c = statuses[style]
        assert min(c["ok"], c["invalid"]) >= 0.2 * sum(c.values()) and c["overflow"] >= 50 and c["blank"], (style, c)


def test_the_tricky_characters_are_in_the_corpus(strings):
    every = "".join(s for v in strings.values() for s in v)
    for ch in ["０", "٣", "\t", "\n", "\x00", "\u3000", "元", "平成", "}", "R", "+"]:
        assert ch in every, ch
    # an era digit where an era letter belongs, and the other way round
    letters = {e.letter for e in eras()}
    assert any(s[:1].isdigit() and len(s) == 7 for s in strings["era_letter"])
    assert any(s[:1] in letters and len(s) == 7 for s in strings["era7"])


@pytest.mark.parametrize("value,style,status", [
    ("３６００２１４", "era7", "invalid"),        # full-width digits
    ("3600214\t", "era7", "invalid"),             # a tab is not padding
    ("\n3600214", "era7", "invalid"),
    (" 3600214\u3000", "era7", "ok"),              # the ASCII and the full-width space are
    ("3360214", "era_letter", "invalid"),         # an era digit in an era-letter field
    ("平成١٥.01.07", "era_dotted", "invalid"),     # Arabic-Indic digits
    ("２００３/01/07", "ymd_slash", "invalid"),
    ("１２３", "amount", "invalid"),
    ("+123", "amount", "invalid"),
    ("1_000", "amount", "invalid"),
    ("12\n", "amount", "invalid"),
    ("9223372036854775807", "amount", "ok"),
    ("9223372036854775808", "amount", "overflow"),
    ("-9223372036854775808", "amount", "ok"),
    ("922337203685477580Q", "zoned", "ok"),       # -9223372036854775808
    ("922337203685477580H", "zoned", "overflow"),   # +9223372036854775808
    ("00001234}", "zoned", "ok"),
])
def test_pinned_strings_read_alike(project, value, style, status):
    """The disagreements the issue names, pinned: both readers, one answer."""
    strings = {s: [value if s == style else ""] for s in DATE_STYLES + AMOUNT_STYLES}
    sql = sql_readings(strings, (), dt.date(1868, 1, 25))[style][0]
    assert py_reading(style, value, {}, dt.date(1868, 1, 25)) == sql
    assert sql[0] == status, sql
