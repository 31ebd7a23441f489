"""System owners' decisions on gaps: ``mappings/<system>/gap_decisions.yaml``, and on key
violations, record by record: ``mappings/<system>/record_decisions.csv``.

Each decision names a gap by its stable id and says what the owner will do about it, with
the reason, who decided and when. On every run the decisions are reconciled with the gaps
the warehouse holds now: a gap with no decision is *open*; a decision whose gap no longer
exists is *stale* (reported, never silently dropped). One decision per issue
(:func:`needing_decision`): a code value no record holds needs none, and the data gap
``…:unmapped_code`` of an item is answered by the decisions on its spec gaps
``…:code_unmapped:<value>``.

Owners' files are read two ways. ``load_*`` raise :class:`ConfigError` (for tools and tests);
``check_*`` / ``load_*_checked`` never raise on what an owner wrote: they return what could be
read and a Japanese message per mistake, naming the file and the line (for YAML, the line of
the list item or key, from PyYAML's node marks), so a typo blocks only that system's gate and
says why. Dates are read in any common spelling (:func:`parse_date`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from dagster_project.spec.config import ConfigError, load_system_file
from dagster_project.core.wareki import era_by

DECISIONS = ("業務フロー変更", "疎結合システムで対応", "データ補正", "標準仕様への要望", "対応不要")
Decision = Literal["業務フロー変更", "疎結合システムで対応", "データ補正", "標準仕様への要望", "対応不要"]


# ---------------------------------------------------------------- dates, in any common spelling


class DateError(ValueError):
    """A date an owner wrote that cannot be read; the message is Japanese and shows the value."""


_SEP = r"\s*(?:[-/.]|年)\s*"
_SEP2 = r"\s*(?:[-/.]|月)\s*"
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_WESTERN = re.compile(rf"(\d{{4}}){_SEP}(\d{{1,2}}){_SEP2}(\d{{1,2}})\s*日?{_TIME}")
_ERA = re.compile(rf"(明治|大正|昭和|平成|令和|[MTSHR])\s*(元|\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP2}(\d{{1,2}})\s*日?")
_YMD8 = re.compile(r"(\d{4})(\d{2})(\d{2})")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(value, today: dt.date | None = None) -> dt.date:
    """A date as owners write it: a date or datetime (an Excel date cell), 2026-11-20, 2026/11/20,
    2026/1/5, 2026.11.20, 20261120, 2026年11月20日, 令和8年11月20日, 令和元年…, 令和8.11.20,
    R8.11.20, R08/11/20 (full-width digits too), or an Excel serial number. Raises
    :class:`DateError` (Japanese) for anything else, an impossible day (2026/2/30, 平成31年5月1日),
    and, when ``today`` is given, a day after it."""
    d = _parse_date(value)
    if today is not None and d > today:
        raise DateError(f"未来の日付です（{_show(value)} → {d.isoformat()}、今日は {today.isoformat()}）")
    return d


def _show(value) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()


def _parse_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool) or value is None:
        raise DateError(f"日付として読めません（{value}）")
    if isinstance(value, (int, float)):
        if float(value).is_integer() and 19000101 <= value <= 29991231:
            value = str(int(value))
        elif 1 <= value < 100000:       # an Excel serial day number in a cell not formatted as a date
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        else:
            raise DateError(f"日付として読めません（{value}）")
    raw = str(value).strip()
    v = unicodedata.normalize("NFKC", raw).strip().upper()
    bad = f"日付として読めません（{raw}）"
    m = _WESTERN.fullmatch(v) or _YMD8.fullmatch(v)
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise DateError(bad + _why(int(m.group(2)))) from None
    m = _ERA.fullmatch(v)
    if m:

        era = era_by(m.group(1))
        year = 1 if m.group(2) == "元" else int(m.group(2))
        try:
            d = dt.date(era.start.year + year - 1, int(m.group(3)), int(m.group(4)))
        except ValueError:
            raise DateError(bad + _why(int(m.group(3)))) from None
        if year < 1 or d < era.start or (era.end is not None and d > era.end):
            last = f"{era.end.year}年{era.end.month}月{era.end.day}日まで" if era.end else ""
            raise DateError(bad + f"。{era.name}は{era.start.year}年{era.start.month}月{era.start.day}日から{last}です")
        return d
    raise DateError(bad + f"。書き方の例: {DATE_FORMS}")


# what an owner may type in a date cell (an Excel date cell is read as it is)
DATE_FORMS = "2026/11/20、2026-11-20、20261120、2026年11月20日、令和8年11月20日、R8.11.20"


def _why(month: int) -> str:
    return "。存在しない日付です" if 1 <= month <= 12 else f"。月は 1〜12 です（書き方の例: {DATE_FORMS}）"


def _owner_date(v):
    if v is None or v == "":
        return v        # "missing" / "too short" is reported by the field itself
    return _parse_date(v)


OwnerDate = Annotated[dt.date, BeforeValidator(_owner_date)]


# ---------------------------------------------------------------- the decision files


class GapDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    gap_id: str = Field(min_length=3)
    decision: Decision
    reason: str = Field(min_length=1)
    decided_by: str = Field(min_length=1)
    decided_on: OwnerDate


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


class RecordDecision(BaseModel):
    """One row of ``mappings/<system>/record_decisions.csv``: a decision on one finding of the
    ledger (a key violation of one record), named by its ``finding_id``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    finding_id: str = Field(min_length=3)
    decision: Decision
    reason: str = Field(min_length=1)
    decided_by: str = Field(min_length=1)
    decided_on: OwnerDate


