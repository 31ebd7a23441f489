"""Great Expectations suites generated from the standard catalog, and their validation.

One suite per standard table, written as GX 1.x suite JSON under ``expectations/suites/``
(committed: the rules as data, reviewable in a diff) with ids derived from the content so
regeneration is stable. ``kikan gx-generate`` rewrites them; a test fails when they are
out of date with the catalog.

Rules per table: key columns not null and unique (compound keys as one expectation); code
items within their standard code table; 数字 items digits only; カナ items full-width katakana
(long vowel, small kana, full-width space); no half-width katakana in 漢字 items; values
within the standard length; and every character of 漢字 / カナ items in 行政事務標準文字: the
rule is computed once, by the findings ledger (``findings.fnd_<system>__chars``, each distinct
value split once against ``reference.std_charset``), and the expectation counts the standard
table's rows whose records the ledger names for that item. It used to split every value again,
the same SQL a second time (6.0 of GX's 10.6 s of SQL at 817,000 residents).

Validation runs by SQL on DuckDB through query assets; results are SUMMARY level with no
unexpected values kept, so no personal value reaches a result, a log or Data Docs.

An expectation that raises (a metric GX could not compute, a query it could not format) has not
evaluated the data: :func:`validate` marks it ``raised`` and keeps it out of ``failed`` (rows
that broke a rule), so a broken expectation is never reported as a data defect.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import time
import uuid
from string import Formatter
from pathlib import Path

import sqlalchemy as sa

from dagster_project.core.duck import attach_sql, encryption_key
from dagster_project.spec.config import PROJECT_ROOT
from dagster_project.core.names import fnd_name, std_name
from dagster_project.spec.mapping import Catalog, MappingSet, ResolvedTable
from dagster_project.spec.rules import charset_applies, field_rules_for

SUITES_DIR = PROJECT_ROOT / "expectations" / "suites"
NS = uuid.UUID("6f0c7e52-3a51-4c1b-9a51-6b69616e0001")
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0, "include_unexpected_rows": False}


def _exp(suite: str, type_: str, meta: dict, **kwargs) -> dict:
    key = json.dumps([suite, type_, kwargs], ensure_ascii=False, sort_keys=True)
    return {"id": str(uuid.uuid5(NS, key)), "type": type_, "kwargs": kwargs, "meta": meta, "severity": "critical"}


def suite_for(t: ResolvedTable, catalog: Catalog) -> dict:
    name = std_name(t)
    exps = []
    key = t.std.key
    for k in key:
        exps.append(_exp(name, "expect_column_values_to_not_be_null", {"rule": "主キー欠落"}, column=k))
    if len(key) == 1:
        exps.append(_exp(name, "expect_column_values_to_be_unique", {"rule": "主キー重複"}, column=key[0]))
    elif key:
        exps.append(_exp(name, "expect_compound_columns_to_be_unique", {"rule": "主キー重複"}, column_list=key))
    for ri in t.items:
        it = ri.item
        c = it.column_name
        meta = {"item_id": it.item_id, "item_name": it.item_name}
        if it.data_type == "code" and it.code_table:
            exps.append(_exp(name, "expect_column_values_to_be_in_set", {**meta, "rule": "コード表にないコード値"},
                             column=c, value_set=sorted(catalog.codes[it.code_table])))
        if it.data_type == "string":
            exps.append(_exp(name, "expect_column_value_lengths_to_be_between", {**meta, "rule": "桁数超過"},
                             column=c, max_value=it.length))
            for rule in field_rules_for(it):
                type_, regex = rule.gx_expectation()
                exps.append(_exp(name, type_, {**meta, "rule": rule.gx_label}, column=c, regex=regex))
            if charset_applies(it):
                # the rule is computed once, by the findings ledger (findings.fnd_<system>__chars, the
                # distinct values split once); GX reads its result and counts the standard table's rows
                # it names, instead of splitting every value a second time. {batch} takes no alias: GX
                # substitutes it as "(<batch query>) AS subselect"
                query = (f"select * from {{batch}} where _src_record_no in (select record_no from "
                         f"findings.{fnd_name(t.system)}__chars where source_table = {_lit(t.source.table)} "
                         f"and item_id = {_lit(it.item_id)})")
                exps.append(_exp(name, "unexpected_rows_expectation",
                                 {**meta, "column": c, "rule": "行政事務標準文字にない文字"},
                                 unexpected_rows_query=_gx_query(query, name, it.item_id),
                                 description=f"{it.item_name}: every character is 行政事務標準文字"))
    return {"name": name, "id": str(uuid.uuid5(NS, name)), "expectations": exps,
            "meta": {"standard_table": t.std.ref, "table_name": t.std.table_name,
                     "generated_from": "seeds/std_items.csv, seeds/std_codes.csv, mappings/"},
            "notes": None}


def _lit(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _gx_query(query: str, suite: str, item_id: str) -> str:
    """``query``, refused unless ``{batch}`` is its only brace: GX fills an ``unexpected_rows_query``
    with ``str.format``, and any other brace (a regex ``\\x{…}`` or ``{n}``) makes the expectation
    raise at validation instead of evaluating."""
    try:
        fields = {f for _, f, _, _ in Formatter().parse(query) if f is not None}
    except ValueError as exc:
        raise ValueError(f"{suite} {item_id}: unpaired brace in the GX query ({exc})") from exc
    if fields != {"batch"}:
        raise ValueError(f"{suite} {item_id}: the GX query may hold no brace but {{batch}}; found "
                         f"{sorted(fields - {'batch'})}")
    return query


def _suite_json(suite: dict) -> str:
    """The suite as JSON text, readable Japanese."""
    return json.dumps(suite, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def render_suites(mappings: MappingSet) -> dict[str, str]:
    return {std_name(t) + ".json": _suite_json(suite_for(t, mappings.catalog)) for t in mappings.tables}


def write_suites(mappings: MappingSet, out: Path = SUITES_DIR) -> int:
    out.mkdir(parents=True, exist_ok=True)
    files = render_suites(mappings)
    changed = 0
    for old in out.glob("*.json"):
        if old.name not in files:
            old.unlink()
            changed += 1
    for name, text in files.items():
        p = out / name
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
            changed += 1
    return changed


def validate(db: Path, tables: list[ResolvedTable], docs_dir: Path | None = None,
             suites_dir: Path = SUITES_DIR) -> dict[str, dict]:
    """Run the suites of these standard tables on the warehouse; a summary per table."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from dagster_project.conformance import gx_duckdb

    gx_duckdb.install()
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    try:
        ctx.variables.progress_bars = {"globally": False, "metric_calculations": False}
    except Exception:  # pragma: no cover - cosmetic
        pass
    _attach = None
    if encryption_key():
        # an encrypted warehouse is attached, with its key, to each new in-memory connection
        stmts = attach_sql(db, read_only=True)

        def _attach(dbapi_con, _record):
            for q in stmts:
                dbapi_con.execute(q)
        sa.event.listen(sa.pool.Pool, "connect", _attach)
        ds = ctx.data_sources.add_sql(name="warehouse", connection_string="duckdb:///:memory:")
    else:
        ds = ctx.data_sources.add_sql(name="warehouse", connection_string=f"duckdb:///{db}",
                                      kwargs={"connect_args": {"read_only": True}})
    vds = []
    ids: dict[str, str] = {}   # the id GX gives an expectation when its suite is added -> the suite JSON's id
    for t in tables:
        name = std_name(t)
        data = json.loads((suites_dir / f"{name}.json").read_text(encoding="utf-8"))
        suite = ctx.suites.add(gx.ExpectationSuite(name=data["name"], expectations=data["expectations"],
                                                   meta=data["meta"]))
        if [e.expectation_type for e in suite.expectations] == [e["type"] for e in data["expectations"]]:
            ids.update({e.id: d["id"] for e, d in zip(suite.expectations, data["expectations"])})
        asset = ds.add_query_asset(name=name, query=f"select * from standard.{name}")
        vds.append(ctx.validation_definitions.add(gx.ValidationDefinition(
            name=name, data=asset.add_batch_definition_whole_table("all"), suite=suite)))
    cp = ctx.checkpoints.add(gx.Checkpoint(name="conformance", validation_definitions=vds, actions=[],
                                           result_format=RESULT_FORMAT))
    try:
        result = cp.run()
        if docs_dir is not None:
            _build_docs(ctx, docs_dir, result)
    finally:
        # GX keeps one persistent connection for duckdb (see gx_duckdb); close it, or the next
        # connection to the warehouse in this process is refused
        engine = ds.get_execution_engine()
        engine.close()
        engine.engine.dispose()
        if _attach is not None:
            sa.event.remove(sa.pool.Pool, "connect", _attach)
    return {vr.suite_name: summarize(vr, ids) for vr in result.run_results.values()}


