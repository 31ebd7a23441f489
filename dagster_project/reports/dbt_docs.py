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
parsed) reads the warehouse's information schema. The page changes only when the models do,
so it is made again only when the manifest's hash differs from the one it was made from
(``.manifest_sha256`` beside it); an unchanged rehearsal pays a hash of the manifest.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from dagster_project.core import atomic
from dagster_project.core.settings import settings

PAGE = "index.html"
STAMP = ".manifest_sha256"
TRACKER_ON = "!0===e.track&&r.turn_on_tracking()"
TRACKER_OFF = "!1&&r.turn_on_tracking()"


def offline(page: str) -> str:
    """The page with dbt docs' usage tracker switched off for good."""
    if page.count(TRACKER_ON) != 1:
        raise RuntimeError("dbt docs' tracking switch moved (dbt upgrade?): update reports/dbt_docs.TRACKER_ON")
    return page.replace(TRACKER_ON, TRACKER_OFF)


def generate(db: Path, out_dir: Path, manifest: Path, dbt_dir: Path, dbt: str, force: bool = False) -> dict:
    """Write ``out_dir/index.html`` from a fresh catalog of ``db`` unless the manifest it was made
    from is unchanged. Returns what happened, for Dagster metadata: ``made`` (bool), ``seconds``,
    ``bytes``."""
    out_dir = Path(out_dir)
    digest = hashlib.sha256(Path(manifest).read_bytes()).hexdigest()
    page, stamp = out_dir / PAGE, out_dir / STAMP
    if not force and page.exists() and stamp.exists() and stamp.read_text(encoding="utf-8").strip() == digest:
        return {"made": False, "seconds": 0.0, "bytes": page.stat().st_size}
    t0 = time.monotonic()
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
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_files({page: lambda p: p.write_text(text, encoding="utf-8"),
                        stamp: lambda p: p.write_text(digest + "\n", encoding="utf-8")})
    return {"made": True, "seconds": round(time.monotonic() - t0, 2), "bytes": len(text.encode("utf-8"))}
