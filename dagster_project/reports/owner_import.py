"""Reading a system owner's workbook back (``<system>_移行確認.xlsx``): every decision into the
versioned text files under ``mappings/``.

システム所管課 answer in Excel; the run reads text files. :func:`import_workbook` reads each input
sheet of :mod:`.owner_sheets` by its headings (found by name on any of the first rows; columns may
be reordered, extra columns are ignored) and writes

=====================  ==============================================================
仕様差異・データ差異    ``mappings/<system>/gap_decisions.yaml`` (sorted by gap id)
キー違反               ``mappings/<system>/record_decisions.csv``
個人番号紐付け確認      ``mappings/<system>/mynumber_reviews.csv``
外字同定               ``mappings/gaiji/decisions.csv`` (only this system's rows are touched)
=====================  ==============================================================

and appends what it changed to ``mappings/<system>/decision_imports.csv`` (when, which file and
its SHA-256, sheet and row, target file, key, old → new, who decided), so who decided what and
when is in the history of text files. With ``audit_dir`` (the readiness state folder; ``kikan
decisions import`` always gives it) the same change is also appended to the hash-chained owners'
audit log (:mod:`.owner_audit`): the workbook's name and SHA-256, the importer, every changed row
with old → new; hand edits made before the import are recorded first, as such.

A row whose input cells are all empty is no decision. Every other row is checked on its own
(values from the sheet's dropdown, reason and decider present, a readable date not in the future,
the gap / finding / person / 外字 still in the warehouse) and rejected with a Japanese message
naming sheet, Excel row and column heading; the good rows apply. A row identical to the stored
decision is unchanged, so importing the same workbook twice changes nothing. Nothing of another
system is ever written.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from dagster_project.core import atomic
from dagster_project.reports import owner_sheets as S
from dagster_project.spec.config import ConfigError, load_city
from dagster_project.spec.decisions import (RECORD_FIELDS, DateError, DecisionFile, GapDecision, RecordDecision,
                        csv_records, display_path, leading_comment, load_decisions_checked,
                        load_record_decisions_checked, parse_date, render_decisions)
from dagster_project.spec.gaiji_decisions import DECISION_FIELDS
from dagster_project.spec.gaiji_decisions import GaijiDecision, is_one_character
from dagster_project.spec.gaiji_decisions import load_gaiji_decisions_checked
from dagster_project.core.duck import open_warehouse
from dagster_project.readiness.gate import MyNumberReview
from dagster_project.readiness.gate import REVIEW_FIELDS
from dagster_project.readiness.gate import load_mynumber_reviews_checked
from dagster_project.readiness.owner_audit import audited_import
from dagster_project.spec.decisions import ja_error

DEFINED_NAME = "kikan_system"
LOG_FIELDS = ["imported_at", "file", "sha256", "sheet", "row", "target", "key", "change", "decided_by"]
HEADER_SCAN_ROWS = 30
OPTIONAL = {"備考"}                 # an input column that may stay empty in a decision
DEFAULT_FOLD_RULE = "所管課判定（移行確認ブック）"   # 縮退 needs a rule; the workbook has no column for it


class ImportUserError(Exception):
    """The file cannot be imported at all (missing, not a workbook, unknown system): exit 2."""


@dataclass
class SheetCounts:
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0


@dataclass
class Change:
    sheet: str
    row: int
    target: str
    key: str
    change: str
    decided_by: str


@dataclass
class ImportResult:
    system: str
    file: Path
    sha256: str
    dry_run: bool
    sheets: dict[str, SheetCounts] = field(default_factory=lambda: {s.name: SheetCounts() for s in S.INPUT_SHEETS})
    rejections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # checks skipped, sheets absent: said, never silent
    files_written: list[Path] = field(default_factory=list)
    targets: list[Path] = field(default_factory=list)  # files that change (written unless dry_run)
    changes: list[Change] = field(default_factory=list)
    audit: dict | None = None                          # the owners' audit entry the import appended

    @property
    def applied(self) -> int:
        return sum(c.applied for c in self.sheets.values())

    @property
    def unchanged(self) -> int:
        return sum(c.unchanged for c in self.sheets.values())

    @property
    def rejected(self) -> int:
        return sum(c.rejected for c in self.sheets.values())

    @property
    def ok(self) -> bool:
        return not self.rejections


# ---------------------------------------------------------------- the workbook


def _open_workbook(path: Path):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    path = Path(path)
    if not path.exists():
        raise ImportUserError(f"ファイルがありません: {path}")
    if not path.is_file():
        raise ImportUserError(f"ファイルではありません: {path}")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise ImportUserError(f"Excel ブック（.xlsx）ではありません: {path.name}")
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise ImportUserError(f"Excel ブック（.xlsx）として開けません: {path.name}（{type(exc).__name__}）。"
                              "Excel で開いて「Excel ブック（*.xlsx）」として保存し直してください") from None


def _cell(ws, coord: str):
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string

    col, row = coordinate_from_string(coord.replace("$", ""))
    c = column_index_from_string(col)
    for r in ws.iter_rows(min_row=row, max_row=row, min_col=c, max_col=c, values_only=True):
        return r[0] if r else None
    return None


def workbook_system(wb) -> str | None:
    """The system id the workbook is for: the defined name ``kikan_system`` if present, else the
    cover sheet's B3. Both present and different is an error."""
    found = []
    dn = wb.defined_names.get(DEFINED_NAME) if hasattr(wb.defined_names, "get") else None
    if dn is not None:
        dests = list(dn.destinations)
        if dests:
            for sheet, coord in dests:
                if sheet in wb.sheetnames:
                    found.append(("名前「kikan_system」", _cell(wb[sheet], coord)))
        elif dn.attr_text and re.fullmatch(r'="?[A-Za-z0-9_]+"?', "=" + dn.attr_text.lstrip("=")):
            found.append(("名前「kikan_system」", dn.attr_text.lstrip("=").strip('"')))
    if S.COVER in wb.sheetnames:
        found.append((f"「{S.COVER}」シートの B3", _cell(wb[S.COVER], "B3")))
    values = {str(v).strip() for _, v in found if v is not None and str(v).strip()}
    if len(values) > 1:
        raise ImportUserError("ブックのシステムIDが食い違っています（"
                              + "、".join(f"{w}: {v}" for w, v in found) + "）")
    return values.pop() if values else None


