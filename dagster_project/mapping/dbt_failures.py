"""What a failed dbt node says, without the value that made it fail.

DuckDB's error text quotes the value it could not take ("Could not convert string '98765432109'
to INT32"), and dbt repeats that text in its console stream, ``dbt.log``, ``run_results.json``
and several debug events. Whatever value a failing cast or constraint meets (a 個人番号, a name,
a birth date) would then reach the run log, the Dagster compute logs and the dbt artifacts. So
the text is never passed on: it is read once, here, and replaced by the model, the column and
the rule where DuckDB names them (a column only when the model's own SQL names it, a type only
from DuckDB's list of type names), never by anything else of the message.

Three places use it: the dbt process's stdout is filtered line by line before dagster-dbt reads
it (:class:`RedactedStdout`), ``run_results.json`` is rewritten after the build
(:func:`redact_run_results`), and the failed nodes of a build are kept per system in
``meta.model_failures`` (:func:`record_failures`), which the readiness gate reads: a system whose
model failed is NO-GO, naming the model, the column and the rule.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dagster_project.core.diskspace import DISK_FULL_RE
from dagster_project.core.duck import rollback
from dagster_project.core.warehouse import connect

# dbt events whose ``info.msg`` dbt composes from node names, paths, counts and statuses only
SAFE_MESSAGES = frozenset({
    "MainReportVersion", "MainReportArgs", "AdapterRegistered", "UnableToPartialParse",
    "PartialParsingEnabled", "PartialParsingSkipParsing", "StateCheckVarsHash", "FoundStats",
    "ConcurrencyLine", "Formatting", "LogStartLine", "LogModelResult", "LogSeedResult",
    "LogSnapshotResult", "LogTestResult", "LogFreshnessResult", "SkippingDetails", "EndOfRunSummary", "FinishedRunningStats", "StatsLine", "SQLCompiledPath",
    "CommandCompleted", "ConnectionUsed", "ConnectionReused", "ConnectionClosed",
    "ConnectionClosedInCleanup", "NewConnection", "NewConnectionOpening", "NodeStart",
    "NodeCompiling", "NodeExecuting", "NodeFinished", "RunResultFailure", "RunResultWarning",
    "RunResultWarningMessage", "EndRunResult", "ArtifactWritten", "SchemaCreation", "SQLCommit",
    "Rollback", "SQLQuery", "SQLQueryStatus", "FlushEvents", "ResourceReport",
    "WritingInjectedSQLForNode", "JinjaLogDebug", "JinjaLogInfo", "HooksRunning", "LogHookStartLine",
    "LogHookEndLine", "ListCmdOut", "SeedHeader", "DepsNoPackagesFound",
})
# keys under an event's ``data`` that carry an exception's text
TEXT_KEYS = frozenset({"exc", "base_msg", "exc_info", "stack_trace", "msg", "bmsg", "error", "traceback"})
# keys whose text dbt fills with names, paths and statuses: kept in an event dbt may phrase otherwise
NAME_KEYS = frozenset({"unique_id", "node_name", "resource_type", "path", "node_path", "status", "schema",
                       "relation_name", "description", "conn_name", "conn_type", "name", "code", "materialized"})
# statuses whose ``message`` is dbt's own ("OK", "Got 3 results, configured to warn if != 0")
SAFE_STATUSES = frozenset({"success", "pass", "warn", "fail", "skipped", "no-op", "reused"})

WITHHELD = "内容は記録しない（値を含みうる） / not shown (it may quote a value)"

# DuckDB's error classes (the words before "Error:"), the only part of its text passed on as is
_DUCKDB_CLASSES = ("Conversion", "Out of Range", "Constraint", "Invalid Input", "Binder", "Parser",
                   "Catalog", "IO", "Out of Memory", "Interrupt", "Invalid Type", "Not implemented",
                   "Serialization", "TransactionContext", "Transaction", "Dependency", "Permission",
                   "Syntax", "INTERNAL", "FATAL", "Sequence", "Mismatch Type", "Invalid",
                   "Missing Extension", "HTTP", "Connection")
_CLASS_RE = re.compile(r"\b(" + "|".join(re.escape(c) for c in _DUCKDB_CLASSES) + r") Error:")
_TYPE = (r"(?:U?(?:TINY|SMALL|BIG|HUGE)?INT(?:8|16|32|64|128)?|U?INTEGER|UHUGEINT|DOUBLE|FLOAT|REAL"
         r"|DECIMAL\(\d+,\s*\d+\)|DATE|TIME|TIMESTAMP(?:_NS|_MS|_S| WITH TIME ZONE)?|BOOLEAN|VARCHAR"
         r"|BLOB|INTERVAL|UUID|BIT)")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"

# rule id -> (Japanese, English)
RULES = {
    "disk_full": ("ディスク容量不足", "disk full"),
    "conversion": ("型変換不可", "conversion error"),
    "out_of_range": ("値が範囲外", "value out of range"),
    "not_null": ("必須の制約違反（NOT NULL）", "NOT NULL constraint violated"),
    "unique": ("重複の制約違反（一意キー）", "unique / primary key constraint violated"),
    "check": ("CHECK 制約違反", "CHECK constraint violated"),
    "foreign_key": ("参照の制約違反（外部キー）", "foreign key constraint violated"),
    "constraint": ("制約違反", "constraint violated"),
    "contract": ("契約（列名・型）の不一致", "model contract (columns, types) not met"),
    "invalid_input": ("入力値の不正", "invalid input"),
    "sql": ("SQL の誤り", "SQL error"),
    "io": ("入出力エラー", "I/O error"),
    "memory": ("メモリ不足", "out of memory"),
    "interrupted": ("中断", "interrupted"),
    "error": ("実行時エラー", "runtime error"),
    "skipped": ("上流の失敗により未実行", "skipped: an upstream node failed"),
}



@dataclass(frozen=True)
class Fault:
    """What can be said of an error without its text: the rule, the column, the type."""

    rule: str
    column: str | None = None
    type: str | None = None
    duckdb_class: str | None = None

    def describe(self, node: str) -> str:
        ja, en = RULES[self.rule]
        col_ja = f"列 {self.column} の" if self.column else ""
        col_en = f" in column {self.column}" if self.column else ""
        extra = [x for x in (self.type and f"→ {self.type}", self.duckdb_class and f"DuckDB {self.duckdb_class} Error") if x]
        tail = f"（{'、'.join(extra)}）" if extra else ""
        return f"モデル {node}: {col_ja}{ja}{tail} / {node}: {en}{col_en}; the value is not shown"


def classify(message: str | None, sql: str | None = None) -> Fault:
    """The rule, column and type an error message names. A column is taken only where DuckDB puts
    one and only if the model's SQL (``sql``) names it too; a type only from DuckDB's type names."""
    text = message or ""
    m = _CLASS_RE.search(text)
    cls = m.group(1) if m else None

    def column(pattern: str) -> str | None:
        found = re.findall(pattern, text)
        for c in reversed(found):
            if sql is None or re.search(rf"\b{re.escape(c)}\b", sql):
                return c
        return None

    if DISK_FULL_RE.search(text):
        return Fault("disk_full", duckdb_class=cls)
    if "enforced contract" in text:
        return Fault("contract")
    if cls == "Conversion":
        t = re.findall(rf"\bto ({_TYPE})(?= when casting|\s*$|\n)", text)
        return Fault("conversion", column(rf"source column ({_IDENT})"), t[-1] if t else None, cls)
    if cls == "Out of Range":
        return Fault("out_of_range", column(rf"column \"?({_IDENT})\"?"), duckdb_class=cls)
    if cls == "Constraint":
        if "NOT NULL" in text:
            return Fault("not_null", column(rf"NOT NULL constraint failed: {_IDENT}\.({_IDENT})"), duckdb_class=cls)
        if "Duplicate key" in text or "PRIMARY KEY" in text or "UNIQUE" in text:
            return Fault("unique", duckdb_class=cls)
        if "CHECK constraint" in text:
            return Fault("check", duckdb_class=cls)
        if "foreign key" in text.lower():
            return Fault("foreign_key", duckdb_class=cls)
        return Fault("constraint", duckdb_class=cls)
    if cls == "Invalid Input":
        return Fault("invalid_input", duckdb_class=cls)
    if cls in ("Binder", "Parser", "Catalog", "Syntax", "Dependency", "Invalid Type", "Mismatch Type") \
            or "Compilation Error" in text:
        return Fault("sql", duckdb_class=cls)
    if cls == "IO":
        return Fault("io", duckdb_class=cls)
    if cls == "Out of Memory":
        return Fault("memory", duckdb_class=cls)
    if cls == "Interrupt" or "KeyboardInterrupt" in text:
        return Fault("interrupted", duckdb_class=cls)
    return Fault("error", duckdb_class=cls)


# ---------------------------------------------------------------- the console stream


def redact_event(event: dict, sql_of: Mapping[str, str] | None = None) -> dict:
    """One dbt JSON log event with every text that may quote a value replaced.

    ``info.msg`` passes only for events dbt composes from names and counts; the text keys under
    ``data`` (exception, adapter message, a failed result's message) become the model, column and
    rule. ``sql_of`` maps a node's unique_id to its SQL, to confirm a column name."""
    info = event.get("info") or {}
    data = event.get("data") or {}
    name = info.get("name", "")
    node = (data.get("node_info") or {}).get("unique_id") or data.get("unique_id") \
        or (data.get("run_result") or {}).get("unique_id")
    sql = (sql_of or {}).get(node) if node else None
    node_name = node.split(".")[-1] if node else (data.get("node_name") or "dbt")
    reason: str | None = None
    strict = name not in SAFE_MESSAGES

    def scrub(obj: Any, key: str | None = None, status: str | None = None) -> Any:
        nonlocal reason
        if isinstance(obj, dict):
            st = obj.get("status") if isinstance(obj.get("status"), str) else status
            out = {}
            for k, v in obj.items():
                if k == "node_info":
                    out[k] = v                      # names, paths, checksums, status: dbt's own
                elif k == "message" and isinstance(v, str) and v and (st or "").lower() not in SAFE_STATUSES:
                    n = obj.get("unique_id") or node
                    out[k] = classify(v, (sql_of or {}).get(n)).describe((n or node_name).split(".")[-1])
                elif k in TEXT_KEYS and isinstance(v, str):
                    if name in SAFE_MESSAGES and k == "msg":
                        out[k] = v
                    elif _looks_like_error(v):
                        reason = reason or classify(v, sql).describe(node_name)
                        out[k] = reason
                    else:
                        out[k] = WITHHELD
                elif strict and isinstance(v, str) and v and k not in NAME_KEYS:
                    out[k] = WITHHELD           # an event not known to be safe keeps no free text
                else:
                    out[k] = scrub(v, k, st)
            return out
        if strict and isinstance(obj, str) and obj and key not in NAME_KEYS:
            return WITHHELD
        if isinstance(obj, list):
            return [scrub(x, key, status) for x in obj]
        return obj

    new_data = scrub(data)
    new_info = dict(info)
    msg = info.get("msg") or ""
    if name not in SAFE_MESSAGES or _CLASS_RE.search(msg) or DISK_FULL_RE.search(msg):
        if info.get("level") in ("error", "warn") or reason or _looks_like_error(msg):
            new_info["msg"] = "  " + (reason or classify(msg, sql).describe(node_name))
        elif msg:
            new_info["msg"] = f"[{name}] {WITHHELD}"
    return {**event, "info": new_info, "data": new_data}


def _looks_like_error(text: str) -> bool:
    return bool(_CLASS_RE.search(text) or DISK_FULL_RE.search(text) or "Error" in text or "error" in text)


def redact_line(raw: bytes, sql_of: Mapping[str, str] | None = None) -> bytes:
    """One line of dbt's stdout: a JSON event redacted, anything else withheld."""
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return raw
    try:
        event = json.loads(text)
        if not isinstance(event, dict) or "info" not in event:
            raise ValueError
    except ValueError:
        return (f"[dbt] {WITHHELD}\n").encode()
    return (json.dumps(redact_event(event, sql_of), ensure_ascii=False) + "\n").encode("utf-8")


class RedactedStdout:
    """Stands in for a dbt process's ``stdout`` pipe: the lines dagster-dbt reads (and re-emits to
    the compute logs and the run log) are already redacted. dagster-dbt reads the pipe through
    ``for line in process.stdout`` inside ``with process.stdout:``, after checking ``closed``
    (``tests/unit/test_dbt_failures.py`` fails if an upgrade reads it another way).

    It keeps what the step needs to say when dbt stops before building anything: the redacted
    message of every error event, and whether any error was a full disk."""

    def __init__(self, pipe, sql_of: Mapping[str, str] | None = None):
        self._pipe = pipe
        self._sql_of = sql_of or {}
        self.reasons: list[str] = []
        self.disk_full = False

    @property
    def closed(self) -> bool:
        return self._pipe.closed

    def __iter__(self) -> Iterator[bytes]:
        for raw in self._pipe:
            if DISK_FULL_RE.search(raw.decode("utf-8", errors="replace")):
                self.disk_full = True
            out = redact_line(raw, self._sql_of)
            if b'"level": "error"' in out:
                try:
                    self.reasons.append(json.loads(out)["info"]["msg"].strip())
                except (ValueError, KeyError):
                    pass
            yield out

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._pipe.close()

    def close(self) -> None:
        self._pipe.close()

    def fileno(self) -> int:
        return self._pipe.fileno()


def redact_invocation(invocation, manifest: Mapping[str, Any] | None = None) -> RedactedStdout:
    """Put a :class:`RedactedStdout` between a running dbt invocation and dagster-dbt (before
    anything read the pipe); returns it."""
    sql_of = {uid: n.get("raw_code") or "" for uid, n in ((manifest or {}).get("nodes") or {}).items()}
    pipe = RedactedStdout(invocation.process.stdout, sql_of)
    invocation.process.stdout = pipe
    return pipe


# ---------------------------------------------------------------- run_results.json and the failures


@dataclass(frozen=True)
class NodeFailure:
    node: str              # model (or test, seed) name
    unique_id: str
    resource_type: str
    system: str | None     # the current system the node belongs to; None for a shared node
    status: str            # error, or skipped (an upstream node failed)
    rule: str
    column_name: str | None
    reason: str            # Japanese and English, model, column and rule, never a value
    upstream: str | None   # for a skipped node: the failed nodes it depends on

    def as_row(self) -> dict:
        return asdict(self)


def node_system(node: Mapping[str, Any], manifest: Mapping[str, Any]) -> str | None:
    meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
    if meta.get("system"):
        return meta["system"]
    if node.get("resource_type") == "test":
        for parent in (node.get("depends_on") or {}).get("nodes", []):
            s = node_system((manifest.get("nodes") or {}).get(parent) or {}, manifest)
            if s:
                return s
    return None


def failures_of(run_results: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[NodeFailure]:
    """Every node of a build that errored, and every node skipped because of it (a failed data test,
    status ``fail``, is an asset check's business, not a failure of the build)."""
    nodes = manifest.get("nodes") or {}
    parents = manifest.get("parent_map") or {}
    results = run_results.get("results") or []
    errored = {r["unique_id"] for r in results if r.get("status") in ("error", "runtime error")}
    out = []
    for r in results:
        uid = r["unique_id"]
        status = r.get("status")
        node = nodes.get(uid) or {}
        rtype = node.get("resource_type") or uid.split(".")[0]
        name = uid.split(".")[-1] if rtype != "test" else node.get("name", uid.split(".")[-2])
        if uid in errored:
            f = classify(r.get("message"), r.get("compiled_code") or node.get("raw_code"))
            out.append(NodeFailure(name, uid, rtype, node_system(node, manifest), "error", f.rule, f.column,
                                   f.describe(name), None))
        elif status == "skipped":
            up = sorted(_failed_ancestors(uid, parents, errored))
            if not up:
                continue                    # skipped for another reason (e.g. a --select boundary)
            names = ", ".join(u.split(".")[-1] for u in up)
            out.append(NodeFailure(name, uid, rtype, node_system(node, manifest), "skipped", "skipped", None,
                                   f"モデル {name}: 上流 {names} の失敗により未実行 / {name}: skipped, upstream {names} failed",
                                   names))
    return out


def _failed_ancestors(uid: str, parents: Mapping[str, list[str]], errored: set[str]) -> set[str]:
    seen, todo, found = set(), list(parents.get(uid, [])), set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        if p in errored:
            found.add(p)
        else:
            todo.extend(parents.get(p, []))
    return found


def redact_run_results(path: Path, manifest: Mapping[str, Any]) -> dict:
    """Rewrite ``run_results.json`` in place (atomically) with every failed node's message replaced.
    Returns the artifact as dbt wrote it, for :func:`failures_of` to read the messages in memory
    (the redacted text says the rule, but no longer DuckDB's words)."""
    path = Path(path)
    original = json.loads(path.read_text(encoding="utf-8"))
    data = json.loads(json.dumps(original))
    nodes = manifest.get("nodes") or {}
    for r in data.get("results") or []:
        if r.get("message") and str(r.get("status", "")).lower() not in SAFE_STATUSES:
            n = nodes.get(r["unique_id"]) or {}
            name = r["unique_id"].split(".")[-1]
            r["message"] = classify(r["message"], r.get("compiled_code") or n.get("raw_code")).describe(name)
        for b in r.get("batch_results") or []:
            if isinstance(b, dict) and b.get("message"):
                b["message"] = WITHHELD
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        path.unlink(missing_ok=True)       # never leave the unredacted one behind
        raise
    return original


# ---------------------------------------------------------------- kept in the warehouse for the gates


MODEL_FAILURES_DDL = """
create table if not exists meta.model_failures (
    node varchar, unique_id varchar, resource_type varchar, system varchar, status varchar,
    rule varchar, column_name varchar, reason varchar, upstream varchar, run_id varchar,
    recorded_at timestamp
)"""


def record_failures(db: Path, run_id: str, ran: Iterable[str], failures: list[NodeFailure],
                    known: Iterable[str] | None = None) -> None:
    """Replace the recorded state of every node this build ran: its failure, or nothing when it
    was built. Nodes the build did not select keep theirs (their tables are as that build left
    them); nodes no longer in the project (``known``: the manifest's) are forgotten."""

    ran = sorted(set(ran))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with connect(db) as con:
        con.execute("begin transaction")
        try:
            con.execute("create schema if not exists meta")
            con.execute(MODEL_FAILURES_DDL)
            if ran:
                con.execute("delete from meta.model_failures where list_contains(?, unique_id)", [ran])
            if known is not None:
                con.execute("delete from meta.model_failures where not list_contains(?, unique_id)",
                            [sorted(set(known))])
            if failures:
                cols = [*failures[0].as_row(), "run_id", "recorded_at"]
                con.executemany(f"insert into meta.model_failures ({', '.join(cols)}) "
                                f"values ({', '.join('?' for _ in cols)})",
                                [[*f.as_row().values(), run_id, now] for f in failures])
            con.execute("commit")
        except BaseException:
            rollback(con)
            raise


def read_failures(con, system: str) -> list[dict]:
    """The recorded failed and skipped nodes of ``system`` (none when nothing was ever recorded)."""
    has = con.execute("select count(*) from information_schema.tables "
                      "where table_schema = 'meta' and table_name = 'model_failures'").fetchone()[0]
    if not has:
        return []
    cols = ["node", "unique_id", "resource_type", "status", "rule", "column_name", "reason", "upstream", "run_id"]
    rows = con.execute(f"select {', '.join(cols)} from meta.model_failures where system = ? "
                       "order by status, resource_type, node", [system]).fetchall()
    return [dict(zip(cols, r)) for r in rows]
