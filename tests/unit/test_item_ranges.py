"""Values outside the standard item (issue 17): the range seed loads strictly, and the generated
staging and intermediate SQL of a real mapping (子育て 児童手当受給者), rendered with the project's
macros and run in DuckDB, flags every value a reader takes but the item cannot hold, with no
error: beyond BIGINT, beyond the item's digits (the smallest BIGINT among them, whose abs()
overflowed), outside the item's range, or no integer at all."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from dagster_project.mapping import dbtgen
from dagster_project.spec.config import ConfigError
from dagster_project.spec.mapping import SEEDS, cached_mappings
from dagster_project.spec.ranges import ItemRange, load_item_ranges
from tests.dbt_render import render


def test_the_seed_covers_every_integer_and_date_item():
    m = cached_mappings()
    ranges = load_item_ranges(m.catalog, SEEDS / "std_item_ranges.csv")
    items = [(t.ref, i) for t in m.catalog.tables.values() for i in t.items if i.data_type in ("integer", "date")]
    # every one but 調定額 and 収納額, which a 減額更正 makes negative: their digits bound them alone
    unbounded = {("kojin_jumin.shuno", "0703006"), ("kojin_jumin.shuno", "0703007")}
    assert {(ref, i.item_id) for ref, i in items} - unbounded == set(ranges)
    assert ranges["kenko.kenshin", "1901005"] == ItemRange(300, 2500)                       # 身長（mm）
    assert ranges["kokuho.fuka", "1002003"] == ItemRange(0, None)                          # the integer default
    assert ranges["juki.jumin", "0101008"] == ItemRange(dt.date(1868, 1, 25), dt.date(2099, 12, 31))


@pytest.mark.parametrize("row,message", [
    ("kenko.kenshin.9999999,1,2,x", "line 2: field scope: 'kenko.kenshin.9999999'"),
    ("juki.jumin.0101004,1,2,x", "line 2: field scope: juki.jumin.0101004 is a string item"),
    ("integer,zero,,x", "line 2: field min_value: 'zero' is not an integer"),
    ("date,1868-01-25,2099-13-01,x", "line 2: field max_value: '2099-13-01' is not an ISO date"),
    ("integer,5,1,x", "line 2: min_value is above max_value"),
])
def test_a_mistake_names_the_file_line_and_field(tmp_path, row, message):
    p = tmp_path / "std_item_ranges.csv"
    p.write_text("scope,min_value,max_value,basis_ja\n" + row + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_item_ranges(cached_mappings().catalog, p)
    assert str(p) in str(e.value) and message in str(e.value)


def test_the_intermediate_model_flags_what_the_item_cannot_hold(project):
    m = cached_mappings()
    t = next(x for x in m.tables if x.system == "kosodate" and x.std.ref == "jido_teate.jukyusha")
    lf = project.layouts["kosodate"].file(t.source.table)
    ranges = load_item_ranges(m.catalog, SEEDS / "std_item_ranges.csv")
    cases = [  # (getsugaku, jido_su, nintei_date) -> (getsugaku flag, jido_su flag, nintei_date flag)
        ("20000", "02", "平成28.06.01", (None, None, None)),
        ("-9223372036854775808", "98765432109", "平成28.06.01", ("over_length", "over_length", None)),
        ("99999999999999999999", "00", "令和81.12.31", ("number_invalid", "out_of_range", None)),
        ("1234567890", "9223372036854775808", "令和82.01.01", ("over_length", "number_invalid", "out_of_range")),
        ("-1", "", "明治01.01.25", ("out_of_range", "required_missing", None)),
    ]
    cols = {f.name: [] for f in lf.fields}
    for g, j, d, _ in cases:
        for f in lf.fields:
            cols[f.name].append({"getsugaku": g, "jido_su": j, "nintei_date": d, "jotai": "1"}.get(f.name, "40000001"))
    n = len(cases)
    cols.update({"_record_no": list(range(1, n + 1)), "_byte_offset": [0] * n, "_overlong": [None] * n})
    con = duckdb.connect()
    try:
        con.execute("create schema raw")
        con.register("rows", pa.table(cols))
        con.execute(f'create table raw."kosodate__{lf.table}" as select * from rows')
        stg = render(dbtgen.staging_sql("kosodate", project.layouts["kosodate"], lf, []))
        con.execute(f"create table stg_kosodate__{lf.table} as {stg}")
        got = con.execute(f"select getsugaku__flag, jido_su__flag, nintei_date__flag, jido_su, getsugaku from "
                          f"({render(dbtgen.int_sql(t, ranges))}) order by _src_record_no").fetchall()
    finally:
        con.close()
    assert [r[:3] for r in got] == [c[3] for c in cases]
    # a value outside the range stays (it is what the file says), one beyond the digits does not
    assert got[2][3] == 0 and got[4][4] == -1 and got[1][3] is None and got[1][4] is None
