"""Pictures of characters for the owner's workbooks (外字同定リスト): each candidate standard
character drawn in IPAmj明朝, the font made for the MJ文字情報一覧表 (Debian's
``fonts-ipamj-mincho``, installed by ``tasks.py``), with its Moji_Joho IVS honoured.

- ``font_path()``: the font file, or None when it is not installed (the workbook then says the
  glyph cannot be drawn). ``KIKAN_GLYPH_FONT`` overrides the search.
- ``has_glyph(ch)``: whether the font really has the character. ``ch`` is one character: a base
  code point, optionally followed by one variation selector (an IVS sequence counts as one
  character, as in ``reference.std_charset``). Read from the font's own character map (cmap
  formats 4/12 for code points, format 14 for variation sequences), so an IVS the font does not
  define is not taken for its base character. Private-use code points (U+E000–U+F8FF, planes
  15–16) are never drawable: there they are the vendor's own glyphs, not the font's.
- ``glyph_png(ch, px=48)``: a ``px`` × ``px`` PNG, black on white, the em box centred; None
  when there is no font or the font lacks the character. The IVS is honoured when Pillow's raqm
  layout engine is available (``renders_ivs()``); without it the base character is drawn.
- ``mj_name_and_char(mj_db, juki_code, koseki_no)``: (MJ文字図形名, character incl. IVS) for
  the codes a vendor 外字 table row cites, from the same MJ index as ``reference.mj_index``
  (``charset.build_charset``) and the same choice of character as the 外字同定リスト.

Renderings are cached per (font, character, size); FreeType faces are not thread-safe, so
drawing holds a lock.
"""

from __future__ import annotations

import bisect
import io
import shutil
import struct
import subprocess
import threading
import warnings
from functools import lru_cache
from pathlib import Path

from dagster_project.core.settings import settings
from dagster_project.conformance.charset import build_charset

FONT_ENV = "KIKAN_GLYPH_FONT"
DEBIAN_FONT = Path("/usr/share/fonts/truetype/ipamj/ipamjm.ttf")   # fonts-ipamj-mincho
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))

_SELECTORS = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF))   # SVS, IVS
_PRIVATE = ((0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD))
_LOCK = threading.Lock()


# --------------------------------------------------------------------------- the font file

def font_path() -> Path | None:
    """IPAmj明朝's file: ``$KIKAN_GLYPH_FONT`` when set, else the Debian package's file, else
    any ``ipamjm*.ttf`` under the font folders, else what fontconfig knows as IPAmj明朝."""
    override = settings().glyph_font
    if override:
        p = Path(override)
        if p.is_file():
            return p
        _warn_once(f"{FONT_ENV}={override} is not a file: characters cannot be drawn")
        return None
    return _discover()


@lru_cache(maxsize=1)
def _warn_once(msg: str) -> None:
    warnings.warn(msg, stacklevel=3)


