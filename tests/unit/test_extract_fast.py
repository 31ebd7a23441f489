"""The vectorised extractor: lines found by numpy as the line rule says, values decoded a chunk at a
time with every byte that is not CP932 found, chunk boundaries that change nothing, the polars
pass before pandera that flags exactly pandera's rows, and the pipelined writer (a reading thread,
rows written as they come, one transaction)."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dagster_project.extract import reader as extract
from dagster_project.extract import vector
from dagster_project.extract.reader import GAIJI_USAGE_SCHEMA, QUARANTINE_SCHEMA, ExtractError, FileExtract, RawChunk, extract_file
from tests.fuzz import harness


def _u8(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


# --- lines --------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"", b"\n", b"a", b"a\n", b"a\r\n", b"\r\n", b"a\r", b"ab\r\r\ncd\r", b"\n\nx", b"a\nb\r\nc",
    b"a\r\n\r\n\nb\n", b"\ra\n\r", b"x\ry\r\nz",
])
def test_lines_are_the_harness_lines(data):
    """find_lines against the fuzz harness's own line rule (a loop over the bytes)."""
    lines = vector.find_lines(_u8(data))
    want = harness.lines_of(data) if data else []
    got = [(int(s), data[s:e]) for s, e in zip(lines.starts, lines.ends)]
    assert got == want
    assert lines.crlf == data.count(b"\r\n") and lines.lf == data.count(b"\n") - data.count(b"\r\n")


def test_record_matrix_gathers_uneven_records():
    recs = [b"AAAA", b"BBBB", b"CCCC", b"DDDD"]
    data = recs[0] + b"\r\n" + recs[1] + b"\n" + b"xx\n" + recs[2] + b"\r\n" + recs[3]
    lines = vector.find_lines(_u8(data))
    good = [i for i in range(len(lines)) if lines.ends[i] - lines.starts[i] == 4]
    mat = vector.record_matrix(_u8(data), lines.starts[good], 4)
    assert [bytes(r) for r in mat] == recs
    even = vector.record_matrix(_u8(b"AAAA\nBBBB\n"), np.array([0, 5]), 4)     # evenly spaced: a view
    assert [bytes(r) for r in even] == [b"AAAA", b"BBBB"] and not even.flags.writeable


# --- decoding -----------------------------------------------------------------------------------

def test_every_kind_of_byte_that_is_not_cp932_is_found_and_only_those():
    lines = [
        "山田".encode("cp932"),               # 0 clean
        b"\x85\x40",                           # 1 a lead byte with nothing mapped: surrogate escape
        b"ab\x81",                             # 2 a lead byte cut by the line end
        b"\x80",                               # 3 0x80 alone: U+0080
        b"x\xa0",                              # 4 0xA0 alone: U+F8F0
        b"\xfd\xfe\xff",                       # 5 U+F8F1..F8F3
        "ムあ".encode("cp932"),               # 6 0x80 and 0xA0 as trail bytes: fine
        bytes.fromhex("F040") + b"z",          # 7 a vendor 外字 (U+E000): PUA, not bad
        b"",                                   # 8 empty
    ]
    d = vector.decode_lines(b"\r\n".join(lines) + b"\r\n", strip_cr=True)
    assert d.bad.tolist() == [1, 2, 3, 4, 5]
    assert d.pua.tolist() == [7]
    values = pl.from_arrow(d.values).to_list()
    assert len(values) == len(lines)
    # the clean lines, as CP932 says by hand: 山田 (8E 52 93 63), ム (83 80), あ (82 A0), F040 = U+E000
    assert [values[i] for i in (0, 6, 7, 8)] == ["山田", "ムあ", "\ue000z", ""]
    assert vector.escaped(lines[2]) == "ab\udc81"


def test_fixed_columns_keep_a_carriage_return_inside_a_value():
    block = np.frombuffer(b"a\rb" + "山a".encode("cp932"), dtype=np.uint8).reshape(2, 3)
    d = vector.decode_fixed_column(block)
    assert pl.from_arrow(d.values).to_list() == ["a\rb", "山a"] and not len(d.bad)


# --- chunks change nothing ----------------------------------------------------------------------

