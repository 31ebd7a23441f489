"""The gate's records outside the warehouse: the decision log, the owners' audit log and the
rehearsal history.

All are JSON Lines files under the readiness state folder (``var/readiness/`` by default),
so rebuilding the warehouse never loses them.

- ``decision_log.jsonl``: append-only. Each entry is one 移行可否判定 with its criteria, the
  SHA-256 of every input file, the code version and the hash of the previous entry, so an
  edited, inserted or removed line breaks the chain (:func:`verify_log`). A decision is never
  rewritten; a later run that reaches a different outcome appends a new decision saying why.
- ``owner_audit.jsonl``: the same chain (:func:`append_audit`), one entry per change of the
  owners' inputs (decisions, reviews, sign-offs): who, when, which rows (see ``owner_audit``).
- ``rehearsals.jsonl``: one line per system per rehearsal (a run of the pipeline), with the
  headline figures and the criteria, for the trend and the count of passing rehearsals; and one
  ``rehearsal_completed`` line per rehearsal that ran to its end (:func:`complete_rehearsal`).
  Rows of a rehearsal without that line were cut off (a killed run): they are read as aborted
  (``completed`` false) and never count (:func:`read_history`).

A chain alone cannot show that its last lines were deleted: what remains is a valid chain. So
each chained log keeps its head (line count and last hash) in ``<log>.head``, rewritten
atomically after every append, and every rehearsal history row records the heads of both logs
as they stood. Reading a log checks it against its head file and the latest history row (read
from the end of the file, so the cost does not grow with the history): fewer lines than a head
records, or another hash at that line, is :class:`LogCorrupted` naming the missing lines; the
gate step then fails, so nothing is exported on a log that lost its end. A
kill between an append and its head leaves the log one line ahead of the head file; that one
line, chained to the head, is accepted (more than one is not: lines the writer never wrote).

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

from dagster_project.core import atomic
from dagster_project.core.settings import PROJECT_ROOT, settings

LOG = "decision_log.jsonl"
AUDIT = "owner_audit.jsonl"
HISTORY = "rehearsals.jsonl"
GENESIS = "0" * 64
COMPLETED = "rehearsal_completed"     # the event of a history line that completes a rehearsal
LABEL = {LOG: "判定ログ", AUDIT: "所管課入力の監査ログ"}


class LogCorrupted(RuntimeError):
    pass


def default_state_dir() -> Path:
    """Where the gate keeps its records when nothing else is said: KIKAN_READINESS_DIR, else
    ``var/readiness``."""
    return settings().readiness_path


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
            raise LogCorrupted(f"{path} {no}行目: JSON として読めません / line {no}: not JSON ({exc.msg})") from None
    return out


def lock(state_dir: Path) -> FileLock:
    state_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(state_dir / ".lock"))


# ---------------------------------------------------------------- chained logs


def verify_entries(entries: list[dict], path: Path) -> None:
    label = LABEL.get(Path(path).name, "ログ")
    prev = GENESIS
    for no, e in enumerate(entries, start=1):
        body = {k: v for k, v in e.items() if k != "entry_hash"}
        if e.get("prev_hash") != prev:
            raise LogCorrupted(f"{label} {path} {no}行目: 前の行（{no - 1}行目）のハッシュと一致しません（行が書き換え・"
                               f"削除・挿入された） / line {no}: prev_hash does not match line {no - 1} (a line was "
                               "edited, removed or inserted)")
        if hashlib.sha256(_canonical(body)).hexdigest() != e.get("entry_hash"):
            raise LogCorrupted(f"{label} {path} {no}行目: 内容とハッシュが一致しません（行が書き換えられた） / line {no}: "
                               "entry_hash does not match its content (the line was edited)")
        prev = e["entry_hash"]


def head_of(entries: list[dict]) -> dict:
    """The head of a verified chain: its line count and last hash."""
    return {"lines": len(entries), "last_hash": entries[-1]["entry_hash"] if entries else GENESIS}


def _head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def _read_head(path: Path) -> dict | None:
    hp = _head_path(path)
    if not hp.exists():
        return None
    try:
        h = json.loads(hp.read_text(encoding="utf-8"))
        return {"lines": int(h["lines"]), "last_hash": str(h["last_hash"])}
    except (ValueError, KeyError, TypeError):
        raise LogCorrupted(f"{LABEL.get(path.name, 'ログ')}の末尾の記録 {hp} を読めません / the head file cannot be "
                           "read") from None


def _write_head(path: Path, entries: list[dict]) -> None:
    h = head_of(entries)
    atomic.write_text(_head_path(path), json.dumps({"file": path.name, **h}, sort_keys=True) + "\n", durable=True)


def _last_history_row(path: Path, block: int = 1 << 16) -> dict | None:
    """The last complete history row that records the logs' heads, read backwards from the end of
    the file (the history grows by a row per system and rehearsal; only its latest head matters)."""
    if not path.exists():
        return None
    with path.open("rb") as fh:
        pos = fh.seek(0, os.SEEK_END)
        rest = b""          # bytes already read, from pos to the last newline, not yet split
        torn = True         # until the last newline is seen: a torn line, never read
        while pos > 0:
            step = min(block, pos)
            pos -= step
            fh.seek(pos)
            chunk = fh.read(step)
            if torn:
                cut = chunk.rfind(b"\n")
                if cut < 0:
                    continue
                chunk, torn = chunk[:cut], False
            lines = (chunk + rest).split(b"\n")
            rest = lines[0] if pos > 0 else b""       # the first may be cut by the block
            for line in reversed(lines[1:] if pos > 0 else lines):
                try:
                    r = json.loads(line) if line.strip() else {}
                except json.JSONDecodeError:
                    continue
                if not r.get("event") and r.get("log_heads"):
                    return r
    return None


def _check_heads(path: Path, entries: list[dict], last_row: dict | None) -> None:
    """``entries`` (a verified chain) against the heads recorded for it: its head file and the
    latest rehearsal history row (see the module docstring)."""
    label = LABEL.get(path.name, "ログ")
    n = len(entries)
    file_head = _read_head(path)
    heads: dict[tuple[int, str], str] = {}
    if file_head and file_head["lines"]:
        heads[(file_head["lines"], file_head["last_hash"])] = _head_path(path).name
    h = ((last_row or {}).get("log_heads") or {}).get(path.name)
    if h and h.get("lines"):
        heads.setdefault((int(h["lines"]), str(h["last_hash"])),
                         f"{HISTORY}（{last_row.get('rehearsal_id')} {last_row.get('system')} の評価）")
    if heads:
        (most, _), src = max(heads.items(), key=lambda kv: kv[0][0])
        if n < most:
            lines = f"{n + 1}行目" if n + 1 == most else f"{n + 1}〜{most}行目"
            raise LogCorrupted(
                f"{label} {path} の {lines}がありません: {src} に {most} 行と記録されていますが {n} 行しかありません"
                f"（末尾の行が削除された） / {path}: line(s) {n + 1}-{most} are missing: the log was truncated "
                f"({src} records {most} lines)")
        for (lines_, last), src in sorted(heads.items()):
            if entries[lines_ - 1]["entry_hash"] != last:
                raise LogCorrupted(
                    f"{label} {path} {lines_}行目: {src} に記録された末尾のハッシュと一致しません（{lines_}行目までが"
                    f"置き換えられた） / line {lines_}: does not match the head recorded in {src}")
    if file_head is not None and n > file_head["lines"] + 1:
        h = file_head["lines"]
        raise LogCorrupted(
            f"{label} {path}: 記録された末尾（{_head_path(path).name}: {h} 行）より後に {n - h} 行あります（{h + 1}〜{n}行目）。"
            f"中断で末尾の記録より先に書かれうるのは1行だけで、これは記録係が書いた行ではありません / lines {h + 1}-{n} "
            f"follow the recorded head of {h} lines (a kill leaves at most one): appended outside the writer")


def _read_chain(state_dir: Path, name: str) -> list[dict]:
    path = Path(state_dir) / name
    entries = _read_lines(path)
    verify_entries(entries, path)
    _check_heads(path, entries, _last_history_row(Path(state_dir) / HISTORY))
    return entries


def _append_chained(state_dir: Path, name: str, e: dict, entries: list[dict]) -> dict:
    """Chain ``e`` to ``entries`` (the verified log read under the lock), append it, then move
    the head. A kill between the two leaves the log one line ahead of its head: accepted."""
    e["prev_hash"] = entries[-1]["entry_hash"] if entries else GENESIS
    e["entry_hash"] = hashlib.sha256(_canonical(e)).hexdigest()
    path = Path(state_dir) / name
    _append_line(path, e)
    _write_head(path, [*entries, e])
    return e


# ---------------------------------------------------------------- decision log


def read_log(state_dir: Path) -> list[dict]:
    return _read_chain(state_dir, LOG)


def verify_log(state_dir: Path) -> int:
    """Check the whole chain and its heads; return the number of entries. Raises :class:`LogCorrupted`."""
    return len(read_log(state_dir))


def latest_decision(entries: list[dict], system: str) -> dict | None:
    mine = [e for e in entries if e["system"] == system]
    return mine[-1] if mine else None


def append_decision(state_dir: Path, entry: dict, entries: list[dict] | None = None) -> dict:
    """Append ``entry`` (decision_id, prev_hash and entry_hash are filled in). Caller holds the lock;
    ``entries`` is the verified log it read under that lock, if it has it."""
    return _append_numbered(Path(state_dir), LOG, entry, entries, "decision_id",
                            lambda e: f"D{e['seq']:05d}-{e['system']}-{e['as_of'].replace('-', '')}")


# ---------------------------------------------------------------- owners' audit log


def read_audit(state_dir: Path) -> list[dict]:
    return _read_chain(state_dir, AUDIT)


def append_audit(state_dir: Path, entry: dict, entries: list[dict] | None = None) -> dict:
    """Append one audit entry (``audit_id``, seq and the chain are filled in). Caller holds the lock."""
    return _append_numbered(Path(state_dir), AUDIT, entry, entries, "audit_id",
                            lambda e: f"A{e['seq']:05d}-{e['system']}")


def _append_numbered(state_dir: Path, name: str, entry: dict, entries: list[dict] | None, id_field: str,
                     make_id) -> dict:
    """Append ``entry`` to the chain ``name`` with its sequence number and id filled in."""
    entries = _read_chain(state_dir, name) if entries is None else entries
    e = dict(entry, seq=len(entries) + 1)
    e[id_field] = make_id(e)
    return _append_chained(state_dir, name, e, entries)


# ---------------------------------------------------------------- rehearsal history


def read_history(state_dir: Path, system: str | None = None, completed_only: bool = False) -> list[dict]:
    """Rehearsals, oldest first; the last line of a rehearsal id counts (a re-evaluation). Each row
    says whether its rehearsal ran to its end (``completed``); a row written before rehearsals
    were completed (no ``needs_completion``) counts as completed."""
    lines = _read_lines(Path(state_dir) / HISTORY)
    done = {r["run_id"] for r in lines if r.get("event") == COMPLETED}
    last: dict[tuple[str, str], dict] = {}
    for r in lines:
        if r.get("event") or (system is not None and r["system"] != system):
            continue
        row = dict(r, completed=not r.get("needs_completion") or r["run_id"] in done)
        last.pop((r["system"], r["rehearsal_id"]), None)
        last[(r["system"], r["rehearsal_id"])] = row
    return [r for r in last.values() if r["completed"] or not completed_only]


def append_history(state_dir: Path, row: dict, log: list[dict] | None = None, audit: list[dict] | None = None) -> None:
    """Append a gate's row. It awaits its rehearsal's completion, and records the heads of the
    decision log and the audit log (``log`` / ``audit``: the verified entries the caller read under
    the lock, else read here)."""
    state_dir = Path(state_dir)
    r = dict(row, needs_completion=True)
    r["log_heads"] = {LOG: head_of(read_log(state_dir) if log is None else log),
                      AUDIT: head_of(read_audit(state_dir) if audit is None else audit)}
    _append_line(state_dir / HISTORY, r)


def complete_rehearsal(state_dir: Path, run_id: str, completed_by: str = "") -> dict | None:
    """Record that the rehearsal of ``run_id`` ran to its end, once; None when no gate of it wrote
    a row (nothing to complete) or it is already recorded. Caller holds the lock."""
    path = Path(state_dir) / HISTORY
    lines = _read_lines(path)
    if any(r.get("event") == COMPLETED and r["run_id"] == run_id for r in lines):
        return None
    mine = [r for r in lines if not r.get("event") and r["run_id"] == run_id]
    if not mine:
        return None
    marker = {"event": COMPLETED, "run_id": run_id,
              "rehearsal_ids": sorted({r["rehearsal_id"] for r in mine}),
              "systems": sorted({r["system"] for r in mine}), "completed_by": completed_by,
              "completed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    _append_line(path, marker)
    return marker


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
