"""Generate the dbt models of the mapping stage from ``mappings/`` and ``seeds/``.

One generator, not hand-written copies: a 14th system or a new standard item is a change
to the data under ``mappings/`` and ``seeds/``, and the SQL follows. ``kikan generate`` writes
it under ``dbt/models/generated/``, ``dbt/macros/generated/`` and ``seeds/code_maps.csv``; the
files are committed (a reviewer reads the SQL that runs, sqlfluff lints it) and
``tests/unit/test_dbt_committed.py`` fails when they are stale. Each file is rendered from a
Jinja2 template of ``templates/``; the shapes the models repeat (the per-item flag, the date
parts, a findings row) are dbt macros of ``dbt/macros/mapping.sql``, and the code maps are the
seed ``code_maps`` the intermediate models join. Files are only rewritten when their content
changes, so dbt's partial parsing stays effective.

Layers (STYLE.md): ``stg_<system>__<legacy table>`` (the only reader of a source; trim,
和暦 → date, half-width → full-width kana, zoned decimal → integer, 外字 decisions),
``int_<business>__<table>`` (the mapping, with a flag per item and value), ``std_<business>
__<table>`` (the standard layout, contract enforced) and ``gaps_<system>__{items,spec,data}``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import textwrap
from collections import defaultdict
from pathlib import Path

import yaml

from dagster_project.conformance.charsql import split_chars_sql
from dagster_project.core.amounts import AMOUNT_PATTERN, ZONED_NEGATIVE, ZONED_PATTERN, ZONED_POSITIVE
from dagster_project.core.names import GEN_MACROS, GEN_MODELS, int_name, q, std_name, stg_name
from dagster_project.core.settings import settings
from dagster_project.core.textcodec import _FULL_TO_HALF
from dagster_project.core.wareki import date_pattern, eras
from dagster_project.mapping.confgen import render_conformance
from dagster_project.mapping.findgen import data_gaps_sql, render_findings
from dagster_project.mapping.recongen import render_recon
from dagster_project.mapping.sqlread import header, macro_call, read_bigint_sql, render, safe_expr
from dagster_project.spec.config import Layout, LayoutFile, Project
from dagster_project.spec.gaiji_decisions import load_gaiji_decisions_checked
from dagster_project.spec.mapping import MappingSet, ResolvedItem, ResolvedTable
from dagster_project.spec.ranges import ItemRange, load_item_ranges

# "string" is VARCHAR on DuckDB and STRING on Spark (Spark refuses a VARCHAR without a length)
SQL_TYPE = {"string": "string", "code": "string", "date": "date", "integer": "bigint"}
# the flags whose value the standard layer leaves empty (readiness/datapackage.NULLED says the same)
NULLED = ("over_length", "date_invalid", "number_invalid", "unmapped_code")
# the code maps of every system's mapping.yaml, as one seed (the intermediate and reconciliation
# models join it; its one source stays mappings/)
CODE_MAPS = Path("seeds") / "code_maps.csv"
CODE_MAP_COLUMNS = ["code_map", "legacy_code", "std_code"]
# the legacy date styles (core/wareki.date_pattern), whose forms go to the generated eras macro
DATE_STYLES = ("era7", "era_letter", "era_dotted", "ymd8", "ymd_slash", "ym6")
# the inputs the files' headers name, relative to the project root
# libyaml's emitter where PyYAML has it: the pure-Python one was most of generation's time at catalog scale
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
CITY, GAIJI, ERAS = "mappings/city.yaml", "mappings/gaiji/decisions.csv", "seeds/eras.csv"


def layout_file(system: str) -> str:
    return f"mappings/{system}/layout.yaml"


def mapping_file(system: str) -> str:
    return f"mappings/{system}/mapping.yaml"


def code_map_id(system: str, name: str) -> str:
    """The code map's name in seeds/code_maps.csv: ``<system>.<codemaps key of its mapping.yaml>``."""
    return f"{system}.{name}"


# --------------------------------------------------------------------------- macros

