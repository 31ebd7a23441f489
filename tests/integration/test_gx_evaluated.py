"""Every Great Expectations expectation of every suite evaluates on the small city: none raises
(an expectation that raised was once reported as a data failure on 氏名, 住所, 本籍 …), and the
character-set expectation finds the unidentified 外字 the simulator planted."""

import json

import pytest

from dagster_project.conformance.gx_suites import SUITES_DIR, validate_in_subprocess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gx_results(extracted_city, project, tmp_path_factory):
    """The suites run again, as the pipeline runs them, on the city's warehouse: every expectation's result."""
    docs = tmp_path_factory.mktemp("gx_docs")
    return validate_in_subprocess(extracted_city["db"], [s.id for s in project.city.systems], docs)


def suite_json(name: str) -> dict:
    return json.loads((SUITES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def test_every_expectation_of_every_suite_evaluated_and_none_raised(gx_results):
    assert {p.stem for p in SUITES_DIR.glob("*.json")} == set(gx_results)
    total = 0
    for name, r in gx_results.items():
        want = [e["id"] for e in suite_json(name)["expectations"]]
        got = r["expectations"]
        assert sorted(e["id"] for e in got) == sorted(want), name
        raised = [(e["rule"], e["item"], e.get("exception")) for e in got if e["raised"]]
        assert raised == [] and r["raised"] == [], (name, raised)
        assert r["evaluated"] == len(want), name
        for e in got:   # what failed, failed on counted data
            assert e["success"] or (e["unexpected_count"] or 0) > 0, (name, e["rule"], e["item"])
        total += len(got)
    assert total == sum(len(suite_json(n)["expectations"]) for n in gx_results) > 300


def test_the_charset_expectation_finds_the_planted_gaiji(gx_results):
    charset = [(name, e) for name, r in gx_results.items() for e in r["expectations"]
               if e["type"] == "unexpected_rows_expectation"]
    assert len(charset) >= 20
    assert all(isinstance(e["unexpected_count"], int) for _, e in charset)
    found = {(name, e["columns"][0]): e["unexpected_count"] for name, e in charset if e["unexpected_count"]}
    assert found, "the character-set expectation found nothing: the planted 外字 are in jumin.kojin.shimei"
    assert found.get(("std_juki__jumin", "shimei"), 0) > 0, found
    failed = {(f["rule"], f["item"]) for f in gx_results["std_juki__jumin"]["failed"]}
    assert ("行政事務標準文字にない文字", "氏名") in failed


def test_the_pipeline_checks_report_every_expectation_evaluated(extracted_city):
    evals = {e.asset_key.path[1]: e for e in extracted_city["result"].get_asset_check_evaluations()
             if e.check_name == "gx_conformance"}
    assert set(evals) == {p.stem for p in SUITES_DIR.glob("*.json")}
    for name, e in evals.items():
        n = len(suite_json(name)["expectations"])
        assert e.metadata["expectations"].value == n and e.metadata["evaluated"].value == n, name
        assert e.metadata["raised"].value == 0, (name, e.description)
        assert not (e.description or "").startswith("expectation raised"), name
    jumin = evals["std_juki__jumin"]
    rules = {(r["rule"], r["item"]): r["unexpected_count"] for r in jumin.metadata["failed_rules"].value}
    assert rules.get(("行政事務標準文字にない文字", "氏名"), 0) > 0, rules


def test_gx_validated_beside_the_steps_after_dbt(extracted_city):
    """The GX child started when dbt finished (conformance.start_ahead) and its step ran after the
    reports and gates: it waited for what was left of the validation, not for all of it."""
    result = extracted_city["result"]
    evals = [e for e in result.get_asset_check_evaluations() if e.check_name == "gx_conformance"]
    assert evals and all(e.metadata["started_ahead"].value is True for e in evals)
    starts = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    after_dbt = [k for k in starts if k.startswith(("reports__", "readiness__gate_"))]
    assert after_dbt and starts.index("gx_conformance") > max(starts.index(k) for k in after_dbt)
