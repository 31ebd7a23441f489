"""Migration readiness (移行可否判定): the criteria of a system, their evidence, the decision.

Everything a gate weighs is read here, per system, from the warehouse (gaps, conformance and
reconciliation models, extraction bookkeeping) and from the owners' inputs under
``mappings/<system>/`` (gap decisions, 外字 decisions, My Number reviews, the sign-off).
Which criteria apply and what failing each means is data (``mappings/readiness.yaml``).

A criterion yields a value (a count), the largest passing value, pass / fail and a Japanese
line of evidence made of counts and ids only, never a value from a record.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dagster_project.core.duck import open_warehouse
from dagster_project.spec.reconciliation import ReconConfig
from dagster_project.spec.config import ConfigError, Project, _build, _read_yaml, read_csv_models
from dagster_project.spec.decisions import (DecisionFile, OwnerDate, check_yaml_model, display_path, load_decisions_checked,
                        needing_decision, read_csv_checked, reconcile)
from dagster_project.spec.gaiji_decisions import load_gaiji_decisions_checked, problems_for
from dagster_project.core.textcodec import PUA_RE, has_halfwidth_kana, pua_to_sjis
from dagster_project.core.names import std_name
from dagster_project.mapping.dbt_failures import read_failures
from dagster_project.spec.mapping import cached_mappings
from dagster_project.core.settings import settings

Outcome = Literal["GO", "CONDITIONAL", "NO-GO"]
OUTCOME_JA = {"GO": "移行可", "CONDITIONAL": "条件付き可", "NO-GO": "移行不可"}
DATA_EXEMPT = ("rehearsals", "signoff")   # a rehearsal passes on the data criteria alone


class CriterionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    label: str
    on_fail: Literal["NO-GO", "CONDITIONAL"]
    max: int = Field(default=0, ge=0)
    check_kinds: list[str] = Field(default_factory=list)


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rehearsals_required: int = Field(default=3, ge=1)
    export_on: list[Outcome] = Field(default_factory=lambda: ["GO", "CONDITIONAL"])
    criteria: list[CriterionConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known(self) -> "GateConfig":
        unknown = [c.id for c in self.criteria if c.id not in EVALUATORS]
        if unknown:
            raise ValueError(f"unknown criteria {unknown}; known: {sorted(EVALUATORS)}")
        if "NO-GO" in self.export_on:
            raise ValueError("export_on may not contain NO-GO: a NO-GO system is never exported")
        return self


class ReadinessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    reconciliation: ReconConfig = Field(default_factory=ReconConfig)
    gate: GateConfig = Field(default_factory=GateConfig)


def load_readiness(root: Path) -> ReadinessConfig:
    path = Path(root) / "readiness.yaml"
    if not path.exists():
        return ReadinessConfig()
    return _build(ReadinessConfig, path, _read_yaml(path))


# ---------------------------------------------------------------- owner inputs


class SignOff(BaseModel):
    """``mappings/<system>/signoff.yaml``: the owner's sign-off (所管課の承認)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    system: str
    signed_by: str = Field(min_length=1)
    role: str = Field(min_length=1)
    signed_on: OwnerDate
    statement: str = ""


def load_signoff(root: Path, system: str) -> SignOff | None:
    path = Path(root) / system / "signoff.yaml"
    if not path.exists():
        return None
    s = _build(SignOff, path, _read_yaml(path))
    if s.system != system:
        raise ConfigError(f"{path}: field system: {s.system!r} is not {system!r}")
    return s


def load_signoff_checked(root: Path, system: str) -> tuple[SignOff | None, list[str]]:
    """The sign-off, or None and Japanese messages (file, line) when it cannot be read."""
    path = Path(root) / system / "signoff.yaml"
    if not path.exists():
        return None, []
    s, errors = check_yaml_model(path, SignOff, root)
    if s is not None and s.system != system:
        return None, [f"{display_path(path, root)} 1行目 system: フォルダは {system} ですが「{s.system}」と書かれています"]
    return s, errors