def kana_macro() -> str:
    """zenkaku_kana(expr): half-width katakana to full-width, voiced marks joined."""
    voiced = sorted((h, chr(f)) for f, h in _FULL_TO_HALF.items() if len(h) == 2)
    # the ASCII space of a half-width kana field becomes the full-width space of a カナ item
    single = [(h, chr(f)) for f, h in _FULL_TO_HALF.items() if len(h) == 1]
    # every piece the DuckDB branch cuts a value into: a single character, or a kana letter
    # (U+FF66-U+FF9D) with the voiced mark after it, which is one character when Unicode has it (ｶﾞ)
    # and else the two widened (ｱﾞ), as the replaces and translate of the Spark branch give them
    width = dict(single)
    pairs = dict(voiced)
    pieces = list(single) + [(chr(x) + m, pairs.get(chr(x) + m, width[chr(x)] + width[m]))
                             for x in range(0xFF66, 0xFF9E) for m in "\uff9e\uff9f"]
    return render("kana.sql.j2", header=header(["dagster_project/core/textcodec.py"], "{#"), voiced=voiced,
                  klass="[" + "".join(h for h, _ in single) + "]", src="".join(h for h, _ in single),
                  dst="".join(f for _, f in single),
                  keys="[" + ", ".join(q(h) for h, _ in pieces) + "]",
                  values="[" + ", ".join(q(f) for _, f in pieces) + "]")


def split_chars_macro() -> str:
    """DuckDB's split_chars(expr), from the one Python spelling the GX suites use too."""
    return render("charsql.sql.j2", header=header(["dagster_project/conformance/charsql.py"], "{#"),
                  body=split_chars_sql("{{ expr }}"))


def eras_macro() -> str:
    """eras(): the era table of seeds/eras.csv, for the date macros of dbt/macros/mapping.sql."""
    rows = [{"code": e.code, "name": e.name, "letter": e.letter, "digit": e.digit, "start": e.start.isoformat(),
             "end": e.end.isoformat() if e.end else None} for e in eras()]
    patterns = [(s, date_pattern(s)) for s in DATE_STYLES]
    return render("eras.sql.j2", header=header([ERAS, "dagster_project/core/wareki.py"], "{#"), eras=rows,
                  patterns=patterns)


def code_maps(mappings: MappingSet) -> dict[str, dict[str, str]]:
    """Every code map of the mappings, by :func:`code_map_id`, in the order the files give them."""
    out: dict[str, dict[str, str]] = {}
    for t in mappings.tables:
        for ri in t.items:
            if ri.codemap is not None:
                out.setdefault(code_map_id(t.system, ri.codemap_name), dict(ri.codemap))
    return out


