"""The fuzz harnesses and their oracles, without atheris (so the normal suite replays them).

One harness per layout family the project reads (``mappings/*/layout.yaml``) and one for the
value readers. ``check(name, data)`` runs one input and raises :class:`Finding` when an oracle
fails; any other exception that escapes is itself a finding (the extractor may only refuse a
file with :class:`ExtractError`). ``tests/fuzz/fuzz.py`` drives these with atheris
(``python3.11 tasks.py fuzz``); ``tests/fuzz/test_regressions.py`` replays the committed seed
corpus and every input that ever failed through the same oracles.

Oracles of the extract harnesses (input = the bytes of one export file):

1. only ``ExtractError`` escapes ``extract_file`` (a refusal of the whole file);
2. records counted here from the bytes, by a rule of this module's own (not the extractor's
   ``count_records``), equal raw rows + quarantined rows + refused records;
3. every record is in exactly one place: the record numbers of raw and quarantine rows are the
   file's record numbers, each once; a refused file has no raw or quarantine row and all its
   records refused; each row's byte offset is its line's, and a quarantined row keeps its line's
   bytes (``raw_hex``);
4. each record's fate is the one an independent reading of its line gives: quarantined with the
   reason that reading finds first (fixed width: empty, length, undecodable field, field format;
   CSV: undecodable, empty, repeated header, quotes, field count, field format, the quoted lines
   read by Python's csv module, not the extractor's fast paths), or raw with the values read;
5. no message (a refusal, a quarantine reason, detail or field, an exception) carries input text:
   the seeds and the fuzzing dictionary plant canary text, and no message may hold any of it.

Oracles of the value readers (input = a selector byte, then UTF-8 text): dates in every legacy
style (``core/wareki``), amounts plain and zoned (``core/amounts``) and kana width and 外字 codes
(``core/textcodec``) never raise for a value, give a known status, read the same with blanks
around, round-trip what they accept, and carry no canary in a reason.
"""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
REGRESSIONS = HERE / "regressions"

# Canary text: planted by the seed corpus and the fuzzing dictionary; never to be seen in a message.
# Rare kanji (in CP932, not in any label or message of the project), an ASCII word, and a number
# no count, length or line number of a small input reaches.
CANARY_KANJI = "鵺鶫鷽"
CANARY_ASCII = "ZQXJ"
CANARY_DIGITS = "9071592638"
CANARIES = (CANARY_ASCII, CANARY_DIGITS, *CANARY_KANJI)

# harness -> (system, table) of the layout file it feeds; one per layout family
EXTRACT_TARGETS = {
    "fixed_zoned": ("zeimu", "kojin"),       # 税 fixed width, zoned-decimal amounts, ASCII
    "fixed": ("koseki", "kojin"),            # 戸籍 fixed width, CP932 text, era dates
    "csv_quoted": ("kokuho", "hihokensha"),  # 国保 CSV, every field quoted, header
    "csv_plain": ("jumin", "kojin"),         # 住民記録 CSV, unquoted, header, 27 fields
}
HARNESSES = (*EXTRACT_TARGETS, "readers")
# where the extract harnesses write each input as the layout's file; None: a temporary folder
WORKDIR: Path | None = None
# what libFuzzer may grow an input to (bytes)
MAX_LEN = {"fixed_zoned": 2048, "fixed": 4096, "csv_quoted": 6144, "csv_plain": 8192, "readers": 64}


def family(lf) -> tuple:
    """What makes two layout files the same to the extractor: format, zoned amounts, quoting, header."""
    return (lf.format, any(f.type == "amount" and f.zoned for f in lf.fields), lf.quote_all, lf.header)


class Finding(AssertionError):
    """An oracle failed. The message names the oracle and counts, never the input's text."""


# --------------------------------------------------------------------------- extract harnesses

@dataclass(frozen=True)
class _Target:
    layout: object
    lf: object
    gaiji: tuple
    path: Path


