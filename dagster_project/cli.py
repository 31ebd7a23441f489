"""``kikan``: the command line of the project.

    kikan demo [--residents N] [--seed S]   simulate the default city (if needed) and run the
                                            main job on DuckDB, then say where everything is
    kikan run [--system ID ...]             run the main job (or one system's assets) on the
                                            exports already in place
    kikan simulate ...                      the legacy-city simulator (see --help)
    kikan decisions import FILE.xlsx        read an owner's filled workbook back into mappings/
    kikan decisions import-inbox [DIR]      the same for every workbook dropped in DIR (var/inbox)

What it prints is counts and paths: never a value from the data. A step's error is printed as
the step's own message when the project raised it (a Failure), else as its class only (the full
text, which may quote a value, stays out of the terminal).

``kikan run`` exits 0 when nothing failed (a gate blocking an export is not a failure), 1 when a
step, a dbt model (FAILED <system>) or an ERROR check failed, and 2 when the disk is full: that is
said first, with the path and the space a rehearsal needs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .lib import diskspace
from .lib.warehouse import connect, default_legacy_dir, default_var_dir, default_warehouse_path


def _instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():  # no usage telemetry from a 特定個人情報 pipeline
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run_job(systems: list[str] | None = None, instance=None, quiet: bool = False) -> bool:
    """The main job, then the overview job, in process; True when nothing failed but gate blocks."""
    from .definitions import defs

    import contextlib
    import datetime as dt

    job = defs.resolve_job_def("migration")
    selection = None
    if systems:
        graph = defs.resolve_asset_graph()
        selection = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in systems]
    # the full run log (dbt's stream included) goes to a file; the terminal gets the summary
    logs = default_var_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"run-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.log"
    instance = instance or _instance()
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    try:
        # line-buffered: the log is whole up to the last line however the process ends
        with log_path.open("w", encoding="utf-8", buffering=1) as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            result = job.execute_in_process(
                instance=instance, asset_selection=selection, raise_on_error=False, run_config=run_config)
            # the overview follows every rehearsal, failed or not (the sensors do the same under the daemon),
            # and completes it: only a completed rehearsal counts (defs/readiness)
            from .defs.readiness import REHEARSAL_RUN_TAG

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
    if not overview.success:
        print("FAILED the readiness overview: see the run log", file=sys.stderr)
    return report_run(result, quiet)


def report_run(result, quiet: bool = False) -> bool:
    """Print what failed in a rehearsal (systems, steps, ERROR checks) and whether it went well:
    True when nothing failed except exports their gates blocked."""
    import dagster as dg

    failed, blocked = report_failures(result, quiet)
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    bad = [e for e in checks if not e.event_specific_data.passed
           and e.event_specific_data.severity == dg.AssetCheckSeverity.ERROR]
    warned = [e for e in checks if not e.event_specific_data.passed and e not in bad]
    for e in bad:
        d = e.event_specific_data
        reason = d.metadata.get("reason")
        why = f": {reason.value}" if reason is not None else ""
        print(f"CHECK FAILED {d.asset_key.to_user_string()} {d.check_name}{why}", file=sys.stderr)
    if warned and not quiet:
        print(f"{len(warned)} check(s) warned (e.g. duplicate keys); see the Dagster UI or the gap reports")
    # a run that did not succeed is fine only when what stopped it is gates blocking their exports
    return not failed and not bad and (result.success or bool(blocked))


def _dagster_home() -> Path | None:
    return Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else None


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


def report_failures(result, quiet: bool = False) -> tuple[list[str], list[str]]:
    """Print what failed in a rehearsal: each system whose dbt models failed (FAILED <system>, the
    model, column and rule), each failed step, each export a gate blocked. Returns (failed, blocked)."""
    from .defs.readiness import BLOCKED_BY_GATE

    failed, blocked = [], []
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
    for e in (x for x in result.all_events if x.event_type_value == "STEP_FAILURE"):
        ufd = e.event_specific_data.user_failure_data
        if ufd is not None and ufd.metadata.get(BLOCKED_BY_GATE) is not None:
            blocked.append(e.step_key)   # a gate that does not allow the export: the gate doing its job
            if not quiet:
                print(f"BLOCKED {e.step_key}: {ufd.description}")
            continue
        failed.append(e.step_key)
        print(f"FAILED {e.step_key}: {step_error_line(e)}", file=sys.stderr)
    return failed, blocked


def step_error_line(event) -> str:
    """One line for a failed step: the project's own message (a Failure's description, written to
    carry no value), or the error's class and its rule, never an exception's text."""
    from .lib.dbt_failures import RULES, classify

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


def readiness_summary() -> str:
    """Each system's gate state after the run: status, decision id, failing criteria (labels only)."""
    from .defs.readiness import CONFIG, ReadinessResource, project
    from .lib import gatelog

    r = ReadinessResource()
    if not (r.state_path / gatelog.HISTORY).exists():
        return "readiness      : not evaluated"
    lines = [f"readiness as of {r.as_of().isoformat()} (gate = cutover - {project.city.city.gate_days_before_cutover} days)",
             f"{'system':10s} {'cutover':10s} {'status':22s} {'decision':26s} failing criteria"]
    for s in project.city.systems:
        hist = gatelog.read_history(r.state_path, s.id)
        if not hist:
            lines.append(f"{s.id:10s} {s.cutover.isoformat():10s} not evaluated")
            continue
        h = hist[-1]
        st = h["status"] if h["phase"] != "before_gate" else f"(before gate: {h['status']})"
        failing = ", ".join(c["id"] for c in h["criteria"] if not c["passed"]) or "-"
        lines.append(f"{s.id:10s} {s.cutover.isoformat():10s} {st:22s} {h['decision_id'] or '-':26s} {failing}")
    lines.append(f"overview       : {default_var_dir() / 'reports' / 'readiness_overview.html'}")
    lines.append(f"owner workbooks: {default_var_dir() / 'reports'}/<system>/<system>_移行確認.xlsx (and .html); "
                 "decisions back: kikan decisions import FILE.xlsx, then kikan run")
    lines.append(f"exports        : {r.exports_path}  (GO/CONDITIONAL systems; export_on = {CONFIG.gate.export_on})")
    return "\n".join(lines)