def _norm_heading(v) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v))) if v is not None else ""


def _find_header(rows: list[tuple], needed: list[str]) -> tuple[int, dict[str, int]] | None:
    """(index of the heading row among ``rows``, heading -> 0-based column) for the first row
    holding every ``needed`` heading."""
    want = {_norm_heading(n): n for n in needed}
    for i, row in enumerate(rows):
        cols: dict[str, int] = {}
        for j, v in enumerate(row):
            n = _norm_heading(v)
            if n in want and want[n] not in cols:
                cols[want[n]] = j
        if all(n in cols for n in needed):
            return i, cols
    return None


def _value(v):
    """A cell value as text, or a date (an Excel date cell) as it is; None and blanks are ""."""
    if v is None:
        return ""
    if isinstance(v, (dt.datetime, dt.date)):
        return v
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


# ---------------------------------------------------------------- per sheet: columns and rules


@dataclass(frozen=True)
class Kind:
    sheet: S.Sheet
    keys: tuple[str, ...]          # the columns naming what a row decides
    required: tuple[str, ...]      # input columns a decision must fill
    decision_col: str
    date_col: str
    by_col: str

    @property
    def inputs(self) -> list[str]:
        return [c.name for c in self.sheet.cols if c.input]

    @property
    def choices(self) -> tuple[str, ...]:
        return next(c.choices for c in self.sheet.cols if c.name == self.decision_col)


def _kinds() -> list[Kind]:
    out = []
    for sh in (S.SPEC, S.DATA, S.KEYS):
        out.append(Kind(sh, (sh.key,), ("対応方針", "理由", "決定者", "決定日"), "対応方針", "決定日", "決定者"))
    out.append(Kind(S.MYNUMBER, ("標準テーブル", S.MYNUMBER.key), ("確認結果", "確認者", "確認日"), "確認結果", "確認日", "確認者"))
    out.append(Kind(S.GAIJI, (S.GAIJI.key,), ("判定", "判定者", "判定日"), "判定", "判定日", "判定者"))
    return out


def _where(sheet: str, row: int, cols=()) -> str:
    return f"「{sheet}」シート {row}行目" + "".join(f"「{c}」" for c in cols)


