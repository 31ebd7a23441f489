"""Lossless extraction of one legacy export file into a raw frame plus quarantine.

``raw`` means: bytes decoded, fields split, nothing interpreted (DESIGN.md). Every record
of the file ends in exactly one place: a raw row (with file, record number and byte offset),
a quarantine row with a reason and the record's bytes in hex, or, when the whole file is refused,
the file's count of refused records. Problems that concern the whole file (missing, UTF-8 where
CP932 is declared, a header that is not the layout's) raise an :class:`ExtractError` naming the
file and line, because quarantining every row of a wrong file would only bury the real cause; the
caller stands :func:`refused_extract` in, which counts the refused file's records from its bytes
(file = raw + quarantined + refused). A CSV value longer than
its declared ``length`` (CP932 bytes) is neither changed nor quarantined: the row's ``_overlong``
names the fields, for the findings downstream.

The hot path is vectorised (:mod:`dagster_project.extract.vector`): lines are found in the bytes
by numpy; a CSV chunk of about 16 MiB is decoded in one codec call and split by polars; each
fixed-width column is cut out of a numpy byte matrix, ASCII columns handed over as they are and the
others decoded in one codec call; values reach polars as Arrow buffers. Only the rare records that
are broken or carry 外字 are looked at one by one.
"""

from __future__ import annotations

import codecs
import csv
import errno
import hashlib
import re
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandera.polars as pa
import polars as pl
import pyarrow

from dagster_project.spec.config import GaijiEntry, Layout, LayoutField, LayoutFile
from dagster_project.core.textcodec import PUA_RE, UNDECODABLE_RE, pua_to_sjis, undecodable_bytes_hex
from dagster_project.extract.vector import (ascii_column, decode_fixed_column, decode_lines, escaped, find_lines,
                                            record_matrix)

# Quarantine reasons: a stable code for programs, the Japanese wording for system owners.
REASONS = {
    "empty_record": "空レコード",
    "record_length": "レコード長不正",
    "undecodable": "文字コード変換不可（CP932として読めないバイト）",
    "csv_syntax": "CSV構文誤り（引用符の不整合）",
    "field_count": "項目数不一致",
    "header_repeated": "ヘッダ行の重複",
    "field_format": "項目形式不正",
}

QUARANTINE_SCHEMA = {
    "system": pl.Utf8,
    "table_name": pl.Utf8,
    "file_name": pl.Utf8,
    "record_no": pl.Int64,
    "byte_offset": pl.Int64,
    "reason_code": pl.Utf8,
    "reason": pl.Utf8,
    "field_name": pl.Utf8,
    "detail": pl.Utf8,
    "raw_hex": pl.Utf8,
}

GAIJI_USAGE_SCHEMA = {
    "system": pl.Utf8,
    "table_name": pl.Utf8,
    "field_name": pl.Utf8,
    "sjis_code": pl.Utf8,
    "pua": pl.Utf8,
    "in_vendor_table": pl.Boolean,
    "juki_code": pl.Utf8,
    "koseki_no": pl.Utf8,
    "substituted_with": pl.Utf8,
    "occurrences": pl.Int64,
    "records": pl.Int64,
    "sample_record_nos": pl.Utf8,
}


class ExtractError(Exception):
    """A file cannot be extracted at all; the message names file, line and field."""


@dataclass
class FileExtract:
    system: str
    table: str
    file_name: str
    frame: pl.DataFrame
    quarantine: pl.DataFrame
    gaiji_usage: pl.DataFrame
    records_in_file: int
    file_bytes: int
    sha256: str
    header_lines: int = 0
    # records in the file by count_records(), a rule independent of the extractor's splitting,
    # computed on the same bytes (so the conservation check needs no second read of the file)
    records_counted: int = 0
    eof_marker: bool = False
    line_endings: dict[str, int] = field(default_factory=dict)
    # why the whole file was refused (ExtractError's message: file, line, what), else None
    refused: str | None = None
    # records of a refused file, counted from its bytes (count_records): neither raw nor
    # quarantined, still accounted for (records_in_file = raw + quarantined + refused)
    refused_records: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {
            "records_in_file": self.records_in_file,
            "raw_rows": self.frame.height,
            "quarantined": self.quarantine.height,
            "refused": self.refused_records,
        }


@dataclass(frozen=True)
class RawChunk:
    """Raw rows of one file, final, handed to the writer before the file is read to the end (the
    ``on_chunk`` of :func:`extract_file`); the file's :class:`FileExtract` follows its chunks."""

    table: str
    frame: pl.DataFrame


# --------------------------------------------------------------------------- helpers

