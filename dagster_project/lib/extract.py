"""Lossless extraction of one legacy export file into a raw frame plus quarantine.

``raw`` means: bytes decoded, fields split, nothing interpreted (DESIGN.md). Every record
of the file ends in exactly one place: a raw row (with file, record number and byte offset)
or a quarantine row with a reason and the record's bytes in hex. Problems that concern the
whole file (missing, UTF-8 where CP932 is declared, a header that is not the layout's) stop
the system's extraction with an :class:`ExtractError` naming the file and line, because
quarantining every row of a wrong file would only bury the real cause.

The hot path is vectorised: a file is split once, each fixed-width column is cut out of a
numpy byte matrix and decoded in one codec call, and only the rare records that are broken
or carry 外字 are looked at one by one.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandera.polars as pa
import polars as pl

from .config import GaijiEntry, Layout, LayoutFile
from .textcodec import PUA_RE, SEP, UNDECODABLE_RE, pua_to_sjis, undecodable_bytes_hex

META_COLUMNS = ["_record_no", "_byte_offset"]

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
    eof_marker: bool = False
    line_endings: dict[str, int] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "records_in_file": self.records_in_file,
            "raw_rows": self.frame.height,
            "quarantined": self.quarantine.height,
        }


# --------------------------------------------------------------------------- helpers

def count_records(data: bytes, header: bool) -> int:
    """Records in a file by the simplest possible rule, for the conservation check.

    One record per line; a final line without a newline counts; one trailing DOS
    end-of-file byte (0x1A) is not a record; a header line is not a record. Deliberately
    independent of :func:`extract_file`'s splitting.
    """
    if data.endswith(b"\x1a"):
        data = data[:-1]
    if not data:
        return 0
    n = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return max(n - (1 if header else 0), 0)


def _pandera_schema(lf: LayoutFile) -> pa.DataFrameSchema:
    """The structural contract of a raw frame: every field present as text, numeric fields
    digits (or blank), zoned amounts well formed. Values that are well formed but wrong
    (bad dates, unknown codes, check digits) are not the extract's business: they become
    data gaps later, where the owner can see them."""
    cols: dict[str, pa.Column] = {}
    for f in lf.fields:
        checks = []
        if f.type == "digits":
            checks.append(pa.Check.str_matches(r"^(?:[0-9]+| *)$", name="digits"))
        elif f.type == "amount" and f.zoned:
            checks.append(pa.Check.str_matches(r"^(?:[0-9]*[0-9{}A-R]| *)$", name="zoned"))
        elif f.type == "amount":
            checks.append(pa.Check.str_matches(r"^(?:-?[0-9]+| *)$", name="integer"))
        cols[f.name] = pa.Column(str, checks=checks, nullable=False)
    cols["_record_no"] = pa.Column(pl.Int64, unique=True)
    cols["_byte_offset"] = pa.Column(pl.Int64)
    return pa.DataFrameSchema(cols, strict=True, name=lf.table)


def _split_lines(data: bytes) -> tuple[list[bytes], np.ndarray, dict[str, int]]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    lengths = np.fromiter((len(x) for x in lines), dtype=np.int64, count=len(lines))
    offsets = np.zeros(len(lines), dtype=np.int64)
    if len(lines) > 1:
        offsets[1:] = np.cumsum(lengths[:-1] + 1)
    crlf = sum(1 for x in lines if x.endswith(b"\r"))
    lf = len(lines) - crlf
    lines = [x[:-1] if x.endswith(b"\r") else x for x in lines] if crlf else lines
    return lines, offsets, {"crlf": crlf, "lf": lf}


def _check_encoding(path: Path, data: bytes) -> None:
    if data.startswith(b"\xef\xbb\xbf"):
        raise ExtractError(
            f"{path}: line 1: starts with a UTF-8 byte order mark, but the layout declares "
            "cp932 (CP932 files have no BOM); re-export the file as CP932"
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractError(f"{path}: line 1: starts with a UTF-16 byte order mark; layout declares cp932")
    if data.isascii():
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return
    first = next(i for i, b in enumerate(data) if b >= 0x80)
    line = data.count(b"\n", 0, first) + 1
    raise ExtractError(
        f"{path}: line {line}: the file is valid UTF-8 with non-ASCII text, but the layout "
        "declares cp932; re-export it as CP932 or fix the layout's encoding"
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


# --------------------------------------------------------------------------- decoding

def _decode_column(chunks: list[bytes]) -> list[str]:
    """Decode many CP932 byte strings with one codec call.

    0x0A cannot occur inside a CP932 character (it is neither a lead nor a trail byte), so
    joining with it and splitting after decoding gives the values back one for one; a
    broken value decodes with surrogate escapes, which the caller detects."""
    if not chunks:
        return []
    out = b"\n".join(chunks).decode("cp932", errors="surrogateescape").split(SEP)
    if len(out) != len(chunks):  # a value held a raw newline byte: go one by one
        out = [c.decode("cp932", errors="surrogateescape") for c in chunks]
    return out


def _fixed_columns(lf: LayoutFile, good: list[bytes]) -> dict[str, list[str]]:
    n = len(good)
    if n == 0:
        return {f.name: [] for f in lf.fields}
    mat = np.frombuffer(b"".join(good), dtype=np.uint8).reshape(n, lf.record_length)
    cols = {}
    for f, (a, b) in zip(lf.fields, lf.offsets):
        width = b - a
        block = np.empty((n, width + 1), dtype=np.uint8)
        block[:, :width] = mat[:, a:b]
        block[:, width] = 0x0A
        text = block.tobytes()[:-1].decode("cp932", errors="surrogateescape")
        values = text.split(SEP)
        if len(values) != n:  # a 0x0A byte inside the field
            values = [bytes(mat[i, a:b]).decode("cp932", errors="surrogateescape") for i in range(n)]
        cols[f.name] = values
    return cols


def _parse_csv_line(line: str, n_fields: int) -> tuple[list[str] | None, str | None, str | None]:
    """(fields, error_code, detail) for one physical line."""
    if '"' not in line:
        parts = line.split(",")
    else:
        try:
            parts = next(csv.reader([line], strict=True))
        except (csv.Error, StopIteration) as exc:
            return None, "csv_syntax", str(exc)
        if line.count('"') % 2:
            return None, "csv_syntax", "unterminated quote"
    if len(parts) != n_fields:
        return None, "field_count", f"expected {n_fields} fields, found {len(parts)}"
    return parts, None, None


# --------------------------------------------------------------------------- main entry

def extract_file(
    path: Path,
    layout: Layout,
    lf: LayoutFile,
    gaiji: list[GaijiEntry],
) -> FileExtract:
    """Read one export file per its layout. Never drops a record silently."""
    if not path.exists():
        raise ExtractError(f"{path}: file not found (layout {layout.system}/{lf.table})")
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    size = len(data)
    eof = data.endswith(b"\x1a")
    if eof:
        data = data[:-1]
    _check_encoding(path, data)

    lines, offsets, endings = _split_lines(data)
    q = _Quarantine(layout.system, lf.table, lf.file)
    names = [f.name for f in lf.fields]
    header_lines = 0

    if lf.format == "csv" and lf.header:
        if not lines:
            raise ExtractError(f"{path}: line 1: the file is empty but the layout expects a header")
        header_text = lines[0].decode("cp932", errors="surrogateescape")
        header_fields, _, _ = _parse_csv_line(header_text, len(lf.fields))
        expected = [f.label for f in lf.fields]
        if header_fields != expected:
            got = header_text.split(",")
            diff = next(
                (
                    f"field {i + 1}: expected {e!r}, found {g!r}"
                    for i, (e, g) in enumerate(zip(expected, got))
                    if e != g.strip('"')
                ),
                f"expected {len(expected)} fields, found {len(got)}",
            )
            raise ExtractError(f"{path}: line 1: header does not match the layout ({diff})")
        header_lines = 1
        lines, offsets = lines[1:], offsets[1:]

    first_line_no = header_lines + 1
    record_nos = np.arange(first_line_no, first_line_no + len(lines), dtype=np.int64)

    keep_idx: list[int] = []
    columns: dict[str, list[str]]
    if lf.format == "fixed":
        lengths = np.fromiter((len(x) for x in lines), dtype=np.int64, count=len(lines))
        bad = np.nonzero(lengths != lf.record_length)[0]
        bad_set = set(bad.tolist())
        for i in bad:
            code = "empty_record" if lengths[i] == 0 else "record_length"
            q.add(record_nos[i], offsets[i], code, lines[i], None,
                  f"expected {lf.record_length} bytes, found {int(lengths[i])}")
        keep_idx = [i for i in range(len(lines)) if i not in bad_set] if bad_set else list(range(len(lines)))
        good = [lines[i] for i in keep_idx] if bad_set else lines
        columns = _fixed_columns(lf, good)
    else:
        texts = _decode_column(lines)
        header_label_line = ",".join(f.label for f in lf.fields)
        rows: list[list[str]] = []
        for i, t in enumerate(texts):
            if not t:
                q.add(record_nos[i], offsets[i], "empty_record", lines[i])
                continue
            parts, err, detail = _parse_csv_line(t, len(lf.fields))
            if err:
                q.add(record_nos[i], offsets[i], err, lines[i], None, detail)
                continue
            if lf.header and [p.strip() for p in parts] == header_label_line.split(","):
                q.add(record_nos[i], offsets[i], "header_repeated", lines[i])
                continue
            keep_idx.append(i)
            rows.append(parts)
        columns = {n: list(col) for n, col in zip(names, zip(*rows))} if rows else {n: [] for n in names}

    # Undecodable bytes: rare, so find them by one regex search per column first.
    drop: dict[int, tuple[str, str]] = {}
    for name in names:
        col = columns[name]
        if UNDECODABLE_RE.search(SEP.join(col)):
            for j, v in enumerate(col):
                if j not in drop and UNDECODABLE_RE.search(v):
                    drop[j] = (name, f"bytes {undecodable_bytes_hex(v)}")

    # Vendor 外字: substitute what the vendor identified, keep the rest as PUA, count all.
    by_pua = {e.pua: e for e in gaiji}
    table = {ord(e.pua): e.ucs for e in gaiji if e.ucs}
    usage: dict[tuple[str, str], dict] = {}
    for name in names:
        col = columns[name]
        if not PUA_RE.search(SEP.join(col)):
            continue
        for j, v in enumerate(col):
            if j in drop:
                continue
            found = PUA_RE.findall(v)
            if not found:
                continue
            for ch in set(found):
                u = usage.setdefault((name, ch), {"occ": 0, "recs": []})
                u["occ"] += found.count(ch)
                u["recs"].append(int(record_nos[keep_idx[j]]))
            if table:
                col[j] = v.translate(table)

    for j, (fname, detail) in sorted(drop.items()):
        i = keep_idx[j]
        q.add(record_nos[i], offsets[i], "undecodable", lines[i], fname, detail)

    keep = [j for j in range(len(keep_idx)) if j not in drop]
    sel = np.array([keep_idx[j] for j in keep], dtype=np.int64)
    frame = pl.DataFrame(
        {n: ([columns[n][j] for j in keep] if drop else columns[n]) for n in names},
        schema={n: pl.Utf8 for n in names},
    ).with_columns(
        pl.Series("_record_no", record_nos[sel] if len(sel) else [], dtype=pl.Int64),
        pl.Series("_byte_offset", offsets[sel] if len(sel) else [], dtype=pl.Int64),
    )

    # pandera at the boundary: rows that break the layout's structure go to quarantine.
    try:
        _pandera_schema(lf).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        bad_rows = (
            fc.filter(pl.col("index").is_not_null() & pl.col("column").is_in(names))
            .group_by("index")
            .agg(pl.col("column").unique().sort(), pl.col("check").first())
        )
        if bad_rows.height == 0:
            # A schema-level failure (missing column, wrong type) is a bug, not bad data.
            raise ExtractError(f"{path}: raw frame does not match its layout: {fc['check'].to_list()[:5]}")
        bad_index = set()
        for idx, cols_, check in bad_rows.iter_rows():
            row = frame.row(idx, named=True)
            rec = row["_record_no"]
            li = int(rec - first_line_no)
            q.add(rec, row["_byte_offset"], "field_format", lines[li], ",".join(cols_),
                  f"{','.join(lf.field(c).label for c in cols_)}: {check}")
            bad_index.add(idx)
        frame = frame.with_row_index("__i").filter(~pl.col("__i").is_in(list(bad_index))).drop("__i")

    usage_rows = []
    for (name, ch), u in sorted(usage.items()):
        e = by_pua.get(ch)
        usage_rows.append(
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

    result = FileExtract(
        system=layout.system,
        table=lf.table,
        file_name=lf.file,
        frame=frame,
        quarantine=q.frame().sort("record_no"),
        gaiji_usage=pl.DataFrame(usage_rows, schema=GAIJI_USAGE_SCHEMA),
        records_in_file=len(lines),
        file_bytes=size,
        sha256=sha,
        header_lines=header_lines,
        eof_marker=eof,
        line_endings=endings,
    )
    if result.frame.height + result.quarantine.height != result.records_in_file:
        raise ExtractError(
            f"{path}: internal error: {result.records_in_file} records but "
            f"{result.frame.height} raw + {result.quarantine.height} quarantined"
        )
    return result