def summary(db: Path) -> str:
    lines = []
    with connect(db, read_only=True) as con:
        rows = con.execute(
            """select system, count(*) files, sum(records_in_file) records, sum(raw_rows) raw,
                      sum(quarantined) q, sum(coalesce(refused_records, 0)) refused
               from meta.extract_files group by system order by system"""
        ).fetchall()
        gaiji = dict(con.execute(
            """select system, sum(occurrences) filter (where substituted_with is null)
               from meta.gaiji_usage group by system"""
        ).fetchall())
    # records = raw rows + quarantined + refused (the records of a file refused as a whole)
    lines.append(f"{'system':10s} {'files':>5s} {'records':>10s} {'raw rows':>10s} {'quarantined':>11s} "
                 f"{'refused':>8s} {'外字 open':>9s}")
    tot = [0, 0, 0, 0, 0]
    for system, files, records, raw, q, refused in rows:
        g = int(gaiji.get(system) or 0)
        lines.append(f"{system:10s} {files:5d} {records:10,d} {raw:10,d} {q:11,d} {refused:8,d} {g:9,d}")
        for i, v in enumerate((files, records, raw, q, refused)):
            tot[i] += v
    lines.append(f"{'total':10s} {tot[0]:5d} {tot[1]:10,d} {tot[2]:10,d} {tot[3]:11,d} {tot[4]:8,d}")
    return "\n".join(lines)


