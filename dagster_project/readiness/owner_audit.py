"""The owners' audit (所管課入力の監査): who changed which decision, review or sign-off, and when.

Owners answer in files under ``mappings/`` (typed by hand, or written by ``kikan decisions
import`` from their workbook). Git shows what a file says; this log shows what changed between
rehearsals and who is said to have done it, in the same hash chain as the decision log
(``gatelog.append_audit``: ``owner_audit.jsonl`` with its head, beside the decision log), one entry
per change of a system's inputs:

- ``取込``: an import of an owner's workbook: the workbook's file name and SHA-256, the importer
  (the account that ran it), and every changed row: file, key, and old → new of each field, with
  the sheet and Excel row it came from and who decided it.
- ``手編集``: the files changed by hand since the last entry. A gate notices it when the inputs'
  hash differs from the last entry's (who: unknown, 不明（手編集）); the rows changed come from
  comparing with the snapshot of the parsed rows kept in the state folder
  (``owner_snapshots/<system>.json``).
- ``初回記録``: the first time a system is seen: every row as it stands.

Per system, the inputs are ``<system>/gap_decisions.yaml`` (rows by gap id),
``<system>/record_decisions.csv`` (by finding id), ``<system>/mynumber_reviews.csv`` (by standard
table and 宛名番号), ``<system>/signoff.yaml`` and the system's rows of ``gaiji/decisions.csv`` (by
system and 外字 code). Rows are read raw, not validated, so a mistaken row is audited as typed.
Keys are gap ids, finding ids and internal keys; the free-text fields (理由, 備考, 承認の文言, 縮退の
規則) are recorded as a hash, never as text: whatever an owner typed there stays in ``mappings/``.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import hashlib
import io
import json
from contextlib import contextmanager
from pathlib import Path

import yaml

from dagster_project.core import atomic
from dagster_project.readiness import gatelog
from dagster_project.spec.decisions import display_path

SNAPSHOTS = "owner_snapshots"
SHOWN = {"decision", "decided_by", "decided_on", "result", "reviewed_by", "reviewed_on", "character",
         "signed_by", "role", "signed_on", "system", "code", "std_ref", "atena_no", "finding_id", "gap_id"}
UNKNOWN_WHO = "不明（手編集）"


def _value(field: str, v) -> str | None:
    if v is None:
        return None
    s = v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v)
    if field in SHOWN or s == "":
        return s
    return "sha256:" + hashlib.sha256(s.encode("utf-8")).hexdigest()[:16]


def _keyed(rows: list[tuple[str, dict]]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, fields in rows:
        k, n = key, 1
        while k in out:            # a duplicate key (a mistake the gate names) is kept, numbered
            n += 1
            k = f"{key}#{n}"
        out[k] = {f: _value(f, v) for f, v in sorted(fields.items())}
    return out


def _csv_rows(text: str, key_fields: list[str], system: str | None = None) -> list[tuple[str, dict]]:
    reader = list(csv.reader(io.StringIO(text, newline="")))
    if not reader:
        return []
    header = [h.strip() for h in reader[0]]
    out = []
    for rec in reader[1:]:
        if not any(c.strip() for c in rec):
            continue
        row = {h: (rec[i].strip() if i < len(rec) else "") for i, h in enumerate(header)}
        if len(rec) > len(header):
            row["(余分な列)"] = ",".join(rec[len(header):])
        if system is not None and row.get("system", "") != system:
            continue
        out.append((" ".join(row.get(k, "") for k in key_fields), row))
    return out


def _yaml_rows(text: str, kind: str) -> list[tuple[str, dict]]:
    data = yaml.safe_load(text)
    if kind == "signoff":
        return [("signoff", dict(data))] if isinstance(data, dict) else []
    decisions = data.get("decisions") if isinstance(data, dict) else None
    out = []
    for d in decisions or []:
        if isinstance(d, dict):
            out.append((str(d.get("gap_id", "")), {k: v for k, v in d.items()}))
    return out


def _inputs(root: Path, system: str) -> list[tuple[Path, str]]:
    return [(root / system / "gap_decisions.yaml", "gaps"), (root / system / "record_decisions.csv", "records"),
            (root / system / "mynumber_reviews.csv", "mynumber"), (root / system / "signoff.yaml", "signoff"),
            (root / "gaiji" / "decisions.csv", "gaiji")]


def snapshot(owner_root: Path, system: str) -> dict:
    """The system's owner inputs as parsed rows, with a hash per file and one for all of them."""
    root = Path(owner_root)
    files: dict[str, dict] = {}
    for path, kind in _inputs(root, system):
        shown = display_path(path, root)
        if not path.exists():
            files[shown] = {"sha256": None, "rows": {}}
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:       # a folder or an unreadable file in its place: the gate names it
            files[shown] = {"sha256": f"unreadable:{exc.errno}", "rows": {}, "unreadable": True}
            continue
        try:
            text = data.decode("utf-8-sig")
            if kind == "gaps" or kind == "signoff":
                rows = _yaml_rows(text, kind)
            elif kind == "records":
                rows = _csv_rows(text, ["finding_id"])
            elif kind == "mynumber":
                rows = _csv_rows(text, ["std_ref", "atena_no"])
            else:
                rows = _csv_rows(text, ["system", "code"], system=system)
            keyed, readable = _keyed(rows), True
        except (UnicodeDecodeError, yaml.YAMLError, csv.Error, TypeError, ValueError):
            keyed, readable = {}, False
        if kind == "gaiji":       # shared by every system: only this system's rows are its input
            digest = hashlib.sha256(json.dumps(keyed, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
        else:
            digest = hashlib.sha256(data).hexdigest()
        files[shown] = {"sha256": digest, "rows": keyed, **({} if readable else {"unreadable": True})}
    overall = hashlib.sha256("".join(f"{k}\0{v['sha256']}\n" for k, v in sorted(files.items())).encode()).hexdigest()
    return {"system": system, "owner_sha256": overall, "files": files}


def diff(before: dict | None, after: dict) -> tuple[list[str], list[dict]]:
    """(files whose content changed, one change per row: file, key, 追加 / 変更 / 削除, and
    ``fields``: {field: [old, new]} of the fields that differ)."""
    old_files = (before or {}).get("files", {})
    changed_files, changes = [], []
    for shown in sorted(set(old_files) | set(after["files"])):
        a, b = old_files.get(shown, {"sha256": None, "rows": {}}), after["files"].get(shown, {"sha256": None, "rows": {}})
        if a["sha256"] != b["sha256"]:
            changed_files.append(shown)
        for key in sorted(set(a["rows"]) | set(b["rows"])):
            o, n = a["rows"].get(key), b["rows"].get(key)
            if o == n:
                continue
            kind = "追加" if o is None else "削除" if n is None else "変更"
            fields = {f: [(o or {}).get(f), (n or {}).get(f)] for f in sorted(set(o or {}) | set(n or {}))
                      if (o or {}).get(f) != (n or {}).get(f)}
            changes.append({"file": shown, "key": key, "change": kind, "fields": fields})
    return changed_files, changes


def _snapshot_path(state_dir: Path, system: str) -> Path:
    return Path(state_dir) / SNAPSHOTS / f"{system}.json"


def load_snapshot(state_dir: Path, system: str) -> dict | None:
    p = _snapshot_path(state_dir, system)
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except ValueError:
        return None           # a damaged copy: the next entry lists the rows against nothing, and says so


def _save_snapshot(state_dir: Path, snap: dict) -> None:
    atomic.write_text(_snapshot_path(state_dir, snap["system"]),
                      json.dumps(snap, ensure_ascii=False, sort_keys=True) + "\n", durable=True)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _last_for(entries: list[dict], system: str) -> dict | None:
    mine = [e for e in entries if e["system"] == system]
    return mine[-1] if mine else None


def record_hand_edits(state_dir: Path, owner_root: Path, system: str, noticed_by: dict | None = None) -> dict | None:
    """Append a ``手編集`` entry (``初回記録`` the first time) when the system's inputs changed since
    the last audit entry; return it, or None when nothing changed. Caller holds ``gatelog.lock``."""
    state_dir = Path(state_dir)
    now = snapshot(owner_root, system)
    entries = gatelog.read_audit(state_dir)
    last = _last_for(entries, system)
    kept = load_snapshot(state_dir, system)
    if last is not None and last["owner_sha256"] == now["owner_sha256"]:
        if kept is None or kept.get("owner_sha256") != now["owner_sha256"]:
            _save_snapshot(state_dir, now)      # a kill after the entry, before its snapshot
        return None
    files, changes = diff(kept, now)
    entry = {
        "system": system, "kind": "初回記録" if last is None else "手編集",
        "who": UNKNOWN_WHO, "recorded_at": _now(), "noticed_by": noticed_by or {},
        "owner_sha256": now["owner_sha256"], "previous_owner_sha256": last["owner_sha256"] if last else None,
        "files_changed": files, "rows_changed": len(changes), "changes": changes,
    }
    if last is None:
        entry["note"] = "初回の記録（いまある行をすべて追加として記載）"
    elif kept is None:
        entry["note"] = "前回の写しがないため、すべての行を追加として記載"
    elif not changes:
        entry["note"] = "行の変更なし（コメント・書式・読めない内容の変更）"
    e = gatelog.append_audit(state_dir, entry, entries)
    _save_snapshot(state_dir, now)
    return e


@contextmanager
def audited_import(state_dir: Path, owner_root: Path, system: str, result):
    """Around an import that writes ``system``'s inputs: earlier hand edits are recorded first (so
    they are never credited to the import), then what the import changed, as a ``取込`` entry naming
    the workbook, its SHA-256 and the importer. ``result`` is the importer's ``ImportResult``;
    ``result.audit`` is set to the entry (None when nothing changed)."""
    state_dir = Path(state_dir)
    with gatelog.lock(state_dir):
        record_hand_edits(state_dir, owner_root, system, noticed_by={"import": Path(result.file).name})
        before = snapshot(owner_root, system)
        result.audit = None
        try:
            yield
        finally:          # a failure half-way still leaves what it wrote on record
            after = snapshot(owner_root, system)
            if after["owner_sha256"] != before["owner_sha256"]:
                result.audit = _append_import(state_dir, system, result, before, after)


def _append_import(state_dir: Path, system: str, result, before: dict, after: dict) -> dict:
    files, changes = diff(before, after)
    source = {(c.target, c.key): c for c in result.changes}
    for ch in changes:
        c = source.get((ch["file"], ch["key"]))
        if c is not None:
            ch.update(sheet=c.sheet, row=c.row, decided_by=c.decided_by)
    try:
        importer = getpass.getuser()
    except (KeyError, OSError):
        importer = "不明"
    e = gatelog.append_audit(state_dir, {
        "system": system, "kind": "取込", "who": importer, "recorded_at": _now(),
        "import": {"file": Path(result.file).name, "sha256": result.sha256, "importer": importer},
        "owner_sha256": after["owner_sha256"], "previous_owner_sha256": before["owner_sha256"],
        "files_changed": files, "rows_changed": len(changes), "changes": changes,
    })
    _save_snapshot(state_dir, after)
    return e