@lru_cache(maxsize=None)
def _target(name: str) -> _Target:
    from dagster_project.spec.config import cached_project

    system, table = EXTRACT_TARGETS[name]
    project = cached_project()
    layout = project.layouts[system]
    lf = layout.file(table)
    if WORKDIR is not None:          # a campaign: libFuzzer leaves by _exit, so no atexit runs
        work = WORKDIR / name
        work.mkdir(parents=True, exist_ok=True)
    else:
        shm = Path("/dev/shm")
        work = Path(tempfile.mkdtemp(prefix=f"kikan-fuzz-{name}-", dir=shm if shm.is_dir() else None))
        atexit.register(shutil.rmtree, work, True)
    return _Target(layout, lf, tuple(project.gaiji[system]), work / lf.file)


def lines_of(data: bytes | str) -> list[tuple[int, bytes | str]]:
    """(start, content) of every line, this module's own way: a line ends at a newline, which with
    a carriage return just before it is not part of the content; a last line without a newline is
    a line; one end-of-file mark (0x1A) closing the file is not. Starts are positions in ``data``."""
    nl, cr, eof = ("\n", "\r", "\x1a") if isinstance(data, str) else (b"\n", b"\r", b"\x1a")
    end = len(data) - 1 if data[-1:] == eof else len(data)
    out, start = [], 0
    while start < end:
        stop = data.find(nl, start, end)
        if stop < 0:
            out.append((start, data[start:end]))
            break
        content = data[start:stop]
        if content[-1:] == cr:
            content = content[:-1]
        out.append((start, content))
        start = stop + 1
    return out


def independent_count(data: bytes, header: bool) -> int:
    """Records in an export file: its lines less the header line. A file that starts with a UTF-16
    byte order mark is counted on its text (0x0A is also half of characters such as 上 there)."""
    text = data.decode("utf-16", errors="replace") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data
    return max(len(lines_of(text)) - (1 if header else 0), 0)


def _no_canary(messages, what: str) -> None:
    for m in messages:
        if m is None:
            continue
        found = [c for c in CANARIES if c in str(m)]
        if found:
            raise Finding(f"{what} carries input text (canary {len(found)} of {len(CANARIES)} found)")


_NOT_CP932 = set("\x80\uf8f0\uf8f1\uf8f2\uf8f3")   # single bytes Python's cp932 maps, no CP932 text uses
_FORMATS = {"digits": re.compile(r"[0-9]+| *"), "zoned": re.compile(r"[0-9]*[0-9{}A-R]| *"),
            "amount": re.compile(r"-?[0-9]+| *")}


def _undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" or ch in _NOT_CP932 for ch in text)


def _format_of(f) -> re.Pattern | None:
    if f.type == "digits":
        return _FORMATS["digits"]
    if f.type == "amount":
        return _FORMATS["zoned" if f.zoned else "amount"]
    return None


def _parse_csv(text: str) -> list[str] | None:
    """A line's fields: split on commas when it has no quote; else Python's csv module (strict),
    and None when that cannot read it or the quotes do not pair up."""
    if '"' not in text:
        return text.split(",")
    if text.count('"') % 2:
        return None
    try:
        return next(csv.reader([text], strict=True))
    except (csv.Error, StopIteration):
        return None


def _read_record(lf, line: bytes) -> tuple[str | None, str | None, tuple | None]:
    """(reason code, field, None) for a record to be quarantined, (None, None, values) for a raw one,
    read here without the extractor: fixed-width fields cut at the layout's lengths and decoded one
    by one; a CSV line decoded whole, then split."""
    if lf.format == "fixed":
        if not line:
            return "empty_record", None, None
        if len(line) != lf.record_length:
            return "record_length", None, None
        vals, pos = [], 0
        for f in lf.fields:
            vals.append(line[pos:pos + f.length].decode("cp932", errors="surrogateescape"))
            pos += f.length
        bad = next((f.name for f, v in zip(lf.fields, vals) if _undecodable(v)), None)
        if bad:
            return "undecodable", bad, None
    else:
        text = line.decode("cp932", errors="surrogateescape")
        if _undecodable(text):
            return "undecodable", None, None
        if not text:
            return "empty_record", None, None
        labels = [f.label for f in lf.fields]
        if lf.header and text in (",".join(labels), ",".join(f'"{x}"' for x in labels)):
            return "header_repeated", None, None
        vals = _parse_csv(text)
        if vals is None:
            return "csv_syntax", None, None
        if len(vals) != len(lf.fields):
            return "field_count", None, None
    if any((fmt := _format_of(f)) is not None and not fmt.fullmatch(v) for f, v in zip(lf.fields, vals)):
        return "field_format", None, None
    return None, None, tuple(vals)