def cmd_demo(a) -> int:
    from .simulate.city import generate_city

    legacy = default_legacy_dir()
    manifest = legacy / "_truth" / "manifest.json"
    t0 = time.perf_counter()
    fresh = True
    if manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        fresh = not (m.get("seed") == a.seed and m.get("target_residents", m.get("residents")) == a.residents)
    if fresh or a.regenerate:
        print(f"simulating a city of {a.residents:,} residents (seed {a.seed}) into {legacy} ...")
        generate_city(legacy, a.residents, a.seed, log=lambda s: print("  " + s))
        m = json.loads(manifest.read_text(encoding="utf-8"))
        m["target_residents"] = a.residents
        manifest.write_text(json.dumps(m, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    else:
        print(f"reusing the simulated city in {legacy} (seed {a.seed}, {a.residents:,} residents)")
    t1 = time.perf_counter()
    space_ahead()
    print("running the main job (Dagster, in process) ...")
    try:
        ok = run_job()
    except diskspace.DiskFull as full:
        return said_disk_full(full)
    t2 = time.perf_counter()
    db = default_warehouse_path()
    print()
    print(summary(db))
    print()
    print(readiness_summary())
    print()
    print(f"simulate {t1 - t0:.1f}s, main job {t2 - t1:.1f}s, total {t2 - t0:.1f}s")
    print(f"legacy exports : {legacy}")
    print(f"warehouse      : {db}   (schemas raw, staging, standard, findings, gaps, conformance, readiness)")
    print(f"dagster home   : {os.environ.get('DAGSTER_HOME', '(ephemeral)')}")
    print("asset graph    : python3.11 tasks.py dev  ->  http://127.0.0.1:3000")
    if not ok:
        print("the main job FAILED: see the messages above", file=sys.stderr)
        return 1
    return 0


def space_ahead() -> bool:
    """Before a rehearsal: say first when the free space where it writes is below what it needs
    (an estimate: ``lib/diskspace``). The run goes on; if the disk fills, that is said too."""
    var = default_var_dir()
    need, legacy = diskspace.estimate_needed(default_legacy_dir())
    places = {var, default_warehouse_path().parent} | ({_dagster_home()} if _dagster_home() else set())
    for place in sorted(places):
        try:
            free = diskspace.free_bytes(place)
        except OSError:
            continue
        if free < need:
            print(f"空き容量が不足する見込み / LOW DISK SPACE: {place}（空き {diskspace.human(free)}、必要見込み "
                  f"{diskspace.human(need)}: 現行データ {diskspace.human(legacy)} × {diskspace.ESTIMATE_FACTOR} + "
                  f"{diskspace.human(diskspace.ESTIMATE_FIXED)}） / {diskspace.human(free)} free, "
                  f"about {diskspace.human(need)} needed", file=sys.stderr)
            return False
    return True


def said_disk_full(full: diskspace.DiskFull) -> int:
    """A full disk, said first and alone (what else failed failed because of it): exit 2."""
    for line in full.lines():
        print(line, file=sys.stderr)
    logs = default_var_dir() / "logs"
    latest = max(logs.glob("run-*.log"), default=None, key=lambda p: p.stat().st_mtime) if logs.exists() else None
    if latest is not None:
        print(f"run log        : {latest}", file=sys.stderr)
    return 2


def cmd_run(a) -> int:
    space_ahead()
    try:
        ok = run_job(a.system or None)
    except diskspace.DiskFull as full:
        return said_disk_full(full)
    print(summary(default_warehouse_path()))
    print(readiness_summary())
    return 0 if ok else 1


def cmd_generate(a) -> int:
    from .lib.config import cached_project
    from .lib.dbtgen import generate
    from .lib.mapping import cached_mappings

    changed, _ = generate(cached_project(), cached_mappings())
    print(f"dbt models generated ({changed} file(s) changed)")
    return 0


def cmd_gx_generate(a) -> int:
    from .lib.gx_suites import write_suites
    from .lib.mapping import cached_mappings

    print(f"{write_suites(cached_mappings())} suite file(s) changed")
    return 0


def cmd_import_catalog(a) -> int:
    from .lib.catalog_import import import_catalog_xlsx
    from .lib.config import PROJECT_ROOT, cached_project

    out = a.out or PROJECT_ROOT / "seeds"
    counts = import_catalog_xlsx(cached_project(), a.xlsx, out)
    print(f"imported {counts['items']} items in {counts['tables']} tables and {counts['codes']} codes into {out}")
    return 0


def cmd_export_catalog(a) -> int:
    from .lib.catalog_import import export_catalog_xlsx
    from .lib.config import cached_project

    export_catalog_xlsx(cached_project(), a.xlsx)
    print(f"wrote {a.xlsx}")
    return 0


def cmd_export(a) -> int:
    """The vendor package of one system. 0: written; 1: the warehouse could not be read; 2: unknown
    system, no warehouse, or (without --preview) the latest gate decision does not release it."""
    import datetime as dt
    import uuid

    import duckdb

    from .defs.readiness import CONFIG, ReadinessResource, mappings, project
    from .lib.export import PREVIEW_JA, gate_release, prune, write_package
    from .lib.gatelog import LogCorrupted

    ids = [s.id for s in project.city.systems]
    if a.system not in ids:
        print(f"システム ID「{a.system}」はありません。使えるシステム ID: {', '.join(ids)}\n"
              f"unknown system id {a.system!r}; known ids: {', '.join(ids)}", file=sys.stderr)
        return 2
    s = project.city.system(a.system)
    db = default_warehouse_path()
    if not db.exists():
        print(f"倉庫がありません: {db}（先に kikan run を実行してください） / no warehouse", file=sys.stderr)
        return 2
    r = ReadinessResource()
    try:
        gr = gate_release(r.state_path, s.id, s.name, CONFIG.gate.export_on, completed_only=True)
    except LogCorrupted as exc:   # names the file and line, never a value
        print(f"判定の記録を読めません / the gate's records cannot be read: {exc}", file=sys.stderr)
        return 1
    if not gr.allowed and not a.preview:
        print(f"出力しません（{s.id}）: {gr.message_ja}\n"
              f"移行リハーサル用の参考パッケージ（本番移行には使用しない）は kikan export {s.id} --preview で"
              "書き出せます。 / not released by the gate; --preview writes a package not for cutover", file=sys.stderr)
        return 2
    release = gr.release or {"status": gr.status, "decision_id": gr.decision_id, "gate_ja": gr.message_ja}
    out = a.out or r.exports_path
    package_id = f"P{dt.datetime.now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    try:
        m = write_package(db, s.id, mappings.for_system(s.id), out, package_id, release, preview=a.preview)
    except duckdb.Error as exc:   # the class only: DuckDB's text may quote a value
        print(f"倉庫を読めません（{type(exc).__name__}）: パイプラインの実行中か、{s.id} の標準テーブルがまだ"
              "作られていません / the warehouse could not be read", file=sys.stderr)
        return 1
    prune(out, s.id, r.keep_packages)
    pkg = Path(out) / s.id / m["package_id"]
    print(f"移行データ一式 / package: {pkg}")
    print(f"  判定 / gate: {gr.status or '未評価'}（{gr.decision_id or ('判定前の見込み' if gr.status else '-')}）  "
          f"テーブル {len(m['tables'])}、{sum(t['rows'] for t in m['tables']):,} 行")
    if a.preview:
        print(f"  {PREVIEW_JA}: LATEST は変わりません / a preview, not for cutover; LATEST unchanged")
    print(f"  検証 / validate: frictionless validate {pkg / 'datapackage.json'}")
    return 0


def _decisions_db(a) -> Path | None:
    """--db, else the default warehouse when there is one (the importer says when it checked nothing)."""
    if a.db is not None:
        if not a.db.exists():
            from .lib.owner_import import ImportUserError

            raise ImportUserError(f"倉庫がありません: {a.db}")
        return a.db
    db = default_warehouse_path()
    return db if db.exists() else None


def _audit_dir() -> Path:
    """The readiness state folder, whose owners' audit log records every import."""
    from .lib.gatelog import default_state_dir

    return default_state_dir()


def cmd_decisions_import(a) -> int:
    """0: every row taken; 1: some rows rejected (the others applied); 2: the file cannot be imported."""
    from .lib.config import mappings_dir
    from .lib.owner_import import ImportUserError, format_result, import_workbook

    try:
        result = import_workbook(a.xlsx, mappings_dir(), _decisions_db(a), system=a.system, dry_run=a.dry_run,
                                 audit_dir=_audit_dir())
    except ImportUserError as exc:
        print(f"取り込めません: {exc}", file=sys.stderr)
        return 2
    print(format_result(result))
    return 0 if result.ok else 1


def cmd_decisions_inbox(a) -> int:
    """0: every workbook taken whole; 1: some file or row rejected; 2: no such folder."""
    from .lib.config import mappings_dir
    from .lib.owner_import import ImportUserError, format_result, import_inbox

    inbox = a.dir or default_var_dir() / "inbox"
    if a.dir is None:
        inbox.mkdir(parents=True, exist_ok=True)
    try:
        items = import_inbox(inbox, mappings_dir(), _decisions_db(a), dry_run=a.dry_run, audit_dir=_audit_dir())
    except ImportUserError as exc:
        print(f"取り込めません: {exc}", file=sys.stderr)
        return 2
    if not items:
        print(f"受付フォルダ {inbox} に取り込むブック（*.xlsx）はありません")
    for it in items:
        print(f"== {it.file.name}" + (f" → {it.moved_to}" if it.moved_to else ""))
        print(format_result(it.result) if it.result else f"取り込めません: {it.error}")
        print()
    good = sum(1 for it in items if it.ok)
    if items:
        print(f"{len(items)} ファイル中 すべて反映 {good}、却下を含む {len(items) - good}")
    return 0 if good == len(items) else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "bench":
        from .bench import main as bench_main

        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return bench_main(argv[1:])
    if argv and argv[0] == "spark":
        from .spark import main as spark_main

        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return spark_main(argv[1:])
    if argv and argv[0] == "simulate":
        from .simulate.city import main as sim_main

        return sim_main(argv[1:])
    ap = argparse.ArgumentParser(prog="kikan", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="simulate the default city and run the main job")
    d.add_argument("--residents", type=int, default=20000)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--regenerate", action="store_true", help="simulate again even if present")
    d.add_argument("--today", help="the day the readiness gates judge (default: city.as_of, else the date)")
    d.set_defaults(fn=cmd_demo)
    r = sub.add_parser("run", help="run the main job on the exports in place")
    r.add_argument("--system", action="append", help="only this system (repeatable)")
    r.add_argument("--today", help="the day the readiness gates judge (default: city.as_of, else the date)")
    r.set_defaults(fn=cmd_run)
    sub.add_parser("simulate", help="the legacy-city simulator (kikan simulate --help)")
    sub.add_parser("spark", help="the jumin and zeimu models on local Spark, compared with DuckDB (kikan spark --help)")
    sub.add_parser("bench", help="the designated-city benchmark against the floor (kikan bench --help)")
    g = sub.add_parser("generate", help="write the dbt models generated from mappings/ and seeds/")
    g.set_defaults(fn=cmd_generate)
    ci = sub.add_parser("import-catalog", help="read an official-style 基本データリスト (.xlsx) into seeds/")
    ci.add_argument("xlsx", type=Path)
    ci.add_argument("--out", type=Path, default=None, help="seeds folder to write (default: seeds/)")
    ci.set_defaults(fn=cmd_import_catalog)
    gg = sub.add_parser("gx-generate", help="rewrite the Great Expectations suites in expectations/suites/")
    gg.set_defaults(fn=cmd_gx_generate)
    ce = sub.add_parser("export-catalog", help="write the current catalog as a 基本データリスト-shaped .xlsx")
    ce.add_argument("xlsx", type=Path)
    ce.set_defaults(fn=cmd_export_catalog)
    ex = sub.add_parser(
        "export", help="write a system's vendor package (Frictionless Data Package); --preview for a 参考 package",
        description="移行事業者向けの移行データ一式（datapackage.json、CSV・Parquet、コード表、変換フラグ）を書き出す。"
                    "通常は最新の移行可否判定が出力を認めるとき（mappings/readiness.yaml の export_on）だけ書き出し、"
                    "認めないときは判定を示して終了コード 2。--preview は判定にかかわらず参考パッケージ（フォルダ名と "
                    "manifest に「参考」、LATEST は指さない）を書き出す。 Writes the package when the latest gate "
                    "decision releases it (exit 2 naming the decision otherwise); --preview writes a package for "
                    "rehearsing the load, marked 参考 and never LATEST.")
    ex.add_argument("system", help="system id (mappings/city.yaml), e.g. jumin")
    ex.add_argument("--preview", action="store_true", help="a 参考 package for a system the gate has not released")
    ex.add_argument("--out", type=Path, default=None, help="exports folder (default: KIKAN_EXPORTS_DIR, else var/exports)")
    ex.set_defaults(fn=cmd_export)
    dc = sub.add_parser("decisions", help="owners' decisions: read filled workbooks (<system>_移行確認.xlsx) back")
    dsub = dc.add_subparsers(dest="decisions_cmd", required=True)
    di = dsub.add_parser(
        "import", help="import one workbook into mappings/ (exit 0 all taken, 1 rows rejected, 2 error)",
        description="所管課が記入した移行確認ブック（<system>_移行確認.xlsx）の決定を mappings/ に取り込む。"
                    "Reads an owner's filled workbook: every decision row is checked (lists, 理由・決定者 present, "
                    "dates such as 2026/11/20, 2026年11月20日, 令和8年11月20日, R8.11.20 or an Excel date, the gap or "
                    "record still in the warehouse); a bad row is rejected with its sheet, row and column, the good "
                    "rows are written. The next `kikan run` applies them. Exit: 0 all taken, 1 some rows rejected, "
                    "2 the file cannot be imported.")
    di.add_argument("xlsx", type=Path, help="the filled workbook (.xlsx)")
    di.add_argument("--system", help="the system the workbook must be for (else its cover says)")
    di.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    di.add_argument("--db", type=Path, default=None, help="warehouse to check against (default: var/warehouse.duckdb)")
    di.set_defaults(fn=cmd_decisions_import)
    dn = dsub.add_parser("import-inbox", help="import every *.xlsx of DIR, then move it to DIR/done or DIR/rejected")
    dn.add_argument("dir", type=Path, nargs="?", default=None, help="the inbox folder (default: var/inbox)")
    dn.add_argument("--dry-run", action="store_true", help="check and report, write and move nothing")
    dn.add_argument("--db", type=Path, default=None, help="warehouse to check against (default: var/warehouse.duckdb)")
    dn.set_defaults(fn=cmd_decisions_inbox)
    a = ap.parse_args(argv)
    if getattr(a, "today", None):
        os.environ["KIKAN_TODAY"] = a.today
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    default_var_dir().mkdir(parents=True, exist_ok=True)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