def _build_docs(ctx, docs_dir: Path, result) -> None:
    """GX's Data Docs for every validation of the checkpoint, built once. GX's
    ``UpdateDataDocsAction`` builds the pages of one validation and then the whole site index, once
    per validation: 30 index builds, each reading every stored result (7.9 of 19.2 s of the child,
    profiled, on a 600-resident city). One build of all the pages and one index write the same site
    (the same 81 files, the same index)."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    ctx.add_data_docs_site(site_name="kikan", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})
    ids = list(result.run_results)
    ids += [ExpectationSuiteIdentifier(name=vr.suite_name) for vr in result.run_results.values()]
    ctx.build_data_docs(site_names=["kikan"], resource_identifiers=ids)


_EXC_NAME = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)):", re.M)


def _raised(info) -> tuple[bool, list[str]]:
    """Whether an expectation raised, and the exception class names (never their messages, which
    may quote a value). GX puts one exception_info on the result when the expectation raised, or
    one per failed metric (keyed by metric id) when a metric could not be computed."""
    if not info:
        return False, []
    infos = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    infos = [i for i in infos if i.get("raised_exception")]
    names: list[str] = []
    for i in infos:
        for n in _EXC_NAME.findall(i.get("exception_traceback") or ""):
            n = n.rsplit(".", 1)[-1]
            if n not in names:
                names.append(n)
    return bool(infos), names


def _count(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    return None


def summarize(vr, ids: dict[str, str] | None = None) -> dict:
    """One suite's validation result as plain data: counts and rules, never a value.

    ``expectations``: every expectation with its id (the suite JSON's, through ``ids``), type, rule, item, column(s), success,
    unexpected_count (rows or values that broke it; None when it raised or has no count) and
    raised. ``raised``: those that raised (not evaluated). ``failed``: those that evaluated and
    found unexpected data. ``evaluated``: how many evaluated without raising; ``success`` is GX's
    (false when any failed or raised).
    """
    rows = []
    for r in vr.results:
        cfg = r.expectation_config
        meta, kwargs = dict(cfg.meta or {}), dict(cfg.kwargs or {})
        raised, exc = _raised(r.exception_info)
        res = r.result or {}
        count = _count(res.get("unexpected_count"))
        if count is None and cfg.type == "unexpected_rows_expectation":
            count = _count(res.get("observed_value"))   # its observed value is the unexpected row count
        if kwargs.get("column"):
            columns = [kwargs["column"]]
        elif kwargs.get("column_list"):
            columns = list(kwargs["column_list"])
        else:
            columns = [meta["column"]] if meta.get("column") else []
        rows.append({
            "id": (ids or {}).get(cfg.id, cfg.id), "type": cfg.type, "rule": meta.get("rule"), "item_id": meta.get("item_id"),
            "item": meta.get("item_name") or ",".join(columns), "columns": columns,
            "success": bool(r.success) and not raised, "unexpected_count": None if raised else count,
            "raised": raised, **({"exception": exc} if raised else {}),
        })
    failed = [{k: e[k] for k in ("id", "rule", "type", "item", "item_id", "columns", "unexpected_count")}
              for e in rows if not e["success"] and not e["raised"]]
    raised = [{k: e[k] for k in ("id", "rule", "type", "item", "item_id", "columns", "exception")}
              for e in rows if e["raised"]]
    return {"expectations": rows, "evaluated": sum(not e["raised"] for e in rows), "failed": failed,
            "raised": raised, "success": bool(vr.success) and not raised}


FINISHED = "kikan-gx-finished"   # the child's line before its result: when it finished (epoch seconds)


class ChildValidation:
    """One GX child process: :func:`validate` over the systems' tables, its JSON result read when
    asked. Its output goes to files, not pipes: GX's warnings on stderr can fill a pipe that no
    one reads while the child runs ahead of the step that waits for it."""

    def __init__(self, db: Path, systems: list[str], docs_root: Path | None = None):
        import subprocess
        import sys
        import tempfile

        self.key = self.key_of(db, systems, docs_root)
        self.started_at = time.time()
        self.seconds: float | None = None     # from the start to the child's last line (the benchmark)
        self._out, self._err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        env = dict(os.environ, GX_ANALYTICS_ENABLED="false")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dagster_project.conformance.gx_suites", f"{PARENT_ARG}{os.getpid()}", str(db),
             str(docs_root or "-"), *systems],
            stdout=self._out, stderr=self._err, env=env)

    @staticmethod
    def key_of(db: Path, systems: list[str], docs_root: Path | None = None) -> tuple:
        return (str(Path(db).resolve()), tuple(systems), str(docs_root or "-"))

    def result(self) -> dict[str, dict]:
        code = self.proc.wait()
        out, err = (self._read(f) for f in (self._out, self._err))
        if code != 0:
            tail = "\n".join(err.strip().splitlines()[-5:])
            raise RuntimeError(f"Great Expectations validation failed (exit {code}): {tail}")
        lines = out.strip().splitlines()
        done = [ln for ln in lines if ln.startswith(FINISHED)]
        if done:
            self.seconds = round(float(done[-1].split()[1]) - self.started_at, 2)
        return json.loads(lines[-1])

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self._out, self._err):
            f.close()

    @staticmethod
    def _read(f) -> str:
        f.seek(0)
        text = f.read().decode("utf-8", errors="replace")
        f.close()
        return text


# the child started ahead (start_ahead), with its run's id: the step that reports GX takes its own
# run's child, or starts one itself. One at a time: a new one stops the one before.
_ahead: tuple[str, ChildValidation] | None = None


def start_ahead(run_id: str, db: Path, systems: list[str]) -> None:
    """Start validating now, in a child, for the step of this run that will ask later. Once dbt has
    built the warehouse, what follows the dbt step only reads it, as the child does (read only), so
    the child runs beside the reports and gates on the machine's other core instead of after them.
    A child left over from another run is stopped first; one left unasked at exit is stopped."""
    global _ahead
    _cancel_all()
    _ahead = (run_id, ChildValidation(db, systems))


def take_ahead(run_id: str, db: Path, systems: list[str]) -> ChildValidation | None:
    """This run's child started ahead for the same warehouse and systems, if there is one."""
    global _ahead
    if _ahead is None or _ahead[0] != run_id:
        return None
    child, _ahead = _ahead[1], None
    if child.key != ChildValidation.key_of(db, systems):
        child.cancel()
        return None
    return child


def _cancel_all() -> None:
    global _ahead
    if _ahead is not None:
        _ahead, (_, child) = None, _ahead
        child.cancel()


atexit.register(_cancel_all)


def validate_in_subprocess(db: Path, systems: list[str], docs_root: Path | None = None,
                           started: ChildValidation | None = None) -> dict[str, dict]:
    """Run :func:`validate` in a child process (or wait for ``started``, the child already running
    for the same question). GX keeps a DuckDB connection open after a validation (closing and
    disposing its engine does not release it), and DuckDB then refuses any other connection to the
    same file from the same process; a child process confines it."""
    child = started or ChildValidation(db, systems, docs_root)
    return child.result()


PARENT_ARG = "--parent="


def _watch_parent(parent: int) -> None:
    """A child started ahead must not outlive the run that started it: a killed run would leave it
    holding its read-only lock on the warehouse, and the next run's extract could not write."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="gx-parent-watch", daemon=True).start()


def _main(argv: list[str]) -> int:
    from dagster_project.spec.config import cached_project
    from dagster_project.spec.mapping import cached_mappings

    if argv and argv[0].startswith(PARENT_ARG):
        _watch_parent(int(argv.pop(0)[len(PARENT_ARG):]))
    db, docs_root, systems = Path(argv[0]), (None if argv[1] == "-" else Path(argv[1])), argv[2:]
    mappings = cached_mappings()
    project = cached_project()
    # one context, one checkpoint, one Data Docs site for all systems: a context per system cost
    # a context, a data source and a site build each (21 s against 13 s in the 100k benchmark)
    chosen = systems or [x.id for x in project.city.systems]
    out = validate(db, [t for s in chosen for t in mappings.for_system(s)], docs_dir=docs_root)
    print(f"{FINISHED} {time.time()}")
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
