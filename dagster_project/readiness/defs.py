"""Readiness: the 移行可否判定 gate per system, the vendor export package, the ICT overview.

Per current system (group = the system):

- ``readiness/gate_<system>``: evaluates every criterion of ``mappings/readiness.yaml`` on
  this rehearsal; from cutover − N days (``city.gate_days_before_cutover``) until cutover it
  records a decision (GO / CONDITIONAL / NO-GO) in the append-only decision log, and a new
  one only when the outcome changes. Its asset check ``readiness_decision`` shows the state.
- ``exports/package_<system>``: the vendor export package. When the system's decision (or,
  before the gate date, its projected outcome) is not in ``gate.export_on`` it writes nothing
  and records no materialization; its asset check ``gate_allows_export`` fails (WARN) with the
  reason, and the step and the run succeed: a gate that blocks is the gate doing its job, shown
  in the UI as a blocked export, not as a red run. A NO-GO system is never exported. Only a
  refusal that is not the decision's (no evaluation, a log out of step with it) fails the step.

For the ICT office: ``reports/readiness_overview`` (job ``readiness_overview``), run after
every rehearsal by a run-status sensor whether the rehearsal succeeded or failed, so one
system's failure never hides the others. ``daily_rehearsal`` runs the whole pipeline daily.

Only a rehearsal that ran to its end counts (連続合格リハーサル回数, the trend). Its gates write their
rows while it runs; the overview completes it (``gatelog.complete_rehearsal``): the rehearsal of
its own run when it is part of it, and the one named by the run tag ``REHEARSAL_RUN_TAG`` (set by
``kikan run`` and the sensors) when that run ended as Dagster records a run that went through all
its steps: success, or failure because a step failed. A killed run (no end; or ended by the
daemon's run monitoring as a crash) is never completed: its rows stay as aborted (中断).

Before evaluating, each gate records any change of the owners' inputs made by hand since the last
audit entry (``owner_audit.record_hand_edits``), so the audit log is whole when the gate decides.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from dagster_project.readiness import gatelog
from dagster_project.readiness import owner_audit
from dagster_project.spec.config import cached_project
from dagster_project.core.names import export_key, gate_key, model_key, report_key, std_name
from dagster_project.readiness.export import catalog_version, gate_release, prune, write_package
from dagster_project.resources import ReadinessResource, WarehouseResource  # noqa: F401 (re-exported)
from dagster_project.spec.mapping import cached_mappings
from dagster_project.readiness.gate import OUTCOME_JA, Evaluation, evaluate, gate_date, load_readiness
from dagster_project.core.warehouse import connect

project = cached_project()
mappings = cached_mappings()
CONFIG = load_readiness(project.root)   # a wrong readiness.yaml fails when the definitions load


# the export asset's check: failed (WARN) when the gate blocks the package; `kikan run` counts blocks by it
GATE_EXPORT_CHECK = "gate_allows_export"
# metadata key on that check's result, true when the gate blocked the package
BLOCKED_BY_GATE = "blocked_by_gate"
# the run tag that names, on an overview run, the rehearsal run it follows (kikan run, the sensors)
REHEARSAL_RUN_TAG = "kikan/rehearsal_run_id"
# Dagster's run tag for why a run failed ("STEP_FAILURE": it went through its steps, one failed);
# tests/unit/test_gatelog_evidence.py fails if Dagster renames it
RUN_FAILURE_REASON_TAG = "dagster/failure_reason"


def _phase(system, today: dt.date) -> str:
    gd = gate_date(system.cutover, project.city.city.gate_days_before_cutover)
    if today < gd:
        return "before_gate"
    return "gate" if today < system.cutover else "after_cutover"


def _input_files(db: Path, system: str) -> list[dict]:
    with connect(db, read_only=True) as con:
        rows = con.execute("select file_name, file_sha256, file_bytes, records_in_file from meta.extract_files "
                           "where system = ? order by file_name", [system]).fetchall()
    return [{"file": f, "sha256": h, "bytes": int(b), "records": int(r)} for f, h, b, r in rows]


def _owner_inputs_sha256(owner_root: Path, system: str) -> str:
    files = [p for p in (owner_root / system).glob("*") if p.is_file()]
    shared = owner_root / "gaiji" / "decisions.csv"
    return gatelog.files_sha256(files + ([shared] if shared.exists() else []))


def _change_reason(prev: dict, ev) -> str:
    before = {c["id"]: c for c in prev["criteria"]}
    fixed = [c.label for c in ev.criteria if c.passed and not before.get(c.id, {}).get("passed", True)]
    broke = [c.label for c in ev.criteria if not c.passed and before.get(c.id, {}).get("passed", False)]
    parts = [f"前回判定 {prev['decision']}（{prev['decision_id']}）から {ev.outcome} に変更"]
    if fixed:
        parts.append("解消した基準: " + "、".join(fixed))
    if broke:
        parts.append("新たに満たさない基準: " + "、".join(broke))
    return "。".join(parts)


@dataclass
class GateJudgement:
    """A gate's evaluation on one rehearsal, as recorded (history; the decision log in the gate phase)."""

    ev: Evaluation
    today: dt.date
    phase: str
    rehearsal_id: str
    status: str
    decision: dict | None
    recorded: dict | None
    allowed: bool
    audited: dict | None


