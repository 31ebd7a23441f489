"""The readiness gate on a city planted to land in each state.

A clean small city (no planted defects) runs once. Then, acting as the system owners, the test
writes decisions for every gap of 国民年金 and 戸籍 and signs off 国民年金 only, and plants an
amount drift in the 国保 standard table. Rehearsals run with an injected "today":

- before the gate date nothing is recorded, only projected;
- on the gate date 国民年金 is GO (decided, 3 passing rehearsals, signed), 戸籍 CONDITIONAL
  (no sign-off), 国保 NO-GO (reconciliation catches the drift);
- the NO-GO export writes nothing (a successful run, its check ``gate_allows_export`` failed with the
  reason); the GO package verifies against its manifest;
- the decision log is append-only, survives reruns and detects an edited line.
"""

from __future__ import annotations

import json
import shutil

import dagster as dg
import duckdb
import pytest
import yaml

from tests.conftest import ROOT, blocked_exports, city_resources, run_city, succeeded_but_blocked

GO, COND, NOGO = "nenkin", "koseki", "kokuho"   # all three cut over on 2027-01-04: gate date 2026-12-05


@pytest.fixture(scope="module")
def clean_city(tmp_path_factory):
    from dagster_project.simulate.city import generate_city

    base = tmp_path_factory.mktemp("clean")
    legacy = base / "legacy"
    generate_city(legacy, 1500, 5, defect_scale=0.0, log=lambda s: None)
    wh = base / "wh"
    result = run_city(legacy, wh, "2026-10-01")
    assert succeeded_but_blocked(result)
    owner = base / "mappings"
    shutil.copytree(ROOT / "mappings", owner)
    return {"legacy": legacy, "wh": wh, "db": wh / "warehouse.duckdb", "owner": owner}


def _decide_all_gaps(db, owner, system):
    """What a system owner does with the gap report: a decision per open gap."""
    con = duckdb.connect(str(db), read_only=True)
    ids = [r[0] for k in ("spec", "data") for r in con.execute(f'select gap_id from gaps."gaps_{system}__{k}"').fetchall()]
    chars = con.execute(f'select distinct ch from conformance."conf_{system}__chars"').fetchall()
    con.close()
    path = owner / system / "gap_decisions.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {"system": system, "decisions": []}
    have = {d["gap_id"] for d in doc["decisions"]}
    doc["decisions"] += [{"gap_id": g, "decision": "データ補正", "reason": "移行前に補正する", "decided_by": "係長",
                          "decided_on": "2026-11-20"} for g in ids if g not in have]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert not chars, f"{system} has characters outside the standard set in a clean city: {chars}"


def _sign(owner, system, on="2026-11-25"):
    (owner / system / "signoff.yaml").write_text(yaml.safe_dump(
        {"system": system, "signed_by": "所管課長", "role": "システム所管課長", "signed_on": on,
         "statement": "移行リハーサルの結果を確認した"}, allow_unicode=True), encoding="utf-8")


def _rehearse(city, systems, today, with_exports=True):
    from dagster_project.definitions import defs

    # the overview ends every rehearsal and completes it: only a completed rehearsal counts
    keys = [dg.AssetKey(["readiness", f"gate_{s}"]) for s in systems] + [dg.AssetKey(["reports", "readiness_overview"])]
    if with_exports:
        keys += [dg.AssetKey(["exports", f"package_{s}"]) for s in systems]
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and set(a.keys) & set(keys)]
    return dg.materialize(assets, selection=keys, raise_on_error=False,
                          resources=city_resources(city["legacy"], city["wh"], today, city["owner"]))


def _history(city, system):
    from dagster_project.readiness.gatelog import read_history

    return read_history(city["wh"] / "readiness", system)


def _log(city):
    from dagster_project.readiness.gatelog import read_log

    return read_log(city["wh"] / "readiness")


