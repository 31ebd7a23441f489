"""Extraction of hand-made files: each bad shape gives a clear error or quarantine, and the
records in the file always equal raw rows + quarantined rows."""

import pytest

from dagster_project.extract.reader import ExtractError, count_records, extract_file
from dagster_project.core.textcodec import sjis_to_pua

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
    # UTF-16 (always refused) is counted on its text: 上 is the bytes 0A 4E, not a newline
    utf16 = "\ufeff見出し\r\n上野\r\n上田\r\n".encode("utf-16-le")
    assert utf16.count(b"\n") == 5 and count_records(utf16, True) == 2
    assert count_records("上\n上".encode("utf-16-be"), False) == 3      # no BOM: the bytes (CP932 rule)


# --- a file refused as a whole: its records are counted from its bytes, as refused ---------------

def test_a_refused_files_records_are_counted_from_its_bytes(tmp_path, inkan):
    from dagster_project.extract.reader import refused_extract

    lay, lf, g = inkan
    rows = [HEADER, "00000001,0001234567,4300401,0000000,1", "00000002,0001234568,4300401,0000000,1",
            "00000003,0001234569,4300401,0000000,1"]
    cases = {
        "utf8": ("\r\n".join(rows) + "\r\n").encode("utf-8"),
        "utf8_bom_no_final_newline": b"\xef\xbb\xbf" + "\r\n".join(rows).encode("utf-8"),
        "utf16": ("\ufeff" + "\r\n".join(rows) + "\r\n\x1a").encode("utf-16-le"),
    }
    for name, data in cases.items():
        path = tmp_path / name / lf.file
        path.parent.mkdir()
        path.write_bytes(data)
        with pytest.raises(ExtractError) as e:
            extract_file(path, lay, lf, g)
        r = refused_extract(path, lay, lf, str(e.value))
        assert (r.records_in_file, r.refused_records, r.frame.height, r.quarantine.height) == (3, 3, 0, 0), name
        assert r.records_counted == 3 and r.counts == {"records_in_file": 3, "raw_rows": 0, "quarantined": 0,
                                                      "refused": 3}
        assert r.file_bytes == len(data) and r.refused == str(e.value)
    # nothing to read: no records, the refusal says why
    r = refused_extract(tmp_path / "missing.csv", lay, lf, "file not found")
    assert (r.records_in_file, r.refused_records, r.sha256) == (0, 0, "")


# --- UTF-8 where CP932 is declared: the whole file only on strong evidence ----------------------

def _ascii_techo(no: int, name: bytes) -> bytes:
    """A 障害者手帳 record whose every byte but the name is ASCII."""
    return techo(no, name=name)[:65] + _pad(b"SHIKAKU", 15)


def test_two_stray_utf8_valid_bytes_quarantine_one_record_not_the_file(tmp_path, shogai):
    """CE 91 (Greek Α in UTF-8) in place of two digits: the file is valid UTF-8, but two bytes are
    no evidence of a UTF-8 export; the record is not CP932 (91 then a digit) and is quarantined."""
    recs = [_ascii_techo(i, b"YAMADA TARO") for i in (1, 2, 3)]
    recs[1] = recs[1][:8] + b"\xce\x91" + recs[1][10:]
    data = b"".join(r + b"\r\n" for r in recs)
    data.decode("utf-8")                                                   # valid UTF-8 as a whole
    r = run(tmp_path, data, *shogai)
    assert r.refused is None and r.frame["techo_no"].to_list() == ["00000001", "00000003"]
    q = r.quarantine.row(0, named=True)
    assert (q["record_no"], q["reason_code"], q["field_name"]) == (2, "undecodable", "atena_no")


@pytest.mark.parametrize("name, refused", [("山田太", False), ("山田太郎", True), ("ヤマダ　タロウ", True)])
def test_utf8_is_refused_from_four_japanese_characters(tmp_path, shogai, name, refused):
    """Four characters of Japanese script read as UTF-8 (3-byte sequences each) refuse the file;
    three are read as CP932, record by record (here 山田太 decodes as CP932 mojibake or is
    quarantined, never the file refused)."""
    rec = _ascii_techo(1, name.encode("utf-8"))
    data = rec + b"\r\n" + _ascii_techo(2, b"YAMADA") + b"\r\n"
    if refused:
        with pytest.raises(ExtractError, match=rf"line 1: the file is valid UTF-8 .*\({len(name)} Japanese "
                                               r"characters as UTF-8\).*declares cp932.*UTF-8です"):
            run(tmp_path, data, *shogai)
    else:
        r = run(tmp_path, data, *shogai)
        assert r.refused is None and r.frame.height + r.quarantine.height == 2
        assert r.frame["techo_no"].to_list()[-1] == "00000002"


