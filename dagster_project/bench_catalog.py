"""``kikan bench --catalog-scale``: how the project grows with the size of the standard catalog.

The real 基本データリスト are far larger than the 223 items of ``seeds/std_items.csv`` (issue 15,
"Catalog scale"). This module writes a synthetic project of the same shape at several sizes
(items / standard tables) and measures, per size, each step that depends on the catalog:

- **config**: ``load_project`` + ``load_mappings`` (the pydantic and sqlglot validation);
- **generate**: ``dbtgen.generate`` (and again, unchanged);
- **dbt parse**: cold (no ``target/``), then again with partial parsing and nothing changed;
- **definitions**: ``import dagster_project.definitions`` and its asset graph;
- **dbt build**: on a fresh DuckDB warehouse whose raw tables (``rows`` synthetic records per legacy
  file, valid values and some invalid ones) are written by the extract's own writer
  (``write_system_extract``), with the reference character tables;
- **mapping stage (Dagster)**: the same build through the pipeline's ``mapping_stage`` asset.

Each size is a project root of its own (``mappings/``, ``seeds/``, ``dbt/`` copied without
``target/``, ``logs/`` and the generated files) and every step runs in a child process whose
settings (``KIKAN_MAPPINGS_DIR``, ``KIKAN_SEEDS_DIR``, ``KIKAN_DBT_DIR``, ``KIKAN_VAR_DIR``) point
at it, so the project's own loaders and generators write there and never into the repository's
``dbt/``, ``seeds/`` or ``mappings/``. A child's peak resident memory comes from ``wait4``.

The synthetic city (:func:`synthesize`, :func:`write_project`) has the shape of the real one: 20
businesses hosted by ``systems`` current systems, each standard table fed by one legacy file of its
system (fixed-width or CSV), items of the catalog's types in about the catalog's proportions, mapped
from legacy fields by the conversions the real mappings use (和暦 dates in every style and 西暦 ones,
a ``coalesce`` of two dates, vendor codes through code maps with an unmapped code now and then,
zoned and plain amounts, half-width kana, ``replace`` on digits, ``cast`` to integer, constants of
status ``partial``, items with ``no_source``, legacy fields that feed nothing). The resident
register ``juki.jumin`` / ``juki.gaikokujin`` is always there; other tables refer to its 宛名番号
and 世帯番号 (``references.yaml``), some carry a 個人番号. The same arguments write the same files.

The table (markdown and JSON under ``var/bench/catalog_scale/``) gives per step the seconds at each
size, the ratio to the previous size and the fitted exponent (slope of log time on log items); an
exponent above :data:`SUPERLINEAR` is flagged. ``--profile`` adds cProfile of the in-process steps
at every size and lists the functions whose own time or number of calls grows fastest.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dagster_project.core.checkdigits import m11_check_digit, mynumber_check_digit
from dagster_project.core.settings import PROJECT_ROOT, default_var_dir, settings
from dagster_project.core.textcodec import zoned_encode
from dagster_project.core.wareki import format_legacy_date

# (items, standard tables): the real catalog's size first, then about ten times it and more
SIZES = [(223, 30), (750, 75), (1500, 150), (3000, 300), (6000, 600)]
SYSTEMS = 13            # the real city's number of current systems; a city's systems do not grow with its catalog
ROWS = 1000             # legacy records per raw table in the build
SUPERLINEAR = 1.3       # an exponent above this is flagged
SEED = 15
# the repository's own folders, which the benchmark reads and never writes
REPO_DIRS = {"dbt": PROJECT_ROOT / "dbt", "seeds": PROJECT_ROOT / "seeds", "mappings": PROJECT_ROOT / "mappings"}

BUSINESSES = [
    ("juki", "住民基本台帳", False), ("koseki", "戸籍", False), ("fuhyo", "戸籍の附票", False),
    ("inkan", "印鑑登録", False), ("senkyo", "選挙人名簿管理", False), ("kotei", "固定資産税", True),
    ("kojin_jumin", "個人住民税", True), ("hojin_jumin", "法人住民税", True), ("keiji", "軽自動車税", True),
    ("kokuho", "国民健康保険", False), ("nenkin", "国民年金", False), ("shogai", "障害者福祉", False),
    ("kouki", "後期高齢者医療", False), ("kaigo", "介護保険", False), ("jido_teate", "児童手当", False),
    ("jido_fuyo", "児童扶養手当", False), ("kodomo", "子ども・子育て支援", False), ("seiho", "生活保護", False),
    ("kenko", "健康管理", False), ("shugaku", "就学", False),
]
DATE_STYLES = ["era7", "era_letter", "era_dotted", "ymd8", "ymd_slash", "ym6"]
DATE_LENGTH = {"era7": 7, "era_letter": 7, "era_dotted": 10, "ymd8": 8, "ymd_slash": 10, "ym6": 6}
# the kinds of an ordinary item and their weights: about the proportions of seeds/std_items.csv
# (string 52 % of which digits 38, kanji 11, kana 2, alphanumerics 1; date 19; code 17; integer 12)
KINDS = [("digits", 33), ("kanji", 12), ("kana", 3), ("alpha", 2), ("date", 19), ("code", 18), ("integer", 13)]
KANJI = ["中央", "東町", "西区", "北山", "南川", "本町", "大通", "新田", "緑丘", "若葉", "三条", "桜台", "港北",
         "一丁目", "二番", "株式会社", "商店", "事業所", "農園", "学校"]
KANA = ["ｱｵﾊﾞ", "ｻｸﾗ", "ﾐﾄﾞﾘ", "ﾔﾏﾀﾞ", "ｶﾜﾉ", "ﾀﾞｲｺﾞ", "ﾊﾅｺ", "ﾀﾛｳ", "ﾐﾅﾐ", "ｷﾀ"]
ALPHA = ["AOBA", "SAKURA", "MIDORI", "KAWA", "YAMA", "NORTH", "SOUTH", "EAST", "WEST", "CITY"]


# --------------------------------------------------------------------------- the synthetic catalog

@dataclass
class Item:
    column: str
    item_id: str
    name: str
    kind: str                 # digits | kanji | kana | alpha | date | code | integer | ref
    length: int
    required: bool
    key: bool = False
    gaiji: bool = False
    code_table: str | None = None
    status: str = "mapped"    # mapped | partial | no_source
    conversion: str = "plain"  # plain | replace | coalesce | cast | const
    legacy: list[dict] = field(default_factory=list)   # the layout fields that feed it
    vendor_codes: dict[str, str] | None = None          # code items: the layout's code list
    codemap: dict[str, str] | None = None               # code items: vendor code -> standard code


@dataclass
class Table:
    business: str
    table_id: str
    name: str
    system: str
    items: list[Item]
    legacy_only: list[dict] = field(default_factory=list)
    person: bool = False      # the legacy file's person_key is its atena_no
    four_info: dict | None = None

    @property
    def ref(self) -> str:
        return f"{self.business}.{self.table_id}"


@dataclass
class Synthetic:
    systems: list[dict]
    tables: list[Table]
    codes: dict[str, dict[str, str]]        # standard code tables
    system_style: dict[str, tuple[str, str]]  # system -> (format, date style)

    @property
    def items(self) -> int:
        return sum(len(t.items) for t in self.tables)


def _split(total: int, n: int, rng: random.Random, lo: int) -> list[int]:
    """``n`` sizes of at least ``lo`` adding up to ``total``, varied around the mean."""
    mean = total / n
    sizes = [max(lo, round(rng.uniform(0.5, 1.5) * mean)) for _ in range(n)]
    while sum(sizes) != total:
        i = rng.randrange(n)
        if sum(sizes) > total and sizes[i] > lo:
            sizes[i] -= 1
        elif sum(sizes) < total:
            sizes[i] += 1
    return sizes


class _Builder:
    def __init__(self, rng: random.Random, style: tuple[str, str]):
        self.rng = rng
        self.fmt, self.date_style = style
        self.codes: dict[str, dict[str, str]] = {}

    def field(self, name: str, label: str, typ: str, length: int, **kw) -> dict:
        f = {"name": name, "label": label, "type": typ, "length": length}
        f.update({k: v for k, v in kw.items() if v not in (None, False)})
        return f

    def date_field(self, name: str, label: str, **kw) -> dict:
        style = self.date_style if self.rng.random() < 0.7 else self.rng.choice(DATE_STYLES)
        return self.field(name, label, "date", DATE_LENGTH[style], style=style, **kw)

    def item(self, t_index: int, order: int, kind: str, column: str | None = None, *, key=False,
             required=None, name=None, length=None, fed=False) -> Item:
        """One standard item and the legacy field(s) feeding it; ``fed``: always mapped, plainly."""
        rng = self.rng
        column = column or f"{kind[:3]}_{order:03d}"
        item_id = f"{t_index:04d}{order:03d}"
        label = name or f"項目{t_index}-{order}"
        required = (rng.random() < 0.7) if required is None else required
        it = Item(column, item_id, label, kind, 0, required, key=key)
        lf = column
        if kind in ("digits", "ref"):
            it.length = length or rng.choice([5, 8, 10, 12, 15])
            legacy_len = min(it.length, 10) if kind == "ref" else it.length
            typ = "digits"
            if kind == "digits" and not (key or fed) and rng.random() < 0.1:
                it.conversion, typ = "replace", "text"    # e.g. 郵便番号 written with a hyphen
                legacy_len += 1
            it.legacy = [self.field(lf, label, typ, legacy_len)]
        elif kind == "kanji":
            it.length = length or rng.choice([40, 60, 100, 120])
            it.gaiji = rng.random() < 0.5
            it.legacy = [self.field(lf, label, "text", it.length + (20 if rng.random() < 0.1 else 0))]
        elif kind == "kana":
            it.length = length or rng.choice([40, 60, 100])
            it.legacy = [self.field(lf, label, "kana", 60, width="half")]
        elif kind == "alpha":
            it.length = length or 80
            it.legacy = [self.field(lf, label, "alpha", 40)]
        elif kind == "date":
            it.length = 8
            if not fed and rng.random() < 0.08:
                it.conversion = "coalesce"   # 和暦 for some persons, 西暦 for others
                it.legacy = [self.date_field(f"{lf}_w", f"{label}（和暦）"),
                             self.field(f"{lf}_s", f"{label}（西暦）", "date", 8, style="ymd8")]
            else:
                it.legacy = [self.date_field(lf, label)]
        elif kind == "code":
            n = rng.randint(3, 9)
            it.code_table = f"ct{t_index:04d}_{order:03d}"
            std = {f"{k + 1:02d}": f"区分{k + 1}" for k in range(n)}
            self.codes[it.code_table] = std
            it.length = 2
            vendor = {str(k + 1) if n < 10 else f"{k + 1:02d}": f"区分{k + 1}" for k in range(n)}
            it.legacy = [self.field(lf, label, "code", 2, codes=it.code_table)]
            it.vendor_codes = vendor
            cm = {v: f"{i + 1:02d}" for i, v in enumerate(vendor)}
            if rng.random() < 0.2:   # the vendor has a code the standard lacks
                extra = str(n + 1)
                vendor[extra] = "その他（現行独自）"
            it.codemap = cm
        elif kind == "integer":
            it.length = length or rng.choice([9, 11, 13])
            if not fed and rng.random() < 0.2:
                it.conversion = "cast"      # a count kept as digits
                it.legacy = [self.field(lf, label, "digits", 3)]
            else:
                zoned = self.fmt == "fixed"
                it.legacy = [self.field(lf, label, "amount", min(it.length, 11), zoned=zoned)]
        if it.legacy and (required or key):
            it.legacy[0]["required"] = True      # the vendor never leaves it blank
        if not (key or fed) and kind != "ref":
            r = rng.random()
            if r < 0.04:
                it.status, it.legacy, it.conversion = "no_source", [], "plain"
            elif r < 0.08 and kind in ("digits", "kanji"):
                it.status, it.legacy, it.conversion = "partial", [], "const"
        return it


def synthesize(items: int, tables: int, systems: int = SYSTEMS, seed: int = SEED) -> Synthetic:
    """The synthetic catalog and city: ``tables`` standard tables, ``items`` items over them."""
    if tables < 2 or items < 16 + 3 * (tables - 2):
        raise ValueError(f"{items} items cannot fill {tables} tables (at least 3 each, 16 for the register)")
    rng = random.Random(f"{seed}:{items}:{tables}:{systems}")
    # every system exports at least one file: table k (k >= 2) belongs to business k - 1, hosted round robin
    systems = min(systems, len(BUSINESSES), tables - 1)
    sys_ids = [f"sys{k + 1:02d}" for k in range(systems)]
    hosted = {s: [] for s in sys_ids}
    for k, (bid, _, _) in enumerate(BUSINESSES):
        hosted[sys_ids[k % systems]].append(bid)
    host = {b: s for s, bs in hosted.items() for b in bs}
    style = {s: (("fixed" if k % 3 == 2 else "csv"), DATE_STYLES[k % len(DATE_STYLES)]) for k, s in enumerate(sys_ids)}
    # the first two tables: the resident register, which the My Number audit and references need
    sizes = [max(10, round(items / tables))] * 2
    sizes += _split(items - sum(sizes), tables - 2, rng, 3)
    business_of = ["juki", "juki"] + [BUSINESSES[k % len(BUSINESSES)][0] for k in range(1, tables - 1)]
    out: list[Table] = []
    codes: dict[str, dict[str, str]] = {"sex": {"1": "男", "2": "女", "9": "不明"}}
    for ti, (n, bid) in enumerate(zip(sizes, business_of)):
        system = host[bid]
        b = _Builder(rng, style[system])
        if ti == 0:
            t = Table(bid, "jumin", "住民", system, [], person=True)
            specials = [b.item(ti, 1, "ref", "atena_no", key=True, required=True, fed=True, name="宛名番号", length=15),
                        b.item(ti, 2, "digits", "rireki_no", key=True, required=True, fed=True, name="履歴番号", length=5),
                        b.item(ti, 3, "ref", "setai_no", required=True, fed=True, name="世帯番号", length=15),
                        b.item(ti, 4, "kanji", "shimei", required=True, fed=True, name="氏名", length=100),
                        b.item(ti, 5, "date", "birth_date", required=True, fed=True, name="生年月日"),
                        b.item(ti, 6, "code", "sex", required=True, fed=True, name="性別"),
                        b.item(ti, 7, "kanji", "jusho", required=True, fed=True, name="住所", length=120),
                        b.item(ti, 8, "digits", "kojin_bango", required=False, fed=True, name="個人番号", length=12)]
        elif ti == 1:
            t = Table(bid, "gaikokujin", "外国人住民", system, [], person=True)
            specials = [b.item(ti, 1, "ref", "atena_no", key=True, required=True, fed=True, name="宛名番号", length=15),
                        b.item(ti, 2, "digits", "rireki_no", key=True, required=True, fed=True, name="履歴番号", length=5),
                        b.item(ti, 3, "kanji", "tsusho", required=False, fed=True, name="通称", length=60)]
        else:
            t = Table(bid, f"t{ti:03d}", f"標準テーブル{ti}", system, [])
            specials = [b.item(ti, 1, "digits", "kanri_no", key=True, required=True, fed=True, name="管理番号", length=12)]
            if rng.random() < 0.2 and n >= 6:
                specials.append(b.item(ti, 2, "digits", "nendo", key=True, required=True, fed=True, name="年度", length=4))
            if rng.random() < 0.6 and n - len(specials) >= 2:
                specials.append(b.item(ti, len(specials) + 1, "ref", "atena_no", required=True, fed=True, name="宛名番号",
                                       length=15))
                t.person = True
                if rng.random() < 0.15 and n - len(specials) >= 2:
                    specials.append(b.item(ti, len(specials) + 1, "digits", "kojin_bango", required=False,
                                           fed=True, name="個人番号", length=12))
                    if rng.random() < 0.5:
                        t.four_info = {}
                if rng.random() < 0.2 and n - len(specials) >= 2:
                    specials.append(b.item(ti, len(specials) + 1, "ref", "setai_no", required=False,
                                           fed=True, name="世帯番号", length=15))
        if ti == 0:
            sex = specials[5]
            sex.code_table, sex.vendor_codes, sex.codemap = "sex", {"1": "男", "2": "女"}, {"1": "1", "2": "2"}
            sex.legacy[0]["codes"] = "sex"
            specials[4].conversion = "coalesce"
            specials[4].legacy = [b.field("birth_wareki", "生年月日（和暦）", "date", 7, style="era7", pii=True),
                                  b.field("birth_seireki", "生年月日（西暦）", "date", 8, style="ymd8", pii=True)]
            for it in (specials[3], specials[6], specials[7]):
                it.legacy[0]["pii"] = True
        t.items = list(specials)
        kinds, weights = zip(*KINDS)
        for order in range(len(specials) + 1, n + 1):
            t.items.append(b.item(ti, order, rng.choices(kinds, weights)[0]))
        if t.four_info is not None:     # the record's own 4情報, where the legacy file has them
            kanji = next((i for i in t.items if i.kind == "kanji" and i.status == "mapped"), None)
            date = next((i for i in t.items if i.kind == "date" and i.status == "mapped"), None)
            t.four_info = {k: i.legacy[0]["name"] for k, i in (("shimei", kanji), ("birth_date", date)) if i} or None
        # legacy fields that feed nothing (独自項目, 予備)
        for k in range(rng.choice([0, 0, 1, 2])):
            t.legacy_only.append(b.field(f"dokuji_{k + 1}", f"独自項目{k + 1}", "text", 20))
        for it in t.items:
            if it.code_table and it.code_table not in codes:
                codes[it.code_table] = b.codes[it.code_table]
        out.append(t)
    city_systems = [{"id": s, "name": f"現行システム{k + 1}", "businesses": hosted[s],
                     "vendor": f"合成ベンダー{k % 5 + 1}", "owner": f"合成局 所管課{k + 1}", "owner_team": f"team_{s}",
                     "track": "on_schedule", "cutover": dt.date(2027, 1, 4) + dt.timedelta(days=7 * (k % 4))}
                    for k, s in enumerate(sys_ids)]
    return Synthetic(city_systems, out, codes, style)




# --------------------------------------------------------------------------- writing the project root

def _dump(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")


def _csv(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def copy_dbt(dest: Path, synthetic: bool = True) -> None:
    """The repository's dbt project without its target, logs and generated files (``seed-paths:
    ../seeds``); for a synthetic catalog also without ``models/unit_tests.yml``, whose unit tests
    name the real models."""
    skip = ("target", "logs", "generated", "dbt_packages") + (("unit_tests.yml",) if synthetic else ())
    shutil.copytree(REPO_DIRS["dbt"], dest, ignore=shutil.ignore_patterns(*skip))


def _item_mapping(it: Item) -> dict | str:
    """The mapping.yaml entry of one item, as a city's analyst writes it."""
    if it.status == "no_source":
        return {"status": "no_source", "note": "現行システムに該当項目なし（合成）"}
    if it.conversion == "const":
        return {"expr": "'0000000001'" if it.kind == "digits" else "'（合成の定数）'", "status": "partial",
                "note": "定数で補う（合成）"}
    name = it.legacy[0]["name"]
    if it.kind == "code":
        return {"expr": name, "codemap": it.code_table}
    return {"coalesce": f"coalesce({name}, {it.legacy[-1]['name']})", "replace": f"replace({name}, '-', '')",
            "cast": f"cast({name} as integer)"}.get(it.conversion, name)


