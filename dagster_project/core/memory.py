"""glibc's allocator set for a process that runs rehearsal after rehearsal.

glibc raises its mmap threshold each time a large block is freed (up to 32 MiB) and gives each
thread that allocates an arena of its own (up to 8 per core). Over a rehearsal the extraction's
reader thread, DuckDB's and polars' callers, and Python's large objects leave memory in those
arenas that ``malloc_trim`` cannot hand back, and the next rehearsal does not reuse all of it:
at 817,000 residents this process held 764 -> 977 -> 1,093 MiB after three rehearsals in a row,
all of the growth in anonymous mappings, the live Python objects flat. The same runs with
``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2`` held 617 -> 647
-> 675 MiB, about 25 MiB a run still growing, not yet attributed (taming the other allocators in the process, DuckDB's jemalloc, polars' jemalloc and
Arrow's mimalloc, one at a time, did not stop the growth). Those two settings are made here at
run time with ``mallopt`` (a fixed threshold also ends the dynamic raising), so ``kikan run``,
the schedule and the benchmark need no variable set before Python starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3   # <malloc.h>
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024   # glibc's own starting value, kept fixed
ARENA_MAX = 2                 # one per core of the 2-core machine the project sizes for

_done = False


def _glibc(name: str):
    """A function of the C library by name, or None where there is no such (no glibc)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def tame_glibc_malloc() -> bool:
    """Set the two once per process; False where there is no glibc (nothing to do)."""
    global _done
    if _done:
        return True
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_ARENA_MAX, ARENA_MAX))
    _done = ok
    return ok


def malloc_trim() -> bool:
    """glibc's ``malloc_trim(0)``: give the allocator's free pages back to the system (the
    benchmark's measure of what a rehearsal still holds); False where there is no glibc."""
    trim = _glibc("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True
