"""Pictures of characters in IPAmj明朝 (conformance/glyphs.py) for the 外字同定リスト."""

from __future__ import annotations

import io
import os
import shutil

import pytest

from dagster_project.conformance import glyphs
from dagster_project.conformance.charset import mojidata_path

KATSU = "葛"
KATSU_HI = KATSU + "\U000E0102"    # MJ022335 (ヒ in the lower part), Moji_Joho IVS
KATSU_HITO = KATSU + "\U000E0103"  # MJ022336 (人), the form IPAmj明朝 also gives plain 葛


def _can_install_font() -> bool:
    return shutil.which("apt-get") is not None and hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def font():
    path = glyphs.font_path()
    if path is None:
        if _can_install_font():
            pytest.fail("IPAmj明朝 is missing although this machine can install it: "
                        "`python3.11 tasks.py test` installs fonts-ipamj-mincho (ensure_fonts)")
        pytest.skip("IPAmj明朝 (fonts-ipamj-mincho) is not installed and cannot be installed here "
                    "(needs apt-get as root)")
    return path


def _open(png: bytes):
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    img.load()
    return img


def test_font_is_ipamj(font):
    assert font.is_file() and font.name.startswith("ipamjm")


@pytest.mark.parametrize("ch", ["㟢", KATSU_HI, "𠮷"])
def test_png_of_the_requested_size(font, ch):
    assert glyphs.has_glyph(ch)
    for px in (48, 96):
        png = glyphs.glyph_png(ch, px)
        assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
        img = _open(png)
        assert img.format == "PNG" and img.size == (px, px)
        lo, hi = img.convert("L").getextrema()
        assert lo < 64 and hi == 255, "black ink on white"


def test_ivs_variants(font):
    # the font defines these Moji_Joho sequences, not the Adobe-Japan1 one (葛 + U+E0100)
    assert glyphs.has_glyph(KATSU_HI) and glyphs.has_glyph(KATSU_HITO)
    assert not glyphs.has_glyph(KATSU + "\U000E0100")
    assert glyphs.glyph_png(KATSU + "\U000E0100") is None
    if glyphs.renders_ivs():
        assert glyphs.glyph_png(KATSU_HI) != glyphs.glyph_png(KATSU_HITO)
        assert glyphs.glyph_png(KATSU_HI) != glyphs.glyph_png(KATSU)
    else:
        assert glyphs.glyph_png(KATSU_HI) == glyphs.glyph_png(KATSU)


def test_without_raqm_the_base_is_drawn(font, monkeypatch):
    monkeypatch.setattr(glyphs, "renders_ivs", lambda: False)
    assert glyphs.glyph_png(KATSU_HI) == glyphs.glyph_png(KATSU)
    assert _open(glyphs.glyph_png(KATSU_HI, 40)).size == (40, 40)


@pytest.mark.parametrize("ch", ["\ue000", "\ue757", "\uf8ff", "\U000F0000"])
def test_private_use_is_never_drawn(font, ch):
    assert not glyphs.has_glyph(ch)
    assert glyphs.glyph_png(ch) is None


@pytest.mark.parametrize("ch", ["\U0001F600", "한", "\U00030000"])   # emoji, hangul, CJK Ext. G
def test_code_point_the_font_lacks(font, ch):
    assert not glyphs.has_glyph(ch)
    assert glyphs.glyph_png(ch) is None


def test_not_one_character(font):
    for bad in ("", "葛葛", "\U000E0102", "葛\U000E0102\U000E0103"):
        with pytest.raises(ValueError):
            glyphs.has_glyph(bad)


def test_no_font(monkeypatch, tmp_path):
    monkeypatch.setenv(glyphs.FONT_ENV, str(tmp_path / "missing.ttf"))
    with pytest.warns(UserWarning):
        assert glyphs.font_path() is None
    assert not glyphs.has_glyph("㟢")
    assert glyphs.glyph_png("㟢") is None


def test_override(font, monkeypatch):
    monkeypatch.setenv(glyphs.FONT_ENV, str(font))
    assert glyphs.font_path() == font


def test_mj_name_and_char():
    db = mojidata_path()
    if not db.exists():
        pytest.skip(f"{db}: the MJ文字情報一覧表 is not installed (`python3.11 tasks.py setup` runs npm ci)")
    # 住基ネット統一文字コード and 戸籍統一文字番号 of the same MJ character: one answer
    assert glyphs.mj_name_and_char(db, "J+845B", "349920") == [("MJ022335", KATSU_HI)]
    assert glyphs.mj_name_and_char(db, "j+845b ", None) == [("MJ022335", KATSU_HI)]
    # a character without IVS: its UCS
    assert glyphs.mj_name_and_char(db, None, "093300") == [("MJ000877", "㟢")]
    # two codes, two characters, 住基 first
    assert glyphs.mj_name_and_char(db, "J+37E2", "349920") == [("MJ000877", "㟢"), ("MJ022335", KATSU_HI)]
    assert glyphs.mj_name_and_char(db, "J+0000", "") == []
    assert glyphs.mj_name_and_char(db, None, None) == []