def _same(a, b):
    assert_frame_equal(a.frame, b.frame)
    assert_frame_equal(a.quarantine, b.quarantine)
    assert_frame_equal(a.gaiji_usage, b.gaiji_usage)
    assert (a.records_in_file, a.line_endings) == (b.records_in_file, b.line_endings)


def _techo(no: int, name: bytes) -> bytes:
    name = name + b" " * (30 - len(name))
    rec = f"{no:08d}".encode() + b"0001234567" + name + b"11143004019999999" + "視覚障害".encode("cp932") + b" " * 7
    assert len(rec) == 80, len(rec)
    return rec


def test_a_fixed_file_read_in_small_chunks_is_read_the_same(tmp_path, project, monkeypatch):
    lay = project.layouts["shogai"]
    lf, gaiji = lay.file("techo"), project.gaiji["shogai"]
    recs = [_techo(i, "山田　太郎".encode("cp932")) for i in range(1, 41)]
    recs[3] = recs[3][:50]                                                    # short
    recs[7] = _techo(8, b"\x85\x40" + "田".encode("cp932"))                   # not CP932
    recs[12] = _techo(13, bytes.fromhex("F540") + "田".encode("cp932"))       # vendor 外字, substituted
    recs[13] = _techo(14, bytes.fromhex("F5A0"))                              # 外字 not in the table
    recs[20] = recs[20][:8] + "０１２３４".encode("cp932") + recs[20][18:]    # full-width digits
    recs[30] = b""                                                            # empty
    data = b"".join(r + (b"\r\n" if i % 3 else b"\n") for i, r in enumerate(recs))
    path = tmp_path / lf.file
    path.write_bytes(data)
    whole = extract_file(path, lay, lf, gaiji)
    # where each record starts, from how the bytes were put together (CR LF after every third but one)
    at = [sum(len(r) + (2 if j % 3 else 1) for j, r in enumerate(recs[:i])) for i in range(len(recs))]
    q = {row["record_no"]: row for row in whole.quarantine.iter_rows(named=True)}
    assert set(q) == {4, 8, 21, 31}
    for no, code, fld, detail in [(4, "record_length", None, "expected 80 bytes, found 50"),
                                  # 85 is a lead byte with nothing mapped: it alone is not CP932, 40 is "@"
                                  (8, "undecodable", "shimei", "bytes 85"),
                                  (21, "field_format", "atena_no", None),
                                  (31, "empty_record", None, "expected 80 bytes, found 0")]:
        row = q[no]
        assert (row["reason_code"], row["field_name"], row["byte_offset"], row["raw_hex"]) == (
            code, fld, at[no - 1], recs[no - 1].hex().upper()), no
        if detail is not None:
            assert row["detail"] == detail, no
    assert q[21]["detail"].startswith("宛名番号: ")
    # the raw rows: every other record, in order, its fields cut at the layout's offsets
    frame = whole.frame
    kept = [n for n in range(1, 41) if n not in q]
    assert frame["_record_no"].to_list() == kept
    assert frame["_byte_offset"].to_list() == [at[n - 1] for n in kept]
    assert frame["_overlong"].null_count() == frame.height
    by_no = {row["_record_no"]: row for row in frame.iter_rows(named=True)}
    assert by_no[1]["techo_no"] == "00000001" and by_no[1]["atena_no"] == "0001234567"
    assert by_no[1]["shimei"] == "山田　太郎" + " " * 20 and by_no[1]["shogai_mei"] == "視覚障害" + " " * 7
    assert (by_no[1]["techo_shubetsu"], by_no[1]["tokyu"], by_no[1]["kofu_date"], by_no[1]["sainintei_date"]) == (
        "1", "11", "4300401", "9999999")
    assert by_no[13]["shimei"] == "𠮷田" + " " * 26               # F540: the vendor's 𠮷, substituted
    assert by_no[14]["shimei"] == "\ue40b" + " " * 28             # F5A0: not in the table, kept as PUA
    usage = whole.gaiji_usage.select("field_name", "sjis_code", "pua", "in_vendor_table", "substituted_with",
                                     "occurrences", "records", "sample_record_nos").rows()
    assert usage == [("shimei", "F540", "U+E3AC", True, "𠮷", 1, 1, "13"),
                     ("shimei", "F5A0", "U+E40B", False, None, 1, 1, "14")]
    assert whole.line_endings == {"crlf": 26, "lf": 14} and whole.records_in_file == 40
    for size in (1, 81, 200, 1000):
        monkeypatch.setattr(extract, "CHUNK_BYTES", size)
        got = []
        _same(extract_file(path, lay, lf, gaiji, on_chunk=got.append), whole)
        assert_frame_equal(pl.concat(got), whole.frame)
        assert len(got) > 1


