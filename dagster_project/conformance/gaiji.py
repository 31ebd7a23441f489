"""文字同定 (identification of 外字): the list each system owner works through, and the
decisions file staging applies.

For every character of a system's standard tables that is not 行政事務標準文字 the list says
where it occurs (table, item, occurrences, sample internal keys), what the vendor's 外字 table
knows of it (住基ネット統一文字コード, 戸籍統一文字番号, description), and the candidate standard
characters found through those codes in the MJ文字情報一覧表. The owner records the outcome in
``mappings/gaiji/decisions.csv`` (同定: this standard character / 縮退: this character by a rule /
要確認: still open); the next run applies 同定 and 縮退 in staging, and the character leaves
the list.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dagster_project.core.templates import ENV as _ENV
from dagster_project.core import atomic
from dagster_project.core.duck import open_warehouse
from dagster_project.spec.config import ConfigError, Project, read_csv_models
from dagster_project.spec.decisions import CUSTOM_JA, OwnerDate, display_path, read_csv_checked
from dagster_project.core.textcodec import PUA_RE, pua_to_sjis

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


HEADER = ["文字", "コード（Shift_JIS）", "Unicode", "出現数", "レコード数", "出現箇所（標準テーブル・項目）", "サンプル（内部キー・行番号）",
          "ベンダー外字表の記載", "住基ネット統一文字コード", "戸籍統一文字番号", "同定候補（MJ）", "状態"]


def build_gaiji_list(project: Project, db: Path, system: str, out_dir: Path) -> dict:
    decisions = {d.code: d for d in load_gaiji_decisions_checked(project, project.root)[0] if d.system == system}
    vendor = {g.code: g for g in project.gaiji[system]}
    con = open_warehouse(db, read_only=True)
    try:
        rows = con.execute(
            f'select ch, codepoints, sum(occurrences), sum(records), string_agg(std_ref || '
            f"'.' || item_name, '、' order by std_ref, item_name), min(samples) "
            f'from conformance."conf_{system}__chars" group by ch, codepoints order by sum(occurrences) desc, ch'
        ).fetchall()
        mj = con.execute("select mj, coalesce(ivs, ucs) as ch, juki_code, koseki_no from reference.mj_index").fetchall()
        fold = dict(con.execute("select ch, folded from reference.char_fold").fetchall())
    finally:
        con.close()
    by_juki = {j: (m, c) for m, c, j, k in mj if j}
    by_koseki = {k: (m, c) for m, c, j, k in mj if k}
    table = []
    for ch, cps, occ, recs, where, samples in rows:
        code = pua_to_sjis(ch) if PUA_RE.fullmatch(ch) else ""
        v = vendor.get(code)
        cands = []
        if v and v.juki_code and v.juki_code in by_juki:
            m, c = by_juki[v.juki_code]
            cands.append(f"{c}（{m}、住基 {v.juki_code}）")
        if v and v.koseki_no and v.koseki_no in by_koseki:
            m, c = by_koseki[v.koseki_no]
            cands.append(f"{c}（{m}、戸籍 {v.koseki_no}）")
        for c in [x.split("（")[0] for x in cands]:
            if c in fold:   # what 縮退 by the MJ縮退マップ (親字正字 / JIS包摂規準) would give
                cands.append(f"縮退候補: {fold[c]}（MJ縮退マップ）")
        if not code and "\uff61" <= ch[0] <= "\uff9f":
            cands.append("全角カタカナへ変換（半角カナ）")
        d = decisions.get(code)
        status = (f"{d.decision}済: {d.character}" if d and d.decision != "要確認" else "要確認") if d else "未同定"
        table.append([ch if not code else f"（外字 {code}）", code, cps, int(occ), int(recs), where, samples,
                      (v.description if v else ("ベンダー外字表に記載なし" if code else "")),
                      v.juki_code if v and v.juki_code else "", v.koseki_no if v and v.koseki_no else "",
                      " / ".join(dict.fromkeys(cands)) or ("候補なし：紙の原票等で確認" if code else ""), status])
    name = project.city.system(system).name
    out_dir = Path(out_dir)
    xlsx, htmlp = out_dir / f"gaiji_list_{system}.xlsx", out_dir / f"gaiji_list_{system}.html"

    def write_xlsx(p):
        wb = Workbook()
        ws = wb.active
        ws.title = "外字同定リスト"
        ws.append(HEADER)
        for c in ws[1]:
            c.fill, c.font = PatternFill("solid", fgColor="1F4E78"), Font(bold=True, color="FFFFFF")
        for r in table:
            ws.append(r)
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(HEADER))}{len(table) + 1}"
        for i, w in enumerate([10, 12, 16, 8, 8, 40, 40, 28, 14, 14, 40, 14], start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
        wb.save(p)

    def write_html(p):
        p.write_text(_ENV.get_template("gaiji_list.html.j2").render(name=name, header=HEADER, rows=table),
                     encoding="utf-8")

    atomic.write_files({xlsx: write_xlsx, htmlp: write_html})
    return {"xlsx": str(xlsx), "html": str(htmlp), "characters": len(table),
            "occurrences": sum(r[3] for r in table), "with_candidates": sum(1 for r in table if "（MJ" in r[10]),
            "open": sum(1 for r in table if r[11] in ("未同定", "要確認"))}
