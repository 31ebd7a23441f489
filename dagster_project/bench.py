"""``kikan bench``: the whole pipeline on a designated-city-sized synthetic city, against the floor.

For each size asked (``--residents 100000 400000 817000``):

1. the city is simulated once into ``var/bench/city-<N>-s<seed>/`` and reused after that;
2. the main job runs in process on a fresh warehouse under ``var/bench/run-<N>/``, exactly as
   ``kikan run`` does, while a sampler reads the resident memory of this process and all its
   children (dbt, the Great Expectations child) every 0.2 s;
3. every system's export package is then written by the benchmark itself
   (``export.write_package``): the synthetic city is dirty on purpose, its gates say NO-GO and
   block the export steps, and a benchmark that skipped the writing of 13 packages would flatter;
4. the **floor** is measured in the same run, on the same disk: DuckDB reading every legacy byte
   once (``read_blob``), and writing every output byte once (``COPY FROM DATABASE`` of the
   finished warehouse into a new file, and every standard table to CSV and Parquet as the
   export does). Stage times are reported as ratios to that floor because machines are noisy.

Stages come from the Dagster step timings (extract, the one dbt step, the GX check, reports,
gates); the dbt step is split into its layers (staging, standard, gaps, conformance,
readiness) by the node timings in dbt's ``run_results.json``: the time between the first and
the last node is shared out in proportion to each layer's busy time, and what precedes the
first node (start-up, parse) is its own line. The table is printed and written as JSON
(``var/bench/bench-<N>.json``); nothing in it comes from the data but counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from dagster_project.core.names import LAYER_PREFIXES
from dagster_project.core.warehouse import default_var_dir

PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- memory of the process tree
def process_tree(root_pid: int) -> dict[int, int]:
    """``root_pid`` and every process below it, from /proc: pid -> resident bytes."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as fh:
                stat = fh.read()
            with open(f"/proc/{d}/statm", "rb") as fh:
                pages = int(fh.read().split()[1])
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        parents[int(d)] = int(fields[1])
        rss[int(d)] = pages * PAGE
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, int] = {}
    todo = [root_pid]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out[p] = rss.get(p, 0)
        todo += children.get(p, [])
    return out


def _tree_rss(root_pid: int) -> int:
    """Resident bytes of ``root_pid`` and every process below it."""
    return sum(process_tree(root_pid).values())


