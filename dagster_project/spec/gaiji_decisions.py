"""The owners' 外字 decisions (``mappings/gaiji/decisions.csv``): 同定 (this standard character),
縮退 (this character by a rule) or 要確認 (still open), per system and vendor code. Read by the SQL
generator (staging applies 同定 and 縮退), the gate (open characters), the owners' workbook and its
import. The list the owners work through is :mod:`conformance.gaiji`."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dagster_project.spec.config import ConfigError, Project, read_csv_models
from dagster_project.spec.decisions import CUSTOM_JA, OwnerDate, display_path, read_csv_checked
from dagster_project.core.textcodec import PUA_RE

DECISION_FIELDS = ["system", "code", "decision", "character", "rule", "decided_by", "decided_on", "note"]


IVS = range(0xE0100, 0xE01F0)     # ideographic variation selectors (an IVS sequence is one character)


class GaijiDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    code: str
    decision: Literal["同定", "縮退", "要確認"]
    character: str = ""
    rule: str = ""
    decided_by: str
    decided_on: OwnerDate
    note: str = ""

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        v = v.strip().upper()
        try:
            b = bytes.fromhex(v)
            ok = len(b) == 2 and 0xF0 <= b[0] <= 0xF9 and PUA_RE.fullmatch(b.decode("cp932")) is not None
        except (ValueError, UnicodeDecodeError):
            ok = False
        if not ok:
            raise PydanticCustomError("gaiji_code", "'{code}' is not a CP932 user-defined code (F040–F9FC)",
                                      {"code": v})
        return v

    @field_validator("character")
    @classmethod
    def _one_character(cls, v: str) -> str:
        v = v.strip()
        if v and not is_one_character(v):
            raise PydanticCustomError("gaiji_one_character",
                                      "the standard character must be one character (or a base character and "
                                      "its IVS selector), not a private-use code: {character}", {"character": v})
        return v

    @model_validator(mode="after")
    def _character(self) -> "GaijiDecision":
        if self.decision in ("同定", "縮退") and not self.character:
            raise PydanticCustomError("gaiji_needs_character", "decision {decision} needs the standard character",
                                      {"decision": self.decision})
        if self.decision == "縮退" and not self.rule:
            raise PydanticCustomError("gaiji_needs_rule", "縮退 needs the rule it follows (e.g. MJ縮退マップ 親字正字)")
        return self


def is_one_character(v: str) -> bool:
    """One character, or a base character followed by an IVS selector; never a private-use (外字) code."""
    if len(v) == 2 and ord(v[1]) in IVS:
        v = v[0]
    return len(v) == 1 and not PUA_RE.fullmatch(v) and ord(v) not in IVS and v.isprintable()


CUSTOM_JA.update({
    "gaiji_code": lambda ctx, inp: (
        f"{ctx.get('code')} はベンダー外字ではありません。外字同定の決定はベンダー外字（Shift_JIS F040〜F9FC）だけです。"
        "標準外の文字はデータ補正（現行データの修正）で対応してください"
        if str(ctx.get("code", "")).startswith("U+") else
        f"{ctx.get('code')} はベンダー外字のコード（Shift_JIS の F040〜F9FC、例 F0A0）ではありません"),
    "gaiji_one_character": lambda ctx, inp: (
        f"標準の文字は1文字（または字形を指定する異体字セレクタ付きの1文字）で書いてください（{ctx.get('character')}）"
        if not any(PUA_RE.fullmatch(c) for c in str(ctx.get("character", ""))) else
        "標準の文字に外字（私用領域の文字）は使えません。行政事務標準文字の文字を書いてください"),
    "gaiji_needs_character": lambda ctx, inp: f"判定が{ctx.get('decision')}のときは標準の文字（character）が必要です",
    "gaiji_needs_rule": lambda ctx, inp: "縮退のときは縮退の規則（rule、例 MJ縮退マップ 親字正字）が必要です",
})


def load_gaiji_decisions(project: Project, root: Path | None = None) -> list[GaijiDecision]:
    """``<root>/gaiji/decisions.csv`` (root: the project's mappings folder unless given); the first
    mistake raises :class:`ConfigError` (tools, tests). During a run use
    :func:`load_gaiji_decisions_checked`."""
    path = Path(root or project.root) / "gaiji" / "decisions.csv"
    if not path.exists():
        return []
    systems = {s.id for s in project.city.systems}
    out, seen = [], set()
    for line, d in read_csv_models(path, GaijiDecision, DECISION_FIELDS):
        if d.system not in systems:
            raise ConfigError(f"{path}: line {line}: field system: {d.system!r} is not a system of city.yaml")
        if (d.system, d.code) in seen:
            raise ConfigError(f"{path}: line {line}: field code: {d.system} {d.code} decided twice")
        seen.add((d.system, d.code))
        out.append(d)
    return out


@dataclass(frozen=True)
class GaijiProblem:
    """A mistake in ``mappings/gaiji/decisions.csv``: ``system`` is the system whose row it is
    (None: the whole file, every system), ``message`` Japanese with file and line."""

    system: str | None
    message: str


def load_gaiji_decisions_checked(systems, root: Path) -> tuple[list[GaijiDecision], list[GaijiProblem]]:
    """The decisions that can be read, and the mistakes, each attributed to the system of its row:
    one system's typo never blocks another. ``systems``: the city's system ids (or a Project). A
    row naming no system of the city is dropped and attributed to none (the system it was meant for
    still sees its 外字 as 未同定); a file that cannot be read at all (header, encoding) is every
    system's problem, since no decision of any system applies."""
    if isinstance(systems, Project):
        systems = [s.id for s in systems.city.systems]
    systems = set(systems)
    root = Path(root)
    path = root / "gaiji" / "decisions.csv"
    shown = display_path(path, root)
    rows, errors = read_csv_checked(path, GaijiDecision, DECISION_FIELDS, shown)
    problems = [GaijiProblem(_row_system(path, e, shown), e) for e in errors]
    out, seen = [], {}
    for line, d in rows:
        if d.system not in systems:
            problems.append(GaijiProblem("?", f"{shown} {line}行目 system: 「{d.system}」は city.yaml のシステムではありません"))
            continue
        if (d.system, d.code) in seen:
            problems.append(GaijiProblem(d.system, f"{shown} {line}行目 code: {d.system} の {d.code} の決定が "
                                                   f"{seen[(d.system, d.code)]}行目にもあります"))
            continue
        seen[(d.system, d.code)] = line
        out.append(d)
    return out, problems


def problems_for(problems: list[GaijiProblem], system: str) -> list[str]:
    """The messages that concern ``system``: its own rows and whole-file problems."""
    return [p.message for p in problems if p.system in (system, None)]


def _row_system(path: Path, message: str, shown: str) -> str | None:
    """The system cell of the row a message names (``… N行目 …``); None for a whole-file message."""
    m = re.match(re.escape(shown) + r" (\d+)行目", message)
    if not m:
        return None
    line = int(m.group(1))
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        last = 0
        for rec in reader:
            if last + 1 == line:
                return rec[0].strip() if rec else "?"
            last = reader.line_num
    return "?"