class MyNumberReview(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    std_ref: str
    atena_no: str
    result: Literal["本人確認済", "修正済", "修正予定"]
    reviewed_by: str = Field(min_length=1)
    reviewed_on: OwnerDate


REVIEW_FIELDS = ["std_ref", "atena_no", "result", "reviewed_by", "reviewed_on"]


def load_mynumber_reviews(root: Path, system: str) -> dict[tuple[str, str], MyNumberReview]:
    """``mappings/<system>/mynumber_reviews.csv``: doubtful links an owner has reviewed."""
    path = Path(root) / system / "mynumber_reviews.csv"
    if not path.exists():
        return {}
    return {(r.std_ref, r.atena_no): r for _, r in read_csv_models(path, MyNumberReview, REVIEW_FIELDS)}


def load_mynumber_reviews_checked(root: Path, system: str) -> tuple[dict[tuple[str, str], MyNumberReview], list[str]]:
    """The reviews that can be read, and a Japanese message (file, line, column) per mistake."""
    path = Path(root) / system / "mynumber_reviews.csv"
    shown = display_path(path, root)
    rows, errors = read_csv_checked(path, MyNumberReview, REVIEW_FIELDS, shown)
    out: dict[tuple[str, str], MyNumberReview] = {}
    first: dict[tuple[str, str], int] = {}
    for line, r in rows:
        k = (r.std_ref, r.atena_no)
        if k in first:
            errors.append(f"{shown} {line}行目 atena_no: {r.std_ref} の {r.atena_no} の確認が {first[k]}行目にもあります")
            continue
        first[k] = line
        out[k] = r
    return out, errors


# ---------------------------------------------------------------- evaluation


@dataclass
class Criterion:
    id: str
    label: str
    on_fail: str
    value: int
    threshold: int
    rule: str          # "<=": passes at or below the threshold; ">=": at or above
    passed: bool
    evidence: str


@dataclass
class Evaluation:
    system: str
    as_of: str
    criteria: list[Criterion]
    figures: dict = field(default_factory=dict)

    @property
    def data_passed(self) -> bool:
        return all(c.passed for c in self.criteria if c.id not in DATA_EXEMPT)

    @property
    def outcome(self) -> Outcome:
        failing = [c for c in self.criteria if not c.passed]
        if not failing:
            return "GO"
        return "NO-GO" if any(c.on_fail == "NO-GO" for c in failing) else "CONDITIONAL"

    @property
    def failing(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def reasons_ja(self) -> str:
        if not self.failing:
            return "すべての判定基準を満たす"
        return "、".join(f"{c.label}（{c.evidence}）" for c in self.failing)

    def as_dict(self) -> dict:
        return {"system": self.system, "as_of": self.as_of, "outcome": self.outcome,
                "data_passed": self.data_passed, "figures": self.figures,
                "criteria": [asdict(c) for c in self.criteria]}


class Ctx:
    """What the evaluators read: the warehouse (read-only), the owner inputs, the history."""

    def __init__(self, project: Project, con, system: str, owner_root: Path, as_of: dt.date,
                 history: list[dict], gate: GateConfig):
        self.project, self.con, self.system = project, con, system
        self.owner_root, self.as_of, self.history, self.gate = Path(owner_root), as_of, history, gate
        self.missing: list[str] = []
        self._gap_rows: dict[str, list[dict]] | None = None
        self._decisions: DecisionFile | None = None
        self.decision_errors: list[str] = []
        self._model_failures: list[dict] | None = None

    @property
    def decisions(self) -> DecisionFile:
        """The owner's gap decisions that can be read, once per evaluation; the mistakes (Japanese,
        file and line) are kept in ``decision_errors`` and fail ギャップの対応方針決定, never the run."""
        if self._decisions is None:
            self._decisions, self.decision_errors = load_decisions_checked(self.system, self.owner_root)
        return self._decisions

    def gap_rows(self, kind: str) -> list[dict]:
        """``gap_id``, ``gap_kind``, ``record_count`` of the system's gaps of ``kind`` (spec or data)."""
        if self._gap_rows is None:
            self._gap_rows = {k: [dict(zip(("gap_id", "gap_kind", "record_count"), r)) for r in self.rows(
                "gaps", f"gaps_{self.system}__{k}", "select gap_id, gap_kind, record_count from {t}")]
                for k in ("spec", "data")}
        return self._gap_rows[kind]

    def gap_ids(self, kind: str | None = None) -> list[str]:
        """Gap ids of the system (``kind`` spec or data; both when None), read once per evaluation."""
        return [g["gap_id"] for k in ((kind,) if kind else ("spec", "data")) for g in self.gap_rows(k)]

    def needing(self) -> list[str]:
        """The gap ids that need an owner's decision (:func:`.decisions.needing_decision`)."""
        return needing_decision(self.gap_rows("spec"), self.gap_rows("data"))

    @property
    def model_failures(self) -> list[dict]:
        """The system's dbt nodes that failed, or were skipped for a failure, in the build that last
        ran them (``meta.model_failures``; names, columns and rules only)."""
        if self._model_failures is None:

            self._model_failures = read_failures(self.con, self.system)
        return self._model_failures

    def exists(self, schema: str, table: str) -> bool:
        """Whether the table is there and current: the table of a model that failed or was skipped
        is the one an earlier build left (dbt keeps it), so it counts as absent."""
        if any(f["node"] == table and f["resource_type"] in ("model", "seed", "snapshot")
               for f in self.model_failures):
            return False
        return bool(self.con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table]).fetchone()[0])

    def rows(self, schema: str, table: str, sql: str, params=()) -> list[tuple]:
        """Rows of ``sql`` over ``schema.table`` (written as {t}); a missing table is recorded."""
        if not self.exists(schema, table):
            self.missing.append(f"{schema}.{table}")
            return []
        return self.con.execute(sql.replace("{t}", f'{schema}."{table}"'), list(params)).fetchall()


