"""A full disk is said as such (issue 17, part 3): the path, the free space, the space a rehearsal
needs; the error that matters is not masked (DuckDB's "cannot rollback - no transaction is
active"); a checkpoint that cannot be written is an error, not a silent close; nothing
half-written is left in the warehouse.

The first tests make the writer fail with ENOSPC by hand. The ones marked ``tmpfs`` fill a real,
small file system (``mount -t tmpfs -o size=…``); they are skipped where mounting is not allowed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import uuid
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dagster_project.core import diskspace
from dagster_project.core.diskspace import DiskFull
from dagster_project.extract.writer import write_system_extract


def _legacy(tmp_path: Path, size: int = 4 * 2**20) -> Path:
    d = tmp_path / "legacy" / "jumin"
    d.mkdir(parents=True)
    (d / "JUMIN_KOJIN.CSV").write_bytes(b"x" * size)
    return tmp_path / "legacy"


def test_the_message_names_the_path_the_free_space_and_the_space_needed(tmp_path):
    legacy = _legacy(tmp_path)
    full = DiskFull(tmp_path / "var" / "warehouse.duckdb", free=512 * 1024, needed=74 * 2**20, legacy=4 * 2**20)
    text = str(full)
    assert str(tmp_path / "var" / "warehouse.duckdb") in text
    assert "空き 512.0 KB" in text and "必要な見込み 74.0 MB" in text and "disk full" in text
    at = DiskFull.at(tmp_path / "var" / "w.duckdb", legacy)
    assert at.legacy == 4 * 2**20 and at.needed == int(4 * 2**20 * 2.5 + 64 * 2**20)
    lines = at.lines()
    assert lines[0] == f"ディスク容量不足 / DISK FULL: {tmp_path / 'var' / 'w.duckdb'}"
    assert "書きかけのものは見える所に残していません" in lines[2]


@pytest.mark.parametrize("err", [
    OSError(errno.ENOSPC, "No space left on device", "/var/x.log"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
    sqlite3.OperationalError("database or disk is full"),
    duckdb.TransactionException('TransactionContext Error: Failed to commit: Could not write file "/v/w.duckdb": '
                                "No space left on device"),
])
def test_every_writers_full_disk_is_recognised(err):
    assert diskspace.is_disk_full(err)
    wrapped = RuntimeError("step failed")
    wrapped.__cause__ = err
    assert diskspace.is_disk_full(wrapped)


def test_the_path_is_taken_from_the_error():
    assert diskspace.path_of(OSError(errno.ENOSPC, "No space left on device", "/v/logs/run.log")) == Path("/v/logs/run.log")
    assert diskspace.path_of(duckdb.IOException('IO Error: Could not write file "/v/w.duckdb": No space left on device')) \
        == Path("/v/w.duckdb")
    assert diskspace.path_of("OSError: [Errno 28] No space left on device: '/v/reports/a.xlsx'") == Path("/v/reports/a.xlsx")
    assert not diskspace.is_disk_full(ValueError("invalid literal"))


class _CommitFailsFull:
    """A warehouse connection whose commit fails the way DuckDB's does on a full disk: the
    transaction is over (DuckDB ended it), and the error says so."""

    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args):
        if sql.strip().lower() == "commit":
            self._con.execute("rollback")
            raise duckdb.TransactionException(
                'TransactionContext Error: Failed to commit: Could not write file "w.duckdb": No space left on device')
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _extract(system: str, rows: int):
    from dagster_project.extract.reader import GAIJI_USAGE_SCHEMA, QUARANTINE_SCHEMA, FileExtract

    frame = pl.DataFrame({"_record_no": list(range(1, rows + 1)),
                          "name": [uuid.uuid4().hex * 4 for _ in range(rows)]})
    return FileExtract(system=system, table="t", file_name="T.CSV", frame=frame,
                       quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), gaiji_usage=pl.DataFrame(schema=GAIJI_USAGE_SCHEMA),
                       records_in_file=rows, file_bytes=rows * 130, sha256="0" * 64, records_counted=rows)


def test_a_failed_commit_is_a_full_disk_not_cannot_rollback(tmp_path, monkeypatch):
    from dagster_project.core import warehouse

    db = tmp_path / "w.duckdb"
    real = warehouse.open_warehouse
    monkeypatch.setattr(warehouse, "open_warehouse", lambda p, read_only=False: _CommitFailsFull(real(p, read_only)))
    monkeypatch.setenv("KIKAN_LEGACY_DIR", str(_legacy(tmp_path)))
    with pytest.raises(DiskFull) as caught:
        write_system_extract(db, "jumin", [_extract("jumin", 10)])
    assert caught.value.path == db and "cannot rollback" not in str(caught.value)
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    con = duckdb.connect(str(db), read_only=True)
    try:       # nothing of the system was committed
        assert not con.execute("select count(*) from information_schema.tables where table_schema = 'raw'").fetchone()[0]
    finally:
        con.close()


def test_the_commits_own_error_is_not_masked_by_the_rollback(tmp_path, monkeypatch):
    """Any failed commit (here not a full disk): the error raised is the commit's, not the
    rollback's "cannot rollback - no transaction is active"."""
    from dagster_project.core import warehouse

    class CommitFails(_CommitFailsFull):
        def execute(self, sql, *args):
            if sql.strip().lower() == "commit":
                self._con.execute("rollback")
                raise duckdb.TransactionException("TransactionContext Error: Failed to commit: checksum mismatch")
            return self._con.execute(sql, *args)

    real = warehouse.open_warehouse
    monkeypatch.setattr(warehouse, "open_warehouse", lambda p, read_only=False: CommitFails(real(p, read_only)))
    with pytest.raises(duckdb.TransactionException, match="Failed to commit: checksum mismatch"):
        write_system_extract(tmp_path / "w.duckdb", "jumin", [_extract("jumin", 10)])


