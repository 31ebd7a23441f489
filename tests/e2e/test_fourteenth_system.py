"""A 14th current system is a data change (issue 12).

印鑑登録 is split out of 住民記録 (``jumin``) into a system of its own, 印鑑登録システム
(``inkan``), by editing a copy of ``mappings/`` with YAML and CSV tools only. The simulator renders
the split city from the layouts (its tables and planted defects follow the table, its 外字 the
vendor), and the real command line (``kikan run``, then ``kikan export --preview``) runs the whole
pipeline on it in child processes, every output moved into a tmp folder by the ``KIKAN_*``
variables (the repository's ``dbt/``, ``var/`` and ``mappings/`` are never written).

Files the split touches (all data, no ``.py``; :data:`TOUCHED`, checked by the first test):

- ``mappings/city.yaml``: 住民記録 hosts 住民基本台帳 only; a new system ``inkan`` (name,
  businesses ``[inkan]``, vendor, owner 所管課 and its ``owner_team``, track, cutover 2027-01-05);
- ``mappings/jumin/layout.yaml``: the file ``INKAN_TOROKU.CSV`` and its code list ``inkan_jotai`` out;
- ``mappings/jumin/mapping.yaml``: the standard table ``inkan.inkan`` and its codemap out;
- ``mappings/inkan/layout.yaml`` (new): that file and code list, with 住民記録's date sentinels;
- ``mappings/inkan/mapping.yaml`` (new): ``inkan.inkan`` and its codemap;
- ``mappings/inkan/gaiji.csv`` (new): the vendor's 外字 table (the same vendor as 住民記録);
- ``mappings/inkan/gap_decisions.yaml`` (new): the owner's decisions on the moved gaps (住民記録's
  decisions about 印鑑登録's tables move with them; the default city has none).

Left as they are: ``mappings/references.yaml`` and ``mappings/readiness.yaml`` (they name standard
tables and criteria, not systems), ``mappings/gaiji/decisions.csv`` (its rows are 外字 of
住民記録's own files), ``seeds/`` (the standard), and the simulator's data (its targets are
logical tables, its 外字 are the vendor's).

``kikan run`` generates the split's dbt models into its own copy of the project
(``KIKAN_DBT_DIR``, seeds beside it), so the repository's committed models are never touched; the
last test checks that.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW, BUSINESS = "jumin", "inkan", "inkan"
NEW_SYSTEM = {
    "id": NEW, "name": "印鑑登録システム", "businesses": [BUSINESS], "vendor": "株式会社あおば情報システム",
    "owner": "市民人権局 市民生活部 印鑑登録課", "owner_team": "inkan_toroku", "track": "on_schedule",
    "cutover": dt.date(2027, 1, 5),
}
TODAY = "2026-12-07"            # past the new system's gate date (cutover - 30 days): a decision is recorded
RESIDENTS, SEED = 2000, 14
TOUCHED = {
    "city.yaml", f"{OLD}/layout.yaml", f"{OLD}/mapping.yaml",
    f"{NEW}/layout.yaml", f"{NEW}/mapping.yaml", f"{NEW}/gaiji.csv", f"{NEW}/gap_decisions.yaml",
}
# planted class -> the findings ledger's rule that must list the record
RULE_OF = {"duplicate_key": "duplicate_key", "orphan_reference": "orphan_reference"}


# ---------------------------------------------------------------- the split, as data

def _load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dump(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")


def split_business(root: Path) -> set[str]:
    """Move business ``BUSINESS`` out of system ``OLD`` of the configuration under ``root`` into the
    new system ``NEW_SYSTEM``: its standard tables' mappings, their legacy files, the code lists and
    codemaps only they use, the owner's decisions on their gaps, a copy of the vendor's 外字 table.
    Returns the files written (relative to ``root``)."""
    touched: set[str] = set()

    city = _load(root / "city.yaml")
    old = next(s for s in city["systems"] if s["id"] == OLD)
    old["businesses"] = [b for b in old["businesses"] if b != BUSINESS]
    city["systems"].insert(city["systems"].index(old) + 1, dict(NEW_SYSTEM))
    _dump(root / "city.yaml", city)
    touched.add("city.yaml")

    mapping = _load(root / OLD / "mapping.yaml")
    moved = {ref: t for ref, t in mapping["tables"].items() if ref.split(".")[0] == BUSINESS}
    mapping["tables"] = {ref: t for ref, t in mapping["tables"].items() if ref not in moved}
    sources = {t["source"] for t in moved.values()}

    def codemaps_of(tables) -> set[str]:
        return {i["codemap"] for t in tables for i in t["items"].values() if isinstance(i, dict) and i.get("codemap")}

    cm_moved = codemaps_of(moved.values())
    cm_kept = codemaps_of(mapping["tables"].values())
    new_mapping = {"system": NEW, "tables": moved,
                   "codemaps": {k: v for k, v in mapping["codemaps"].items() if k in cm_moved}}
    mapping["codemaps"] = {k: v for k, v in mapping["codemaps"].items() if k not in cm_moved or k in cm_kept}
    _dump(root / OLD / "mapping.yaml", mapping)
    _dump(root / NEW / "mapping.yaml", new_mapping)
    touched |= {f"{OLD}/mapping.yaml", f"{NEW}/mapping.yaml"}

    layout = _load(root / OLD / "layout.yaml")
    files = [f for f in layout["files"] if f["table"] in sources]
    layout["files"] = [f for f in layout["files"] if f["table"] not in sources]
    codes_moved = {fld["codes"] for f in files for fld in f["fields"] if fld.get("codes")}
    codes_kept = {fld["codes"] for f in layout["files"] for fld in f["fields"] if fld.get("codes")}
    new_layout = {k: v for k, v in layout.items() if k not in ("files", "codes")}
    new_layout.update(system=NEW, files=files, codes={k: v for k, v in layout["codes"].items() if k in codes_moved})
    layout["codes"] = {k: v for k, v in layout["codes"].items() if k not in codes_moved or k in codes_kept}
    _dump(root / OLD / "layout.yaml", layout)
    _dump(root / NEW / "layout.yaml", new_layout)
    touched |= {f"{OLD}/layout.yaml", f"{NEW}/layout.yaml"}

    # a gap id is "<system>:<legacy table>.<field>:…" or "<system>:<standard table>.<item>:…"
    prefixes = tuple(f"{OLD}:{x}." for x in sources | set(moved))
    dpath = root / OLD / "gap_decisions.yaml"
    decisions = _load(dpath) if dpath.exists() else {"system": OLD, "decisions": []}
    go = [d for d in decisions["decisions"] if d["gap_id"].startswith(prefixes)]
    if go:
        decisions["decisions"] = [d for d in decisions["decisions"] if d not in go]
        _dump(dpath, decisions)
        touched.add(f"{OLD}/gap_decisions.yaml")
    _dump(root / NEW / "gap_decisions.yaml", {"system": NEW, "decisions": [
        {**d, "gap_id": NEW + d["gap_id"].removeprefix(OLD)} for d in go]})
    touched.add(f"{NEW}/gap_decisions.yaml")

    # the same vendor's 外字 table (csv module: the file as the vendor publishes it)
    with (root / OLD / "gaiji.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    with (root / NEW / "gaiji.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    touched.add(f"{NEW}/gaiji.csv")
    return touched


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """The split configuration beside a copy of the dbt project and the seeds (``seed-paths:
    ../seeds``), nothing generated in it."""
    base = tmp_path_factory.mktemp("fourteenth")
    shutil.copytree(ROOT / "mappings", base / "mappings")
    touched = split_business(base / "mappings")
    shutil.copytree(ROOT / "seeds", base / "seeds")
    shutil.copytree(ROOT / "dbt", base / "dbt",
                    ignore=lambda d, names: [n for n in names if Path(d, n).relative_to(ROOT / "dbt").as_posix()
                                             in ("models/generated", "macros/generated", "target", "logs")])
    return {"base": base, "mappings": base / "mappings", "dbt": base / "dbt", "touched": touched}


@pytest.fixture(scope="module")
def city(split):
    from dagster_project.simulate.city import generate_city
    from dagster_project.spec.config import load_project

    legacy = split["base"] / "legacy"
    manifest = generate_city(legacy, RESIDENTS, SEED, project=load_project(split["mappings"]), log=lambda s: None)
    return legacy, manifest


def _env(split) -> dict:
    base = split["base"]
    var = base / "var"
    env = dict(os.environ, KIKAN_MAPPINGS_DIR=str(split["mappings"]), KIKAN_DBT_DIR=str(split["dbt"]),
               KIKAN_LEGACY_DIR=str(base / "legacy"), KIKAN_VAR_DIR=str(var),
               KIKAN_WAREHOUSE=str(var / "warehouse.duckdb"), KIKAN_READINESS_DIR=str(var / "readiness"),
               KIKAN_EXPORTS_DIR=str(var / "exports"), KIKAN_REPORTS_DIR=str(var / "reports"),
               KIKAN_TODAY=TODAY, DAGSTER_HOME=str(var / "dagster_home"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    env.pop("KIKAN_FAULT_PAUSE", None)
    return env


def _kikan(split, *args, timeout=1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dagster_project.cli", *args], cwd=split["base"],
                          env=_env(split), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run(split, city):
    """``kikan run`` on the split city (one rehearsal), then its outputs' places."""
    (split["base"] / "var").mkdir(exist_ok=True)
    res = _kikan(split, "run")
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-3000:])
    var = split["base"] / "var"
    return {"db": var / "warehouse.duckdb", "readiness": var / "readiness", "exports": var / "exports",
            "home": var / "dagster_home", "legacy": city[0], "manifest": city[1]}