def test_a_lone_last_quote_balanced_by_a_stray_quote_is_a_csv_syntax_error(tmp_path, project):
    """国保 quotes every field. '"2025",""0005001064",...,"0","' has 2n quotes and n-1 '","', the
    shape the fast path took: the last field came out null and the record was quarantined as
    項目形式不正 (not-null) instead of CSV構文誤り."""
    lay = project.layouts["kokuho"]
    lf = lay.file("fuka")
    header = ",".join(f'"{f.label}"' for f in lf.fields)
    data = csv_bytes(header, '"2025","0005001102","76693","20913","0","97606"',
                     '"2025",""0005001064","85658","17818","0","',
                     '"2025","0005000297","86199","25656","0","111855"')
    r = run(tmp_path, data, lay, lf, project.gaiji["kokuho"])
    assert r.frame["setai_no"].to_list() == ["0005001102", "0005000297"]
    q = r.quarantine.row(0, named=True)
    assert (q["record_no"], q["reason_code"], q["reason"], q["field_name"]) == (
        3, "csv_syntax", "CSV構文誤り（引用符の不整合）", None)


# --- declared lengths (CSV): `_overlong` names the fields longer than the layout's CP932 bytes --

def test_raw_frames_share_the_bookkeeping_columns(tmp_path, shogai, inkan, project):
    from dagster_project.extract.reader import refused_extract

    fixed = run(tmp_path, techo(1) + b"\r\n", *shogai)
    assert fixed.frame.columns[-3:] == ["_record_no", "_byte_offset", "_overlong"]
    assert fixed.frame["_overlong"].to_list() == [None]          # fixed width: length by construction
    lay, lf, _ = inkan
    csv = run(tmp_path, csv_bytes(HEADER, "00000001,0001234567,4300401,0000000,1"), *inkan)
    assert csv.frame.columns == [f.name for f in lf.fields] + ["_record_no", "_byte_offset", "_overlong"]
    assert csv.frame["_overlong"].to_list() == [None]
    refused = refused_extract(tmp_path / "nope.csv", lay, lf, "file not found")
    assert refused.frame.columns == csv.frame.columns and refused.frame.schema == csv.frame.schema


def test_cp932_len_is_the_codec_length_of_every_character():
    """Every character Python's cp932 decodes (1,2-byte sequences, 外字 area included) is measured
    as the bytes it came from."""
    import polars as pl

    from dagster_project.extract.reader import cp932_len

    chars = {}
    for b in range(0x100):
        try:
            chars.setdefault(bytes([b]).decode("cp932"), 1)
        except UnicodeDecodeError:
            pass
    for lead in [*range(0x81, 0xA0), *range(0xE0, 0xFD)]:
        for trail in range(0x40, 0xFD):
            try:
                c = bytes([lead, trail]).decode("cp932")
            except UnicodeDecodeError:
                continue
            if len(c) == 1:
                chars.setdefault(c, 2)
    assert len(chars) > 9000 and chars["\ue000"] == chars["\ue757"] == 2 and chars["ｱ"] == 1
    got = pl.DataFrame({"v": list(chars)}).select(cp932_len(pl.col("v"))).to_series().to_list()
    assert dict(zip(chars, got)) == chars
    joined = "".join(chars)
    assert pl.select(cp932_len(pl.lit(joined))).item() == len(joined.encode("cp932")) == sum(chars.values())


KOJIN_HEADER = ("宛名番号,履歴番号,世帯番号,氏名,氏名カナ,旧氏,生年月日（和暦）,生年月日（西暦）,性別,続柄,"
                "住民となった年月日,住所コード,郵便番号,住所,方書,住定日,届出日,異動事由,異動日,住民状態,"
                "住民種別,本籍,筆頭者,個人番号,住民票コード,転入前住所,広報配布区分")
GAIJI_KNOWN = bytes.fromhex("F040")      # jumin's vendor table: 𠮷 (substituted in raw)
GAIJI_PUA = bytes.fromhex("F041")        # jumin's vendor table: no ucs (kept as U+E001)


@pytest.fixture
def kojin(project):
    lay = project.layouts["jumin"]
    lf = lay.file("kojin")
    assert ",".join(f.label for f in lf.fields) == KOJIN_HEADER
    return lay, lf, project.gaiji["jumin"]


