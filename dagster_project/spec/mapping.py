"""Mappings from legacy data onto the standard data requirements, as data.

``mappings/<system>/mapping.yaml`` says, per standard table (``<business>.<table>`` of
``seeds/std_items.csv``), which legacy table feeds it and, per standard item, the source
expression (DuckDB SQL over the staging columns of that legacy table), an optional code map
and the item's status. Every expression is parsed by sqlglot when the project loads: a
syntax error, an unknown column or a function DuckDB does not have fails with the file and the
item named (and the nearest name, when one is near). sqlglot also
gives the column lineage (which legacy fields feed each item) for the gap report and for
finding legacy fields that feed nothing (独自項目).
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import duckdb
import sqlglot
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlglot import exp

from dagster_project.spec.config import PROJECT_ROOT, ConfigError, Layout, LayoutFile, load_system_file
from dagster_project.spec.config import cached_project
from dagster_project.spec.references import load_references
from dagster_project.core.settings import settings

SEEDS = PROJECT_ROOT / "seeds"   # the repository's; a run reads settings().seeds_dir


# --------------------------------------------------------------------------- the catalog

@dataclass(frozen=True)
class StdItem:
    business_id: str
    table_id: str
    table_name: str
    item_id: str
    column_name: str
    item_name: str
    data_type: str          # string | date | code | integer
    length: int
    required: bool
    code_table: str | None
    char_class: str
    gaiji_allowed: bool
    is_key: bool
    item_order: int


@dataclass
class StdTable:
    business_id: str
    table_id: str
    table_name: str
    items: list[StdItem] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.business_id}.{self.table_id}"

    @property
    def key(self) -> list[str]:
        return [i.column_name for i in self.items if i.is_key]


@dataclass
class Catalog:
    tables: dict[str, StdTable]
    codes: dict[str, dict[str, str]]   # code_table -> code -> label

    def table(self, ref: str) -> StdTable:
        return self.tables[ref]


def load_catalog(seeds: Path | None = None) -> Catalog:
    seeds = seeds or settings().seeds_dir
    tables: dict[str, StdTable] = {}
    path = seeds / "std_items.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        for line_no, r in enumerate(csv.DictReader(fh), start=2):
            try:
                item = StdItem(
                    business_id=r["business_id"], table_id=r["table_id"], table_name=r["table_name"],
                    item_id=r["item_id"], column_name=r["column_name"], item_name=r["item_name"],
                    data_type=r["data_type"], length=int(r["length"]), required=r["required"] == "Y",
                    code_table=r["code_table"] or None, char_class=r["char_class"],
                    gaiji_allowed=r["gaiji_allowed"] == "Y", is_key=r["is_key"] == "Y",
                    item_order=int(r["item_order"]),
                )
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"{path}: line {line_no}: {exc}") from None
            if item.data_type not in ("string", "date", "code", "integer"):
                raise ConfigError(f"{path}: line {line_no}: field data_type: {item.data_type!r}")
            t = tables.setdefault(f"{item.business_id}.{item.table_id}",
                                  StdTable(item.business_id, item.table_id, item.table_name))
            t.items.append(item)
    codes: dict[str, dict[str, str]] = {}
    with (seeds / "std_codes.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            codes.setdefault(r["code_table"], {})[r["code"]] = r["label"]
    for t in tables.values():
        for i in t.items:
            if i.code_table and i.code_table not in codes:
                raise ConfigError(f"{path}: item {i.item_id}: code table {i.code_table!r} is not in std_codes.csv")
    return Catalog(tables, codes)


# --------------------------------------------------------------------------- mapping files

class ItemMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    expr: str | None = None
    codemap: str | None = None
    status: Literal["mapped", "partial", "no_source"] = "mapped"
    note: str = ""

    @model_validator(mode="after")
    def _shape(self) -> "ItemMapping":
        if self.status == "no_source" and self.expr:
            raise ValueError("an item with status no_source has no expr")
        if self.status != "no_source" and not self.expr:
            raise ValueError("a mapped or partial item needs an expr")
        return self


class TableMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str                          # legacy table of this system
    sample_key: str                      # internal key shown in gap samples (never personal data)
    where: str | None = None             # optional filter over the staging columns
    # the record's own 4情報 for the My Number linkage audit, as expressions over the staging
    # columns (keys: shimei, birth_date, sex as the standard code, jusho); what is missing is
    # taken from the register record of the record's 宛名番号
    four_info: dict[Literal["shimei", "birth_date", "sex", "jusho"], str] | None = None
    items: dict[str, ItemMapping | str]

    def item(self, column: str) -> ItemMapping | None:
        v = self.items.get(column)
        if v is None:
            return None
        return ItemMapping(expr=v) if isinstance(v, str) else v


class SystemMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    tables: dict[str, TableMapping] = Field(default_factory=dict)
    codemaps: dict[str, dict[str, str]] = Field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedItem:
    """A standard item with its mapping resolved and its lineage computed."""

    item: "StdItem"
    expr: str | None
    codemap: dict[str, str] | None
    codemap_name: str | None
    status: str
    note: str
    lineage: tuple[str, ...]              # legacy fields (of the source table) feeding the item


@dataclass
class ResolvedTable:
    system: str
    std: StdTable
    source: LayoutFile
    sample_key: str
    where: str | None
    items: list[ResolvedItem]
    four_info: dict[str, str] | None = None


def staging_columns(lf: LayoutFile) -> set[str]:
    cols = {f.name for f in lf.fields} | {"_record_no", "_byte_offset"}
    for f in lf.fields:
        if f.type in ("date", "amount"):
            cols |= {f"{f.name}__raw", f"{f.name}__status"}
    return cols


def _nearest(name: str, names) -> str:
    """``; did you mean 'x'?`` when a known name is close to ``name``, else nothing."""
    near = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.7)
    return f"; did you mean {near[0]!r}?" if near else ""


@lru_cache(maxsize=1)
def duckdb_functions() -> frozenset[str]:
    """Every function name DuckDB knows (scalar, aggregate, macro), lower case."""
    con = duckdb.connect()
    try:
        return frozenset(r[0].lower() for r in con.execute("select distinct function_name from duckdb_functions()")
                         .fetchall())
    finally:
        con.close()


def _parse(expr: str, where: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(expr, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        msg = str(exc).splitlines()[0]
        raise ConfigError(f"{where}: SQL does not parse: {msg} (the position is within the expression "
                          f"{expr!r})") from None
    if tree is None:
        raise ConfigError(f"{where}: empty SQL expression")
    return tree


def lineage_of(expr: str, allowed: set[str], where: str) -> tuple[str, ...]:
    """The staging columns an expression reads; unknown columns are an error naming them."""
    tree = _parse(expr, where)
    if isinstance(tree, (exp.Select, exp.Union)) or tree.find(exp.Select):
        raise ConfigError(f"{where}: a mapping expression is a column expression, not a query")
    cols = sorted({c.name for c in tree.find_all(exp.Column)})
    unknown = [c for c in cols if c not in allowed]
    if unknown:
        raise ConfigError(f"{where}: unknown column(s) {unknown}{_nearest(unknown[0], allowed)} in {expr!r}; "
                          f"the staging table has {sorted(c for c in allowed if not c.startswith('_'))}")
    # a name sqlglot does not know as a function of its own is DuckDB's or nobody's: found here,
    # not when the model fails in the run (whose error text is withheld, as it may quote a value)
    anonymous = {f.name.lower() for f in tree.find_all(exp.Anonymous)}
    fns = sorted(anonymous - duckdb_functions()) if anonymous else []   # DuckDB asked only when needed
    if fns:
        raise ConfigError(f"{where}: DuckDB has no function {fns[0]!r}{_nearest(fns[0], duckdb_functions())} "
                          f"in {expr!r}")
    base = sorted({c.split("__")[0] for c in cols if not c.startswith("_")})
    return tuple(base)


def load_system_mapping(system: str, layout: Layout, catalog: Catalog, root: Path) -> list[ResolvedTable]:
    path = root / system / "mapping.yaml"
    m = load_system_file(SystemMapping, root, system, "mapping.yaml")
    out = []
    for ref, tm in m.tables.items():
        where0 = f"{path}: table {ref}"
        if ref not in catalog.tables:
            raise ConfigError(f"{where0}: not a standard table of seeds/std_items.csv")
        std = catalog.tables[ref]
        try:
            lf = layout.file(tm.source)
        except KeyError:
            raise ConfigError(f"{where0}: source {tm.source!r} is not a table of {system}/layout.yaml") from None
        allowed = staging_columns(lf)
        if tm.sample_key not in allowed:
            raise ConfigError(f"{where0}: sample_key {tm.sample_key!r} is not a column of {tm.source}")
        if lf.field(tm.sample_key).pii:
            raise ConfigError(f"{where0}: sample_key {tm.sample_key!r} is personal data; use an internal key")
        if tm.where:
            lineage_of(tm.where, allowed, f"{where0} where")
        for k, e in (tm.four_info or {}).items():
            lineage_of(e, allowed, f"{where0} four_info.{k}")
        known = {i.column_name for i in std.items}
        extra = sorted(set(tm.items) - known)
        if extra:
            raise ConfigError(f"{where0}: items {extra} are not items of the standard table"
                              f"{_nearest(extra[0], known)} (its items: {sorted(known)})")
        items = []
        for it in std.items:
            im = tm.item(it.column_name)
            wh = f"{path}: item {ref}.{it.column_name} ({it.item_id} {it.item_name})"
            if im is None:
                items.append(ResolvedItem(it, None, None, None, "no_source", "（対応の記載なし）", ()))
                continue
            lin = lineage_of(im.expr, allowed, wh) if im.expr else ()
            cm = None
            if im.codemap:
                if im.codemap not in m.codemaps:
                    raise ConfigError(f"{wh}: codemap {im.codemap!r} is not in codemaps")
                cm = m.codemaps[im.codemap]
                if it.code_table:
                    bad = sorted(set(v for v in cm.values() if v != "") - set(catalog.codes[it.code_table]))
                    if bad:
                        raise ConfigError(f"{wh}: codemap {im.codemap!r} maps to {bad}, "
                                          f"not codes of {it.code_table}")
            elif it.data_type == "code" and im.expr:
                raise ConfigError(f"{wh}: a code item needs a codemap (vendor code -> standard code)")
            items.append(ResolvedItem(it, im.expr, cm, im.codemap, im.status, im.note, lin))
        _check_key(where0, std, lf, items)
        out.append(ResolvedTable(system, std, lf, tm.sample_key, tm.where, items,
                                 dict(tm.four_info) if tm.four_info else None))
    return out


def _check_key(where: str, std: StdTable, lf: LayoutFile, items: list[ResolvedItem]) -> None:
    """The standard key must identify a legacy record: every field of the layout's ``key`` has to
    feed a key item. A per-year legacy file (key 法人番号 + 事業年度) mapped onto a table keyed on
    法人番号 alone made every corporation filed in two years a false duplicate, and hid the real
    one; this stops such a mapping when the project loads, naming the file and the table."""
    key_items = [ri for ri in items if ri.item.is_key]
    covered = set().union(*(set(ri.lineage) for ri in key_items)) if key_items else set()
    missing = [k for k in lf.key if k not in covered]
    if missing:
        labels = "、".join(f"{lf.field(k).label}（{k}）" for k in missing)
        std_key = ", ".join(ri.item.column_name for ri in key_items) or "(none)"
        raise ConfigError(
            f"{where}: the standard key ({std_key}) does not identify a record of {lf.file}, whose key is "
            f"({', '.join(lf.key)}): {labels} feed(s) no key item. Mark the standard item that holds it as a key "
            f"(is_key in seeds/std_items.csv) or map it into a key item")


@dataclass
class MappingSet:
    catalog: Catalog
    tables: list[ResolvedTable]
    references: object = None       # references.ReferencesFile (mappings/references.yaml)

    def for_system(self, system: str) -> list[ResolvedTable]:
        return [t for t in self.tables if t.system == system]


def load_mappings(project, seeds: Path | None = None) -> MappingSet:
    seeds = seeds or settings().seeds_dir
    catalog = load_catalog(seeds)
    tables: list[ResolvedTable] = []
    for s in project.city.systems:
        tables += load_system_mapping(s.id, project.layouts[s.id], catalog, project.root)
    seen: dict[str, str] = {}
    for t in tables:
        if t.std.ref in seen:
            raise ConfigError(f"standard table {t.std.ref} is mapped by both {seen[t.std.ref]} and {t.system}")
        seen[t.std.ref] = t.system
    missing = sorted(set(catalog.tables) - set(seen))
    if missing:
        raise ConfigError(f"standard tables no system maps: {missing}")

    return MappingSet(catalog, tables, load_references(project.root, catalog))


@lru_cache(maxsize=2)
def cached_mappings(root: str | None = None) -> MappingSet:

    return load_mappings(cached_project(root))