def count_records(data: bytes, header: bool) -> int:
    """Records in a file by the simplest possible rule, for the conservation check.

    One record per line; a final line without a newline counts; one trailing DOS
    end-of-file byte (0x1A) is not a record; a header line is not a record. Deliberately
    independent of :func:`extract_file`'s splitting.

    The same rule counts a refused file's records. A file with a UTF-16 byte order mark (always
    refused) is counted on its decoded text: in UTF-16 a 0x0A byte is also half of many characters
    (上 is 0A 4E), so its bytes would overcount. In CP932 and UTF-8 a 0x0A byte is only a newline.
    """
    text: bytes | str = data
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    nl, eof = ("\n", "\x1a") if isinstance(text, str) else (b"\n", b"\x1a")
    if text.endswith(eof):
        text = text[:-1]
    if not text:
        return 0
    n = text.count(nl) + (0 if text.endswith(nl) else 1)
    return max(n - (1 if header else 0), 0)


# The structural formats of the layout's field types (pandera's checks, and the one polars pass
# that finds the rows to give pandera: see _validate).
_FORMATS = {
    "digits": r"^(?:[0-9]+| *)$",
    "zoned": r"^(?:[0-9]*[0-9{}A-R]| *)$",
    "integer": r"^(?:-?[0-9]+| *)$",
}


def _format_of(f: LayoutField) -> str | None:
    if f.type == "digits":
        return "digits"
    if f.type == "amount":
        return "zoned" if f.zoned else "integer"
    return None


def _pandera_schema(lf: LayoutFile) -> pa.DataFrameSchema:
    """The structural contract of a raw frame: every field present as text, numeric fields
    digits (or blank), zoned amounts well formed. Values that are well formed but wrong
    (bad dates, unknown codes, check digits) are not the extract's business: they become
    data gaps later, where the owner can see them."""
    cols: dict[str, pa.Column] = {}
    for f in lf.fields:
        fmt = _format_of(f)
        checks = [pa.Check.str_matches(_FORMATS[fmt], name=fmt)] if fmt else []
        cols[f.name] = pa.Column(str, checks=checks, nullable=False)
    cols["_record_no"] = pa.Column(pl.Int64, unique=True)
    cols["_byte_offset"] = pa.Column(pl.Int64)
    cols["_overlong"] = pa.Column(str, nullable=True)
    return pa.DataFrameSchema(cols, strict=True, name=lf.table)


def raw_schema(lf: LayoutFile) -> dict[str, pl.DataType]:
    """The columns of a raw table: the layout's fields as text, then the bookkeeping columns."""
    return {**{f.name: pl.Utf8 for f in lf.fields}, "_record_no": pl.Int64, "_byte_offset": pl.Int64,
            "_overlong": pl.Utf8}


# --------------------------------------------------------------------------- declared lengths

# The characters Python's cp932 codec makes of ONE byte: ASCII, half-width katakana (0xA1–0xDF →
# U+FF61–U+FF9F), and 0x80 / 0xA0 / 0xFD–0xFF (→ U+0080, U+F8F0–U+F8F3; those records are
# quarantined as undecodable before lengths are measured, listed only so the rule is exact). Every
# other character it yields, the 外字 area U+E000–U+E757 included, came from two bytes.
_CP932_SINGLE_BYTE = r"[\x00-\x7F\x{0080}\x{FF61}-\x{FF9F}\x{F8F0}-\x{F8F3}]"


def cp932_len(expr: pl.Expr) -> pl.Expr:
    """Bytes a decoded CP932 value had in the file: two per character, less one per single-byte one.

    Exact for text decoded from CP932 (before vendor 外字 are substituted with their ``ucs``)."""
    return expr.str.len_chars().cast(pl.Int64) * 2 - expr.str.count_matches(_CP932_SINGLE_BYTE).cast(pl.Int64)