class MemorySampler:
    """Samples (time, bytes) of the process tree in a thread; ``peak(t0, t1)`` over a window;
    ``peak_self`` the same for this process alone (what the tree holds beyond it is the children's:
    dbt, the GX child)."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.self_samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pid = os.getpid()
        while not self._stop.is_set():
            t = time.time()
            self.samples.append((t, _tree_rss(pid)))
            self.self_samples.append((t, _self_rss()))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self, t0: float = 0.0, t1: float = float("inf")) -> int:
        return max((b for t, b in self.samples if t0 <= t <= t1), default=0)

    def peak_self(self, t0: float = 0.0, t1: float = float("inf")) -> int:
        return max((b for t, b in self.self_samples if t0 <= t <= t1), default=0)


# ---------------------------------------------------------------- the city, cached by size and seed
def ensure_city(residents: int, seed: int, root: Path) -> tuple[Path, float]:
    """The simulated city for (residents, seed): generated once, then reused. Returns (dir, seconds)."""
    from dagster_project.simulate.city import generate_city

    city = root / f"city-{residents}-s{seed}"
    manifest = city / "_truth" / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        if m.get("seed") == seed:
            return city, 0.0
    t0 = time.perf_counter()
    shutil.rmtree(city, ignore_errors=True)
    generate_city(city, residents, seed, log=lambda s: print("  " + s, flush=True))
    return city, time.perf_counter() - t0


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


# ---------------------------------------------------------------- the floor
def measure_floor(legacy: Path, warehouse: Path, scratch: Path) -> dict:
    """DuckDB reading every legacy byte once and writing every output byte once, here and now."""
    import duckdb

    from dagster_project.mapping.dbtgen import std_name
    from dagster_project.readiness.export import _select
    from dagster_project.spec.mapping import cached_mappings

    scratch.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p) for p in legacy.rglob("*") if p.is_file() and "_truth" not in p.parts)
    con = duckdb.connect()
    t0 = time.perf_counter()
    n_files, read_bytes = con.execute("select count(*), sum(octet_length(content)) from read_blob(?)",
                                      [files]).fetchone()
    t_read = time.perf_counter() - t0
    copy_db = scratch / "floor.duckdb"
    copy_db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    con.execute(f"attach '{warehouse}' as wh (read_only)")
    con.execute(f"attach '{copy_db}' as fl")
    con.execute("copy from database wh to fl")
    con.execute("detach fl")
    t_write_wh = time.perf_counter() - t0
    wh_bytes = copy_db.stat().st_size
    t0 = time.perf_counter()
    export_bytes = 0
    for t in cached_mappings().tables:
        cols, _ = _select(t)
        sql = f'select {cols} from wh.standard."{std_name(t)}"'
        for fmt, ext in (("format csv, header true", "csv"), ("format parquet, compression zstd", "parquet")):
            out = scratch / f"{std_name(t)}.{ext}"
            con.execute(f"copy ({sql}) to '{out}' ({fmt})")
            export_bytes += out.stat().st_size
    t_write_exp = time.perf_counter() - t0
    con.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return {"read_s": t_read, "write_warehouse_s": t_write_wh, "write_exports_s": t_write_exp,
            "seconds": t_read + t_write_wh + t_write_exp, "legacy_files": int(n_files),
            "legacy_bytes": int(read_bytes), "warehouse_bytes": wh_bytes, "export_bytes": export_bytes}


# ---------------------------------------------------------------- stages
def _stage_of_step(step: str) -> str | None:
    if step.startswith("extract_") or step == "reference_characters":
        return "extract"
    if step == "mapping_stage":
        return "dbt"
    if step == "gx_conformance":
        return "GX validation"
    if step.startswith("reports__"):
        return "reports"
    if step.startswith("readiness__"):
        return "readiness"
    if step.startswith("exports__"):
        return "exports"
    return None


# the layers of the asset graph, but the intermediate models counted with the standard layer they feed
DBT_LAYERS = {**LAYER_PREFIXES, "int_": "standard"}


def _layer_of_node(result: dict) -> str:
    uid = result["unique_id"]
    kind, name = uid.split(".")[0], uid.split(".")[2]
    if kind == "seed":
        return "reference"
    if kind == "test":
        # a data test belongs to the layer of the model it tests (its name carries the model's)
        for prefix, layer in DBT_LAYERS.items():
            if prefix in name:
                return layer
        return "dbt tests"
    return next((layer for prefix, layer in DBT_LAYERS.items() if name.startswith(prefix)), "dbt other")


def _ts(s: str) -> float:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def split_dbt(run_results: dict, step_start: float, step_end: float) -> dict[str, float]:
    """The dbt step's wall time shared out over layers (see the module docstring)."""
    busy: dict[str, float] = {}
    first, last = step_end, step_start
    for r in run_results["results"]:
        layer = _layer_of_node(r)
        busy[layer] = busy.get(layer, 0.0) + float(r.get("execution_time") or 0.0)
        for tm in r.get("timing", []):
            if tm.get("started_at") and tm.get("completed_at"):
                first = min(first, _ts(tm["started_at"]))
                last = max(last, _ts(tm["completed_at"]))
    span = max(0.0, last - first)
    total_busy = sum(busy.values()) or 1.0
    out = {f"dbt {k}" if k in ("reference",) else k: span * v / total_busy for k, v in busy.items()}
    out["dbt start-up and parse"] = max(0.0, first - step_start)
    out["dbt events to Dagster"] = max(0.0, step_end - last)
    return out


def _latest_run_results(after: float) -> dict:
    from dagster_project.spec.config import PROJECT_ROOT

    found = [p for p in (PROJECT_ROOT / "dbt" / "target").glob("*/run_results.json") if p.stat().st_mtime >= after]
    if not found:
        raise RuntimeError("dbt wrote no run_results.json during the run")
    return json.loads(max(found, key=lambda p: p.stat().st_mtime).read_text(encoding="utf-8"))