@dataclass
class Row:
    kind: Kind
    row: int
    values: dict


@dataclass
class Pending:
    """A row that passed the cell checks: what it would write."""

    row: Row
    target: str                   # "gaps", "records", "mynumber", "gaiji"
    key: tuple
    record: object                # the validated model


# ---------------------------------------------------------------- the warehouse checks


class _Warehouse:
    """Existence checks against the current warehouse; each skipped check is said in the notes."""

    def __init__(self, db: Path | None, notes: list[str]):
        self.con, self.notes = None, notes
        what = "ギャップ・指摘・紐付け・外字が現在のデータにあるか"
        if db is None:
            notes.append(f"倉庫（warehouse.duckdb）の指定がないため、{what}は確認していません")
            return
        if not Path(db).exists():
            notes.append(f"倉庫 {db} がないため、{what}は確認していません")
            return
        try:

            self.con = open_warehouse(Path(db), read_only=True)
        except Exception as exc:     # a run writing it, a missing key: say so, check nothing
            notes.append(f"倉庫 {db} を開けないため（{type(exc).__name__}: {str(exc).splitlines()[0][:120]}）、"
                         f"{what}は確認していません")

    def close(self):
        if self.con is not None:
            self.con.close()

    def _exists(self, schema: str, table: str) -> bool:
        return bool(self.con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table]).fetchone()[0])

    def present(self, schema: str, table: str, sql: str, params: list, what: str) -> set | None:
        """The rows of ``sql`` over ``schema.table`` (written {t}) as a set; None when the check
        cannot be made (no warehouse, no table), which is noted once."""
        if self.con is None:
            return None
        if not self._exists(schema, table):
            self.notes.append(f"倉庫に {schema}.{table} がないため、{what}が現在のデータにあるかは確認していません")
            return None
        rows = self.con.execute(sql.replace("{t}", f'{schema}."{table}"'), params).fetchall()
        return {r if len(r) > 1 else r[0] for r in rows}


# ---------------------------------------------------------------- import


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_workbook(path: Path, project_root_mappings: Path, db: Path | None, system: str | None = None,
                    dry_run: bool = False, today: dt.date | None = None,
                    audit_dir: Path | None = None) -> ImportResult:
    """Import every decision of an owner's workbook; see the module docstring. ``system``: what the
    caller expects (must agree with the workbook's system id; used when the workbook has none).
    ``today``: dates after it are rejected (default: the real date). ``audit_dir``: the readiness
    state folder whose owners' audit log records the import (None: not recorded here; the next
    gate then records the change as a hand edit). Raises :class:`ImportUserError` (Japanese) when
    the file cannot be imported at all."""
    root = Path(project_root_mappings)
    path = Path(path)
    today = today or dt.date.today()
    try:
        city = load_city(root)
    except ConfigError as exc:
        raise ImportUserError(f"市の設定（{root / 'city.yaml'}）を読めません: {exc}") from None
    valid = [s.id for s in city.systems]
    wb = _open_workbook(path)
    try:
        sid = workbook_system(wb)
        if sid is None and system is None:
            raise ImportUserError(f"ブックにシステムIDがありません（「{S.COVER}」シートの B3）。--system で指定してください"
                                  f"（{', '.join(valid)}）")
        if system is not None and system not in valid:
            raise ImportUserError(f"--system {system}: この市のシステムではありません。有効なシステムID: {', '.join(valid)}")
        if sid is not None and system is not None and sid != system:
            raise ImportUserError(f"ブックのシステムID「{sid}」と指定（--system {system}）が一致しません")
        sid = sid or system
        if sid not in valid:
            raise ImportUserError(f"ブックのシステムID「{sid}」はこの市のシステムではありません。"
                                  f"有効なシステムID: {', '.join(valid)}")
        result = ImportResult(system=sid, file=path, sha256=_sha256(path), dry_run=dry_run)
        rows = _read_rows(wb, result)
    finally:
        wb.close()
    pending = _check_cells(rows, sid, result, today)
    wh = _Warehouse(db, result.notes)
    try:
        if audit_dir is not None and not dry_run:

            with audited_import(audit_dir, root, sid, result):
                _apply(pending, root, sid, result, wh)
        else:
            _apply(pending, root, sid, result, wh)
    finally:
        wh.close()
    if dry_run:
        result.notes.append("試行（--dry-run）: ファイルは書き込んでいません")
    return result