def _std_tables(ctx: Ctx) -> list[str]:

    return [std_name(t) for t in cached_mappings().for_system(ctx.system)]


def ev_pipeline_complete(ctx: Ctx, cfg: CriterionConfig):
    s = ctx.system
    expected = len(ctx.project.layouts[s].files)
    got = ctx.rows("meta", "extract_files", "select file_name, refused from {t} where system = ?", [s])
    refused = sorted(f for f, why in got if why)
    files = len(got) - len(refused)
    needed = [("standard", t) for t in _std_tables(ctx)] + [
        ("gaps", f"gaps_{s}__items"), ("gaps", f"gaps_{s}__spec"), ("gaps", f"gaps_{s}__data"),
        ("conformance", f"conf_{s}__findings"), ("conformance", f"conf_{s}__chars"), ("readiness", f"recon_{s}")]
    absent = [f"{a}.{b}" for a, b in needed if not ctx.exists(a, b)]
    # a model (or test) that failed in its last build, and what it left unbuilt beyond the tables above
    failed = [f for f in ctx.model_failures if f["status"] == "error"]
    unbuilt = [f for f in ctx.model_failures if f["status"] == "skipped"]
    counted = {t for sch, t in needed if f"{sch}.{t}" in absent}
    value = (expected - files) + len(absent) + len(failed) + sum(1 for f in unbuilt if f["node"] not in counted)
    ev = f"抽出 {files}/{expected} ファイル、未作成のテーブル {len(absent)} 件"
    if refused:
        ev += f"、受付不可のファイル {', '.join(refused)}"
    if absent:
        ev += f"（{', '.join(absent[:3])}{' ほか' if len(absent) > 3 else ''}）"
    if failed:
        shown = "／".join(f["reason"].split(" / ")[0] for f in failed[:3])
        ev += f"、失敗したモデル {len(failed)} 件: {shown}{f' ほか {len(failed) - 3} 件' if len(failed) > 3 else ''}"
    if unbuilt:
        ups = sorted({u for f in unbuilt for u in (f["upstream"] or "").split(", ") if u})
        ev += f"、その失敗により未実行 {len(unbuilt)} 件（上流 {', '.join(ups[:3])}{' ほか' if len(ups) > 3 else ''}）"
    return value, ev


