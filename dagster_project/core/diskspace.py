"""A full disk, said as such: which path, how much is free, about how much a rehearsal needs.

A full disk used to surface as whatever failed first: DuckDB's "cannot rollback - no transaction
is active" (the rollback after a failed commit), a bare sqlite "database or disk is full"
traceback from Dagster's own storage, or an ENOSPC in the run log only. Every writer's error is
now recognised here (errno ENOSPC / EDQUOT, DuckDB's and sqlite's wording) and ``kikan run``
puts one message at the top of its output.

The space a rehearsal needs is an estimate from the legacy exports' size, measured on the 817k
benchmark (``var/bench/bench-817000.json``: legacy 1.03 GB, warehouse 1.24 GB = 1.20x, export
packages 1.11 GB = 1.08x): 2.5 times the legacy bytes, plus 64 MiB for the reference tables (the
MJ character table alone is ~40 MB in a 20,000-resident warehouse of 86 MB), the reports and
Dagster's storage.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

from dagster_project.core.settings import default_legacy_dir

ESTIMATE_FACTOR = 2.5
ESTIMATE_FIXED = 64 * 2**20
DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
DISK_FULL_RE = re.compile(r"No space left on device|database or disk is full|disk is full|Disk quota exceeded",
                          re.IGNORECASE)
# DuckDB: Could not write file "/path/warehouse.duckdb": No space left on device; Python's OSError
# as text (a failed step's error in Dagster): [Errno 28] No space left on device: '/path/x.xlsx'
_DUCKDB_PATH_RE = re.compile(r'file "([^"\n]+)"|\[Errno \d+\] [^:\n]+: \'([^\'\n]+)\'')


def human(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _existing(path: Path) -> Path:
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def free_bytes(path: Path) -> int:
    """Free bytes for an unprivileged writer on the file system that holds ``path`` (or would)."""
    return shutil.disk_usage(_existing(path)).free


def tree_bytes(path: Path) -> int:
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    total = 0
    for root, _, files in os.walk(p) if p.is_dir() else ():
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def estimate_needed(legacy_dir: Path | None) -> tuple[int, int]:
    """(bytes a rehearsal needs, bytes of the legacy exports it was estimated from)."""
    legacy = tree_bytes(legacy_dir) if legacy_dir is not None else 0
    return int(legacy * ESTIMATE_FACTOR + ESTIMATE_FIXED), legacy


class DiskFull(RuntimeError):
    """No space left where the run writes. The message names the path, the free space and the
    space a rehearsal needs (an estimate), in Japanese and English, and nothing of the data."""

    def __init__(self, path: Path, free: int, needed: int, legacy: int):
        self.path, self.free, self.needed, self.legacy = Path(path), free, needed, legacy
        super().__init__(str(self))

    @classmethod
    def at(cls, path: Path, legacy_dir: Path | None = None) -> "DiskFull":
        if legacy_dir is None:
            legacy_dir = default_legacy_dir()
        needed, legacy = estimate_needed(legacy_dir)
        try:
            free = free_bytes(path)
        except OSError:
            free = 0
        return cls(path, free, needed, legacy)

    def __str__(self) -> str:
        return (f"ディスクの空き容量が足りません: {self.path}（空き {human(self.free)}、このリハーサルに必要な見込み "
                f"{human(self.needed)}: 現行データ {human(self.legacy)} の {ESTIMATE_FACTOR} 倍 + {human(ESTIMATE_FIXED)}） / "
                f"disk full: {self.path} ({human(self.free)} free, about {human(self.needed)} needed)")

    def lines(self) -> list[str]:
        """What ``kikan run`` prints first."""
        return [
            f"ディスク容量不足 / DISK FULL: {self.path}",
            f"  空き {human(self.free)}、このリハーサルに必要な見込み {human(self.needed)}"
            f"（現行データ {human(self.legacy)} × {ESTIMATE_FACTOR} + {human(ESTIMATE_FIXED)}） / "
            f"{human(self.free)} free, about {human(self.needed)} needed",
            "  書きかけのものは見える所に残していません（倉庫は書き込み前の状態、出力パッケージは未公開）。"
            "空きを作ってから、もう一度実行してください / nothing half-written is left visible; "
            "free some space and run again",
        ]


def is_disk_full(err: BaseException | str | None) -> bool:
    """Whether an exception (its causes and contexts included) or an error text is a full disk.
    The text is only matched, never passed on."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, str):
            return bool(DISK_FULL_RE.search(err))
        if isinstance(err, DiskFull):
            return True
        if isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS:
            return True
        if DISK_FULL_RE.search(str(err)):
            return True
        err = err.__cause__ or err.__context__
    return False


_IO_ERROR_RE = re.compile(r"disk I/O error|Input/output error|\bEIO\b|IO Error", re.IGNORECASE)
NEARLY_FULL = 1 * 2**20


def full_where(err: BaseException, places: list[Path | None]) -> Path | None:
    """The place a failure ran out of space, or None. A full disk says so (:func:`is_disk_full`);
    sqlite on a full disk may say only "disk I/O error" (Dagster's storage, when its write-ahead
    log cannot grow), so an I/O error counts as a full disk where one of ``places`` has less than
    1 MiB free."""
    if is_disk_full(err):
        return path_of(err) or next((Path(p) for p in places if p is not None), None) or Path.cwd()
    seen, e = set(), err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if (isinstance(e, OSError) and e.errno == errno.EIO) or _IO_ERROR_RE.search(str(e)):
            for p in places:
                try:
                    if p is not None and free_bytes(p) < NEARLY_FULL:
                        return Path(p)
                except OSError:
                    continue
            return None
        e = e.__cause__ or e.__context__
    return None


def path_of(err: BaseException | str | None) -> Path | None:
    """The file a disk-full error names (OSError's filename, DuckDB's 'file "…"'), if any."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, DiskFull):
            return err.path
        if isinstance(err, OSError) and err.filename:
            return Path(os.fsdecode(err.filename))
        m = _DUCKDB_PATH_RE.search(err if isinstance(err, str) else str(err))
        if m:
            return Path(m.group(1) or m.group(2))
        if isinstance(err, str):
            return None
        err = err.__cause__ or err.__context__
    return None


def error_info_is_disk_full(info) -> tuple[bool, Path | None]:
    """The same for a Dagster ``SerializableErrorInfo`` (a failed step's error, its causes)."""
    seen = 0
    while info is not None and seen < 20:
        seen += 1
        text = f"{info.cls_name or ''}: {info.message or ''}"
        if DISK_FULL_RE.search(text) or "ENOSPC" in text:
            return True, path_of(info.message or "")
        info = info.cause or info.context
    return False, None


def failure(df: DiskFull):
    """The Dagster failure a step raises on a full disk (``kikan run`` reads its metadata)."""
    import dagster as dg

    return dg.Failure(description=str(df), metadata={
        "disk_full": str(df.path), "free_bytes": df.free, "needed_bytes": df.needed})
