"""``kikan``: the command line of the project (typer; ``kikan --help``, ``kikan COMMAND --help``).

    kikan demo [--residents N] [--seed S]   simulate the default city (if needed) and run the
                                            main job on DuckDB, then say where everything is
    kikan run [--system ID ...]             run the main job (or one system's assets) on the
                                            exports already in place
    kikan export SYSTEM [--preview]         write a system's vendor package
    kikan simulate ...                      the legacy-city simulator (see --help)
    kikan decisions import FILE.xlsx        read an owner's filled workbook back into mappings/
    kikan decisions import-inbox [DIR]      the same for every workbook dropped in DIR (var/inbox)
    kikan generate | gx-generate | import-catalog | export-catalog | bench | spark

What it prints is counts and paths: never a value from the data. A step's error is printed as
the step's own message when the project raised it (a Failure), else as its class only (the full
text, which may quote a value, stays out of the terminal).

Options are checked before any work starts: ``--today`` is read in the forms people type
(2026-12-07, 2026/12/07, 20261207, 2026年12月7日, 令和8年12月7日, R8.12.7; the eras from
seeds/eras.csv), a system id must be one of mappings/city.yaml, a file named must exist. A
mistake of the user is one message naming what to fix, no traceback, exit 2.

``kikan run`` records into the persistent Dagster instance (DAGSTER_HOME, else var/dagster_home,
the one ``tasks.py dev`` opens), so every rehearsal is in the UI. It exits 0 when nothing failed
(a gate blocking an export is not a failure: a failed ``gate_allows_export`` check, or a step
failure of the older export), 1 when a step, a dbt model (FAILED <system>) or an ERROR check
failed, and 2 when the disk is full: that is said first, with the path and the space a rehearsal
needs. On a terminal it shows its progress per stage and per system (not with --quiet, nor when
stdout is not a terminal).
"""

import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, NoReturn, Optional

import typer

from dagster_project.core import diskspace
from dagster_project.runner import (RunProgress, _console, _dagster_home, dagster_home, disk_full_of, gate_blocks, is_blocked_step,  # noqa: F401
                                    job_for, report_failures, report_run, run_job, stage_of, step_error_line,
                                    system_selection)
from dagster_project.core.warehouse import connect, default_legacy_dir, default_var_dir, default_warehouse_path

from dagster_project.spec.decisions import DATE_FORMS as TODAY_FORMS   # the forms the one date reader takes


# ---------------------------------------------------------------- the user's mistakes


def _mistake(message: str) -> NoReturn:
    """A mistake of the user: one message naming what to fix, exit 2, no traceback."""
    print(message, file=sys.stderr)
    raise typer.Exit(2)


def parse_today(value: Optional[str]) -> Optional[str]:
    """``--today`` in the forms people type, as an ISO date (what KIKAN_TODAY holds); else exit 2
    naming the option and the forms (the readers of spec.decisions, the eras of seeds/eras.csv)."""
    if value is None or not value.strip():
        return None
    from dagster_project.spec.decisions import DateError, parse_date

    try:
        return parse_date(value.strip()).isoformat()
    except DateError as exc:
        # the reader's message names the forms when the form was wrong (not for a day that does not exist)
        _mistake(f"--today: {exc}\n"
                 f"--today: {value.strip()!r} is not a date; accepted forms: {TODAY_FORMS}")


def system_ids() -> list[str]:
    """The current systems of mappings/city.yaml (a broken config is the user's to fix: exit 2)."""
    from dagster_project.spec.config import ConfigError, cached_project

    try:
        return [s.id for s in cached_project().city.systems]
    except ConfigError as exc:
        _mistake(f"設定を読めません / the configuration cannot be read: {exc}")


def unknown_system(value: str, ids: list[str]) -> NoReturn:
    _mistake(f"システム ID「{value}」はありません。使えるシステム ID: {', '.join(ids)}\n"
             f"unknown system id {value!r}; known ids: {', '.join(ids)}")