def ev_required_items_mapped(ctx: Ctx, cfg: CriterionConfig):
    s = ctx.system
    items = ctx.rows("gaps", f"gaps_{s}__items",
                     "select business_id, table_id, item_id, status from {t} where required = 'Y'")
    unmapped = [(b, t, i) for b, t, i, st in items if st == "no_source"]
    decided = {d.gap_id for d in ctx.decisions.decisions}
    undecided = [x for x in unmapped if f"{s}:{x[0]}.{x[1]}.{x[2]}:required_no_source" not in decided]
    ev = f"必須 {len(items)} 項目中 移行元なし {len(unmapped)} 項目、うち対応方針未決定 {len(undecided)} 項目"
    if undecided:
        ev += f"（項目ID {', '.join(i for _, _, i in undecided[:5])}）"
    return len(undecided), ev


def ev_row_conservation(ctx: Ctx, cfg: CriterionConfig):
    s = ctx.system
    # file = raw + quarantined + refused: a refused file's records (counted from its bytes) are
    # accounted for as refused, not lost; that the file was refused fails 移行処理の完了, not this
    rows = ctx.rows("meta", "extract_files",
                    "select file_name, records_in_file, raw_rows, quarantined, refused is not null, "
                    "coalesce(refused_records, 0) from {t} where system = ?", [s])
    files = [f for f, n, raw, q, _, ref in rows if n != raw + q + ref]
    refused = [ref for *_, is_refused, ref in rows if is_refused]
    recon = ctx.rows("readiness", f"recon_{s}", "select subject from {t} where check_kind = '件数' and status <> '一致'")
    value = len(files) + len(recon)
    ev = f"抽出で合わないファイル {len(files)} 件、標準テーブル＋隔離で合わないテーブル {len(recon)} 件"
    if refused:
        ev += f"（受付不可のファイル {len(refused)} 件のレコード {sum(refused)} 件は受付不可として計上）"
    return value, ev


def ev_reconciliation(ctx: Ctx, cfg: CriterionConfig):
    s = ctx.system
    rows = ctx.rows("readiness", f"recon_{s}",
                    "select check_kind, count(*), count(*) filter (where status = '不一致') from {t} group by 1 order by 1")
    total = sum(r[1] for r in rows)
    bad = {r[0]: r[2] for r in rows if r[2]}
    ev = f"突合 {total} 項目中 不一致 {sum(bad.values())} 項目"
    if bad:
        ev += "（" + "、".join(f"{k} {v}" for k, v in bad.items()) + "）"
    return sum(bad.values()), ev


def _findings(ctx: Ctx, cfg: CriterionConfig):
    s = ctx.system
    kinds = cfg.check_kinds
    if not kinds:
        return 0, "対象の検査なし"
    marks = ", ".join("?" for _ in kinds)
    rows = ctx.rows("conformance", f"conf_{s}__findings",
                    f"select check_kind, sum(violations) from {{t}} where check_kind in ({marks}) group by 1 order by 1",
                    kinds)
    labels = check_kind_labels()
    n = int(sum(r[1] for r in rows))
    ev = f"違反 {n} 件" + ("（" + "、".join(f"{labels.get(k, k)} {int(v)}" for k, v in rows) + "）" if rows else "")
    return n, ev


def check_kind_labels() -> dict[str, str]:
    with (settings().seeds_dir / "finding_rules.csv").open(encoding="utf-8") as fh:
        return {r["rule_id"]: r["label_ja"] for r in csv.DictReader(fh)}