def _overlong(frame: pl.DataFrame, lf: LayoutFile) -> pl.Series:
    """Per raw row of a CSV file: the fields (layout names, in layout order, comma-separated) whose
    value is longer in CP932 bytes than the layout's ``length``, else null; null throughout for a
    fixed-width file, whose fields have their length by construction.

    A value is measured as split from the line: without CSV quotes (``""`` counted as one ``"``),
    with any blanks around it (a blank stored in the field occupies its bytes, as in a fixed-width
    field), before 外字 substitution. The frame must be the decoded text, nothing substituted.

    Vectorised, and cheap where nothing can be too long: the UTF-8 bytes and twice the characters
    of a value are both upper bounds of its CP932 bytes, so the exact count (a regex pass) runs only
    for the fields, and where few, only on the rows, where both bounds exceed the length.
    """
    out = pl.repeat(None, frame.height, dtype=pl.Utf8, eager=True).alias("_overlong")
    if lf.format != "csv" or frame.height == 0:
        return out
    maybe = frame.select(
        ((pl.col(f.name).str.len_bytes() > f.length) & (pl.col(f.name).str.len_chars() * 2 > f.length))
        for f in lf.fields)
    fields = [f for f in lf.fields if maybe[f.name].any()]
    if not fields:
        return out
    rows = maybe.select(pl.any_horizontal(f.name for f in fields)).to_series().arg_true()
    flagged = pl.concat_str(
        [pl.when(cp932_len(pl.col(f.name)) > f.length).then(pl.lit(f.name)) for f in fields],
        separator=",", ignore_nulls=True)
    flagged = pl.when(flagged != "").then(flagged).alias("_overlong")
    if rows.len() * 2 > frame.height:        # most rows: measure in place rather than gather them
        return frame.select(flagged).to_series()
    return out.scatter(rows, frame.select(f.name for f in fields)[rows].select(flagged).to_series())



# "UTF-8 where CP932 is declared" refuses the whole file only on strong evidence: the whole file is
# valid UTF-8 AND, read as UTF-8, it holds at least _UTF8_MIN_JAPANESE characters of Japanese script
# (kana, kanji, CJK punctuation, full-width forms). Why this threshold:
# - Each such character is a 3- or 4-byte UTF-8 sequence (a lead E3-E9/EF/F0 and continuation bytes
#   80-BF), so a corrupted byte or two can never make one (two stray bytes C2-DF + 80-BF read as
#   Latin or Greek, e.g. CE 91 = Α), and four need twelve bytes in exactly that pattern. Below the
#   threshold the file is read as CP932, and a record whose bytes are not CP932 is quarantined
#   (文字コード変換不可) on its own, as any other corrupt record is.
# - A genuine UTF-8 re-export holds Japanese on (nearly) every line, and every CSV layout's header
#   alone has more than four Japanese characters.
# - A real CP932 file is valid UTF-8 with Japanese in it only if its high bytes pair up as level-2
#   kanji (lead E0-EA, trail 80-BF) each followed by half-width katakana or another lead byte: no
#   plausible legacy text does that four times.
# - "Does not decode cleanly as CP932" is NOT a further condition: short UTF-8 text often decodes
#   as CP932 (mojibake, 山田 -> 螻ｱ逕ｰ). Of the simulated city's files re-encoded as UTF-8, 101 of
#   the 128 KOTEI_TOCHI.DAT lines and 61 of the 78 KOTEI_KAOKU.DAT lines with Japanese decode as
#   CP932 without an error, so a small UTF-8 file would be read as mojibake instead of refused.
_UTF8_MIN_JAPANESE = 4
_JAPANESE_RE = re.compile(
    "[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff9f\U00020000-\U0003134f]")


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def utf8_japanese_characters(data: bytes) -> int:
    """How many Japanese-script characters ``data`` holds read as UTF-8; 0 when it is plain ASCII
    or not valid UTF-8 as a whole (then it cannot be a UTF-8 file)."""
    if data.isascii():
        return 0
    # A CP932 file is seldom valid UTF-8 past its first non-ASCII bytes: look there first (a
    # failed decode of the whole file copies the whole file into its exception).
    first = _NON_ASCII.search(data).start()
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data[first: first + 4096], final=False)
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return 0
    return len(_JAPANESE_RE.findall(text))


def _check_encoding(path: Path, data: bytes) -> None:
    if data.startswith(b"\xef\xbb\xbf"):
        raise ExtractError(
            f"{path}: line 1: starts with a UTF-8 byte order mark, but the layout declares "
            "cp932 (CP932 files have no BOM); re-export the file as CP932"
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractError(f"{path}: line 1: starts with a UTF-16 byte order mark; layout declares cp932")
    japanese = utf8_japanese_characters(data)
    if japanese < _UTF8_MIN_JAPANESE:
        return
    first = next(i for i, b in enumerate(data) if b >= 0x80)
    line = data.count(b"\n", 0, first) + 1
    raise ExtractError(
        f"{path}: line {line}: the file is valid UTF-8 with non-ASCII text ({japanese} Japanese "
        "characters as UTF-8), but the layout declares cp932; re-export it as CP932 or fix the "
        "layout's encoding / 文字コードがUTF-8です（CP932で出力し直してください）"
    )


class _Quarantine:
    def __init__(self, system: str, table: str, file_name: str):
        self.system, self.table, self.file_name = system, table, file_name
        self.rows: list[dict] = []

    def add(self, record_no: int, offset: int, code: str, raw: bytes, field_name=None, detail=None):
        self.rows.append(
            {
                "system": self.system,
                "table_name": self.table,
                "file_name": self.file_name,
                "record_no": int(record_no),
                "byte_offset": int(offset),
                "reason_code": code,
                "reason": REASONS[code],
                "field_name": field_name,
                "detail": detail,
                "raw_hex": raw.hex().upper(),
            }
        )

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=QUARANTINE_SCHEMA)