def check_systems(values: Optional[list[str]]) -> Optional[list[str]]:
    """``--system`` values (repeatable, or comma-separated), each a known id; else exit 2 listing them."""
    if not values:
        return None
    wanted = [v.strip() for value in values for v in value.split(",") if v.strip()]
    ids = system_ids()
    for v in wanted:
        if v not in ids:
            unknown_system(v, ids)
    return list(dict.fromkeys(wanted))


def check_system(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    ids = system_ids()
    if value not in ids:
        unknown_system(value, ids)
    return value


def existing_file(value: Optional[Path]) -> Optional[Path]:
    """A file to read: it must be there (the path named, exit 2)."""
    if value is None:
        return None
    if not value.is_file():
        what = "フォルダです（ファイルを指定してください）" if value.is_dir() else "ファイルがありません"
        _mistake(f"{what}: {value} / no such file: {value}")
    return value


# ---------------------------------------------------------------- the run's summary


def readiness_table():
    """Each system's gate state after the run (status, decision id, failing criteria: labels only),
    as a rich table; None when no gate was evaluated."""
    from rich.table import Table

    from dagster_project.readiness.defs import project

    from dagster_project.resources import ReadinessResource
    from dagster_project.readiness import gatelog

    r = ReadinessResource()
    if not (r.state_path / gatelog.HISTORY).exists():
        return None
    t = Table(title=f"移行可否判定 / readiness as of {r.as_of().isoformat()} "
                    f"(gate = cutover - {project.city.city.gate_days_before_cutover} days)", title_justify="left")
    for col in ("system", "cutover", "status", "decision", "failing criteria"):
        t.add_column(col)
    for s in project.city.systems:
        hist = gatelog.read_history(r.state_path, s.id)
        if not hist:
            t.add_row(s.id, s.cutover.isoformat(), "not evaluated", "", "")
            continue
        h = hist[-1]
        st = h["status"] if h["phase"] != "before_gate" else f"(before gate: {h['status']})"
        failing = ", ".join(c["id"] for c in h["criteria"] if not c["passed"]) or "-"
        t.add_row(s.id, s.cutover.isoformat(), st, h["decision_id"] or "-", failing)
    return t


def readiness_summary() -> str:
    """The gate table and where the ICT office's pages, the workbooks and the exports are, as text."""
    from dagster_project.readiness.defs import CONFIG
    from dagster_project.resources import ReadinessResource

    table = readiness_table()
    if table is None:
        return "readiness      : not evaluated"
    lines = [_render(table),
             f"overview       : {default_var_dir() / 'reports' / 'readiness_overview.html'}",
             f"owner workbooks: {default_var_dir() / 'reports'}/<system>/<system>_移行確認.xlsx (and .html); "
             "decisions back: kikan decisions import FILE.xlsx, then kikan run",
             f"exports        : {ReadinessResource().exports_path}  (GO/CONDITIONAL systems; "
             f"export_on = {CONFIG.gate.export_on})"]
    return "\n".join(lines)


def extract_table(db: Path):
    """The extract summary per system (files, records, raw rows, quarantined, refused, open 外字):
    counts only, as a rich table."""
    from rich.table import Table

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
    t = Table(title="抽出 / extract", title_justify="left", show_footer=True)
    tot = [0, 0, 0, 0, 0, 0]
    body = []
    for system, files, records, raw, q, refused in rows:
        g = int(gaiji.get(system) or 0)
        vals = (files, records, raw, q, refused, g)
        body.append((system, *vals))
        tot = [a + int(b) for a, b in zip(tot, vals)]
    t.add_column("system", footer="total")
    for i, name in enumerate(("files", "records", "raw rows", "quarantined", "refused", "外字 open")):
        t.add_column(name, justify="right", footer=f"{tot[i]:,}")
    for system, *vals in body:
        t.add_row(system, *(f"{int(v):,}" for v in vals))
    return t


def summary(db: Path) -> str:
    return _render(extract_table(db))


def _render(table) -> str:
    """A rich table as text for the terminal (plain when stdout is not one)."""
    con = _console()
    with con.capture() as cap:
        con.print(table)
    return cap.get().rstrip("\n")


def space_ahead() -> bool:
    """Before a rehearsal: say first when the free space where it writes is below what it needs
    (an estimate: ``core/diskspace``). The run goes on; if the disk fills, that is said too."""
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


def _decisions_db(a) -> Path | None:
    """--db, else the default warehouse when there is one (the importer says when it checked nothing)."""
    if a.db is not None:
        if not a.db.exists():
            from dagster_project.reports.owner_import import ImportUserError

            raise ImportUserError(f"倉庫がありません: {a.db}")
        return a.db
    db = default_warehouse_path()
    return db if db.exists() else None


def _audit_dir() -> Path:
    """The readiness state folder, whose owners' audit log records every import."""
    from dagster_project.readiness.gatelog import default_state_dir

    return default_state_dir()


def cmd_demo(a) -> int:
    from dagster_project.simulate.city import generate_city

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
        ok = run_job(quiet=getattr(a, 'quiet', False))
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
    print(f"dagster home   : {dagster_home()}")
    print("asset graph    : python3.11 tasks.py dev  ->  http://127.0.0.1:3000")
    if not ok:
        print("the main job FAILED: see the messages above", file=sys.stderr)
        return 1
    return 0


def cmd_run(a) -> int:
    space_ahead()
    try:
        ok = run_job(a.system or None, quiet=a.quiet)
    except diskspace.DiskFull as full:
        return said_disk_full(full)
    if not a.quiet:
        if default_warehouse_path().exists():
            print(summary(default_warehouse_path()))
        print(readiness_summary())
    return 0 if ok else 1


def cmd_generate(a) -> int:
    from dagster_project.mapping.dbt_project import prepare

    project = prepare()
    print(f"dbt models generated under {project.project_dir}/models/generated and parsed ({project.manifest_path})")
    return 0


def cmd_gx_generate(a) -> int:
    from dagster_project.conformance.gx_suites import write_suites
    from dagster_project.spec.mapping import cached_mappings

    print(f"{write_suites(cached_mappings())} suite file(s) changed")
    return 0


def cmd_import_catalog(a) -> int:
    from dagster_project.spec.catalog_import import import_catalog_xlsx
    from dagster_project.spec.config import PROJECT_ROOT, cached_project

    out = a.out or PROJECT_ROOT / "seeds"
    counts = import_catalog_xlsx(cached_project(), a.xlsx, out)
    print(f"imported {counts['items']} items in {counts['tables']} tables and {counts['codes']} codes into {out}")
    return 0


def cmd_export_catalog(a) -> int:
    from dagster_project.spec.catalog_import import export_catalog_xlsx
    from dagster_project.spec.config import cached_project

    export_catalog_xlsx(cached_project(), a.xlsx)
    print(f"wrote {a.xlsx}")
    return 0


def cmd_export(a) -> int:
    """The vendor package of one system. 0: written; 1: the warehouse could not be read; 2: unknown
    system, no warehouse, or (without --preview) the latest gate decision does not release it."""
    import datetime as dt
    import uuid

    import duckdb

    from dagster_project.readiness.defs import CONFIG, mappings, project

    from dagster_project.resources import ReadinessResource
    from dagster_project.readiness.export import PREVIEW_JA, gate_release, prune, write_package
    from dagster_project.readiness.gatelog import LogCorrupted

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


def cmd_decisions_import(a) -> int:
    """0: every row taken; 1: some rows rejected (the others applied); 2: the file cannot be imported."""
    from dagster_project.spec.config import mappings_dir
    from dagster_project.reports.owner_import import ImportUserError, format_result, import_workbook

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
    from dagster_project.spec.config import mappings_dir
    from dagster_project.reports.owner_import import ImportUserError, format_result, import_inbox

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


# ---------------------------------------------------------------- the typer application

app = typer.Typer(
    name="kikan", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="基幹業務システム標準化の移行リハーサル（抽出・変換・検査・移行可否判定・出力）のコマンド。\n\n"
         "The command line of the migration rehearsal: extract, map, check, gate and export. "
         "Exit codes / 終了コード: 0 ok, 1 a failure (a step, a dbt model, an ERROR check), "
         "2 disk full or a mistake in the command (a message says what to fix).",
)
decisions_app = typer.Typer(
    no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
    help="所管課の決定: 記入済みの移行確認ブック（<system>_移行確認.xlsx）を取り込む。\n\n"
         "Owners' decisions: read filled workbooks back into mappings/.")
app.add_typer(decisions_app, name="decisions", short_help="所管課の決定の取り込み / import owners' decisions")

TodayOpt = Annotated[Optional[str], typer.Option(
    "--today", callback=parse_today, metavar="DATE",
    help=f"移行可否判定の基準日（既定: city.as_of、なければ今日）。書き方: {TODAY_FORMS} / "
         "the day the readiness gates judge (default: city.as_of, else the date)")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="進捗表示と要約を出さない（失敗は出す） / no progress display and no summary (failures still)")]