def _query(db: Path, sql: str, *params):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _tables(db: Path, schema: str) -> set[str]:
    return {t for (t,) in _query(db, "select table_name from duckdb_tables() where schema_name = ? "
                                     "union select view_name from duckdb_views() where schema_name = ?", schema, schema)}


# ---------------------------------------------------------------- the configuration and the simulator

def test_the_split_touches_only_data_files(split):
    assert split["touched"] == TOUCHED
    assert not [p for p in split["touched"] if p.endswith(".py")]
    # nothing else of the copy changed
    for p in (ROOT / "mappings").rglob("*"):
        rel = p.relative_to(ROOT / "mappings").as_posix()
        if p.is_file() and rel not in TOUCHED:
            assert (split["mappings"] / rel).read_bytes() == p.read_bytes(), rel


def test_the_split_configuration_loads_and_generates(split, tmp_path):
    """The project, the mappings and the dbt models load and generate from the copy (into tmp)."""
    from dagster_project.mapping.dbtgen import generate
    from dagster_project.spec.config import load_project
    from dagster_project.spec.mapping import load_mappings

    project = load_project(split["mappings"])
    assert [s.id for s in project.city.systems].count(NEW) == 1 and len(project.city.systems) == 14
    assert project.city.system(OLD).businesses == ["juki"]
    assert project.city.system(NEW).cutover == NEW_SYSTEM["cutover"]
    assert project.city.system(NEW).dagster_owner == "team:inkan_toroku"
    mappings = load_mappings(project)
    assert {t.std.ref for t in mappings.for_system(NEW)} == {"inkan.inkan"}
    assert "inkan.inkan" not in {t.std.ref for t in mappings.for_system(OLD)}
    changed, _ = generate(project, mappings, dbt_dir=tmp_path)
    sql = {p.name for p in tmp_path.rglob("*.sql")}
    assert {"stg_inkan__inkan.sql", "gaps_inkan__items.sql", "fnd_inkan.sql"} <= sql
    assert "stg_jumin__inkan.sql" not in sql