def kojin_fields(**over: bytes) -> list[bytes]:
    """One 住民記録 record as CP932 field bytes, every value within its declared length."""
    j = lambda s: s.encode("cp932")  # noqa: E731
    rec = {
        "atena_no": b"0001234567", "rireki_no": b"001", "setai_no": b"0000123456",
        "shimei": j("山田　太郎"), "shimei_kana": j("ﾔﾏﾀﾞ ﾀﾛｳ"), "kyuuji": b"", "birth_wareki": b"3580812",
        "birth_seireki": b"19830812", "sex": b"1", "zokugara": b"01", "jumin_date": b"3580812",
        "jusho_cd": b"27100000001", "yubin": b"530-0001", "jusho": j("大阪府大阪市北区梅田１丁目１番１号"),
        "katagaki": b"", "jutei_date": b"3580812", "todoke_date": b"3580812", "ido_jiyu": b"02",
        "ido_date": b"3580812", "jumin_jotai": b"0", "jumin_shubetsu": b"1", "honseki": j("大阪府大阪市北区"),
        "hittosha": j("山田　一郎"), "kojin_bango": b"123456789018", "juminhyo_cd": b"12345678901",
        "zen_jusho": b"", "koho_kubun": b"0",
    }
    assert set(over) <= set(rec)
    rec.update(over)
    return list(rec.values())


def _quote(b: bytes) -> bytes:
    return b'"' + b.replace(b'"', b'""') + b'"'


# (what is planted, the record's fields, how the line is written, the expected `_overlong`)
#   plain:  split by polars;  quoted: every field quoted, split by polars;
#   partly: some fields quoted, or a doubled quote: the per-row csv-module path.
_FW = "山".encode("cp932")                    # a full-width character: 2 bytes
_HK = "ｱ".encode("cp932")                     # a half-width katakana: 1 byte
OVERLONG_ROWS = [
    ("clean", kojin_fields(), None),
    ("宛名番号 11 digits of 10", kojin_fields(atena_no=b"00012345678"), "atena_no"),
    ("宛名番号 exactly 10", kojin_fields(atena_no=b"9999999999"), None),
    ("氏名 31 full-width of 60 bytes", kojin_fields(shimei=_FW * 31), "shimei"),
    ("氏名 30 full-width: at the limit", kojin_fields(shimei=_FW * 30), None),
    ("氏名カナ 60 half-width kana: at the limit", kojin_fields(shimei_kana=_HK * 60), None),
    ("氏名カナ 61 half-width kana", kojin_fields(shimei_kana=_HK * 61), "shimei_kana"),
    ("氏名カナ 59 half-width kana + 1 full-width", kojin_fields(shimei_kana=_HK * 59 + _FW), "shimei_kana"),
    ("氏名 vendor 外字 (substituted) + 29: at the limit", kojin_fields(shimei=GAIJI_KNOWN + _FW * 29), None),
    ("氏名 PUA 外字 + 29: at the limit", kojin_fields(shimei=GAIJI_PUA + _FW * 29), None),
    ("氏名 PUA 外字 + 30", kojin_fields(shimei=GAIJI_PUA + _FW * 30), "shimei"),
    ("旧氏 PUA 外字 ×11 of 20 bytes", kojin_fields(kyuuji=GAIJI_PUA * 11), "kyuuji"),
    ("three fields, named in layout order",
     kojin_fields(kojin_bango=b"1234567890123", jusho=_FW * 61, atena_no=b"00012345678"),
     "atena_no,jusho,kojin_bango"),
    ("郵便番号 with a trailing blank: blanks count", kojin_fields(yubin=b"530-0001 "), "yubin"),
    ("方書 59 + a doubled quote: 60 once unquoted", kojin_fields(katagaki=b"A" * 59 + b'"'), None),
    ("方書 60 + a doubled quote: 61 once unquoted", kojin_fields(katagaki=b"A" * 60 + b'"'), "katagaki"),
    ("転入前住所 with a comma, 121 bytes of 120", kojin_fields(zen_jusho=_FW * 60 + b","), "zen_jusho"),
    ("転入前住所 with a comma, 120 bytes", kojin_fields(zen_jusho=_FW * 59 + b",A"), None),
]


def _line(fields: list[bytes], how: str) -> bytes:
    if how == "plain" and not any(b'"' in f or b"," in f for f in fields):
        return b",".join(fields)
    if how == "quoted" and not any(b'"' in f for f in fields):
        return b",".join(_quote(f) for f in fields)
    # partly quoted: only the fields that need it (the shape a spreadsheet writes)
    return b",".join(_quote(f) if (b'"' in f or b"," in f or i == 3) else f for i, f in enumerate(fields))