# refusals that are the extractor's own consistency checks failing, i.e. bugs, not bad files
_BUGS = ("internal error", "raw frame does not match its layout")


def check_extract(name: str, data: bytes) -> None:
    from dagster_project.extract.reader import ExtractError, extract_file, refused_extract

    t = _target(name)
    lf = t.lf
    t.path.write_bytes(data)
    header = lf.format == "csv" and lf.header
    try:
        r = extract_file(t.path, t.layout, lf, list(t.gaiji))
    except ExtractError as exc:
        _no_canary([str(exc)], "the refusal")
        if not str(exc).startswith(str(t.path)):
            raise Finding("the refusal does not name the file first") from None
        if any(bug in str(exc) for bug in _BUGS):   # the extractor's own checks, dressed as a refusal
            raise Finding("an internal error refused the file") from None
        r = refused_extract(t.path, t.layout, lf, str(exc))
    q = r.quarantine
    _no_canary(q["reason"].to_list() + q["detail"].to_list() + q["field_name"].to_list(), "a quarantine row")
    _no_canary([r.refused], "the refusal")

    n = independent_count(data, header)
    raw_n, q_n, refused_n = r.frame.height, q.height, r.refused_records
    if n != raw_n + q_n + refused_n:
        raise Finding(f"conservation: {n} records counted, {raw_n} raw + {q_n} quarantined + {refused_n} refused")
    if r.records_in_file != n:
        raise Finding(f"records_in_file {r.records_in_file}, counted {n}")
    if r.refused is not None:
        if raw_n or q_n or refused_n != n:
            raise Finding(f"a refused file: {raw_n} raw, {q_n} quarantined, {refused_n} refused of {n}")
        return
    if refused_n:
        raise Finding(f"an accepted file with {refused_n} refused records")

    # every record in exactly one place, at its line
    first = 2 if header else 1
    lines = lines_of(data)[first - 1:]
    raw_nos = r.frame["_record_no"].to_list()
    q_nos = q["record_no"].to_list()
    if sorted(raw_nos + q_nos) != list(range(first, first + n)):
        dup = len(raw_nos) + len(q_nos) - len(set(raw_nos) | set(q_nos))
        raise Finding(f"record numbers: {len(set(raw_nos) & set(q_nos))} both raw and quarantined, "
                      f"{dup} repeated, of {n} records")
    for rec, off in zip(raw_nos, r.frame["_byte_offset"].to_list()):
        if off != lines[rec - first][0]:
            raise Finding(f"raw record {rec}: byte offset {off}, its line starts at {lines[rec - first][0]}")
        if lf.format == "fixed" and len(lines[rec - first][1]) != lf.record_length:
            raise Finding(f"raw record {rec}: {len(lines[rec - first][1])} bytes, the layout says {lf.record_length}")
    for rec, off, hexed in zip(q_nos, q["byte_offset"].to_list(), q["raw_hex"].to_list()):
        start, content = lines[rec - first]
        if off != start or hexed != content.hex().upper():
            raise Finding(f"quarantined record {rec}: offset or bytes are not its line's")

    # each record's fate: the reason an independent reading finds, or raw with the values read
    subst = {e.pua: e.ucs for e in t.gaiji if e.ucs}
    names = [f.name for f in lf.fields]
    fate = {rec: ("quarantine", code, fname) for rec, code, fname in
            zip(q_nos, q["reason_code"].to_list(), q["field_name"].to_list())}
    values = dict(zip(raw_nos, r.frame.select(names).iter_rows()))
    for rec in range(first, first + n):
        want_code, want_field, want_values = _read_record(lf, lines[rec - first][1])
        got = fate.get(rec)
        if want_code is None:
            if got is not None:
                raise Finding(f"record {rec}: quarantined as {got[1]}, an independent reading accepts it")
            read = tuple("".join(subst.get(ch, ch) for ch in v) for v in want_values)
            if read != values[rec]:
                diff = [nm for nm, a, b in zip(names, read, values[rec]) if a != b]
                raise Finding(f"record {rec}: raw values differ from an independent reading in {diff[:3]}")
        elif got is None:
            raise Finding(f"record {rec}: raw, an independent reading finds {want_code}")
        elif got[1] != want_code or (want_field is not None and got[2] != want_field):
            raise Finding(f"record {rec}: quarantined as {got[1]} ({got[2]}), an independent reading finds "
                          f"{want_code} ({want_field})")