def _parse_csv_line(line: str, n_fields: int) -> tuple[list[str] | None, str | None, str | None]:
    """(fields, error_code, detail) for one physical line: the slow, exact path."""
    if '"' not in line:
        parts = line.split(",")
    else:
        if line.count('"') % 2:
            return None, "csv_syntax", "unterminated quote"
        try:
            parts = next(csv.reader([line], strict=True))
        except (csv.Error, StopIteration) as exc:
            return None, "csv_syntax", str(exc)
    if len(parts) != n_fields:
        return None, "field_count", f"expected {n_fields} fields, found {len(parts)}"
    return parts, None, None


# --------------------------------------------------------------------------- splitting CSV lines

def _csv_columns(texts: list[str], lf: LayoutFile, skip: set[int]) -> tuple[pl.DataFrame, list[tuple[int, str, str | None]]]:
    """Split decoded CSV lines into a frame (with ``_i``, the line index) and a list of
    (line index, reason code, detail) for lines that cannot be records (:func:`_csv_split` on a list)."""
    return _csv_split(pl.Series("t", texts, dtype=pl.Utf8), lf, skip)


def _csv_split(lines: pl.Series, lf: LayoutFile, skip) -> tuple[pl.DataFrame, list[tuple[int, str, str | None]]]:
    """Split decoded CSV lines (``skip``: indices of lines already quarantined) into a frame with
    ``_i``, the line index, and a list of (line index, reason code, detail) for lines that cannot be
    records.

    The common shapes, unquoted or quoted on every field with no quote inside, are split
    by polars; any other line takes the exact csv-module path."""
    names = [f.name for f in lf.fields]
    n = len(names)
    df = pl.DataFrame({"t": lines.rename("t")}).with_row_index("_i")
    if len(skip):
        df = df.filter(~pl.col("_i").is_in(pl.Series(sorted(skip), dtype=pl.UInt32)))
    t = pl.col("t")
    header = ",".join(f.label for f in lf.fields)
    quoted_header = ",".join(f'"{f.label}"' for f in lf.fields)
    # quoted: every field in quotes, none holding a quote, exactly n of them. Counting quotes and
    # '","' is not enough: in '"a"b","c","' (a stray quote, the last field a lone quote) both counts
    # fit, and splitting left the last field null (quarantined as 項目形式不正, not CSV構文誤り).
    df = df.with_columns(
        empty=t.str.len_bytes() == 0,
        plain=~t.str.contains('"', literal=True) & (t.str.count_matches(",", literal=True) == n - 1),
        quoted=t.str.contains(f'^"[^"]*"(?:,"[^"]*"){{{n - 1}}}$'),
        repeated=(t == header) | (t == quoted_header) if lf.header else pl.lit(False),
    )
    problems: list[tuple[int, str, str | None]] = [
        (int(i), "empty_record", None) for i in df.filter(pl.col("empty"))["_i"].to_list()]
    problems += [(int(i), "header_repeated", None) for i in df.filter(pl.col("repeated"))["_i"].to_list()]
    ok = ~pl.col("empty") & ~pl.col("repeated")
    plain = df.filter(ok & pl.col("plain"))
    quoted = df.filter(ok & ~pl.col("plain") & pl.col("quoted"))
    parts = []
    if plain.height:
        parts.append(plain.select("_i", t.str.split_exact(",", n - 1).struct.rename_fields(names).alias("s")).unnest("s"))
    if quoted.height:
        parts.append(quoted.select("_i", t.str.slice(1, t.str.len_chars() - 2).str.split_exact('","', n - 1)
                                   .struct.rename_fields(names).alias("s")).unnest("s"))
    slow = df.filter(ok & ~pl.col("plain") & ~pl.col("quoted"))
    slow_rows = []
    for i, line in slow.select("_i", "t").iter_rows():
        fields, err, detail = _parse_csv_line(line, n)
        if err:
            problems.append((int(i), err, detail))
        else:
            slow_rows.append([i, *fields])
    if slow_rows:
        parts.append(pl.DataFrame(slow_rows, schema={"_i": pl.UInt32, **{c: pl.Utf8 for c in names}}, orient="row"))
    if not parts:
        return pl.DataFrame(schema={"_i": pl.UInt32, **{c: pl.Utf8 for c in names}}), problems
    if len(parts) == 1:               # one shape (the usual file): a filter keeps the lines' order
        return parts[0], problems
    return pl.concat(parts).sort("_i"), problems


