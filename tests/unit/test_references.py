"""References, check-digit identifiers and standard keys are data, refused at load time when wrong."""

import shutil

import pytest
import yaml

from dagster_project.spec.config import ConfigError, load_project
from dagster_project.spec.mapping import SEEDS, load_mappings
from dagster_project.spec.references import checked_ids
from tests.conftest import ROOT


@pytest.fixture()
def tree(tmp_path):
    """A copy of mappings/ and seeds/ to break."""
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(SEEDS, tmp_path / "seeds")
    return tmp_path


def load(tree):
    return load_mappings(load_project(tree / "mappings"), seeds=tree / "seeds")


def edit_refs(tree, fn):
    p = tree / "mappings" / "references.yaml"
    data = yaml.safe_load(p.read_text(encoding="utf-8"))
    fn(data)
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_every_reference_like_column_is_declared_and_checked():
    m = load_mappings(load_project(ROOT / "mappings"))
    ids = {(c.table, c.column): c.rule for c in checked_ids(m.references, m.catalog)}
    # 世帯番号 check digits are checked wherever 世帯番号 appears, and the household is a key space
    assert ids[("juki.jumin", "setai_no")] == ids[("kokuho.fuka", "setai_no")] == "atena"
    assert ids[("juki.jumin", "kojin_bango")] == "mynumber" and ids[("hojin_jumin.hojin", "hojin_bango")] == "hojin"
    assert {(r.table, r.column, r.to) for r in m.references.references} >= {
        ("fuhyo.fuhyo", "koseki_no", "koseki"), ("kokuho.fuka", "setai_no", "setai"),
        ("seiho.fujo", "case_no", "seiho_case"), ("kaigo.nintei", "hiho_no", "kaigo_hiho")}


def test_an_undeclared_reference_fails_naming_the_column(tree):
    edit_refs(tree, lambda d: d.__setitem__("references", [r for r in d["references"]
                                                          if r["table"] != "fuhyo.fuhyo"]))
    with pytest.raises(ConfigError, match=r"references.yaml.*fuhyo\.fuhyo\.atena_no.*fuhyo\.fuhyo\.koseki_no"):
        load(tree)


def test_a_reference_to_an_unknown_key_space_fails(tree):
    edit_refs(tree, lambda d: d["references"][0].__setitem__("to", "nosuch"))
    with pytest.raises(ConfigError, match=r"references\[1\].*'nosuch' is not a key space"):
        load(tree)


def test_an_unknown_column_fails(tree):
    edit_refs(tree, lambda d: d["key_spaces"]["koseki"]["members"][0].__setitem__("column", "koseki_bango"))
    with pytest.raises(ConfigError, match=r"key_spaces\.koseki\.members\[1\].*no column 'koseki_bango'"):
        load(tree)


def test_a_standard_key_that_does_not_identify_a_legacy_record_fails(tree):
    """法人住民税 is filed per 事業年度: a table keyed on 法人番号 alone made every corporation filed
    in two years a false duplicate. Such a catalog is refused, naming the file and the table."""
    p = tree / "seeds" / "std_items.csv"
    text = p.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("hojin_jumin,hojin,法人住民税,0801004,"))
    p.write_text(text.replace(line, line[: -len("Y,4")] + "N,4"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"zeimu/mapping\.yaml: table hojin_jumin\.hojin: the standard key "
                                          r"\(hojin_bango\) does not identify a record of HOJINZEI\.DAT.*事業年度開始日"):
        load(tree)