def _prepare(today: Optional[str]) -> None:
    """After the options were checked: the day the gates judge (ISO), dbt's telemetry off, var/."""
    if today:
        os.environ["KIKAN_TODAY"] = today
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    default_var_dir().mkdir(parents=True, exist_ok=True)


def _done(code: int) -> None:
    if code:
        raise typer.Exit(code)


def _user_errors(fn):
    """Configuration mistakes found while working (a file, a line, a field named): exit 2."""
    from dagster_project.spec.config import ConfigError

    try:
        return fn()
    except ConfigError as exc:
        _mistake(f"設定の誤り / configuration error: {exc}")


@app.command("demo", short_help="模擬の市で通しで実行 / simulate a city and run the main job", help="既定の市を模擬生成し（必要なら）メインジョブを実行して、結果の場所を示す。\n\n"
                          "Simulate the default city (if needed), run the main job on DuckDB, say where everything is.")
def demo_cmd(
    residents: Annotated[int, typer.Option(min=1, help="住民数 / residents of the simulated city")] = 20000,
    seed: Annotated[int, typer.Option(help="乱数の種 / random seed")] = 7,
    regenerate: Annotated[bool, typer.Option(help="あっても模擬生成し直す / simulate again even if present")] = False,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
) -> None:
    _prepare(today)
    _done(_user_errors(lambda: cmd_demo(SimpleNamespace(residents=residents, seed=seed, regenerate=regenerate,
                                                        quiet=quiet))))


