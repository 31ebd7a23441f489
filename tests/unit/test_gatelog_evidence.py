"""Evidence that cannot be trimmed or padded (readiness/gatelog.py): a decision log whose last lines are
deleted is reported with the missing lines, a kill between an append and its head is no false
alarm, and only completed rehearsals count toward 連続合格リハーサル回数 and the trend."""

from __future__ import annotations

import json
import types

import pytest

from dagster_project.readiness import gatelog
from dagster_project.readiness.gatelog import LogCorrupted


def _decide(state, n: int) -> list[dict]:
    return [gatelog.append_decision(state, {"system": "x", "as_of": f"2026-12-{i + 1:02d}", "decision": "GO"})
            for i in range(n)]


def _cut(path, lines: int) -> None:
    """Delete the last ``lines`` lines of a file, as a person with an editor would."""
    kept = path.read_bytes().splitlines(keepends=True)[:-lines]
    path.write_bytes(b"".join(kept))


# ---------------------------------------------------------------- truncation


def test_deleting_the_last_line_is_reported_with_the_file_and_line(tmp_path):
    _decide(tmp_path, 5)
    assert gatelog.verify_log(tmp_path) == 5
    _cut(tmp_path / gatelog.LOG, 1)
    with pytest.raises(LogCorrupted) as e:
        gatelog.read_log(tmp_path)
    msg = str(e.value)
    assert f"判定ログ {tmp_path / gatelog.LOG} の 5行目がありません" in msg
    assert "decision_log.jsonl.head に 5 行と記録されていますが 4 行しかありません" in msg


def test_deleting_the_last_three_lines_names_them(tmp_path):
    _decide(tmp_path, 5)
    _cut(tmp_path / gatelog.LOG, 3)
    with pytest.raises(LogCorrupted, match="の 3〜5行目がありません"):
        gatelog.read_log(tmp_path)


def test_a_truncation_with_its_head_file_removed_is_seen_in_the_rehearsal_history(tmp_path):
    """The head file deleted with the lines: the history rows recorded the head too."""
    log = _decide(tmp_path, 4)
    gatelog.append_history(tmp_path, {"system": "x", "rehearsal_id": "R1", "run_id": "run-1"}, log=log)
    row = json.loads((tmp_path / gatelog.HISTORY).read_text(encoding="utf-8"))
    assert row["log_heads"][gatelog.LOG] == {"lines": 4, "last_hash": log[-1]["entry_hash"]}
    _cut(tmp_path / gatelog.LOG, 2)
    (tmp_path / (gatelog.LOG + ".head")).unlink()
    with pytest.raises(LogCorrupted, match=r"の 3〜4行目がありません: rehearsals.jsonl（R1 x の評価） に 4 行と記録"):
        gatelog.read_log(tmp_path)


def test_the_latest_head_is_read_from_the_end_of_the_history(tmp_path):
    """Read backwards block by block: past a completion line and a torn last line, whatever the block."""
    log = _decide(tmp_path, 1)
    gatelog.append_history(tmp_path, {"system": "x", "rehearsal_id": "R1", "run_id": "run-1"}, log=log)
    log += _decide(tmp_path, 1)
    gatelog.append_history(tmp_path, {"system": "y", "rehearsal_id": "R2", "run_id": "run-2"}, log=log)
    gatelog.complete_rehearsal(tmp_path, "run-2")
    with (tmp_path / gatelog.HISTORY).open("ab") as fh:
        fh.write(b'{"system":"z","log_heads":{"decision_log.jsonl":{"lines":9')     # torn by a kill
    for block in (1, 7, 64, 1 << 16):
        row = gatelog._last_history_row(tmp_path / gatelog.HISTORY, block)
        assert row["rehearsal_id"] == "R2" and row["log_heads"][gatelog.LOG]["lines"] == 2, block
    assert gatelog.verify_log(tmp_path) == 2