def _read_rows(wb, result: ImportResult) -> list[Row]:
    out = []
    for kind in _kinds():
        name = kind.sheet.name
        if name not in wb.sheetnames:
            result.notes.append(f"「{name}」シートがないため、取り込んでいません")
            continue
        ws = wb[name]
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()            # read every row, whatever size the file claims
        needed = [k for k in kind.keys] + [c for c in kind.inputs if c not in OPTIONAL]
        head = list(ws.iter_rows(min_row=1, max_row=HEADER_SCAN_ROWS, values_only=True))
        found = _find_header(head, needed)
        if found is None:
            missing = [n for n in needed if not any(_norm_heading(v) == _norm_heading(n) for r in head for v in r)]
            result.rejections.append(f"「{name}」シート: 見出し" + "".join(f"「{m}」" for m in missing)
                                     + f"が見つからないため、このシートは取り込めません（見出しは {S.HEADER_ROW}行目）")
            continue
        hi, _ = found
        # with the optional input columns (備考) when the sheet has them
        opt = _find_header(head[hi:hi + 1], needed + [c for c in kind.inputs if c in OPTIONAL])
        cols = (opt or found)[1]
        hr = hi + 1
        for r, values in enumerate(ws.iter_rows(min_row=hr + 1, values_only=True), start=hr + 1):
            v = {c: _value(values[j]) if j < len(values) else "" for c, j in cols.items()}
            for c in kind.inputs:
                v.setdefault(c, "")
            if all(v[c] == "" for c in kind.inputs):
                continue                       # no decision on this row
            out.append(Row(kind, r, v))
    return out


def _check_cells(rows: list[Row], system: str, result: ImportResult, today: dt.date) -> list[Pending]:
    """The checks a row passes on its own; a failing row is rejected with every reason."""
    pending = []
    for row in rows:
        k, v, name = row.kind, row.values, row.kind.sheet.name
        msgs = []
        missing = [c for c in k.required if v[c] == ""]
        if missing:
            msgs.append(f"{_where(name, row.row, missing)}: 記入がありません（"
                        f"{'・'.join(k.required)}をすべて記入してください。決定しない行は記入欄をすべて空にします）")
        for c in k.keys:
            if v[c] == "":
                msgs.append(f"{_where(name, row.row, [c])}: 空です（決定の対象が分かりません。行や値を消していないか確認してください）")
        dec = v[k.decision_col]
        if dec != "" and dec not in k.choices:
            msgs.append(f"{_where(name, row.row, [k.decision_col])}: 「{dec}」は一覧にありません（{'・'.join(k.choices)} から選んでください）")
        day = None
        if v[k.date_col] != "":
            try:
                day = parse_date(v[k.date_col], today=today)
            except DateError as exc:
                msgs.append(f"{_where(name, row.row, [k.date_col])}: {exc}")
        if not msgs:
            try:
                p = _pending(row, system, day)
            except _Reject as exc:
                msgs.append(str(exc))
        if msgs:
            result.rejections += msgs
            result.sheets[name].rejected += 1
            continue
        pending.append(p)
    return pending


class _Reject(Exception):
    pass


def _pending(row: Row, system: str, day: dt.date) -> Pending:
    k, v, name = row.kind, row.values, row.kind.sheet.name
    key = str(v[k.keys[-1]])
    if k.sheet in (S.SPEC, S.DATA):
        if not key.startswith(system + ":"):
            raise _Reject(f"{_where(name, row.row, [k.keys[0]])}: このシステム（{system}）のギャップIDではありません（{key}）")
        rec = GapDecision(gap_id=key, decision=v["対応方針"], reason=str(v["理由"]), decided_by=str(v["決定者"]),
                          decided_on=day)
        return Pending(row, "gaps", (key,), rec)
    if k.sheet is S.KEYS:
        if not key.startswith(system + "|"):
            raise _Reject(f"{_where(name, row.row, [k.keys[0]])}: このシステム（{system}）の指摘IDではありません（{key}）")
        rec = RecordDecision(finding_id=key, decision=v["対応方針"], reason=str(v["理由"]), decided_by=str(v["決定者"]),
                             decided_on=day)
        return Pending(row, "records", (key,), rec)
    if k.sheet is S.MYNUMBER:

        std_ref = str(v["標準テーブル"])
        rec = MyNumberReview(std_ref=std_ref, atena_no=key, result=v["確認結果"], reviewed_by=str(v["確認者"]),
                             reviewed_on=day)
        return Pending(row, "mynumber", (std_ref, key), rec)
    return _pending_gaiji(row, system, day)