def judge_gate(system_id: str, run_id: str, warehouse: WarehouseResource,
               readiness: ReadinessResource) -> GateJudgement:
    """Evaluate ``system_id``'s gate on the rehearsal of ``run_id`` and record it. The gate asset
    calls it; so does the dbt step for a system whose models failed (Dagster skips that system's
    gate step, as its models were not built, and the failure must still be judged: NO-GO)."""
    s = project.city.system(system_id)
    gd = gate_date(s.cutover, project.city.city.gate_days_before_cutover)
    today = readiness.as_of()
    phase = _phase(s, today)
    rehearsal_id = f"R{today:%Y%m%d}-{run_id[:8]}"
    state = readiness.state_path
    with gatelog.lock(state):
        # a change of the owners' inputs made by hand is on record before the gate weighs them
        audited = owner_audit.record_hand_edits(state, readiness.owner_path, system_id,
                                                noticed_by={"rehearsal_id": rehearsal_id, "run_id": run_id})
        history = [h for h in gatelog.read_history(state, system_id) if h["rehearsal_id"] != rehearsal_id]
        ev = evaluate(project, warehouse.db_path, system_id, readiness.owner_path, today, history, CONFIG.gate)
        log = gatelog.read_log(state)
        latest = gatelog.latest_decision(log, system_id)
        recorded = None
        if phase == "gate" and (latest is None or latest["decision"] != ev.outcome):
            recorded = gatelog.append_decision(state, {
                "system": system_id, "system_name": s.name, "decision": ev.outcome,
                "decision_ja": OUTCOME_JA[ev.outcome],
                "kind": "初回判定" if latest is None else "再判定",
                "reason": ev.reasons_ja() if latest is None else _change_reason(latest, ev) + "。" + ev.reasons_ja(),
                "previous_decision_id": latest["decision_id"] if latest else None,
                "as_of": today.isoformat(), "gate_date": gd.isoformat(), "cutover": s.cutover.isoformat(),
                "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "rehearsal_id": rehearsal_id, "run_id": run_id,
                "criteria": [c.__dict__ for c in ev.criteria], "figures": ev.figures,
                "input_files": _input_files(warehouse.db_path, system_id),
                "owner_inputs_sha256": _owner_inputs_sha256(readiness.owner_path, system_id),
                "catalog_version": catalog_version(), "code_version": gatelog.code_version(),
            }, entries=log)
            latest = recorded
            log = [*log, recorded]
        decision = latest if phase != "before_gate" else None
        status = decision["decision"] if decision else ev.outcome
        allowed = status in CONFIG.gate.export_on
        gatelog.append_history(state, {
            "system": system_id, "rehearsal_id": rehearsal_id, "run_id": run_id,
            "evaluated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "as_of": today.isoformat(), "phase": phase, "outcome": ev.outcome, "status": status,
            "decision_id": decision["decision_id"] if decision else None, "export_allowed": allowed,
            "data_passed": ev.data_passed, "figures": ev.figures,
            "criteria": [c.__dict__ for c in ev.criteria],
        }, log=log)
    return GateJudgement(ev, today, phase, rehearsal_id, status, decision, recorded, allowed, audited)


