"""The city, its current systems and their export layouts, loaded from ``mappings/``.

Everything the pipeline knows about a city is data under ``mappings/``: the 20 businesses
(標準化対象20業務), the current systems (現行システム) hosting them, each system's export
layout and its vendor 外字 table. This module is the only reader of those files. It
validates them with pydantic when the project loads, so a missing file or a wrong field
fails at once with the file and the field named, instead of half-way through a run.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dagster_project.core.settings import PROJECT_ROOT, settings  # noqa: F401  (PROJECT_ROOT re-exported)


def mappings_dir() -> Path:
    return settings().mappings_dir


class ConfigError(Exception):
    """A configuration file is missing or wrong; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- the city

class Business(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    tax: bool = False


class System(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    businesses: list[str] = Field(min_length=1)
    vendor: str
    owner: str                                            # 所管課, as people write it
    owner_team: str = Field(pattern=r"^[a-z][a-z0-9_]*$")  # its Dagster owner: team:<owner_team>
    track: Literal["on_schedule", "tokutei_ikou_shien"]
    cutover: dt.date

    @property
    def dagster_owner(self) -> str:
        """The owner of the system's assets in Dagster (its 所管課)."""
        return f"team:{self.owner_team}"

    @property
    def track_ja(self) -> str:
        return {"on_schedule": "標準準拠移行", "tokutei_ikou_shien": "特定移行支援システム"}[self.track]


class CityInfo(_Strict):
    name: str
    name_en: str
    local_gov_code: str = Field(pattern=r"^\d{6}$")
    prefecture: str
    residents: int = Field(gt=0)
    as_of: dt.date | None = None
    gate_days_before_cutover: int = Field(default=30, ge=0)
    # 宛名番号 carry a check digit by this rule (DOMAIN.md: M11W2-7 for numbers the new system
    # issues); "none" where the city's existing numbers do not.
    atena_check_digit: Literal["m11w27", "none"] = "m11w27"
    # 住民票コード: mod 11 with these weights from the right (DOMAIN.md: *assumed*).
    juminhyo_weights: list[int] = Field(default_factory=lambda: [2, 3, 4, 5, 6, 7], min_length=1)
    # the ICT office owns the shared assets (reference data, bookkeeping, the overview) in Dagster
    ict_office: str = "ICTイノベーション推進室"
    ict_office_team: str = Field(default="ict_office", pattern=r"^[a-z][a-z0-9_]*$")

    @property
    def ict_office_owner(self) -> str:
        return f"team:{self.ict_office_team}"


class City(_Strict):
    city: CityInfo
    businesses: list[Business]
    systems: list[System]

    @model_validator(mode="after")
    def _consistent(self) -> "City":
        bids = [b.id for b in self.businesses]
        if len(set(bids)) != len(bids):
            raise ValueError(f"businesses: duplicate id in {bids}")
        sids = [s.id for s in self.systems]
        if len(set(sids)) != len(sids):
            raise ValueError(f"systems: duplicate id in {sids}")
        hosted: dict[str, str] = {}
        for s in self.systems:
            for b in s.businesses:
                if b not in bids:
                    raise ValueError(f"systems[{s.id}].businesses: unknown business {b!r}")
                if b in hosted:
                    raise ValueError(
                        f"systems[{s.id}].businesses: {b!r} is already hosted by {hosted[b]!r}"
                    )
                hosted[b] = s.id
        teams: dict[str, str] = {}
        owners: dict[str, str] = {}
        for s in self.systems:
            team_of = owners.setdefault(s.owner, s.owner_team)
            owner_of = teams.setdefault(s.owner_team, s.owner)
            if team_of != s.owner_team or owner_of != s.owner:
                raise ValueError(f"systems[{s.id}].owner_team: {s.owner_team!r} for {s.owner}, but "
                                 f"{s.owner} is {team_of!r} and {s.owner_team!r} is {owner_of} elsewhere "
                                 "(one 所管課, one owner_team)")
        missing = [b for b in bids if b not in hosted]
        if missing:
            raise ValueError(f"businesses not hosted by any system: {missing}")
        return self

    def system(self, system_id: str) -> System:
        for s in self.systems:
            if s.id == system_id:
                return s
        raise KeyError(system_id)

    def business(self, business_id: str) -> Business:
        for b in self.businesses:
            if b.id == business_id:
                return b
        raise KeyError(business_id)


# --------------------------------------------------------------------------- layouts

FieldType = Literal["digits", "text", "kana", "alpha", "date", "code", "amount"]
DateStyle = Literal["era7", "era_letter", "era_dotted", "ymd8", "ymd_slash", "ym6"]


class LayoutField(_Strict):
    """One field of a legacy record, as the vendor's file definition (ファイル定義書) has it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str                       # the vendor's Japanese item name; the CSV header
    type: FieldType
    length: int = Field(gt=0)        # bytes in CP932 (fixed-width: the field's width)
    style: DateStyle | None = None   # date fields: the legacy date style
    codes: str | None = None         # code fields: a code list of the layout
    width: Literal["half", "full"] | None = None   # kana fields: half- or full-width
    zoned: bool = False              # amount fields in fixed-width files: zoned decimal
    pii: bool = False                # personal data: never in logs, metadata, ICT views
    required: bool = False           # the vendor never leaves it blank

    @model_validator(mode="after")
    def _shape(self) -> "LayoutField":
        if self.type == "date" and self.style is None:
            raise ValueError(f"field {self.name}: a date field needs a style")
        if self.type != "date" and self.style is not None:
            raise ValueError(f"field {self.name}: style is only for date fields")
        if self.type == "code" and not self.codes:
            raise ValueError(f"field {self.name}: a code field needs codes")
        if self.type == "kana" and self.width is None:
            raise ValueError(f"field {self.name}: a kana field needs width (half or full)")
        if self.zoned and self.type != "amount":
            raise ValueError(f"field {self.name}: zoned is only for amount fields")
        return self


class LayoutFile(_Strict):
    """One export file of a current system."""

    table: str = Field(pattern=r"^[a-z][a-z0-9_]*$")   # raw.<system>__<table>
    file: str                                           # the file name in the export folder
    label: str                                          # Japanese name of the file
    format: Literal["fixed", "csv"]
    record_length: int | None = None                    # fixed: bytes per record, excl. newline
    header: bool = False                                # csv: first line holds the labels
    quote_all: bool = False                             # csv: the vendor quotes every field
    line_ending: Literal["crlf", "lf"] = "crlf"
    key: list[str] = Field(min_length=1)
    person_key: str | None = None     # the field holding 宛名番号, where the file has one
    fields: list[LayoutField] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> "LayoutFile":
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"file {self.file}: duplicate field names")
        for k in self.key + ([self.person_key] if self.person_key else []):
            if k not in names:
                raise ValueError(f"file {self.file}: key field {k!r} is not a field")
        if self.format == "fixed":
            if self.record_length is None:
                raise ValueError(f"file {self.file}: fixed-width files need record_length")
            total = sum(f.length for f in self.fields)
            if total != self.record_length:
                raise ValueError(
                    f"file {self.file}: field lengths add up to {total} bytes, "
                    f"record_length says {self.record_length}"
                )
            if self.header:
                raise ValueError(f"file {self.file}: fixed-width files have no header here")
        return self

    @property
    def offsets(self) -> list[tuple[int, int]]:
        """(start, end) byte offsets of each field within a fixed-width record."""
        out, pos = [], 0
        for f in self.fields:
            out.append((pos, pos + f.length))
            pos += f.length
        return out

    def field(self, name: str) -> LayoutField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


class Layout(_Strict):
    """A current system's export: its files, encoding, date conventions and code lists."""

    system: str
    encoding: Literal["cp932"] = "cp932"
    # Values that mean "unknown" or "open-ended" in this system's date fields. They are an
    # inventory item per system (DOMAIN.md: never guessed).
    date_sentinels: dict[str, Literal["unknown", "open"]] = Field(default_factory=dict)
    # Some systems start 明治 on 1868-10-23 instead of 1868-01-25 (DOMAIN.md).
    meiji_start: dt.date = dt.date(1868, 1, 25)
    files: list[LayoutFile] = Field(min_length=1)
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _refs(self) -> "Layout":
        tables = [f.table for f in self.files]
        if len(set(tables)) != len(tables):
            raise ValueError("duplicate table names")
        for f in self.files:
            for fld in f.fields:
                if fld.codes and fld.codes not in self.codes:
                    raise ValueError(
                        f"file {f.file} field {fld.name}: code list {fld.codes!r} is not in codes"
                    )
        return self

    def file(self, table: str) -> LayoutFile:
        for f in self.files:
            if f.table == table:
                return f
        raise KeyError(table)


class GaijiEntry(_Strict):
    """One row of a vendor 外字 table: a CP932 user-defined code point and what is known of it."""

    code: str = Field(pattern=r"^F[0-9A-F]{3}$")   # the Shift_JIS code, e.g. F040
    juki_code: str | None = None                  # 住基ネット統一文字コード, e.g. J+5D8D
    koseki_no: str | None = None                  # 戸籍統一文字番号
    ucs: str | None = None                        # the character, where the vendor recorded one
    description: str = ""

    @field_validator("juki_code")
    @classmethod
    def _juki(cls, v: str | None) -> str | None:
        if v and not re.fullmatch(r"J\+[0-9A-F]{4,5}", v):
            raise ValueError(f"juki_code {v!r} is not of the form J+XXXX")
        return v or None

    @field_validator("koseki_no", "ucs", mode="before")
    @classmethod
    def _blank(cls, v):
        return v or None

    @property
    def pua(self) -> str:
        """The character Python's cp932 codec decodes this code to (U+E000..U+E757)."""
        return bytes.fromhex(self.code).decode("cp932")


# --------------------------------------------------------------------------- loading

# libyaml's loader where PyYAML was built with it (the pinned wheel is): the pure-Python scanner
# was most of the time of loading a catalog of thousands of items (the catalog-scale benchmark)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _validation_message(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {len(exc.errors())} problem(s)"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  field {loc}: {err['msg']}")
    return "\n".join(lines)


def read_csv_models(path: Path, model, fields: list[str]):
    """Yield ``(line, row)`` of a UTF-8 CSV whose header must be ``fields``, each row validated as
    ``model``; a wrong header or row raises :class:`ConfigError` naming file, line and field."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != fields:
            raise ConfigError(f"{path}: line 1: header must be {','.join(fields)}")
        for line, row in enumerate(reader, start=2):
            try:
                yield line, model.model_validate(row)
            except ValidationError as exc:
                raise ConfigError(_validation_message(path, exc).replace(f"{path}:", f"{path}: line {line}:")) from None


def _build(model, path: Path, data):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(path, exc)) from None


def load_city(root: Path | None = None) -> City:
    root = root or mappings_dir()
    path = root / "city.yaml"
    return _build(City, path, _read_yaml(path))


def load_system_file(model, root: Path, system_id: str, name: str):
    """``mappings/<system>/<name>`` validated as ``model``, whose ``system`` must be the folder's."""
    path = root / system_id / name
    obj = _build(model, path, _read_yaml(path))
    if obj.system != system_id:
        raise ConfigError(f"{path}: field system: says {obj.system!r}, folder is {system_id!r}")
    return obj


def load_layout(system_id: str, root: Path | None = None) -> Layout:
    return load_system_file(Layout, root or mappings_dir(), system_id, "layout.yaml")


def load_gaiji_table(system_id: str, root: Path | None = None) -> list[GaijiEntry]:
    """The vendor's 外字 table of one system (``mappings/<system>/gaiji.csv``)."""
    root = root or mappings_dir()
    path = root / system_id / "gaiji.csv"
    if not path.exists():
        raise ConfigError(f"{path}: file not found (a system with no 外字 has a header-only file)")
    entries: list[GaijiEntry] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        expected = ["code", "juki_code", "koseki_no", "ucs", "description"]
        if reader.fieldnames != expected:
            raise ConfigError(f"{path}: line 1: header must be {','.join(expected)}")
        for line_no, row in enumerate(reader, start=2):
            try:
                entries.append(GaijiEntry.model_validate(row))
            except ValidationError as exc:
                raise ConfigError(
                    _validation_message(path, exc).replace(f"{path}:", f"{path}: line {line_no}:")
                ) from None
    codes = [e.code for e in entries]
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise ConfigError(f"{path}: field code: duplicated {dup}")
    return entries


class Project(BaseModel):
    """The whole configuration, validated together."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    root: Path
    city: City
    layouts: dict[str, Layout]
    gaiji: dict[str, list[GaijiEntry]]


def load_project(root: Path | None = None) -> Project:
    root = Path(root or mappings_dir())
    city = load_city(root)
    layouts = {s.id: load_layout(s.id, root) for s in city.systems}
    gaiji = {s.id: load_gaiji_table(s.id, root) for s in city.systems}
    return Project(root=root, city=city, layouts=layouts, gaiji=gaiji)


@lru_cache(maxsize=4)
def cached_project(root: str | None = None) -> Project:
    return load_project(Path(root) if root else None)