# --------------------------------------------------------------------------- value readers

STYLES = ("era7", "era_letter", "era_dotted", "ymd8", "ymd_slash", "ym6")
STATUSES = {"ok", "blank", "unknown", "open", "invalid"}
_SENTINELS = {"0000000": "unknown", "9999999": "open", "00000000": "unknown", "99999999": "open"}
_MEIJI_LATE = dt.date(1868, 10, 23)
_MEIJI = dt.date(1868, 1, 25)
_HEX = re.compile(r"^(?:[0-9A-F]{2}(?: [0-9A-F]{2})*)?$")


def _date(value: str, style: str, variant: int) -> None:
    from dagster_project.core.wareki import format_legacy_date, parse_legacy_date

    sentinels = _SENTINELS if variant & 1 else None
    meiji = _MEIJI_LATE if variant & 2 else None
    got = parse_legacy_date(value, style, sentinels, meiji)
    if got.status not in STATUSES:
        raise Finding(f"date {style}: unknown status")
    if (got.status == "ok") != (got.date is not None):
        raise Finding(f"date {style}: status {got.status} with{'out' if got.date is None else ''} a date")
    _no_canary([got.reason], f"date {style}: the reason")
    padded = parse_legacy_date(f" \u3000{value}\u3000 ", style, sentinels, meiji)
    if (padded.status, padded.date) != (got.status, got.date):
        raise Finding(f"date {style}: blanks around the value change its reading ({got.status} -> {padded.status})")
    if got.status == "ok":
        if style.startswith("era") and got.date < (meiji or _MEIJI):
            raise Finding(f"date {style}: a day before 明治")
        if got.date.year >= 1000:   # strftime writes years below 1000 without zeros
            again = parse_legacy_date(format_legacy_date(got.date, style), style, None, meiji)
            if again.date != got.date:
                raise Finding(f"date {style}: the day it read does not read back")


AMOUNT_STATUSES = {"ok", "blank", "invalid", "overflow"}


def _amount(value: str, zoned: bool) -> None:
    from dagster_project.core.amounts import BIGINT_MAX, BIGINT_MIN, parse_legacy_amount
    from dagster_project.core.textcodec import zoned_encode

    what = "zoned" if zoned else "amount"
    got = parse_legacy_amount(value, zoned)
    if got.status not in AMOUNT_STATUSES:
        raise Finding(f"{what}: unknown status")
    if (got.status == "ok") != (got.value is not None):
        raise Finding(f"{what}: status {got.status} with{'out' if got.value is None else ''} a value")
    padded = parse_legacy_amount(f" \u3000{value}\u3000 ", zoned)
    if (padded.status, padded.value) != (got.status, got.value):
        raise Finding(f"{what}: blanks around the value change its reading ({got.status} -> {padded.status})")
    if got.status == "ok":
        n = got.value
        if not BIGINT_MIN <= n <= BIGINT_MAX:
            raise Finding(f"{what}: ok beyond BIGINT")
        back = zoned_encode(n, max(len(str(abs(n))), 1)) if zoned else str(n)
        if parse_legacy_amount(back, zoned).value != n:
            raise Finding(f"{what}: the number it read does not read back")


