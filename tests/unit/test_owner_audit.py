"""The owners' audit log (readiness/owner_audit.py): an import of an owner's workbook and a hand edit of
mappings/ each append a hash-chained entry saying who, when and which rows changed, old → new,
with free text (理由) as a hash only. Workbooks, the warehouse and mappings/ come from the patterns
of test_owner_import.py."""

from __future__ import annotations

import getpass
import hashlib
import json

import pytest

from dagster_project import cli
from dagster_project.readiness import gatelog
from dagster_project.readiness import owner_audit
from dagster_project.reports.owner_import import import_workbook
from tests.unit import test_owner_import as oi

root = oi.root          # a temporary copy of mappings/
db = oi.db              # a warehouse holding the gaps, findings and people the importer checks against
cli_env = oi.cli_env
SYS, DATA_IDS, TODAY = oi.SYS, oi.DATA_IDS, oi.TODAY
GAPS = f"mappings/{SYS}/gap_decisions.yaml"


def _hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def test_an_import_is_audited_with_the_workbook_the_importer_and_every_changed_row(tmp_path, root, db):
    state = tmp_path / "readiness"
    wb = oi.make_workbook(tmp_path / "in" / "kokuho_移行確認.xlsx", {
        "データ差異": [oi.gap(DATA_IDS[0]), oi.gap(DATA_IDS[1], on="2026/13/01")],     # the second is rejected
        "個人番号紐付け確認": [{"標準テーブル": oi.PERSON[0], "宛名番号": oi.PERSON[1], "確認結果": "本人確認済",
                                "確認者": "係長", "確認日": "2026/11/21"}]})
    r = import_workbook(wb, root, db, today=TODAY, audit_dir=state)
    assert r.applied == 2 and r.rejected == 1
    entries = gatelog.read_audit(state)
    assert [(e["kind"], e["system"]) for e in entries] == [("初回記録", SYS), ("取込", SYS)]
    e = entries[-1]
    assert r.audit == e and e["audit_id"] == "A00002-kokuho"
    assert e["who"] == getpass.getuser() and e["import"] == {
        "file": "kokuho_移行確認.xlsx", "sha256": hashlib.sha256(wb.read_bytes()).hexdigest(), "importer": getpass.getuser()}
    assert e["files_changed"] == [GAPS, f"mappings/{SYS}/mynumber_reviews.csv"]
    assert e["changes"] == [
        {"file": GAPS, "key": DATA_IDS[0], "change": "追加", "sheet": "データ差異", "row": 5, "decided_by": "保険年金課長",
         "fields": {"decided_by": [None, "保険年金課長"], "decided_on": [None, "2026-11-20"], "decision": [None, "データ補正"],
                    "gap_id": [None, DATA_IDS[0]], "reason": [None, _hash("移行前に補正する")]}},
        {"file": f"mappings/{SYS}/mynumber_reviews.csv", "key": " ".join(oi.PERSON), "change": "追加",
         "sheet": "個人番号紐付け確認", "row": 5, "decided_by": "係長",
         "fields": {"atena_no": [None, oi.PERSON[1]], "result": [None, "本人確認済"], "reviewed_by": [None, "係長"],
                    "reviewed_on": [None, "2026-11-21"], "std_ref": [None, oi.PERSON[0]]}}]
    assert "移行前に補正する" not in (state / gatelog.AUDIT).read_text(encoding="utf-8")   # free text as a hash only
    # a changed decision: old -> new of the fields that changed
    r = import_workbook(oi.make_workbook(tmp_path / "b.xlsx", {"データ差異": [oi.gap(DATA_IDS[0], decision="業務フロー変更")]}),
                        root, db, today=TODAY, audit_dir=state)
    assert r.audit["changes"] == [{"file": GAPS, "key": DATA_IDS[0], "change": "変更", "sheet": "データ差異", "row": 5,
                                   "decided_by": "保険年金課長", "fields": {"decision": ["データ補正", "業務フロー変更"]}}]
    assert "監査ログに記録: A00003-kokuho（1 行の変更）" in oi.format_result(r)
    # the same workbook again changes nothing and appends nothing; neither does the next gate
    again = import_workbook(tmp_path / "b.xlsx", root, db, today=TODAY, audit_dir=state)
    assert again.audit is None
    assert owner_audit.record_hand_edits(state, root, SYS) is None
    assert len(gatelog.read_audit(state)) == 3


