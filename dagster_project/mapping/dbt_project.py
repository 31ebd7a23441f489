"""The dbt project of the mapping stage: generated from mappings/, parsed once per change.

The generated models are committed (``dbt/models/generated``, ``dbt/macros/generated``,
``seeds/code_maps.csv``); ``kikan generate`` and ``kikan run`` call :func:`prepare`, which

1. :func:`generate_if_changed`: renders the models from ``mappings/`` and ``seeds/`` and writes
   the files whose content changed (none when the committed project is current);
2. :func:`parse_if_changed`: runs ``dbt parse`` only when the project's files (generated and
   hand-written: models, macros, ``dbt_project.yml``, seeds) differ from those of the last parse
   (a fingerprint is kept beside the manifest).

One process at a time prepares a project (a file lock in its ``target/``): test workers, a run
beside ``dagster dev``. Everything goes to ``settings().dbt_dir`` (``KIKAN_DBT_DIR``), so a
test with its own mappings generates into its own copy of the project.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from dagster_dbt import DbtProject
from filelock import FileLock

from dagster_project.core.settings import settings
from dagster_project.mapping.dbtgen import generate
from dagster_project.spec.config import cached_project
from dagster_project.spec.mapping import load_mappings

# the files of a dbt project that `dbt parse` reads (relative to it), besides the seeds
PARSED = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")
FINGERPRINT = Path("target") / ".kikan_fingerprint"


# the dbt script pip installed beside this interpreter: it runs this interpreter's dbt-core
OWN_DBT = Path(sys.executable).with_name("dbt")


def dbt_executable() -> str:
    return str(OWN_DBT) if OWN_DBT.exists() else "dbt"


def is_own_dbt(exe: str) -> bool:
    """Whether ``exe`` is :data:`OWN_DBT` (not another dbt on the PATH)."""
    return Path(exe) == OWN_DBT


def _dir(dbt_dir: Path | None) -> Path:
    return Path(dbt_dir or settings().dbt_dir)


def generate_if_changed(dbt_dir: Path | None = None) -> bool:
    """Render the models from the settings' ``mappings/`` and ``seeds/`` into ``dbt_dir`` (default
    ``settings().dbt_dir``); True when any file was written or removed."""
    s = settings()
    dbt_dir = _dir(dbt_dir)
    project = cached_project(str(s.mappings_dir))
    changed, _ = generate(project, load_mappings(project, s.seeds_dir), dbt_dir=dbt_dir)
    return changed > 0


def project_fingerprint(dbt_dir: Path | None = None) -> str:
    """A hash of every file ``dbt parse`` reads: the project's models, macros and settings, and
    the seeds (names and content, in sorted order)."""
    dbt_dir = _dir(dbt_dir)
    files = [p for name in PARSED for p in ([dbt_dir / name] if (dbt_dir / name).is_file()
                                            else sorted((dbt_dir / name).rglob("*")))]
    seeds = dbt_dir.parent / "seeds"   # dbt_project.yml: seed-paths ["../seeds"]
    files += sorted(seeds.glob("*.csv")) if seeds.is_dir() else []
    h = hashlib.sha256()
    for p in files:
        if p.is_file():
            h.update(os.path.relpath(p, dbt_dir).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def parse_if_changed(dbt_dir: Path | None = None) -> DbtProject:
    """``dbt parse`` when the project changed since the last parse (or has no manifest)."""
    dbt_dir = _dir(dbt_dir)
    project = DbtProject(project_dir=dbt_dir, profiles_dir=dbt_dir)
    stamp = dbt_dir / FINGERPRINT
    fingerprint = project_fingerprint(dbt_dir)
    if project.manifest_path.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return project
    res = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--profiles-dir", str(dbt_dir), "--project-dir", str(dbt_dir)],
        cwd=dbt_dir, env=settings().dbt_env(), capture_output=True, text=True,
    )
    if res.returncode != 0:
        raise RuntimeError(f"dbt parse failed for the generated models:\n{res.stdout[-4000:]}{res.stderr[-2000:]}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)
    return project


def prepare(dbt_dir: Path | None = None) -> DbtProject:
    """Generate when the inputs changed, then parse when the project changed; once per process
    and project folder."""
    return _prepare(str(_dir(dbt_dir).resolve()))


@lru_cache(maxsize=4)
def _prepare(dbt_dir: str) -> DbtProject:
    path = Path(dbt_dir)
    (path / "target").mkdir(parents=True, exist_ok=True)
    # one process at a time generates and parses (test workers, a run beside `dagster dev`): another
    # process waits, then finds the models and the manifest fresh
    with FileLock(str(path / "target" / ".prepare.lock")):
        generate_if_changed(path)
        return parse_if_changed(path)
