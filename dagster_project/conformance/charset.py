"""The standard character set (行政事務標準文字), built from field data.

- the MJ文字情報一覧表 (58,862 MJ characters, with their UCS code points and Moji_Joho IVS
  sequences), read from the SQLite file the pinned npm package @mandel59/mojidata ships;
- the non-kanji repertoire and any characters added to 行政事務標準文字 beyond MJ (the ~9,200
  private-use characters of the core-business additions, *assumed* empty until the official
  list is dropped in), from ``seeds/charset_extra.csv``.

An IVS sequence (base + selector U+E0100–E01EF) counts as one character. The result goes to
the warehouse as ``reference.std_charset``; ``reference.mj_index`` keeps, per MJ character, its
住基ネット統一文字コード and 戸籍統一文字番号, which is how a vendor 外字 that cites one of them
finds its standard character (文字同定).
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import polars as pl

from dagster_project.core.settings import settings
from dagster_project.core.warehouse import connect

IVS_RANGE = (0xE0100, 0xE01EF)
from dagster_project.conformance.charsql import SPLIT_PATTERN, split_chars_sql  # noqa: E402,F401  (re-exported)


def mojidata_path() -> Path:
    return settings().mojidata_path


def _mj_rows(path: Path) -> list[tuple]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: the MJ文字情報一覧表 is missing; run `python3.11 tasks.py setup` (npm ci)")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("select MJ文字図形名, 対応するUCS, 実装したUCS, 実装したMoji_JohoコレクションIVS, "
                           "住基ネット統一文字コード, 戸籍統一文字番号 from mji").fetchall()
    finally:
        con.close()


def extra_chars(path: Path | None = None) -> list[tuple[str, str]]:
    path = path or settings().seeds_dir / "charset_extra.csv"
    out = []
    with path.open(encoding="utf-8") as fh:
        for line, r in enumerate(csv.DictReader(fh), start=2):
            first = int(r["first"], 16)
            last = int(r["last"], 16) if r["last"] else first
            if last < first:
                raise ValueError(f"{path}: line {line}: last before first")
            out += [(chr(c), r["name"]) for c in range(first, last + 1)]
    return out


def build_charset(mj_path: Path | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(std_charset, mj_index) frames."""
    rows = _mj_rows(mj_path or mojidata_path())
    chars: dict[str, str] = {}
    index = []
    for mj, corr, impl, ivs, juki, koseki in rows:
        for ch in (impl, corr, ivs):
            if ch:
                chars.setdefault(ch, "MJ")
        index.append({"mj": mj, "ucs": impl or corr, "ivs": ivs, "juki_code": juki, "koseki_no": koseki})
    for ch, name in extra_chars():
        chars.setdefault(ch, f"追加:{name}")
    charset = pl.DataFrame({"ch": list(chars), "source": list(chars.values())})
    return charset, pl.DataFrame(index, schema={"mj": pl.Utf8, "ucs": pl.Utf8, "ivs": pl.Utf8,
                                               "juki_code": pl.Utf8, "koseki_no": pl.Utf8})


def build_fold(mj_path: Path | None = None) -> pl.DataFrame:
    """MJ character -> its 正字 as the MJ縮退マップ (戸籍統一文字情報・親字正字, then JIS包摂規準)
    gives it: used to compare names across systems that degraded 外字 differently."""
    path = mj_path or mojidata_path()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute(
            """with best as (
                   select MJ文字図形名 as mj, 縮退UCS as folded, 1 as pref, ホップ数 as hop
                   from "mjsm_戸籍統一文字情報_親字正字"
                   union all
                   select MJ文字図形名, 縮退UCS, 2, 0 from "mjsm_JIS包摂規準UCS統合規則"
               ), ranked as (
                   select mj, folded, row_number() over (partition by mj order by pref, hop, folded) as rn from best
               )
               select m.実装したUCS, m.対応するUCS, m.実装したMoji_JohoコレクションIVS, r.folded
               from ranked r join mji m on m.MJ文字図形名 = r.mj where r.rn = 1"""
        ).fetchall()
    finally:
        con.close()
    fold: dict[str, str] = {}
    for impl, corr, ivs, folded in rows:
        for ch in (impl, corr, ivs):
            if ch and folded and ch != folded:
                fold.setdefault(ch, folded)
    return pl.DataFrame({"ch": list(fold), "folded": list(fold.values())})


def write_charset(db: Path, mj_path: Path | None = None) -> dict:
    charset, index = build_charset(mj_path)
    fold = build_fold(mj_path)
    with connect(db) as con:
        con.execute("create schema if not exists reference")
        con.register("_c", charset.to_arrow())
        con.execute("create or replace table reference.std_charset as select * from _c")
        con.register("_i", index.to_arrow())
        con.execute("create or replace table reference.mj_index as select * from _i")
        con.register("_f", fold.to_arrow())
        con.execute("create or replace table reference.char_fold as select * from _f")
    return {"characters": charset.height, "mj_characters": index.height, "fold_pairs": fold.height,
            "ivs_sequences": int(index["ivs"].is_not_null().sum())}
