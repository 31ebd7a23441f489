"""The build folders dagster-dbt leaves under dbt/target: the newest few stay, the rest go."""

import os

from dagster_project.mapping.defs import KEEP_TARGETS, _prune_targets


def _folder(root, name, mtime):
    p = root / name
    (p / "compiled").mkdir(parents=True)
    (p / "run_results.json").write_text("{}")
    os.utime(p, (mtime, mtime))
    return p


def test_only_the_newest_build_folders_of_the_step_stay(tmp_path):
    old = [_folder(tmp_path, f"mapping_stage-{i:07x}-abcdef0", 1_000_000 + i) for i in range(9)]
    # this run's folder, older by mtime than some others (a clock step): kept regardless
    current = _folder(tmp_path, "mapping_stage-fffffff-1234567", 999_000)
    other_step = _folder(tmp_path, "spark-0000001-0000001", 900_000)   # another step's: untouched
    partial = tmp_path / "partial_parse.msgpack"
    partial.write_bytes(b"x")

    _prune_targets(current)

    kept = sorted(p.name for p in tmp_path.glob("mapping_stage-*"))
    assert kept == sorted([current.name] + [p.name for p in old[-(KEEP_TARGETS - 1):]])
    assert other_step.exists() and partial.exists()
    assert len(kept) == KEEP_TARGETS