RECORD_FIELDS = ["finding_id", "decision", "reason", "decided_by", "decided_on"]


def load_record_decisions(root: Path, system: str) -> dict[str, RecordDecision]:
    """``mappings/<system>/record_decisions.csv`` by finding id; a mistake raises
    :class:`ConfigError` naming file, line and column (in Japanese)."""
    out, errors = load_record_decisions_checked(root, system)
    if errors:
        raise ConfigError("\n".join(errors))
    return out


def load_record_decisions_checked(root: Path, system: str) -> tuple[dict[str, RecordDecision], list[str]]:
    path = Path(root) / system / "record_decisions.csv"
    rows, errors = read_csv_checked(path, RecordDecision, RECORD_FIELDS, display_path(path, root))
    out: dict[str, RecordDecision] = {}
    seen: dict[str, int] = {}
    for line, r in rows:
        if r.finding_id in seen:
            errors.append(f"{display_path(path, root)} {line}行目 finding_id: 同じ指摘IDの決定が "
                          f"{seen[r.finding_id]}行目にもあります（{r.finding_id}）")
            continue
        if not r.finding_id.startswith(system + "|"):
            errors.append(f"{display_path(path, root)} {line}行目 finding_id: 別のシステムの指摘IDです（{r.finding_id}）")
            continue
        seen[r.finding_id] = line
        out[r.finding_id] = r
    return out, errors


# ---------------------------------------------------------------- reading without raising


def display_path(path: Path, root: Path) -> str:
    """``mappings/kokuho/gap_decisions.yaml``: the path from the mappings folder's parent."""
    path, root = Path(path), Path(root)
    try:
        return path.relative_to(root.parent).as_posix()
    except ValueError:
        return path.as_posix()


_TYPE_JA = {
    "missing": "記入がありません",
    "extra_forbidden": "知らない項目です（綴りを確認してください）",
    "string_too_short": "空です",
    "string_type": "文字列で書いてください",
    "list_type": "一覧（- で始まる行）で書いてください",
    "model_type": "「項目: 値」の形で書いてください",
    "dict_type": "「項目: 値」の形で書いてください",
    "date_type": "日付として読めません",
    "date_from_datetime_parsing": "日付として読めません",
    "date_parsing": "日付として読めません",
}


