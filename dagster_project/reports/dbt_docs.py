"""``dbt docs`` as one static page the ICT office opens from the overview, with no network.

``dbt docs generate --static`` writes ``static_index.html``: dbt's docs app with the manifest
and the catalog inlined; its styles, fonts and scripts are in the page. One thing in it would
go out: the anonymous-usage tracker (Snowplow's ``sp.js`` from a CDN), loaded when the
manifest says ``send_anonymous_usage_stats``. The project parses with it off, and the page's
switch is turned off as well (:data:`TRACKER_ON` → :data:`TRACKER_OFF`), so a manifest parsed
elsewhere cannot turn it on. The browser test blocks every request that is not a file and
counts them (0). The catalog holds each relation's column names,
types and order and, on DuckDB, no statistics (``has_stats`` false): no row counts, no values.
The manifest holds the models' SQL, descriptions and the unit tests' synthetic fixtures.

Cost: a ``dbt docs generate --no-compile`` (the manifest is the one ``dbt_project.prepare``
parsed) reads the warehouse's information schema: 4–5 s, whatever the city's size. The page is a
function of two things: the manifest (but for when it was parsed), and the catalog dbt-duckdb reads (every relation's type and
comment, every column's name, position, type and comment: :data:`CATALOG_SQL` reads the same from
the same DuckDB functions, for all schemas). Their hash (the stamp, ``.manifest_sha256`` beside the
page) says when the page can stay: an unchanged rehearsal pays a hash and one catalog query. A
page made is also kept under ``dbt/target/docs_cache/`` by that hash, so another warehouse with the
same models and relations (a second city, a fresh ``var``: every benchmark run and test city) copies
it instead of running dbt again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb

from dagster_project.core import atomic
from dagster_project.core.settings import settings

PAGE = "index.html"
STAMP = ".manifest_sha256"   # the page's key (page_key): the name from when only the manifest was hashed
# what this module does to dbt's page (offline()); part of the key, so that a page made by an older
# version of it is not copied: change it when offline() changes
PAGE_FORMAT = "kikan-dbt-docs-1"
CACHE = "docs_cache"     # under dbt/target: pages by the hash of manifest and catalog
CACHE_KEEP = 4           # pages kept there (the newest)

# what dbt-duckdb's catalog macro (duckdb__get_catalog) reads, for every schema of the database
CATALOG_SQL = """
select t.schema_name, t.table_name, t.table_type, t.comment, c.column_name, c.column_index, c.data_type,
       c.comment
from (select database_name, schema_name, table_name, 'BASE TABLE' as table_type, comment from duckdb_tables()
      union all
      select database_name, schema_name, view_name, 'VIEW', comment from duckdb_views()) as t
inner join duckdb_columns() as c
    on c.database_name = t.database_name and c.schema_name = t.schema_name and c.table_name = t.table_name
where t.database_name = current_database()
order by 1, 2, 6
"""
TRACKER_ON = "!0===e.track&&r.turn_on_tracking()"
TRACKER_OFF = "!1&&r.turn_on_tracking()"


def offline(page: str) -> str:
    """The page with dbt docs' usage tracker switched off for good."""
    if page.count(TRACKER_ON) != 1:
        raise RuntimeError("dbt docs' tracking switch moved (dbt upgrade?): update reports/dbt_docs.TRACKER_ON")
    return page.replace(TRACKER_ON, TRACKER_OFF)


