"""The extractor's vectorised pieces: lines found in the bytes by numpy, text decoded a chunk at a
time by Python's cp932 codec, and values handed to polars as Arrow buffers, never one Python object
per value.

How the values get to polars: the decoded text is encoded to UTF-8 once (C), the line ends
(0x0A) are found by numpy, removed with one boolean mask, and the value lengths between them make
the offsets of an Arrow string array. A byte 0x0A is only ever a line end, in CP932 (it is neither a
lead nor a trail byte) as in UTF-8, and the codec reports a byte it cannot read alone (a lead byte
before 0x0A is one error, the line end is kept), so lines and values stay one for one through
decoding.

Bytes that are not CP932 are found without a pass of Python per value: the codec's error handler
(``kikan.note``) notes where each one is and stands U+FFFD in for it (one Python call per such byte,
and they are rare); the single bytes Python's cp932 maps although CP932 text never uses them (0x80,
0xA0, 0xFD–0xFF → U+0080, U+F8F0–U+F8F3) are looked for in the text with ``str.find``. A line
holding either is quarantined, its text read again from its own bytes with ``surrogateescape``
(:func:`escaped`), as the extractor has always shown such bytes.
"""

from __future__ import annotations

import codecs
import threading
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

NL, CR = 0x0A, 0x0D
# U+0080 and U+F8F0–U+F8F3: what Python's cp932 makes of single bytes no CP932 text holds (0x80,
# 0xA0, 0xFD–0xFF), the characters textcodec.UNDECODABLE_RE looks for besides surrogate escapes
_NOT_CP932_CHARS = "\x80\uf8f0\uf8f1\uf8f2\uf8f3"
# U+E000–U+EFFF, the vendor 外字 area (U+E000–U+E757) included, all start with this UTF-8 byte
_PUA_LEAD_UTF8 = b"\xee"


@dataclass(frozen=True)
class Lines:
    """Physical lines of a buffer: where each starts, where its content ends (the line end, LF or
    CR LF, not included), and the count of each kind of line end."""

    starts: np.ndarray
    ends: np.ndarray
    crlf: int
    lf: int

    def __len__(self) -> int:
        return len(self.starts)


def find_lines(u8: np.ndarray) -> Lines:
    """Lines as the extractor has always cut them: a line ends at 0x0A, with a 0x0D just before it
    not part of its content; a last line without 0x0A is a line; nothing after a final 0x0A is."""
    size = len(u8)
    nl = np.flatnonzero(u8 == NL)
    if size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Lines(empty, empty, 0, 0)
    n = len(nl) + (1 if u8[-1] != NL else 0)
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[: n - 1] + 1
    ends = np.empty(n, dtype=np.int64)
    ends[: len(nl)] = nl
    if n > len(nl):
        ends[-1] = size
    crlf = 0
    if len(nl):
        # the byte before each LF; for an LF at 0 that is the LF itself (not CR)
        cr = u8[np.maximum(nl - 1, 0)] == CR
        ends[: len(nl)] -= cr
        crlf = int(np.count_nonzero(cr))
    return Lines(starts, ends, crlf, len(nl) - crlf)