@app.command("run", short_help="移行リハーサルを実行 / run a rehearsal (or --system X)", help="配置済みの現行データでメインジョブ（移行リハーサル）を実行する。--system で1システム分"
                         "（抽出・そのモデルと検査・判定・出力）だけ。実行は Dagster の UI（tasks.py dev）に残る。\n\n"
                         "Run the main job (a rehearsal) on the exports in place, or with --system one system's "
                         "share: its extract, models and checks, gate and export. Recorded in the persistent "
                         "Dagster instance (var/dagster_home), so it shows in the UI.")
def run_cmd(
    system: Annotated[Optional[list[str]], typer.Option(
        "--system", "-s", callback=check_systems, metavar="ID",
        help="このシステムだけ（繰り返し可、カンマ区切り可。ID は mappings/city.yaml） / only this system "
             "(repeatable or comma-separated; ids of mappings/city.yaml)")] = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
) -> None:
    _prepare(today)
    _done(_user_errors(lambda: cmd_run(SimpleNamespace(system=system, quiet=quiet))))


_PASS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command("simulate", short_help="模擬データの生成 / the legacy-city simulator", context_settings=_PASS, add_help_option=False,
             help="現行システムの模擬データ（市）を生成する（kikan simulate --help）。\n\n"
                  "The legacy-city simulator (kikan simulate --help).")
