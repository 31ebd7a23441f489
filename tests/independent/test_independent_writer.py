"""The independent writer itself (fast, no pipeline): it stays independent of the project's code,
its own helpers agree with DOMAIN.md's examples and the hand-written bad-file cases, and every
file it writes has the layout's shape."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

from stdnum.jp import cn, in_

from tests.independent import writer as w


def test_the_writer_imports_nothing_from_the_project():
    tree = ast.parse(Path(w.__file__).read_text(encoding="utf-8"))
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in mods if m and m.startswith("dagster_project")}


def test_own_helpers_agree_with_the_references():
    assert in_.is_valid("621498320257") and cn.is_valid("7123456789012")   # DOMAIN.md examples
    assert in_.is_valid(w.kojin_bango(5)) and cn.is_valid(w.hojin_bango(2))
    assert not in_.is_valid(w.wrong_last_digit(w.kojin_bango(5)))
    # M11W2-7 by hand: 000100001, weights 2,3,4,5,6,7,2,3,4 from the right: 1*2 + 1*7 = 9; 11 - 9 = 2
    assert w.with_m11("000100001") == "0001000012"
    assert w.m11w27("000000005") == "1" and w.m11w27("000000006") == "0"   # r = 10 -> 1; r = 12 % 11 = 1 -> 0
    # tests/badfiles/cases.yaml 18_negative_zoned: 0000012345} = -123450, 0000012345J = -123451
    assert w.zoned(-123450, 11) == "0000012345}" and w.zoned(-123451, 11) == "0000012345J"
    assert w.zoned(160800, 9) == "00016080{" and w.zoned(12345, 7) == "001234E"
    assert w.render_date(dt.date(1961, 2, 14), "era7") == "3360214"           # DOMAIN.md: 昭和36年2月14日
    assert w.render_date(dt.date(1989, 1, 7), "era_letter") == "S640107"
    assert w.render_date(dt.date(1989, 1, 8), "era7") == "4010108"
    assert w.render_date(dt.date(2003, 1, 7), "era_dotted") == "平成15.01.07"  # layout comment
    assert w.render_date(dt.date(2019, 5, 1), "era_dotted") == "令和元.05.01"
    assert w.hankaku("ヴァン　ポーター") == "ｳﾞｧﾝ ﾎﾟｰﾀｰ"


def test_every_file_has_the_layouts_shape(tmp_path):
    city = w.write_city(tmp_path / "legacy")
    layouts = w.load_layouts()
    assert {(s, f["table"]) for s, lay in layouts.items() for f in lay["files"]} == set(city.files)
    for (system, table), fi in city.files.items():
        lf = next(f for f in layouts[system]["files"] if f["table"] == table)
        data = fi.path.read_bytes()
        eol = b"\n" if lf.get("line_ending", "crlf") == "lf" else b"\r\n"
        lines = data.split(eol)
        assert lines.pop() == b"" and all(b"\r" not in x and b"\n" not in x for x in lines), fi.path
        assert len(lines) == fi.header_lines + fi.records
        data.decode("cp932")
        if lf["format"] == "fixed":
            assert {len(x) for x in lines} == {lf["record_length"]}, fi.path
    kinds = sorted(p.rule_id for p in city.planted)
    assert kinds == sorted(["orphan_reference"] * 3 + ["check_digit"] * 2 + ["duplicate_key"] * 2 + [
        "date_invalid", "unmapped_code", "hankaku_kana", "charset", "number_invalid"] + ["legacy_overlong"] * 3
        + ["over_length"] * 2 + ["out_of_range"] * 4)
