"""Planted defects, at configurable rates, with a ground-truth record of each.

Logical defects change the frames before rendering (duplicate keys, orphan references,
check digits, unidentified 外字, unmapped codes, impossible dates, values outside the item's
range, wrong-person My Number links); byte defects change the rendered file (truncated and
overlong fixed-width records, undecodable bytes). Each planted defect is recorded with its
system, table, field and the physical record number it lands on, so tests can compare what the
pipeline finds with what was planted. The pipeline itself never reads this record.

``data/defects.yaml`` names a target by its logical table (``<business>.<table>[.<field>]``, see
:mod:`businesses`), not by the system that exports it: a table moved to another system takes its
planted defects along.

Defects never overlap: a row carries at most one, and byte defects avoid rows holding 外字,
so every planted count is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from dagster_project.core.checkdigits import m11_check_digit
from dagster_project.core.textcodec import to_halfwidth_kana
from dagster_project.spec.config import Layout
from dagster_project.simulate.population import Population, rng_for
from dagster_project.simulate.businesses import TABLE_BUILDERS, table_homes
from dagster_project.simulate.render import DATA

DEFECT_COL = "_defect"
_GAIJI_BYTE = re.compile(rb"[\xf0-\xf9]")


def load_spec(path: Path | None = None) -> dict:
    return yaml.safe_load((path or DATA / "defects.yaml").read_text(encoding="utf-8"))


def expand_targets(spec: dict, project, systems: list[str]) -> dict:
    """Every target as ``<system>.<table>[.<field>]`` of the given systems.

    A target written as a place is a logical table (``<business>.<table>[.<field>]``), planted in
    whichever system's layout hosts that table (a table no given system hosts is left out).
    Targets written as a word name every place the configuration can hold the defect:

    - ``every_reference``: every declared reference of ``mappings/references.yaml`` (its legacy
      field), except a table that is itself a member of the key space it refers to (the tax
      宛名 refers to the register unless it is a 住登外 row, which is the member);
    - ``every_check_digit:<rule>``: every legacy field feeding a standard column whose values
      carry that check digit (``mynumber``, ``hojin``, ``juminhyo``);
    - ``every_key``: every legacy file (its declared ``key``);
    - ``every_csv_field``: every text, kana and alphabet field of every CSV file (its declared
      byte length). Codes, dates and amounts are rendered from labels and numbers, and digits are
      checked for form at extraction; the unit tests of the extractor plant those by hand.

    The places come from the same data the pipeline reads; what is planted there, and where,
    is decided here and written to the manifest, which the pipeline never reads."""
    from dagster_project.spec.mapping import load_mappings
    from dagster_project.spec.references import checked_ids

    mappings = load_mappings(project)
    by_ref = {t.std.ref: t for t in mappings.tables}
    refs = mappings.references

    def legacy_field(table: str, column: str) -> tuple[str, str, str] | None:
        t = by_ref[table]
        ri = next(ri for ri in t.items if ri.item.column_name == column)
        if t.system not in systems or len(ri.lineage) != 1 or ri.expr.strip() != ri.lineage[0]:
            return None
        return t.system, t.source.table, ri.lineage[0]

    homes = table_homes(project, systems)

    def hosted(cls: str, path: str) -> str | None:
        business, table, *field_ = path.split(".")
        if f"{business}.{table}" not in TABLE_BUILDERS:
            raise ValueError(f"defects.yaml {cls}: {path}: the simulator builds no table {business}.{table} "
                             "(a target is <business>.<table>[.<field>])")
        home = homes.get(f"{business}.{table}")
        return ".".join([*home, *field_]) if home else None

    out = {}
    for cls, body in spec.items():
        tg = body.get("targets") if isinstance(body, dict) else None
        if isinstance(tg, dict):
            out[cls] = {**body, "targets": {h: arg for path, arg in tg.items() if (h := hosted(cls, path))}}
            continue
        if isinstance(tg, list):
            out[cls] = {**body, "targets": [h for path in tg if (h := hosted(cls, path))]}
            continue
        if not isinstance(tg, str):
            out[cls] = body
            continue
        places: list[str] = []
        if tg == "every_reference":
            for r in refs.references:
                members = {m.table for m in refs.key_spaces[r.to].members}
                f = legacy_field(r.table, r.column)
                if f and r.table not in members:
                    places.append(".".join(f))
        elif tg.startswith("every_check_digit:"):
            rule = tg.split(":", 1)[1]
            for c in checked_ids(refs, mappings.catalog):
                f = legacy_field(c.table, c.column) if c.rule == rule else None
                if f:
                    places.append(".".join(f))
        elif tg == "every_key":
            places = [f"{s}.{lf.table}" for s in systems for lf in project.layouts[s].files]
        elif tg == "every_csv_field":
            places = [f"{s}.{lf.table}.{f.name}" for s in systems for lf in project.layouts[s].files
                      if lf.format == "csv" for f in lf.fields if f.type in ("text", "kana", "alpha")]
        else:
            raise ValueError(f"defects.yaml {cls}: unknown targets word {tg!r}")
        out[cls] = {**body, "targets": sorted(set(places))}
    return out


def _count(rate: float, rows: int, scale: float) -> int:
    if rate * scale <= 0 or rows == 0:
        return 0
    return max(1, int(round(rate * scale * rows)))


@dataclass
class Planter:
    seed: int
    scale: float
    spec: dict
    records: list[dict] = field(default_factory=list)

    def rng(self, purpose: str) -> np.random.Generator:
        return rng_for(self.seed, "defect:" + purpose)

    def n(self, cls: str, rows: int) -> int:
        return _count(float(self.spec[cls]["rate"]), rows, self.scale)

    def note(self, cls: str, system: str, table: str, field_: str | None, row: int | None, **detail):
        self.records.append({"class": cls, "system": system, "table": table, "field": field_,
                             "row": row, **detail})


def _drop_first_char(s: str) -> str:
    """The string without its first character, an IVS selector (U+E0100–E01EF) included."""
    rest = s[1:]
    while rest and 0xE0100 <= ord(rest[0]) <= 0xE01EF:
        rest = rest[1:]
    return rest


def _free_rows(df: pl.DataFrame, mask: np.ndarray | None = None) -> np.ndarray:
    free = df[DEFECT_COL].is_null().to_numpy()
    if mask is not None:
        free &= mask
    return np.nonzero(free)[0]


def _mark(df: pl.DataFrame, rows: np.ndarray, cls: str) -> pl.DataFrame:
    m = np.zeros(df.height, dtype=bool)
    m[rows] = True
    return df.with_columns(
        pl.when(pl.Series(m)).then(pl.lit(cls)).otherwise(pl.col(DEFECT_COL)).alias(DEFECT_COL))


def _set(df: pl.DataFrame, col: str, rows: np.ndarray, values: list) -> pl.DataFrame:
    s = df[col].to_list()
    for r, v in zip(rows.tolist(), values):
        s[r] = v
    return df.with_columns(pl.Series(col, s, dtype=df[col].dtype))


def plant_population(pop: Population, pl_: Planter) -> None:
    """宛名番号 issued with a wrong check digit: the same wrong number in every system."""
    k = pl_.n("invalid_atena_no", pop.persons.filter(pl.col("resident")).height)
    if not k:
        return
    rng = pl_.rng("invalid_atena_no")
    cand = np.nonzero(pop.persons["resident"].to_numpy())[0]
    rows = np.sort(rng.choice(cand, k, replace=False))
    existing = set(pop.persons["atena_no"].to_list())
    mapping = {}
    for r in rows.tolist():
        old = pop.persons["atena_no"][r]
        mapping[old] = new = _wrong_check_digit(old, existing)
        pl_.note("invalid_atena_no", "*", "*", "atena_no", None, atena_no=new)
    for attr in ("persons", "history"):
        df = getattr(pop, attr)
        setattr(pop, attr, df.with_columns(pl.col("atena_no").replace(mapping)))
    _plant_setai(pop, pl_)


def _wrong_check_digit(old: str, existing: set[str]) -> str:
    """``old`` with another last digit that no one holds yet (taken into ``existing``)."""
    for bump in range(1, 10):
        new = old[:-1] + str((int(old[-1]) + bump) % 10)
        if new not in existing:
            break
    existing.add(new)
    return new


def _plant_setai(pop: Population, pl_: Planter) -> None:
    """世帯番号 issued with a wrong check digit: the same wrong number for every member, in every
    system that holds the household's number."""
    if "invalid_setai_no" not in pl_.spec:
        return
    households = pop.persons.filter(pl.col("resident"))["setai_no"].unique(maintain_order=True).to_list()
    k = pl_.n("invalid_setai_no", len(households))
    if not k:
        return
    rng = pl_.rng("invalid_setai_no")
    existing = set(pop.persons["setai_no"].to_list())
    mapping = {}
    for i in np.sort(rng.choice(len(households), k, replace=False)).tolist():
        old = households[i]
        mapping[old] = new = _wrong_check_digit(old, existing)
        pl_.note("invalid_setai_no", "*", "*", "setai_no", None, setai_no=new)
    pop.persons = pop.persons.with_columns(pl.col("setai_no").replace(mapping))


