"""A small simulated city through every extract asset: conservation holds, and every
extract-level planted defect is found by the pipeline where the manifest says it is."""

import re
from collections import Counter, defaultdict

import dagster as dg
import pytest

from dagster_project.definitions import defs
from dagster_project.extract.assets import raw_key
from dagster_project.resources import WarehouseResource
from tests.conftest import succeeded_but_blocked

pytestmark = pytest.mark.slow




def test_run_succeeds_and_rows_are_conserved(extracted_city, project, query):
    res = extracted_city["result"]
    assert succeeded_but_blocked(res)
    evals = [e for e in res.get_asset_check_evaluations() if e.check_name == "row_conservation"]
    n_files = sum(len(lay.files) for lay in project.layouts.values())
    assert len(evals) == n_files == 30
    assert all(e.passed for e in evals)
    (files, recs, raw, quar), = query(extracted_city["db"], "select count(*), sum(records_in_file), "
                                  "sum(raw_rows), sum(quarantined) from meta.extract_files")
    manifest = extracted_city["manifest"]
    assert files == 30
    assert recs == raw + quar == sum(v["records"] for s in manifest["systems"].values() for v in s.values())


@pytest.mark.parametrize("cls,reason", [("truncated_record", "record_length"),
                                        ("overlong_record", "record_length"),
                                        ("undecodable_bytes", "undecodable")])
def test_planted_record_defects_are_quarantined_exactly(extracted_city, cls, reason, query):
    manifest = extracted_city["manifest"]
    planted = defaultdict(set)
    for d in manifest["defects"]:
        if d["class"] == cls:
            planted[(d["system"], d["table"])].add(d["record_no"])
    assert planted, f"the small city planted no {cls}"
    for (system, table), recs in planted.items():
        found = {r[0] for r in query(extracted_city["db"],
                                 f'select record_no from raw."{system}__quarantine" '
                                 "where table_name = ? and reason_code = ?", table, reason)}
        assert recs <= found, (system, table)
    # nothing else is quarantined than what was planted
    total_planted = sum(1 for d in manifest["defects"]
                        if d["class"] in ("truncated_record", "overlong_record", "undecodable_bytes"))
    total_q = sum(r[0] for r in query(extracted_city["db"],
                                  "select sum(quarantined) from meta.extract_files"))
    assert total_q == total_planted


def test_undecodable_quarantine_names_the_planted_field(extracted_city, query):
    manifest = extracted_city["manifest"]
    for d in manifest["defects"]:
        if d["class"] != "undecodable_bytes":
            continue
        (field,), = query(extracted_city["db"], f'select field_name from raw."{d["system"]}__quarantine" '
                      "where table_name = ? and record_no = ?", d["table"], d["record_no"])
        assert field == d["field"]


def test_gaiji_found_per_code_exactly(extracted_city, query):
    manifest = extracted_city["manifest"]
    planted = Counter()
    knows = {}
    for g in manifest["gaiji"]:
        planted[(g["system"], g["code"])] += g["occurrences"]
        knows[(g["system"], g["code"])] = g["knows"]
    rows = query(extracted_city["db"], "select system, sjis_code, sum(occurrences), bool_and(in_vendor_table), "
             "max(substituted_with), max(juki_code), max(koseki_no) from meta.gaiji_usage group by all")
    found = {(s, c): n for s, c, n, *_ in rows}
    assert found == dict(planted)
    for s, c, n, listed, subst, juki, koseki in rows:
        k = knows[(s, c)]
        assert listed == (k != "unlisted")
        assert (subst is not None) == (k == "ucs")
        # unidentified = neither a character nor a code to look one up with
        assert (subst is None and juki is None and koseki is None) == (k in ("none", "unlisted"))
    unidentified = sum(n for (s, c), n in found.items() if knows[(s, c)] in ("none", "unlisted"))
    planted_defects = sum(1 for d in manifest["defects"] if d["class"] == "unidentified_gaiji")
    assert unidentified >= planted_defects > 0


def test_identified_gaiji_leave_no_private_use_characters(extracted_city, project, query):
    from dagster_project.core.textcodec import sjis_to_pua

    db = extracted_city["db"]
    for g in project.gaiji["jumin"]:
        pua = sjis_to_pua(g.code)
        (n,), = query(db, 'select count(*) from raw."jumin__kojin" where contains(shimei, ?)', pua)
        if g.ucs:
            assert n == 0, g.code


