"""The build folders dagster-dbt leaves under dbt/target: the newest few stay, the rest go."""

import os

import pytest

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


def test_a_parse_state_is_valid_for_every_warehouse(tmp_path):
    """The profile names no warehouse (the duck_dbt plugin attaches it at connect): a rehearsal on
    another warehouse partial-parses instead of parsing every node again. Fails when a path (or
    anything else that differs per warehouse) goes back into the profile."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from dagster_project.core.settings import settings

    dbt_dir = settings().dbt_dir
    dbt = str(Path(sys.executable).with_name("dbt"))
    target = tmp_path / "target"
    target.mkdir()
    state = dbt_dir / "target" / "partial_parse.msgpack"
    if state.exists():
        shutil.copyfile(state, target / state.name)
    outs = []
    for name in ("a", "b"):
        env = settings().dbt_env(tmp_path / name / "city.duckdb")
        res = subprocess.run([dbt, "parse", "--target-path", str(target), "--log-level-file", "none"],
                             cwd=dbt_dir, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stdout[-2000:]
        outs.append(res.stdout)
    assert "Unable to do partial parsing" not in outs[1], outs[1][-2000:]


def test_the_plugin_attaches_the_warehouse_it_is_given(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from dagster_project.mapping.duck_dbt import Plugin

    monkeypatch.setenv("KIKAN_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.delenv("KIKAN_WAREHOUSE_KEY", raising=False)
    att = SimpleNamespace(alias="warehouse", path="KIKAN_WAREHOUSE", options=None)
    config = {}
    Plugin.__new__(Plugin).update_connection_config(SimpleNamespace(attach=[att]), config)
    assert att.path == str(tmp_path / "w.duckdb") and att.options is None and att.read_only is False
    monkeypatch.setenv("KIKAN_DBT_READ_ONLY", "1")    # dbt docs generate (Settings.dbt_env(read_only=True))
    Plugin.__new__(Plugin).update_connection_config(SimpleNamespace(attach=[att]), {})
    assert att.read_only is True
    monkeypatch.setenv("KIKAN_DBT_READ_ONLY", "0")
    assert config["temp_directory"] == str(tmp_path / "w.duckdb") + ".tmp"
    assert config["memory_limit"] == "2GB"   # the default share: the 817k build's tree peaked at 5 GiB without
    monkeypatch.setenv("KIKAN_DBT_MEMORY_LIMIT", "6GB")
    config = {}
    Plugin.__new__(Plugin).update_connection_config(SimpleNamespace(attach=[att]), config)
    assert config["memory_limit"] == "6GB"
    monkeypatch.setenv("KIKAN_WAREHOUSE_KEY", "k" * 32)
    Plugin.__new__(Plugin).update_connection_config(SimpleNamespace(attach=[att]), {})
    assert att.options == {"encryption_key": "k" * 32}
    monkeypatch.delenv("KIKAN_WAREHOUSE")
    with pytest.raises(RuntimeError, match="KIKAN_WAREHOUSE"):
        Plugin.__new__(Plugin).update_connection_config(SimpleNamespace(attach=[att]), {})


def test_the_dbt_resource_knows_its_version_without_running_dbt(monkeypatch, tmp_path):
    """The dbt step's resource reads dbt's version from the installed package instead of running
    ``dbt --version`` before every command, and makes no adapter in this process: the version it
    gives is the one ``dbt --version`` prints, and asking it runs no process."""
    import re
    import subprocess

    from dagster_project.mapping.dbt_project import dbt_executable
    from dagster_project.mapping.defs import KikanDbtCliResource, dbt_project

    printed = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True).stdout
    want = re.search(r"(\d+\.\d+\.\d+)", printed).group(1)

    def no_process(*a, **k):
        raise AssertionError(f"a process was started: {a}")
    monkeypatch.setattr(subprocess, "check_output", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    res = KikanDbtCliResource(project_dir=dbt_project, profiles_dir=str(dbt_project.project_dir),
                              dbt_executable=dbt_executable())
    assert str(res._cli_version) == want
    assert res._initialize_dbt_core_adapter(["build"]) is None
    # another dbt than this environment's: dagster-dbt's own way (here: it runs dbt --version)
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\necho 'Core: - installed: 1.0.0'\n")
    elsewhere.chmod(0o755)
    other = KikanDbtCliResource(project_dir=dbt_project, profiles_dir=str(dbt_project.project_dir),
                                dbt_executable=str(elsewhere))
    with pytest.raises(AssertionError, match="a process was started"):
        other._cli_version