def simulate_cmd(ctx: typer.Context) -> None:
    from dagster_project.simulate.city import main as sim_main

    _done(sim_main(list(ctx.args)))


@app.command("spark", short_help="Spark での比較 / the models on local Spark", context_settings=_PASS, add_help_option=False,
             help="住民記録・税務のモデルをローカル Spark で作り DuckDB と比べる（kikan spark --help）。\n\n"
                  "The jumin and zeimu models on local Spark, compared with DuckDB (kikan spark --help).")
def spark_cmd(ctx: typer.Context) -> None:
    from dagster_project.spark import main as spark_main

    _run_dbt_tool(spark_main, ctx)


@app.command("bench", short_help="ベンチマーク / the designated-city benchmark", context_settings=_PASS, add_help_option=False,
             help="政令市規模のベンチマーク（kikan bench --help）。\n\n"
                  "The designated-city benchmark against the floor (kikan bench --help).")
def bench_cmd(ctx: typer.Context) -> None:
    from dagster_project.bench import main as bench_main

    _run_dbt_tool(bench_main, ctx)


def _run_dbt_tool(tool_main, ctx: typer.Context) -> None:
    """A command with its own parser that runs dbt (spark, bench): its arguments passed on as they are."""
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    _done(tool_main(list(ctx.args)))


@app.command("generate", short_help="dbt モデルの生成 / write the generated dbt models", help="mappings/ と seeds/ から dbt モデルを生成する。\n\n"
                              "Write the dbt models generated from mappings/ and seeds/.")
def generate_cmd() -> None:
    _prepare(None)
    _done(_user_errors(lambda: cmd_generate(None)))


@app.command("gx-generate", short_help="GX スイートの生成 / rewrite the GX suites", help="Great Expectations のスイート（expectations/suites/）を書き直す。\n\n"
                                 "Rewrite the Great Expectations suites in expectations/suites/.")
def gx_generate_cmd() -> None:
    _prepare(None)
    _done(_user_errors(lambda: cmd_gx_generate(None)))


@app.command("import-catalog", short_help="基本データリストの取り込み / read a catalog workbook", help="公式形式の基本データリスト（.xlsx）を seeds/ に読み込む。\n\n"
                                    "Read an official-style 基本データリスト (.xlsx) into seeds/.")
def import_catalog_cmd(
    xlsx: Annotated[Path, typer.Argument(callback=existing_file, help="基本データリスト（.xlsx） / the workbook")],
    out: Annotated[Optional[Path], typer.Option(help="書き出す seeds フォルダ（既定: seeds/） / seeds folder to write "
                                                     "(default: seeds/)")] = None,
) -> None:
    _prepare(None)
    _done(_user_errors(lambda: cmd_import_catalog(SimpleNamespace(xlsx=xlsx, out=out))))


@app.command("export-catalog", short_help="基本データリストの書き出し / write the catalog workbook", help="現在のカタログを基本データリスト形式の .xlsx に書き出す。\n\n"
                                    "Write the current catalog as a 基本データリスト-shaped .xlsx.")
def export_catalog_cmd(
    xlsx: Annotated[Path, typer.Argument(help="書き出すファイル（.xlsx） / the workbook to write")],
) -> None:
    _prepare(None)
    if not xlsx.parent.is_dir():
        _mistake(f"フォルダがありません: {xlsx.parent} / no such folder: {xlsx.parent}")
    _done(_user_errors(lambda: cmd_export_catalog(SimpleNamespace(xlsx=xlsx))))


@app.command("export", short_help="移行データ一式の書き出し / write a vendor package", help="移行事業者向けの移行データ一式（datapackage.json、CSV・Parquet、コード表、変換フラグ）を"
                            "書き出す。通常は最新の移行可否判定が出力を認めるとき（mappings/readiness.yaml の "
                            "export_on）だけ書き出し、認めないときは判定を示して終了コード 2。--preview は判定に"
                            "かかわらず参考パッケージ（フォルダ名と manifest に「参考」、LATEST は指さない）を書き出す。\n\n"
                            "Write a system's vendor package (Frictionless Data Package) when the latest gate "
                            "decision releases it (exit 2 naming the decision otherwise); --preview writes a package "
                            "for rehearsing the load, marked 参考 and never LATEST.")
