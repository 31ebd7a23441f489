"""The vendor export package of one current system (移行データ一式), for the migration vendor.

A Frictionless Data Package (``datapackage.json``, see :mod:`.datapackage`): every standard
table of the system's businesses in the standard layout, as UTF-8 CSV whose header is the
standard item ids (標準項目ID) and as Parquet with the same columns, each with a typed Table
Schema; the standard code tables its code items use; ``conversion_flags`` (per record and item,
why a value is empty); plus ``layout.csv`` (item id → name, type, length, required) and
``manifest.json`` (every file's SHA-256 and size, row counts, catalog version, the gate decision
it was released under, and whether it is a preview).

A **preview** package (参考, ``kikan export SYSTEM --preview``) is the same package for a system
the gate has not released, so a vendor can rehearse the load: its folder name ends in ``-参考``,
its manifest and descriptor say 参考（本番移行には使用しない）, and ``LATEST`` never names it.

Written atomically: the package is built in a hidden temporary folder beside its final place,
fsynced, then renamed to ``<exports>/<system>/<package_id>/``; ``LATEST`` (replaced
atomically) names the newest released package. A reader never sees a half-written package. Rows
are in key order and the data files carry no timestamps, so the same inputs give byte-identical
data files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.core.duck import open_warehouse
from dagster_project.readiness import datapackage as dp
from dagster_project.core import faults
from dagster_project.core.names import std_name
from dagster_project.spec.mapping import ResolvedTable
from dagster_project.readiness import gatelog
from dagster_project.readiness.gate import OUTCOME_JA
from dagster_project.spec.config import cached_project
from dagster_project.spec.mapping import cached_mappings
from dagster_project.core.settings import settings

PREVIEW_SUFFIX = "-参考"
PREVIEW_JA = "参考（本番移行には使用しない）"
RELEASE_JA = "本番移行用（移行可否判定により出力）"

CATALOG_FILES = ("std_items.csv", "std_codes.csv")


def catalog_version() -> str:
    h = hashlib.sha256()
    for name in CATALOG_FILES:
        h.update((settings().seeds_dir / name).read_bytes())
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


def _file_meta(path: Path) -> dict:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def _write_csv(path: Path, header: list[str], rows) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(r)
            n += 1
    return n


def _flag_rows(con, tables: list[ResolvedTable], reasons: dict) -> list[list]:
    """Per record and item of every table, why its value is empty (the standard layer's ``_flags``):
    table, internal key (the primary key's values joined by |), legacy file and line, item, reason."""
    out = []
    for order, t in enumerate(tables):
        name = std_name(t)
        key = t.std.key
        kexpr = "concat_ws('|', " + ", ".join(f"coalesce(cast(\"{k}\" as varchar), '')" for k in key) + ")" \
            if key else "cast(null as varchar)"
        rows = con.execute(
            f"select {kexpr}, _src_record_no, unnest(string_split(_flags, ',')) "
            f'from standard."{name}" where _flags is not null').fetchall()
        by_col = {i.column_name: (n, i) for n, i in enumerate(t.std.items)}
        for k, rec, flag in rows:
            col, _, code = flag.partition(":")
            n, it = by_col[col]
            out.append((order, k or "", int(rec), n,
                        [name, k or "", t.source.file, int(rec), it.item_id, it.item_name, code,
                         reasons.get(code, {}).get("label_ja", code)]))
    out.sort(key=lambda r: r[:4])
    return [r[4] for r in out]


def write_package(db: Path, system: str, tables: list[ResolvedTable], out_root: Path, package_id: str,
                  release: dict, preview: bool = False, mappings=None) -> dict:
    """Write the package; return its manifest. ``release`` says under which decision it goes out;
    ``preview`` makes it a 参考 package (``-参考`` folder, never ``LATEST``)."""

    mappings = mappings or cached_mappings()
    project = cached_project()
    if preview and not package_id.endswith(PREVIEW_SUFFIX):
        package_id += PREVIEW_SUFFIX
    out_root = Path(out_root) / system
    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / package_id
    if final.exists():
        raise FileExistsError(f"{final}: a package with this id already exists")
    tmp = out_root / f".tmp-{package_id}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        reasons = dp.reason_kinds()
        refs_of = dp.references_in_package(mappings.references, tables)
        codes = mappings.catalog.codes
        con = open_warehouse(db, read_only=True)
        entries, resources = [], []
        try:
            con.execute("set preserve_insertion_order = true")
            for t in tables:
                name = std_name(t)
                cols, order = _select(t)
                sql = f'select {cols} from standard."{name}" order by {order}'
                csv_path, pq_path = tmp / f"{name}.csv", tmp / f"{name}.parquet"
                con.execute(f"copy ({sql}) to '{csv_path}' (format csv, header true)")
                dp.write_parquet(con, sql, pq_path, t)
                rows = con.execute(f'select count(*) from standard."{name}"').fetchone()[0]
                faults.pause("export")
                files = {p.name: _file_meta(p) for p in (csv_path, pq_path)}
                entries.append({"table": name, "business_id": t.std.business_id, "table_id": t.std.table_id,
                                "table_name": t.std.table_name, "rows": int(rows), "files": files})
                business = project.city.business(t.std.business_id).name
                resources.append({
                    "name": name, "type": "table", "path": csv_path.name, "format": "csv", "mediatype": "text/csv",
                    "encoding": "utf-8", "dialect": dp.CSV_DIALECT, "title": f"{business}・{t.std.table_name}",
                    "description": (f"{business}の標準テーブル「{t.std.table_name}」（{t.std.ref}）。"
                                    f"現行システム {project.city.system(system).name} の{t.source.label}"
                                    f"（{t.source.file}）から標準レイアウトに変換したもの。見出しは標準項目ID。"),
                    "hash": "sha256:" + files[csv_path.name]["sha256"], "bytes": files[csv_path.name]["bytes"],
                    "kikan:standard_table": t.std.ref,
                    "kikan:parquet": dp.parquet_twin(pq_path.name, files[pq_path.name]),
                    "schema": dp.table_schema(t, codes, refs_of)})
            flag_rows = _flag_rows(con, tables, reasons)
        finally:
            con.close()
        extra = []   # code tables, the reasons and the flags: (resource name, file, rows)
        for ct in dp.code_tables_used(tables):
            p = tmp / f"{dp.code_resource_name(ct)}.csv"
            n = _write_csv(p, ["code", "label"], codes[ct].items())
            extra.append((dp.code_resource_name(ct), p, n))
        p = tmp / f"{dp.REASONS}.csv"
        n = _write_csv(p, ["code", "label", "description", "value_nulled"],
                       ([k, r["label_ja"], r["description_ja"], "true" if k in dp.NULLED else "false"]
                        for k, r in reasons.items()))
        extra.append((dp.REASONS, p, n))
        p = tmp / f"{dp.FLAGS}.csv"
        n = _write_csv(p, ["table", "internal_key", "source_file", "record_no", "item_id", "item_name",
                           "reason_code", "reason_ja"], flag_rows)
        extra.append((dp.FLAGS, p, n))
        extra_entries = []
        for rname, p, n in extra:
            meta = _file_meta(p)
            extra_entries.append({"resource": rname, "file": p.name, "rows": n, **meta})
            fm = {"hash": "sha256:" + meta["sha256"], "bytes": meta["bytes"]}
            if rname == dp.FLAGS:
                resources.append(dp.flags_resource(p.name, fm, [e["table"] for e in entries], reasons))
            elif rname == dp.REASONS:
                resources.append(dp.reasons_resource(p.name, fm))
            else:
                resources.append(dp.code_table_resource(rname.removeprefix("code_"), tables, p.name, fm))
        layout = tmp / "layout.csv"
        _write_csv(layout, ["table", "item_id", "item_name", "data_type", "length", "required", "code_table"],
                   ([std_name(t), i.item_id, i.item_name, i.data_type, i.length, "Y" if i.required else "N",
                     i.code_table or ""] for t in tables for i in t.std.items))
        s = project.city.system(system)
        purpose = PREVIEW_JA if preview else RELEASE_JA
        status = release.get("status") or "未評価"
        descriptor = {
            "$schema": dp.PROFILE,
            "name": f"kikan-{system}-{package_id.removesuffix(PREVIEW_SUFFIX).lower()}" + ("-preview" if preview else ""),
            "title": ("【参考】" if preview else "") + f"{project.city.city.name} {s.name} 移行データ一式（{package_id}）",
            "description": (f"{project.city.city.name}の現行システム「{s.name}」（{system}）の移行データ一式: 標準テーブルごとの "
                            "UTF-8 CSV と Parquet（見出しは標準項目ID、型・主キー・コード値は各スキーマ）、標準コード表、"
                            "変換フラグ（conversion_flags: 空欄にした値とその理由）。"
                            f"移行可否判定 {status}（{release.get('decision_id') or '判定前'}）。{purpose}。"),
            "kikan:package_id": package_id,
            "kikan:system": system, "kikan:preview": preview, "kikan:purpose": purpose,
            "kikan:release": release, "kikan:catalog_version": catalog_version(),
            "resources": resources,
        }
        problems = dp.validate_descriptor(descriptor)
        if problems:
            raise ValueError(f"{system}: datapackage.json is not a valid Data Package: {problems}")
        dpath = tmp / dp.DESCRIPTOR
        dpath.write_text(json.dumps(descriptor, ensure_ascii=False, indent=1), encoding="utf-8")
        manifest = {
            "package_id": package_id, "system": system, "format": "kikan-export/2",
            "catalog_version": catalog_version(), "release": release,
            "preview": preview, "purpose_ja": purpose,
            "datapackage": {"file": dpath.name, "sha256": sha256_file(dpath)},
            "layout": {"file": "layout.csv", "sha256": sha256_file(layout)},
            "tables": entries, "resources": extra_entries,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True),
                                           encoding="utf-8")
        _fsync_tree(tmp)
        os.rename(tmp, final)   # atomic on one file system; the final name appears whole or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not preview:
        latest_tmp = out_root / f".LATEST.{uuid.uuid4().hex[:8]}"
        latest_tmp.write_text(package_id + "\n", encoding="utf-8")
        os.replace(latest_tmp, out_root / "LATEST")
    return manifest


def verify_package(package_dir: Path) -> list[str]:
    """Problems found checking a package against its manifest (empty: it verifies): every file's
    SHA-256, the row counts of the CSV and Parquet files, and that ``datapackage.json`` lists the
    same files with the same hashes. (``frictionless validate`` checks the data against the schema.)"""
    package_dir = Path(package_dir)
    problems = []
    m = json.loads((package_dir / "manifest.json").read_text(encoding="utf-8"))
    listed = {"manifest.json", m["layout"]["file"]}
    hashes = {}

    def check(fname: str, sha: str) -> bool:
        listed.add(fname)
        hashes[fname] = sha
        p = package_dir / fname
        if not p.exists():
            problems.append(f"{fname}: missing")
            return False
        if sha256_file(p) != sha:
            problems.append(f"{fname}: SHA-256 differs")
        return True

    check(m["layout"]["file"], m["layout"]["sha256"])
    for t in m["tables"]:
        for fname, meta in t["files"].items():
            check(fname, meta["sha256"])
        csv_path = package_dir / f"{t['table']}.csv"
        if csv_path.exists():
            csv_rows = sum(1 for _ in csv_path.open(encoding="utf-8")) - 1
            if csv_rows < t["rows"]:   # a quoted value may hold a line break, so a CSV may have more lines
                problems.append(f"{t['table']}.csv: {csv_rows} lines for {t['rows']} rows")
        pq_path = package_dir / f"{t['table']}.parquet"
        if pq_path.exists():
            con = duckdb.connect()
            try:
                pq = con.execute(f"select count(*) from read_parquet('{pq_path}')").fetchone()[0]
            except duckdb.Error:
                pq = None
            finally:
                con.close()
            if pq != t["rows"]:
                problems.append(f"{t['table']}.parquet: {pq} rows, manifest says {t['rows']}")
    for r in m.get("resources", []):
        if check(r["file"], r["sha256"]):
            with (package_dir / r["file"]).open(encoding="utf-8", newline="") as fh:
                n = sum(1 for _ in csv.reader(fh)) - 1
            if n != r["rows"]:
                problems.append(f"{r['file']}: {n} rows, manifest says {r['rows']}")
    if "datapackage" in m:
        d = m["datapackage"]
        if check(d["file"], d["sha256"]):
            desc = json.loads((package_dir / d["file"]).read_text(encoding="utf-8"))
            for res in desc.get("resources", []):
                if res.get("path") not in hashes:
                    problems.append(f"{d['file']}: resource {res.get('name')} names {res.get('path')}, "
                                    "which is not in the manifest")
                elif res.get("hash") != "sha256:" + hashes[res["path"]]:
                    problems.append(f"{d['file']}: resource {res.get('name')}: hash differs from the manifest")
                twin = res.get("kikan:parquet")
                if twin:
                    if twin["hash"] != "sha256:" + hashes.get(twin["path"], ""):
                        problems.append(f"{d['file']}: resource {res['name']}: Parquet hash differs from the manifest")
                    elif (package_dir / twin["path"]).exists():
                        try:
                            problems += dp.parquet_schema_problems(package_dir / twin["path"], res["schema"])
                        except Exception as exc:   # a torn or foreign file: pyarrow's reason, no data
                            problems.append(f"{twin['path']}: not readable as Parquet ({type(exc).__name__})")
            if bool(desc.get("kikan:preview")) != bool(m.get("preview")):
                problems.append(f"{d['file']}: kikan:preview differs from the manifest")
    if m.get("preview") and not package_dir.name.endswith(PREVIEW_SUFFIX):
        problems.append(f"{package_dir.name}: a preview package whose folder name does not end in {PREVIEW_SUFFIX}")
    extra = sorted(p.name for p in package_dir.iterdir() if p.name not in listed)
    if extra:
        problems.append(f"files not in the manifest: {extra}")
    return problems


def prune(out_root: Path, system: str, keep: int) -> None:
    """Keep the ``keep`` newest released packages and the ``keep`` newest previews (参考) of a
    system (by name order: ids sort by time), and remove what a killed run left behind (hidden
    ``.tmp-*`` folders, ``.LATEST.*`` files): never seen as packages, since only a finished
    folder is renamed into place, but not kept either. ``LATEST``'s package is always kept."""
    d = Path(out_root) / system
    if not d.exists():
        return
    for p in d.iterdir():
        if p.name.startswith(".tmp-"):
            shutil.rmtree(p, ignore_errors=True)
        elif p.name.startswith(".LATEST."):
            p.unlink(missing_ok=True)
    latest = (d / "LATEST").read_text(encoding="utf-8").strip() if (d / "LATEST").exists() else None
    packs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    for kind in (False, True):
        same = [p for p in packs if p.name.endswith(PREVIEW_SUFFIX) == kind]
        for p in same[:-keep] if keep > 0 else []:
            if p.name != latest:
                shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------- the gate's word on a package


@dataclass(frozen=True)
class GateRelease:
    """Whether the system's latest gate evaluation lets its package go out, and under what.

    The rule (the export asset's and ``kikan export``'s): the latest rehearsal's evaluation of the
    system; from the gate date on, the package goes out under the latest *recorded* decision only,
    which must be that evaluation's; before the gate date, under the projected outcome. Allowed
    when that status is in ``gate.export_on`` (mappings/readiness.yaml)."""

    allowed: bool
    status: str | None                 # GO / CONDITIONAL / NO-GO; None: never evaluated
    decision_id: str | None
    message_ja: str                    # why not (empty when allowed)
    blocked_by_gate: bool = False      # refused by the decision itself (not a missing or stale evaluation)
    failing: list[str] = field(default_factory=list)
    release: dict | None = None        # what the manifest records


def gate_release(state_dir: Path, system_id: str, system_name: str, export_on: list[str],
                 completed_only: bool = False) -> GateRelease:
    """The gate's rule for releasing a package. Inside a run (the export asset) the latest row is
    this run's own gate, whose rehearsal completes only at the run's end; outside a run
    (``kikan export``) ``completed_only`` leaves out rows of a rehearsal that was killed."""

    with gatelog.lock(state_dir):
        hist = gatelog.read_history(state_dir, system_id, completed_only=completed_only)
        log = gatelog.read_log(state_dir)
    cur = hist[-1] if hist else None
    if cur is None:
        return GateRelease(False, None, None, f"{system_name}: 移行可否判定が未評価のため移行データを出力しない")
    latest = gatelog.latest_decision(log, system_id)
    status = cur["status"]
    if cur["phase"] != "before_gate":
        # the log is the record: the package goes out under the latest recorded decision only
        if latest is None or latest["decision_id"] != cur["decision_id"]:
            return GateRelease(False, status, cur["decision_id"],
                               f"{system_name}: 判定ログと最新の評価が一致しない（再評価が必要）")
        status = latest["decision"]
    release = {"status": status, "decision_id": cur["decision_id"], "phase": cur["phase"],
               "rehearsal_id": cur["rehearsal_id"], "as_of": cur["as_of"]}
    failing = [c["label"] for c in cur["criteria"] if not c["passed"]]
    if status not in export_on:
        return GateRelease(False, status, cur["decision_id"],
                           f"{system_name}: 移行可否判定 {status}（{OUTCOME_JA[status]}、"
                           f"{cur['decision_id'] or '判定前の見込み'}）のため移行データを出力しない。"
                           f"満たしていない基準: {'、'.join(failing)}",
                           blocked_by_gate=True, failing=failing, release=release)
    return GateRelease(True, status, cur["decision_id"], "", failing=failing, release=release)
