"""Running the main job in this process, as ``kikan run`` and the benchmark do: the instance, the
selection of systems, the progress per stage and system, and what a finished run is said to be.

What it prints is counts and paths: never a value from the data. A step's error is printed as the
step's own message when the project raised it (a Failure), else as its class only.
"""

import datetime as dt
import os
import sys
from pathlib import Path

from dagster_project.core import diskspace
from dagster_project.core.warehouse import default_legacy_dir, default_var_dir, default_warehouse_path
from dagster_project.spec.config import cached_project


def dagster_home() -> Path:
    """DAGSTER_HOME, else var/dagster_home: the instance ``tasks.py dev`` opens (tasks._env)."""
    return Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else default_var_dir() / "dagster_home"


def _dagster_home() -> Path | None:
    return dagster_home()


def _instance(ephemeral: bool = False):
    """The persistent instance under dagster_home() (every rehearsal shows in the UI), or an
    in-memory one when asked."""
    import dagster as dg

    if ephemeral:
        return dg.DagsterInstance.ephemeral()
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():  # no usage telemetry from a 特定個人情報 pipeline
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(home))


def system_selection(graph, systems: list[str]):
    """What ``kikan run --system X`` runs: the assets of X's groups (extract, its dbt models, gaps,
    reports, gate, export), the checks on them, and no check that can only run together with
    checks outside them (GX's one multi-check over every standard table: Dagster cannot split it,
    which made the old group-only selection a DagsterInvalidSubsetError). Returns (asset keys,
    check keys, checks left out)."""
    keys = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name in systems}
    checks = {ck for ck in graph.asset_check_keys if ck.asset_key in keys}
    entities = keys | checks
    left_out = {ck for ck in checks if not set(graph.get_execution_set_asset_and_check_keys(ck)) <= entities}
    return keys, checks - left_out, left_out


def job_for(defs, systems: list[str] | None):
    """The migration job, or its subset for these systems (resolved before anything runs)."""
    job = defs.resolve_job_def("migration")
    if not systems:
        return job, set()
    keys, checks, left_out = system_selection(defs.resolve_asset_graph(), systems)
    return job.get_subset(asset_selection=keys, asset_check_selection=checks), left_out


STAGES = (("extract", "抽出 / extract"), ("dbt", "変換 dbt / models"), ("checks", "検査 / checks"),
          ("reports", "帳票 / reports"), ("gates", "判定 / gates"), ("exports", "出力 / exports"),
          ("other", "その他 / other"))


def stage_of(step_key: str) -> str:
    if step_key.startswith("extract_"):
        return "extract"
    if step_key == "mapping_stage" or "dbt" in step_key:
        return "dbt"
    if step_key.startswith("readiness__gate_") or step_key.startswith("readiness__"):
        return "gates"
    if step_key.startswith("exports__"):
        return "exports"
    if step_key.startswith("reports__"):
        return "reports"
    if "conformance" in step_key or "check" in step_key:
        return "checks"
    return "other"


class RunProgress:
    """A rich progress display fed by the instance's event listener (``add_event_listener``,
    called for every event the run stores): one bar per stage (its steps), one per system (its
    assets materialized). Only counts and keys, never a value."""

    def __init__(self, job, graph, console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=False, redirect_stdout=False,
                                 redirect_stderr=False, refresh_per_second=4)
        steps = [n.name for n in job.graph.nodes]
        self.stage_task = {}
        for stage, label in STAGES:
            n = sum(1 for s in steps if stage_of(s) == stage)
            if n:
                self.stage_task[stage] = self.progress.add_task(label, total=n)
        selected = set(job.asset_layer.selected_asset_keys)
        self.group = {k: graph.get(k).group_name for k in selected if graph.has(k)}
        ids = [s.id for s in cached_project().city.systems]
        self.system_task = {}
        for sid in ids:
            n = sum(1 for g in self.group.values() if g == sid)
            if n:
                self.system_task[sid] = self.progress.add_task(f"  {sid}", total=n)

    def __call__(self, record) -> None:
        ev = record.dagster_event
        if ev is None:
            return
        kind = ev.event_type_value
        if kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED") and ev.step_key:
            task = self.stage_task.get(stage_of(ev.step_key))
            if task is not None:
                self.progress.advance(task)
        elif kind == "ASSET_MATERIALIZATION":
            sid = self.group.get(ev.asset_key)
            if sid in self.system_task:
                self.progress.advance(self.system_task[sid])

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()
        return False


