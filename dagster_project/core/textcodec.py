"""Legacy text: CP932 with vendor 外字, half-width katakana, zoned decimal.

Decoding is done in Python because DuckDB's Shift_JIS reader is unreliable for CP932
(DOMAIN.md: it rejects ㈱ and 髙). Python's ``cp932`` codec decodes the user-defined area
0xF040–0xF9FC (the 1,880 code points where 外字 live) to U+E000–U+E757; a vendor 外字
table says what each of those is. Whole columns are decoded in one codec call so that an
817,000-resident city does not pay a Python call per field.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that mean "these bytes were not CP932": surrogate escapes of undecodable bytes,
# and the four single bytes (0xA0, 0xFD–0xFF) and 0x80 that Python's cp932 maps to
# U+F8F0–U+F8F3 and U+0080 although no CP932 text uses them.
UNDECODABLE_RE = re.compile("[\udc80-\udcff\uf8f0-\uf8f3\u0080]")
# The CP932 user-defined area as Python decodes it: vendor 外字.
PUA_RE = re.compile("[\ue000-\ue757]")
SEP = "\n"


def pua_to_sjis(ch: str) -> str:
    """U+E000.. back to the Shift_JIS code the vendor table uses (e.g. 'F040')."""
    return ch.encode("cp932").hex().upper()


def sjis_to_pua(code: str) -> str:
    return bytes.fromhex(code).decode("cp932")


def undecodable_bytes_hex(text: str) -> str:
    """The hex of the bytes a decoded value could not read (for quarantine reasons)."""
    out = []
    for ch in UNDECODABLE_RE.findall(text):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(f"{o - 0xDC00:02X}")
        elif 0xF8F0 <= o <= 0xF8F3:
            out.append({0xF8F0: "A0", 0xF8F1: "FD", 0xF8F2: "FE", 0xF8F3: "FF"}[o])
        else:
            out.append("80")
    return " ".join(out)


# --------------------------------------------------------------------------- kana width

def _build_kana_tables() -> tuple[dict[int, str], dict[str, str]]:
    half_to_full: dict[str, str] = {}
    for cp in range(0xFF61, 0xFFA0):
        h = chr(cp)
        half_to_full[h] = unicodedata.normalize("NFKC", h)
    full_to_half: dict[int, str] = {}
    for h, f in half_to_full.items():
        if len(f) == 1:
            full_to_half.setdefault(ord(f), h)
    dakuten, handakuten = "\uff9e", "\uff9f"
    for cp in range(0x30A0, 0x3100):
        f = chr(cp)
        d = unicodedata.normalize("NFD", f)
        if len(d) == 2 and ord(d[0]) in full_to_half:
            if d[1] == "\u3099":
                full_to_half[cp] = full_to_half[ord(d[0])] + dakuten
            elif d[1] == "\u309a":
                full_to_half[cp] = full_to_half[ord(d[0])] + handakuten
    full_to_half[ord("ヴ")] = "ｳ" + dakuten
    full_to_half[ord("\u3000")] = " "
    return full_to_half, half_to_full


_FULL_TO_HALF, _HALF_TO_FULL = _build_kana_tables()
_HALF_KANA_RE = re.compile("[\uff61-\uff9f]+")


def to_halfwidth_kana(s: str) -> str:
    """Full-width katakana to half-width (ガ -> ｶﾞ), as legacy kana fields hold them."""
    return s.translate(_FULL_TO_HALF)


def to_fullwidth_kana(s: str) -> str:
    """Half-width katakana to full-width, joining voiced marks (ｶﾞ -> ガ). Only kana change."""
    return _HALF_KANA_RE.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), s)


def has_halfwidth_kana(s: str) -> bool:
    return _HALF_KANA_RE.search(s) is not None


# --------------------------------------------------------------------------- zoned decimal

_POS = "{ABCDEFGHI"
_NEG = "}JKLMNOPQR"


def zoned_encode(value: int, length: int) -> str:
    """Zoned decimal as mainframe exports converted to text carry it: the sign is
    over-punched in the last digit ({ or A–I positive, } or J–R negative)."""
    digits = f"{abs(int(value)):0{length}d}"
    if len(digits) > length:
        raise ValueError(f"{value} does not fit {length} zoned digits")
    last = int(digits[-1])
    return digits[:-1] + (_NEG[last] if value < 0 else _POS[last])


# reading zoned decimal is core/amounts.parse_legacy_amount (the staging SQL's reader, in Python)
