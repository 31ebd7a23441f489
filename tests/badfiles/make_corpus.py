"""Writes the bad-input corpus (tests/badfiles/<case>/<FILE>) from a clean simulated city.

    .venv/bin/kikan simulate --residents 400 --seed 3 --defect-scale 0 --out /tmp/clean400
    .venv/bin/python tests/badfiles/make_corpus.py /tmp/clean400 [OUT]   (OUT: default this folder)

The files are committed; this script only says how each was made. What each file must produce is
written by hand in ``cases.yaml`` (not derived from here), and ``tests/unit/test_badfiles.py``
checks that the pipeline's own code finds it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def lines(p: Path) -> list[bytes]:
    return p.read_bytes().split(b"\r\n")[:-1]


def crlf(recs: list[bytes]) -> bytes:
    return b"".join(r + b"\r\n" for r in recs)


def csv_set(rec: bytes, i: int, value: str) -> bytes:
    parts = rec.split(b",")
    parts[i] = value.encode("cp932")
    return b",".join(parts)


def fixed_set(rec: bytes, start: int, value: bytes) -> bytes:
    return rec[:start] + value + rec[start + len(value):]


def main(clean: Path, out: Path = HERE) -> None:
    techo = lines(clean / "shogai" / "SHOGAI_TECHO.DAT")[:4]
    inkan = lines(clean / "jumin" / "INKAN_TOROKU.CSV")[:5]          # header + 4
    kojin = lines(clean / "jumin" / "JUMIN_KOJIN.CSV")[:5]
    zei = lines(clean / "zeimu" / "KOJINZEI.DAT")[:4]
    meibo = lines(clean / "senkyo" / "SENKYO_MEIBO.CSV")[:5]
    kouki = lines(clean / "kouki" / "KOUKI_HIHOKENSHA.CSV")[:5]
    kkojin = lines(clean / "koseki" / "KOSEKI_KOJIN.DAT")[:4]
    fuka = lines(clean / "kokuho" / "KOKUHO_FUKA.CSV")

    cases: dict[str, tuple[str, bytes]] = {
        "01_empty_fixed": ("SHOGAI_TECHO.DAT", b""),
        "02_empty_csv": ("INKAN_TOROKU.CSV", b""),
        "03_header_only": ("INKAN_TOROKU.CSV", crlf(inkan[:1])),
        "04_utf8_bom": ("INKAN_TOROKU.CSV", b"\xef\xbb\xbf" + crlf(inkan)),
        "05_utf8_not_cp932": ("SENKYO_MEIBO.CSV", crlf(meibo).decode("cp932").encode("utf-8")),
        "06_utf16_bom": ("INKAN_TOROKU.CSV", b"\xff\xfe" + crlf(inkan).decode("cp932").encode("utf-16-le")),
        "07_invalid_double_byte": ("SHOGAI_TECHO.DAT",
                                   crlf([techo[0], fixed_set(techo[1], 18, b"\x81\x20"), techo[2]])),
        "08_lone_lead_byte_at_eof": ("SHOGAI_TECHO.DAT", crlf(techo[:2]) + techo[2][:79] + b"\x88"),
        "09_eof_1a": ("SHOGAI_TECHO.DAT", crlf(techo[:3]) + b"\x1a"),
        "10_crlf_lf_mixed": ("SHOGAI_TECHO.DAT", techo[0] + b"\n" + techo[1] + b"\r\n" + techo[2] + b"\n"),
        "11_truncated_fixed": ("SHOGAI_TECHO.DAT", crlf(techo[:2]) + techo[2][:51]),
        "12_overlong_fixed": ("SHOGAI_TECHO.DAT", crlf([techo[0], techo[1] + b"XYZ", techo[2]])),
        "13_record_split_across_lines": ("INKAN_TOROKU.CSV",
                                         crlf(inkan[:2] + [inkan[2][:15], inkan[2][15:]] + inkan[3:])),
        "14_csv_field_short": ("INKAN_TOROKU.CSV", crlf(inkan[:2] + [inkan[2].rsplit(b",", 1)[0]] + inkan[3:])),
        "15_csv_field_extra": ("INKAN_TOROKU.CSV", crlf(inkan[:2] + [inkan[2] + b",X"] + inkan[3:])),
        "16_quote_left_open": ("INKAN_TOROKU.CSV", crlf(inkan[:2] + [inkan[2].replace(b",", b',"', 1)] + inkan[3:])),
        "17_fullwidth_digits": ("SHOGAI_TECHO.DAT",
                                crlf([fixed_set(techo[0], 8, "０００１".encode("cp932") + b"23")] + techo[1:3])),
        "18_negative_zoned": ("KOJINZEI.DAT", crlf([fixed_set(zei[0], 14, b"0000012345}"),
                                                   fixed_set(zei[1], 14, b"0000012345J"), zei[2]])),
        "19_zoned_garbage": ("KOJINZEI.DAT", crlf([fixed_set(zei[0], 14, b"00000123X5{")] + zei[1:3])),
        "20_date_0000000": ("JUMIN_KOJIN.CSV", crlf(kojin[:2] + [csv_set(kojin[2], 6, "0000000")])),
        "21_date_9999999": ("JUMIN_KOJIN.CSV", crlf(kojin[:2] + [csv_set(kojin[2], 10, "9999999")])),
        "22_heisei31_may1": ("JUMIN_KOJIN.CSV", crlf(kojin[:2] + [csv_set(kojin[2], 6, "4310501"),
                                                                  csv_set(kojin[3], 6, "4310430")])),
        "23_feb30": ("JUMIN_KOJIN.CSV", crlf(kojin[:2] + [csv_set(kojin[2], 6, "4020230")])),
        "25_dotted_heisei31": ("SENKYO_MEIBO.CSV", crlf(meibo[:2] + [csv_set(meibo[2], 5, "平成31.05.01"),
                                                                     csv_set(meibo[3], 5, "令和元.05.01")])),
        "26_letter_impossible_day": ("KOUKI_HIHOKENSHA.CSV", crlf(kouki[:2] + [csv_set(kouki[2], 4, "S050231")])),
        "27_gaiji_outside_vendor_table": ("SHOGAI_TECHO.DAT", crlf([fixed_set(techo[0], 18, b"\xf9\xfc")] + techo[1:3])),
        "28_header_repeated": ("INKAN_TOROKU.CSV", crlf(inkan[:3] + inkan[:1] + inkan[3:])),
        "29_wrong_header": ("INKAN_TOROKU.CSV", crlf([inkan[0].replace("廃止".encode("cp932"), "消除".encode("cp932"))]
                                                     + inkan[1:])),
        "30_blank_line": ("INKAN_TOROKU.CSV", crlf(inkan[:2] + [b""] + inkan[2:])),
        "31_ten_times_size": ("KOKUHO_FUKA.CSV", crlf(fuka[:1] + fuka[1:] * 10)),
        "32_nul_bytes": ("SHOGAI_TECHO.DAT", crlf([fixed_set(techo[0], 72, b"\x00\x00\x00\x00")] + techo[1:3])),
        "33_no_final_newline": ("SHOGAI_TECHO.DAT", crlf(techo[:2]) + techo[2]),
        "34_halfwidth_kana_voiced": ("SENKYO_MEIBO.CSV", crlf(meibo[:2] + [csv_set(meibo[2], 4, "ｶﾞｯｺｳ ﾊﾟﾝ")])),
        # two corrupt bytes that happen to be valid UTF-8 (CE 91 = Greek Α) in an otherwise ASCII
        # fixed-width file: weak evidence of UTF-8, so one record is quarantined, not the file refused
        "35_stray_utf8_valid_bytes_fixed": ("KOJINZEI.DAT", crlf([zei[0], fixed_set(zei[1], 4, b"\xce\x91"), zei[2]])),
        # quoted CSV: a stray quote in one field and a last field that is a lone quote (the quotes
        # pair up in number): a CSV syntax error, not a field-format one
        "36_quoted_csv_lone_last_quote": ("KOKUHO_FUKA.CSV", crlf(fuka[:2] + [
            fuka[2][:8] + b'"' + fuka[2][8:].rsplit(b",", 1)[0] + b',"'] + fuka[3:4])),
    }
    # 明治元年: 1 01 MMDD before and after the configured start of 明治 (koseki: 1868-10-23)
    birth_at = 0
    from dagster_project.spec.config import cached_project

    lay = cached_project().layouts["koseki"].file("kojin")
    for f in lay.fields:
        if f.name == "birth":
            break
        birth_at += f.length
    cases["24_meiji_gannen"] = ("KOSEKI_KOJIN.DAT", crlf([fixed_set(kkojin[0], birth_at, b"1010101"),
                                                         fixed_set(kkojin[1], birth_at, b"1011023"), kkojin[2]]))
    for case, (name, data) in cases.items():
        d = out / case
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        (d / name).write_bytes(data)
    print(f"{len(cases)} files under {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), *(Path(a) for a in sys.argv[2:3]))