def ja_error(err: dict) -> str:
    """One pydantic error in Japanese."""
    t = err["type"]
    if t == "literal_error":
        expected = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
        return f"「{err.get('input')}」は選べません（{'・'.join(expected)} のいずれか）"
    if t == "value_error":
        e = err.get("ctx", {}).get("error")
        return str(e) if e is not None else err["msg"].removeprefix("Value error, ")
    if t in CUSTOM_JA:
        return CUSTOM_JA[t](err.get("ctx") or {}, err.get("input"))
    if t.startswith("date") and err.get("input") in ("", None):
        return "記入がありません"
    if t in _TYPE_JA:
        msg = _TYPE_JA[t]
        if t.startswith("date") and err.get("input") is not None:
            msg += f"（{err['input']}）"
        return msg
    return err["msg"]


# messages of custom pydantic errors (PydanticCustomError types) in Japanese, by type; a model
# that raises one registers its text here (e.g. gaiji_workflow)
CUSTOM_JA: dict[str, Callable[[dict, object], str]] = {}


def read_csv_checked(path: Path, model, fields: list[str], shown: str) -> tuple[list[tuple[int, BaseModel]], list[str]]:
    """Rows of a UTF-8 CSV whose header must be ``fields``, each validated as ``model``: the good
    rows as ``(line, row)`` and a Japanese message per bad one (``<shown> <line>行目 <column>: …``).
    A missing file is no rows and no errors; a wrong header, no rows and one error."""
    path = Path(path)
    if not path.exists():
        return [], []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return [], [f"{shown}: UTF-8 として読めません（Excel で保存した場合は「CSV UTF-8」を選んでください）"]
    rows, errors = [], []
    for line, rec in csv_records(text):
        if line == 1:
            header = [h.strip() for h in rec]
            if header != fields:
                return [], [f"{shown} 1行目: 見出しは {','.join(fields)} にしてください（いまは {','.join(rec)}）"]
            continue
        if not any(c.strip() for c in rec):
            continue
        if len(rec) != len(fields):
            errors.append(f"{shown} {line}行目: 列の数が {len(rec)} です（{len(fields)} のはず。値の中の「,」は \"…\" で囲みます）")
            continue
        try:
            rows.append((line, model.model_validate({k: v.strip() for k, v in zip(fields, rec)})))
        except ValidationError as exc:
            for err in exc.errors():
                col = ".".join(str(p) for p in err["loc"])
                errors.append(f"{shown} {line}行目" + (f" {col}" if col else "") + f": {ja_error(err)}")
    return rows, errors


def csv_records(text: str):
    """``(first physical line, fields)`` of every CSV record (a quoted field may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    last = 0
    for rec in reader:
        yield last + 1, rec
        last = reader.line_num


def _node_line(node, loc: tuple) -> int:
    """The 1-based line of the YAML node at ``loc``: the deepest that exists (a missing key is
    named at its list item; a scalar at its key)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value
                         if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
            if pair is None:
                break
            key, value = pair
            if not isinstance(value, (yaml.MappingNode, yaml.SequenceNode)):
                node = key
                break
            node = value
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1