def test_the_simulator_renders_the_new_system_and_plants_in_it(city):
    legacy, manifest = city
    assert set(manifest["systems"][NEW]) == {"inkan"}
    assert "inkan" not in manifest["systems"][OLD]
    assert (legacy / NEW / "INKAN_TOROKU.CSV").exists() and not (legacy / OLD / "INKAN_TOROKU.CSV").exists()
    planted = {(d["class"], d["system"]) for d in manifest["defects"] if d["table"] == "inkan"}
    assert {("duplicate_key", NEW), ("orphan_reference", NEW)} <= planted
    assert not [d for d in manifest["defects"] if d["system"] == OLD and d["table"] == "inkan"]


# ---------------------------------------------------------------- the pipeline on the split city

@pytest.mark.slow
def test_the_new_system_has_its_assets_and_jumin_lost_them(run, split):
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(run["home"]))
    for key in (["raw", f"{NEW}__inkan"], ["standard", "std_inkan__inkan"], ["gaps", f"gaps_{NEW}__items"],
                ["gaps", f"gaps_{NEW}__spec"], ["gaps", f"gaps_{NEW}__data"], ["reports", f"gap_report_{NEW}"],
                ["readiness", f"gate_{NEW}"]):
        assert instance.get_latest_materialization_event(dg.AssetKey(key)) is not None, key
    assert instance.get_latest_materialization_event(dg.AssetKey(["raw", f"{OLD}__inkan"])) is None
    # the asset graph, as the run's definitions build it: the new system's group and owner
    code = ("import json\nfrom dagster_project.definitions import defs\n"
            "g = defs.resolve_asset_graph()\n"
            "print(json.dumps({'/'.join(k.path): [g.get(k).group_name, sorted(g.get(k).owners)] "
            "for k in g.get_all_asset_keys()}))")
    res = subprocess.run([sys.executable, "-c", code], env=_env(split), capture_output=True, text=True,
                         timeout=600, cwd=split["base"])
    assert res.returncode == 0, res.stderr[-2000:]
    graph = json.loads(res.stdout.strip().splitlines()[-1])
    assert graph[f"raw/{NEW}__inkan"] == [NEW, ["team:inkan_toroku"]]
    assert graph[f"readiness/gate_{NEW}"] == [NEW, ["team:inkan_toroku"]]
    assert f"exports/package_{NEW}" in graph
    assert f"raw/{OLD}__inkan" not in graph