def _pending_gaiji(row: Row, system: str, day: dt.date) -> Pending:
    from pydantic import ValidationError


    v, name = row.values, S.GAIJI.name
    code = unicodedata.normalize("NFKC", str(v["外字コード"])).strip().upper()
    if code.startswith("U+"):
        raise _Reject(f"{_where(name, row.row, ['外字コード'])}: {code} はベンダー外字ではないため、外字同定の決定として"
                      "保存できません（mappings/gaiji/decisions.csv はベンダー外字だけを扱います）。標準外の文字は"
                      "データ補正（現行データの修正）で対応してください。この行の判定・判定者・判定日は空にしてください")
    ch = str(v["標準の文字"])
    dec = v["判定"]
    if dec in ("同定", "縮退") and ch == "":
        raise _Reject(f"{_where(name, row.row, ['標準の文字'])}: 判定が{dec}のときは標準の文字が必要です")
    if ch and not is_one_character(ch):
        raise _Reject(f"{_where(name, row.row, ['標準の文字'])}: 1文字（または異体字セレクタ付きの1文字）で書いてください。"
                      "外字（私用領域の文字）は使えません")
    try:
        rec = GaijiDecision(system=system, code=code, decision=dec, character=ch,
                            rule=DEFAULT_FOLD_RULE if dec == "縮退" else "", decided_by=str(v["判定者"]),
                            decided_on=day, note=str(v.get("備考", "")))
    except ValidationError as exc:
        err = exc.errors()[0]
        col = {"code": "外字コード", "character": "標準の文字", "decision": "判定"}.get(
            str(err["loc"][0]) if err["loc"] else "", "")
        raise _Reject(f"{_where(name, row.row, [col] if col else [])}: {ja_error(err)}") from None
    return Pending(row, "gaiji", (system, rec.code), rec)


# ---------------------------------------------------------------- comparing and writing


TARGET_LABEL = {"gaps": "ギャップ", "records": "指摘", "mynumber": "紐付け", "gaiji": "外字"}
_COMPARE = {
    "gaps": ("decision", "reason", "decided_by", "decided_on"),
    "records": ("decision", "reason", "decided_by", "decided_on"),
    "mynumber": ("result", "reviewed_by", "reviewed_on"),
    "gaiji": ("decision", "character", "decided_by", "decided_on", "note"),
}
_FIELD_JA = {"decision": "対応方針", "reason": "理由", "decided_by": "決定者", "decided_on": "決定日",
             "result": "確認結果", "reviewed_by": "確認者", "reviewed_on": "確認日", "character": "標準の文字",
             "note": "備考"}


def _same(target: str, old, new) -> bool:
    return old is not None and all(getattr(old, f) == getattr(new, f) for f in _COMPARE[target])


def _change_text(target: str, old, new) -> str:
    def show(x):
        if x is None:
            return "（なし）"
        if target == "mynumber":
            return x.result
        if target == "gaiji":
            return f"{x.decision} {x.character}".strip()
        return x.decision
    text = f"{show(old)} → {show(new)}"
    if old is not None and show(old) == show(new):
        diff = [_FIELD_JA[f] for f in _COMPARE[target] if getattr(old, f) != getattr(new, f)]
        text += f"（{'・'.join(diff)}を変更）"
    return text


def _key_text(target: str, key: tuple) -> str:
    return " ".join(key)