def _counts(db: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        records = con.execute("select sum(records_in_file) from meta.extract_files").fetchone()[0]
        rows = dict(con.execute("select schema_name, sum(estimated_size) from duckdb_tables() group by 1").fetchall())
        # the characters the charset models examine: every text column of the intermediate tables
        cols = con.execute("""select table_name, column_name from duckdb_columns()
                              where schema_name = 'intermediate' and data_type = 'VARCHAR'
                                and column_name not like '\\_%' escape '\\'""").fetchall()
        chars = 0
        for table, col in cols:
            chars += con.execute(f'select coalesce(sum(length("{col}")), 0) from intermediate."{table}"').fetchone()[0]
    finally:
        con.close()
    return {"legacy_records": int(records or 0), "rows": {k: int(v or 0) for k, v in rows.items()},
            "charset_chars": int(chars)}


def _prepare_run(residents: int, seed: int, root: Path, kind: str) -> tuple[Path, float, Path]:
    """The cached city and a fresh run folder, with the environment pointing at both."""
    city, sim_s = ensure_city(residents, seed, root)
    run_dir = root / f"{kind}-{residents}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    os.environ.update({"KIKAN_LEGACY_DIR": str(city), "KIKAN_VAR_DIR": str(run_dir),
                       "KIKAN_WAREHOUSE": str(run_dir / "warehouse.duckdb")})
    for k in ("KIKAN_REPORTS_DIR", "KIKAN_READINESS_DIR", "KIKAN_EXPORTS_DIR"):
        os.environ.pop(k, None)
    return city, sim_s, run_dir


ORDER = ["extract", "dbt start-up and parse", "dbt reference", "staging", "standard", "findings", "gaps", "conformance",
         "GX validation", "readiness", "reports", "exports", "dbt tests", "dbt other", "dbt events to Dagster", "overview"]


