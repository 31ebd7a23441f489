"""Writing what people open so that nobody ever sees half of it: a file, a set of files, a folder.

- :func:`write_file` / :func:`write_text`: written to a hidden temporary file beside the target,
  then ``os.replace``d over it (atomic on one file system). ``durable=True`` also fsyncs the file
  and its folder, for records that must survive a power cut (the logs' heads); pages do not pay
  for it.
- :func:`write_files`: a page set of several files (a report's ``.xlsx`` and its HTML twin, the
  overview's HTML and JSON): every file is written first and only then are they all renamed in
  place, so a failure or a kill while writing leaves every old file as it was.
- :func:`replace_dir`: a folder of pages (GX Data Docs: an index and a page per suite and
  validation) is built in ``.<name>.build-<id>`` beside the target and swapped in by two renames
  in the same folder: the old site to ``.<name>.old-<id>``, the build to the target's name, then
  the old one is removed.

Why two renames and not a symlink ``gx_docs -> build-<id>`` (whose swap is one atomic rename):
the target stays a plain folder, so the path the ICT office opens, copies, zips or publishes on a
Windows file share behaves like any folder, and scanners need no symlink semantics. What two
renames cost is a window of two ``rename`` calls in which the target is absent (never partial);
a kill inside it is repaired by the next build (:func:`recover`): the build of the same id is
whole (the old site is moved aside only once its build is finished), so it is put in place, and
otherwise the old site is put back. A kill while building leaves only a hidden ``.build-`` folder,
which the next build removes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from dagster_project.core import side

Writer = Callable[[Path], None]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:          # a platform without directory handles (Windows): the rename is what counts
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def _finish(tmp: Path, mode: int, durable: bool) -> None:
    os.chmod(tmp, mode)   # owners and the ICT office read the pages; they hold internal keys, no personal data
    if durable:
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())


def write_file(path: Path, write: Writer, *, mode: int = 0o644, durable: bool = False) -> None:
    """``write(tmp)`` writes the content to ``tmp``; it then replaces ``path`` whole."""
    write_files({Path(path): write}, mode=mode, durable=durable)


def write_text(path: Path, text: str, *, mode: int = 0o644, durable: bool = False) -> None:
    write_file(path, lambda p: p.write_text(text, encoding="utf-8", newline=""), mode=mode, durable=durable)


@dataclass(frozen=True)
class InWorker:
    """A writer for :func:`write_files` that runs in the side worker process (:mod:`core.side`):
    ``fn(tmp, *args)``, a module-level function of plain data. The other writers of the set run
    here meanwhile: a report's workbook in the worker, its HTML twin here, on the two cores."""
    fn: Callable
    args: tuple = ()


def write_files(writers: dict[Path, Writer | InWorker], *, mode: int = 0o644, durable: bool = False) -> None:
    """Write every file to its temporary twin, then rename them all in place. An exception (or a
    kill) before the renames leaves every target as it was and removes (or leaves hidden) the
    temporaries. Writers given as :class:`InWorker` run in the side worker at the same time as the
    others; the renames wait for all of them."""
    temps: dict[Path, Path] = {}
    futures = []
    try:
        for path in writers:
            temps[Path(path)] = _temp_beside(Path(path))
        for path, write in writers.items():
            if isinstance(write, InWorker):
                futures.append(side.submit(write.fn, temps[Path(path)], *write.args))
        for path, write in writers.items():
            if not isinstance(write, InWorker):
                write(temps[Path(path)])
        for fut in futures:
            fut.result()
        for tmp in temps.values():
            _finish(tmp, mode, durable)
        for path, tmp in temps.items():
            os.replace(tmp, path)
        if durable:
            for folder in {p.parent for p in temps}:
                _fsync_dir(folder)
    except BaseException:
        # the worker may still be writing a temporary: let it end before removing it
        wait(futures, timeout=600)
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- folders


def _leftovers(target: Path, kind: str) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.{kind}-*"))


def recover(target: Path) -> None:
    """Repair what a kill left around ``target``: a swap cut between its two renames (the target
    absent; the finished build of the same id goes in, else the old folder goes back) and hidden
    builds and old folders (removed)."""
    target = Path(target)
    if not target.exists():
        olds = _leftovers(target, "old")
        for old in reversed(olds):      # the newest swap first
            build = target.parent / f".{target.name}.build-{old.name.rsplit('-', 1)[1]}"
            if build.is_dir():
                os.rename(build, target)
            else:
                os.rename(old, target)
            break
    for p in _leftovers(target, "build") + _leftovers(target, "old"):
        shutil.rmtree(p, ignore_errors=True)


@contextmanager
def replace_dir(target: Path) -> Iterator[Path]:
    """Yield an empty build folder beside ``target``; when the block ends without an exception the
    build replaces ``target`` (see the module docstring), else it is removed and ``target`` is
    untouched. One builder of a target at a time (a lock file beside it)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock")):
        recover(target)
        token = uuid.uuid4().hex[:12]
        build = target.parent / f".{target.name}.build-{token}"
        build.mkdir()
        try:
            yield build
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        old = target.parent / f".{target.name}.old-{token}"
        if target.exists():
            os.rename(target, old)
        try:
            os.rename(build, target)
        except BaseException:
            if old.exists() and not target.exists():
                os.rename(old, target)
            shutil.rmtree(build, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
