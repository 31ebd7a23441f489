"""Mappings as data: loaded, validated and traced by sqlglot; broken ones fail usefully."""

import shutil

import pytest

from dagster_project.spec.config import ConfigError, load_project
from dagster_project.spec.decisions import DecisionFile, GapDecision, load_decisions, reconcile
from dagster_project.spec.mapping import load_catalog, load_mappings


def test_every_business_and_standard_table_is_mapped(project):
    m = load_mappings(project)
    businesses = {t.std.business_id for t in m.tables}
    assert businesses == {b.id for b in project.city.businesses}
    assert len(m.tables) == len(m.catalog.tables) == 30
    assert sum(len(t.items) for t in m.tables) == sum(len(t.items) for t in m.catalog.tables.values())
    statuses = {i.status for t in m.tables for i in t.items}
    assert statuses == {"mapped", "partial", "no_source"}


def test_lineage_comes_from_the_expression(project):
    m = load_mappings(project)
    jumin = next(t for t in m.tables if t.std.ref == "juki.jumin")
    by = {i.item.column_name: i for i in jumin.items}
    assert by["birth_date"].lineage == ("birth_seireki", "birth_wareki")
    assert by["yubin"].lineage == ("yubin",)
    assert by["kyuuji_kana"].lineage == () and by["kyuuji_kana"].status == "no_source"


def test_catalog_is_complete_data(project):
    c = load_catalog()
    for t in c.tables.values():
        assert t.key, f"{t.ref} has no key"
        ids = [i.item_id for i in t.items]
        assert len(ids) == len(set(ids))
    for i in (i for t in c.tables.values() for i in t.items):
        if i.data_type == "code":
            assert i.code_table in c.codes
    assert c.codes["yokaigo"]["21"] == "要介護1"


@pytest.fixture
def broken(tmp_path, project):
    dst = tmp_path / "mappings"
    shutil.copytree(project.root, dst)

    def edit(system, old, new):
        p = dst / system / "mapping.yaml"
        text = p.read_text(encoding="utf-8")
        assert old in text
        p.write_text(text.replace(old, new, 1), encoding="utf-8")
        return load_project(dst)
    return edit


def test_sqlglot_rejects_a_syntax_error_naming_file_and_item(broken):
    proj = broken("jumin", '"coalesce(birth_wareki, birth_seireki)"', '"coalesce(birth_wareki, birth_seireki"')
    with pytest.raises(ConfigError) as e:
        load_mappings(proj)
    msg = str(e.value)
    assert "jumin/mapping.yaml" in msg and "juki.jumin.birth_date (0101008 生年月日)" in msg
    assert "does not parse" in msg


def test_an_unknown_column_is_named(broken):
    proj = broken("kaigo", "hiho_no: hiho_no\n      atena_no: atena_no", "hiho_no: hiho_number\n      atena_no: atena_no")
    with pytest.raises(ConfigError, match=r"kaigo\.hihokensha\.hiho_no.*unknown column\(s\) \['hiho_number'\]"):
        load_mappings(proj)


def test_an_unknown_column_names_the_nearest_one(broken):
    proj = broken("kouki", "hiho_no: hiho_no", "hiho_no: \"ltrim(hihono_no, '0')\"")
    with pytest.raises(ConfigError, match=r"\['hihono_no'\]; did you mean 'hiho_no'\? in \"ltrim\(hihono_no, '0'\)\""):
        load_mappings(proj)


def test_a_function_duckdb_does_not_have_is_named_when_the_project_loads(broken):
    """Before, `kikan generate` wrote it and only the run failed, its message withheld."""
    proj = broken("kouki", "hiho_no: hiho_no", "hiho_no: \"lstrip(hiho_no, '0')\"")
    with pytest.raises(ConfigError) as e:
        load_mappings(proj)
    msg = str(e.value)
    assert "kouki/mapping.yaml: item kouki.hihokensha.hiho_no" in msg
    assert "DuckDB has no function 'lstrip'; did you mean 'ltrim'?" in msg


def test_an_item_that_is_not_of_the_standard_table_names_the_nearest(broken):
    proj = broken("kouki", "atena_no: atena_no", "atena_noo: atena_no")
    with pytest.raises(ConfigError, match=r"items \['atena_noo'\] are not items of the standard table; "
                                          r"did you mean 'atena_no'\?"):
        load_mappings(proj)


def test_a_codemap_must_land_on_standard_codes(broken):
    proj = broken("kaigo", '"01": "12"', '"01": "1X"')
    with pytest.raises(ConfigError, match=r"codemap 'yokaigo' maps to \['1X'\], not codes of yokaigo"):
        load_mappings(proj)


def test_personal_data_cannot_be_a_sample_key(broken):
    proj = broken("kouki", "sample_key: hiho_no", "sample_key: kojin_bango")
    with pytest.raises(ConfigError, match="sample_key 'kojin_bango' is personal data"):
        load_mappings(proj)


def test_a_query_is_not_a_mapping_expression(broken):
    proj = broken("senkyo", "tohyoku: tohyoku", 'tohyoku: "(select 1)"')
    with pytest.raises(ConfigError, match="not a query"):
        load_mappings(proj)


def test_decisions_reconcile_open_decided_and_stale():
    f = DecisionFile(system="jumin", decisions=[
        GapDecision(gap_id="jumin:a", decision="対応不要", reason="r", decided_by="x", decided_on="2026-11-01"),
        GapDecision(gap_id="jumin:gone", decision="データ補正", reason="r", decided_by="x", decided_on="2026-11-01"),
    ])
    r = reconcile(["jumin:a", "jumin:b"], f)
    assert set(r.decided) == {"jumin:a"} and r.open == ["jumin:b"]
    assert [s.gap_id for s in r.stale] == ["jumin:gone"]


def test_a_wrong_decision_is_named(tmp_path):
    (tmp_path / "jumin").mkdir()
    (tmp_path / "jumin" / "gap_decisions.yaml").write_text(
        "system: jumin\ndecisions:\n  - {gap_id: 'jumin:x', decision: 後で考える, reason: r, decided_by: a, decided_on: 2026-11-01}\n",
        encoding="utf-8")
    with pytest.raises(ConfigError, match=r"(?s)gap_decisions\.yaml.*decisions\.0\.decision"):
        load_decisions("jumin", tmp_path)


def test_the_shipped_decision_files_load(project):
    for s in project.city.systems:
        load_decisions(s.id, project.root)