def test_a_hand_edit_is_audited_as_such_with_the_rows_it_changed(tmp_path, root):
    state = tmp_path / "readiness"
    first = owner_audit.record_hand_edits(state, root, SYS, noticed_by={"rehearsal_id": "R1"})
    assert first["kind"] == "初回記録" and first["noticed_by"] == {"rehearsal_id": "R1"}
    assert owner_audit.record_hand_edits(state, root, SYS) is None                  # nothing changed
    path = root / SYS / "gap_decisions.yaml"
    head = "# 所管課の対応方針（手書き）\nsystem: kokuho\ndecisions:\n"

    def decide(decision: str | None, comment: str = "") -> None:
        rows = (f"  - gap_id: '{DATA_IDS[1]}'\n    decision: {decision}\n    reason: 窓口で本人に確認した\n"
                "    decided_by: 保険年金課長\n    decided_on: 2026-11-20\n") if decision else ""
        path.write_text(head + comment + (rows or "  []\n"), encoding="utf-8")

    decide("データ補正")
    e = owner_audit.record_hand_edits(state, root, SYS, noticed_by={"rehearsal_id": "R2"})
    assert (e["kind"], e["who"], e["files_changed"], e["rows_changed"]) == ("手編集", "不明（手編集）", [GAPS], 1)
    assert e["changes"] == [{"file": GAPS, "key": DATA_IDS[1], "change": "追加", "fields": {
        "decided_by": [None, "保険年金課長"], "decided_on": [None, "2026-11-20"], "decision": [None, "データ補正"],
        "gap_id": [None, DATA_IDS[1]], "reason": [None, _hash("窓口で本人に確認した")]}}]
    assert e["previous_owner_sha256"] == first["owner_sha256"] != e["owner_sha256"]
    decide("対応不要")
    e = owner_audit.record_hand_edits(state, root, SYS)
    assert e["changes"] == [{"file": GAPS, "key": DATA_IDS[1], "change": "変更", "fields": {"decision": ["データ補正", "対応不要"]}}]
    decide("対応不要", comment="# 見直し済み\n")                                   # the bytes change, no row does
    e = owner_audit.record_hand_edits(state, root, SYS)
    assert e["rows_changed"] == 0 and e["files_changed"] == [GAPS] and "行の変更なし" in e["note"]
    decide(None)
    e = owner_audit.record_hand_edits(state, root, SYS)
    assert [(c["key"], c["change"]) for c in e["changes"]] == [(DATA_IDS[1], "削除")]
    assert e["changes"][0]["fields"]["decision"] == ["対応不要", None]
    # another system's row of the shared 外字 decisions is not this system's input
    gaiji = root / "gaiji" / "decisions.csv"
    gaiji.write_text(gaiji.read_text(encoding="utf-8") + "jumin,F999,要確認,,,係長,2026-11-20,\n", encoding="utf-8")
    assert owner_audit.record_hand_edits(state, root, SYS) is None
    assert "窓口で本人に確認した" not in (state / gatelog.AUDIT).read_text(encoding="utf-8")
    assert [x["kind"] for x in gatelog.read_audit(state)] == ["初回記録", "手編集", "手編集", "手編集", "手編集"]
    snap = json.loads((state / owner_audit.SNAPSHOTS / f"{SYS}.json").read_text(encoding="utf-8"))
    assert snap["files"][GAPS]["rows"] == {}


