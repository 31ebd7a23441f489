"""One system's extraction: its files read in a thread while the warehouse writes what was read.

Reading is Python and numpy (the codec holds the GIL), writing is DuckDB compressing and storing
columns (it lets the GIL go, and uses both cores on two row groups at a time): they overlap. The
reading thread hands over each chunk of raw rows as soon as it is final (:class:`RawChunk`), then
the file's :class:`FileExtract`; :func:`~dagster_project.extract.writer.write_system_extract`
writes them in the system's one transaction as they come. Everything else is as when the files
were read first and written after: the same frames, the same refusals, one transaction, nothing of
the system committed when anything fails (a reading error is raised on the writer's thread, which
rolls back).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from dagster_project.extract.reader import ExtractError, FileExtract, RawChunk, extract_file, refused_extract
from dagster_project.extract.writer import write_system_extract
from dagster_project.spec.config import GaijiEntry, Layout

# chunks read ahead of the writer: enough to keep both busy, few enough to hold little memory
DEPTH = 2


class _Stopped(Exception):
    """The writer stopped taking (it failed): the reading thread ends without reading further."""


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


_DONE = object()


def read_system(src: Path, layout: Layout, gaiji: list[GaijiEntry],
                put: Callable[[RawChunk | FileExtract], None]) -> None:
    """Every file of the system's layout, in order: its chunks of raw rows, then its
    :class:`FileExtract` (a refused file's stand-in when it cannot be read as a whole)."""
    for lf in layout.files:
        try:
            r = extract_file(src / lf.file, layout, lf, gaiji,
                             on_chunk=lambda frame, table=lf.table: put(RawChunk(table, frame)))
        except ExtractError as exc:
            r = refused_extract(src / lf.file, layout, lf, str(exc))
        put(r)


def extract_system(src: Path, layout: Layout, gaiji: list[GaijiEntry], db_path: Path,
                   on_file: Callable[[FileExtract], None] | None = None,
                   ) -> tuple[list[FileExtract], dict[str, tuple[int, int, int]]]:
    """Read the system's files from ``src`` and write them to the warehouse, overlapped.

    Returns the files' extracts (layout order) and, per table, (raw rows, quarantined rows,
    refused records) as the warehouse holds them after the commit. ``on_file`` is called on the
    calling thread with each file's extract as the writer takes it (for the run log)."""
    box: queue.Queue = queue.Queue(maxsize=DEPTH)
    stop = threading.Event()

    def put(item) -> None:
        while True:
            if stop.is_set():
                raise _Stopped
            try:
                box.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def reader() -> None:
        try:
            read_system(src, layout, gaiji, put)
            put(_DONE)
        except _Stopped:
            return
        except BaseException as exc:   # handed to the writer's thread, raised there
            try:
                put(_Failed(exc))
            except _Stopped:
                return

    results: list[FileExtract] = []

    def items() -> Iterator[RawChunk | FileExtract]:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            if isinstance(item, FileExtract):
                results.append(item)
                if on_file is not None:
                    on_file(item)
            yield item

    thread = threading.Thread(target=reader, name=f"extract-{layout.system}", daemon=True)
    thread.start()
    try:
        counts = write_system_extract(db_path, layout.system, items())
    finally:
        stop.set()
        thread.join()
    return results, counts
