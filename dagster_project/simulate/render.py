"""Render logical frames into a vendor's export bytes, per ``mappings/<system>/layout.yaml``.

The simulator's business logic produces *logical* frames: one column per layout field,
with ISO dates, code labels (the meaning, e.g. 要介護1), full-width kana and Unicode text.
This one renderer turns them into what each vendor's system would write: the legacy date
style, the vendor's code values, half-width kana, zoned decimals, fixed-width byte
positions or CSV with Japanese headers, CP932 with the vendor's 外字 code points. However
many systems the city has, one renderer: the differences are data (the layout, and the vendor
``mappings/city.yaml`` names, whose 外字 ``data/gaiji_spec.yaml`` holds).

Logical value conventions: dates are ``YYYY-MM-DD`` (may be an impossible day such as
2003-02-30), ``""`` (blank), ``@unknown`` / ``@open`` (the system's sentinel) or
``@raw:<literal>`` (written as is: used for planted defects); code fields hold labels, or
``@raw:<code>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from dagster_project.spec.config import Layout, LayoutFile
from dagster_project.core.textcodec import to_halfwidth_kana, zoned_encode
from dagster_project.core.wareki import eras

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class GaijiChar:
    char: str
    fallback: str
    juki: str
    koseki: str
    note: str


@lru_cache(maxsize=1)
def gaiji_spec() -> tuple[dict[str, GaijiChar], dict[str, dict]]:
    spec = yaml.safe_load((DATA / "gaiji_spec.yaml").read_text(encoding="utf-8"))
    pool = {c: GaijiChar(c, **{k: str(v) for k, v in d.items()}) for c, d in spec["pool"].items()}
    return pool, spec["vendors"]


def vendor_gaiji(vendor: str) -> dict[str, tuple[str, str]]:
    """char -> (Shift_JIS code, what the vendor knows) for the vendor of that name (as
    ``mappings/city.yaml`` writes it); none for a vendor the synthetic city does not know."""
    _, vendors = gaiji_spec()
    for v in vendors.values():
        if v["name"] == vendor:
            return {c["char"]: (code, c["knows"]) for code, c in v["codes"].items()}
    return {}


def system_gaiji(system: str, project) -> dict[str, tuple[str, str]]:
    """char -> (Shift_JIS code, what the vendor knows) for one system's vendor."""
    return vendor_gaiji(project.city.system(system).vendor)


def vendor_gaiji_table_rows(system: str, project) -> list[dict]:
    """The rows of ``mappings/<system>/gaiji.csv`` the synthetic vendor publishes."""
    pool, _ = gaiji_spec()
    rows = []
    for char, (code, knows) in sorted(system_gaiji(system, project).items(), key=lambda kv: kv[1][0]):
        if knows == "unlisted":
            continue
        g = pool[char]
        rows.append(
            {
                "code": code,
                "juki_code": g.juki if knows in ("ucs", "juki") else "",
                "koseki_no": g.koseki if knows in ("ucs", "koseki") else "",
                "ucs": char if knows == "ucs" else "",
                "description": g.note if knows != "ucs" else "",
            }
        )
    return rows


class Encoder:
    """CP932 with one system's 外字: the translate tables used before encoding."""

    def __init__(self, system: str, project):
        pool, _ = gaiji_spec()
        self.system = system
        self.codes = system_gaiji(system, project)
        # Multi-code-point keys (IVS sequences) are replaced first, longest first.
        self.seq: list[tuple[str, str]] = []
        single: dict[int, str] = {}
        for char, g in pool.items():
            if char in self.codes:
                repl = bytes.fromhex(self.codes[char][0]).decode("cp932")
            else:
                repl = g.fallback
            if len(char) == 1:
                single[ord(char)] = repl
            else:
                self.seq.append((char, repl))
        self.single = single

    def to_cp932_text(self, s: str) -> str:
        for a, b in self.seq:
            if a in s:
                s = s.replace(a, b)
        return s.translate(self.single)

    def encode_many(self, values: list[str]) -> list[bytes]:
        text = self.to_cp932_text("\n".join(values))
        try:
            data = text.encode("cp932")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{self.system}: simulator produced a character CP932 cannot hold: "
                             f"{exc.object[exc.start:exc.end]!r}") from None
        out = data.split(b"\n")
        assert len(out) == len(values)
        return out

    def count_gaiji(self, col: pl.Series) -> dict[tuple[str, str], int]:
        """(code, knows) -> occurrences of this system's 外字 in a text column."""
        out = {}
        for char, (code, knows) in self.codes.items():
            n = int(col.str.count_matches(char, literal=True).sum() or 0)
            if n:
                out[(code, knows)] = n
        return out


# --------------------------------------------------------------------------- field values

