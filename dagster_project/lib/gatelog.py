"""The gate's records outside the warehouse: the decision log and the rehearsal history.

Both are JSON Lines files under the readiness state folder (``var/readiness/`` by default),
so rebuilding the warehouse never loses them.

- ``decision_log.jsonl``: append-only. Each entry is one 移行可否判定 with its criteria, the
  SHA-256 of every input file, the code version and the hash of the previous entry, so an
  edited or deleted line breaks the chain (:func:`verify_log`). A decision is never rewritten;
  a later run that reaches a different outcome appends a new decision saying why.
- ``rehearsals.jsonl``: one line per system per rehearsal (a run of the pipeline), with the
  headline figures and the criteria, for the trend and the count of passing rehearsals.

Writers hold a file lock; every line is written whole and fsynced. A line left half-written by
a crash (no final newline) was never acknowledged: it is moved aside to ``*.torn-<time>`` and
cut off before the next append, never silently merged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
from pathlib import Path

from filelock import FileLock

from .config import PROJECT_ROOT

LOG = "decision_log.jsonl"
HISTORY = "rehearsals.jsonl"
GENESIS = "0" * 64


class LogCorrupted(RuntimeError):
    pass


def _canonical(entry: dict) -> bytes:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _heal_torn_tail(path: Path) -> None:
    """Cut off a final line without a newline (a write interrupted by a crash), keeping a copy."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
    path.with_name(f"{path.name}.torn-{stamp}").write_bytes(data[cut:])
    with path.open("r+b") as fh:
        fh.truncate(cut)
        fh.flush()
        os.fsync(fh.fileno())


def _append_line(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _heal_torn_tail(path)
    with path.open("ab") as fh:
        fh.write(_canonical(obj) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def _read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    for no, line in enumerate(complete.splitlines(), start=1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise LogCorrupted(f"{path}: line {no}: not JSON ({exc.msg})") from None
    return out


def lock(state_dir: Path) -> FileLock:
    state_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(state_dir / ".lock"))


# ---------------------------------------------------------------- decision log


def read_log(state_dir: Path) -> list[dict]:
    entries = _read_lines(Path(state_dir) / LOG)
    verify_entries(entries, Path(state_dir) / LOG)
    return entries


def verify_entries(entries: list[dict], path: Path) -> None:
    prev = GENESIS
    for no, e in enumerate(entries, start=1):
        body = {k: v for k, v in e.items() if k != "entry_hash"}
        if e.get("prev_hash") != prev:
            raise LogCorrupted(f"{path}: line {no}: prev_hash does not match line {no - 1} (a line was edited, "
                               "removed or inserted)")
        if hashlib.sha256(_canonical(body)).hexdigest() != e.get("entry_hash"):
            raise LogCorrupted(f"{path}: line {no}: entry_hash does not match its content (the line was edited)")
        prev = e["entry_hash"]


def verify_log(state_dir: Path) -> int:
    """Check the whole chain; return the number of entries. Raises :class:`LogCorrupted`."""
    return len(read_log(state_dir))


def latest_decision(entries: list[dict], system: str) -> dict | None:
    mine = [e for e in entries if e["system"] == system]
    return mine[-1] if mine else None


def append_decision(state_dir: Path, entry: dict, entries: list[dict] | None = None) -> dict:
    """Append ``entry`` (decision_id, prev_hash and entry_hash are filled in). Caller holds the lock;
    ``entries`` is the verified log it read under that lock, if it has it."""
    state_dir = Path(state_dir)
    entries = read_log(state_dir) if entries is None else entries
    seq = len(entries) + 1
    e = dict(entry)
    e["seq"] = seq
    e["decision_id"] = f"D{seq:05d}-{e['system']}-{e['as_of'].replace('-', '')}"
    e["prev_hash"] = entries[-1]["entry_hash"] if entries else GENESIS
    e["entry_hash"] = hashlib.sha256(_canonical(e)).hexdigest()
    _append_line(state_dir / LOG, e)
    return e


# ---------------------------------------------------------------- rehearsal history


def read_history(state_dir: Path, system: str | None = None) -> list[dict]:
    """Rehearsals, oldest first; the last line of a rehearsal id counts (a re-evaluation)."""
    rows = _read_lines(Path(state_dir) / HISTORY)
    last: dict[tuple[str, str], dict] = {}
    for r in rows:
        if system is None or r["system"] == system:
            last.pop((r["system"], r["rehearsal_id"]), None)
            last[(r["system"], r["rehearsal_id"])] = r
    return list(last.values())


def append_history(state_dir: Path, row: dict) -> None:
    _append_line(Path(state_dir) / HISTORY, row)


# ---------------------------------------------------------------- provenance


def code_version() -> dict:
    """The commit of the code that decided (and whether the tree had local changes)."""
    out = {"package": _package_version()}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                timeout=10)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                                   capture_output=True, text=True, timeout=10)
            out["git_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kikan-migration")
    except PackageNotFoundError:
        return "unknown"


def files_sha256(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode() + b"\0" + hashlib.sha256(p.read_bytes()).hexdigest().encode() + b"\n")
    return h.hexdigest()