def plant_logical(frames: dict[str, dict[str, pl.DataFrame]], layouts: dict[str, Layout],
                  pop: Population, pl_: Planter, gaiji: dict[str, dict[str, tuple[str, str]]]) -> None:
    """Plant the logical defects into ``frames``; ``gaiji`` is each system's vendor 外字
    (char -> (code, what the vendor knows))."""
    for sys_, tables in frames.items():
        for t, df in tables.items():
            tables[t] = df.with_columns(pl.lit(None, dtype=pl.Utf8).alias(DEFECT_COL))
    spec = pl_.spec

    def targets(cls):
        tg = spec[cls].get("targets") or []
        items = tg.items() if isinstance(tg, dict) else [(x, None) for x in tg]
        for path, arg in items:
            parts = path.split(".")
            yield parts[0], parts[1], (parts[2] if len(parts) > 2 else None), arg

    # never-issued numbers for orphans: serials far above any issued one (9 followed by a
    # serial), with a valid M11 check digit, so that the only thing wrong is the reference
    orphan_serial = iter(range(1, 9_999_999))

    for sys_, t, col, _ in targets("orphan_reference"):
        df = frames[sys_][t]
        width = layouts[sys_].file(t).field(col).length
        k = pl_.n("orphan_reference", df.height)
        rows = np.sort(pl_.rng(f"orphan:{sys_}.{t}").choice(_free_rows(df), k, replace=False))
        vals = []
        for r in rows.tolist():
            s = "9" + f"{next(orphan_serial):0{width - 2}d}"
            vals.append(s + str(m11_check_digit(s)))
            pl_.note("orphan_reference", sys_, t, col, r, value=vals[-1])
        frames[sys_][t] = _mark(_set(df, col, rows, vals), rows, "orphan_reference")

    for cls in ("invalid_mynumber", "invalid_hojin_bango", "invalid_juminhyo_cd"):
        for sys_, t, col, _ in targets(cls):
            df = frames[sys_][t]
            k = pl_.n(cls, df.height)
            nonblank = (df[col] != "").to_numpy()
            rng = pl_.rng(f"{cls}:{sys_}.{t}")
            rows = np.sort(rng.choice(_free_rows(df, nonblank), k, replace=False))
            vals = []
            for r in rows.tolist():
                v = df[col][r]
                pos = 0 if cls == "invalid_hojin_bango" else len(v) - 1
                d = (int(v[pos]) + int(rng.integers(1, 10))) % 10
                if cls == "invalid_hojin_bango" and d == 0:
                    d = (int(v[pos]) % 9) + 1
                vals.append(v[:pos] + str(d) + v[pos + 1:])
                pl_.note(cls, sys_, t, col, r)
            frames[sys_][t] = _mark(_set(df, col, rows, vals), rows, cls)

    # wrong-person links: a household member's number, else a namesake's
    p = pop.persons.select("atena_no", "hh", "pid", "surname", "mynumber")
    by_atena = {a: (h, pid, s) for a, h, pid, s in zip(p["atena_no"], p["hh"], p["pid"], p["surname"])}
    hh_members: dict[int, list[int]] = {}
    for h, pid in zip(p["hh"].to_list(), p["pid"].to_list()):
        hh_members.setdefault(h, []).append(pid)
    my = p["mynumber"].to_list()
    by_surname: dict[str, list[int]] = {}
    for pid, s in zip(p["pid"].to_list(), p["surname"].to_list()):
        by_surname.setdefault(s, []).append(pid)
    for sys_, t, _, _ in targets("wrong_person_mynumber"):
        df = frames[sys_][t]
        lay = layouts[sys_].file(t)
        key = lay.person_key
        k = pl_.n("wrong_person_mynumber", df.height)
        rng = pl_.rng(f"wrong_person:{sys_}.{t}")
        known = np.array([a in by_atena for a in df[key].to_list()])
        rows = np.sort(rng.choice(_free_rows(df, known), k, replace=False))
        vals = []
        for r in rows.tolist():
            h, pid, s = by_atena[df[key][r]]
            family = [x for x in hh_members[h] if x != pid]
            kind = "family" if family else "namesake"
            pool = family or [x for x in by_surname[s] if x != pid] or [(pid + 1) % len(my)]
            other = pool[int(rng.integers(0, len(pool)))]
            vals.append(my[other])
            pl_.note("wrong_person_mynumber", sys_, t, "kojin_bango", r, kind=kind, atena_no=df[key][r])
        frames[sys_][t] = _mark(_set(df, "kojin_bango", rows, vals), rows, "wrong_person_mynumber")

    for sys_, t, col, _ in targets("unidentified_gaiji"):
        chars = [c for c, (_, knows) in gaiji[sys_].items() if knows in ("none", "unlisted")]
        if not chars:
            continue
        df = frames[sys_][t]
        k = pl_.n("unidentified_gaiji", df.height)
        rng = pl_.rng(f"gaiji:{sys_}.{t}")
        japanese = df[col].str.contains("\u3000").to_numpy()
        rows = np.sort(rng.choice(_free_rows(df, japanese), k, replace=False))
        vals = []
        for i, r in enumerate(rows.tolist()):
            ch = chars[i % len(chars)]
            vals.append(ch + _drop_first_char(df[col][r]))
            pl_.note("unidentified_gaiji", sys_, t, col, r, char_code=gaiji[sys_][ch][0])
        frames[sys_][t] = _mark(_set(df, col, rows, vals), rows, "unidentified_gaiji")

    def replace_values(cls: str, purpose: str, make, **note):
        """Plant ``cls``: on free rows of each target, the field becomes make(row value, i, arg, field);
        ``note`` names extra manifest entries, each computed from (new value, arg, field)."""
        for sys_, t, col, arg in targets(cls):
            df = frames[sys_][t]
            k = pl_.n(cls, df.height)
            rows = np.sort(pl_.rng(f"{purpose}:{sys_}.{t}").choice(_free_rows(df), k, replace=False))
            field = layouts[sys_].file(t).field(col)
            vals = []
            for i, r in enumerate(rows.tolist()):
                v = make(df[col][r] or "", i, arg, field)
                vals.append(v)
                extra = {key: fn(v, arg, field) for key, fn in note.items()}
                pl_.note(cls, sys_, t, col, r, **extra)
            frames[sys_][t] = _mark(_set(df, col, rows, vals), rows, cls)

    def fit(v: str, width: int) -> str:
        while len(v.encode("cp932", errors="replace")) > width:
            v = v[:-1]
        return v

    def code_of(label, field):
        return {lab: code for code, lab in layouts_codes[field.codes].items()}[label]

    layouts_codes = {}
    for lay in layouts.values():
        layouts_codes.update(lay.codes)
    replace_values("unmapped_code", "code", lambda v, i, label, f: label,
                   code=lambda v, label, f: code_of(label, f), label=lambda v, label, f: label)
    replace_values("impossible_date", "date", lambda v, i, literal, f: "@raw:" + literal,
                   value=lambda v, literal, f: literal)
    replace_values("overlong_value", "overlong",
                   lambda v, i, a, f: f"SAKAI INTERNATIONAL RESIDENCE EAST TOWER {i % 10000:04d} ROOM 1203"[:f.length],
                   length=lambda v, a, f: len(v))
    def hankaku(v: str, f) -> str:
        # every planted value must really hold half-width kana: an address outside 大阪府 (a 住登外
        # person's, found at 817k) gets it in front, as 方書 does
        if f.name != "katagaki" and "大阪府" in v:
            return fit(v.replace("大阪府", "ｵｵｻｶﾌ", 1), f.length)
        return fit("ｺｰﾎﾟ" + v, f.length)
    replace_values("halfwidth_kana", "hankaku", lambda v, i, a, f: hankaku(v, f))
    replace_values("missing_required", "missing", lambda v, i, a, f: "")

    def pad_over(v: str, f) -> str:
        # blanks past the declared bytes: the extractor measures the value as stored, staging trims
        # it, so the one finding is 桁数超過（現行定義） and the value itself migrates unchanged.
        # Measured as the file will hold it (a half-width kana field is rendered half-width).
        stored = to_halfwidth_kana(v) if f.type == "kana" and f.width == "half" else v
        return v + " " * (f.length + 1 - len(stored.encode("cp932", errors="replace")))
    replace_values("csv_overlong", "csv_overlong", lambda v, i, a, f: pad_over(v, f),
                   length=lambda v, a, f: f.length)

    # a value both readers take that the standard item's range does not (a number of its digits, a
    # real day): planted after the classes above so that their rows stay where they were
    replace_values("out_of_range", "range", lambda v, i, literal, f: literal,
                   value=lambda v, literal, f: str(literal).removeprefix("@raw:"))

    # duplicates last: a copy of a clean row, right after it
    for sys_, t, _, _ in targets("duplicate_key"):
        df = frames[sys_][t]
        k = pl_.n("duplicate_key", df.height)
        rows = np.sort(pl_.rng(f"dup:{sys_}.{t}").choice(_free_rows(df), k, replace=False))
        order = np.sort(np.concatenate([np.arange(df.height), rows]), kind="stable")
        df = df[order]
        first_copy = np.nonzero(np.diff(order) == 0)[0] + 1
        marks = np.zeros(df.height, dtype=bool)
        marks[first_copy] = True
        marks[first_copy - 1] = True
        df = df.with_columns(pl.when(pl.Series(marks)).then(pl.lit("duplicate_key"))
                             .otherwise(pl.col(DEFECT_COL)).alias(DEFECT_COL))
        key = layouts[sys_].file(t).key
        # rows noted before were counted on the old positions: shift them
        for rec in pl_.records:
            if rec["system"] == sys_ and rec["table"] == t and rec["row"] is not None:
                rec["row"] += int(np.searchsorted(rows, rec["row"], side="left"))
        for r in first_copy.tolist():
            pl_.note("duplicate_key", sys_, t, ",".join(key), r)
        frames[sys_][t] = df