def _kana(value: str) -> None:
    from dagster_project.core.textcodec import (_FULL_TO_HALF, has_halfwidth_kana, pua_to_sjis, sjis_to_pua,
                                               to_fullwidth_kana, to_halfwidth_kana, undecodable_bytes_hex)

    full = to_fullwidth_kana(value)
    if has_halfwidth_kana(full):
        raise Finding("kana: half-width katakana left after to_fullwidth_kana")
    # the characters that have one half-width spelling and come back from it (not the combining
    # voiced marks, which join the kana before them, nor the full-width space, which becomes ' ')
    domain = "".join(ch for ch in value if ord(ch) in _FULL_TO_HALF and ch not in "\u3000\u3099\u309a")
    if to_fullwidth_kana(to_halfwidth_kana(domain)) != domain:
        raise Finding("kana: full -> half -> full changes the text")
    for ch in set(value):
        if "\ue000" <= ch <= "\ue757" and sjis_to_pua(pua_to_sjis(ch)) != ch:
            raise Finding("gaiji: a private-use character does not map back from its Shift_JIS code")
    raw = value.encode("utf-8", errors="surrogatepass")
    if not _HEX.match(undecodable_bytes_hex(raw.decode("cp932", errors="surrogateescape"))):
        raise Finding("undecodable_bytes_hex: not a list of hex bytes")


def check_readers(data: bytes) -> None:
    """``data[0]`` picks the reader (a date style and its sentinel / 明治 variant, an amount plain or
    zoned, kana);
    the rest is the value, as UTF-8 (undecodable bytes replaced)."""
    if not data:
        return
    sel, value = data[0], data[1:].decode("utf-8", errors="replace")
    k = sel % 8
    if k < len(STYLES):
        _date(value, STYLES[k], sel // 8)
    elif k == 6:
        _amount(value, zoned=bool(sel & 8))
    else:
        _kana(value)


# --------------------------------------------------------------------------- entry points

def check(name: str, data: bytes) -> None:
    """One input through harness ``name`` and its oracles."""
    if name == "readers":
        check_readers(data)
    else:
        check_extract(name, data)


def inputs(name: str) -> list[Path]:
    """The committed seed corpus and the regression inputs of a harness."""
    return sorted(p for d in (CORPUS / name, REGRESSIONS / name) if d.is_dir()
                  for p in d.iterdir() if p.is_file() and not p.name.startswith("."))


def _q(token: bytes) -> str:
    return '"' + "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02X}" for b in token) + '"'


def dictionary(name: str) -> str:
    """libFuzzer's dictionary for a harness: the canaries in the encodings a file may come in, and
    the bytes that matter to the layout (line ends, quotes, BOMs, 0x1A, zoned signs, sentinels, 外字)."""
    tokens: list[bytes] = []
    for c in (CANARY_KANJI, CANARY_ASCII, CANARY_DIGITS):
        tokens += [c.encode("cp932"), c.encode("utf-8"), c.encode("utf-16-le")]
    if name == "readers":
        for sel in range(16):
            tokens.append(bytes([sel]))
        tokens += [s.encode() for s in ("0000000", "9999999", "00000000", "99999999", "元", "平成", "令和", "明治",
                                        "昭和", "大正", "R", "H", "S", "T", "M", ".", "．", "/", "{", "}", "J", "-",
                                        "9223372036854775807",
                                        "\u3000", "ｶﾞ", "ﾊﾟ", "ヴ", "\u3099", "２", "\t", "\n")]
        tokens += [chr(0xE000 + i).encode() for i in (0, 0x3AE, 0x757)]
    else:
        t = _target(name)
        lf = t.lf
        tokens += [b"\r\n", b"\n", b"\r", b"\x1a", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
                   b'","', b'"', b",", b'""', b"\xf0\x40", b"\xf5\x40", b"\xf9\xfc", b"\x81\x40", b"\x85\x40",
                   b"\xce\x91", b"\xe3\x81\x82", b"\xb6\xde", b"{", b"}", b"J", b"R", b"0000000", b"9999999",
                   b"00000000", b"99999999"]
        if lf.header:
            labels = [f.label for f in lf.fields]
            tokens.append(",".join(labels).encode("cp932"))
            tokens.append(",".join(f'"{x}"' for x in labels).encode("cp932"))
            tokens += [x.encode("cp932") for x in labels[:6]]
    seen, out = set(), []
    for tok in tokens:
        if tok and tok not in seen:
            seen.add(tok)
            out.append(_q(tok))
    return "\n".join(out) + "\n"
