"""Encryption at rest: with KIKAN_WAREHOUSE_KEY set, a whole rehearsal (extract, dbt, GX, reports,
gates, exports) runs on an encrypted DuckDB warehouse that cannot be opened without the key.

This machine has no DuckDB httpfs extension for DuckDB 2.0 (extensions come from DuckDB's own
server, not from a package registry), so the run uses KIKAN_WAREHOUSE_CRYPTO_UNSAFE=1 (DuckDB's
built-in random source); a city installs httpfs instead (README). Without either, writing
refuses with a message that says so.
"""

import duckdb
import pytest

from dagster_project.core import duck
from tests.conftest import run_city, succeeded_but_blocked

KEY = "test-key-not-a-secret-0123456789"


def test_writing_an_encrypted_warehouse_without_a_secure_random_source_refuses(tmp_path, monkeypatch):
    monkeypatch.setenv(duck.KEY_ENV, KEY)
    monkeypatch.delenv(duck.UNSAFE_ENV, raising=False)
    try:
        con = duckdb.connect()
        con.execute("load httpfs")
        con.close()
        pytest.skip("httpfs is installed here: writes are secure and allowed")   # not this machine
    except duckdb.Error:
        pass
    with pytest.raises(duck.WarehouseCryptoError, match="httpfs"):
        duck.open_warehouse(tmp_path / "warehouse.duckdb")


@pytest.mark.slow
def test_a_rehearsal_on_an_encrypted_warehouse(tmp_path, monkeypatch):
    from dagster_project.simulate.city import generate_city

    legacy = tmp_path / "legacy"
    generate_city(legacy, 300, 9, defect_scale=0.0, log=lambda s: None)
    monkeypatch.setenv(duck.KEY_ENV, KEY)
    monkeypatch.setenv(duck.UNSAFE_ENV, "1")
    wh = tmp_path / "wh"
    result = run_city(legacy, wh, "2026-12-07")
    assert succeeded_but_blocked(result)
    db = wh / "warehouse.duckdb"
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(db), read_only=True)
    assert KEY.encode() not in db.read_bytes()
    con = duck.open_warehouse(db, read_only=True)
    try:
        n = con.execute("select count(*) from standard.std_juki__jumin").fetchone()[0]
        gaps = con.execute("select count(*) from gaps.gaps_jumin__items").fetchone()[0]
    finally:
        con.close()
    assert n > 300 and gaps > 0
    assert (wh / "reports").exists() and any((wh / "reports").rglob("*.xlsx"))
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
              and e.event_specific_data.check_name == "gx_conformance"]
    assert len(checks) == 30    # Great Expectations read the encrypted warehouse too