def test_metadata_and_logs_carry_no_personal_data(extracted_city, query):
    db = extracted_city["db"]
    values = set()
    for sql in ('select shimei, jusho, kojin_bango, birth_wareki from raw."jumin__kojin"',
                'select shimei, jusho, kojin_bango from raw."zeimu__atena"'):
        for row in query(db, sql):
            values.update(v.strip() for v in row if v and len(v.strip()) >= 5)
    res = extracted_city["result"]
    texts = []
    for ev in res.all_events:
        texts.append(str(ev.message or ""))
        data = ev.event_specific_data
        md = getattr(getattr(data, "materialization", None), "metadata", None) or getattr(data, "metadata", None)
        if md:
            texts.extend(f"{k}={v.value}" for k, v in md.items())
    blob = "\n".join(texts)
    assert len(values) > 1000
    leaked = [v for v in values if v in blob]
    assert leaked == []


def test_rerunning_one_system_leaves_the_others_untouched(extracted_city, query):
    db, legacy = extracted_city["db"], extracted_city["legacy"]
    before = dict(query(db, "select system || '.' || table_name, extracted_at from meta.extract_files"))
    (zeimu_rows,), = query(db, 'select count(*) from raw."zeimu__atena"')
    jumin_asset = next(a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and raw_key("jumin", "kojin") in a.keys)
    res = dg.materialize([jumin_asset],
                         resources={"warehouse": WarehouseResource(path=str(db), legacy_dir=str(legacy))})
    assert res.success
    after = dict(query(db, "select system || '.' || table_name, extracted_at from meta.extract_files"))
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"jumin.kojin", "jumin.gaikoku", "jumin.inkan"}
    assert query(db, 'select count(*) from raw."zeimu__atena"')[0][0] == zeimu_rows


def extract_only(legacy, db):
    """Materialize the 13 extract assets (and their checks) of ``legacy`` into ``db``, nothing else."""
    extract_assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)
                      and any(k.path[0] == "raw" for k in a.keys)]
    return dg.materialize(extract_assets, raise_on_error=False,
                          resources={"warehouse": WarehouseResource(path=str(db), legacy_dir=str(legacy))})


def test_a_missing_file_is_refused_in_its_system_only(small_city, tmp_path, query):
    import shutil

    legacy, _ = small_city
    copy = tmp_path / "legacy"
    shutil.copytree(legacy, copy)
    (copy / "kenko" / "KENSHIN_JUSHIN.CSV").unlink()
    db = tmp_path / "w.duckdb"
    res = extract_only(copy, db)
    # no step fails (a failed extract step would stop the one dbt build of every system): the
    # refusal is kenko's failed file_accepted check, with the reason, and an empty raw table
    assert not [e for e in res.all_events if e.event_type_value == "STEP_FAILURE"]
    checks = [e.event_specific_data for e in res.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
              and e.event_specific_data.check_name == "file_accepted"]
    refused = [c for c in checks if not c.passed]
    assert [c.asset_key.path[-1] for c in refused] == ["kenko__kenshin"]
    assert re.search(r"KENSHIN_JUSHIN\.CSV: file not found", refused[0].metadata["reason"].value)
    assert len(checks) == 30
    rows = query(db, "select system, refused from meta.extract_files")
    assert len({r[0] for r in rows}) == 13
    assert [r[0] for r in rows if r[1]] == ["kenko"]
    assert query(db, 'select count(*) from raw."kenko__kenshin"')[0][0] == 0


def test_a_directory_and_a_fifo_are_refused_in_their_systems_only(small_city, tmp_path, query):
    """What sits in a file's place is looked at before it is opened: a directory and a FIFO are
    refusals of that file (a FIFO would have blocked the run for ever), the other systems go on."""
    import os
    import shutil

    legacy, _ = small_city
    copy = tmp_path / "legacy"
    shutil.copytree(legacy, copy)
    (copy / "kenko" / "KENSHIN_JUSHIN.CSV").unlink()
    (copy / "kenko" / "KENSHIN_JUSHIN.CSV").mkdir()
    (copy / "nenkin" / "NENKIN_HIHOKENSHA.CSV").unlink()
    os.mkfifo(copy / "nenkin" / "NENKIN_HIHOKENSHA.CSV")
    db = tmp_path / "w.duckdb"
    res = extract_only(copy, db)
    assert not [e for e in res.all_events if e.event_type_value == "STEP_FAILURE"]
    checks = {e.event_specific_data.asset_key.path[-1]: e.event_specific_data for e in res.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION"
              and e.event_specific_data.check_name == "file_accepted"}
    refused = sorted(k for k, c in checks.items() if not c.passed)
    assert refused == ["kenko__kenshin", "nenkin__hihokensha"]
    assert "is a directory, not a file" in checks["kenko__kenshin"].metadata["reason"].value
    assert "is a FIFO, not a regular file" in checks["nenkin__hihokensha"].metadata["reason"].value
    rows = query(db, "select system from meta.extract_files where refused is not null order by 1")
    assert [r[0] for r in rows] == ["kenko", "nenkin"]