def generate(db: Path, out_dir: Path, manifest: Path, dbt_dir: Path, dbt: str, force: bool = False) -> dict:
    """Write ``out_dir/index.html`` unless the page there was made from the same manifest and
    catalog (:func:`page_key`); copy it from ``dbt/target/docs_cache`` when a page of that key is
    kept there; else make it with dbt. Returns what happened, for Dagster metadata: ``made`` (dbt
    ran), ``copied`` (from the cache), ``kept`` (the warehouse could not be read: another process
    writes it; the page there stays), ``seconds``, ``bytes``."""
    out_dir = Path(out_dir)
    t0 = time.monotonic()
    page, stamp = out_dir / PAGE, out_dir / STAMP
    manifest_hash = _manifest_hash(manifest)
    try:
        digest = _key(manifest_hash, _catalog(db))
    except duckdb.Error:
        # a writer holds the warehouse (a rehearsal running beside this overview): the page there
        # stays, as an unchanged one did before the catalog was part of the key; dbt could not
        # read the warehouse either
        if page.exists():
            return {"made": False, "kept": True, "seconds": round(time.monotonic() - t0, 2),
                    "bytes": page.stat().st_size}
        raise
    if not force and page.exists() and stamp.exists() and stamp.read_text(encoding="utf-8").strip() == digest:
        return {"made": False, "seconds": round(time.monotonic() - t0, 2), "bytes": page.stat().st_size}
    cached = Path(dbt_dir) / "target" / CACHE / f"{digest}.html"
    if not force:
        try:
            text = cached.read_text(encoding="utf-8")
        except FileNotFoundError:     # none yet, or another process's prune took it: made below
            text = None
        if text is not None:
            _write(out_dir, text, digest)
            os.utime(cached)           # kept as recently used
            return {"made": False, "copied": True, "seconds": round(time.monotonic() - t0, 2),
                    "bytes": len(text.encode("utf-8"))}
    # read only: a materialization of every asset runs this step before the GX check, whose child
    # (started when dbt finished, conformance.start_ahead) still reads the warehouse; a writer's
    # attach was refused the lock and the page was not made
    env = settings().dbt_env(db, read_only=True)
    with tempfile.TemporaryDirectory(prefix="kikan-dbt-docs-") as tmp:
        shutil.copyfile(manifest, Path(tmp) / "manifest.json")
        # dbt parses before it documents: with the last build's parse state it re-checks the
        # files' checksums instead of parsing all of them again (about 4 s on 2 cores)
        state = Path(dbt_dir) / "target" / "partial_parse.msgpack"
        if state.exists():
            shutil.copyfile(state, Path(tmp) / state.name)
        res = subprocess.run([dbt, "docs", "generate", "--static", "--no-compile", "--quiet",
                              "--profiles-dir", str(dbt_dir), "--project-dir", str(dbt_dir), "--target-path", tmp],
                             cwd=dbt_dir, env=env, capture_output=True, text=True)
        made = Path(tmp) / "static_index.html"
        if res.returncode != 0 or not made.exists():
            # dbt's own message names nodes and files, never a value; the tail is enough
            raise RuntimeError(f"dbt docs generate failed (exit {res.returncode}): "
                               + " ".join((res.stdout + res.stderr).split()[-40:]))
        text = offline(made.read_text(encoding="utf-8"))
    _write(out_dir, text, digest)
    # kept for other warehouses only if the catalog dbt read is the one the key was made from
    # (nothing wrote the warehouse in between)
    if _key(manifest_hash, _catalog(db)) == digest:
        _keep(cached, text)
    return {"made": True, "seconds": round(time.monotonic() - t0, 2), "bytes": len(text.encode("utf-8"))}


def page_key(db: Path, manifest: Path) -> str:
    """The hash of what the page is made from: the manifest (but for when and by which invocation
    dbt parsed it, which every parse changes; dbt's version stays in) and the warehouse's catalog."""
    return _key(_manifest_hash(manifest), _catalog(db))


def _manifest_hash(manifest: Path) -> str:
    parsed = json.loads(Path(manifest).read_text(encoding="utf-8"))
    meta = parsed.get("metadata") or {}
    for volatile in ("generated_at", "invocation_id", "invocation_started_at", "run_started_at"):
        meta.pop(volatile, None)
    return hashlib.sha256(json.dumps(parsed, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def _catalog(db: Path) -> list[tuple]:
    from dagster_project.core.warehouse import connect

    with connect(Path(db), read_only=True) as con:
        return con.execute(CATALOG_SQL).fetchall()


def _key(manifest_hash: str, catalog: list[tuple]) -> str:
    h = hashlib.sha256(PAGE_FORMAT.encode("utf-8"))
    h.update(manifest_hash.encode("utf-8"))
    h.update(json.dumps(catalog, ensure_ascii=False, default=str).encode("utf-8"))
    return h.hexdigest()


def _write(out_dir: Path, text: str, digest: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_files({out_dir / PAGE: lambda p: p.write_text(text, encoding="utf-8"),
                        out_dir / STAMP: lambda p: p.write_text(digest + "\n", encoding="utf-8")})


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except FileNotFoundError:     # another process's prune got there first
        return 0.0


def _keep(cached: Path, text: str) -> None:
    """Keep the page made under its hash, and only the newest few (a page is about 5 MB)."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_files({cached: lambda p: p.write_text(text, encoding="utf-8")})
    pages = sorted(cached.parent.glob("*.html"), key=_mtime, reverse=True)   # temporaries are .*.tmp
    for old in pages[CACHE_KEEP:]:
        old.unlink(missing_ok=True)