def write_project(root: Path, syn: Synthetic) -> dict:
    """A whole project root under ``root``: ``mappings/``, ``seeds/``, ``dbt/``, ``var/``. Returns counts."""
    from dagster_project.spec.catalog_import import ITEM_FIELDS

    root = Path(root)
    _check_outside_repository(root)
    shutil.rmtree(root, ignore_errors=True)
    m, s = root / "mappings", root / "seeds"
    # seeds: the catalog, its code tables and ranges are synthetic; the rest is the standard's
    s.mkdir(parents=True)
    for name in ("eras.csv", "finding_rules.csv", "gap_kinds.csv", "charset_extra.csv"):
        shutil.copy2(REPO_DIRS["seeds"] / name, s / name)
    cls = {"digits": "数字", "ref": "数字", "kanji": "漢字", "kana": "カナ", "alpha": "英数", "date": "日付",
           "code": "コード", "integer": "数字"}
    _csv(s / "std_items.csv", ITEM_FIELDS, [
        [t.business, t.table_id, t.name, it.item_id, it.column, it.name,
         {"date": "date", "code": "code", "integer": "integer"}.get(it.kind, "string"), it.length,
         "Y" if it.required else "N", it.code_table or "", cls[it.kind], "Y" if it.gaiji else "N",
         "Y" if it.key else "N", order]
        for t in syn.tables for order, it in enumerate(t.items, start=1)])
    _csv(s / "std_codes.csv", ["code_table", "code", "label"],
         [[ct, c, label] for ct, cs in syn.codes.items() for c, label in cs.items()])
    ranges = [["integer", "0", "", "合成: 負にならない"], ["date", "1868-01-25", "2099-12-31", "合成: 明治から2099年末"]]
    for t in syn.tables[2::7]:       # a few items with a range of their own, as the real file has
        it = next((it for it in t.items if it.kind == "integer"), None)
        if it:
            ranges.append([f"{t.ref}.{it.item_id}", "", "", "合成: マイナスもありうる"])
    _csv(s / "std_item_ranges.csv", ["scope", "min_value", "max_value", "basis_ja"], ranges)

    # mappings: the city, per system its layout, mapping, 外字 table and (empty) gap decisions
    _dump(m / "city.yaml", {
        "city": {"name": "合成市", "name_en": "Synthetic City (catalog-scale benchmark)", "local_gov_code": "271403",
                 "prefecture": "大阪府", "residents": 817000, "as_of": dt.date(2026, 12, 7),
                 "gate_days_before_cutover": 30, "atena_check_digit": "m11w27", "juminhyo_weights": [2, 3, 4, 5, 6, 7]},
        "businesses": [{"id": b, "name": n, **({"tax": True} if tax else {})} for b, n, tax in BUSINESSES],
        "systems": syn.systems})
    for sysd in syn.systems:
        sid = sysd["id"]
        fmt, _ = syn.system_style[sid]
        files, tables, codemaps, layout_codes = [], {}, {}, {}
        for t in (t for t in syn.tables if t.system == sid):
            fields = [f for it in t.items for f in it.legacy] + t.legacy_only
            key = [it.legacy[0]["name"] for it in t.items if it.key]
            for it in t.items:
                if it.kind == "code" and it.status == "mapped":
                    layout_codes[it.code_table] = it.vendor_codes
                    codemaps[it.code_table] = it.codemap
            lf = {"table": t.table_id, "file": f"{t.table_id.upper()}.{'DAT' if fmt == 'fixed' else 'CSV'}",
                  "label": f"{t.name}（現行）", "format": fmt,
                  **({"record_length": sum(f["length"] for f in fields)} if fmt == "fixed" else {"header": True}),
                  "key": key, **({"person_key": "atena_no"} if t.person else {}), "fields": fields}
            files.append(lf)
            tables[t.ref] = {"source": t.table_id, "sample_key": key[0],
                             **({"four_info": t.four_info} if t.four_info else {}),
                             "items": {it.column: _item_mapping(it) for it in t.items}}
        sentinels = {"0000000": "unknown", "9999999": "open", "00000000": "unknown", "99999999": "open"}
        _dump(m / sid / "layout.yaml", {"system": sid, "date_sentinels": sentinels, "files": files,
                                         "codes": layout_codes})
        _dump(m / sid / "mapping.yaml", {"system": sid, "tables": tables, "codemaps": codemaps})
        _dump(m / sid / "gap_decisions.yaml", {"system": sid, "decisions": []})
        _csv(m / sid / "gaiji.csv", ["code", "juki_code", "koseki_no", "ucs", "description"],
             [["F040", "J+5D8D", "", "", "合成"]])
    _csv(m / "gaiji" / "decisions.csv",
         ["system", "code", "decision", "character", "rule", "decided_by", "decided_on", "note"], [])
    refs = [{"table": "juki.gaikokujin", "column": "atena_no", "to": "atena"}]
    for t in syn.tables[2:]:
        cols = {it.column for it in t.items}
        refs += [{"table": t.ref, "column": c, "to": to} for c, to in (("atena_no", "atena"), ("setai_no", "setai"))
                 if c in cols]
    _dump(m / "references.yaml", {
        "key_spaces": {"atena": {"label": "宛名番号", "check_digit": "atena",
                                 "members": [{"table": "juki.jumin", "column": "atena_no"}]},
                       "setai": {"label": "世帯番号", "check_digit": "atena",
                                 "members": [{"table": "juki.jumin", "column": "setai_no"}]}},
        "references": refs,
        "identifiers": {"kojin_bango": {"label": "個人番号", "check_digit": "mynumber"}},
        "unchecked": []})
    shutil.copy2(REPO_DIRS["mappings"] / "readiness.yaml", m / "readiness.yaml")
    copy_dbt(root / "dbt")
    (root / "var").mkdir()
    return {"systems": len(syn.systems), "tables": len(syn.tables), "items": syn.items,
            "legacy_fields": sum(len(it.legacy) for t in syn.tables for it in t.items)
            + sum(len(t.legacy_only) for t in syn.tables),
            "code_tables": len(syn.codes), "references": len(refs)}


