"""Extraction of hand-made files: each bad shape gives a clear error or quarantine, and the
records in the file always equal raw rows + quarantined rows."""

import pytest

from dagster_project.lib.extract import ExtractError, count_records, extract_file
from dagster_project.lib.textcodec import sjis_to_pua

# --- fixed width: 障害福祉 SHOGAI_TECHO.DAT, 80 bytes a record, CRLF -----------------------


def _pad(b: bytes, n: int) -> bytes:
    assert len(b) <= n
    return b + b" " * (n - len(b))


def techo(no: int, name: bytes = "山田　太郎".encode("cp932"), atena: bytes = b"0001234567") -> bytes:
    rec = (f"{no:08d}".encode() + atena + _pad(name, 30) + b"1" + b"11" + b"4300401" + b"9999999"
           + _pad("視覚障害".encode("cp932"), 15))
    assert len(rec) == 80
    return rec


@pytest.fixture
def shogai(project):
    lay = project.layouts["shogai"]
    return lay, lay.file("techo"), project.gaiji["shogai"]


def run(tmp_path, data: bytes, layout, lf, gaiji, name=None):
    p = tmp_path / (name or lf.file)
    p.write_bytes(data)
    r = extract_file(p, layout, lf, gaiji)
    assert r.frame.height + r.quarantine.height == r.records_in_file == count_records(data, lf.header)
    return r


def test_clean_fixed_width(tmp_path, shogai):
    data = b"".join(techo(i) + b"\r\n" for i in range(1, 4))
    r = run(tmp_path, data, *shogai)
    assert r.frame.height == 3 and r.quarantine.height == 0
    row = r.frame.row(1, named=True)
    assert row["techo_no"] == "00000002"
    assert row["shimei"].rstrip() == "山田　太郎"          # decoded, padding kept (raw)
    assert row["_record_no"] == 2 and row["_byte_offset"] == 82
    assert r.line_endings == {"crlf": 3, "lf": 0}


def test_empty_file_has_no_records(tmp_path, shogai):
    r = run(tmp_path, b"", *shogai)
    assert r.records_in_file == 0 and r.frame.height == 0


def test_truncated_last_record_is_quarantined(tmp_path, shogai):
    data = techo(1) + b"\r\n" + techo(2) + b"\r\n" + techo(3)[:51]   # cut, no newline
    r = run(tmp_path, data, *shogai)
    q = r.quarantine.row(0, named=True)
    assert (q["record_no"], q["reason_code"]) == (3, "record_length")
    assert "expected 80 bytes, found 51" in q["detail"]
    assert q["raw_hex"] == techo(3)[:51].hex().upper()
    assert q["byte_offset"] == 164


def test_overlong_record_is_quarantined(tmp_path, shogai):
    data = techo(1) + b"\r\n" + techo(2) + b"00\r\n"
    r = run(tmp_path, data, *shogai)
    assert r.quarantine["reason_code"].to_list() == ["record_length"]
    assert r.quarantine["record_no"].to_list() == [2]


def test_dos_eof_byte_is_not_a_record(tmp_path, shogai):
    data = techo(1) + b"\r\n" + techo(2) + b"\r\n\x1a"
    r = run(tmp_path, data, *shogai)
    assert r.eof_marker and r.frame.height == 2 and r.quarantine.height == 0


def test_mixed_line_endings(tmp_path, shogai):
    data = techo(1) + b"\r\n" + techo(2) + b"\n" + techo(3) + b"\r\n"
    r = run(tmp_path, data, *shogai)
    assert r.frame.height == 3 and r.line_endings == {"crlf": 2, "lf": 1}


def test_undecodable_bytes_name_the_field(tmp_path, shogai):
    bad = techo(2, name=b"\x85\x40" + "田　花子".encode("cp932"))
    data = techo(1) + b"\r\n" + bad + b"\r\n"
    r = run(tmp_path, data, *shogai)
    q = r.quarantine.row(0, named=True)
    assert (q["reason_code"], q["field_name"], q["record_no"]) == ("undecodable", "shimei", 2)
    assert "85" in q["detail"]


def test_field_cut_through_a_double_byte_character(tmp_path, shogai):
    # a 31-byte name shifted into the next field: the lead byte ends the name field
    name = ("山" * 14).encode("cp932") + b" " + "田".encode("cp932")[:1]
    rec = techo(1, name=name)
    r = run(tmp_path, rec + b"\r\n", *shogai)
    assert r.quarantine["reason_code"].to_list() == ["undecodable"]
    assert r.quarantine["field_name"].to_list() == ["shimei"]


def test_fullwidth_digits_in_a_numeric_field(tmp_path, shogai):
    rec = techo(1, atena="０１２３４".encode("cp932"))
    r = run(tmp_path, rec + b"\r\n" + techo(2) + b"\r\n", *shogai)
    q = r.quarantine.row(0, named=True)
    assert (q["reason_code"], q["field_name"], q["record_no"]) == ("field_format", "atena_no", 1)
    assert r.frame["techo_no"].to_list() == ["00000002"]


