"""Atomic page sets (core/atomic.py): a folder of pages (GX Data Docs) is built beside its place and
swapped in, a set of files is replaced together; a failure or a kill half-way leaves the old pages
whole and nothing half-built in view."""

from __future__ import annotations

import hashlib
import os

import pytest

from dagster_project.core import atomic


def _site(folder, pages: int, tag: str) -> None:
    (folder / "validations").mkdir(parents=True, exist_ok=True)
    for i in range(pages):
        (folder / "validations" / f"std_{i:02d}.html").write_text(f"<p>{tag} {i}</p>", encoding="utf-8")
    (folder / "index.html").write_text(f"<ul>{tag}: {pages} tables</ul>", encoding="utf-8")


def _tree(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _hidden(parent) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".gx_docs.") and not p.name.endswith(".lock"))


def test_a_build_failing_half_way_leaves_the_old_site_whole(tmp_path):
    docs = tmp_path / "gx_docs"
    with atomic.replace_dir(docs) as build:
        _site(build, 30, "old")
    before = _tree(docs)
    assert len(before) == 31 and _hidden(tmp_path) == []
    with pytest.raises(RuntimeError, match="killed"):
        with atomic.replace_dir(docs) as build:
            (build / "validations").mkdir()
            for i in range(7):                   # 7 of 30 tables written, then the build dies
                (build / "validations" / f"std_{i:02d}.html").write_text("<p>new</p>", encoding="utf-8")
            raise RuntimeError("killed mid-build")
    assert _tree(docs) == before and _hidden(tmp_path) == []
    with atomic.replace_dir(docs) as build:
        _site(build, 29, "new")                  # a table dropped: its old page must not linger
    assert (docs / "index.html").read_text(encoding="utf-8") == "<ul>new: 29 tables</ul>"
    assert "validations/std_29.html" not in _tree(docs) and len(_tree(docs)) == 30 and _hidden(tmp_path) == []


def test_what_a_kill_leaves_is_repaired_by_the_next_build(tmp_path):
    docs = tmp_path / "gx_docs"
    _site(docs, 3, "old")
    # a kill while building: a hidden, partial build beside the whole old site
    _site(tmp_path / ".gx_docs.build-aaaa", 1, "partial")
    atomic.recover(docs)
    assert (docs / "index.html").read_text(encoding="utf-8") == "<ul>old: 3 tables</ul>" and _hidden(tmp_path) == []
    # a kill between the two renames: the old site moved aside, its finished build not yet in place
    os.rename(docs, tmp_path / ".gx_docs.old-bbbb")
    _site(tmp_path / ".gx_docs.build-bbbb", 4, "new")
    with atomic.replace_dir(docs) as build:
        assert (docs / "index.html").read_text(encoding="utf-8") == "<ul>new: 4 tables</ul>"   # repaired first
        _site(build, 5, "next")
    assert (docs / "index.html").read_text(encoding="utf-8") == "<ul>next: 5 tables</ul>" and _hidden(tmp_path) == []
    # the same cut with no build left of that swap: the old site goes back
    os.rename(docs, tmp_path / ".gx_docs.old-cccc")
    atomic.recover(docs)
    assert (docs / "index.html").read_text(encoding="utf-8") == "<ul>next: 5 tables</ul>"


def test_a_page_set_is_replaced_together_or_not_at_all(tmp_path):
    xlsx, html = tmp_path / "r" / "gap_report_x.xlsx", tmp_path / "r" / "gap_report_x.html"
    atomic.write_files({xlsx: lambda p: p.write_bytes(b"old workbook"), html: lambda p: p.write_text("old page")})

    def dies(p):
        p.write_text("<html>half")
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError):
        atomic.write_files({xlsx: lambda p: p.write_bytes(b"new workbook"), html: dies})
    assert xlsx.read_bytes() == b"old workbook" and html.read_text() == "old page"
    assert sorted(p.name for p in xlsx.parent.iterdir()) == ["gap_report_x.html", "gap_report_x.xlsx"]
    assert oct(xlsx.stat().st_mode & 0o777) == "0o644"


def test_data_docs_are_swapped_in_whole_by_the_gx_check(tmp_path, monkeypatch):
    """The GX check builds its pages (conformance/gx_docs) in the hidden folder it is given; a failure
    half-way (GX's child dying, or the pages failing after 5 of 30 tables) leaves the previous
    site, whole, where the ICT office opens it."""
    import dagster as dg

    from dagster_project.conformance import defs as quality
    from dagster_project.conformance import gx_docs
    from dagster_project.core.names import std_name
    from dagster_project.resources import WarehouseResource

    names = [std_name(t) for t in quality.TABLES]
    wh = WarehouseResource(path=str(tmp_path / "warehouse.duckdb"), reports_dir=str(tmp_path / "reports"))
    docs = tmp_path / "gx_docs"
    seen = []

    def whole(db, systems, docs_root=None, started=None):
        assert docs_root is None                 # GX's own Data Docs are not built any more
        return {n: {"success": True, "failed": [], "evaluated": 1, "raised": [], "expectations": []} for n in names}

    def dies(db, systems, docs_root=None, started=None):
        raise RuntimeError("Great Expectations validation failed (exit -9)")

    def pages(folder, results, city=""):
        seen.append(folder)
        return gx_docs.write_site(folder, results, city)

    def half(folder, results, city=""):
        gx_docs.write_site(folder, dict(list(results.items())[:5]), city)
        raise RuntimeError("killed after 5 tables")

    monkeypatch.setattr(quality, "validate_in_subprocess", whole)
    monkeypatch.setattr(quality, "write_site", pages)
    results = list(quality.gx_conformance(dg.build_op_context(resources={"warehouse": wh})))
    assert len(results) == len(names) and all(r.passed for r in results)
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".gx_docs.build-") and not seen[0].exists()
    before = _tree(docs)
    assert sorted(before) == sorted(["index.html", *(f"tables/{n}.html" for n in names)])
    monkeypatch.setattr(quality, "validate_in_subprocess", dies)
    with pytest.raises(RuntimeError, match="exit -9"):
        list(quality.gx_conformance(dg.build_op_context(resources={"warehouse": wh})))
    assert _tree(docs) == before and _hidden(tmp_path) == []
    monkeypatch.setattr(quality, "validate_in_subprocess", whole)
    monkeypatch.setattr(quality, "write_site", half)
    with pytest.raises(RuntimeError, match="after 5 tables"):
        list(quality.gx_conformance(dg.build_op_context(resources={"warehouse": wh})))
    assert _tree(docs) == before and _hidden(tmp_path) == []