def _gate_asset(system_id: str) -> dg.AssetsDefinition:
    s = project.city.system(system_id)
    tables = mappings.for_system(system_id)
    deps = ([model_key("readiness", f"recon_{system_id}"), report_key("gap_report", system_id),
             report_key("gaiji_list", system_id)]
            + [model_key("conformance", f"conf_{system_id}__{k}") for k in ("findings", "chars")]
            + [model_key("standard", std_name(t)) for t in tables])
    key = gate_key(system_id)
    gd = gate_date(s.cutover, project.city.city.gate_days_before_cutover)

    @dg.asset(
        key=key, group_name=system_id, deps=deps, kinds={"python"}, owners=[s.dagster_owner],
        tags={"system": system_id, "layer": "readiness"}, metadata={"owner_department": s.owner},
        check_specs=[dg.AssetCheckSpec("readiness_decision", asset=key,
                                       description="移行可否判定が GO（移行可）であること。判定前は見込みを示す。")],
        description=(f"{s.name}の移行可否判定（移行日 {s.cutover.isoformat()}、判定日 {gd.isoformat()}）: "
                     "mappings/readiness.yaml の判定基準（必須項目・件数保存・突合・キー違反・個人番号紐付け・"
                     "ギャップの対応方針・外字・リハーサル回数・所管課の承認）を評価し、判定日以降は判定ログに記録する。"),
    )
    def _gate(context: dg.AssetExecutionContext, warehouse: WarehouseResource, readiness: ReadinessResource):
        try:
            j = judge_gate(system_id, context.run_id, warehouse, readiness)
        except gatelog.LogCorrupted as exc:
            # the project's own words (file, line numbers, hashes; never a value): said on the
            # terminal and in the UI, not withheld like an unknown error's text
            raise dg.Failure(description=f"判定ログ・記録の異常のため判定しない（出力もしない）: {exc}") from None
        ev, today, phase, rehearsal_id, status = j.ev, j.today, j.phase, j.rehearsal_id, j.status
        decision, recorded, allowed, audited = j.decision, j.recorded, j.allowed, j.audited
        failing = [c.label for c in ev.failing]
        yield dg.MaterializeResult(
            metadata={
                "status": status, "status_ja": OUTCOME_JA[status], "phase": phase, "as_of": today.isoformat(),
                "gate_date": gd.isoformat(), "days_to_cutover": (s.cutover - today).days,
                "decision_id": decision["decision_id"] if decision else "（判定前）",
                "recorded_now": recorded is not None, "export_allowed": allowed, "rehearsal_id": rehearsal_id,
                "owner_audit": audited["audit_id"] if audited else "（変更なし）",
                "failing_criteria": dg.MetadataValue.json(failing),
                "criteria": dg.MetadataValue.md(
                    "| 基準 | 値 | 閾値 | 結果 | 根拠 |\n|---|---|---|---|---|\n" + "\n".join(
                        f"| {c.label} | {c.value:,} | {c.rule} {c.threshold} | {'合格' if c.passed else '不合格'} | "
                        f"{c.evidence} |" for c in ev.criteria)),
            },
        )
        yield dg.AssetCheckResult(
            check_name="readiness_decision", passed=status == "GO", severity=dg.AssetCheckSeverity.WARN,
            metadata={"status": status, "phase": phase, "failing_criteria": dg.MetadataValue.json(failing)},
        )

    return _gate