def _apply(pending: list[Pending], root: Path, system: str, result: ImportResult, wh: _Warehouse) -> None:
    files = {
        "gaps": root / system / "gap_decisions.yaml",
        "records": root / system / "record_decisions.csv",
        "mynumber": root / system / "mynumber_reviews.csv",
        "gaiji": root / "gaiji" / "decisions.csv",
    }
    existing, file_errors = _existing(root, system)
    # one decision per key: a second row for the same key must say the same
    first: dict[tuple, Pending] = {}
    updates: dict[str, dict[tuple, Pending]] = {t: {} for t in files}
    to_check: list[Pending] = []
    for p in pending:
        name = p.row.kind.sheet.name
        tk = (p.target, p.key)
        if tk in first:
            f = first[tk]
            if _same(p.target, f.record, p.record):
                result.sheets[name].unchanged += 1
            else:
                result.sheets[name].rejected += 1
                result.rejections.append(f"{_where(name, p.row.row, p.row.kind.keys[-1:])}: 同じ{TARGET_LABEL[p.target]}の決定が"
                                         f"「{f.row.kind.sheet.name}」シート {f.row.row}行目にもあり、内容が違います")
            continue
        first[tk] = p
        if _same(p.target, existing[p.target].get(p.key), p.record):
            result.sheets[name].unchanged += 1
            continue
        to_check.append(p)
    for p in _still_present(to_check, system, result, wh):
        name = p.row.kind.sheet.name
        shown = display_path(files[p.target], root)
        if file_errors.get(p.target):
            result.sheets[name].rejected += 1
            result.rejections.append(f"{_where(name, p.row.row)}: {shown} に誤りがあるため書き込めません。先にファイルを"
                                     f"直してください（{file_errors[p.target][0]}）")
            continue
        old = existing[p.target].get(p.key)
        if p.target == "gaiji" and p.record.decision == "縮退" and old is not None and old.rule:
            p.record = p.record.model_copy(update={"rule": old.rule})    # the rule recorded before stays
        updates[p.target][p.key] = p
        result.sheets[name].applied += 1
        result.changes.append(Change(name, p.row.row, shown, _key_text(p.target, p.key),
                                     _change_text(p.target, old, p.record),
                                     getattr(p.record, "decided_by", None) or getattr(p.record, "reviewed_by", "")))
    texts: dict[Path, str] = {}
    if updates["gaps"]:
        merged = {d.gap_id: d for d in existing["gaps"].values()}
        merged.update({k[0]: p.record for k, p in updates["gaps"].items()})
        f = DecisionFile(system=system, decisions=list(merged.values()))
        texts[files["gaps"]] = render_decisions(f, leading_comment(files["gaps"]))
    if updates["records"]:
        texts[files["records"]] = _edit_csv(files["records"], RECORD_FIELDS, lambda r: (r["finding_id"],),
                                            {k: _row_of(p.record, RECORD_FIELDS) for k, p in updates["records"].items()})
    if updates["mynumber"]:

        texts[files["mynumber"]] = _edit_csv(files["mynumber"], REVIEW_FIELDS, lambda r: (r["std_ref"], r["atena_no"]),
                                             {k: _row_of(p.record, REVIEW_FIELDS) for k, p in updates["mynumber"].items()})
    if updates["gaiji"]:

        texts[files["gaiji"]] = _edit_csv(files["gaiji"], DECISION_FIELDS,
                                          lambda r: (r["system"].strip(), r["code"].strip().upper()),
                                          {k: _row_of(p.record, DECISION_FIELDS) for k, p in updates["gaiji"].items()})
    for p, text in texts.items():
        if p.exists() and p.read_text(encoding="utf-8") == text:
            continue
        result.targets.append(p)
        if not result.dry_run:
            atomic.write_text(p, text)
            result.files_written.append(p)
    if result.changes and not result.dry_run:
        log = root / system / "decision_imports.csv"
        _append_log(log, result)
        result.files_written.append(log)


def _existing(root: Path, system: str) -> tuple[dict[str, dict], dict[str, list[str]]]:

    gaps, gap_err = load_decisions_checked(system, root)
    recs, _ = load_record_decisions_checked(root, system)        # rewritten line by line: mistakes stay as they are
    reviews, _ = load_mynumber_reviews_checked(root, system)
    systems = [s.id for s in load_city(root).systems]
    gaiji, problems = load_gaiji_decisions_checked(systems, root)
    errors = {"gaps": gap_err,
              "records": _header_errors(root / system / "record_decisions.csv", RECORD_FIELDS, root),
              "mynumber": _header_errors(root / system / "mynumber_reviews.csv", _review_fields(), root),
              "gaiji": [p.message for p in problems if p.system is None]}
    return ({"gaps": {(d.gap_id,): d for d in gaps.decisions},
             "records": {(k,): r for k, r in recs.items()},
             "mynumber": dict(reviews.items()),
             "gaiji": {(d.system, d.code): d for d in gaiji if d.system == system}}, errors)