def plant_bytes(system: str, table: str, data: bytes, layout: Layout, frame: pl.DataFrame,
                header: bool, pl_: Planter, eol: bytes) -> bytes:
    """Truncated / overlong records and undecodable bytes on rows free of other defects."""
    lf = layout.file(table)
    jobs = []
    for cls in ("truncated_record", "overlong_record", "undecodable_bytes"):
        for path in pl_.spec[cls].get("targets", []):
            parts = path.split(".")
            if parts[0] == system and parts[1] == table:
                jobs.append((cls, parts[2] if len(parts) > 2 else None))
    if not jobs:
        return data
    lines = data.split(eol)
    tail = lines.pop() if lines and lines[-1] == b"" else None
    off = 1 if header else 0
    free = frame[DEFECT_COL].is_null().to_numpy().copy()
    for cls, col in jobs:
        rng = pl_.rng(f"{cls}:{system}.{table}")
        mask = free.copy()
        if cls == "undecodable_bytes":
            mask &= frame[col].str.contains("\u3000").to_numpy()
        k = pl_.n(cls, frame.height)
        # rows holding a vendor 外字 byte (F0–F9) are passed over so 外字 counts stay exact;
        # only the sampled candidates are looked at, in a seeded order
        rows_ = []
        for r in rng.permutation(np.nonzero(mask)[0]).tolist():
            if len(rows_) == k:
                break
            if not _GAIJI_BYTE.search(lines[r + off]):
                rows_.append(r)
        rows = np.sort(np.array(rows_, dtype=np.int64))
        for r in rows.tolist():
            li = r + off
            line = lines[li]
            if cls == "truncated_record":
                lines[li] = line[: len(line) - int(rng.integers(3, 20))]
            elif cls == "overlong_record":
                lines[li] = line + b"0" * int(rng.integers(1, 12))
            else:
                if lf.format == "fixed":
                    pos = lf.offsets[[f.name for f in lf.fields].index(col)][0]
                else:
                    idx = [f.name for f in lf.fields].index(col)
                    pos = sum(len(x) + 1 for x in line.split(b",")[:idx]) + (1 if lf.quote_all else 0)
                lines[li] = line[:pos] + b"\x85\x40" + line[pos + 2:]
            free[r] = False
            pl_.note(cls, system, table, col, r)
    if tail is not None:
        lines.append(tail)
    return eol.join(lines)
