"""The fuzz harnesses' seed corpus and every input that ever failed, replayed through the same
oracles without atheris (``tests/fuzz/harness.py``), so a finding once fixed stays fixed.

Also: every layout family the project reads has a harness, and the oracles themselves can fail
(a planted leak, a lost record and a stray exception are each caught)."""

from __future__ import annotations

import pytest

from dagster_project.spec.config import cached_project
from tests.fuzz import harness

CASES = [(name, p) for name in harness.HARNESSES for p in harness.inputs(name)]


def test_every_harness_has_seeds():
    for name in harness.HARNESSES:
        assert (harness.CORPUS / name).is_dir() and len(list((harness.CORPUS / name).iterdir())) >= 5, name


def test_every_layout_family_has_a_harness():
    project = cached_project()
    covered = {harness.family(project.layouts[s].file(t)) for s, t in harness.EXTRACT_TARGETS.values()}
    for system, layout in project.layouts.items():
        for lf in layout.files:
            assert harness.family(lf) in covered, f"{system}/{lf.file}: no fuzz harness reads its family"


@pytest.mark.parametrize("name, path", CASES, ids=[f"{n}/{p.parent.parent.name}/{p.name}" for n, p in CASES])
def test_replay(name, path):
    harness.check(name, path.read_bytes())


def test_the_independent_count():
    assert harness.independent_count(b"", False) == 0
    assert harness.independent_count(b"a\r\nb\r\n\x1a", False) == 2
    assert harness.independent_count(b"h\nx\r", True) == 1
    assert harness.independent_count(b"\xff\xfe" + "h\n上\n".encode("utf-16-le"), True) == 1
    assert harness.lines_of(b"ab\r\r\ncd\r") == [(0, b"ab\r"), (5, b"cd\r")]


def test_the_oracles_can_fail(monkeypatch):
    from dagster_project.extract import reader as extract

    seed = (harness.CORPUS / "fixed_zoned" / "field_format").read_bytes()
    harness.check("fixed_zoned", seed)
    real = extract._Quarantine.add

    def leaky(self, record_no, offset, code, raw, field_name=None, detail=None):
        real(self, record_no, offset, code, raw, field_name, raw.decode("cp932", "replace"))
    monkeypatch.setattr(extract._Quarantine, "add", leaky)
    with pytest.raises(harness.Finding, match="a quarantine row carries input text"):
        harness.check("fixed_zoned", seed)
    monkeypatch.undo()

    real_frame = extract._Quarantine.frame
    monkeypatch.setattr(extract._Quarantine, "frame", lambda self: real_frame(self).head(0))
    with pytest.raises(harness.Finding, match="an internal error refused the file"):
        harness.check("fixed_zoned", seed)     # the extractor's own check, dressed as a refusal
    monkeypatch.undo()

    real_extract = extract.extract_file

    def lossy(*a, **k):     # a record lost and the books made to agree: only counting the bytes sees it
        r = real_extract(*a, **k)
        r.frame, r.records_in_file = r.frame.head(r.frame.height - 1), r.records_in_file - 1
        return r
    monkeypatch.setattr(extract, "extract_file", lossy)
    with pytest.raises(harness.Finding, match="conservation: 3 records counted, 1 raw [+] 1 quarantined"):
        harness.check("fixed_zoned", seed)
    monkeypatch.undo()

    def shifted(*a, **k):   # a raw row and a quarantined row naming the same record
        r = real_extract(*a, **k)
        r.frame = r.frame.with_columns(extract.pl.lit(3, dtype=extract.pl.Int64).alias("_record_no"))
        return r
    monkeypatch.setattr(extract, "extract_file", shifted)
    with pytest.raises(harness.Finding, match="record numbers: 1 both raw and quarantined"):
        harness.check("fixed_zoned", seed)
    monkeypatch.undo()

    monkeypatch.setattr(extract, "_check_encoding", lambda path, data: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        harness.check("fixed_zoned", seed)