def _review_fields() -> list[str]:

    return REVIEW_FIELDS


def _header_errors(path: Path, fields: list[str], root: Path) -> list[str]:
    """A CSV that is edited record by record needs only a readable header."""
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return [f"{display_path(path, root)}: UTF-8 として読めません"]
    for _, rec in csv_records(text):
        if [h.strip() for h in rec] != fields:
            return [f"{display_path(path, root)} 1行目: 見出しは {','.join(fields)} にしてください"]
        break
    return []


def _still_present(pending: list[Pending], system: str, result: ImportResult, wh: _Warehouse) -> list[Pending]:
    """The rows whose gap / finding / person / 外字 is still in the warehouse (all of them when it
    cannot be checked; the notes say so)."""
    by_target: dict[str, list[Pending]] = {}
    for p in pending:
        by_target.setdefault(p.target, []).append(p)
    present: dict[str, set | None] = {}
    if by_target.get("gaps"):
        ids = [p.key[0] for p in by_target["gaps"]]
        got: set | None = set()
        for kind in ("spec", "data"):       # a gap id is looked for in both, whichever sheet it is on
            s = wh.present("gaps", f"gaps_{system}__{kind}",
                           "select gap_id from {t} where list_contains(?::varchar[], gap_id)", [ids], "ギャップ")
            got = None if s is None or got is None else got | s
        present["gaps"] = got
    if by_target.get("records"):
        ids = [p.key[0] for p in by_target["records"]]
        present["records"] = wh.present("findings", f"fnd_{system}",
                                        "select finding_id from {t} where list_contains(?::varchar[], finding_id)",
                                        [ids], "指摘")
    if by_target.get("mynumber"):
        ids = sorted({p.key[1] for p in by_target["mynumber"]})
        present["mynumber"] = wh.present("conformance", f"conf_{system}__mynumber_audit",
                                         "select std_ref, atena_no from {t} where list_contains(?::varchar[], atena_no)",
                                         [ids], "個人番号紐付けの点検対象")
    if by_target.get("gaiji"):
        s = wh.present("meta", "gaiji_usage", "select distinct sjis_code from {t} where system = ?", [system], "外字")
        present["gaiji"] = None if s is None else {(system, c) for c in s}
    out = []
    gone = {"gaps": "現在のデータにこのギャップはありません（解消済みか、ギャップIDの誤り）",
            "records": "現在のデータにこの指摘はありません（解消済みか、指摘IDの誤り）",
            "mynumber": "現在の紐付け点検にこの標準テーブル・宛名番号の組はありません（解消済みか、値の誤り）",
            "gaiji": f"現在のデータ（{system}）にこの外字コードはありません（コードの誤りか、使われなくなった外字）"}
    for p in pending:
        have = present.get(p.target)
        key = p.key if p.target in ("mynumber", "gaiji") else p.key[0]
        if have is not None and key not in have:
            name = p.row.kind.sheet.name
            result.sheets[name].rejected += 1
            result.rejections.append(f"{_where(name, p.row.row, p.row.kind.keys[-1:])}: {gone[p.target]}")
            continue
        out.append(p)
    return out


def _row_of(model, fields: list[str]) -> dict[str, str]:
    out = {}
    for f in fields:
        v = getattr(model, f)
        out[f] = v.isoformat() if isinstance(v, dt.date) else str(v)
    return out


def _edit_csv(path: Path, fields: list[str], key_of, updates: dict[tuple, dict[str, str]]) -> str:
    """The CSV text with ``updates`` applied: a record whose key is updated is replaced where it
    stands (a later duplicate of it is dropped); every other record is kept byte for byte; new
    keys are appended in key order."""
    def line(values: dict) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([values[f] for f in fields])
        return buf.getvalue()

    if not path.exists():
        return line({f: f for f in fields}) + "".join(line(updates[k]) for k in sorted(updates))
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines(keepends=True)
    recs = list(csv_records(text))
    out, done = [], set()
    for i, (start, rec) in enumerate(recs):
        end = recs[i + 1][0] - 1 if i + 1 < len(recs) else len(lines)
        raw = "".join(lines[start - 1:end])
        if start == 1 or len(rec) != len(fields):
            out.append(raw)
            continue
        k = key_of(dict(zip(fields, rec)))
        if k in updates:
            if k not in done:
                out.append(line(updates[k]))
                done.add(k)
            continue
        out.append(raw)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    out += [line(updates[k]) for k in sorted(updates) if k not in done]
    return "".join(out)