def _console(stream=None):
    from rich.console import Console

    stream = stream or sys.stdout
    tty = stream.isatty() if hasattr(stream, "isatty") else False
    return Console(file=stream, width=None if tty else 200, soft_wrap=not tty, highlight=False,
                   no_color=not tty)


def run_job(systems: list[str] | None = None, instance=None, quiet: bool = False, progress: bool | None = None) -> bool:
    """The main job (or the systems' subset of it), then the overview job, in process; True when
    nothing failed but gate blocks."""
    from dagster_project.core.memory import tame_glibc_malloc
    from dagster_project.mapping.dbt_project import prepare

    tame_glibc_malloc()   # rehearsal after rehearsal in one process: no growth left in glibc's arenas
    prepare()   # the explicit step: regenerate and re-parse when mappings/ or seeds/ changed
    from dagster_project.definitions import defs

    import contextlib
    import uuid

    job, left_out = job_for(defs, systems)
    if left_out and not quiet:
        names = ", ".join(sorted({ck.name for ck in left_out}))
        print(f"システムを絞った実行では全システムにまたがる検査（{names}）は実行しない / "
              f"checks spanning every system ({names}) run with the whole rehearsal only")
    # the full run log (dbt's stream included) goes to a file; the terminal gets the summary
    logs = default_var_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"run-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.log"
    instance = instance or _instance()
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    show = (not quiet and sys.stdout.isatty()) if progress is None else progress
    run_id = str(uuid.uuid4())
    bar = contextlib.nullcontext()
    if show and hasattr(job, "graph"):
        bar = RunProgress(job, defs.resolve_asset_graph(), _console(sys.stdout))   # the terminal, before redirection
        instance.add_event_listener(run_id, bar)
    try:
        # line-buffered: the log is whole up to the last line however the process ends
        with bar, log_path.open("w", encoding="utf-8", buffering=1) as fh, contextlib.redirect_stdout(fh), \
                contextlib.redirect_stderr(fh):
            try:
                result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config,
                                                run_id=run_id)
            finally:
                # the side worker (the reports' workbooks) holds nothing between rehearsals
                from dagster_project.core import side

                side.shutdown()
            # the overview follows every rehearsal, failed or not (the sensors do the same under the daemon),
            # and completes it: only a completed rehearsal counts (readiness/defs)
            from dagster_project.readiness.defs import REHEARSAL_RUN_TAG

            overview = defs.resolve_job_def("readiness_overview").execute_in_process(
                instance=instance, raise_on_error=False, run_config=run_config, tags={REHEARSAL_RUN_TAG: result.run_id})
    except Exception as exc:
        # Dagster's own storage (sqlite: "database or disk is full", or only "disk I/O error") or
        # the run log itself
        where = diskspace.full_where(exc, [_dagster_home(), log_path, default_warehouse_path()])
        if where is not None:
            raise diskspace.DiskFull.at(where, default_legacy_dir()) from None
        raise
    full = disk_full_of(result) or disk_full_of(overview)
    if full is not None:
        raise full
    if not quiet:
        print(f"run log        : {log_path}")
        print(f"dagster run    : {result.run_id}  ({dagster_home()})")
    if not overview.success:
        print("FAILED the readiness overview: see the run log", file=sys.stderr)
    return report_run(result, quiet)


GATE_EXPORT_CHECK = "gate_allows_export"   # defs.readiness.GATE_EXPORT_CHECK (a test holds them equal)
BLOCK_WORDS = "出力しない"                   # the older export's step failure said so


def report_run(result, quiet: bool = False) -> bool:
    """Print what failed in a rehearsal (systems, steps, ERROR checks) and whether it went well:
    True when nothing failed except exports their gates blocked."""
    import dagster as dg

    failed, blocked = report_failures(result, quiet)
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    bad = [e for e in checks if not e.event_specific_data.passed
           and e.event_specific_data.severity == dg.AssetCheckSeverity.ERROR]
    warned = [e for e in checks if not e.event_specific_data.passed and e not in bad
              and e.event_specific_data.check_name != GATE_EXPORT_CHECK]
    for e in bad:
        d = e.event_specific_data
        reason = d.metadata.get("reason")
        why = f": {reason.value}" if reason is not None else ""
        print(f"CHECK FAILED {d.asset_key.to_user_string()} {d.check_name}{why}", file=sys.stderr)
    if warned and not quiet:
        print(f"{len(warned)} check(s) warned (e.g. duplicate keys); see the Dagster UI or the gap reports")
    # a run that did not succeed is fine only when what stopped it is gates blocking their exports
    return not failed and not bad and (result.success or bool(blocked))


