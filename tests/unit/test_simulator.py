"""The simulator: deterministic, consistent with the population, and per the layouts."""

import datetime as dt
import hashlib

import polars as pl
import pytest

from dagster_project.simulate.businesses import Ctx, system_frames
from dagster_project.spec.config import load_project
from dagster_project.simulate.city import generate_city
from dagster_project.simulate.population import build_population

AS_OF = dt.date(2026, 10, 1)
ZOKUGARA = {"世帯主", "夫", "妻", "子", "父", "母", "子の妻", "子の子", "同居人"}


def _hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "_truth" not in p.parts}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate_city(tmp_path / "a", 800, 3, log=lambda s: None)
    generate_city(tmp_path / "b", 800, 3, log=lambda s: None)
    generate_city(tmp_path / "c", 800, 4, log=lambda s: None)
    a, b, c = (_hashes(tmp_path / x) for x in "abc")
    assert len(a) == 30
    assert a == b
    assert sum(a[k] != c[k] for k in a) >= 25


@pytest.fixture(scope="module")
def city():
    pop = build_population(4000, 5, AS_OF)
    ctx = Ctx(pop, 5)
    project = load_project()
    return pop, system_frames(ctx, project, [s.id for s in project.city.systems])


def _age(birth: pl.Expr) -> pl.Expr:
    return (pl.lit(AS_OF) - birth.str.to_date()).dt.total_days() / 365.2425


def test_households_have_one_head_and_closed_list_relations(city):
    pop, _ = city
    p = pop.persons
    heads = p.filter(pl.col("role") == "世帯主").group_by("hh").len()
    assert heads["len"].max() == 1 and heads.height == pop.households.height
    assert set(p["role"].unique()) <= ZOKUGARA
    assert p["atena_no"].n_unique() == p.height
    assert p["mynumber"].n_unique() == p.height


def test_age_pyramid_is_plausible(city):
    pop, _ = city
    r = pop.persons.filter(pl.col("resident"))
    share = lambda cond: r.filter(cond).height / r.height  # noqa: E731
    assert 0.08 < share(pl.col("age") < 15) < 0.2
    assert 0.2 < share(pl.col("age") >= 65) < 0.4
    assert 0.08 < share(pl.col("age") >= 75) < 0.22


def test_businesses_follow_the_population(city):
    pop, f = city
    by_atena = pop.persons.select("atena_no", "age", "foreign", "resident")
    kouki = f["kouki"]["hihokensha"].join(by_atena, on="atena_no")
    assert kouki.height == f["kouki"]["hihokensha"].height and kouki["age"].min() >= 75
    kaigo = f["kaigo"]["hihokensha"].join(by_atena, on="atena_no")
    assert kaigo.filter(pl.col("hiho_kubun") == "第1号被保険者")["age"].min() >= 65
    senkyo = f["senkyo"]["meibo"].join(by_atena, on="atena_no")
    assert senkyo["age"].min() >= 18 and not senkyo["foreign"].any()
    school = f["shugaku"]["gakureibo"].join(by_atena, left_on="jido_atena_no", right_on="atena_no")
    assert school["age"].min() >= 5 and school["age"].max() <= 15
    kids = f["kosodate"]["teate_jido"].join(by_atena, left_on="jido_atena_no", right_on="atena_no")
    assert kids["age"].max() < 18
    # 住登外 persons pay tax or own property here but are not residents
    atena = f["zeimu"]["atena"]
    jutogai = atena.filter(pl.col("juto_kubun") == "住登外")
    assert jutogai.height > 0
    assert jutogai.join(by_atena, on="atena_no").height == 0
    owners = set(f["zeimu"]["tochi"]["owner_atena_no"]) | set(f["zeimu"]["keiji"]["owner_atena_no"])
    assert owners & set(jutogai["atena_no"])


def test_foreign_residents_have_alphabet_names_and_western_dates(city):
    _, f = city
    k = f["jumin"]["kojin"]
    foreign = k.filter(pl.col("jumin_shubetsu") == "外国人")
    assert foreign.height > 0
    assert (foreign["birth_wareki"] == "").all() and (foreign["birth_seireki"] != "").all()
    assert foreign["shimei"].str.contains(r"^[A-Z ]+$").all()
    assert f["jumin"]["gaikoku"].height == foreign.height


def test_history_rows_are_contiguous(city):
    _, f = city
    k = f["jumin"]["kojin"].with_columns(n=pl.col("rireki_no").cast(pl.Int64))
    g = k.group_by("atena_no").agg(pl.col("n").min().alias("lo"), pl.col("n").max().alias("hi"), pl.len())
    assert (g["lo"] == 1).all() and (g["hi"] == g["len"]).all()
    assert k["n"].max() >= 2


def test_variant_kanji_and_gaiji_occur(city):
    _, f = city
    names = "".join(f["jumin"]["kojin"]["shimei"].to_list())
    assert any(ch in names for ch in "髙﨑邉邊齋")
    assert any(ch in names for ch in ["𠮷", "𡈽", "槗", "𣘺", "𥔎", "㟢", "𦚰"])


def test_replacing_a_first_character_keeps_ivs_sequences_whole():
    from dagster_project.simulate.defects import _drop_first_char

    assert _drop_first_char("葛\U000E0102西\u3000花子") == "西\u3000花子"
    assert _drop_first_char("山田") == "田"


def test_juminhyo_codes_carry_the_check_digit_of_the_city_s_weights():
    """city.yaml juminhyo_weights is what the SQL checks; the simulator writes codes by it, so a city
    with other weights gets valid codes (and not valid under the default weights)."""
    from dagster_project.core.checkdigits import is_valid_m11

    weights = (3, 5, 7, 9)
    codes = build_population(500, 5, AS_OF, weights).persons["juminhyo_cd"].to_list()
    assert codes and all(is_valid_m11(c, weights) for c in codes)
    assert sum(is_valid_m11(c) for c in codes) < len(codes) * 0.3
    default = build_population(500, 5, AS_OF).persons["juminhyo_cd"].to_list()
    assert all(is_valid_m11(c) for c in default)