def read_yaml_checked(path: Path, shown: str) -> tuple[object | None, object | None, list[str]]:
    """``(data, node tree, errors)`` of a YAML file; a syntax error is named with its line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, None, [f"{shown}: UTF-8 として読めません"]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" {mark.line + 1}行目" if mark else ""
        return None, None, [f"{shown}{where}: YAML として読めません（字下げ・「:」・引用符を確認してください。{exc.problem}）"]
    except yaml.YAMLError as exc:
        return None, None, [f"{shown}: YAML として読めません（{exc}）"]
    return data, node, []


def check_yaml_model(path: Path, model, root: Path) -> tuple[BaseModel | None, list[str]]:
    """A whole YAML file validated as ``model``: the object, or None and Japanese messages with lines."""
    shown = display_path(path, root)
    data, node, errors = read_yaml_checked(path, shown)
    if errors:
        return None, errors
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [_yaml_msg(shown, node, err) for err in exc.errors()]


def _yaml_msg(shown: str, node, err: dict, prefix: tuple = ()) -> str:
    loc = prefix + tuple(err["loc"])
    line = _node_line(node, loc) if node is not None else 1
    field = str(loc[-1]) if loc and isinstance(loc[-1], str) else ""
    return f"{shown} {line}行目" + (f" {field}" if field else "") + f": {ja_error(err)}"


def load_decisions_checked(system: str, root: Path) -> tuple[DecisionFile, list[str]]:
    """The gap decisions that can be read, and a Japanese message (file, line, key) per mistake.
    A bad item is left out on its own; the rest apply."""
    root = Path(root)
    path = root / system / "gap_decisions.yaml"
    if not path.exists():
        return DecisionFile(system=system), []
    shown = display_path(path, root)
    data, node, errors = read_yaml_checked(path, shown)
    if errors:
        return DecisionFile(system=system), errors
    if data is None:
        return DecisionFile(system=system), []
    if not isinstance(data, dict):
        return DecisionFile(system=system), [f"{shown} 1行目: 「system:」と「decisions:」の形で書いてください"]
    for k in data:
        if k not in ("system", "decisions"):
            errors.append(f"{shown} {_node_line(node, (k,))}行目 {k}: 知らない項目です（system と decisions だけ書けます）")
    if data.get("system") != system:
        errors.append(f"{shown} {_node_line(node, ('system',))}行目 system: フォルダは {system} ですが"
                      f"「{data.get('system')}」と書かれています")
    items = data.get("decisions") or []
    if not isinstance(items, list):
        errors.append(f"{shown} {_node_line(node, ('decisions',))}行目 decisions: 一覧（- で始まる行）で書いてください")
        items = []
    good: list[GapDecision] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        line = _node_line(node, ("decisions", i))
        try:
            d = GapDecision.model_validate(item)
        except ValidationError as exc:
            errors += [_yaml_msg(shown, node, err, ("decisions", i)) for err in exc.errors()]
            continue
        gl = _node_line(node, ("decisions", i, "gap_id"))
        if not d.gap_id.startswith(system + ":"):
            errors.append(f"{shown} {gl}行目 gap_id: 別のシステムのギャップIDです（{d.gap_id}）")
            continue
        if d.gap_id in seen:
            errors.append(f"{shown} {gl}行目 gap_id: 同じギャップIDの決定が {seen[d.gap_id]}行目にもあります（{d.gap_id}）")
            continue
        seen[d.gap_id] = line
        good.append(d)
    return DecisionFile(system=system, decisions=good), errors


# ---------------------------------------------------------------- writing (the importer)


class _IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key, as the hand-written files are."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


DEFAULT_HEADER = (
    "# 所管課の対応方針: ギャップIDごとに decision（業務フロー変更 / 疎結合システムで対応 / データ補正 /\n"
    "# 標準仕様への要望 / 対応不要）、reason、decided_by、decided_on を書く。ギャップIDはギャップレポートにある。\n")


def render_decisions(f: DecisionFile, header: str = DEFAULT_HEADER) -> str:
    """``gap_decisions.yaml`` text: ``header`` (the file's leading comment), then the decisions
    sorted by gap id, one key per line, so that a change is a small diff."""
    doc = {"system": f.system,
           "decisions": [{"gap_id": d.gap_id, "decision": d.decision, "reason": d.reason,
                          "decided_by": d.decided_by, "decided_on": d.decided_on}
                         for d in sorted(f.decisions, key=lambda d: d.gap_id)]}
    body = yaml.dump(doc, Dumper=_IndentedDumper, allow_unicode=True, sort_keys=False, width=4096,
                     default_flow_style=False)
    return header + body


def leading_comment(path: Path) -> str:
    """The comment lines a YAML file starts with (kept when the file is rewritten)."""
    if not Path(path).exists():
        return DEFAULT_HEADER
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("#"):
            out.append(line if line.endswith("\n") else line + "\n")
        else:
            break
    return "".join(out)


# ---------------------------------------------------------------- which gaps need a decision


def _get(row, key):
    return row[key] if isinstance(row, Mapping) else getattr(row, key)


def _item_of(row) -> str:
    """``<system>:<business>.<table>.<item>`` of a code gap (spec ``…:code_unmapped:<v>``, data ``…:unmapped_code``)."""
    gid = _get(row, "gap_id")
    if _get(row, "gap_kind") == "code_unmapped":
        return gid.split(":code_unmapped:")[0]
    return gid.rsplit(":", 1)[0]


def _has_no_records(row) -> bool:
    rc = _get(row, "record_count") if (not isinstance(row, Mapping) or "record_count" in row) else None
    try:
        return rc is not None and rc == rc and int(rc) == 0     # rc == rc: not NaN
    except (TypeError, ValueError):
        return False


def twin_spec_gaps(spec_rows, data_rows) -> dict[str, list[str]]:
    """Data gap ``…:unmapped_code`` → the spec gaps ``…:code_unmapped:<value>`` of the same item
    that have records (their decisions answer it). Items without such spec gaps are left out."""
    by_item: dict[str, list[str]] = defaultdict(list)
    for g in spec_rows:
        if _get(g, "gap_kind") == "code_unmapped" and not _has_no_records(g):
            by_item[_item_of(g)].append(_get(g, "gap_id"))
    return {_get(g, "gap_id"): sorted(by_item[_item_of(g)]) for g in data_rows
            if _get(g, "gap_kind") == "unmapped_code" and by_item.get(_item_of(g))}


def needing_decision(spec_rows, data_rows) -> list[str]:
    """Gap ids that need an owner's decision, one per issue: every spec and data gap except
    (a) a gap with ``record_count`` 0 (a code value of the vendor's list that no record holds) and
    (b) the data gap ``…:unmapped_code`` of an item whose spec gaps ``…:code_unmapped:<value>``
    with records exist: deciding those (one per code value) answers it. Rows are mappings (or
    objects) with ``gap_id``, ``gap_kind`` and ``record_count``; the order is kept."""
    twins = twin_spec_gaps(spec_rows, data_rows)
    out = [_get(g, "gap_id") for g in spec_rows if not _has_no_records(g)]
    out += [_get(g, "gap_id") for g in data_rows if not _has_no_records(g) and _get(g, "gap_id") not in twins]
    return out


DONE, OPEN, NOT_NEEDED, TWIN = "決定済み", "未決定", "決定不要", "仕様差異で決定"


def gap_status(spec_rows, data_rows, decided) -> dict[str, str]:
    """Per gap id: 決定済み / 未決定 / 決定不要 (no record holds it) / 仕様差異で決定 (a data gap
    answered by the decisions on all its spec twins)."""
    decided = set(decided)
    need = set(needing_decision(spec_rows, data_rows))
    twins = twin_spec_gaps(spec_rows, data_rows)
    out = {}
    for g in list(spec_rows) + list(data_rows):
        gid = _get(g, "gap_id")
        if gid in decided:
            out[gid] = DONE
        elif gid in twins:
            # decided on its spec twins (the code values): the row that needs the owner is the spec one
            out[gid] = TWIN
        else:
            out[gid] = OPEN if gid in need else NOT_NEEDED
    return out


@dataclass
class Reconciled:
    decided: dict[str, GapDecision]
    open: list[str]
    stale: list[GapDecision]


def reconcile(gap_ids: list[str], decisions: DecisionFile, needing: list[str] | None = None) -> Reconciled:
    """``gap_ids``: every gap the warehouse holds now; ``needing``: those that need a decision
    (:func:`needing_decision`; all of them when None). Open = needing and undecided; stale = a
    decision whose gap is not among ``gap_ids``."""
    by_id = {d.gap_id: d for d in decisions.decisions}
    current = set(gap_ids)
    return Reconciled(
        decided={g: by_id[g] for g in gap_ids if g in by_id},
        open=[g for g in (gap_ids if needing is None else needing) if g not in by_id],
        stale=[d for d in decisions.decisions if d.gap_id not in current],
    )