def disk_full_of(result) -> diskspace.DiskFull | None:
    """The full disk a run failed on, if it did: a step's Failure that says so (the dbt step), or
    any error of the run whose class or text is a full disk (ENOSPC, DuckDB, sqlite)."""
    for e in result.all_events:
        data = e.event_specific_data
        ufd = getattr(data, "user_failure_data", None)
        if ufd is not None and ufd.metadata.get("disk_full") is not None:
            return diskspace.DiskFull.at(Path(ufd.metadata["disk_full"].value), default_legacy_dir())
        err = getattr(data, "error", None)
        if err is not None:
            is_full, path = diskspace.error_info_is_disk_full(err)
            if is_full:
                return diskspace.DiskFull.at(path or default_var_dir(), default_legacy_dir())
    return None


def gate_blocks(events) -> list[tuple[str, str]]:
    """Exports a gate blocked, as (what, reason): a failed ``gate_allows_export`` check (the export
    asset of now), or a step failure carrying ``blocked_by_gate`` or saying 出力しない (the older
    export, which failed its step)."""
    out = []
    for e in events:
        if e.event_type_value == "ASSET_CHECK_EVALUATION":
            d = e.event_specific_data
            if d.check_name == GATE_EXPORT_CHECK and not d.passed:
                reason = d.metadata.get("reason")
                out.append((d.asset_key.to_user_string(), reason.value if reason is not None else d.description or ""))
        elif e.event_type_value == "STEP_FAILURE" and is_blocked_step(e):
            out.append((e.step_key, e.event_specific_data.user_failure_data.description or ""))
    return out


def is_blocked_step(e) -> bool:
    ufd = e.event_specific_data.user_failure_data
    return ufd is not None and (ufd.metadata.get("blocked_by_gate") is not None
                                or BLOCK_WORDS in (ufd.description or ""))


def report_failures(result, quiet: bool = False) -> tuple[list[str], list[str]]:
    """Print what failed in a rehearsal: each system whose dbt models failed (FAILED <system>, the
    model, column and rule), each failed step, each export a gate blocked. Returns (failed, blocked)."""
    failed = []
    by_system: dict[str, list] = {}
    for e in result.all_events:
        if e.event_type_value != "ASSET_OBSERVATION":
            continue
        md = e.event_specific_data.asset_observation.metadata
        if md.get("dbt_status") is not None and md["dbt_status"].value == "error":
            by_system.setdefault(md["system"].value or "shared", []).append(md)
    for system, mds in sorted(by_system.items()):
        failed.append(system)
        skipped = sum(int(m["skipped_dependents"].value) for m in mds)
        reasons = "／".join(m["reason"].value.split(" / ")[0] for m in mds[:3])
        more = f" ほか {len(mds) - 3} 件" if len(mds) > 3 else ""
        print(f"FAILED {system}: dbt モデルの失敗 {len(mds)} 件（{reasons}{more}）、依存する {skipped} ノードは未実行 / "
              f"{len(mds)} dbt model(s) failed, {skipped} dependent node(s) skipped", file=sys.stderr)
    blocks = gate_blocks(result.all_events)
    blocked = [what for what, _ in blocks]   # a gate that does not allow the export: the gate doing its job
    if not quiet:
        for what, reason in blocks:
            print(f"BLOCKED {what}: {reason}")
    for e in (x for x in result.all_events if x.event_type_value == "STEP_FAILURE"):
        if is_blocked_step(e):
            continue
        failed.append(e.step_key)
        print(f"FAILED {e.step_key}: {step_error_line(e)}", file=sys.stderr)
    return failed, blocked


def step_error_line(event) -> str:
    """One line for a failed step: the project's own message (a Failure's description, written to
    carry no value), or the error's class and its rule, never an exception's text."""
    from dagster_project.mapping.dbt_failures import RULES, classify

    ufd = event.event_specific_data.user_failure_data
    if ufd is not None and ufd.description:
        return ufd.description.strip().splitlines()[0]
    err = event.event_specific_data.error
    if err is None:
        return "詳細は実行ログ / see the run log"
    inner = err
    while inner.cause is not None and inner.cls_name in ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"):
        inner = inner.cause
    rule = classify(inner.message).rule
    return f"{inner.cls_name}（{RULES[rule][0]}）: 内容は値を含みうるため表示しない。詳細は実行ログ / message withheld, see the run log"