def code_maps_csv(mappings: MappingSet) -> str:
    """seeds/code_maps.csv: one row per legacy code of every code map (an empty std_code: no value)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CODE_MAP_COLUMNS)
    for name, m in sorted(code_maps(mappings).items()):
        for legacy, std in m.items():
            w.writerow([name, legacy, std])
    return buf.getvalue()


# --------------------------------------------------------------------------- staging

def _gaiji_decisions(root: Path, systems) -> dict[str, list[tuple[str, str]]]:
    """system -> [(PUA character, standard character)] from mappings/gaiji/decisions.csv: the rows
    that validate (a mistaken row is left out and named by that system's gate, never a stopped run)."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in load_gaiji_decisions_checked(systems, root)[0]:
        if d.decision in ("同定", "縮退") and d.character:
            out[d.system].append((bytes.fromhex(d.code).decode("cp932"), d.character))
    return out


def _staging_field(f, layout: Layout, decisions: list[tuple[str, str]]) -> dict:
    """One legacy field in the staging template: its normalized expression and final columns."""
    c = f.name
    n = c
    if f.type in ("text", "kana", "alpha"):
        for pua, ch in decisions:
            n = f"replace({n}, {q(pua)}, {q(ch)})"
    if f.type == "kana":
        n = macro_call("zenkaku_kana", n)
    out = {"name": c, "normalized": c if n == c else f"{n} as {c}", "final": c}
    if f.type == "date":
        out.update(style=f.style)
        unknown = [k for k, v in layout.date_sentinels.items() if v == "unknown"]
        opened = [k for k, v in layout.date_sentinels.items() if v == "open"]
        out["final"] = macro_call("date_columns", c, unknown=unknown or None, open=opened or None)
        out["form"] = macro_call("date_form", c, f.style)
    elif f.type == "amount":
        if f.zoned:
            out["form"] = macro_call("amount_form", c, ZONED_PATTERN, positive=ZONED_POSITIVE,
                                     negative=ZONED_NEGATIVE)
        else:
            out["form"] = macro_call("amount_form", c, AMOUNT_PATTERN)
        out["final"] = macro_call("amount_columns", c)
    return out


def staging_sql(system: str, layout: Layout, lf: LayoutFile, decisions: list[tuple[str, str]]) -> str:
    fields = [_staging_field(f, layout, decisions) for f in lf.fields]
    dates = [f for f in fields if "style" in f]
    default_meiji = next(e.start for e in eras() if e.code == "meiji")
    return render(
        "staging.sql.j2", header=header([layout_file(system), GAIJI]), system=layout.system, label=lf.label,
        file=lf.file, source_table=f"{system}__{lf.table}", fields=fields, dates=dates,
        forms=[f for f in fields if "form" in f],
        decisions=[f"U+{ord(pua):04X} → {ch}" for pua, ch in decisions]
        if any(f.type in ("text", "kana", "alpha") for f in lf.fields) else [],
        groups=[f for f in dates if f["style"] in ("era_dotted", "ymd_slash")],
        meiji_start=layout.meiji_start.isoformat() if layout.meiji_start != default_meiji else None)


# --------------------------------------------------------------------------- intermediate / standard

def _item_mapped(ri: ResolvedItem, lf: LayoutFile) -> list[str]:
    """The select expressions of the ``mapped`` CTE for an item: its value <c>__v, and a code item's
    legacy code <c>__legacy."""
    it = ri.item
    c = it.column_name
    e = safe_expr(ri.expr)
    types = {f.name: f.type for f in lf.fields}
    if ri.codemap is not None:
        # the standard code is joined from seeds/code_maps.csv in the next step (coded)
        return [f"cast({e} as string) as {c}__legacy"]
    if it.data_type == "string":
        return [f"cast({e} as string) as {c}__v"]
    if it.data_type == "integer":
        # a staging amount is a BIGINT already; anything else is read strictly
        bare = ri.expr.strip() in ri.lineage and types.get(ri.expr.strip()) == "amount"
        return [f"{e} as {c}__v" if bare else f"{read_bigint_sql(e)} as {c}__v"]
    return [f"try_cast({e} as date) as {c}__v"]


def _bound(v) -> str | None:
    if v is None:
        return None
    return f"date '{v.isoformat()}'" if hasattr(v, "isoformat") else str(v)


def _item_flag(ri: ResolvedItem, lf: LayoutFile, system: str, rng: ItemRange | None) -> str:
    """The item's kikan.item_flag call. ``rng``: its range (seeds/std_item_ranges.csv); a value
    outside it is flagged out_of_range and kept."""
    it = ri.item
    types = {f.name: f.type for f in lf.fields}
    ranged = rng is not None and it.data_type in ("integer", "date")
    return macro_call(
        "item_flag", it.column_name, it.data_type,
        length=it.length if it.data_type in ("string", "integer") else None,
        fields={f: types.get(f, "") for f in ri.lineage} or None,
        code=(ri.codemap is not None) or None,
        low=_bound(rng.low) if ranged else None, high=_bound(rng.high) if ranged else None,
        required=it.required or None, indent=8, tail=len(f" as {it.column_name}__flag,"))


def int_sql(t: ResolvedTable, ranges: dict | None = None) -> str:
    mapped, flags, items = [], [], []
    for ri in t.items:
        it = ri.item
        items.append({"column": it.column_name, "flagged": ri.expr is not None, "code_map": ri.codemap is not None,
                      "sql_type": SQL_TYPE[it.data_type],
                      # why an item has no source, as the mapping says (the reviewer reads it here)
                      "why": [] if ri.expr is not None else
                      textwrap.wrap(f"{it.item_id} {it.item_name}: {ri.status}: {ri.note or ''}".strip(), 100)})
        if ri.expr is None:
            continue
        mapped += _item_mapped(ri, t.source)
        flags.append({"column": it.column_name,
                      "call": _item_flag(ri, t.source, t.system, (ranges or {}).get((t.std.ref, it.item_id)))})
    return render("intermediate.sql.j2", header=header([mapping_file(t.system), layout_file(t.system)]), std_ref=t.std.ref, table_name=t.std.table_name,
                  system=t.system, source_table=t.source.table, staging=stg_name(t.system, t.source.table),
                  where=t.where, mapped=mapped, flags=flags, items=items, nulled=NULLED, sample_key=t.sample_key,
                  coded=[{"column": ri.item.column_name, "code_map": code_map_id(t.system, ri.codemap_name)}
                         for ri in t.items if ri.expr is not None and ri.codemap is not None])


def std_sql(t: ResolvedTable) -> str:
    return render("standard.sql.j2", header=header([mapping_file(t.system)]), std_ref=t.std.ref,
                  table_name=t.std.table_name, intermediate=int_name(t),
                  columns=[ri.item.column_name for ri in t.items],
                  flagged=[ri.item.column_name for ri in t.items if ri.expr is not None])


def std_yml(t: ResolvedTable) -> dict:
    cols = []
    for ri in t.items:
        it = ri.item
        col = {"name": it.column_name, "data_type": SQL_TYPE[it.data_type],
               "description": f"{it.item_id} {it.item_name}"}
        cols.append(col)
    cols += [
        {"name": "_src_system", "data_type": "string", "description": "移行元システム"},
        {"name": "_src_record_no", "data_type": "bigint", "description": "移行元ファイルの行番号"},
        {"name": "_flags", "data_type": "string", "description": "変換できなかった項目（項目:差異の種類）"},
    ]
    model = {
        "name": std_name(t),
        "description": f"標準データ要件「{t.std.table_name}」({t.std.ref}) — 移行元 {t.system}.{t.source.table}",
        "config": {"contract": {"enforced": True}, "meta": {"system": t.system, "business": t.std.business_id},
                   "tags": [t.system, "standard"]},
        "columns": cols,
    }
    key = t.std.key
    if key:
        model["data_tests"] = [{"kikan_unique_key": {"arguments": {"columns": key}, "config": {"severity": "warn"}}}]
    return model


# --------------------------------------------------------------------------- gaps

ITEM_COLS = ["business_id", "table_id", "table_name", "item_id", "column_name", "item_name", "data_type",
             "std_length", "required", "status", "source_table", "lineage", "expression", "codemap", "note"]


def items_sql(system: str, tables: list[ResolvedTable]) -> str:
    rows = []
    for t in tables:
        labels = {f.name: f.label for f in t.source.fields}
        for ri in t.items:
            it = ri.item
            rows.append((it.business_id, it.table_id, t.std.table_name, it.item_id, it.column_name, it.item_name,
                         it.data_type, it.length, "Y" if it.required else "N", ri.status,
                         f"{system}.{t.source.table}",
                         "、".join(f"{labels[f]}（{f}）" for f in ri.lineage) or None,
                         ri.expr, ri.codemap_name, ri.note or None))
    return render("gaps_items.sql.j2", header=header([mapping_file(system), layout_file(system)]),
                  system=system, rows=rows, columns=ITEM_COLS)


SPEC_COLS = ["gap_id", "gap_kind", "business_id", "table_id", "item_id", "item_name", "source_table",
             "legacy_field", "legacy_value", "detail"]


def spec_sql(system: str, layout: Layout, tables: list[ResolvedTable]) -> str:
    static, code_rows, legacy = [], [], []
    for t in tables:
        types = {f.name: f for f in t.source.fields}
        for ri in t.items:
            it = ri.item
            base = f"{system}:{t.std.ref}.{it.item_id}"
            if ri.status == "no_source" and it.required:
                static.append((f"{base}:required_no_source", "required_no_source", it.business_id, it.table_id,
                               it.item_id, it.item_name, f"{system}.{t.source.table}", None, None,
                               ri.note or "移行元の項目がない"))
            if ri.expr and len(ri.lineage) == 1:
                f = types[ri.lineage[0]]
                if it.data_type == "date" and f.type != "date":
                    static.append((f"{base}:type_conflict", "type_conflict", it.business_id, it.table_id, it.item_id,
                                   it.item_name, f"{system}.{t.source.table}", f.name, None,
                                   f"標準は日付型、現行「{f.label}」は{f.type}"))
                if it.data_type == "integer" and f.type not in ("amount", "digits"):
                    static.append((f"{base}:type_conflict", "type_conflict", it.business_id, it.table_id, it.item_id,
                                   it.item_name, f"{system}.{t.source.table}", f.name, None,
                                   f"標準は数値型、現行「{f.label}」は{f.type}"))
                if it.data_type == "string" and f.length > it.length and ri.expr.strip() == f.name:
                    static.append((f"{base}:length_conflict", "length_conflict", it.business_id, it.table_id,
                                   it.item_id, it.item_name, f"{system}.{t.source.table}", f.name, None,
                                   f"標準{it.length}桁、現行「{f.label}」{f.length}バイト"))
            if ri.codemap is not None and len(ri.lineage) == 1 and types[ri.lineage[0]].codes:
                f = types[ri.lineage[0]]
                for code, label in layout.codes[f.codes].items():
                    if code not in ri.codemap:
                        code_rows.append((f"{base}:code_unmapped:{code}", "code_unmapped", it.business_id,
                                          it.table_id, it.item_id, it.item_name, f"{system}.{t.source.table}",
                                          f.name, code, f"現行コード {code}（{label}）に対応する標準コードがない"))
    # 独自項目: legacy fields that feed no standard item
    by_source: dict[str, set[str]] = defaultdict(set)
    for t in tables:
        for ri in t.items:
            by_source[t.source.table] |= set(ri.lineage)
        by_source[t.source.table] |= {t.sample_key}
    for lf in layout.files:
        for f in lf.fields:
            if f.name not in by_source.get(lf.table, set()):
                legacy.append({"table": lf.table, "field": f.name, "label": f.label,
                               "column": f"{f.name}__raw" if f.type in ("date", "amount") else f.name,
                               "staging": stg_name(system, lf.table)})
    code_gap_id = f"{q(system + ':')} || c.std_ref || '.' || c.item_id || ':code_unmapped:' || c.legacy_value"
    return render("gaps_spec.sql.j2", header=header([mapping_file(system), layout_file(system)]),
                  system=system, static=static, vendor_codes=code_rows, columns=SPEC_COLS, legacy=legacy,
                  ledger=f"fnd_{system}", code_gap_id=code_gap_id)


# --------------------------------------------------------------------------- writing

def sources_yml(project: Project) -> dict:
    reference = {"name": "reference", "schema": "reference",
                 "tables": [{"name": "std_charset"}, {"name": "mj_index"}, {"name": "char_fold"}]}
    tables = []
    for s in project.city.systems:
        for lf in project.layouts[s.id].files:
            tables.append({"name": f"{s.id}__{lf.table}", "description": f"{s.name}「{lf.label}」({lf.file})",
                           "meta": {"system": s.id}})
        tables.append({"name": f"{s.id}__quarantine", "meta": {"system": s.id}})
    meta = {"name": "meta", "schema": "meta",
            "description": "Extract bookkeeping written by every system's extract asset (counts, hashes, 外字 seen)",
            "tables": [{"name": "extract_files", "meta": {"group": "bookkeeping"}},
                       {"name": "gaiji_usage", "meta": {"group": "bookkeeping"}}]}
    return {"version": 2, "sources": [{"name": "raw", "schema": "raw", "tables": tables}, reference, meta]}


def _yml(sources: list[str], models: list[dict]) -> str:
    """A properties file of generated models, sorted by name, with its header."""
    body = {"version": 2, "models": sorted(models, key=lambda m: m["name"])}
    return header(sources, "#") + "\n" + yaml.dump(body, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=116)


def render_all(project: Project, mappings: MappingSet) -> dict[Path, str]:
    """Every generated file, relative to the dbt project (``../seeds/...`` for the code map seed),
    and its content."""
    files: dict[Path, str] = {}
    systems = [s.id for s in project.city.systems]
    layouts = [CITY, "mappings/*/layout.yaml"]
    maps = [CITY, "mappings/*/mapping.yaml"]
    decisions = _gaiji_decisions(project.root, systems)
    files[GEN_MACROS / "kana.sql"] = kana_macro()
    files[GEN_MACROS / "charsql.sql"] = split_chars_macro()
    files[GEN_MACROS / "eras.sql"] = eras_macro()
    files[Path("..") / CODE_MAPS] = code_maps_csv(mappings)
    files[GEN_MODELS / "sources.yml"] = header(layouts, "#") + "\n" + yaml.dump(
        sources_yml(project), Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=116)
    staging_models = []
    for s in project.city.systems:
        layout = project.layouts[s.id]
        for lf in layout.files:
            name = stg_name(s.id, lf.table)
            files[GEN_MODELS / "staging" / s.id / f"{name}.sql"] = staging_sql(s.id, layout, lf, decisions.get(s.id, []))
            staging_models.append({
                "name": name, "description": f"{s.name}「{lf.label}」: 型変換・和暦変換・カナ全角化・外字同定の適用",
                "config": {"meta": {"system": s.id}, "tags": [s.id, "staging"]},
                "columns": [{"name": "_record_no", "data_tests": ["not_null", "unique"]}],
            })
    files[GEN_MODELS / "staging" / "_staging.yml"] = _yml(layouts, staging_models)
    std_models, int_models, gap_models = [], [], []
    ranges = load_item_ranges(mappings.catalog, settings().seeds_dir / "std_item_ranges.csv")
    for t in mappings.tables:
        files[GEN_MODELS / "intermediate" / t.system / f"{int_name(t)}.sql"] = int_sql(t, ranges)
        int_models.append({"name": int_name(t), "config": {"meta": {"system": t.system}, "tags": [t.system]}})
        files[GEN_MODELS / "standard" / t.std.business_id / f"{std_name(t)}.sql"] = std_sql(t)
        std_models.append(std_yml(t))
    for s in systems:
        ts = mappings.for_system(s)
        files[GEN_MODELS / "gaps" / s / f"gaps_{s}__items.sql"] = items_sql(s, ts)
        files[GEN_MODELS / "gaps" / s / f"gaps_{s}__spec.sql"] = spec_sql(s, project.layouts[s], ts)
        files[GEN_MODELS / "gaps" / s / f"gaps_{s}__data.sql"] = data_gaps_sql(s)
        for kind in ("items", "spec", "data"):
            m = {"name": f"gaps_{s}__{kind}", "config": {"meta": {"system": s}, "tags": [s, "gaps"]}}
            if kind != "items":
                m["columns"] = [{"name": "gap_id", "data_tests": ["unique", "not_null"]}]
            gap_models.append(m)
    files[GEN_MODELS / "intermediate" / "_intermediate.yml"] = _yml(maps, int_models)
    files[GEN_MODELS / "standard" / "_standard.yml"] = _yml(maps, std_models)
    files[GEN_MODELS / "gaps" / "_gaps.yml"] = _yml(maps, gap_models)
    for render_layer, layer, sources in ((render_conformance, "conformance", maps),
                                         (render_findings, "findings", maps),
                                         (render_recon, "readiness", maps)):
        layer_files, models = render_layer(project, mappings)
        files.update(layer_files)
        files[GEN_MODELS / layer / f"_{layer}.yml"] = _yml(sources, models)
    return files


def generated_roots(dbt_dir: Path) -> list[Path]:
    """The folders that hold nothing but generated files (a file there that generation does not
    write is stale and removed)."""
    return [dbt_dir / GEN_MODELS, dbt_dir / GEN_MACROS]


def generate(project: Project, mappings: MappingSet, dbt_dir: Path | None = None) -> tuple[int, str]:
    """Write the generated files into ``dbt_dir`` (default: ``settings().dbt_dir``); returns (files
    changed, fingerprint of all content). The code map seed goes to ``<dbt_dir>/../seeds``."""
    dbt_dir = Path(dbt_dir or settings().dbt_dir)
    files = render_all(project, mappings)
    changed = 0
    for root in generated_roots(dbt_dir):
        if root.exists():
            for p in sorted(root.rglob("*")):
                if p.is_file() and p.relative_to(dbt_dir) not in files:
                    p.unlink()
                    changed += 1
    h = hashlib.sha256()
    for rel, content in sorted(files.items()):
        h.update(str(rel).encode() + b"\0" + content.encode())
        p = dbt_dir / rel
        if not p.exists() or p.read_text(encoding="utf-8") != content:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content, encoding="utf-8")
            changed += 1
    return changed, h.hexdigest()