def test_a_csv_file_read_in_small_chunks_is_read_the_same(tmp_path, project, monkeypatch):
    lay = project.layouts["jumin"]
    lf, gaiji = lay.file("inkan"), project.gaiji["jumin"]
    header = ",".join(f.label for f in lf.fields)
    rows = [f"{i:08d},{i:010d},4300401,0000000,1" for i in range(1, 61)]
    rows[5] = rows[5].replace(",1", "")                         # a field short
    rows[9] = '"' + rows[9]                                     # quote left open
    rows[14] = ""                                               # blank
    rows[19] = header                                           # header repeated
    rows[24] = ",".join(f'"{v}"' for v in rows[24].split(","))  # quoted
    rows[29] = rows[29].replace(",1", ',"1"')                   # partly quoted
    rows[34] = rows[34][:3] + "Ａ" + rows[34][4:]              # full-width letter in digits
    lines = [r.encode("cp932") for r in rows]
    lines[39] = lines[39][:4] + b"\x81"                          # a lead byte at the line's end
    lines[44] = lines[44][:4] + b"\xfd" + lines[44][5:]          # 0xFD
    data = header.encode("cp932") + b"\r\n" + b"\r\n".join(lines) + b"\r\n\x1a"
    path = tmp_path / lf.file
    path.write_bytes(data)
    whole = extract_file(path, lay, lf, gaiji)
    # record n is line n (the header is line 1) and starts after the header and the lines before it
    at = [len(header.encode("cp932")) + 2 + sum(len(x) + 2 for x in lines[:i]) for i in range(len(lines))]
    q = {row["record_no"]: row for row in whole.quarantine.iter_rows(named=True)}
    assert set(q) == {7, 11, 16, 21, 36, 41, 46}
    for no, code, fld in [(7, "field_count", None), (11, "csv_syntax", None), (16, "empty_record", None),
                          (21, "header_repeated", None), (36, "field_format", "inkan_no"),
                          (41, "undecodable", None), (46, "undecodable", "inkan_no")]:
        row = q[no]
        assert (row["reason_code"], row["field_name"], row["byte_offset"], row["raw_hex"]) == (
            code, fld, at[no - 2], lines[no - 2].hex().upper()), no
    assert q[7]["detail"] == "expected 5 fields, found 4" and q[11]["detail"] == "unterminated quote"
    assert q[41]["detail"] == "bytes 81" and q[46]["detail"] == "bytes FD"
    frame = whole.frame
    kept = [n for n in range(2, 62) if n not in q]
    assert frame["_record_no"].to_list() == kept
    assert frame["_byte_offset"].to_list() == [at[n - 2] for n in kept]
    by_no = {row["_record_no"]: row for row in frame.iter_rows(named=True)}
    for n in kept:          # every kept record, the quoted ones included, split into its five values
        i = n - 1
        assert [by_no[n][f.name] for f in lf.fields] == [f"{i:08d}", f"{i:010d}", "4300401", "0000000", "1"], n
    assert (whole.header_lines, whole.eof_marker, whole.records_in_file) == (1, True, 60)
    assert whole.line_endings == {"crlf": 61, "lf": 0} and whole.gaiji_usage.height == 0
    for size in (1, 100, 700):
        monkeypatch.setattr(extract, "CHUNK_BYTES", size)
        got = []
        _same(extract_file(path, lay, lf, gaiji, on_chunk=got.append), whole)
        assert_frame_equal(pl.concat(got), whole.frame)