@pytest.mark.parametrize("clean_rows", [0, 40])     # most rows measured in place / few rows gathered
@pytest.mark.parametrize("how", ["plain", "quoted", "partly"])
def test_overlong_fields_are_named_per_row(tmp_path, kojin, how, clean_rows):
    lay, lf, gaiji = kojin
    lines = [_line(f, how) for _, f, _ in OVERLONG_ROWS] + [_line(kojin_fields(), how)] * clean_rows
    data = KOJIN_HEADER.encode("cp932") + b"\r\n" + b"".join(x + b"\r\n" for x in lines)
    r = run(tmp_path, data, lay, lf, gaiji)
    assert r.quarantine.height == 0, r.quarantine                  # a finding, never a refusal
    want = [w for _, _, w in OVERLONG_ROWS] + [None] * clean_rows
    got = r.frame["_overlong"].to_list()
    assert dict(zip([p for p, _, _ in OVERLONG_ROWS], got)) == dict(zip([p for p, _, _ in OVERLONG_ROWS], want))
    assert got == want
    # values are never changed: every field is the text of the file (vendor 外字 substituted)
    pua, known = GAIJI_PUA.decode("cp932"), GAIJI_KNOWN.decode("cp932")
    for (_, fields, _), row in zip(OVERLONG_ROWS, r.frame.iter_rows(named=True)):
        for f, b in zip(lf.fields, fields):
            assert row[f.name] == b.decode("cp932").replace(known, "𠮷"), (f.name, how)
    assert pua in r.frame["kyuuji"].to_list()[11]


def test_which_rows_take_the_per_row_path(kojin):
    """The slow (csv module) path is taken by lines neither plain nor quoted on every field;
    外字 lines are plain text to polars."""
    from dagster_project.extract import reader as extract

    lay, lf, _ = kojin
    seen = []
    orig = extract._parse_csv_line

    def spy(line, n):
        seen.append(line)
        return orig(line, n)
    texts = [_line(kojin_fields(shimei=GAIJI_PUA + _FW), "plain").decode("cp932"),
             _line(kojin_fields(), "quoted").decode("cp932"),
             _line(kojin_fields(katagaki=b'A"'), "partly").decode("cp932")]
    extract._parse_csv_line = spy
    try:
        frame, problems = extract._csv_columns(texts, lf, set())
    finally:
        extract._parse_csv_line = orig
    assert problems == [] and frame.height == 3 and seen == [texts[2]]


def _refusal(path, lay, lf, g) -> str:
    """extract_file's refusal, run in a thread so that opening a FIFO (which blocks) fails the test
    instead of hanging it."""
    import threading

    out = {}

    def go():
        try:
            extract_file(path, lay, lf, g)
            out["msg"] = None
        except ExtractError as exc:
            out["msg"] = str(exc)
    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(timeout=20)
    assert not t.is_alive(), f"extraction of {path.name} blocked (opened a FIFO?)"
    return out["msg"]


def test_a_directory_in_a_files_place_is_refused(tmp_path, inkan):
    lay, lf, g = inkan
    (tmp_path / lf.file).mkdir()
    msg = _refusal(tmp_path / lf.file, lay, lf, g)
    assert "is a directory, not a file" in msg and "フォルダ" in msg and lf.file in msg


def test_a_fifo_is_refused_without_being_opened(tmp_path, inkan):
    import os

    lay, lf, g = inkan
    os.mkfifo(tmp_path / lf.file)
    msg = _refusal(tmp_path / lf.file, lay, lf, g)
    assert "is a FIFO, not a regular file" in msg and "通常のファイルではありません" in msg


def test_an_unreadable_file_is_refused(tmp_path, inkan, monkeypatch):
    """Root reads through chmod 000, so the refusal is made to happen by the read itself."""
    from pathlib import Path

    lay, lf, g = inkan
    (tmp_path / lf.file).write_bytes(b"x")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(Path, "read_bytes", denied)
    msg = _refusal(tmp_path / lf.file, lay, lf, g)
    assert "permission denied" in msg and "読み取りの権限がありません" in msg


def test_a_refused_non_file_gets_its_stand_in_without_raising(tmp_path, inkan):
    import os

    from dagster_project.extract.reader import refused_extract

    lay, lf, g = inkan
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for name in ("fifo", "dir", "missing"):
        r = refused_extract(tmp_path / name, lay, lf, "refused")
        assert r.refused == "refused" and r.frame.height == 0 and r.sha256 == "" and r.file_bytes == 0
