"""The dbt project of the mapping stage: generated from mappings/, parsed once per change.

``@dbt_assets`` needs the manifest when the definitions load (STACK.md), and ``prepare_if_dev``
only runs under ``dagster dev``; so the definitions call :func:`prepare` themselves. It
regenerates the models from ``mappings/`` and ``seeds/`` and runs ``dbt parse`` only when the
generated content changed (a fingerprint is kept beside the manifest).
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from dagster_dbt import DbtProject
from filelock import FileLock

from dagster_project.spec.config import cached_project
from dagster_project.mapping.dbtgen import DBT_DIR, generate
from dagster_project.spec.mapping import cached_mappings


# model name prefix -> layer (the first part of its asset key)
LAYER_PREFIXES = {"stg_": "staging", "int_": "intermediate", "std_": "standard", "gaps_": "gaps",
                  "conf_": "conformance", "recon_": "readiness", "fnd_": "findings", "findings": "findings"}


def dbt_executable() -> str:
    exe = Path(sys.executable).with_name("dbt")
    return str(exe) if exe.exists() else "dbt"


@lru_cache(maxsize=1)
def prepare() -> DbtProject:
    # one process at a time generates and parses (test workers, a run beside `dagster dev`): another
    # process waits, then finds the models and the manifest fresh
    (DBT_DIR / "target").mkdir(exist_ok=True)
    with FileLock(str(DBT_DIR / "target" / ".prepare.lock")):
        return _prepare()


def _prepare() -> DbtProject:
    project = cached_project()
    mappings = cached_mappings()
    changed, fingerprint = generate(project, mappings)
    dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
    stamp = DBT_DIR / "target" / ".kikan_fingerprint"
    fresh = (not changed and dbt_project.manifest_path.exists() and stamp.exists()
             and stamp.read_text() == fingerprint)
    if not fresh:
        env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
        res = subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--profiles-dir", str(DBT_DIR), "--project-dir", str(DBT_DIR)],
            cwd=DBT_DIR, env=env, capture_output=True, text=True,
        )
        if res.returncode != 0:
            raise RuntimeError(f"dbt parse failed for the generated models:\n{res.stdout[-4000:]}{res.stderr[-2000:]}")
        stamp.write_text(fingerprint)
    return dbt_project