@pytest.mark.slow
def test_the_warehouse_holds_the_new_system_and_not_in_jumin(run):
    db = run["db"]
    assert f"{NEW}__inkan" in _tables(db, "raw") and f"{OLD}__inkan" not in _tables(db, "raw")
    assert "stg_inkan__inkan" in _tables(db, "staging") and "stg_jumin__inkan" not in _tables(db, "staging")
    (n,), = _query(db, "select count(*) from standard.std_inkan__inkan")
    assert n > 0
    # the gap ledger: 印鑑登録's items are the new system's, none is 住民記録's any more
    items = _query(db, f'select distinct business_id, source_table from gaps."gaps_{NEW}__items"')
    assert items == [("inkan", "inkan.inkan")]
    assert not _query(db, f"select 1 from gaps.\"gaps_{OLD}__items\" where business_id = 'inkan'")
    assert not _query(db, "select 1 from findings.findings where system = ? and source_table = 'inkan'", OLD)


def _key_on_line(legacy: Path, record_no: int) -> str:
    """The internal key (印鑑登録番号, the first field) on a physical line of the legacy file."""
    lines = (legacy / NEW / "INKAN_TOROKU.CSV").read_bytes().decode("cp932").splitlines()
    return next(csv.reader(io.StringIO(lines[record_no - 1])))[0]