@pytest.mark.parametrize("name", list(harness.EXTRACT_TARGETS))
def test_the_fuzz_corpus_holds_every_oracle_in_tiny_chunks(name, monkeypatch):
    """Every seed and regression of the fuzz corpus, read 37 bytes at a time: chunk boundaries
    fall inside quarantined, 外字 and header-repeating records, and every oracle still holds."""
    monkeypatch.setattr(extract, "CHUNK_BYTES", 37)
    for path in harness.inputs(name):
        harness.check(name, path.read_bytes())


# --- the structural checks: one polars pass, pandera's verdict --------------------------------

def test_the_polars_pass_flags_pandera_rows_with_pandera_wording(tmp_path, project):
    """A record failing two fields is quarantined once, its fields named in pandera's order
    (sorted) with the check of the first failing field in the layout, exactly as pandera says when
    it validates the whole frame."""
    lay = project.layouts["zeimu"]
    lf, gaiji = lay.file("kojin"), project.gaiji["zeimu"]

    def rec(nendo=b"2025", atena=b"0001234567", shotoku=b"0000012345{"):
        return nendo + atena + shotoku + b"00001234A" + b"000123{" + b"00001234B"
    recs = [rec(), rec(nendo=b"20X5"), rec(atena=b"000123456Z", shotoku=b"00000123#5{"), rec(), rec(nendo=b"    ")]
    path = tmp_path / lf.file
    path.write_bytes(b"".join(r + b"\r\n" for r in recs))
    r = extract_file(path, lay, lf, gaiji)
    q = {row["record_no"]: row for row in r.quarantine.iter_rows(named=True)}
    assert set(q) == {2, 3} and r.frame["_record_no"].to_list() == [1, 4, 5]
    assert q[3]["field_name"] == "atena_no,shotoku"
    # pandera on the whole raw frame, as the extractor used to run it, says the same
    frame = pl.DataFrame({f.name: [x[a:b].decode() for x in recs] for f, (a, b) in zip(lf.fields, lf.offsets)})
    frame = frame.with_columns(pl.Series("_record_no", [1, 2, 3, 4, 5]), pl.Series("_byte_offset", [0] * 5),
                               pl.lit(None, dtype=pl.Utf8).alias("_overlong"))
    import pandera.polars as pa
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        extract._pandera_schema(lf).validate(frame, lazy=True)
    fc = caught.value.failure_cases.filter(pl.col("index") == 2)
    check = fc["check"].to_list()[0]
    labels = f"{lf.field('atena_no').label},{lf.field('shotoku').label}"
    assert q[3]["detail"] == f"{labels}: {check}" == f"{labels}: str_matches('{extract._FORMATS['digits']}')"
    assert q[2]["field_name"] == "nendo"


# --- the pipelined writer -------------------------------------------------------------------------

def _legacy(tmp_path, project, system: str) -> tuple:
    lay = project.layouts[system]
    src = tmp_path / "legacy" / system
    src.mkdir(parents=True)
    return lay, src


def test_the_system_is_written_as_read_and_counted_from_the_warehouse(tmp_path, project, monkeypatch):
    from dagster_project.extract.pipeline import extract_system

    monkeypatch.setattr(extract, "CHUNK_BYTES", 500)      # the frame made of many chunks, one table
    lay, src = _legacy(tmp_path, project, "shogai")
    recs = [_techo(i, "山田".encode("cp932")) for i in range(1, 31)]
    recs[4] = recs[4][:10]
    (src / lay.file("techo").file).write_bytes(b"".join(r + b"\r\n" for r in recs))
    db = tmp_path / "w.duckdb"
    seen = []
    results, counts = extract_system(src, lay, project.gaiji["shogai"], db, on_file=seen.append)
    assert [r.table for r in results] == [f.table for f in lay.files] == [r.table for r in seen]
    (r,) = results
    assert counts == {"techo": (29, 1, 0)}
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = pl.from_arrow(con.sql('select * from raw."shogai__techo"').to_arrow_table())
        assert_frame_equal(stored, r.frame)                        # every chunk, in order, once
        assert con.execute('select record_no from raw."shogai__quarantine"').fetchall() == [(5,)]
    finally:
        con.close()