def bench_one(residents: int, seed: int, root: Path) -> dict:
    import dagster as dg

    from dagster_project.readiness import export
    from dagster_project.spec.config import cached_project
    from dagster_project.mapping.dbtgen import std_name
    from dagster_project.spec.mapping import cached_mappings

    city, sim_s, run_dir = _prepare_run(residents, seed, root, "run")
    from dagster_project.runner import run_job

    instance = dg.DagsterInstance.ephemeral()
    with MemorySampler() as mem:
        t_start = time.time()
        run_job(instance=instance, quiet=True)
        t_job = time.time()
        # the packages the dirty city's gates blocked: written here so the stage is measured
        exp_root = run_dir / "bench-exports"
        by_system: dict[str, list] = {}
        for t in cached_mappings().tables:
            by_system.setdefault(t.system, []).append(t)
        for s in cached_project().city.systems:
            export.write_package(run_dir / "warehouse.duckdb", s.id, by_system.get(s.id, []), exp_root,
                                 "BENCH", {"status": "bench"})
        t_end = time.time()
    runs = instance.get_runs()
    main_run = next(r for r in runs if r.job_name == "migration")
    stats = instance.get_run_step_stats(main_run.run_id)
    stages: dict[str, float] = {}
    peaks: dict[str, int] = {}
    peaks_self: dict[str, int] = {}   # this process alone; the rest of the tree's peak is dbt's or GX's
    dbt_window = None
    for s in stats:
        stage = _stage_of_step(s.step_key)
        if stage is None or s.start_time is None or s.end_time is None:
            continue
        if stage == "exports":   # blocked steps: their time is the gate check, counted with readiness
            stage = "readiness"
        if stage == "dbt":
            dbt_window = (s.start_time, s.end_time)
            continue
        stages[stage] = stages.get(stage, 0.0) + (s.end_time - s.start_time)
        peaks[stage] = max(peaks.get(stage, 0), mem.peak(s.start_time, s.end_time))
        peaks_self[stage] = max(peaks_self.get(stage, 0), mem.peak_self(s.start_time, s.end_time))
    charset_busy = None
    if dbt_window:
        dbt_peak, dbt_peak_self = mem.peak(*dbt_window), mem.peak_self(*dbt_window)
        rr = _latest_run_results(t_start)
        charset_busy = sum(float(r.get("execution_time") or 0) for r in rr["results"]
                           if r["unique_id"].startswith("model.") and r["unique_id"].endswith("__chars"))
        for layer, secs in split_dbt(rr, *dbt_window).items():
            stages[layer] = stages.get(layer, 0.0) + secs
            peaks[layer] = max(peaks.get(layer, 0), dbt_peak)
            peaks_self[layer] = max(peaks_self.get(layer, 0), dbt_peak_self)
    stages["exports"] = t_end - t_job
    peaks["exports"] = mem.peak(t_job, t_end)
    peaks_self["exports"] = mem.peak_self(t_job, t_end)
    overview_run = next((r for r in runs if r.job_name == "readiness_overview"), None)
    if overview_run:
        ov = [s for s in instance.get_run_step_stats(overview_run.run_id) if s.end_time and s.start_time]
        stages["overview"] = sum(s.end_time - s.start_time for s in ov)
        peaks["overview"] = max((mem.peak(s.start_time, s.end_time) for s in ov), default=0)
        peaks_self["overview"] = max((mem.peak_self(s.start_time, s.end_time) for s in ov), default=0)
    whole = t_end - t_start
    gx_child = _gx_child(instance, main_run.run_id)
    counts = _counts(run_dir / "warehouse.duckdb")
    floor = measure_floor(city, run_dir / "warehouse.duckdb", run_dir / "floor")
    out_bytes = (_dir_bytes(run_dir) - _dir_bytes(run_dir / "legacy"))
    rows = []
    for name in sorted(stages, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER)):
        secs = stages[name]
        rows.append({"stage": name, "seconds": round(secs, 2), "ratio_to_floor": round(secs / floor["seconds"], 2),
                     "records_per_s": round(counts["legacy_records"] / secs) if secs > 0.05 else None,
                     "peak_rss_mib": round(peaks.get(name, 0) / 2**20),
                     "peak_self_rss_mib": round(peaks_self.get(name, 0) / 2**20)})
    other = whole - sum(stages.values())
    rows.append({"stage": "Dagster and between steps", "seconds": round(other, 2),
                 "ratio_to_floor": round(other / floor["seconds"], 2), "records_per_s": None, "peak_rss_mib": None})
    charset_s = charset_busy
    report = {
        "residents": residents, "seed": seed, "simulate_s": round(sim_s, 1),
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "mem_gib": round(os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30, 1)},
        "legacy_records": counts["legacy_records"], "rows_by_schema": counts["rows"],
        "floor": {k: round(v, 2) if isinstance(v, float) else v for k, v in floor.items()},
        "output_bytes": out_bytes,
        "stages": rows,
        "whole": {"seconds": round(whole, 1), "ratio_to_floor": round(whole / floor["seconds"], 2),
                  "peak_rss_mib": round(mem.peak() / 2**20),
                  "records_per_s": round(counts["legacy_records"] / whole)},
        "charset": {"chars": counts["charset_chars"],
                    "seconds": round(charset_s, 2) if charset_s else None,
                    "chars_per_s": round(counts["charset_chars"] / charset_s)
                    if counts["charset_chars"] and charset_s else None},
        "tables": len([std_name(t) for t in cached_mappings().tables]),
        "gx_child": gx_child,
    }
    return report


def _gx_child(instance, run_id: str) -> dict | None:
    """The GX step's own account (conformance.defs): whether its child started when dbt finished,
    how long the child took and how long the step waited for it. The step's time in the table is
    the wait; the child's time ran beside the reports and gates."""
    import dagster as dg

    for rec in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
        d = rec.event_log_entry.dagster_event.event_specific_data
        if d.check_name == "gx_conformance" and "started_ahead" in d.metadata:
            return {k: d.metadata[k].value for k in ("started_ahead", "validation_s", "waited_s") if k in d.metadata}
    return None