ev_key_violations = _findings
ev_field_rules = _findings


def ev_mynumber_reviewed(ctx: Ctx, cfg: CriterionConfig):
    s = ctx.system
    if not ctx.exists("conformance", f"conf_{s}__mynumber_audit"):
        return 0, "紐付け点検の対象テーブルなし（個人番号を持つ標準テーブルがない）"
    rows = ctx.con.execute(
        f'select std_ref, atena_no from conformance."conf_{s}__mynumber_audit" where audit_class <> \'4/4\'').fetchall()
    reviews, errors = load_mynumber_reviews_checked(ctx.owner_root, s)
    open_ = [r for r in rows if (r[0], r[1]) not in reviews]
    ev = f"4情報の一致しない紐付け {len(rows)} 件、うち未確認 {len(open_)} 件" + _file_errors(errors)
    return len(open_) + len(errors), ev


def _file_errors(errors: list[str], shown: int = 3) -> str:
    """The evidence an owner's mistaken file adds to a criterion (the messages name file and line)."""
    if not errors:
        return ""
    more = f" ほか {len(errors) - shown} 件" if len(errors) > shown else ""
    return f"、記入ファイルの誤り {len(errors)} 件: " + "／".join(errors[:shown]) + more


def ev_gaps_decided(ctx: Ctx, cfg: CriterionConfig):
    ids = ctx.gap_ids()
    need = ctx.needing()
    rec = reconcile(ids, ctx.decisions, need)
    ev = f"ギャップ {len(ids)} 件中 対応方針未決定 {len(rec.open)} 件"
    if len(need) < len(ids):
        ev += f"（決定不要 {len(ids) - len(need)} 件: 該当レコードなし・仕様差異の決定で対応）"
    if rec.stale:
        ev += f"、該当のない対応方針 {len(rec.stale)} 件"
    ev += _file_errors(ctx.decision_errors)
    return len(rec.open) + len(ctx.decision_errors), ev


def ev_gaiji_identified(ctx: Ctx, cfg: CriterionConfig):
    s = ctx.system
    rows = ctx.rows("conformance", f"conf_{s}__chars", "select distinct ch, codepoints from {t}")
    gaiji, problems = load_gaiji_decisions_checked(ctx.project, ctx.owner_root)
    errors = problems_for(problems, s)
    decided = {d.code for d in gaiji if d.system == s and d.decision in ("同定", "縮退")}
    pua, other = [], []
    for ch, cps in rows:
        if PUA_RE.fullmatch(ch):
            if pua_to_sjis(ch) not in decided:
                pua.append(pua_to_sjis(ch))
        elif not has_halfwidth_kana(ch):
            # half-width kana are corrected in the data (counted by 文字種・コード値の適合), not identified
            other.append(cps)
    ev = f"未同定の外字 {len(pua)} 字"
    if pua:
        ev += f"（外字コード {', '.join(sorted(pua)[:5])}{' ほか' if len(pua) > 5 else ''}）"
    ev += f"、標準外の文字 {len(other)} 字" + _file_errors(errors)
    return len(pua) + len(other) + len(errors), ev


def ev_rehearsals(ctx: Ctx, cfg: CriterionConfig, data_passed: bool = False):
    n = consecutive_passes(ctx.history, data_passed)
    need = ctx.gate.rehearsals_required
    return n, f"連続合格 {n} 回（必要 {need} 回）"


def ev_signoff(ctx: Ctx, cfg: CriterionConfig):
    s, errors = load_signoff_checked(ctx.owner_root, ctx.system)
    if errors:
        return 1, "承認ファイルを読めません: " + "／".join(errors[:3])
    if s is None:
        return 1, f"承認ファイルなし（mappings/{ctx.system}/signoff.yaml）"
    if s.signed_on > ctx.as_of:
        return 1, f"承認日 {s.signed_on.isoformat()} が判定日より後"
    return 0, f"{s.role} {s.signed_by}、{s.signed_on.isoformat()} 承認"


