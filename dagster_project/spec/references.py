"""Key spaces, references and check-digit identifiers, as data (``mappings/references.yaml``).

Key conformance used to be a hand-kept list of person-key column names in code; a 戸籍の附票
row pointing at a 戸籍 that does not exist, or a 世帯番号 no household has, was never looked
for. Now every reference is a line of data, validated when the project loads against the
standard catalog and the mappings: an unknown table or column, a reference to an undeclared key
space, or a reference-like standard column (``…atena_no``, ``…setai_no``, ``koseki_no`` …) that
is declared nowhere fails with the file and the line's table and column named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dagster_project.spec.config import ConfigError, _build, _read_yaml

CheckDigit = Literal["atena", "mynumber", "hojin", "juminhyo"]
# standard columns that name another record: each must be declared (member, reference or unchecked),
# except a table's own single-column key, which names the record itself
REFERENCE_LIKE = re.compile(r"^(.*_)?(atena_no|setai_no|koseki_no|case_no|jukyusha_no|hiho_no)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(_Strict):
    table: str
    column: str
    where: str | None = None      # SQL over the member table's standard columns


class KeySpace(_Strict):
    label: str
    check_digit: CheckDigit | None = None
    members: list[Member] = Field(min_length=1)


class Reference(_Strict):
    table: str
    column: str
    to: str


class Identifier(_Strict):
    label: str
    check_digit: CheckDigit


class Unchecked(_Strict):
    table: str
    column: str
    reason: str


class ReferencesFile(_Strict):
    key_spaces: dict[str, KeySpace]
    references: list[Reference] = Field(default_factory=list)
    identifiers: dict[str, Identifier] = Field(default_factory=dict)
    unchecked: list[Unchecked] = Field(default_factory=list)


@dataclass(frozen=True)
class CheckedId:
    """A standard column whose values carry a check digit, and by which rule."""

    table: str
    column: str
    rule: CheckDigit
    label: str


def load_references(root: Path, catalog) -> ReferencesFile:
    """``mappings/references.yaml``, validated against the standard catalog."""
    path = root / "references.yaml"
    refs = _build(ReferencesFile, path, _read_yaml(path))

    def column_of(where: str, table: str, column: str):
        if table not in catalog.tables:
            raise ConfigError(f"{path}: {where}: {table!r} is not a standard table of seeds/std_items.csv")
        cols = {i.column_name for i in catalog.tables[table].items}
        if column not in cols:
            raise ConfigError(f"{path}: {where}: {table} has no column {column!r}")

    declared: set[tuple[str, str]] = set()
    for name, ks in refs.key_spaces.items():
        for i, m in enumerate(ks.members):
            column_of(f"key_spaces.{name}.members[{i + 1}]", m.table, m.column)
            declared.add((m.table, m.column))
    for i, r in enumerate(refs.references):
        where = f"references[{i + 1}] ({r.table}.{r.column})"
        column_of(where, r.table, r.column)
        if r.to not in refs.key_spaces:
            raise ConfigError(f"{path}: {where}: to {r.to!r} is not a key space ({', '.join(refs.key_spaces)})")
        if (r.table, r.column) in declared and not any(
                (m.table, m.column) == (r.table, r.column) for m in refs.key_spaces[r.to].members):
            raise ConfigError(f"{path}: {where}: declared twice")
        declared.add((r.table, r.column))
    for i, u in enumerate(refs.unchecked):
        column_of(f"unchecked[{i + 1}]", u.table, u.column)
        declared.add((u.table, u.column))
    undeclared = sorted(f"{ref}.{it.column_name}（{it.item_name}）" for ref, t in catalog.tables.items()
                        for it in t.items if REFERENCE_LIKE.match(it.column_name)
                        and (ref, it.column_name) not in declared and t.key != [it.column_name])
    if undeclared:
        raise ConfigError(f"{path}: standard columns that refer to other records are declared nowhere "
                          f"(add them under references, key_spaces or unchecked): {', '.join(undeclared)}")
    return refs


def checked_ids(refs: ReferencesFile, catalog) -> list[CheckedId]:
    """Every standard column whose values carry a check digit: key-space members and references of
    a key space with a rule, and every column named under ``identifiers``, wherever it appears."""
    out: dict[tuple[str, str], CheckedId] = {}
    for ks in refs.key_spaces.values():
        if ks.check_digit is None:
            continue
        for m in ks.members:
            out[(m.table, m.column)] = CheckedId(m.table, m.column, ks.check_digit, ks.label)
    for r in refs.references:
        ks = refs.key_spaces[r.to]
        if ks.check_digit:
            out[(r.table, r.column)] = CheckedId(r.table, r.column, ks.check_digit, ks.label)
    for ref, t in catalog.tables.items():
        for it in t.items:
            ident = refs.identifiers.get(it.column_name)
            if ident:
                out[(ref, it.column_name)] = CheckedId(ref, it.column_name, ident.check_digit, ident.label)
    return sorted(out.values(), key=lambda c: (c.table, c.column))