# --------------------------------------------------------------------------- main entry

_PUA_PATTERN = r"[\x{E000}-\x{E757}]"


def read_export_bytes(path: Path, where: str) -> bytes:
    """The bytes of an export file, or a refusal saying in Japanese and English what is in its place.

    A directory, an unreadable file or a FIFO where the layout expects a file used to raise
    IsADirectoryError / PermissionError out of the system's step (and with it the shared dbt
    step), or block extraction for ever (a FIFO opened for reading waits for a writer). The kind
    of thing is looked at first, without opening it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ExtractError(f"{path}: file not found (layout {where}) / ファイルがありません") from None
    except OSError as exc:
        raise ExtractError(f"{path}: cannot be looked at ({_errno(exc)}) / ファイルを確認できません") from None
    if stat.S_ISDIR(st.st_mode):
        raise ExtractError(f"{path}: is a directory, not a file (layout {where}) / ファイルの代わりにフォルダがあります")
    if not stat.S_ISREG(st.st_mode):
        kind = "FIFO" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) else "device"
        raise ExtractError(f"{path}: is a {kind}, not a regular file (layout {where}); not opened / "
                           "通常のファイルではありません（開かずに受付不可）")
    try:
        return path.read_bytes()
    except PermissionError:
        raise ExtractError(f"{path}: permission denied (layout {where}) / 読み取りの権限がありません") from None
    except OSError as exc:
        raise ExtractError(f"{path}: cannot be read ({_errno(exc)}) / ファイルを読めません") from None


def _errno(exc: OSError) -> str:
    """The error's name (ENOSPC, EIO …), never its text, which can quote a path the layout did not name."""
    return errno.errorcode.get(exc.errno, "OSError") if exc.errno else type(exc).__name__


def refused_extract(path: Path, layout: Layout, lf: LayoutFile, reason: str) -> FileExtract:
    """The stand-in for a file refused as a whole: empty tables of the layout's shape, the reason.

    The system's step still succeeds, so the one dbt build of all systems goes on; the refusal is
    a failed ``file_accepted`` check on the raw table and fails the system's gate (移行処理の完了),
    and only that system's (DESIGN principle 3).

    Its records are counted from its bytes by :func:`count_records` (lines; a CSV's first line is
    its header; a UTF-16 file on its decoded text) and reported as refused, so conservation reads
    file = raw + quarantined + refused; a file with no bytes to read (missing, a directory, a FIFO,
    unreadable) has 0 records, and its refusal says why.
    """
    try:
        data = read_export_bytes(path, f"{layout.system}/{lf.table}")
    except ExtractError:          # missing, a directory, a FIFO, unreadable: there are no bytes to hash
        data = None
    records = count_records(data, lf.format == "csv" and lf.header) if data else 0
    crlf = data.count(b"\r\n") if data else 0
    return FileExtract(
        system=layout.system, table=lf.table, file_name=lf.file, frame=pl.DataFrame(schema=raw_schema(lf)),
        quarantine=_Quarantine(layout.system, lf.table, lf.file).frame(),
        gaiji_usage=pl.DataFrame(schema=GAIJI_USAGE_SCHEMA), records_in_file=records,
        file_bytes=len(data) if data is not None else 0,
        sha256=hashlib.sha256(data).hexdigest() if data is not None else "",
        records_counted=records, eof_marker=bool(data) and data.endswith(b"\x1a"),
        line_endings={"crlf": crlf, "lf": data.count(b"\n") - crlf if data else 0},
        refused=reason, refused_records=records)


# Records are decoded and split a chunk of about this many bytes at a time: the codec, numpy and
# polars work on big buffers, and what a chunk needs on the side (its text, UTF-8 and masks) stays
# a few times this, however big the file.
CHUNK_BYTES = 16 << 20