EVALUATORS = {
    "pipeline_complete": ev_pipeline_complete,
    "required_items_mapped": ev_required_items_mapped,
    "row_conservation": ev_row_conservation,
    "reconciliation": ev_reconciliation,
    "key_violations": ev_key_violations,
    "field_rules": ev_field_rules,
    "mynumber_reviewed": ev_mynumber_reviewed,
    "gaps_decided": ev_gaps_decided,
    "gaiji_identified": ev_gaiji_identified,
    "rehearsals": ev_rehearsals,
    "signoff": ev_signoff,
}


def consecutive_passes(history: list[dict], current_passed: bool) -> int:
    """Passing rehearsals in a row, ending with the current one (0 if the current one fails).
    ``history`` holds the earlier rehearsals of the system, oldest first, one per rehearsal id.
    A rehearsal that never completed (a killed run, ``completed`` false) neither counts nor breaks
    the row: it is not a rehearsal."""
    if not current_passed:
        return 0
    n = 1
    for h in reversed(history):
        if not h.get("completed", True):
            continue
        if not h.get("data_passed"):
            break
        n += 1
    return n


def figures(ctx: Ctx) -> dict:
    """The rehearsal's headline figures (counts only), for the trend and the difference."""
    s = ctx.system
    f = {}
    r = ctx.rows("meta", "extract_files",
                 "select coalesce(sum(records_in_file), 0), coalesce(sum(raw_rows), 0), coalesce(sum(quarantined), 0) "
                 "from {t} where system = ?", [s])
    f["records"], f["raw_rows"], f["quarantined"] = (int(x) for x in (r[0] if r else (0, 0, 0)))
    std_rows = 0
    for t in _std_tables(ctx):
        if ctx.exists("standard", t):
            std_rows += ctx.con.execute(f'select count(*) from standard."{t}"').fetchone()[0]
    f["standard_rows"] = int(std_rows)
    f["spec_gaps"] = len(ctx.gap_ids("spec"))
    f["data_gaps"] = len(ctx.gap_ids("data"))
    f["open_gaps"] = len(reconcile(ctx.gap_ids(), ctx.decisions, ctx.needing()).open)
    c = ctx.rows("conformance", f"conf_{s}__findings", "select coalesce(sum(violations), 0) from {t}")
    f["conformance_violations"] = int(c[0][0]) if c else 0
    return f


def evaluate(project: Project, db: Path, system: str, owner_root: Path, as_of: dt.date,
             history: list[dict], gate: GateConfig) -> Evaluation:
    """Every criterion of ``gate`` for ``system`` on the warehouse ``db`` as of ``as_of``."""
    con = open_warehouse(db, read_only=True)
    try:
        ctx = Ctx(project, con, system, owner_root, as_of, history, gate)
        results: list[Criterion] = []
        for c in gate.criteria:
            if c.id == "rehearsals":
                continue
            value, ev = EVALUATORS[c.id](ctx, c)
            results.append(Criterion(c.id, c.label, c.on_fail, int(value), c.max, "<=", int(value) <= c.max, ev))
        data_passed = all(r.passed for r in results if r.id not in DATA_EXEMPT)
        for i, c in enumerate(gate.criteria):
            if c.id == "rehearsals":
                value, ev = ev_rehearsals(ctx, c, data_passed)
                results.insert(i, Criterion(c.id, c.label, c.on_fail, value, gate.rehearsals_required, ">=",
                                            value >= gate.rehearsals_required, ev))
        figs = figures(ctx)
        figs["failing_criteria"] = sum(1 for r in results if not r.passed)
        figs["missing_tables"] = len(set(ctx.missing))
    finally:
        con.close()
    return Evaluation(system, as_of.isoformat(), results, figs)


def gate_date(cutover: dt.date, days_before: int) -> dt.date:
    return cutover - dt.timedelta(days=days_before)
