"""The second core for pure-Python writing: one worker process kept for the life of this process.

The main job runs its steps one after another in one process (``definitions.py``: DuckDB admits one
writer). Most of the steps after the dbt build are Python bound: a report writes its Excel workbook
with XlsxWriter and its HTML twin with Jinja2, one cell at a time, on one core while the other sits
idle. A report hands its workbook to this worker (:func:`submit`) and renders the HTML twin itself
meanwhile; both are functions of data already read, so the worker opens nothing of the warehouse.

Why not ``concurrent.futures.ProcessPoolExecutor``: multiprocessing's ``spawn`` (and
``forkserver``) start a child by running the parent's ``__main__`` again, by its file; under
pytest-xdist that "file" is ``<pytest-xdist worker>`` and the child died before it could work, and
any host that runs the pipeline from an embedded interpreter has the same trap. ``fork`` would copy
a process that runs DuckDB's and Dagster's threads. So the worker is ``python -m
dagster_project.core.side``, a fresh interpreter that imports only what it is asked to run, with a
pair of pipes carrying pickled ``(function, arguments)`` in and ``("ok" | "err", value)`` out, in
order. It ends when this process closes the pipe or dies (end of file), so it never outlives it.
Its standard streams go nowhere: what it has to say comes back as the call's result or exception.

``KIKAN_SIDE_WORKER=0`` writes everything in this process instead (the same files).
A worker that died (killed, out of memory) fails the calls waiting on it; the next call starts a
new worker. The runner ends the worker after each rehearsal's main job (:func:`shutdown`), so it
holds nothing between rehearsals, and the worker gives its free memory back after each call.
"""

from __future__ import annotations

import atexit
import collections
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future


class WorkerDied(RuntimeError):
    """The side worker ended while calls were waiting on it."""


class _Worker:
    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dagster_project.core.side", str(req_r), str(res_w)],
                pass_fds=(req_r, res_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        finally:
            os.close(req_r)
            os.close(res_w)
        self._req = os.fdopen(req_w, "wb")
        self._res = os.fdopen(res_r, "rb")
        self._pending: collections.deque[Future] = collections.deque()
        self._lock = threading.Lock()
        self.dead = False
        threading.Thread(target=self._read, name="side-worker-results", daemon=True).start()

    def submit(self, fn: Callable, args: tuple) -> Future:
        fut: Future = Future()
        data = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)   # before the lock: may raise
        with self._lock:
            if self.dead:
                raise WorkerDied("the side worker has ended")
            self._pending.append(fut)
            try:
                self._req.write(data)
                self._req.flush()
            except OSError:
                self._pending.pop()
                self.dead = True
                raise WorkerDied("the side worker has ended") from None
        return fut

    def _read(self) -> None:
        while True:
            try:
                kind, value = pickle.load(self._res)
            except Exception:            # end of file: the worker ended (or was closed)
                break
            with self._lock:
                fut = self._pending.popleft()
            if not fut.set_running_or_notify_cancel():
                continue                 # nobody waits for it any more
            if kind == "ok":
                fut.set_result(value)
            else:
                fut.set_exception(value)
        with self._lock:
            self.dead = True
            pending, self._pending = list(self._pending), collections.deque()
        code = self.proc.wait()
        for fut in pending:
            if fut.set_running_or_notify_cancel():
                fut.set_exception(WorkerDied(f"the side worker ended (exit {code}) before it answered"))

    def close(self) -> None:
        with self._lock:
            self.dead = True
            try:
                self._req.close()       # the worker reads end of file and exits
            except OSError:
                pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_worker: _Worker | None = None
_guard = threading.Lock()


def enabled() -> bool:
    from dagster_project.core.settings import settings

    return settings().side_worker


class _Inline(Future):
    """The same interface when the worker is off: the call has already run, here."""

    def __init__(self, fn: Callable, args: tuple):
        super().__init__()
        try:
            self.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed back to whoever asks for the result
            self.set_exception(exc)


def submit(fn: Callable, *args) -> Future:
    """``fn(*args)`` in the worker (``fn`` a module-level function, ``args`` picklable data). The
    caller does its own part meanwhile and then asks the future's ``result()``, which raises what
    ``fn`` raised."""
    global _worker
    if not enabled():
        return _Inline(fn, args)
    with _guard:
        if _worker is None or _worker.dead:
            _worker = _Worker()
        worker = _worker
    return worker.submit(fn, args)


def shutdown() -> None:
    global _worker
    with _guard:
        if _worker is not None:
            _worker.close()
            _worker = None


atexit.register(shutdown)


def _serve(req_fd: int, res_fd: int) -> int:
    """The worker: calls in, results out, in order, until the pipe ends."""
    from dagster_project.core.memory import malloc_trim, tame_glibc_malloc

    tame_glibc_malloc()     # workbook after workbook: glibc set as in the main process
    inp, out = os.fdopen(req_fd, "rb"), os.fdopen(res_fd, "wb")
    while True:
        try:
            fn, args = pickle.load(inp)
        except EOFError:
            return 0
        try:
            answer = ("ok", fn(*args))
        except BaseException as exc:  # noqa: BLE001 - the caller raises it
            answer = ("err", exc)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:      # noqa: BLE001 - an exception (or result) pickle cannot carry
            data = pickle.dumps(("err", RuntimeError(f"the side worker's answer could not be sent back "
                                                     f"({type(exc).__name__})")))
        out.write(data)
        out.flush()
        del answer, data, fn, args
        # a workbook's cells are held until it is written (about 1 GiB for zeimu at 817,000
        # residents): handed back to the system, not kept idle beside the next steps
        malloc_trim()


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1]), int(sys.argv[2])))