@lru_cache(maxsize=1)
def _discover() -> Path | None:
    if DEBIAN_FONT.is_file():
        return DEBIAN_FONT
    for d in FONT_DIRS:
        if d.is_dir():
            found = sorted(d.rglob("ipamjm*.ttf"))
            if found:
                return found[0]
    fc = shutil.which("fc-list")
    if fc:
        try:
            out = subprocess.run([fc, ":family=IPAmj明朝", "file"], capture_output=True, text=True,
                                 timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in sorted(out.splitlines()):
            p = Path(line.strip().rstrip(":"))
            if p.is_file():
                return p
    return None


# --------------------------------------------------------------------------- what the font has

def _split(ch: str) -> tuple[int, int | None]:
    """(base, selector or None) of one character; anything else is a caller's error."""
    cps = [ord(c) for c in ch]
    sel = cps[1] if len(cps) == 2 else None
    if not cps or len(cps) > 2 or _in(cps[0], _SELECTORS) or (len(cps) == 2 and not _in(sel, _SELECTORS)):
        raise ValueError(f"{ch!r} is not one character (a code point, optionally with one variation selector)")
    return cps[0], sel


def _in(cp: int, ranges) -> bool:
    return any(a <= cp <= b for a, b in ranges)


class _Cmap:
    """The code points and variation sequences a font maps to a real glyph (not .notdef)."""

    def __init__(self, chars: set[int], default_uvs: dict[int, list[tuple[int, int]]],
                 mapped_uvs: dict[int, set[int]]):
        self.chars = chars
        self.default_uvs = default_uvs      # selector -> sorted (first, last) base ranges
        self.mapped_uvs = mapped_uvs        # selector -> bases with a glyph of their own

    def has(self, base: int, sel: int | None) -> bool:
        if sel is None:
            return base in self.chars
        if base in self.mapped_uvs.get(sel, ()):
            return True
        ranges = self.default_uvs.get(sel, [])
        i = bisect.bisect_right(ranges, (base, 0x10FFFF)) - 1
        return i >= 0 and ranges[i][0] <= base <= ranges[i][1] and base in self.chars


def _read_cmap(path: Path) -> _Cmap:
    """Parse the sfnt ``cmap`` table (TrueType / OpenType, first face of a collection)."""
    data = path.read_bytes()
    base = 0
    if data[:4] == b"ttcf":
        base = struct.unpack_from(">I", data, 12)[0]
    num_tables = struct.unpack_from(">H", data, base + 4)[0]
    cmap = None
    for i in range(num_tables):
        tag, _, offset, _ = struct.unpack_from(">4sIII", data, base + 12 + 16 * i)
        if tag == b"cmap":
            cmap = offset
    if cmap is None:
        raise ValueError(f"{path}: no cmap table")
    subtables = {}
    for i in range(struct.unpack_from(">H", data, cmap + 2)[0]):
        plat, enc, off = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        subtables[(plat, enc)] = cmap + off
    chars: set[int] = set()
    full = next((subtables[k] for k in ((3, 10), (0, 6), (0, 4)) if k in subtables), None)
    bmp = next((subtables[k] for k in ((3, 1), (0, 3), (0, 1), (0, 0)) if k in subtables), None)
    if full is not None and struct.unpack_from(">H", data, full)[0] == 12:
        n = struct.unpack_from(">I", data, full + 12)[0]
        for g in range(n):
            first, last, gid = struct.unpack_from(">III", data, full + 16 + 12 * g)
            chars.update(range(first + (gid == 0), last + 1))
    elif bmp is not None and struct.unpack_from(">H", data, bmp)[0] == 4:
        seg2 = struct.unpack_from(">H", data, bmp + 6)[0]
        ends_at = bmp + 14
        starts_at = ends_at + seg2 + 2
        deltas_at, ranges_at = starts_at + seg2, starts_at + 2 * seg2
        for s in range(seg2 // 2):
            end, start = (struct.unpack_from(">H", data, a + 2 * s)[0] for a in (ends_at, starts_at))
            delta = struct.unpack_from(">h", data, deltas_at + 2 * s)[0]
            roff = struct.unpack_from(">H", data, ranges_at + 2 * s)[0]
            for c in range(start, min(end, 0xFFFE) + 1):
                if roff == 0:
                    gid = (c + delta) & 0xFFFF
                else:
                    gid = struct.unpack_from(">H", data, ranges_at + 2 * s + roff + 2 * (c - start))[0]
                    gid = (gid + delta) & 0xFFFF if gid else 0
                if gid:
                    chars.add(c)
    else:
        raise ValueError(f"{path}: no Unicode cmap of format 4 or 12")
    default_uvs: dict[int, list[tuple[int, int]]] = {}
    mapped_uvs: dict[int, set[int]] = {}
    uvs = subtables.get((0, 5))
    if uvs is not None and struct.unpack_from(">H", data, uvs)[0] == 14:
        for r in range(struct.unpack_from(">I", data, uvs + 6)[0]):
            at = uvs + 10 + 11 * r
            sel = int.from_bytes(data[at:at + 3], "big")
            d_off, m_off = struct.unpack_from(">II", data, at + 3)
            if d_off:
                n = struct.unpack_from(">I", data, uvs + d_off)[0]
                rs = []
                for k in range(n):
                    a = uvs + d_off + 4 + 4 * k
                    first = int.from_bytes(data[a:a + 3], "big")
                    rs.append((first, first + data[a + 3]))
                default_uvs[sel] = sorted(rs)
            if m_off:
                n = struct.unpack_from(">I", data, uvs + m_off)[0]
                mapped_uvs[sel] = {int.from_bytes(data[uvs + m_off + 4 + 5 * k:uvs + m_off + 7 + 5 * k], "big")
                                   for k in range(n)}
    return _Cmap(chars, default_uvs, mapped_uvs)


@lru_cache(maxsize=4)
def _cmap(path: str, mtime: float) -> _Cmap | None:
    try:
        return _read_cmap(Path(path))
    except (ValueError, struct.error, IndexError, OSError) as e:
        _warn_once(f"{path}: cannot read the character map ({e}); falling back to comparing renderings")
        return None


def has_glyph(ch: str) -> bool:
    """Whether IPAmj明朝 has this character (base + variation selector counts as one); False
    for private-use code points and when the font is not installed."""
    base, sel = _split(ch)
    if _in(base, _PRIVATE):
        return False
    path = font_path()
    if path is None:
        return False
    cmap = _cmap(str(path), path.stat().st_mtime)
    if cmap is not None:
        return cmap.has(base, sel)
    # no readable cmap: a base character is missing when it draws as the font's .notdef
    return _mask(str(path), chr(base)) != _mask(str(path), "\U0010FFFF")


@lru_cache(maxsize=4096)
def _mask(path: str, text: str) -> bytes:
    f = _font(path, 64, False)
    with _LOCK:
        m = f.getmask(text)
        return bytes(m.size) + bytes(m)


# --------------------------------------------------------------------------- drawing

def renders_ivs() -> bool:
    """Whether variation selectors are honoured when drawing (Pillow's raqm layout, which
    needs libraqm / FriBiDi); without it ``glyph_png`` draws the base character."""
    from PIL import features

    return bool(features.check("raqm"))


@lru_cache(maxsize=32)
def _font(path: str, size: int, raqm: bool):
    from PIL import ImageFont

    engine = ImageFont.Layout.RAQM if raqm else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, size, layout_engine=engine)


def glyph_png(ch: str, px: int = 48) -> bytes | None:
    """A ``px`` × ``px`` PNG of ``ch`` in IPAmj明朝 (black on white, centred on its em box),
    or None when the font is missing or lacks the character."""
    if px < 8:
        raise ValueError(f"px={px}: too small to show a character")
    if not has_glyph(ch):
        return None
    path = font_path()
    if path is None:
        return None
    return _render(str(path), path.stat().st_mtime, ch, px, renders_ivs())


@lru_cache(maxsize=8192)
def _render(path: str, mtime: float, ch: str, px: int, raqm: bool) -> bytes:
    from PIL import Image, ImageDraw

    text = ch if raqm else ch[0]   # without raqm a selector would draw as .notdef
    margin = max(1, px // 16)
    font = _font(path, px - 2 * margin, raqm)
    img = Image.new("L", (px, px), 255)
    with _LOCK:
        # anchor "mm": the middle of the advance and of ascender..descender, i.e. the em box
        ImageDraw.Draw(img).text((px / 2, px / 2), text, font=font, fill=0, anchor="mm")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- MJ look-up

def mj_name_and_char(mj_db: Path, juki_code: str | None, koseki_no: str | None) -> list[tuple[str, str]]:
    """(MJ文字図形名, character incl. IVS) for the 住基ネット統一文字コード and the 戸籍統一文字番号
    a vendor 外字 table row cites, in that order, without repeats. The character is the
    Moji_Joho IVS sequence where MJ has one, else its UCS: as in the 外字同定リスト."""
    by_juki, by_koseki = _mj_index(str(mj_db), Path(mj_db).stat().st_mtime)
    out: list[tuple[str, str]] = []
    if juki_code and juki_code.strip():
        hit = by_juki.get(juki_code.strip().upper())
        if hit:
            out.append(hit)
    if koseki_no and koseki_no.strip():
        hit = by_koseki.get(koseki_no.strip())
        if hit and hit not in out:
            out.append(hit)
    return out


@lru_cache(maxsize=2)
def _mj_index(mj_db: str, mtime: float) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    # the same index as reference.mj_index (charset.build_charset), read from the same file

    _, index = build_charset(Path(mj_db))
    by_juki: dict[str, tuple[str, str]] = {}
    by_koseki: dict[str, tuple[str, str]] = {}
    for r in index.iter_rows(named=True):
        ch = r["ivs"] or r["ucs"]
        if not ch:
            continue
        if r["juki_code"]:
            by_juki.setdefault(r["juki_code"].upper(), (r["mj"], ch))
        if r["koseki_no"]:
            by_koseki.setdefault(r["koseki_no"], (r["mj"], ch))
    return by_juki, by_koseki