def _file(frame: pl.DataFrame, refused: str | None = None) -> FileExtract:
    n = 600_000
    return FileExtract(system="jumin", table="t", file_name="T.CSV", frame=frame,
                       quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), gaiji_usage=pl.DataFrame(schema=GAIJI_USAGE_SCHEMA),
                       records_in_file=frame.height, file_bytes=n * 10, sha256="0" * 64, records_counted=n,
                       refused=refused, refused_records=n if refused else 0)


def test_rows_are_written_as_they_come_and_whole_when_the_file_is_refused(tmp_path):
    """600,000 rows in chunks of 70,000: written two row groups at a time (245,760 rows) as they
    come, the rest with the file's extract, in order; the same chunks followed by a refusal leave
    the table empty."""
    from dagster_project.extract.writer import write_system_extract

    frame = pl.DataFrame({"v": [f"{i:07d}" for i in range(600_000)], "_record_no": pl.int_range(1, 600_001, eager=True)})
    chunks = [RawChunk("t", frame.slice(a, 70_000)) for a in range(0, 600_000, 70_000)]
    db = tmp_path / "w.duckdb"
    statements = []
    real_connect = duckdb.connect

    class Spy:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args):
            if 'raw."jumin__t"' in sql and not sql.startswith("select"):
                statements.append(sql.split()[0])
            return self._con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self._con, name)
    import dagster_project.core.duck as duck
    with pytest.MonkeyPatch.context() as monkey:
        monkey.setattr(duck.duckdb, "connect", lambda *a, **k: Spy(real_connect(*a, **k)))
        counts = write_system_extract(db, "jumin", [*chunks, _file(pl.concat([c.frame for c in chunks]))])
    assert counts == {"t": (600_000, 0, 0)}
    assert statements == ["create", "insert", "insert"]       # 245,760 + 245,760 as read, 108,480 at the end
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = pl.from_arrow(con.sql('select * from raw."jumin__t"').to_arrow_table())
    finally:
        con.close()
    assert_frame_equal(stored, frame)
    counts = write_system_extract(db, "jumin", [*chunks, _file(frame.head(0), refused="T.CSV: line 1: refused late")])
    assert counts == {"t": (0, 0, 600_000)}


def test_a_reading_failure_commits_nothing_and_is_raised(tmp_path, project, monkeypatch):
    from dagster_project.extract import pipeline

    lay, src = _legacy(tmp_path, project, "zeimu")
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()                           # the warehouse exists, zeimu has nothing
    real = pipeline.extract_file
    calls = []

    def breaks_on_the_second_file(path, layout, lf, gaiji, on_chunk=None):
        calls.append(lf.table)
        if len(calls) == 2:
            raise RuntimeError("a bug in the reader")
        return real(path, layout, lf, gaiji, on_chunk=on_chunk)
    monkeypatch.setattr(pipeline, "extract_file", breaks_on_the_second_file)
    with pytest.raises(RuntimeError, match="a bug in the reader"):
        pipeline.extract_system(src, lay, project.gaiji["zeimu"], db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from information_schema.tables where table_name like 'zeimu__%'"
                           ).fetchone()[0] == 0
    finally:
        con.close()


def test_a_writing_failure_stops_the_reading_thread(tmp_path, project, monkeypatch):
    import threading

    from dagster_project.extract import pipeline

    lay, src = _legacy(tmp_path, project, "zeimu")
    read = []

    def counted(path, layout, lf, gaiji, on_chunk=None):
        read.append(lf.table)
        raise ExtractError(f"{path}: file not found")
    monkeypatch.setattr(pipeline, "extract_file", counted)

    def fails(path, system, items):
        next(iter(items))
        raise OSError("disk gone")
    monkeypatch.setattr(pipeline, "write_system_extract", fails)
    raised = []

    def run() -> None:
        try:
            pipeline.extract_system(src, lay, project.gaiji["zeimu"], tmp_path / "w.duckdb")
        except OSError as exc:
            raised.append(exc)
    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(timeout=30)      # a reading thread that never stops would hang the call: fail instead
    assert not caller.is_alive(), "extract_system did not return: the reading thread was not stopped"
    assert [str(e) for e in raised] == ["disk gone"]
    assert not [t for t in threading.enumerate() if t.name == "extract-zeimu"]
    assert len(read) < len(lay.files)          # it stopped instead of reading every file