def copy_real_project(root: Path) -> dict:
    """The repository's own configuration as a project root (the real catalog, for comparison)."""
    root = Path(root)
    _check_outside_repository(root)
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO_DIRS["mappings"], root / "mappings")
    shutil.copytree(REPO_DIRS["seeds"], root / "seeds")
    copy_dbt(root / "dbt", synthetic=False)
    (root / "var").mkdir()
    with (root / "seeds" / "std_items.csv").open(encoding="utf-8") as fh:
        items = list(csv.DictReader(fh))
    return {"tables": len({(r["business_id"], r["table_id"]) for r in items}), "items": len(items)}


def _check_outside_repository(root: Path) -> None:
    for name, repo in REPO_DIRS.items():
        if (Path(root) / name).resolve() == repo.resolve():
            raise RuntimeError(f"the catalog benchmark never writes into the repository's {name}/")


def settings_env(root: Path) -> dict[str, str]:
    """The environment of a child process: the project's settings point at ``root`` (its
    ``mappings/``, ``seeds/``, ``dbt/``, and ``var/`` for the warehouse and every output); a
    ``KIKAN_*`` location of this process is not passed on, the tools' (MJ文字情報, node) are."""
    root = Path(root)
    _check_outside_repository(root)
    keep = {"KIKAN_MOJIDATA", "KIKAN_NODE_DIR", "KIKAN_GLYPH_FONT"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIKAN_") or k in keep}
    # KIKAN_WAREHOUSE too: dbt run by hand (the build step) attaches only the file it names
    # (mapping/duck_dbt), as kikan run's dbt step gets it from Settings.dbt_env
    env.update(KIKAN_MAPPINGS_DIR=str(root / "mappings"), KIKAN_SEEDS_DIR=str(root / "seeds"),
               KIKAN_DBT_DIR=str(root / "dbt"), KIKAN_VAR_DIR=str(root / "var"),
               KIKAN_WAREHOUSE=str((root / "var" / "warehouse.duckdb").resolve()),
               DAGSTER_HOME=str(root / "var" / "dagster_home"), DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               PYTHONHASHSEED="0")
    return env


# --------------------------------------------------------------------------- the steps, each in a child

def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _profiled(profile: str | None, fn):
    """``fn()`` and its seconds, under cProfile (dumped to ``profile``) when a file is given."""
    import cProfile

    prof = cProfile.Profile() if profile else None
    t = time.perf_counter()
    if prof:
        prof.enable()
    r = fn()
    if prof:
        prof.disable()
        prof.dump_stats(profile)
    return r, time.perf_counter() - t


def child_generate(profile_dir: str | None = None) -> dict:
    """config (load_project + load_mappings), generate, and generate again unchanged, as the settings
    say (this child's point at the project root). Seconds, counts and the peak memory after each."""
    from dagster_project.mapping.dbtgen import generate
    from dagster_project.spec.config import load_project
    from dagster_project.spec.mapping import load_mappings

    def prof(name):
        return str(Path(profile_dir) / f"{name}.prof") if profile_dir else None

    def config():
        project = load_project()
        return project, load_mappings(project)

    out: dict = {}
    (project, mappings), out["config_s"] = _profiled(prof("config"), config)
    out["config_peak_mib"] = _peak_mib()
    (written, _), out["generate_s"] = _profiled(prof("generate"), lambda: generate(project, mappings))
    out["generate_peak_mib"] = _peak_mib()
    (again, _), out["regenerate_s"] = _profiled(prof("regenerate"), lambda: generate(project, mappings))
    out["regenerate_peak_mib"] = _peak_mib()
    gen = [p for p in (settings().dbt_dir / "models" / "generated").rglob("*") if p.is_file()]
    out.update(tables=len(mappings.tables), items=sum(len(t.items) for t in mappings.tables),
               files_written=written, files_rewritten_unchanged=again, generated_files=len(gen),
               generated_bytes=sum(p.stat().st_size for p in gen))
    return out


def child_definitions(profile: str | None = None) -> dict:
    """Load the Dagster definitions (from the parsed manifest) and resolve the asset graph."""
    t0 = time.perf_counter()
    import dagster  # noqa: F401  (its import is not the catalog's)

    import_s = time.perf_counter() - t0

    def load():
        import dagster_project.definitions as d

        return d.defs.resolve_asset_graph()

    graph, secs = _profiled(profile, load)
    return {"import_dagster_s": import_s, "definitions_s": secs, "assets": len(list(graph.get_all_asset_keys())),
            "asset_checks": len(list(graph.asset_check_keys)), "peak_mib": _peak_mib()}


def child_mapping_stage() -> dict:
    """The mapping stage as the pipeline runs it: the ``mapping_stage`` asset (dbt build through
    dagster-dbt, its events streamed, redacted and recorded), alone, in process, on an ephemeral
    instance; the raw tables are in the warehouse already. Its dbt tests are its asset checks; the
    GX check of the standard tables is not run."""
    import dagster as dg

    import dagster_project.definitions as d
    from dagster_project.mapping.dbt_project import prepare

    stage = next(a for a in d.defs.assets if isinstance(a, dg.AssetsDefinition) and a.node_def.name == "mapping_stage")
    prepare()   # as `kikan run` does before the job: the step then finds the project generated and parsed
    t0 = time.perf_counter()
    res = dg.materialize([stage], resources=d.defs.resources, instance=dg.DagsterInstance.ephemeral(),
                         raise_on_error=False)
    kinds = Counter(e.event_type_value for e in res.all_events)
    return {"seconds": time.perf_counter() - t0, "success": res.success, "events": sum(kinds.values()),
            "materializations": kinds["ASSET_MATERIALIZATION"], "checks": kinds["ASSET_CHECK_EVALUATION"]}


def child_charset(db: str) -> dict:
    """The reference character tables (they do not depend on the catalog: written once, copied per size)."""
    from dagster_project.conformance.charset import write_charset

    return write_charset(Path(db))


def child_warehouse(db: str, rows: str, charset: str, seed: str = str(SEED)) -> dict:
    return build_warehouse(Path(db), int(rows), Path(charset), int(seed))


CHILDREN = {"generate": child_generate, "definitions": child_definitions, "mapping-stage": child_mapping_stage,
            "charset": child_charset, "warehouse": child_warehouse}


def run_measured(args: list[str], env: dict, cwd: Path) -> dict:
    """Run a process; its seconds, exit code, own peak memory (``wait4``), stdout and stderr (to
    files, so that a chatty child never blocks on a full pipe)."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(args, env=env, cwd=cwd, stdout=fo, stderr=fe, text=True)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        secs = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        return {"seconds": secs, "returncode": p.returncode, "peak_mib": ru.ru_maxrss / 1024,
                "stdout": fo.read(), "stderr": fe.read()}


def _checked(step: str, r: dict) -> dict:
    if r["returncode"]:
        raise RuntimeError(f"{step} failed (exit {r['returncode']}):\n{r['stdout'][-3000:]}\n{r['stderr'][-3000:]}")
    return r


def run_child(name: str, *args, env: dict, cwd: Path) -> tuple[dict, dict]:
    """One of :data:`CHILDREN` in a process of its own: (its JSON answer, the run's measurements)."""
    r = _checked(name, run_measured([sys.executable, "-m", "dagster_project.bench_catalog", "_child", name,
                                     *map(str, args)], env, cwd))
    return json.loads(r["stdout"].strip().splitlines()[-1]), r


def run_dbt(step: str, cmd: list[str], root: Path, env: dict, check: bool = True) -> dict:
    from dagster_project.mapping.dbt_project import dbt_executable

    d = str(root / "dbt")
    r = run_measured([dbt_executable(), *cmd, "--profiles-dir", d, "--project-dir", d], env, root / "dbt")
    return _checked(step, r) if check else r


# --------------------------------------------------------------------------- the warehouse for the build

class _Values:
    """Legacy values of one field type: mostly valid (written by the project's own formatters), a
    few wrong in the ways the real exports are."""

    def __init__(self, rng: random.Random, layout, persons: int):
        self.rng, self.layout, self.persons = rng, layout, persons
        self.bad = 0.03

    @staticmethod
    def atena(person: int) -> str:
        return f"{person:09d}{m11_check_digit(f'{person:09d}')}"

    @staticmethod
    def mynumber(person: int) -> str:
        base = f"{(person * 7919) % 10**11:011d}"
        return base + str(mynumber_check_digit(base))

    def date(self, style: str) -> str:
        rng = self.rng
        day = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(0, 35000))
        if rng.random() < self.bad:
            return rng.choice(["ABCDEFG", "4310230", "0000000" if style != "ymd8" else "00000000", "13320230"])[
                :DATE_LENGTH[style]]
        return format_legacy_date(day, style)

    def value(self, f, row: int, unique: bool, person: int, item=None) -> str | None:
        """One value of field ``f`` for record ``row`` of person ``person``; ``item``: the standard
        item the field feeds (its length bounds a number string; a ``replace`` gets its hyphen)."""
        rng = self.rng
        if f.name in ("atena_no", "setai_no"):
            p = person if f.name == "atena_no" else (person + 1) // 2
            return self.atena(p)[-f.length:] if rng.random() > self.bad else "12345678"
        if f.name == "kojin_bango":
            return None if rng.random() < 0.1 else self.mynumber(person)
        if f.name == "rireki_no":
            return "1" if rng.random() > 0.01 else "2"
        if unique and f.type == "digits":
            return f"{row:0{f.length}d}"[-f.length:]
        if not (f.required or unique) and rng.random() < 0.05:
            return None
        bad = rng.random() < self.bad
        n = f.length
        if item is not None and item.item.data_type in ("string", "integer"):
            n = min(n, item.item.length)
        if f.type == "digits" or (f.type == "text" and item is not None and "replace(" in (item.expr or "")):
            if bad:
                return "12A4"
            v = str(rng.randrange(10 ** min(n, 9))).zfill(min(n, 9))
            return v[:3] + "-" + v[3:] if f.type == "text" else v
        if f.type == "text":
            if bad:
                return rng.choice(["ｱｲｳ", "中\ue000央", "外" * (f.length // 2 + 1)])
            return rng.choice(KANJI) + rng.choice(KANJI)
        if f.type == "kana":
            return "山田" if bad else rng.choice(KANA) + " " + rng.choice(KANA)
        if f.type == "alpha":
            return "abc" if bad else rng.choice(ALPHA) + " " + rng.choice(ALPHA)
        if f.type == "date":
            return self.date(f.style)
        if f.type == "code":
            codes = list(self.layout.codes[f.codes])
            return "ZZ" if bad else rng.choice(codes)
        if f.type == "amount":
            if bad:
                return "12X4"
            n = rng.randrange(10 ** min(f.length - 1, 9))
            return zoned_encode(n, len(str(n))) if f.zoned else str(n)
        raise ValueError(f.type)




def build_warehouse(db: Path, rows: int, charset: Path, seed: int = SEED) -> dict:
    """A fresh warehouse for ``dbt build`` (the settings say which project): the reference character
    tables (a copy of ``charset``), then per system its raw tables, an empty quarantine and the extract
    bookkeeping, written by the extract's own writer as if ``rows`` records per legacy file had been
    read."""
    import hashlib

    import polars as pl

    from dagster_project.extract.writer import write_system_extract
    from dagster_project.extract.reader import GAIJI_USAGE_SCHEMA, QUARANTINE_SCHEMA, FileExtract, raw_schema
    from dagster_project.spec.config import load_project
    from dagster_project.spec.mapping import load_mappings

    project = load_project()
    mappings = load_mappings(project)
    db.unlink(missing_ok=True)
    shutil.copy2(charset, db)
    n_tables = 0
    for s in project.city.systems:
        layout = project.layouts[s.id]
        extracts = []
        for lf in layout.files:
            rng = random.Random(f"{seed}:{s.id}:{lf.table}")
            vals = _Values(rng, layout, rows)
            unique = next((k for k in reversed(lf.key) if k != "rireki_no" and lf.field(k).type == "digits"), None)
            hints = {f: ri for t in mappings.for_system(s.id) if t.source.table == lf.table
                     for ri in t.items for f in ri.lineage}
            cols: dict[str, list] = {f.name: [] for f in lf.fields}
            for i in range(1, rows + 1):
                person = i if lf.person_key and lf.person_key in lf.key else rng.randint(1, int(rows * 1.02))
                dup = unique and rng.random() < 0.002 and i > 1
                for f in lf.fields:
                    cols[f.name].append(vals.value(f, i - 1 if dup else i, f.name == unique, person,
                                                   hints.get(f.name)))
            width = (lf.record_length or 100) + 2
            frame = pl.DataFrame({**cols, "_record_no": range(1, rows + 1),
                                  "_byte_offset": range(0, rows * width, width), "_overlong": [None] * rows},
                                 schema=raw_schema(lf))
            extracts.append(FileExtract(
                system=s.id, table=lf.table, file_name=lf.file, frame=frame,
                quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), gaiji_usage=pl.DataFrame(schema=GAIJI_USAGE_SCHEMA),
                records_in_file=rows, records_counted=rows, file_bytes=rows * width,
                sha256=hashlib.sha256(f"{s.id}:{lf.table}".encode()).hexdigest(),
                header_lines=1 if lf.header else 0, line_endings={"crlf": rows}))
        write_system_extract(db, s.id, extracts)
        n_tables += len(extracts)
    return {"raw_tables": n_tables, "raw_rows": n_tables * rows, "bytes": db.stat().st_size}


# --------------------------------------------------------------------------- one size

def measure_size(root: Path, label: str, *, rows: int = ROWS, build: bool = True, profile: bool = False,
                 charset: Path | None = None, dagster: bool = True, log=print) -> dict:
    """Every step on the project root ``root`` (already written). Returns the measurements."""
    root = Path(root)
    var = root / "var"
    env = settings_env(root)
    res: dict = {"label": label}
    prof_dir = var / "profile" if profile else None

    # (a) + (b): configuration and generation
    g, _ = run_child("generate", env=env, cwd=root)
    res.update(tables=g["tables"], items=g["items"], generated_files=g["generated_files"],
               generated_bytes=g["generated_bytes"], unchanged_rewrites=g["files_rewritten_unchanged"])
    res["steps"] = {step: {"seconds": g[f"{key}_s"], "peak_mib": g[f"{key}_peak_mib"]}
                    for step, key in (("config", "config"), ("generate", "generate"),
                                      ("generate (unchanged)", "regenerate"))}
    log(f"  [{label}] config {g['config_s']:.2f} s, generate {g['generate_s']:.2f} s "
        f"({g['generated_files']} files, {g['generated_bytes'] / 2**20:.1f} MiB)")

    # (c) dbt parse, cold and with partial parsing
    shutil.rmtree(root / "dbt" / "target", ignore_errors=True)
    for step in ("dbt parse (cold)", "dbt parse (partial)"):
        r = run_dbt(step, ["parse", "--quiet"], root, env)
        res["steps"][step] = {"seconds": r["seconds"], "peak_mib": r["peak_mib"]}
        log(f"  [{label}] {step} {r['seconds']:.1f} s")
    manifest = json.loads((root / "dbt" / "target" / "manifest.json").read_text(encoding="utf-8"))
    res["dbt_nodes"] = {**Counter(n["resource_type"] for n in manifest["nodes"].values()),
                        "source": len(manifest.get("sources") or {})}

    # (d) the Dagster definitions
    d, r = run_child("definitions", env=env, cwd=root)
    res["steps"]["definitions"] = {"seconds": d["definitions_s"], "peak_mib": d["peak_mib"],
                                   "process_s": r["seconds"], "import_dagster_s": d["import_dagster_s"]}
    res.update(assets=d["assets"], asset_checks=d["asset_checks"])
    log(f"  [{label}] definitions {d['definitions_s']:.1f} s ({d['assets']} assets, {d['asset_checks']} checks)")

    # cProfile of (a), (b) and (d) in runs of their own, so that the timed runs above carry no profiler
    if prof_dir:
        prof_dir.mkdir(parents=True, exist_ok=True)
        run_child("generate", prof_dir, env=env, cwd=root)
        run_child("definitions", prof_dir / "definitions.prof", env=env, cwd=root)

    # (e) dbt build on synthetic raw tables; (f) the same through the pipeline's own step
    if build:
        raw = var / "synthetic_raw.duckdb"   # not raw.duckdb: its catalog name would clash with schema raw
        w, r = run_child("warehouse", raw, rows, charset, env=env, cwd=root)
        res["warehouse"] = {**w, "seconds": r["seconds"]}
        shutil.copy2(raw, var / "warehouse.duckdb")
        r = run_dbt("dbt build", ["build", "--quiet", "--log-level-file", "none"], root, env, check=False)
        rr_path = root / "dbt" / "target" / "run_results.json"
        if not rr_path.exists():
            _checked("dbt build", r)
        rr = json.loads(rr_path.read_text(encoding="utf-8"))
        status = Counter(x["status"] for x in rr["results"])
        errors = sorted(x["unique_id"] for x in rr["results"] if x["status"] in ("error", "runtime error"))
        res["steps"]["dbt build"] = {"seconds": r["seconds"], "peak_mib": r["peak_mib"]}
        res["build"] = {"rows_per_table": rows, "statuses": dict(status), "errors": errors[:20],
                        "node_seconds": round(sum(float(x.get("execution_time") or 0) for x in rr["results"]), 1),
                        **node_breakdown(rr)}
        log(f"  [{label}] dbt build {r['seconds']:.1f} s {dict(status)}" + (f" ERRORS {errors[:5]}" if errors else ""))
        if dagster:
            shutil.copy2(raw, var / "warehouse.duckdb")
            m, r = run_child("mapping-stage", env=env, cwd=root)
            res["steps"]["mapping stage (Dagster)"] = {"seconds": m["seconds"], "peak_mib": r["peak_mib"],
                                                       "process_s": r["seconds"]}
            res["dagster_build"] = {k: m[k] for k in ("success", "events", "materializations", "checks")}
            log(f"  [{label}] mapping stage through Dagster {m['seconds']:.1f} s "
                f"({m['materializations']} materializations, {m['checks']} checks, success {m['success']})")
    return res


def _layer(unique_id: str) -> str:
    kind, _, name = unique_id.split(".")[:3]
    if kind != "model":
        return kind
    for prefix in ("stg_", "int_", "std_", "gaps_", "fnd_", "conf_", "recon_", "findings"):
        if name.startswith(prefix):
            # a system's findings ledger and its character ledger apart
            return f"{prefix}*__chars" if name.endswith("__chars") else f"{prefix}*"
    return "other"


def node_breakdown(run_results: dict, top: int = 8) -> dict:
    """Busy seconds of the build by layer (model name prefix; tests, seeds) and the slowest nodes."""
    count: Counter = Counter()
    secs: Counter = Counter()
    nodes = []
    for x in run_results["results"]:
        s = float(x.get("execution_time") or 0)
        layer = _layer(x["unique_id"])
        count[layer] += 1
        secs[layer] += s
        nodes.append((s, x["unique_id"].split(".")[2]))
    nodes.sort(reverse=True)
    return {"layers": {k: {"nodes": count[k], "seconds": round(secs[k], 2)} for k in sorted(count)},
            "slowest": [{"node": n, "seconds": round(s, 2)} for s, n in nodes[:top]]}


# --------------------------------------------------------------------------- the table

STEPS = ["config", "generate", "generate (unchanged)", "dbt parse (cold)", "dbt parse (partial)", "definitions",
         "dbt build", "mapping stage (Dagster)"]


def slope(xs: list[float], ys: list[float | None]) -> float | None:
    """Least-squares slope of log y on log x (the exponent of a power law), over the points with a y."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len({p[0] for p in pts}) < 2:
        return None
    return statistics.linear_regression(*zip(*pts)).slope


def summarize(results: list[dict]) -> dict:
    """Per step: seconds per size, ratio to the previous size, fitted exponent, last-pair exponent."""
    sizes = [r["items"] for r in results]
    steps = {}
    for step in STEPS:
        secs = [r["steps"].get(step, {}).get("seconds") for r in results]
        if all(s is None for s in secs):
            continue
        last = [(x, y) for x, y in zip(sizes, secs) if y][-2:]
        exp_fit, exp_last = slope(sizes, secs), slope(*zip(*last)) if len(last) == 2 else None
        steps[step] = {"seconds": secs, "ratio": [None] + [(b / a if a and b else None) for a, b in zip(secs, secs[1:])],
                       "peak_mib": [r["steps"].get(step, {}).get("peak_mib") for r in results],
                       "exponent": exp_fit, "exponent_last_pair": exp_last,
                       "superlinear": exp_fit is not None and exp_fit > SUPERLINEAR,
                       "superlinear_last_pair": exp_last is not None and exp_last > SUPERLINEAR}
    return {"items": sizes, "tables": [r["tables"] for r in results], "steps": steps}


def markdown(results: list[dict], summary: dict, real: dict | None = None) -> str:
    def f(v, fmt="{:.2f}"):
        return "–" if v is None else fmt.format(v)

    def flag(on):
        return " **super-linear**" if on else ""

    head = [f"{r['items']:,} / {r['tables']}" for r in results]
    lines = ["| step | " + " | ".join(f"{h} s (×prev)" for h in head) + " | exponent (fit) | last pair | peak MiB (largest) |",
             "|---|" + "---:|" * (len(head) + 3)]
    for step, s in summary["steps"].items():
        cells = [f(sec) + (f" (×{f(rat)})" if rat else "") for sec, rat in zip(s["seconds"], s["ratio"])]
        peak = next((p for p in reversed(s["peak_mib"]) if p), None)
        lines.append(f"| {step} | " + " | ".join(cells) + f" | {f(s['exponent'])}{flag(s['superlinear'])} | "
                     f"{f(s['exponent_last_pair'])}{flag(s['superlinear_last_pair'])} | {f(peak, '{:,.0f}')} |")
    lines += ["", "| size (items / tables) | systems | dbt models | dbt tests | assets | asset checks | generated files |"
              " MiB generated | build statuses |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in ([real] if real else []) + results:
        n = r.get("dbt_nodes", {})
        st = ", ".join(f"{k} {v}" for k, v in sorted((r.get("build") or {}).get("statuses", {}).items())) or "–"
        name = f"{r['items']:,} / {r['tables']}" + (" (real)" if r is real else "")
        lines.append(f"| {name} | {r.get('systems', '–')} | {n.get('model', 0)} | {n.get('test', 0)} | {r.get('assets')} | "
                     f"{r.get('asset_checks')} | {r.get('generated_files')} | {r.get('generated_bytes', 0) / 2**20:.1f} | {st} |")
    built = [r for r in results if (r.get("build") or {}).get("layers")]
    if built:
        lines += ["", "dbt build, busy seconds by layer (sum of node execution times):", "",
                  "| layer | " + " | ".join(f"{r['items']:,} / {r['tables']}" for r in built) + " | nodes (largest) |",
                  "|---|" + "---:|" * (len(built) + 1)]
        for k in sorted({k for r in built for k in r["build"]["layers"]}):
            secs = [r["build"]["layers"].get(k, {}).get("seconds") for r in built]
            lines.append(f"| {k} | " + " | ".join(f(x) for x in secs)
                         + f" | {built[-1]['build']['layers'].get(k, {}).get('nodes', '–')} |")
    if real:
        lines += ["", "The real catalog (repository's mappings/ and seeds/, synthetic raw rows), for comparison: "
                  + ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in real["steps"].items())]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- profiles

def profile_growth(results: list[dict], top: int = 45) -> list[dict]:
    """Between the two largest profiled sizes: per function its own time (cProfile tottime) and its
    number of calls, each with its exponent in items. A call count that grows faster than the items
    is an algorithm's (the times of small functions are noisy); the fastest first."""
    import pstats

    profiled = [r for r in results if r.get("profile_dir")]
    if len(profiled) < 2:
        return []
    a, b = profiled[-2], profiled[-1]
    k = math.log(b["items"] / a["items"])
    out = []
    for step in ("config", "generate", "definitions"):
        pa, pb = Path(a["profile_dir"]) / f"{step}.prof", Path(b["profile_dir"]) / f"{step}.prof"
        if not (pa.exists() and pb.exists()):
            continue
        sa, sb = pstats.Stats(str(pa)).stats, pstats.Stats(str(pb)).stats
        total_b = sum(v[2] for v in sb.values()) or 1.0
        for fn, (_, calls_b, tb, _, _) in sb.items():
            _, calls_a, ta, _, _ = sa.get(fn, (0, 0, 0.0, 0, None))
            if calls_b < 1000 and (tb < 0.05 or tb < 0.02 * total_b):
                continue
            out.append({"step": step, "function": f"{Path(fn[0]).name}:{fn[1]} {fn[2]}", "file": fn[0],
                        "tottime_small": round(ta, 3), "tottime_large": round(tb, 3),
                        "calls_small": calls_a, "calls_large": calls_b,
                        "exponent": round(math.log(tb / ta) / k, 2) if ta > 0 and tb > 0 else None,
                        "calls_exponent": round(math.log(calls_b / calls_a) / k, 2) if calls_a else None,
                        "share_large": round(tb / total_b, 3)})
    out.sort(key=lambda x: (-(x["calls_exponent"] or 0), -x["tottime_large"]))
    return out[:top]


# --------------------------------------------------------------------------- the command

def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_child"]:                      # a step in a process of its own (run_child)
        print(json.dumps(CHILDREN[argv[1]](*argv[2:])))
        return 0
    ap = argparse.ArgumentParser(prog="kikan bench --catalog-scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog-scale", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", nargs="+", default=[f"{i}/{t}" for i, t in SIZES[:4]],
                    help="items/tables per size (default: 223/30 750/75 1500/150 3000/300; add 6000/600)")
    ap.add_argument("--systems", type=int, default=SYSTEMS, help=f"current systems (default {SYSTEMS})")
    ap.add_argument("--rows", type=int, default=ROWS, help=f"legacy records per raw table in the build (default {ROWS})")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--no-build", action="store_true", help="skip the warehouse and dbt build")
    ap.add_argument("--no-dagster-build", action="store_true",
                    help="skip the second build through the pipeline's own mapping step (Dagster)")
    ap.add_argument("--real", action="store_true", help="also measure the repository's own catalog, for comparison")
    ap.add_argument("--profile", action="store_true", help="cProfile of config, generate and definitions per size")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default var/bench/catalog_scale)")
    ap.add_argument("--keep", action="store_true", help="keep each size's project root (default: remove after)")
    ap.add_argument("--add", action="store_true",
                    help="add these sizes to the table already in the output folder (a size measured again replaces "
                         "its row); the real catalog's row is kept unless --real")
    a = ap.parse_args(argv)
    out = (a.out or default_var_dir() / "bench" / "catalog_scale").resolve()
    out.mkdir(parents=True, exist_ok=True)
    sizes = [tuple(int(x) for x in s.split("/")) for s in a.sizes]
    charset = out / "charset_tables.duckdb"
    if not a.no_build and not charset.exists():
        run_child("charset", charset, env=dict(os.environ), cwd=out)
    results: list[dict] = []
    real = None
    previous = out / "catalog_scale.json"
    if a.add and previous.exists():
        before = json.loads(previous.read_text(encoding="utf-8"))
        results = [r for r in before["sizes"] if (r["items"], r["tables"]) not in sizes]
        real = before.get("real")
    measure = dict(rows=a.rows, build=not a.no_build, charset=charset, dagster=not a.no_dagster_build)
    if a.real:
        root = out / "real"
        counts = copy_real_project(root)
        print(f"real catalog: {counts['items']} items / {counts['tables']} tables", flush=True)
        real = measure_size(root, "real", **measure)
        real["systems"] = len(yaml.safe_load((root / "mappings" / "city.yaml").read_text(encoding="utf-8"))["systems"])
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    report: dict = {}
    for items, tables in sizes:
        label = f"{items}-{tables}"
        root = out / f"project-{label}"
        t0 = time.perf_counter()
        counts = write_project(root, synthesize(items, tables, a.systems, a.seed))
        synth_s = time.perf_counter() - t0
        print(f"{items} items / {tables} tables / {counts['systems']} systems: synthetic project written in "
              f"{synth_s:.1f} s ({counts['legacy_fields']} legacy fields, {counts['code_tables']} code tables)",
              flush=True)
        r = measure_size(root, label, profile=a.profile, **measure)
        r.update(systems=counts["systems"], synthesize_s=synth_s, synthetic=counts)
        if a.profile:
            keep = out / "profiles" / label
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(root / "var" / "profile", keep)
            r["profile_dir"] = str(keep)
        results = sorted([x for x in results if x["label"] != label] + [r], key=lambda x: x["items"])
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
        report = {"when": dt.datetime.now().isoformat(timespec="seconds"), "rows_per_table": a.rows,
                  "systems": a.systems, "seed": a.seed, "machine": {"cpus": os.cpu_count()}, "sizes": results,
                  "summary": summarize(results), "real": real, "superlinear_threshold": SUPERLINEAR,
                  "profile_growth": profile_growth(results) if a.profile else []}
        (out / "catalog_scale.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        (out / "catalog_scale.md").write_text(markdown(results, report["summary"], real), encoding="utf-8")
    if not report:
        return 0
    print(markdown(results, report["summary"], real))
    flagged = [k for k, s in report["summary"]["steps"].items() if s["superlinear"]]
    print(f"super-linear (exponent > {SUPERLINEAR:.1f}): {', '.join(flagged) or 'none'}")
    if report["profile_growth"]:
        print("\nfastest-growing functions (two largest sizes; exponents in items, of calls and of own time):")
        for p in report["profile_growth"][:15]:
            print(f"  {p['step']:12s} {p['function'][:64]:64s} calls {p['calls_small']:>8} -> {p['calls_large']:>8} "
                  f"(exp {p['calls_exponent']}), {p['tottime_small']:7.3f} -> {p['tottime_large']:7.3f} s "
                  f"(exp {p['exponent']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