def _chunks(starts: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Record index ranges [a, b) whose bytes (from a's start to b's start) are about ``limit``."""
    n = len(starts)
    if n == 0:
        return []
    bounds = [0]
    while bounds[-1] < n:
        a = bounds[-1]
        b = int(np.searchsorted(starts, starts[a] + limit, side="left"))
        bounds.append(min(max(b, a + 1), n))
    return list(zip(bounds[:-1], bounds[1:]))


@dataclass
class _File:
    """One file being read: its bytes, its records' line bounds and numbers, and what is found."""

    path: Path
    layout: Layout
    lf: LayoutFile
    data: bytes
    u8: np.ndarray
    starts: np.ndarray         # per record: byte offset of its line
    ends: np.ndarray           # per record: end of its content (line end excluded)
    record_nos: np.ndarray
    q: _Quarantine
    usage: dict = field(default_factory=dict)

    def line(self, k: int) -> bytes:
        return self.data[int(self.starts[k]): int(self.ends[k])]

    def add(self, k: int, code: str, field_name=None, detail=None) -> None:
        self.q.add(self.record_nos[k], self.starts[k], code, self.line(k), field_name, detail)


def _fixed_chunk(f: _File, a: int, b: int) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Records a..b of a fixed-width file: (frame of its raw rows with ``_k``, the record index;
    per field, the records whose value may hold a 外字). Records of the wrong length or with bytes
    that are not CP932 are quarantined here."""
    lf = f.lf
    width = lf.record_length
    lengths = f.ends[a:b] - f.starts[a:b]
    good = lengths == width
    for i in np.flatnonzero(~good).tolist():
        f.add(a + i, "empty_record" if lengths[i] == 0 else "record_length", None,
              f"expected {width} bytes, found {int(lengths[i])}")
    keep = np.flatnonzero(good) + a
    mat = record_matrix(f.u8, f.starts[keep], width)
    high = (mat >= 0x80).any(axis=0) if len(keep) else np.zeros(width, dtype=np.bool_)
    cols: dict[str, pyarrow.Array] = {}
    broken: dict[int, tuple[str, str]] = {}
    may_pua: dict[str, np.ndarray] = {}
    for fld, (lo, hi) in zip(lf.fields, lf.offsets):
        block = mat[:, lo:hi]
        if not high[lo:hi].any():
            cols[fld.name] = ascii_column(block)
            continue
        d = decode_fixed_column(block)
        if len(d.values) != len(keep):
            raise ExtractError(f"{f.path}: internal error: field {fld.name} decoded to {len(d.values)} values "
                               f"for {len(keep)} records")
        cols[fld.name] = d.values
        if len(d.pua):
            may_pua[fld.name] = keep[d.pua]
        for j in d.bad.tolist():     # the first field of the record (layout order) that is not CP932
            if j not in broken:
                text = escaped(block[j].tobytes())
                broken[j] = (fld.name, f"bytes {undecodable_bytes_hex(text)}")
    for j, (fname, detail) in sorted(broken.items()):
        f.add(int(keep[j]), "undecodable", fname, detail)
    frame = pl.from_arrow(pyarrow.table(cols)) if cols else pl.DataFrame()
    frame = frame.with_columns(pl.Series("_k", keep, dtype=pl.Int64))
    if broken:
        frame = frame.filter(~pl.col("_k").is_in(pl.Series([int(keep[j]) for j in broken], dtype=pl.Int64)))
    return frame, may_pua


def _csv_chunk(f: _File, a: int, b: int) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Records a..b of a CSV file, decoded in one codec call from the first line's start to the
    last line's end: (frame of its raw rows with ``_k``; per field, the records whose value may
    hold a 外字)."""
    names = [x.name for x in f.lf.fields]
    lo = int(f.starts[a])
    hi = int(f.starts[b]) if b < len(f.starts) else len(f.data)
    d = decode_lines(memoryview(f.data)[lo:hi], strip_cr=True)
    if len(d.values) != b - a:
        raise ExtractError(f"{f.path}: internal error: {b - a} lines decoded to {len(d.values)}")
    for i in d.bad.tolist():
        text = escaped(f.line(a + i))
        fields, _, _ = _parse_csv_line(text, len(names))
        fname = next((n_ for n_, v in zip(names, fields or []) if UNDECODABLE_RE.search(v)), None)
        f.add(a + i, "undecodable", fname, f"bytes {undecodable_bytes_hex(text)}")
    frame, problems = _csv_split(pl.from_arrow(d.values), f.lf, d.bad.tolist())
    for i, code, detail in problems:
        f.add(a + i, code, None, detail)
    frame = frame.select((pl.col("_i").cast(pl.Int64) + a).alias("_k"), *names)
    return frame, dict.fromkeys(names, d.pua + a) if len(d.pua) else {}


def _finish(f: _File, frame: pl.DataFrame, may_pua: dict[str, np.ndarray], gaiji: list[GaijiEntry]) -> pl.DataFrame:
    """A chunk's raw rows made final: bookkeeping columns, declared lengths, 外字 counted and
    substituted, the structural checks (rows failing them quarantined)."""
    lf = f.lf
    names = [x.name for x in lf.fields]
    k = frame["_k"].to_numpy()
    if may_pua:      # the rows where a 外字 may be: most rows have none, so the search is on a few
        cand = np.unique(np.concatenate(list(may_pua.values())))
        in_cand = np.isin(k, cand)
    frame = frame.select(names).with_columns(
        pl.Series("_record_no", f.record_nos[k], dtype=pl.Int64),
        pl.Series("_byte_offset", f.starts[k], dtype=pl.Int64),
    )
    # Values longer than the layout declares (CSV only): measured before 外字 are substituted, kept
    # as they are, the row not quarantined; a finding for later, named by field, never by value.
    frame = frame.with_columns(_overlong(frame, lf))

    # Vendor 外字: count every one, substitute those the vendor identified, keep the rest as PUA.
    if may_pua and frame.height:
        pua_cols = []
        some = frame.filter(pl.Series(in_cand))
        for name in may_pua:
            hit = some.filter(pl.col(name).str.contains(_PUA_PATTERN)).select(name, "_record_no")
            if not hit.height:
                continue
            pua_cols.append(name)
            for v, rec in hit.iter_rows():
                found = PUA_RE.findall(v)
                for ch in set(found):
                    u = f.usage.setdefault((name, ch), {"occ": 0, "recs": []})
                    u["occ"] += found.count(ch)
                    u["recs"].append(int(rec))
        known = [e for e in gaiji if e.ucs]
        if pua_cols and known:
            frame = frame.with_columns(
                pl.col(pua_cols).str.replace_many([e.pua for e in known], [e.ucs for e in known]))
    return _validate(f, frame)


def _validate(f: _File, frame: pl.DataFrame) -> pl.DataFrame:
    """pandera at the boundary: rows that break the layout's structure go to quarantine.

    The layout's checks are run on the whole frame as one polars expression first (the same
    patterns, by ``str.contains``, as pandera runs them); pandera then validates the rows that
    expression flags, so a clean frame costs one vectorised pass and a flagged row gets pandera's
    own verdict (its failing columns and check), as when pandera read the whole frame."""
    lf = f.lf
    names = [x.name for x in lf.fields]
    if frame.schema != pl.Schema(raw_schema(lf)):
        # a schema-level failure (missing column, wrong type) is a bug, not bad data
        try:
            _pandera_schema(lf).validate(frame.head(0), lazy=True)
            failed = [f"{n_}: {t}" for n_, t in frame.schema.items()][:5]
        except pa.errors.SchemaErrors as exc:
            failed = exc.failure_cases["check"].to_list()[:5]
        raise ExtractError(f"{f.path}: raw frame does not match its layout: {failed}")
    flags = [(~pl.col(x.name).str.contains(_FORMATS[_format_of(x)])).fill_null(True)
             for x in lf.fields if _format_of(x)]
    flags += [pl.col(n_).is_null() for n_ in names if frame[n_].null_count()]
    if not flags or not frame.height:
        return frame
    suspects = frame.select(pl.any_horizontal(flags)).to_series().arg_true()
    if not suspects.len():
        return frame
    sub = frame[suspects]
    try:
        _pandera_schema(lf).validate(sub, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        bad_rows = (
            fc.filter(pl.col("index").is_not_null() & pl.col("column").is_in(names))
            .group_by("index")
            .agg(pl.col("column").unique().sort(), pl.col("check").first())
            .sort("index")
        )
        if bad_rows.height == 0:
            # A schema-level failure (missing column, wrong type) is a bug, not bad data.
            raise ExtractError(f"{f.path}: raw frame does not match its layout: {fc['check'].to_list()[:5]}")
        first_no = int(f.record_nos[0])
        bad_recs = []
        for idx_, cols_, check in bad_rows.iter_rows():
            row = sub.row(idx_, named=True)
            rec = row["_record_no"]
            f.q.add(rec, row["_byte_offset"], "field_format", f.line(int(rec - first_no)), ",".join(cols_),
                    f"{','.join(lf.field(c).label for c in cols_)}: {check}")
            bad_recs.append(rec)
        frame = frame.filter(~pl.col("_record_no").is_in(pl.Series(bad_recs, dtype=pl.Int64)))
    return frame


def _gaiji_usage(layout: Layout, lf: LayoutFile, usage: dict, gaiji: list[GaijiEntry]) -> pl.DataFrame:
    by_pua = {e.pua: e for e in gaiji}
    rows = []
    for (name, ch), u in sorted(usage.items()):
        e = by_pua.get(ch)
        rows.append(
            {
                "system": layout.system,
                "table_name": lf.table,
                "field_name": name,
                "sjis_code": pua_to_sjis(ch),
                "pua": f"U+{ord(ch):04X}",
                "in_vendor_table": e is not None,
                "juki_code": e.juki_code if e else None,
                "koseki_no": e.koseki_no if e else None,
                "substituted_with": e.ucs if e else None,
                "occurrences": u["occ"],
                "records": len(u["recs"]),
                "sample_record_nos": ",".join(str(r) for r in sorted(u["recs"])[:5]),
            }
        )
    return pl.DataFrame(rows, schema=GAIJI_USAGE_SCHEMA)


def _sha256_beside(data: bytes) -> Callable[[], str]:
    """The bytes' SHA-256, hashed on another thread while the file is read (hashlib lets the GIL
    go: about 1 s of the 817,000-resident city's extraction); the returned call waits for it."""
    if len(data) < (4 << 20):
        digest = hashlib.sha256(data).hexdigest()
        return lambda: digest
    out: list[str] = []
    worker = threading.Thread(target=lambda: out.append(hashlib.sha256(data).hexdigest()), daemon=True,
                              name="extract-sha256")
    worker.start()

    def result() -> str:
        worker.join()
        return out[0]
    return result


def extract_file(
    path: Path,
    layout: Layout,
    lf: LayoutFile,
    gaiji: list[GaijiEntry],
    on_chunk: Callable[[pl.DataFrame], None] | None = None,
) -> FileExtract:
    """Read one export file per its layout. Never drops a record silently.

    ``on_chunk``, when given, is called with each chunk of raw rows as soon as it is final, in
    order (the returned frame is these chunks), so that a writer can store them while the next
    chunk is read; a file refused after some chunks (an :class:`ExtractError`) has had them, and
    its writer must drop them."""
    data = read_export_bytes(path, f"{layout.system}/{lf.table}")
    sha = _sha256_beside(data)
    counted = count_records(data, lf.format == "csv" and lf.header)
    size = len(data)
    eof = data.endswith(b"\x1a")
    if eof:
        data = data[:-1]
    _check_encoding(path, data)

    u8 = np.frombuffer(data, dtype=np.uint8)
    lines = find_lines(u8)
    header_lines = 0

    if lf.format == "csv" and lf.header:
        if not len(lines):
            raise ExtractError(f"{path}: line 1: the file is empty but the layout expects a header")
        header_text = data[int(lines.starts[0]): int(lines.ends[0])].decode("cp932", errors="surrogateescape")
        header_fields, _, _ = _parse_csv_line(header_text, len(lf.fields))
        expected = [x.label for x in lf.fields]
        if header_fields != expected:
            got = header_text.split(",")
            # a line 1 that is not the header may be a data record: the found text is shown only
            # when it is a heading this system's layouts know (a renamed or moved column)
            headings = {x.label for y in layout.files for x in y.fields}

            def shown(g: str) -> str:
                g = g.strip(chr(34))
                return repr(g) if g in headings else f"another text ({len(g)} characters, not shown: it may be data)"
            diff = next(
                (
                    f"field {i + 1}: expected {e!r}, found {shown(g)}"
                    for i, (e, g) in enumerate(zip(expected, got))
                    if e != g.strip('"')
                ),
                f"expected {len(expected)} fields, found {len(got)}",
            )
            raise ExtractError(f"{path}: line 1: header does not match the layout ({diff})")
        header_lines = 1

    starts, ends = lines.starts[header_lines:], lines.ends[header_lines:]
    f = _File(path, layout, lf, data, u8, starts, ends,
              np.arange(header_lines + 1, header_lines + 1 + len(starts), dtype=np.int64),
              _Quarantine(layout.system, lf.table, lf.file))
    read_chunk = _fixed_chunk if lf.format == "fixed" else _csv_chunk
    frames = []
    for a, b in _chunks(starts, CHUNK_BYTES):
        part, may_pua = read_chunk(f, a, b)
        frames.append(_finish(f, part, may_pua, gaiji))
        if on_chunk is not None:
            on_chunk(frames[-1])
    frame = pl.concat(frames, rechunk=False) if frames else pl.DataFrame(schema=raw_schema(lf))

    result = FileExtract(
        system=layout.system,
        table=lf.table,
        file_name=lf.file,
        frame=frame,
        quarantine=f.q.frame().sort("record_no"),
        gaiji_usage=_gaiji_usage(layout, lf, f.usage, gaiji),
        records_in_file=len(starts),
        file_bytes=size,
        sha256=sha(),
        header_lines=header_lines,
        records_counted=counted,
        eof_marker=eof,
        line_endings={"crlf": lines.crlf, "lf": lines.lf},
    )
    if result.frame.height + result.quarantine.height != result.records_in_file:
        raise ExtractError(
            f"{path}: internal error: {result.records_in_file} records but "
            f"{result.frame.height} raw + {result.quarantine.height} quarantined"
        )
    return result
