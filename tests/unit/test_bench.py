"""The benchmark's own arithmetic: memory of a process tree, the dbt step split into layers."""

import os
import subprocess
import sys
import time

from dagster_project.bench import MemorySampler, _tree_rss, format_table, growth, split_dbt


def test_tree_rss_counts_children():
    me = _tree_rss(os.getpid())
    # a child holding ~200 MB: the tree grows by about that much
    child = subprocess.Popen([sys.executable, "-c", "b = bytearray(200 * 2**20); import time; time.sleep(5)"])
    try:
        deadline = time.time() + 5
        grown = 0
        while time.time() < deadline:
            grown = _tree_rss(os.getpid()) - me
            if grown > 150 * 2**20:
                break
            time.sleep(0.1)
        assert grown > 150 * 2**20, grown
    finally:
        child.kill()
        child.wait()


def test_sampler_peak_is_windowed():
    with MemorySampler(interval=0.05) as m:
        time.sleep(0.3)
    assert m.samples and m.peak() > 0
    assert m.peak(0, 1) == 0   # no sample in 1970


def _node(uid, start, end, secs):
    return {"unique_id": uid, "execution_time": secs,
            "timing": [{"name": "execute", "started_at": start, "completed_at": end}]}


def test_split_dbt_shares_span_by_busy_time_and_keeps_startup_apart():
    t = "2026-12-07T00:00:{:02d}Z"
    rr = {"results": [
        _node("model.kikan.stg_jumin__kojin", t.format(10), t.format(16), 6.0),
        _node("model.kikan.std_juki__jumin", t.format(16), t.format(18), 2.0),
        _node("test.kikan.unique_std_juki__jumin_atena_no.abc", t.format(18), t.format(20), 2.0),
    ]}
    import datetime as dt

    base = dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc).timestamp()
    out = split_dbt(rr, base + 4, base + 23)
    assert round(out["dbt start-up and parse"], 3) == 6.0
    assert round(out["dbt events to Dagster"], 3) == 3.0
    assert round(out["staging"], 3) == 6.0           # 10 s span, 6 of 10 busy seconds
    assert round(out["standard"], 3) == 4.0          # the model and its key test
    assert round(sum(out.values()), 3) == 19.0       # the whole step, nothing lost or counted twice


def test_table_and_growth_render():
    def rep(n, secs, mib):
        return {"residents": n, "seed": 7, "legacy_records": n * 12,
                "floor": {"seconds": secs / 5, "read_s": 1.0, "write_warehouse_s": 2.0, "write_exports_s": 1.0,
                          "legacy_bytes": 2**20, "legacy_files": 30, "warehouse_bytes": 2**20, "export_bytes": 2**20},
                "stages": [{"stage": "extract", "seconds": secs, "ratio_to_floor": 5.0, "records_per_s": 10,
                            "peak_rss_mib": mib}],
                "whole": {"seconds": secs, "ratio_to_floor": 5.0, "records_per_s": 10, "peak_rss_mib": mib},
                "charset": {"chars": 100, "seconds": 1.0, "chars_per_s": 100}}
    a, b = rep(100_000, 100.0, 1000), rep(400_000, 380.0, 2000)
    assert "x floor" in format_table(a)
    g = growth([a, b])
    assert "4.00" in g and "3.80" in g and "0.95" in g
