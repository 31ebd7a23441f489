"""Writes the fuzzing seed corpus (tests/fuzz/corpus/<harness>/) from a clean simulated city.

    .venv/bin/kikan simulate --residents 400 --seed 3 --defect-scale 0 --out /tmp/clean400
    .venv/bin/python -m tests.fuzz.make_seeds /tmp/clean400

The files are committed; this script says how each was made. Every extract seed is a few records
of the layout with canary text (``harness.CANARIES``) planted in a text field and a number field,
so that a message quoting a value would be seen; the variants give the fuzzer the shapes the
extractor tells apart (line ends, 0x1A, a cut record, a field that breaks the format, UTF-8 and
UTF-16 re-exports, a bad header). Reader seeds are a selector byte and a value.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.fuzz.harness import CANARY_ASCII, CANARY_DIGITS, CANARY_KANJI, CORPUS, EXTRACT_TARGETS, STYLES


def _records(clean: Path, system: str, lf, n: int) -> tuple[list[bytes], list[bytes]]:
    lines = (clean / system / lf.file).read_bytes().split(b"\r\n")
    head = lines[:1] if lf.header else []
    return head, lines[len(head):len(head) + n]


def _plant(rec: bytes, lf, values: dict[str, bytes]) -> bytes:
    """The record with these fields replaced (padded with blanks to a fixed field's width)."""
    if lf.format == "fixed":
        for (a, b), f in zip(lf.offsets, lf.fields):
            if f.name in values:
                v = values[f.name][: b - a]
                rec = rec[:a] + v + b" " * (b - a - len(v)) + rec[b:]
        return rec
    parts = rec.split(b",")
    for i, f in enumerate(lf.fields):
        if f.name in values:
            v = values[f.name]
            parts[i] = b'"' + v + b'"' if lf.quote_all else v
    return b",".join(parts)


def extract_seeds(clean: Path, name: str) -> dict[str, bytes]:
    from dagster_project.spec.config import cached_project

    system, table = EXTRACT_TARGETS[name]
    lf = cached_project().layouts[system].file(table)
    head, recs = _records(clean, system, lf, 3)
    text = next((f.name for f in lf.fields if f.type == "text"), None)
    digits = next(f.name for f in lf.fields if f.type == "digits" and f.length >= len(CANARY_DIGITS))
    amount = next((f.name for f in lf.fields if f.type == "amount"), None)
    canary = (CANARY_KANJI + CANARY_ASCII).encode("cp932")
    planted = {digits: CANARY_DIGITS.encode(), **({text: canary} if text else {})}
    recs[1] = _plant(recs[1], lf, planted)
    # a value that breaks the format (digits / zoned amount), with canary text in it
    broken = _plant(recs[2], lf, {amount or digits: CANARY_ASCII.encode()})

    def crlf(rs: list[bytes]) -> bytes:
        return b"".join(r + b"\r\n" for r in rs)

    base = crlf(head + recs)
    seeds = {
        "clean_crlf": base,
        "lf_eof_1a": b"".join(r + b"\n" for r in head + recs) + b"\x1a",
        "no_final_newline": crlf(head + recs[:2]) + recs[2],
        "cut_record": crlf(head + recs[:2]) + recs[2][: len(recs[2]) // 2],
        "field_format": crlf(head + recs[:2] + [broken]),
        "blank_line_and_nul": crlf(head + recs[:1] + [b""] + [recs[1].replace(b"0", b"\x00", 1)] + recs[2:]),
        "utf8_reexport": base.decode("cp932").encode("utf-8"),
        "utf16_reexport": b"\xff\xfe" + base.decode("cp932").encode("utf-16-le"),
        "gaiji": crlf(head + [_plant(recs[0], lf, {text: b"\xf0\x40\xf9\xfc"}) if text else recs[0]] + recs[1:]),
    }
    if lf.header:
        seeds["header_only"] = crlf(head)
        seeds["header_wrong"] = crlf([head[0].replace(b",", b";", 1)] + recs)
        seeds["header_repeated"] = crlf(head + recs[:1] + head + recs[1:])
        seeds["quote_left_open"] = crlf(head + [recs[0].replace(b",", b',"', 1)] + recs[1:])
    return seeds


def reader_seeds() -> dict[str, bytes]:
    values = {
        "era7": ["3310219", "4310501", "0000000", "9999999", "1010101", f"{CANARY_KANJI}1234", "５０１０１０１"],
        "era_letter": ["S330219", "H310501", "R010501", "3310219", f"{CANARY_ASCII}123"],
        "era_dotted": ["平成31.04.30", "令和元.05.01", "昭和64.01.08", "H15.1.7", f"{CANARY_KANJI}15.01.07"],
        "ymd8": ["20030107", "20200230", "99999999", "00000000", f"2003{CANARY_ASCII}"],
        "ymd_slash": ["2003/01/07", "2003/1/7", "2003/02/30", f"{CANARY_DIGITS}/01"],
        "ym6": ["200301", "200313", f"{CANARY_DIGITS}"],
    }
    seeds = {}
    for k, style in enumerate(STYLES):
        for i, v in enumerate(values[style]):
            for variant in (0, 3):
                seeds[f"date_{style}_{i}_{variant}"] = bytes([k + 8 * variant]) + v.encode("utf-8")
    for i, v in enumerate(["0000012345{", "0000012345}", "98765432A", "12X{", f"{CANARY_ASCII}", " 123C ",
                           "99999999999999999999", "9223372036854775807", "-9223372036854775808", "１２３"]):
        seeds[f"amount_{i}"] = bytes([6]) + v.encode("utf-8")
        seeds[f"zoned_{i}"] = bytes([6 + 8]) + v.encode("utf-8")
    for i, v in enumerate(["ﾔﾏﾀﾞ ﾀﾛｳ", "ガッコウ　パン", "ヴィーナス", "カ\u3099", "\ue000\ue3ae", CANARY_KANJI]):
        seeds[f"kana_{i}"] = bytes([7]) + v.encode("utf-8")
    return seeds


def main(clean: Path) -> None:
    sets = {name: extract_seeds(clean, name) for name in EXTRACT_TARGETS}
    sets["readers"] = reader_seeds()
    for name, seeds in sets.items():
        d = CORPUS / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for seed, data in seeds.items():
            (d / seed).write_bytes(data)
        print(f"{name}: {len(seeds)} seeds")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
