"""The second core for pure-Python writing: one worker process kept for the life of this process.

The main job runs its steps one after another in one process (``definitions.py``: DuckDB admits one
writer). Most of the steps after the dbt build are Python bound: a report writes its Excel workbook
with XlsxWriter and its HTML twin with Jinja2, one cell at a time, on one core while the other sits
idle. A report hands its workbook to this worker (:func:`submit`) and renders the HTML twin itself
meanwhile; both are functions of data already read, so the worker opens nothing of the warehouse.

One worker, started on first use (``spawn``: a fresh interpreter, never a fork of a process that
runs DuckDB's and Dagster's threads) and reused by every later report of the run and of the next
runs in the same process. ``KIKAN_SIDE_WORKER=0`` writes everything in this process instead, as
before (the same files: the tests compare both).

A worker that died (killed, out of memory) fails the report that was waiting on it with the
worker's error; the next report starts a new worker.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get("KIKAN_SIDE_WORKER", "1").strip().lower() not in ("0", "false", "no", "off")


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def _discard_broken() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


class _Inline(Future):
    """The same interface when the worker is off: the call has already run, here."""

    def __init__(self, fn: Callable, args: tuple):
        super().__init__()
        try:
            self.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed back to whoever asks for the result
            self.set_exception(exc)


def submit(fn: Callable, *args) -> Future:
    """``fn(*args)`` in the worker (``fn`` and ``args`` picklable: a module-level function and plain
    data). The caller does its own part and then calls ``result()``, which raises what ``fn`` raised."""
    if not enabled():
        return _Inline(fn, args)
    try:
        return _executor().submit(fn, *args)
    except BrokenProcessPool:        # the last worker died: a new one for this and later calls
        _discard_broken()
        return _executor().submit(fn, *args)


def result(fut: Future):
    """The result, and a worker that died is not kept for the next call."""
    try:
        return fut.result()
    except BrokenProcessPool:
        _discard_broken()
        raise


def shutdown() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None


atexit.register(shutdown)
