"""System owners' decisions on gaps: ``mappings/<system>/gap_decisions.yaml``.

Each decision names a gap by its stable id and says what the owner will do about it, with
the reason, who decided and when. On every run the decisions are reconciled with the gaps
the warehouse holds now: a gap with no decision is *open*; a decision whose gap no longer
exists is *stale* (reported, never silently dropped).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .config import load_system_file

DECISIONS = ("業務フロー変更", "疎結合システムで対応", "データ補正", "標準仕様への要望", "対応不要")
Decision = Literal["業務フロー変更", "疎結合システムで対応", "データ補正", "標準仕様への要望", "対応不要"]


class GapDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    gap_id: str = Field(min_length=3)
    decision: Decision
    reason: str = Field(min_length=1)
    decided_by: str = Field(min_length=1)
    decided_on: dt.date


class DecisionFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    decisions: list[GapDecision] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "DecisionFile":
        ids = [d.gap_id for d in self.decisions]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"gap_id decided more than once: {dup}")
        wrong = [i for i in ids if not i.startswith(self.system + ":")]
        if wrong:
            raise ValueError(f"gap ids of another system: {wrong}")
        return self


def load_decisions(system: str, root: Path) -> DecisionFile:
    path = root / system / "gap_decisions.yaml"
    if not path.exists():
        return DecisionFile(system=system)
    return load_system_file(DecisionFile, root, system, "gap_decisions.yaml")


@dataclass
class Reconciled:
    decided: dict[str, GapDecision]
    open: list[str]
    stale: list[GapDecision]


def reconcile(gap_ids: list[str], decisions: DecisionFile) -> Reconciled:
    by_id = {d.gap_id: d for d in decisions.decisions}
    current = set(gap_ids)
    return Reconciled(
        decided={g: by_id[g] for g in gap_ids if g in by_id},
        open=[g for g in gap_ids if g not in by_id],
        stale=[d for d in decisions.decisions if d.gap_id not in current],
    )