def test_a_log_cut_and_written_again_differs_from_its_head(tmp_path):
    """The last line deleted and another decision appended in its place: the length is right again,
    the hash at the head's line is not."""
    _decide(tmp_path, 3)
    head = (tmp_path / (gatelog.LOG + ".head")).read_bytes()
    _cut(tmp_path / gatelog.LOG, 1)
    (tmp_path / (gatelog.LOG + ".head")).unlink()                 # so that the new append goes through
    gatelog.append_decision(tmp_path, {"system": "x", "as_of": "2026-12-09", "decision": "NO-GO"})
    (tmp_path / (gatelog.LOG + ".head")).write_bytes(head)        # the head as it stood before the cut
    with pytest.raises(LogCorrupted, match="3行目: decision_log.jsonl.head に記録された末尾のハッシュと一致しません"):
        gatelog.read_log(tmp_path)


def test_lines_appended_beyond_the_head_are_refused(tmp_path):
    """A kill leaves at most one line ahead of the head; two are lines the writer never wrote."""
    _decide(tmp_path, 2)
    head = (tmp_path / (gatelog.LOG + ".head")).read_bytes()
    _decide(tmp_path, 2)
    (tmp_path / (gatelog.LOG + ".head")).write_bytes(head)
    with pytest.raises(LogCorrupted, match=r"より後に 2 行あります（3〜4行目）"):
        gatelog.read_log(tmp_path)


def test_a_kill_between_the_append_and_its_head_is_no_false_alarm(tmp_path, monkeypatch):
    first = _decide(tmp_path, 2)

    def killed(path, entries):
        raise KeyboardInterrupt("killed after the line, before its head")
    monkeypatch.setattr(gatelog, "_write_head", killed)
    with pytest.raises(KeyboardInterrupt):
        _decide(tmp_path, 1)
    monkeypatch.undo()
    head = json.loads((tmp_path / (gatelog.LOG + ".head")).read_text(encoding="utf-8"))
    assert head["lines"] == 2 and head["last_hash"] == first[-1]["entry_hash"]
    assert len(gatelog.read_log(tmp_path)) == 3                      # one line ahead of its head: accepted
    gatelog.append_decision(tmp_path, {"system": "x", "as_of": "2026-12-10", "decision": "GO"})
    assert gatelog.verify_log(tmp_path) == 4
    assert json.loads((tmp_path / (gatelog.LOG + ".head")).read_text(encoding="utf-8"))["lines"] == 4


def test_a_torn_tail_after_a_kill_is_no_false_alarm(tmp_path):
    entries = _decide(tmp_path, 3)
    with (tmp_path / gatelog.LOG).open("ab") as fh:
        fh.write(b'{"system":"x","decis')        # killed in the middle of writing line 4
    assert gatelog.read_log(tmp_path) == entries
    gatelog.append_history(tmp_path, {"system": "x", "rehearsal_id": "R1", "run_id": "run-1"})
    e = gatelog.append_decision(tmp_path, {"system": "x", "as_of": "2026-12-11", "decision": "GO"})
    assert gatelog.read_log(tmp_path)[-1] == e and gatelog.verify_log(tmp_path) == 4
    assert list(tmp_path.glob("decision_log.jsonl.torn-*"))