def _plant_amount_drift(city):
    """A mapping defect: one 国保 assessment loses 1,000 yen on its way to the standard table."""
    from dagster_project.definitions import defs

    con = duckdb.connect(str(city["db"]))
    # the standard layout is a view of the intermediate table: the drift is planted beneath it
    con.execute("update intermediate.int_kokuho__fuka set iryo = iryo - 1000 "
                "where _src_record_no = (select min(_src_record_no) from standard.std_kokuho__fuka where iryo >= 1000)")
    con.close()
    stage = next(a for a in defs.assets if isinstance(a, dg.AssetsDefinition)
                 and dg.AssetKey(["readiness", "recon_kokuho"]) in a.keys)
    res = dg.materialize([stage], selection=[dg.AssetKey(["readiness", "recon_kokuho"])],
                         resources=city_resources(city["legacy"], city["wh"], "2026-10-01", city["owner"]))
    assert res.success


@pytest.fixture(scope="module")
def gated(clean_city):
    c = clean_city
    for s in (GO, COND):
        _decide_all_gaps(c["db"], c["owner"], s)
    _sign(c["owner"], GO)
    # the drift is caught by reconciliation: first show the criterion passing, then failing
    before = _rehearse(c, [NOGO], "2026-11-01", with_exports=False)
    assert before.success
    recon_before = next(x for x in _history(c, NOGO)[-1]["criteria"] if x["id"] == "reconciliation")
    _plant_amount_drift(c)
    # two rehearsals before the gate date (2026-12-05), the third on it
    runs = [_rehearse(c, [GO, COND, NOGO], d) for d in ("2026-11-26", "2026-12-01", "2026-12-05")]
    return {**c, "runs": runs, "recon_before": recon_before}


def test_reconciliation_catches_a_planted_amount_drift(gated, query):
    assert gated["recon_before"]["passed"], gated["recon_before"]
    rows = query(gated["db"], "select subject, source_value, target_value, difference, status "
                              "from readiness.recon_kokuho where status <> '一致'")
    assert len(rows) == 1, rows   # the 医療分 total of that one year, nothing else
    assert rows[0][3] == -1000 and rows[0][4] == "不一致" and "医療分" in rows[0][0]
    recon = next(x for x in _history(gated, NOGO)[-1]["criteria"] if x["id"] == "reconciliation")
    assert not recon["passed"] and recon["value"] == len(rows) and "金額" in recon["evidence"]


def test_nothing_is_recorded_before_the_gate_date(gated):
    hist = {s: _history(gated, s) for s in (GO, COND, NOGO)}
    for s, h in hist.items():
        before = [r for r in h if r["as_of"] < "2026-12-05"]
        assert before and all(r["phase"] == "before_gate" and r["decision_id"] is None for r in before), s
    assert all(e["as_of"] >= "2026-12-05" for e in _log(gated))


def test_each_system_lands_in_its_state_on_the_gate_date(gated):
    log = _log(gated)
    by_system = {e["system"]: e for e in log}
    assert by_system[GO]["decision"] == "GO", by_system[GO]["reason"]
    assert by_system[COND]["decision"] == "CONDITIONAL", by_system[COND]["reason"]
    assert by_system[NOGO]["decision"] == "NO-GO"
    cond = _history(gated, COND)[-1]
    assert cond["outcome"] == "CONDITIONAL"
    assert [c["id"] for c in cond["criteria"] if not c["passed"]] == ["signoff"]
    go = _history(gated, GO)[-1]
    # every rehearsal of 国民年金 passed, the first full run too: its one gap in the clean city is a
    # code value no record holds, which needs no decision (decisions.needing_decision)
    assert go["outcome"] == "GO" and next(c for c in go["criteria"] if c["id"] == "rehearsals")["value"] \
        == len(_history(gated, GO)) >= 3
    e = by_system[GO]
    assert e["kind"] == "初回判定" and e["as_of"] == "2026-12-05" and e["gate_date"] == "2026-12-05"
    assert e["input_files"] and all(len(f["sha256"]) == 64 for f in e["input_files"])
    assert e["code_version"]["package"] and e["catalog_version"]
    assert "連続合格" in json.dumps(e["criteria"], ensure_ascii=False)


