"""The range each standard item's values may take: ``seeds/std_item_ranges.csv``.

A value that the readers take (a real day, a number that fits) can still be no value of the
item: a 身長 of 9,999 mm fits the standard's four digits, a 資格取得年月日 of 1850 or 2150 is
a real day. The catalog (``std_items.csv``) declares type and digits only, so the plausible
range is data of its own, marked as assumed until the city or the official list says
otherwise (DOMAIN.md: build it as configuration). A value outside it is a data gap of the
record (``out_of_range``), kept in the standard table: it is what the legacy file says.

Rows: ``scope`` is a data type (``integer`` or ``date``: every item of that type) or one item,
``<business>.<table>.<item_id>``, whose row replaces its type's; ``min_value`` / ``max_value``
are inclusive, an integer or an ISO date, blank for no bound. Digits stay the catalog's:
beyond them is 桁数超過 (``over_length``), not this.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from dagster_project.spec.config import ConfigError

TYPES = ("integer", "date")


@dataclass(frozen=True)
class ItemRange:
    low: int | dt.date | None
    high: int | dt.date | None

    def sql(self, col: str) -> str | None:
        """SQL true when ``col`` (not null) is outside the range; None when nothing bounds it."""
        def lit(v):
            return f"date '{v.isoformat()}'" if isinstance(v, dt.date) else str(v)
        parts = ([f"{col} < {lit(self.low)}"] if self.low is not None else []) + \
                ([f"{col} > {lit(self.high)}"] if self.high is not None else [])
        return " or ".join(parts) or None


def _value(text: str, data_type: str, where: str):
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text) if data_type == "date" else int(text)
    except ValueError:
        want = "an ISO date (YYYY-MM-DD)" if data_type == "date" else "an integer"
        raise ConfigError(f"{where}: {text!r} is not {want}") from None


def load_item_ranges(catalog, path: Path) -> dict[tuple[str, str], ItemRange]:
    """(standard table ref, item_id) -> its range, for every integer and date item of the catalog.
    Every mistake names the file, the line and the field."""
    by_type: dict[str, ItemRange] = {}
    by_item: dict[tuple[str, str], ItemRange] = {}
    items = {(t.ref, i.item_id): i for t in catalog.tables.values() for i in t.items}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"scope", "min_value", "max_value"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: missing column(s) {sorted(missing)}")
        for line_no, r in enumerate(reader, start=2):
            scope = (r["scope"] or "").strip()
            if scope in TYPES:
                key, data_type = None, scope
            else:
                ref, _, item_id = scope.rpartition(".")
                it = items.get((ref, item_id))
                if it is None:
                    raise ConfigError(f"{path}: line {line_no}: field scope: {scope!r} is neither "
                                      f"{' nor '.join(TYPES)} nor an item <business>.<table>.<item_id> of std_items.csv")
                if it.data_type not in TYPES:
                    raise ConfigError(f"{path}: line {line_no}: field scope: {scope} is a {it.data_type} item; "
                                      f"ranges are for {' and '.join(TYPES)} items")
                key, data_type = (ref, item_id), it.data_type
            rng = ItemRange(_value(r["min_value"] or "", data_type, f"{path}: line {line_no}: field min_value"),
                            _value(r["max_value"] or "", data_type, f"{path}: line {line_no}: field max_value"))
            if rng.low is not None and rng.high is not None and rng.low > rng.high:
                raise ConfigError(f"{path}: line {line_no}: min_value is above max_value")
            target = by_item if key else by_type
            k = key or data_type
            if k in target:
                raise ConfigError(f"{path}: line {line_no}: field scope: {scope} has a row already")
            target[k] = rng
    out = {}
    for (ref, item_id), it in items.items():
        if it.data_type in TYPES:
            rng = by_item.get((ref, item_id), by_type.get(it.data_type))
            if rng is not None and (rng.low is not None or rng.high is not None):
                out[ref, item_id] = rng
    return out
