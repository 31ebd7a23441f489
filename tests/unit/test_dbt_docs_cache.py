"""The dbt docs page is made by dbt once per manifest and catalog, and copied for another warehouse
whose relations are the same; a warehouse whose relations differ gets its own page.

dbt itself is stood in for by a fake ``subprocess.run`` that writes a page naming the call, so the
test sees which warehouse's call made which page and how many calls there were."""

import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from dagster_project.reports import dbt_docs


def _warehouse(path: Path, amount_type: str = "bigint") -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema standard")
    con.execute(f"create table standard.t (k varchar, amount {amount_type})")
    con.execute("create view standard.v as select k from standard.t")
    con.close()
    return path


@pytest.fixture
def fake_dbt(monkeypatch, tmp_path):
    calls = []

    def run(cmd, **kw):
        target = Path(cmd[cmd.index("--target-path") + 1])
        calls.append(kw["env"]["KIKAN_WAREHOUSE"])
        (target / "static_index.html").write_text(f"<p>{len(calls)}</p>" + dbt_docs.TRACKER_ON, encoding="utf-8")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(dbt_docs.subprocess, "run", run)
    dbt_dir = tmp_path / "dbt"
    (dbt_dir / "target").mkdir(parents=True)
    manifest = dbt_dir / "target" / "manifest.json"
    manifest.write_text('{"metadata": {"dbt_version": "1.11.16", "invocation_id": "first"}, "nodes": {}}',
                        encoding="utf-8")
    return calls, dbt_dir, manifest


def test_same_relations_copy_the_page_other_relations_make_their_own(fake_dbt, tmp_path):
    calls, dbt_dir, manifest = fake_dbt
    a = _warehouse(tmp_path / "a.duckdb")
    b = _warehouse(tmp_path / "b.duckdb")
    c = _warehouse(tmp_path / "c.duckdb", amount_type="varchar")     # one column's type differs

    r = dbt_docs.generate(a, tmp_path / "var_a", manifest, dbt_dir, "dbt")
    assert r["made"] and len(calls) == 1
    # the same warehouse again: the page stays
    assert not dbt_docs.generate(a, tmp_path / "var_a", manifest, dbt_dir, "dbt")["made"] and len(calls) == 1
    # another warehouse, same relations, a fresh folder: the page is copied, dbt is not run
    r = dbt_docs.generate(b, tmp_path / "var_b", manifest, dbt_dir, "dbt")
    assert r.get("copied") and len(calls) == 1
    page_a = (tmp_path / "var_a" / dbt_docs.PAGE).read_text(encoding="utf-8")
    assert (tmp_path / "var_b" / dbt_docs.PAGE).read_text(encoding="utf-8") == page_a
    assert dbt_docs.TRACKER_OFF in page_a
    # a column of another type: dbt runs for it, and its page is its own
    assert dbt_docs.generate(c, tmp_path / "var_c", manifest, dbt_dir, "dbt")["made"] and len(calls) == 2
    assert (tmp_path / "var_c" / dbt_docs.PAGE).read_text(encoding="utf-8") != page_a
    # parsed again, the models unchanged (only the parse's metadata differs): the same page
    manifest.write_text('{"metadata": {"dbt_version": "1.11.16", "invocation_id": "another", "generated_at": "now"}, '
                        '"nodes": {}}', encoding="utf-8")
    assert not dbt_docs.generate(a, tmp_path / "var_a", manifest, dbt_dir, "dbt")["made"] and len(calls) == 2
    # another dbt: made again
    manifest.write_text('{"metadata": {"dbt_version": "9.9.9"}, "nodes": {}}', encoding="utf-8")
    assert dbt_docs.generate(a, tmp_path / "var_a", manifest, dbt_dir, "dbt")["made"] and len(calls) == 3
    # the model changed (another manifest): made again, also where a page stood
    manifest.write_text('{"nodes": {"model.x": {}}}', encoding="utf-8")
    assert dbt_docs.generate(a, tmp_path / "var_a", manifest, dbt_dir, "dbt")["made"] and len(calls) == 4


def test_a_comment_or_a_relation_added_changes_the_key(tmp_path):
    db = _warehouse(tmp_path / "w.duckdb")
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}", encoding="utf-8")
    keys = [dbt_docs.page_key(db, manifest)]
    assert dbt_docs.page_key(db, manifest) == keys[0]
    for change in ("comment on column standard.t.k is 'key'", "create table standard.u (k varchar)"):
        con = duckdb.connect(str(db))
        con.execute(change)
        con.close()
        keys.append(dbt_docs.page_key(db, manifest))
    assert len(set(keys)) == 3


def test_a_warehouse_another_process_writes_keeps_the_page_there(fake_dbt, tmp_path):
    calls, dbt_dir, manifest = fake_dbt
    db = _warehouse(tmp_path / "w.duckdb")
    dbt_docs.generate(db, tmp_path / "var", manifest, dbt_dir, "dbt")
    writer = duckdb.connect(str(db))      # a writer holds it: it cannot be opened read only here
    try:
        r = dbt_docs.generate(db, tmp_path / "var", manifest, dbt_dir, "dbt")
        assert r["kept"] and not r["made"] and len(calls) == 1
        with pytest.raises(duckdb.Error):  # with no page there, the overview says it could not
            dbt_docs.generate(db, tmp_path / "fresh", manifest, dbt_dir, "dbt")
    finally:
        writer.close()


def test_only_the_newest_pages_are_kept(fake_dbt, tmp_path):
    calls, dbt_dir, manifest = fake_dbt
    db = _warehouse(tmp_path / "w.duckdb")
    keys = []
    for i in range(dbt_docs.CACHE_KEEP + 2):
        manifest.write_text(f'{{"n": {i}}}', encoding="utf-8")
        dbt_docs.generate(db, tmp_path / "var", manifest, dbt_dir, "dbt")
        keys.append(dbt_docs.page_key(db, manifest))
        os.utime(dbt_dir / "target" / dbt_docs.CACHE / f"{keys[-1]}.html", (1_000_000 + i, 1_000_000 + i))
    kept = {p.stem for p in (dbt_dir / "target" / dbt_docs.CACHE).glob("*.html")}
    assert len(calls) == dbt_docs.CACHE_KEEP + 2
    assert kept == set(keys[-dbt_docs.CACHE_KEEP:])          # the newest ones
