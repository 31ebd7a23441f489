"""Generate a synthetic legacy city: every current system's export files, plus the truth.

    python -m dagster_project.simulate --residents 20000 --seed 7 --out var/legacy

Deterministic: the same residents, seed, as-of date and defect scale give the same bytes.
Writes ``<out>/<system>/<file>`` per ``mappings/<system>/layout.yaml`` and
``<out>/_truth/manifest.json`` (for tests only: the planted defects and the 外字 emitted).
Any system of ``mappings/city.yaml`` is rendered from the tables its layout hosts (set
KIKAN_MAPPINGS_DIR to simulate another configuration, e.g. one with a business split out).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path


from dagster_project.spec.config import Project, load_project
from dagster_project.simulate.businesses import Ctx, system_frames
from dagster_project.simulate.defects import DEFECT_COL, Planter, expand_targets, load_spec, plant_bytes, plant_logical, plant_population
from dagster_project.simulate.population import build_population
from dagster_project.simulate.render import Encoder, render_file, system_gaiji, vendor_gaiji_table_rows

DEFAULT_AS_OF = dt.date(2026, 10, 1)
TRUTH_DIR = "_truth"


def generate_city(
    out: Path,
    residents: int,
    seed: int,
    as_of: dt.date = DEFAULT_AS_OF,
    defect_scale: float = 1.0,
    project: Project | None = None,
    systems: list[str] | None = None,
    log=print,
) -> dict:
    project = project or load_project()
    t0 = time.perf_counter()
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)

    wanted = systems or [s.id for s in project.city.systems]
    planter = Planter(seed=seed, scale=defect_scale, spec=expand_targets(load_spec(), project, wanted))
    pop = build_population(residents, seed, as_of, tuple(project.city.city.juminhyo_weights))
    plant_population(pop, planter)
    ctx = Ctx(pop, seed)
    frames = system_frames(ctx, project, wanted)
    plant_logical(frames, {k: project.layouts[k] for k in wanted}, pop, planter,
                  {k: system_gaiji(k, project) for k in wanted})
    log(f"population and business data built in {time.perf_counter() - t0:.1f}s")

    manifest: dict = {
        "seed": seed, "residents": int(pop.persons["resident"].sum()), "as_of": as_of.isoformat(),
        "defect_scale": defect_scale, "systems": {}, "gaiji": [],
    }
    for sid in wanted:
        layout = project.layouts[sid]
        enc = Encoder(sid, project)
        sys_dir = tmp / sid
        sys_dir.mkdir()
        manifest["systems"][sid] = {}
        for lf in layout.files:
            frame = frames[sid][lf.table]
            data = render_file(frame.drop(DEFECT_COL), layout, lf, enc)
            eol = b"\r\n" if lf.line_ending == "crlf" else b"\n"
            data = plant_bytes(sid, lf.table, data, layout, frame, lf.header, planter, eol)
            (sys_dir / lf.file).write_bytes(data)
            manifest["systems"][sid][lf.table] = {
                "file": lf.file, "records": frame.height, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            for f in lf.fields:
                if f.type in ("text", "kana", "alpha"):
                    for (code, knows), n in enc.count_gaiji(frame[f.name]).items():
                        manifest["gaiji"].append({"system": sid, "table": lf.table, "field": f.name,
                                                  "code": code, "knows": knows, "occurrences": n})
        log(f"  {sid:9s} {sum(v['records'] for v in manifest['systems'][sid].values()):>9,} records")

    header_of = {(sid, lf.table): lf.header for sid in wanted for lf in project.layouts[sid].files}
    defects = []
    for rec in planter.records:
        rec = dict(rec)
        if rec["row"] is not None:
            rec["record_no"] = rec["row"] + 1 + (1 if header_of[(rec["system"], rec["table"])] else 0)
        defects.append(rec)
    manifest["defects"] = defects
    manifest["defect_counts"] = {}
    for rec in defects:
        key = f"{rec['system']}.{rec['table']}"
        manifest["defect_counts"].setdefault(rec["class"], {}).setdefault(key, 0)
        manifest["defect_counts"][rec["class"]][key] += 1
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    (tmp / TRUTH_DIR).mkdir()
    (tmp / TRUTH_DIR / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return manifest


def write_vendor_tables(project_root: Path) -> None:
    """(Re)write ``mappings/<system>/gaiji.csv`` from the synthetic vendors' 外字 assignments."""
    project = load_project(project_root)
    for s in project.city.systems:
        path = project_root / s.id / "gaiji.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["code", "juki_code", "koseki_no", "ucs", "description"],
                               lineterminator="\n")
            w.writeheader()
            w.writerows(vendor_gaiji_table_rows(s.id, project))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dagster_project.simulate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("var/legacy"))
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=DEFAULT_AS_OF,
                    help="the export date of the legacy systems (default %(default)s)")
    ap.add_argument("--defect-scale", type=float, default=1.0,
                    help="multiply every planted defect rate (0 plants none)")
    ap.add_argument("--write-vendor-tables", action="store_true",
                    help="rewrite mappings/<system>/gaiji.csv from the simulator's vendors and exit")
    a = ap.parse_args(argv)
    if a.write_vendor_tables:
        from dagster_project.spec.config import mappings_dir
        write_vendor_tables(mappings_dir())
        return 0
    t = time.perf_counter()
    m = generate_city(a.out, a.residents, a.seed, a.as_of, a.defect_scale)
    rows = sum(v["records"] for s in m["systems"].values() for v in s.values())
    print(f"city of {m['residents']:,} residents: {rows:,} records in "
          f"{sum(len(s) for s in m['systems'].values())} files under {a.out} "
          f"({time.perf_counter() - t:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