@pytest.mark.slow
def test_the_planted_inkan_defects_are_found_in_the_new_system(run):
    db, legacy, manifest = run["db"], run["legacy"], run["manifest"]
    ledger = defaultdict(dict)
    for rule, rec, key in _query(db, "select rule_id, record_no, internal_key from findings.findings "
                                     "where system = ? and source_table = 'inkan'", NEW):
        ledger[rule][rec] = key
    planted = [d for d in manifest["defects"] if d["system"] == NEW and d["class"] in RULE_OF]
    assert {d["class"] for d in planted} == set(RULE_OF)
    for d in planted:
        rule, rec = RULE_OF[d["class"]], d["record_no"]
        lines = [rec, rec - 1] if d["class"] == "duplicate_key" else [rec]   # a copy follows its record
        for line in lines:
            assert line in ledger[rule], (rule, line)
            assert ledger[rule][line] == _key_on_line(legacy, line), (rule, line)
    # 宛名番号 issued with a wrong check digit (planted in the population): every 印鑑登録 record
    # holding one is the new system's check-digit finding
    bad = {d["atena_no"] for d in manifest["defects"] if d["class"] == "invalid_atena_no"}
    text = (legacy / NEW / "INKAN_TOROKU.CSV").read_bytes().decode("cp932")
    holding = [i for i, row in enumerate(csv.reader(io.StringIO(text)), start=1) if i > 1 and row[1] in bad]
    for line in holding:
        assert ledger["check_digit"].get(line) == _key_on_line(legacy, line), line


@pytest.mark.slow
def test_the_new_system_has_its_gate_decision_and_package(run, split):
    from dagster_project.readiness import gatelog
    from dagster_project.readiness.export import verify_package

    decision = gatelog.latest_decision(gatelog.read_log(run["readiness"]), NEW)
    assert decision is not None
    assert decision["cutover"] == NEW_SYSTEM["cutover"].isoformat() and decision["gate_date"] <= TODAY
    assert decision["system_name"] == NEW_SYSTEM["name"]
    failing = {c["id"] for c in decision["criteria"] if not c["passed"]}
    assert "key_violations" in failing              # the planted duplicates and orphans
    hist = gatelog.read_history(run["readiness"], NEW)[-1]
    if hist["export_allowed"]:
        pkg = run["exports"] / NEW / (run["exports"] / NEW / "LATEST").read_text(encoding="utf-8").strip()
    else:
        res = _kikan(split, "export", NEW, "--preview", timeout=600)
        assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-2000:])
        [pkg] = [p for p in (run["exports"] / NEW).iterdir() if p.is_dir()]
    assert verify_package(pkg) == []
    m = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
    assert [t["table"] for t in m["tables"]] == ["std_inkan__inkan"]
    jumin = run["exports"] / OLD
    for p in (jumin.iterdir() if jumin.exists() else []):
        if p.is_dir():
            assert "std_inkan__inkan" not in [t["table"] for t in
                                              json.loads((p / "manifest.json").read_text(encoding="utf-8"))["tables"]]


@pytest.mark.slow
def test_the_ict_office_gx_page_names_the_new_system(run):
    page = (run["db"].parent / "gx_docs" / "tables" / "std_inkan__inkan.html").read_text(encoding="utf-8")
    assert f"現行システム {NEW}・" in page


@pytest.mark.slow
def test_the_split_generated_its_own_models_and_left_the_repository_s_alone(run, split):
    gen = split["dbt"] / "models" / "generated"
    assert (gen / "standard" / "inkan" / "std_inkan__inkan.sql").exists()
    assert (gen / "intermediate" / NEW / f"int_{BUSINESS}__inkan.sql").exists()
    assert not list((gen / "intermediate" / OLD).glob(f"int_{BUSINESS}__*"))
    maps = (split["base"] / "seeds" / "code_maps.csv").read_text(encoding="utf-8")
    assert f"\n{NEW}.inkan_jotai," in maps and f"\n{OLD}.inkan_jotai," not in maps
    # the repository's committed project still says jumin hosts 印鑑登録
    repo = ROOT / "dbt" / "models" / "generated"
    assert (repo / "intermediate" / OLD / f"int_{BUSINESS}__inkan.sql").exists()
    assert not (repo / "intermediate" / NEW).exists()
    assert f"\n{OLD}.inkan_jotai," in (ROOT / "seeds" / "code_maps.csv").read_text(encoding="utf-8")
