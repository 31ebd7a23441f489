"""Readiness: the 移行可否判定 gate per system, the vendor export package, the ICT overview.

Per current system (group = the system):

- ``readiness/gate_<system>``: evaluates every criterion of ``mappings/readiness.yaml`` on
  this rehearsal; from cutover − N days (``city.gate_days_before_cutover``) until cutover it
  records a decision (GO / CONDITIONAL / NO-GO) in the append-only decision log, and a new
  one only when the outcome changes. Its asset check ``readiness_decision`` shows the state.
- ``exports/package_<system>``: the vendor export package. It refuses to write, and its step
  fails, when the system's decision (or, before the gate date, its projected outcome) is not
  in ``gate.export_on``: a NO-GO system is never exported.

For the ICT office: ``reports/readiness_overview`` (job ``readiness_overview``), run after
every rehearsal by a run-status sensor whether the rehearsal succeeded or failed, so one
system's failure never hides the others. ``daily_rehearsal`` runs the whole pipeline daily.
"""

import datetime as dt
import os
from pathlib import Path

import dagster as dg

from ...lib import gatelog
from ...lib.config import cached_project
from ...lib.sqlnames import std_name
from ...lib.export import catalog_version, prune, write_package
from ...lib.extract_assets import WarehouseResource
from ...lib.mapping import cached_mappings
from ...lib.overview import render
from ...lib.readiness import OUTCOME_JA, evaluate, gate_date, load_readiness
from ...lib.warehouse import connect, default_var_dir

project = cached_project()
mappings = cached_mappings()
CONFIG = load_readiness(project.root)   # a wrong readiness.yaml fails when the definitions load


# metadata key of the Failure an export step raises when the gate does not allow it
BLOCKED_BY_GATE = "blocked_by_gate"


class ReadinessResource(dg.ConfigurableResource):
    """Where the gate keeps its records and writes packages, which day it judges, and where
    the owners' inputs (decisions, reviews, sign-offs) are read. Empty values fall back to
    KIKAN_READINESS_DIR / KIKAN_EXPORTS_DIR / KIKAN_TODAY, then ``var/`` and city.as_of
    (null: the machine's date)."""

    state_dir: str = ""
    exports_dir: str = ""
    today: str = ""
    owner_dir: str = ""
    keep_packages: int = 3

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir or os.environ.get("KIKAN_READINESS_DIR", default_var_dir() / "readiness"))

    @property
    def exports_path(self) -> Path:
        return Path(self.exports_dir or os.environ.get("KIKAN_EXPORTS_DIR", default_var_dir() / "exports"))

    @property
    def owner_path(self) -> Path:
        return Path(self.owner_dir) if self.owner_dir else project.root

    def as_of(self) -> dt.date:
        v = self.today or os.environ.get("KIKAN_TODAY", "")
        if v:
            return dt.date.fromisoformat(v)
        return project.city.city.as_of or dt.date.today()


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