def _export_asset(system_id: str) -> dg.AssetsDefinition:
    s = project.city.system(system_id)
    tables = mappings.for_system(system_id)
    key = export_key(system_id)
    export_on = "・".join(CONFIG.gate.export_on)

    @dg.asset(
        key=key, group_name=system_id, output_required=False, owners=[s.dagster_owner],
        deps=[gate_key(system_id)] + [model_key("standard", std_name(t)) for t in tables],
        kinds={"csv", "parquet"}, tags={"system": system_id, "layer": "exports"},
        metadata={"owner_department": s.owner},
        check_specs=[dg.AssetCheckSpec(GATE_EXPORT_CHECK, asset=key, description=(
            f"移行可否判定が {export_on} で、移行データの出力を認めていること。認めないとき（NO-GO）は出力せず、"
            "この検査が理由とともに不合格（警告）になる。実行は失敗にしない。"))],
        description=(f"{s.name}の移行データ一式（移行事業者向け、Frictionless Data Package）: datapackage.json（型・主キー・"
                     "外部キー・コード値の表スキーマ）、標準テーブルごとの UTF-8 CSV（見出しは標準項目ID）と Parquet、"
                     "標準コード表、変換フラグ（conversion_flags）、manifest.json（件数・SHA-256・カタログ版・判定ID）。"
                     f"移行可否判定が {export_on} のときだけ書き出す。NO-GO では書き出さず、"
                     f"検査 {GATE_EXPORT_CHECK} が理由を示す。"),
    )
    def _export(context: dg.AssetExecutionContext, warehouse: WarehouseResource, readiness: ReadinessResource):
        prune(readiness.exports_path, system_id, readiness.keep_packages)   # what a killed run left
        gr = gate_release(readiness.state_path, system_id, s.name, CONFIG.gate.export_on)   # also kikan export's rule
        decision = {"system": system_id, "decision": gr.status or "", "decision_id": gr.decision_id or "（判定前）"}
        if gr.blocked_by_gate:
            # the gate doing its job: no package, no materialization, a failed check with the reason
            context.log.warning(gr.message_ja)
            yield dg.AssetCheckResult(
                check_name=GATE_EXPORT_CHECK, passed=False, severity=dg.AssetCheckSeverity.WARN,
                description=gr.message_ja,
                metadata={"reason": gr.message_ja, **decision, BLOCKED_BY_GATE: True,
                          "failing_criteria": dg.MetadataValue.json(gr.failing)},
            )
            return
        if not gr.allowed:
            # not the decision's refusal (no evaluation, the log out of step with it): something is wrong
            raise dg.Failure(description=gr.message_ja, metadata={"system": system_id})
        package_id = f"P{dt.datetime.now():%Y%m%d%H%M%S}-{context.run_id[:8]}"
        manifest = write_package(warehouse.db_path, system_id, tables, readiness.exports_path, package_id, gr.release)
        prune(readiness.exports_path, system_id, readiness.keep_packages)
        yield dg.MaterializeResult(metadata={
            "package": dg.MetadataValue.path(str(readiness.exports_path / system_id / package_id)),
            "tables": len(manifest["tables"]), "rows": sum(t["rows"] for t in manifest["tables"]),
            "status": gr.status, "decision_id": decision["decision_id"],
            "catalog_version": manifest["catalog_version"],
        })
        yield dg.AssetCheckResult(
            check_name=GATE_EXPORT_CHECK, passed=True,
            description=f"{s.name}: 移行可否判定 {gr.status}（{decision['decision_id']}）のため出力した",
            metadata={"reason": "出力を認める判定", **decision, BLOCKED_BY_GATE: False},
        )

    return _export


def ran_to_end(run) -> bool:
    """Whether Dagster records ``run`` as having gone through its steps: success, or failure
    because a step failed (a system's failure is part of a rehearsal). Not a run still going, nor
    one that ended otherwise (the run monitor's verdict on a killed worker, an exception in the run)."""
    if run is None:
        return False
    if run.status == dg.DagsterRunStatus.SUCCESS:
        return True
    return run.status == dg.DagsterRunStatus.FAILURE and run.tags.get(RUN_FAILURE_REASON_TAG) == "STEP_FAILURE"


def complete_rehearsals(instance, run, state: Path) -> tuple[list[str], str]:
    """Complete the rehearsal of this run (when its gates are in it) and of the run its tag names
    (when that ran to its end). Returns the rehearsal ids completed now, and why the tagged one was
    not. Caller holds the lock."""
    done, why_not = [], ""
    tagged = run.tags.get(REHEARSAL_RUN_TAG)
    if tagged and tagged != run.run_id:
        other = instance.get_run_by_id(tagged)
        if ran_to_end(other):
            m = gatelog.complete_rehearsal(state, tagged, completed_by=run.run_id)
            done += m["rehearsal_ids"] if m else []
        else:
            why_not = (f"リハーサル {tagged[:8]} は最後まで実行されていない（{other.status.value if other else '記録なし'}）ため"
                       "完了として記録しない")
    m = gatelog.complete_rehearsal(state, run.run_id, completed_by=run.run_id)
    done += m["rehearsal_ids"] if m else []
    return done, why_not


assets = [a for s in project.city.systems for a in (_gate_asset(s.id), _export_asset(s.id))]
defs = dg.Definitions(
    assets=assets,
    resources={"readiness": ReadinessResource()},
)