def test_an_edited_line_is_still_named(tmp_path):
    _decide(tmp_path, 2)
    lines = (tmp_path / gatelog.LOG).read_text(encoding="utf-8").splitlines(keepends=True)
    e = json.loads(lines[0])
    e["decision"] = "NO-GO"
    lines[0] = json.dumps(e, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    (tmp_path / gatelog.LOG).write_text("".join(lines), encoding="utf-8")
    with pytest.raises(LogCorrupted, match="1行目: 内容とハッシュが一致しません.*line 1"):
        gatelog.read_log(tmp_path)


def test_the_audit_log_is_chained_and_headed_the_same_way(tmp_path):
    for i in range(3):
        gatelog.append_audit(tmp_path, {"system": "kokuho", "kind": "手編集", "n": i})
    assert [e["audit_id"] for e in gatelog.read_audit(tmp_path)] == ["A00001-kokuho", "A00002-kokuho", "A00003-kokuho"]
    _cut(tmp_path / gatelog.AUDIT, 1)
    with pytest.raises(LogCorrupted, match=f"所管課入力の監査ログ {tmp_path / gatelog.AUDIT} の 3行目がありません"):
        gatelog.read_audit(tmp_path)


# ---------------------------------------------------------------- completed rehearsals


def _row(state, rehearsal: str, passed: bool, system: str = "nenkin", failing: int = 0):
    gatelog.append_history(state, {
        "system": system, "rehearsal_id": rehearsal, "run_id": f"run-{rehearsal}",
        "evaluated_at": f"2026-11-{int(rehearsal[1:]):02d}T00:00:00+00:00", "as_of": "2026-11-01",
        "phase": "before_gate", "outcome": "GO" if passed else "NO-GO", "status": "GO" if passed else "NO-GO",
        "decision_id": None, "export_allowed": passed, "data_passed": passed,
        "figures": {"failing_criteria": failing}, "criteria": []})


def test_only_completed_rehearsals_count_toward_consecutive_passes(tmp_path):
    from dagster_project.readiness.gate import consecutive_passes

    _row(tmp_path, "R1", True)
    _row(tmp_path, "R2", False, failing=3)    # killed half-way: tables missing, so it "failed"
    _row(tmp_path, "R3", True)
    _row(tmp_path, "R4", True)                # killed after its gates: it "passed"
    for r in ("R1", "R3"):
        assert gatelog.complete_rehearsal(tmp_path, f"run-{r}", completed_by="overview")["rehearsal_ids"] == [r]
    assert gatelog.complete_rehearsal(tmp_path, "run-R1") is None      # once
    assert gatelog.complete_rehearsal(tmp_path, "run-none") is None    # no gate of it wrote a row
    hist = gatelog.read_history(tmp_path, "nenkin")
    assert [(h["rehearsal_id"], h["completed"]) for h in hist] == [("R1", True), ("R2", False), ("R3", True),
                                                                   ("R4", False)]
    assert [h["rehearsal_id"] for h in gatelog.read_history(tmp_path, "nenkin", completed_only=True)] == ["R1", "R3"]
    # the gate of the current rehearsal (R5) counts the earlier completed ones and itself: R1, R3, R5;
    # the aborted R2 does not break the row and the aborted R4 does not add to it
    assert consecutive_passes(hist, True) == 3
    assert consecutive_passes(hist, False) == 0
    # the current rehearsal's own row, before its run completes, is its own
    _row(tmp_path, "R5", True)
    earlier = [h for h in gatelog.read_history(tmp_path, "nenkin") if h["rehearsal_id"] != "R5"]
    assert consecutive_passes(earlier, True) == 3


def test_rows_written_before_completion_existed_still_count(tmp_path):
    from dagster_project.readiness.gate import consecutive_passes

    (tmp_path / gatelog.HISTORY).write_text("".join(json.dumps(
        {"system": "nenkin", "rehearsal_id": r, "run_id": r, "data_passed": True}) + "\n" for r in ("A", "B")),
        encoding="utf-8")
    hist = gatelog.read_history(tmp_path, "nenkin")
    assert all(h["completed"] for h in hist) and consecutive_passes(hist, True) == 3


def test_the_overview_lists_an_aborted_rehearsal_apart_and_leaves_it_out_of_the_trend(tmp_path, project):
    import datetime as dt

    from dagster_project.reports.overview import render, system_states, trend_data
    from dagster_project.readiness.gate import load_readiness

    _row(tmp_path, "R1", True, failing=0)
    _row(tmp_path, "R2", False, failing=7)
    _row(tmp_path, "R3", True, failing=1)
    _row(tmp_path, "R2", False, system="zeimu", failing=5)
    for r in ("R1", "R3"):
        gatelog.complete_rehearsal(tmp_path, f"run-{r}")
    out = tmp_path / "reports" / "readiness_overview.html"
    gate = load_readiness(project.root).gate
    counts = render(project, tmp_path, gate, dt.date(2026, 11, 30), out)
    page = out.read_text(encoding="utf-8")
    row = page.split('data-system="nenkin"')[1].split("</tr>")[0]
    assert "リハーサル 2 回" in row and "中断 1 回（数えない）" in row
    states = {st["system"].id: st for st in system_states(project, tmp_path, gate, dt.date(2026, 11, 30))}
    assert [h["figures"]["failing_criteria"] for h in states["nenkin"]["history"]] == [0, 1]   # R2's 7 is not in it
    aborted = page.split('<table id="aborted">')[1].split("</table>")[0]
    assert aborted.count("<tr data-rehearsal=") == 1 and 'data-rehearsal="R2"' in aborted
    assert "国民年金" in aborted and "中断" in aborted
    assert {d["rehearsal"] for d in trend_data(list(states.values()))} == {"R1", "R3"}
    assert page.count("<svg") == 2     # nenkin's chart and the trend; zeimu (no completed rehearsal) has none
    assert json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["aborted_rehearsals"] == ["R2"]
    assert counts["aborted_rehearsals"] == 1
    # zeimu has only the aborted rehearsal: not evaluated, not shown as NO-GO
    assert 'data-system="zeimu" data-status="NONE"' in page


def test_the_overview_completes_only_a_run_that_went_through_its_steps(tmp_path):
    import dagster as dg
    from dagster._core.storage.tags import RUN_FAILURE_REASON_TAG

    from dagster_project.readiness.defs import REHEARSAL_RUN_TAG, RUN_FAILURE_REASON_TAG as ours
    from dagster_project.readiness.defs import complete_rehearsals

    assert ours == RUN_FAILURE_REASON_TAG, "Dagster renamed its failure-reason tag: update readiness/defs"
    runs = {
        "run-R1": (dg.DagsterRunStatus.SUCCESS, {}),
        "run-R2": (dg.DagsterRunStatus.FAILURE, {ours: "STEP_FAILURE"}),        # a system failed: complete
        "run-R3": (dg.DagsterRunStatus.FAILURE, {ours: "RUN_WORKER_RESTART"}),  # the monitor on a killed worker
        "run-R4": (dg.DagsterRunStatus.STARTED, {}),                            # killed in process: never ended
    }
    instance = types.SimpleNamespace(get_run_by_id=lambda rid: types.SimpleNamespace(
        run_id=rid, status=runs[rid][0], tags=runs[rid][1]) if rid in runs else None)
    for r in ("R1", "R2", "R3", "R4", "R5"):
        _row(tmp_path, r, True)
    for rid in runs:
        overview = types.SimpleNamespace(run_id=f"ov-{rid}", tags={REHEARSAL_RUN_TAG: rid})
        complete_rehearsals(instance, overview, tmp_path)
    # the overview in the same run as the gates (tests, the UI's materialize all)
    done, why = complete_rehearsals(instance, types.SimpleNamespace(run_id="run-R5", tags={}), tmp_path)
    assert done == ["R5"] and why == ""
    _, why = complete_rehearsals(instance, types.SimpleNamespace(run_id="ov", tags={REHEARSAL_RUN_TAG: "run-R4"}),
                                 tmp_path)
    assert "最後まで実行されていない（STARTED）" in why
    assert [(h["rehearsal_id"], h["completed"]) for h in gatelog.read_history(tmp_path, "nenkin")] == [
        ("R1", True), ("R2", True), ("R3", False), ("R4", False), ("R5", True)]