def _append_log(path: Path, result: ImportResult) -> None:
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if not path.exists():
        w.writerow(LOG_FIELDS)
    for c in result.changes:
        w.writerow([now, result.file.name, result.sha256, c.sheet, c.row, c.target, c.key, c.change, c.decided_by])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())


# ---------------------------------------------------------------- the summary, the inbox


def _pad(s: str, width: int, right: bool = False) -> str:
    gap = " " * max(width - S.display_width(s), 0)
    return gap + s if right else s + gap


def format_result(r: ImportResult) -> str:
    """The Japanese summary: a table of applied / unchanged / rejected per sheet, every rejection,
    the notes and the files written."""
    lines = [f"{r.file.name}（システム {r.system}）の取り込み結果" + ("　※試行（--dry-run）" if r.dry_run else ""),
             ""]
    head = ["シート", "反映", "変更なし", "却下"]
    widths = [22, 6, 9, 6]
    lines.append("".join(_pad(h, w, right=i > 0) for i, (h, w) in enumerate(zip(head, widths))))
    for name, c in list(r.sheets.items()) + [("合計", SheetCounts(r.applied, r.unchanged, r.rejected))]:
        cells = [name, str(c.applied), str(c.unchanged), str(c.rejected)]
        lines.append("".join(_pad(x, w, right=i > 0) for i, (x, w) in enumerate(zip(cells, widths))))
    if r.rejections:
        lines += ["", f"却下した行（{len(r.rejections)} 件。直して、もう一度取り込んでください）:"]
        lines += [f"  {m}" for m in r.rejections]
    if r.notes:
        lines += ["", "注記:"] + [f"  {m}" for m in r.notes]
    if r.files_written:
        lines += ["", "書き込んだファイル:"] + [f"  {p}" for p in r.files_written]
    if r.audit:
        lines += ["", f"監査ログに記録: {r.audit['audit_id']}（{r.audit['rows_changed']} 行の変更）"]
    elif r.dry_run and r.targets:
        lines += ["", "書き込む予定のファイル:"] + [f"  {p}" for p in r.targets]
    elif not r.targets:
        lines += ["", "変更はありません"]
    return "\n".join(lines)


@dataclass
class InboxItem:
    file: Path
    moved_to: Path | None
    result: ImportResult | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None and self.result.ok


def _destination(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / name
    if dest.exists():
        stem, suf = Path(name).stem, Path(name).suffix
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        dest = folder / f"{stem}_{stamp}{suf}"
        n = 1
        while dest.exists():
            dest = folder / f"{stem}_{stamp}-{n}{suf}"
            n += 1
    return dest


def import_inbox(inbox: Path, project_root_mappings: Path, db: Path | None, dry_run: bool = False,
                 today: dt.date | None = None, audit_dir: Path | None = None) -> list[InboxItem]:
    """Import every ``*.xlsx`` of ``inbox`` (oldest first); move each to ``inbox/done/`` when every
    row was taken, else to ``inbox/rejected/`` with a ``.txt`` of the messages beside it (its good
    rows are applied all the same). Excel's lock files (``~$…``) are left alone. Dry run moves nothing."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        raise ImportUserError(f"受付フォルダがありません: {inbox}")
    files = sorted((p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() == ".xlsx"
                    and not p.name.startswith("~$")), key=lambda p: (p.stat().st_mtime, p.name))
    out = []
    for f in files:
        try:
            res = import_workbook(f, project_root_mappings, db, dry_run=dry_run, today=today, audit_dir=audit_dir)
            item = InboxItem(f, None, res)
        except ImportUserError as exc:
            item = InboxItem(f, None, None, str(exc))
        if not dry_run:
            dest = _destination(inbox / ("done" if item.ok else "rejected"), f.name)
            shutil.move(str(f), dest)
            item.moved_to = dest
            if not item.ok:
                text = item.error if item.error else format_result(item.result)
                dest.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
        out.append(item)
    return out