def test_a_hand_edit_before_an_import_is_not_credited_to_the_import(tmp_path, root, db):
    state = tmp_path / "readiness"
    owner_audit.record_hand_edits(state, root, SYS)
    (root / SYS / "signoff.yaml").write_text("system: kokuho\nsigned_by: 保険年金課長\nrole: 所管課長\n"
                                             "signed_on: 2026-11-25\nstatement: 確認した\n", encoding="utf-8")
    import_workbook(oi.make_workbook(tmp_path / "k.xlsx", {"データ差異": [oi.gap(DATA_IDS[0])]}), root, db,
                    today=TODAY, audit_dir=state)
    hand, imp = gatelog.read_audit(state)[-2:]
    assert (hand["kind"], hand["noticed_by"]) == ("手編集", {"import": "k.xlsx"})
    assert [c["file"] for c in hand["changes"]] == [f"mappings/{SYS}/signoff.yaml"]
    assert hand["changes"][0]["fields"]["signed_by"] == [None, "保険年金課長"]
    assert imp["kind"] == "取込" and [c["file"] for c in imp["changes"]] == [GAPS]


def test_a_kill_between_the_entry_and_its_snapshot_neither_repeats_nor_misattributes(tmp_path, root, monkeypatch):
    state = tmp_path / "readiness"
    owner_audit.record_hand_edits(state, root, SYS)
    path = root / SYS / "record_decisions.csv"
    path.write_text("finding_id,decision,reason,decided_by,decided_on\n"
                    f"{oi.FINDING},データ補正,直す,係長,2026-11-20\n", encoding="utf-8")
    real = owner_audit._save_snapshot

    def killed(state_dir, snap):
        raise KeyboardInterrupt("killed after the entry, before the snapshot")
    monkeypatch.setattr(owner_audit, "_save_snapshot", killed)
    with pytest.raises(KeyboardInterrupt):
        owner_audit.record_hand_edits(state, root, SYS)
    monkeypatch.setattr(owner_audit, "_save_snapshot", real)
    assert owner_audit.record_hand_edits(state, root, SYS) is None          # on record already; the copy is caught up
    path.write_text(path.read_text(encoding="utf-8").replace("データ補正", "対応不要"), encoding="utf-8")
    e = owner_audit.record_hand_edits(state, root, SYS)
    assert e["changes"] == [{"file": f"mappings/{SYS}/record_decisions.csv", "key": oi.FINDING, "change": "変更",
                             "fields": {"decision": ["データ補正", "対応不要"]}}]


def test_kikan_decisions_import_records_in_the_state_folder(cli_env, root, db):
    wb = oi.make_workbook(cli_env / "good.xlsx", {"データ差異": [oi.gap(DATA_IDS[0], on=oi.recent())]})
    assert cli.main(["decisions", "import", str(wb), "--db", str(db)]) == 0
    entries = gatelog.read_audit(cli_env / "var" / "readiness")
    assert [e["kind"] for e in entries] == ["初回記録", "取込"] and entries[-1]["import"]["file"] == "good.xlsx"


def test_an_unreadable_owner_file_is_audited_without_stopping_the_gate(tmp_path, root):
    """A YAML syntax error, a folder in a file's place: on record as unreadable, never an exception."""
    state = tmp_path / "readiness"
    owner_audit.record_hand_edits(state, root, SYS)
    (root / SYS / "gap_decisions.yaml").write_text("system: kokuho\ndecisions:\n  - gap_id: [\n", encoding="utf-8")
    (root / SYS / "signoff.yaml").mkdir()
    e = owner_audit.record_hand_edits(state, root, SYS)
    assert e["kind"] == "手編集" and e["files_changed"] == [GAPS, f"mappings/{SYS}/signoff.yaml"]
    snap = owner_audit.load_snapshot(state, SYS)
    assert snap["files"][GAPS]["unreadable"] and snap["files"][f"mappings/{SYS}/signoff.yaml"]["unreadable"]
