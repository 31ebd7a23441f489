"""The vendor export package of one current system (移行データ一式), for the migration vendor.

Every standard table of the system's businesses, in the standard layout: UTF-8 CSV whose
header is the standard item ids (標準項目ID) and Parquet with the same columns, plus
``layout.csv`` (item id → name, type, length, required) and ``manifest.json`` (tables, row
counts, SHA-256 of every file, catalog version, the gate decision it was released under).

Written atomically: the package is built in a hidden temporary folder beside its final place,
fsynced, then renamed to ``<exports>/<system>/<package_id>/``; ``LATEST`` (replaced
atomically) names the newest. A reader never sees a half-written package. Rows are in key
order and the files carry no timestamps, so the same inputs give byte-identical data files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import duckdb

from .duck import open_warehouse
from . import faults
from .config import PROJECT_ROOT
from .sqlnames import std_name
from .mapping import ResolvedTable

CATALOG_FILES = ("std_items.csv", "std_codes.csv")


def catalog_version() -> str:
    h = hashlib.sha256()
    for name in CATALOG_FILES:
        h.update((PROJECT_ROOT / "seeds" / name).read_bytes())
    return h.hexdigest()[:16]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _select(t: ResolvedTable) -> tuple[str, str]:
    cols = ", ".join(f'"{i.column_name}" as "{i.item_id}"' for i in t.std.items)
    order = ", ".join(f'"{c}"' for c in t.std.key) or "all"
    order += ', "_src_record_no"' if t.std.key else ""
    return cols, order


def write_package(db: Path, system: str, tables: list[ResolvedTable], out_root: Path, package_id: str,
                  release: dict) -> dict:
    """Write the package; return its manifest. ``release`` says under which decision it goes out."""
    out_root = Path(out_root) / system
    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / package_id
    if final.exists():
        raise FileExistsError(f"{final}: a package with this id already exists")
    tmp = out_root / f".tmp-{package_id}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        con = open_warehouse(db, read_only=True)
        entries = []
        try:
            con.execute("set preserve_insertion_order = true")
            for t in tables:
                name = std_name(t)
                cols, order = _select(t)
                sql = f'select {cols} from standard."{name}" order by {order}'
                csv_path, pq_path = tmp / f"{name}.csv", tmp / f"{name}.parquet"
                con.execute(f"copy ({sql}) to '{csv_path}' (format csv, header true)")
                con.execute(f"copy ({sql}) to '{pq_path}' (format parquet, compression zstd)")
                rows = con.execute(f'select count(*) from standard."{name}"').fetchone()[0]
                faults.pause("export")
                entries.append({"table": name, "business_id": t.std.business_id, "table_id": t.std.table_id,
                                "table_name": t.std.table_name, "rows": int(rows),
                                "files": {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                                          for p in (csv_path, pq_path)}})
        finally:
            con.close()
        layout = tmp / "layout.csv"
        with layout.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["table", "item_id", "item_name", "data_type", "length", "required", "code_table"])
            for t in tables:
                for i in t.std.items:
                    w.writerow([std_name(t), i.item_id, i.item_name, i.data_type, i.length,
                                "Y" if i.required else "N", i.code_table or ""])
        manifest = {
            "package_id": package_id, "system": system, "format": "kikan-export/1",
            "catalog_version": catalog_version(), "release": release,
            "layout": {"file": "layout.csv", "sha256": sha256_file(layout)},
            "tables": entries,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True),
                                           encoding="utf-8")
        _fsync_tree(tmp)
        os.rename(tmp, final)   # atomic on one file system; the final name appears whole or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    latest_tmp = out_root / f".LATEST.{uuid.uuid4().hex[:8]}"
    latest_tmp.write_text(package_id + "\n", encoding="utf-8")
    os.replace(latest_tmp, out_root / "LATEST")
    return manifest


def verify_package(package_dir: Path) -> list[str]:
    """Problems found checking a package against its manifest (empty: it verifies)."""
    package_dir = Path(package_dir)
    problems = []
    m = json.loads((package_dir / "manifest.json").read_text(encoding="utf-8"))
    listed = {"manifest.json", m["layout"]["file"]}
    if sha256_file(package_dir / m["layout"]["file"]) != m["layout"]["sha256"]:
        problems.append(f"{m['layout']['file']}: SHA-256 differs")
    for t in m["tables"]:
        for fname, meta in t["files"].items():
            listed.add(fname)
            p = package_dir / fname
            if not p.exists():
                problems.append(f"{fname}: missing")
                continue
            if sha256_file(p) != meta["sha256"]:
                problems.append(f"{fname}: SHA-256 differs")
        csv_rows = sum(1 for _ in (package_dir / f"{t['table']}.csv").open(encoding="utf-8")) - 1
        if csv_rows < t["rows"]:   # a quoted value may hold a line break, so a CSV may have more lines
            problems.append(f"{t['table']}.csv: {csv_rows} lines for {t['rows']} rows")
        con = duckdb.connect()
        try:
            pq = con.execute(f"select count(*) from read_parquet('{package_dir / (t['table'] + '.parquet')}')").fetchone()[0]
        finally:
            con.close()
        if pq != t["rows"]:
            problems.append(f"{t['table']}.parquet: {pq} rows, manifest says {t['rows']}")
    extra = sorted(p.name for p in package_dir.iterdir() if p.name not in listed)
    if extra:
        problems.append(f"files not in the manifest: {extra}")
    return problems


def prune(out_root: Path, system: str, keep: int) -> None:
    """Keep the ``keep`` newest packages of a system (by name order: ids sort by time), and remove
    what a killed run left behind (hidden ``.tmp-*`` folders, ``.LATEST.*`` files): never seen
    as packages, since only a finished folder is renamed into place, but not kept either."""
    d = Path(out_root) / system
    if not d.exists():
        return
    for p in d.iterdir():
        if p.name.startswith(".tmp-"):
            shutil.rmtree(p, ignore_errors=True)
        elif p.name.startswith(".LATEST."):
            p.unlink(missing_ok=True)
    packs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    for p in packs[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)