def test_every_released_package_is_a_valid_data_package(gated):
    """What the gates released (GO, CONDITIONAL) validates whole against its own datapackage.json (types,
    keys, foreign keys, code values, hashes), every table with the manifest's row count. Runs before the
    next test tampers with the GO package. (tests/integration/test_vendor_package.py: the NO-GO side.)"""
    from frictionless import validate

    exports = gated["wh"] / "exports"
    released = sorted(p.parent.name for p in exports.glob("*/LATEST"))
    assert GO in released and COND in released and NOGO not in released
    for system in released:
        pkg = exports / system / (exports / system / "LATEST").read_text(encoding="utf-8").strip()
        m = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
        report = validate(str(pkg / "datapackage.json"))
        assert report.valid, (system, [(t.name, e.type, getattr(e, "row_number", None)) for t in report.tasks
                                       for e in t.errors][:10])
        rows = {t.name: t.stats.get("rows") or 0 for t in report.tasks}
        assert {t["table"]: rows[t["table"]] for t in m["tables"]} == {t["table"]: t["rows"] for t in m["tables"]}
        assert sum(t["rows"] for t in m["tables"]) > 0, system


def test_no_go_blocks_the_export_and_go_package_verifies(gated):
    from dagster_project.readiness.export import verify_package

    last = gated["runs"][-1]
    # the block is the gate doing its job: a successful run, the NO-GO package not materialized and its
    # check failed (a warning) with the reason; the released packages' checks passed
    assert last.success and not [e for e in last.all_events if e.event_type_value == "STEP_FAILURE"]
    checks = {e.asset_key.path[-1]: e for e in last.get_asset_check_evaluations()
              if e.check_name == "gate_allows_export"}
    blocked = checks[f"package_{NOGO}"]
    assert not blocked.passed and blocked.severity == dg.AssetCheckSeverity.WARN
    assert blocked.description.startswith("国民健康保険システム: 移行可否判定 NO-GO（移行不可、D")
    assert "のため移行データを出力しない" in blocked.description
    assert blocked.metadata["decision"].value == "NO-GO" and blocked.metadata["reason"].value == blocked.description
    assert blocked_exports(last)[NOGO] == blocked.description and not {GO, COND} & set(blocked_exports(last))
    assert checks[f"package_{GO}"].passed and checks[f"package_{COND}"].passed
    mats = {e.event_specific_data.materialization.asset_key.to_user_string() for e in last.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert f"exports/package_{GO}" in mats and f"exports/package_{NOGO}" not in mats
    exports = gated["wh"] / "exports"
    assert not (exports / NOGO).exists() or not any((exports / NOGO).iterdir())
    latest = (exports / GO / "LATEST").read_text().strip()
    pkg = exports / GO / latest
    assert verify_package(pkg) == []
    m = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
    assert m["release"]["status"] == "GO" and m["release"]["decision_id"].startswith("D")
    with (pkg / f"{m['tables'][0]['table']}.csv").open(encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    assert all(h.strip('"').isdigit() for h in header)   # standard item ids
    # tampering is seen
    csv_file = pkg / f"{m['tables'][0]['table']}.csv"
    csv_file.write_bytes(csv_file.read_bytes() + b"\n")
    assert any("SHA-256" in p for p in verify_package(pkg))
    # the CONDITIONAL system exports too (export_on), under its decision or projection
    assert (exports / COND / "LATEST").exists()
    assert not list((exports / GO).glob(".tmp-*"))


def test_decision_log_is_append_only_and_survives_reruns(gated):
    from dagster_project.readiness.gatelog import LogCorrupted, read_log

    path = gated["wh"] / "readiness" / "decision_log.jsonl"
    before = path.read_bytes()
    n = len(_log(gated))
    _rehearse(gated, [GO, NOGO], "2026-12-06")          # same outcomes: nothing new
    assert path.read_bytes() == before
    (gated["owner"] / GO / "signoff.yaml").unlink()    # the sign-off is withdrawn: a new decision, with its reason
    _rehearse(gated, [GO], "2026-12-07", with_exports=False)
    after = path.read_bytes()
    assert after.startswith(before)
    log = _log(gated)
    assert len(log) == n + 1
    new = log[-1]
    assert new["system"] == GO and new["decision"] == "CONDITIONAL" and new["kind"] == "再判定"
    assert new["previous_decision_id"] == next(e for e in log if e["system"] == GO)["decision_id"]
    assert "所管課の承認" in new["reason"]
    # an edited line breaks the chain, and reading says where
    lines = after.decode("utf-8").splitlines(keepends=True)
    edited = dict(json.loads(lines[0]))
    edited["decision"] = "GO" if edited["decision"] != "GO" else "NO-GO"
    lines[0] = json.dumps(edited, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    tampered = gated["wh"] / "tampered"
    tampered.mkdir()
    (tampered / "decision_log.jsonl").write_text("".join(lines), encoding="utf-8")
    with pytest.raises(LogCorrupted, match="line 1"):
        read_log(tampered)


def test_a_torn_last_line_is_set_aside_not_merged(tmp_path):
    from dagster_project.readiness import gatelog

    e = gatelog.append_decision(tmp_path, {"system": "x", "as_of": "2026-12-05", "decision": "GO"})
    with (tmp_path / gatelog.LOG).open("ab") as fh:
        fh.write(b'{"system":"x","decis')      # a crash in the middle of a write
    assert gatelog.read_log(tmp_path) == [e]
    e2 = gatelog.append_decision(tmp_path, {"system": "x", "as_of": "2026-12-06", "decision": "NO-GO"})
    assert [x["decision_id"] for x in gatelog.read_log(tmp_path)] == [e["decision_id"], e2["decision_id"]]
    assert list(tmp_path.glob("decision_log.jsonl.torn-*"))


def test_overview_shows_every_system_without_personal_data(gated, query):
    from dagster_project.definitions import defs

    res = dg.materialize([a for a in defs.assets if isinstance(a, dg.AssetsDefinition)
                          and dg.AssetKey(["reports", "readiness_overview"]) in a.keys],
                         resources=city_resources(gated["legacy"], gated["wh"], "2026-12-07", gated["owner"]))
    assert res.success
    page = (gated["wh"] / "reports" / "readiness_overview.html").read_text(encoding="utf-8")
    from dagster_project.spec.config import cached_project

    for s in cached_project().city.systems:
        assert f'data-system="{s.id}"' in page
    assert 'data-system="kokuho" data-status="NO-GO"' in page
    # no name, address or 個人番号 of any resident reaches the page
    names = query(gated["db"], "select distinct shimei from standard.std_juki__jumin limit 200")
    numbers = query(gated["db"], "select distinct kojin_bango from standard.std_juki__jumin "
                                 "where kojin_bango is not null limit 200")
    assert not [n for (n,) in names if n and n in page]
    assert not [n for (n,) in numbers if n and n in page]



def test_a_trimmed_decision_log_stops_the_gate_saying_which_lines(gated):
    """Deleting the decision log's last line is seen by the next rehearsal: the gate is not judged,
    and its failure says which file and lines are missing (the project's words, shown, not withheld).
    Last in this module: it leaves the log trimmed."""
    path = gated["wh"] / "readiness" / "decision_log.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))
    res = _rehearse(gated, [GO], "2026-12-08", with_exports=False)
    failed = [e for e in res.all_events if e.event_type_value == "STEP_FAILURE"]
    gate = [e for e in failed if e.step_key == f"readiness__gate_{GO}"]
    assert gate, [e.step_key for e in failed]
    said = gate[0].event_specific_data.user_failure_data.description
    assert "判定ログ" in said and f"{len(lines)}行目" in said, said
    # the overview (skipped above, after the failed gate) is made on its own by the sensor's job:
    # it says the same, and the last page stays
    from dagster_project.definitions import defs

    page = gated["wh"] / "reports" / "readiness_overview.html"
    before = page.read_bytes()
    res = dg.materialize([a for a in defs.assets if isinstance(a, dg.AssetsDefinition)
                          and dg.AssetKey(["reports", "readiness_overview"]) in a.keys], raise_on_error=False,
                         resources=city_resources(gated["legacy"], gated["wh"], "2026-12-08", gated["owner"]))
    failed = [e for e in res.all_events if e.event_type_value == "STEP_FAILURE"]
    said = failed[0].event_specific_data.user_failure_data.description
    assert "判定ログ" in said and f"{len(lines)}行目" in said, said
    assert page.read_bytes() == before