def _render_dates(s: pl.Series, style: str, layout: Layout, length: int) -> pl.Series:
    sentinels: dict[str, str] = {}
    for lit, meaning in layout.date_sentinels.items():
        if len(lit) == length:
            sentinels.setdefault(meaning, lit)
    df = pl.DataFrame({"v": s})
    iso = pl.col("v").str.contains(r"^\d{4}-\d{2}-\d{2}$")
    y = pl.col("v").str.slice(0, 4).cast(pl.Int32, strict=False)
    m = pl.col("v").str.slice(5, 2)
    d = pl.col("v").str.slice(8, 2)
    ymd = pl.col("v").str.replace_all("-", "").cast(pl.Int64, strict=False)
    if style in ("era7", "era_letter", "era_dotted"):
        era_expr = None
        for e in eras():
            start = int(e.start.strftime("%Y%m%d"))
            label = {"era7": str(e.digit), "era_letter": e.letter, "era_dotted": e.name}[style]
            cond = ymd >= start
            era_expr = (
                pl.when(cond).then(pl.struct(lab=pl.lit(label), y0=pl.lit(e.start.year)))
                if era_expr is None
                else pl.when(cond).then(pl.struct(lab=pl.lit(label), y0=pl.lit(e.start.year))).otherwise(era_expr)
            )
        df = df.with_columns(era=era_expr)
        ey = (y - pl.col("era").struct.field("y0") + 1).cast(pl.Utf8).str.zfill(2)
        sep = "." if style == "era_dotted" else ""
        rendered = pl.concat_str([pl.col("era").struct.field("lab"), ey, pl.lit(sep), m, pl.lit(sep), d])
    elif style == "ymd8":
        rendered = pl.concat_str([pl.col("v").str.slice(0, 4), m, d])
    elif style == "ymd_slash":
        rendered = pl.concat_str([pl.col("v").str.slice(0, 4), pl.lit("/"), m, pl.lit("/"), d])
    elif style == "ym6":
        rendered = pl.concat_str([pl.col("v").str.slice(0, 4), m])
    else:  # pragma: no cover - the layout model forbids it
        raise ValueError(style)
    expr = (
        pl.when(iso).then(rendered)
        .when(pl.col("v") == "@unknown").then(pl.lit(sentinels.get("unknown", "")))
        .when(pl.col("v") == "@open").then(pl.lit(sentinels.get("open", "")))
        .when(pl.col("v").str.starts_with("@raw:")).then(pl.col("v").str.slice(5))
        .otherwise(pl.lit(""))
    )
    return df.select(expr.alias(s.name)).to_series()


def _render_codes(s: pl.Series, codes: dict[str, str], where: str) -> pl.Series:
    by_label = {label: code for code, label in codes.items()}
    raw = s.str.starts_with("@raw:")
    plain = s.filter(~raw & (s != ""))
    unknown = sorted(set(plain.unique().to_list()) - set(by_label))
    if unknown:
        raise ValueError(f"{where}: labels not in the vendor's code list: {unknown[:5]}")
    mapped = s.replace(by_label)
    return pl.select(
        pl.when(raw).then(s.str.slice(5)).otherwise(mapped).alias(s.name)
    ).to_series()


def render_fields(frame: pl.DataFrame, layout: Layout, lf: LayoutFile) -> pl.DataFrame:
    """Every field as the vendor's text (before CP932 encoding and padding)."""
    out = {}
    for f in lf.fields:
        where = f"{layout.system}/{lf.table}.{f.name}"
        if f.name not in frame.columns:
            raise ValueError(f"{where}: the simulator did not produce this field")
        s = frame[f.name]
        if f.type == "amount":
            s = s.cast(pl.Int64)
            if f.zoned:
                vals = [zoned_encode(v, f.length) if v is not None else " " * f.length for v in s.to_list()]
                out[f.name] = pl.Series(f.name, vals, dtype=pl.Utf8)
            else:
                out[f.name] = s.cast(pl.Utf8).fill_null("")
            continue
        s = s.cast(pl.Utf8).fill_null("")
        if f.type == "date":
            s = _render_dates(s, f.style, layout, f.length)
        elif f.type == "code":
            s = _render_codes(s, layout.codes[f.codes], where)
        elif f.type == "kana" and f.width == "half":
            s = pl.Series(f.name, to_halfwidth_kana("\n".join(s.to_list())).split("\n")) if len(s) else s
        out[f.name] = s
    return pl.DataFrame(out)


# --------------------------------------------------------------------------- files

def _csv_field(s: pl.Series, quote_all: bool) -> pl.Expr:
    c = pl.col(s.name)
    quoted = pl.concat_str([pl.lit('"'), c.str.replace_all('"', '""', literal=True), pl.lit('"')])
    if quote_all:
        return quoted
    return pl.when(c.str.contains(r'[,"\r\n]')).then(quoted).otherwise(c)


def render_file(frame: pl.DataFrame, layout: Layout, lf: LayoutFile, enc: Encoder) -> bytes:
    fields = render_fields(frame, layout, lf)
    eol = b"\r\n" if lf.line_ending == "crlf" else b"\n"
    n = fields.height
    if lf.format == "csv":
        lines = fields.select(
            pl.concat_str([_csv_field(fields[c], lf.quote_all) for c in fields.columns], separator=",")
        ).to_series().to_list()
        if lf.header:
            head = ",".join(('"' + f.label + '"') if lf.quote_all else f.label for f in lf.fields)
            lines = [head] + lines
        if not lines:
            return b""
        encoded = enc.encode_many(lines)
        return eol.join(encoded) + eol
    if n == 0:
        return b""
    blocks = []
    for f in lf.fields:
        vals = enc.encode_many(fields[f.name].to_list())
        over = [i for i, b in enumerate(vals) if len(b) > f.length]
        for i in over:  # cut at a character boundary, as the vendor's export does
            txt = vals[i].decode("cp932", errors="ignore")
            while len(txt.encode("cp932", errors="replace")) > f.length:
                txt = txt[:-1]
            vals[i] = txt.encode("cp932")
        arr = np.array(vals, dtype=f"S{f.length}").view(np.uint8).reshape(n, f.length).copy()
        arr[arr == 0] = 0x20
        blocks.append(arr)
    blocks.append(np.tile(np.frombuffer(eol, dtype=np.uint8), (n, 1)))
    return np.hstack(blocks).tobytes()