def format_table(r: dict) -> str:
    f = r["floor"]
    lines = [f"== {r['residents']:,} residents (seed {r['seed']}): {r['legacy_records']:,} legacy records, "
             f"{f['legacy_bytes'] / 2**20:,.0f} MiB in {f['legacy_files']} files",
             f"floor {f['seconds']:.1f} s = read {f['read_s']:.1f} s + write warehouse {f['write_warehouse_s']:.1f} s "
             f"({f['warehouse_bytes'] / 2**20:,.0f} MiB) + write exports {f['write_exports_s']:.1f} s "
             f"({f['export_bytes'] / 2**20:,.0f} MiB)",
             f"{'stage':28s} {'seconds':>8s} {'x floor':>8s} {'records/s':>11s} {'peak MiB':>9s}"]
    for s in r["stages"]:
        rps = f"{s['records_per_s']:,}" if s["records_per_s"] else "-"
        pk = f"{s['peak_rss_mib']:,}" if s["peak_rss_mib"] else "-"
        lines.append(f"{s['stage']:28s} {s['seconds']:8.1f} {s['ratio_to_floor']:8.2f} {rps:>11s} {pk:>9s}")
    w = r["whole"]
    lines.append(f"{'whole pipeline':28s} {w['seconds']:8.1f} {w['ratio_to_floor']:8.2f} "
                 f"{w['records_per_s']:>11,} {w['peak_rss_mib']:>9,}")
    c = r["charset"]
    if c["chars"]:
        lines.append(f"character-set validation: {c['chars']:,} characters in {c['seconds']:.1f} s of the "
                     f"conf_*__chars models = {c['chars_per_s']:,} chars/s")
    g = r.get("gx_child")
    if g and g.get("started_ahead"):
        lines.append(f"GX validation beside the steps after dbt: {g.get('validation_s') or 0:.1f} s in its child, "
                     f"of which the GX step waited {g.get('waited_s') or 0:.1f} s (the line above)")
    return "\n".join(lines)


def growth(reports: list[dict]) -> str:
    if len(reports) < 2:
        return ""
    base = reports[0]
    lines = ["", "cost growth against the smallest size (1.00 = linear):",
             f"{'residents':>10s} {'x size':>7s} {'x time':>7s} {'x memory':>9s} {'time/linear':>12s}"]
    for r in reports:
        k = r["residents"] / base["residents"]
        kt = r["whole"]["seconds"] / base["whole"]["seconds"]
        km = r["whole"]["peak_rss_mib"] / max(1, base["whole"]["peak_rss_mib"])
        lines.append(f"{r['residents']:>10,} {k:7.2f} {kt:7.2f} {km:9.2f} {kt / k:12.2f}")
    return "\n".join(lines)


def _self_rss() -> int:
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[1]) * PAGE


