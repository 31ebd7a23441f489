"""Fault injection for the crash tests, and nothing else.

``KIKAN_FAULT_PAUSE=<point>:<seconds>`` holds a run once at a named point (``extract``: inside a
system's warehouse transaction, tables written and not committed; ``export``: a package half
written in its hidden folder) and says so on stderr (the run log), so a test can kill the run
exactly there. Unset, nothing happens.
"""

from __future__ import annotations

import sys
import time

from dagster_project.core.settings import settings

_done: set[str] = set()


def pause(point: str) -> None:
    spec = settings().fault_pause
    if not spec.startswith(point + ":") or point in _done:
        return
    _done.add(point)
    print(f"KIKAN_FAULT_PAUSE at {point}", file=sys.stderr, flush=True)
    time.sleep(float(spec.split(":", 1)[1]))