def export_cmd(
    system: Annotated[str, typer.Argument(callback=check_system, metavar="SYSTEM",
                                          help="システム ID（mappings/city.yaml）例: jumin / system id, e.g. jumin")],
    preview: Annotated[bool, typer.Option(help="判定が出力を認めていないシステムの参考パッケージ / a 参考 package "
                                               "for a system the gate has not released")] = False,
    out: Annotated[Optional[Path], typer.Option(help="出力フォルダ（既定: KIKAN_EXPORTS_DIR、なければ var/exports） / "
                                                     "exports folder (default: KIKAN_EXPORTS_DIR, else var/exports)")] = None,
) -> None:
    _prepare(None)
    _done(_user_errors(lambda: cmd_export(SimpleNamespace(system=system, preview=preview, out=out))))


DbOpt = Annotated[Optional[Path], typer.Option(
    help="照合する倉庫（既定: var/warehouse.duckdb） / warehouse to check against (default: var/warehouse.duckdb)")]
DryOpt = Annotated[bool, typer.Option("--dry-run", help="確認して報告するだけで何も書かない / check and report, "
                                                        "write nothing")]


@decisions_app.command(
    "import", short_help="記入済みブック1冊の取り込み / import one filled workbook",
    help="所管課が記入した移行確認ブック（<system>_移行確認.xlsx）の決定を mappings/ に取り込む。決定の行ごとに確認し"
         "（選択肢、理由・決定者、2026/11/20・2026年11月20日・令和8年11月20日・R8.11.20 などの日付、倉庫にまだある"
         "差異・レコード）、誤りのある行はシート・行・列を示して却下し、正しい行は書き込む。次の kikan run で反映。"
         "終了コード: 0 すべて反映、1 却下あり、2 取り込めない。\n\n"
         "Read an owner's filled workbook: every decision row is checked; a bad row is rejected with its sheet, "
         "row and column, the good rows are written; the next `kikan run` applies them. Exit: 0 all taken, "
         "1 some rows rejected, 2 the file cannot be imported.")
def decisions_import_cmd(
    xlsx: Annotated[Path, typer.Argument(help="記入済みのブック（.xlsx） / the filled workbook (.xlsx)")],
    system: Annotated[Optional[str], typer.Option(help="ブックが対象とすべきシステム（既定: 表紙の記載） / the system "
                                                       "the workbook must be for (else its cover says)")] = None,
    dry_run: DryOpt = False,
    db: DbOpt = None,
) -> None:
    _prepare(None)
    _done(_user_errors(lambda: cmd_decisions_import(SimpleNamespace(xlsx=xlsx, system=system, dry_run=dry_run, db=db))))


@decisions_app.command(
    "import-inbox", short_help="受付フォルダのブックの取り込み / import every workbook of the inbox",
    help="受付フォルダの *.xlsx をすべて取り込み、DIR/done か DIR/rejected に移す。\n\n"
         "Import every *.xlsx of DIR (default var/inbox), then move it to DIR/done or DIR/rejected.")
def decisions_inbox_cmd(
    dir: Annotated[Optional[Path], typer.Argument(help="受付フォルダ（既定: var/inbox） / the inbox folder "
                                                       "(default: var/inbox)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="確認して報告するだけで書き込み・移動をしない / check "
                                                            "and report, write and move nothing")] = False,
    db: DbOpt = None,
) -> None:
    _prepare(None)
    _done(_user_errors(lambda: cmd_decisions_inbox(SimpleNamespace(dir=dir, dry_run=dry_run, db=db))))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit code (0 ok, 1 failure, 2 disk full or a mistake)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        app(args=argv, prog_name="kikan")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