def _rss_by_mapping() -> dict[str, int]:
    """This process's resident bytes per kind of mapping (/proc/self/smaps): the heap, anonymous
    memory (other allocators' arenas, thread stacks), and each mapped file by name. Where a growth
    between rehearsals lives says whose it is."""
    out: dict[str, int] = {}
    name = "[anon]"
    try:
        with open("/proc/self/smaps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                head = line.split(None, 5)
                if head and "-" in head[0] and len(head) >= 5 and ":" in head[3]:
                    name = head[5].strip() if len(head) > 5 and head[5].strip() else "[anon]"
                    if name.startswith("/"):
                        name = Path(name).name
                elif line.startswith("Rss:"):
                    out[name] = out.get(name, 0) + int(line.split()[1]) * 1024
    except OSError:
        return {}
    return out


def rehearsals(residents: int, seed: int, root: Path, n: int, ephemeral: bool = False) -> dict:
    """``n`` rehearsals of the whole pipeline in a row, in this one process, on one warehouse (as
    the daily schedule does, but without a fresh process per run, which is the harder case for
    memory): per run its wall time, the peak of the process tree and what this process still
    holds after it. Growth between runs is what a leak would show. The runs go into a persistent
    instance (SQLite, under the run folder's dagster_home), as ``kikan run``'s do, so its storage
    is part of what is measured; ``ephemeral`` keeps them in memory instead."""
    import gc

    from dagster_project.core.memory import malloc_trim

    city, _, run_dir = _prepare_run(residents, seed, root, "rehearsals")
    from dagster_project.runner import _instance, run_job

    os.environ["DAGSTER_HOME"] = str(run_dir / "dagster_home")
    instance = _instance(ephemeral=ephemeral)
    runs = []
    with MemorySampler() as mem:
        for i in range(n):
            t0 = time.time()
            ok = run_job(instance=instance, quiet=True)
            t1 = time.time()
            gc.collect()
            # what a leak would show (live Python objects, and the memory still held once the C
            # allocator has handed its free pages back) beside what the process merely retains
            held = _self_rss()
            objects = len(gc.get_objects())
            trimmed = _self_rss() if malloc_trim() else None
            maps = _rss_by_mapping()
            # the processes kept between runs (the side worker that writes the workbooks): theirs too
            kept = sum(v for pid, v in process_tree(os.getpid()).items() if pid != os.getpid())
            runs.append({"rehearsal": i + 1, "ok": ok, "seconds": round(t1 - t0, 1),
                         "peak_tree_mib": round(mem.peak(t0, t1) / 2**20),
                         "after_run_self_mib": round(held / 2**20),
                         "after_run_children_mib": round(kept / 2**20),
                         "after_trim_self_mib": None if trimmed is None else round(trimmed / 2**20),
                         "python_objects": objects,
                         "rss_by_mapping_mib": {k: round(v / 2**20) for k, v in
                                                sorted(maps.items(), key=lambda kv: -kv[1])[:8]}})
            print(f"rehearsal {i + 1}/{n}: {runs[-1]['seconds']} s, peak {runs[-1]['peak_tree_mib']:,} MiB, "
                  f"this process holds {runs[-1]['after_run_self_mib']:,} MiB after it"
                  + ("" if trimmed is None else f", {runs[-1]['after_trim_self_mib']:,} MiB once malloc_trim "
                     "has returned the allocator's free pages")
                  + f"; its children kept between runs hold {runs[-1]['after_run_children_mib']:,} MiB"
                  + f"; {objects:,} Python objects; resident by mapping (MiB): "
                  + ", ".join(f"{k} {v:,}" for k, v in runs[-1]["rss_by_mapping_mib"].items()), flush=True)
    return {"residents": residents, "seed": seed, "instance": "ephemeral" if ephemeral else "persistent", "runs": runs}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--catalog-scale" in argv:
        # the catalog-scale benchmark (issue 15): synthetic catalogs of growing size, its own options
        from dagster_project.bench_catalog import main as catalog_main

        return catalog_main(argv)
    ap = argparse.ArgumentParser(prog="kikan bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog-scale", action="store_true",
                    help="instead: how config, generation, dbt parse, the definitions and dbt build grow with the "
                         "size of the standard catalog (kikan bench --catalog-scale --help)")
    ap.add_argument("--residents", type=int, nargs="+", default=[817000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="bench folder (default var/bench)")
    ap.add_argument("--rehearsals", type=int, default=0,
                    help="instead of the stage table: this many whole rehearsals in a row, memory per run")
    ap.add_argument("--ephemeral-instance", action="store_true",
                    help="with --rehearsals: keep the runs in an in-memory Dagster instance, not a persistent one")
    a = ap.parse_args(argv)
    root = (a.out or default_var_dir() / "bench").resolve()   # the run points KIKAN_* at it; dbt runs elsewhere
    root.mkdir(parents=True, exist_ok=True)
    if a.rehearsals:
        for n in a.residents:
            r = rehearsals(n, a.seed, root, a.rehearsals, a.ephemeral_instance)
            (root / f"rehearsals-{n}.json").write_text(json.dumps(r, indent=1), encoding="utf-8")
        return 0
    reports = []
    for n in a.residents:
        r = bench_one(n, a.seed, root)
        (root / f"bench-{n}.json").write_text(json.dumps(r, ensure_ascii=False, indent=1), encoding="utf-8")
        print(format_table(r), flush=True)
        reports.append(r)
    print(growth(reports))
    (root / "bench.json").write_text(json.dumps(reports, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0