def _gate_asset(system_id: str) -> dg.AssetsDefinition:
    s = project.city.system(system_id)
    tables = mappings.for_system(system_id)
    deps = ([dg.AssetKey(["readiness", f"recon_{system_id}"]), dg.AssetKey(["reports", f"gap_report_{system_id}"]),
             dg.AssetKey(["reports", f"gaiji_list_{system_id}"])]
            + [dg.AssetKey(["conformance", f"conf_{system_id}__{k}"]) for k in ("findings", "chars")]
            + [dg.AssetKey(["standard", std_name(t)]) for t in tables])
    key = dg.AssetKey(["readiness", f"gate_{system_id}"])
    gd = gate_date(s.cutover, project.city.city.gate_days_before_cutover)

    @dg.asset(
        key=key, group_name=system_id, deps=deps, kinds={"python"},
        tags={"system": system_id, "layer": "readiness"},
        check_specs=[dg.AssetCheckSpec("readiness_decision", asset=key,
                                       description="移行可否判定が GO（移行可）であること。判定前は見込みを示す。")],
        description=(f"{s.name}の移行可否判定（移行日 {s.cutover.isoformat()}、判定日 {gd.isoformat()}）: "
                     "mappings/readiness.yaml の判定基準（必須項目・件数保存・突合・キー違反・個人番号紐付け・"
                     "ギャップの対応方針・外字・リハーサル回数・所管課の承認）を評価し、判定日以降は判定ログに記録する。"),
    )
    def _gate(context: dg.AssetExecutionContext, warehouse: WarehouseResource, readiness: ReadinessResource):
        today = readiness.as_of()
        phase = _phase(s, today)
        rehearsal_id = f"R{today:%Y%m%d}-{context.run_id[:8]}"
        state = readiness.state_path
        with gatelog.lock(state):
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
                    "rehearsal_id": rehearsal_id, "run_id": context.run_id,
                    "criteria": [c.__dict__ for c in ev.criteria], "figures": ev.figures,
                    "input_files": _input_files(warehouse.db_path, system_id),
                    "owner_inputs_sha256": _owner_inputs_sha256(readiness.owner_path, system_id),
                    "catalog_version": catalog_version(), "code_version": gatelog.code_version(),
                }, entries=log)
                latest = recorded
            decision = latest if phase != "before_gate" else None
            status = decision["decision"] if decision else ev.outcome
            allowed = status in CONFIG.gate.export_on
            gatelog.append_history(state, {
                "system": system_id, "rehearsal_id": rehearsal_id, "run_id": context.run_id,
                "evaluated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "as_of": today.isoformat(), "phase": phase, "outcome": ev.outcome, "status": status,
                "decision_id": decision["decision_id"] if decision else None, "export_allowed": allowed,
                "data_passed": ev.data_passed, "figures": ev.figures,
                "criteria": [c.__dict__ for c in ev.criteria],
            })
        failing = [c.label for c in ev.failing]
        yield dg.MaterializeResult(
            metadata={
                "status": status, "status_ja": OUTCOME_JA[status], "phase": phase, "as_of": today.isoformat(),
                "gate_date": gd.isoformat(), "days_to_cutover": (s.cutover - today).days,
                "decision_id": decision["decision_id"] if decision else "（判定前）",
                "recorded_now": recorded is not None, "export_allowed": allowed, "rehearsal_id": rehearsal_id,
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

    @dg.asset(
        key=dg.AssetKey(["exports", f"package_{system_id}"]), group_name=system_id,
        deps=[dg.AssetKey(["readiness", f"gate_{system_id}"])] + [dg.AssetKey(["standard", std_name(t)]) for t in tables],
        kinds={"csv", "parquet"}, tags={"system": system_id, "layer": "exports"},
        description=(f"{s.name}の移行データ一式（移行事業者向け）: 標準テーブルごとの UTF-8 CSV（見出しは標準項目ID）と "
                     "Parquet、layout.csv、manifest.json（件数・SHA-256・カタログ版・判定ID）。"
                     f"移行可否判定が {'・'.join(CONFIG.gate.export_on)} のときだけ書き出し、NO-GO では停止する。"),
    )
    def _export(context: dg.AssetExecutionContext, warehouse: WarehouseResource, readiness: ReadinessResource):
        state = readiness.state_path
        prune(readiness.exports_path, system_id, readiness.keep_packages)   # what a killed run left
        with gatelog.lock(state):
            hist = gatelog.read_history(state, system_id)
            log = gatelog.read_log(state)
        cur = hist[-1] if hist else None
        if cur is None:
            raise dg.Failure(description=f"{s.name}: 移行可否判定が未評価のため移行データを出力しない",
                             metadata={"system": system_id})
        latest = gatelog.latest_decision(log, system_id)
        status = cur["status"]
        if cur["phase"] != "before_gate":
            # the log is the record: the package goes out under the latest recorded decision only
            if latest is None or latest["decision_id"] != cur["decision_id"]:
                raise dg.Failure(description=f"{s.name}: 判定ログと最新の評価が一致しない（再評価が必要）",
                                 metadata={"system": system_id})
            status = latest["decision"]
        if status not in CONFIG.gate.export_on:
            failing = [c["label"] for c in cur["criteria"] if not c["passed"]]
            raise dg.Failure(
                description=(f"{s.name}: 移行可否判定 {status}（{OUTCOME_JA[status]}、"
                             f"{cur['decision_id'] or '判定前の見込み'}）のため移行データを出力しない。"
                             f"満たしていない基準: {'、'.join(failing)}"),
                metadata={"system": system_id, BLOCKED_BY_GATE: True, "status": status,
                          "decision_id": cur["decision_id"] or "",
                          "failing_criteria": dg.MetadataValue.json(failing)},
            )
        package_id = f"P{dt.datetime.now():%Y%m%d%H%M%S}-{context.run_id[:8]}"
        release = {"status": status, "decision_id": cur["decision_id"], "phase": cur["phase"],
                   "rehearsal_id": cur["rehearsal_id"], "as_of": cur["as_of"]}
        manifest = write_package(warehouse.db_path, system_id, tables, readiness.exports_path, package_id, release)
        prune(readiness.exports_path, system_id, readiness.keep_packages)
        return dg.MaterializeResult(metadata={
            "package": dg.MetadataValue.path(str(readiness.exports_path / system_id / package_id)),
            "tables": len(manifest["tables"]), "rows": sum(t["rows"] for t in manifest["tables"]),
            "status": status, "decision_id": cur["decision_id"] or "（判定前）",
            "catalog_version": manifest["catalog_version"],
        })

    return _export


OVERVIEW_KEY = dg.AssetKey(["reports", "readiness_overview"])


@dg.asset(
    key=OVERVIEW_KEY, group_name="ict_office", kinds={"html"},
    deps=[dg.AssetKey(["readiness", f"gate_{s.id}"]) for s in project.city.systems]
    + [dg.AssetKey(["reports", f"owner_workbook_{s.id}"]) for s in project.city.systems],   # it links to them
    description="ICTイノベーション推進室向け 移行可否判定 状況一覧（HTML）: 全システムの状況（色）、移行日までの日数、"
                "満たしていない基準、前回リハーサルとの差、リハーサルごとの推移、各ギャップレポートへのリンク。"
                "個人情報を含まない。",
)
def readiness_overview(warehouse: WarehouseResource, readiness: ReadinessResource) -> dg.MaterializeResult:
    out = warehouse.reports_path / "readiness_overview.html"
    with gatelog.lock(readiness.state_path):
        r = render(project, readiness.state_path, CONFIG.gate, readiness.as_of(), out)
    return dg.MaterializeResult(metadata={
        "path_html": dg.MetadataValue.path(r.pop("html")), "path_json": dg.MetadataValue.path(r.pop("json")), **r})


overview_job = dg.define_asset_job(
    "readiness_overview", selection=[OVERVIEW_KEY],
    description="The ICT office's overview page, made from the rehearsal history and the decision log.")


assets = [a for s in project.city.systems for a in (_gate_asset(s.id), _export_asset(s.id))]
defs = dg.Definitions(
    assets=[*assets, readiness_overview],
    jobs=[overview_job],
    resources={"readiness": ReadinessResource()},
)