def test_kikan_run_says_disk_full_first_and_exits_2(tmp_path, monkeypatch, capsys):
    """The writer (here the Dagster run itself) fails with ENOSPC: the terminal's first line is the
    full disk with its path, then the space needed; exit 2."""
    from dagster_project import cli
    from dagster_project.definitions import defs

    var = tmp_path / "var"
    monkeypatch.setenv("KIKAN_VAR_DIR", str(var))
    monkeypatch.setenv("KIKAN_LEGACY_DIR", str(_legacy(tmp_path)))
    monkeypatch.delenv("KIKAN_WAREHOUSE", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)

    class Job:
        def execute_in_process(self, **kw):
            raise OSError(errno.ENOSPC, "No space left on device", str(var / "warehouse.duckdb.wal"))

    monkeypatch.setattr(defs, "resolve_job_def", lambda name: Job())
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"ディスク容量不足 / DISK FULL: {var / 'warehouse.duckdb.wal'}"
    assert "必要な見込み 74.0 MB" in err[1] and "about 74.0 MB needed" in err[1]


def test_a_sqlite_full_dagster_storage_is_said_the_same_way(tmp_path, monkeypatch, capsys):
    from dagster_project import cli
    from dagster_project.definitions import defs

    monkeypatch.setenv("KIKAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KIKAN_LEGACY_DIR", str(_legacy(tmp_path)))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)

    class Job:
        def execute_in_process(self, **kw):
            try:
                raise sqlite3.OperationalError("database or disk is full")
            except sqlite3.OperationalError as exc:
                raise RuntimeError("(sqlite3.OperationalError) database or disk is full") from exc

    monkeypatch.setattr(defs, "resolve_job_def", lambda name: Job())
    assert cli.main(["run"]) == 2
    assert capsys.readouterr().err.startswith("ディスク容量不足 / DISK FULL: ")


# ---------------------------------------------------------------- a real, small, full file system


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()[:80]})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_tmpfs_extraction_on_a_full_disk_is_said_and_leaves_nothing(tmp_path, monkeypatch):

    monkeypatch.setenv("KIKAN_LEGACY_DIR", str(_legacy(tmp_path, 1024)))
    with tmpfs(tmp_path / "small", "3m") as small:
        db = small / "w.duckdb"
        write_system_extract(db, "kaigo", [_extract("kaigo", 100)])      # fits
        with pytest.raises(DiskFull) as caught:
            write_system_extract(db, "jumin", [_extract("jumin", 200_000)])
        assert caught.value.path == db and "cannot rollback" not in str(caught.value)
        assert caught.value.free < 3 * 2**20
        con = duckdb.connect(str(db), read_only=True)
        try:   # the committed system is whole, the failed one left nothing
            assert con.execute('select count(*) from raw."kaigo__t"').fetchone()[0] == 100
            assert con.execute("select count(*) from information_schema.tables where table_name = 'jumin__t'").fetchone()[0] == 0
            assert con.execute("select count(*) from meta.extract_files where system = 'jumin'").fetchone()[0] == 0
        finally:
            con.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_tmpfs_a_checkpoint_that_cannot_be_written_is_an_error(tmp_path, monkeypatch):
    """Small commits sit in the write-ahead log; the disk fills; closing the connection used to
    checkpoint silently into nothing. Now the close raises, and the committed rows are not lost."""
    from dagster_project.core import warehouse

    monkeypatch.setenv("KIKAN_LEGACY_DIR", str(_legacy(tmp_path, 1024)))
    with tmpfs(tmp_path / "small", "4m") as small:
        db = small / "w.duckdb"
        with pytest.raises(DiskFull) as caught:
            with warehouse.connect(db) as con:
                con.execute("set checkpoint_threshold = '1GB'")
                con.execute("create table t (i bigint, s varchar)")
                for k in range(20):
                    con.execute("insert into t select range, md5(range::varchar) from range(?, ?)",
                                [k * 1000, (k + 1) * 1000])
                filler = _fill(small)
        assert caught.value.path == db
        filler.unlink()
        con = duckdb.connect(str(db), read_only=True)
        try:
            assert con.execute("select count(*) from t").fetchone()[0] == 20_000
        finally:
            con.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_tmpfs_dagster_storage_full_is_a_full_disk(tmp_path):
    """Dagster's sqlite storage on a full disk raises "disk I/O error" (or "database or disk is
    full"): with the disk's free space looked at, that is a full disk, at DAGSTER_HOME."""
    import dagster as dg

    @dg.asset
    def one():
        return 1

    with tmpfs(tmp_path / "small", "6m") as small:
        home = small / "dagster_home"
        home.mkdir()
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            dg.materialize([one], instance=instance)
            filler = _fill(small)
            with pytest.raises(Exception) as caught:
                dg.materialize([one], instance=instance, raise_on_error=False)
            assert diskspace.full_where(caught.value, [home]) == home
            filler.unlink()