def test_vendor_gaiji_known_and_unknown(tmp_path, shogai):
    # 大阪ホストサービス: F540 = 𠮷 (identified), F542 = 𣘺 (J+ code only), F5A0 not in the table
    n1 = bytes.fromhex("F540") + "田　一郎".encode("cp932")
    n2 = bytes.fromhex("F542") + "本　二郎".encode("cp932")
    n3 = "髙".encode("cp932") + bytes.fromhex("F5A0") + "　三郎".encode("cp932")
    data = b"".join(techo(i, name=n) + b"\r\n" for i, n in enumerate([n1, n2, n3], 1))
    r = run(tmp_path, data, *shogai)
    names = [s.rstrip() for s in r.frame["shimei"].to_list()]
    assert names[0] == "𠮷田　一郎"                        # substituted from the vendor table
    assert names[1] == sjis_to_pua("F542") + "本　二郎"      # kept as PUA for 文字同定
    assert names[2] == "髙" + sjis_to_pua("F5A0") + "　三郎"  # NEC/IBM extension decodes; unknown kept
    assert sjis_to_pua("F542") == "\ue3ae"
    usage = {row["sjis_code"]: row for row in r.gaiji_usage.iter_rows(named=True)}
    assert usage["F540"]["substituted_with"] == "𠮷" and usage["F540"]["in_vendor_table"]
    assert usage["F542"]["juki_code"] == "J+AB08" and usage["F542"]["substituted_with"] is None
    assert not usage["F5A0"]["in_vendor_table"]
    assert usage["F5A0"]["sample_record_nos"] == "3"


# --- CSV: 住民記録 INKAN_TOROKU.CSV, header, CRLF ------------------------------------------

HEADER = "印鑑登録番号,宛名番号,登録年月日,廃止年月日,登録状態"


@pytest.fixture
def inkan(project):
    lay = project.layouts["jumin"]
    return lay, lay.file("inkan"), project.gaiji["jumin"]


def csv_bytes(*lines: str, eol="\r\n") -> bytes:
    return "".join(x + eol for x in lines).encode("cp932")


def test_clean_csv(tmp_path, inkan):
    r = run(tmp_path, csv_bytes(HEADER, "00000001,0001234567,4300401,0000000,1"), *inkan)
    assert r.frame.height == 1 and r.frame["_record_no"].to_list() == [2]


def test_header_only_is_zero_records(tmp_path, inkan):
    r = run(tmp_path, csv_bytes(HEADER), *inkan)
    assert r.records_in_file == 0


def test_empty_csv_with_header_layout_is_an_error(tmp_path, inkan):
    with pytest.raises(ExtractError, match=r"INKAN_TOROKU\.CSV: line 1: the file is empty"):
        run(tmp_path, b"", *inkan)


def test_wrong_header_is_an_error_naming_the_field(tmp_path, inkan):
    bad = HEADER.replace("廃止年月日", "廃止日")
    with pytest.raises(ExtractError, match=r"line 1: header does not match.*field 4: expected '廃止年月日', "
                                           r"found another text \(3 characters, not shown: it may be data\)"):
        run(tmp_path, csv_bytes(bad, "00000001,0001234567,4300401,0000000,1"), *inkan)


def test_header_missing_does_not_echo_the_data_record(tmp_path, inkan):
    # the first line is a record, not the header: nothing of it reaches the message (or the logs)
    with pytest.raises(ExtractError) as e:
        run(tmp_path, csv_bytes("00000001,0001234567,4300401,0000000,1"), *inkan)
    assert "0001234567" not in str(e.value) and "field 1: expected '印鑑登録番号'" in str(e.value)


def test_a_known_heading_in_the_wrong_place_is_named(tmp_path, inkan):
    cols = HEADER.split(",")
    cols[3], cols[4] = cols[4], cols[3]
    with pytest.raises(ExtractError, match=rf"field 4: expected '廃止年月日', found '{cols[3]}'"):
        run(tmp_path, csv_bytes(",".join(cols), "00000001,0001234567,4300401,0000000,1"), *inkan)


def test_utf8_bom_is_an_error(tmp_path, inkan):
    data = b"\xef\xbb\xbf" + HEADER.encode("utf-8") + b"\r\n"
    with pytest.raises(ExtractError, match=r"INKAN_TOROKU\.CSV: line 1: starts with a UTF-8 byte order mark"):
        run(tmp_path, data, *inkan)


def test_utf8_where_cp932_is_declared_is_an_error(tmp_path, inkan):
    data = (HEADER + "\r\n00000001,0001234567,4300401,0000000,1\r\n").encode("utf-8")
    with pytest.raises(ExtractError, match=r"line 1: the file is valid UTF-8.*declares cp932"):
        run(tmp_path, data, *inkan)


def test_csv_record_problems_are_quarantined_with_reasons(tmp_path, inkan):
    data = csv_bytes(
        HEADER,
        "00000001,0001234567,4300401,0000000,1",
        "00000002,0001234568,4300401,0000000",            # a field short
        '00000003,"0001234569,4300401,0000000,1',         # quote left open
        "",                                                # blank line
        HEADER,                                            # header repeated
        "00000004,0001234570,4300401,0000000,1",
    )
    r = run(tmp_path, data, *inkan)
    assert r.frame["inkan_no"].to_list() == ["00000001", "00000004"]
    got = dict(zip(r.quarantine["record_no"].to_list(), r.quarantine["reason_code"].to_list()))
    assert got == {3: "field_count", 4: "csv_syntax", 5: "empty_record", 6: "header_repeated"}
    assert set(r.quarantine["reason"].to_list()) >= {"項目数不一致", "空レコード"}


def test_record_split_across_lines_keeps_both_halves(tmp_path, inkan):
    data = csv_bytes(HEADER, "00000001,0001234567,430", "0401,0000000,1")
    r = run(tmp_path, data, *inkan)
    assert r.frame.height == 0 and r.quarantine.height == 2


def test_missing_file_is_an_error(tmp_path, inkan):
    lay, lf, g = inkan
    with pytest.raises(ExtractError, match="file not found"):
        extract_file(tmp_path / "nope.csv", lay, lf, g)


def test_count_records_rules():
    assert count_records(b"", False) == 0
    assert count_records(b"a\r\nb", False) == 2
    assert count_records(b"a\nb\n\x1a", False) == 2
    assert count_records(b"h\r\n", True) == 0