def record_matrix(u8: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The records of ``width`` bytes starting at ``starts``, as an (n, width) byte matrix: a view
    when the records are evenly spaced (the usual file), else one masked copy."""
    n = len(starts)
    if n == 0 or width == 0:
        return np.zeros((n, width), dtype=np.uint8)
    if n == 1:
        return u8[starts[0]: starts[0] + width].reshape(1, width)
    step = np.diff(starts)
    if step[0] >= width and np.all(step == step[0]):
        return np.lib.stride_tricks.as_strided(u8[starts[0]:], shape=(n, width), strides=(int(step[0]), 1),
                                               writeable=False)
    # the bytes from the first record's start to the last one's end, masked to the records' own:
    # records are at least a line end apart, so start + width never meets another record's start
    lo, hi = int(starts[0]), int(starts[-1]) + width
    rel = starts - lo
    edge = np.zeros(hi - lo + 1, dtype=np.int8)
    edge[rel] = 1
    edge[rel + width] = -1
    keep = np.cumsum(edge[:-1], dtype=np.int8).view(np.bool_)
    return u8[lo:hi][keep].reshape(n, width)


def ascii_column(block: np.ndarray) -> pa.Array:
    """An (n, width) block of ASCII bytes as an Arrow string array: ASCII is UTF-8, no decoding."""
    n, width = block.shape
    data = np.ascontiguousarray(block).reshape(-1)
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


@dataclass
class Decoded:
    """Lines of CP932 text, decoded: the values as Arrow strings; the lines holding bytes that are
    not CP932 (their values in the array are not the text, U+FFFD stands for each such byte: they
    are to be quarantined, their text read again from their bytes by :func:`escaped`); the lines
    that may hold a vendor 外字 (a character of U+E000–U+EFFF)."""

    values: pa.Array
    bad: np.ndarray
    pua: np.ndarray


# The codec's error handler for this module: notes where each byte that is not CP932 is (on the
# decoding thread) and stands U+FFFD in for it, so the text stays valid for UTF-8 and the error
# costs one Python call. The C codec reports such a byte alone, never with a line end after it.
_ERRORS = threading.local()


def _note_error(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _ERRORS.at.append(exc.start)
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("kikan.note", _note_error)


def escaped(raw: bytes) -> str:
    """One value's text as the extractor shows what is not CP932: surrogate escapes
    (:func:`dagster_project.core.textcodec.undecodable_bytes_hex` reads them back to bytes)."""
    return raw.decode("cp932", errors="surrogateescape")


def decode_lines(buf, strip_cr: bool) -> Decoded:
    """Decode a buffer of CP932 lines in one codec call; the values are the lines without their
    line ends (LF, or CR LF when ``strip_cr``; every line but perhaps the last ends in LF)."""
    _ERRORS.at = []
    try:
        text = str(buf, "cp932", "kikan.note")
    finally:
        errors, _ERRORS.at = _ERRORS.at, []
    mapped = _lines_holding(text, _NOT_CP932_CHARS)
    utf8 = text.encode("utf-8")
    del text
    u8 = np.frombuffer(utf8, dtype=np.uint8)
    lines = find_lines(u8)
    if strip_cr:
        cut = np.ones(len(u8), dtype=np.bool_)
        cut[lines.starts[1:] - 1] = False                        # every LF but a last line's
        cr = lines.ends[: len(lines) - 1] < lines.starts[1:] - 1  # lines whose end is CR LF
        cut[lines.ends[: len(lines) - 1][cr]] = False
        if len(lines) and lines.ends[-1] < len(u8):               # the last line's own LF (and CR)
            cut[lines.ends[-1]:] = False
        data = u8[cut]
    else:
        lines = Lines(lines.starts, lines.starts + _content_len(u8, lines), 0, 0)
        data = u8[u8 != NL]
    lengths = lines.ends - lines.starts
    offsets = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = pa.LargeStringArray.from_buffers(len(lines), pa.py_buffer(offsets), pa.py_buffer(data))

    bad = []
    if errors:              # byte positions in the buffer -> lines, by the buffer's own line ends
        raw_nl = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == NL)
        bad.append(np.searchsorted(raw_nl, np.asarray(errors, dtype=np.int64), side="left"))
    if mapped:
        bad.append(np.asarray(mapped, dtype=np.int64))
    bad_lines = np.unique(np.concatenate(bad)) if bad else np.zeros(0, dtype=np.int64)
    pua = np.zeros(0, dtype=np.int64)
    if _PUA_LEAD_UTF8 in utf8:
        at = np.flatnonzero(u8 == _PUA_LEAD_UTF8[0])
        pua = np.unique(np.searchsorted(lines.starts, at, side="right") - 1)
    return Decoded(values, bad_lines, pua)


def _lines_holding(text: str, chars: str) -> list[int]:
    """Indices of the lines of ``text`` holding any of ``chars`` (rare: one fast search per
    character, and the lines counted once from the start to the last one found)."""
    found = []
    for ch in chars:
        i = text.find(ch)
        while i >= 0:
            found.append(i)
            i = text.find(ch, i + 1)
    lines, line, pos = [], 0, 0
    for at in sorted(found):
        line += text.count("\n", pos, at)
        pos = at
        lines.append(line)
    return lines


def _content_len(u8: np.ndarray, lines: Lines) -> np.ndarray:
    """Line lengths without the LF only (a CR before it is content): fixed-width values."""
    ends = lines.starts[1:] - 1
    out = np.empty(len(lines), dtype=np.int64)
    out[:-1] = ends - lines.starts[:-1]
    out[-1:] = (len(u8) - lines.starts[-1:]) - (1 if len(u8) and u8[-1] == NL else 0)
    return out


def decode_fixed_column(block: np.ndarray) -> Decoded:
    """An (n, width) block of CP932 field bytes decoded in one codec call (an LF after each value;
    a record holds no LF, so the values come back one for one)."""
    n, width = block.shape
    sep = np.empty((n, width + 1), dtype=np.uint8)
    sep[:, :width] = block
    sep[:, width] = NL
    return decode_lines(memoryview(sep.reshape(-1)), strip_cr=False)
