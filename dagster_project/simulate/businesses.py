"""The 20 businesses' data, derived consistently from the population, per logical table.

A logical table is named ``<business>.<table>``: the business of ``mappings/city.yaml`` it belongs
to and the table name the layouts give its export file (``juki.kojin``, ``inkan.inkan``). Each
builder returns the logical frames of one or more tables (one column per layout field; see
:mod:`render` for the value conventions); tables drawn from one random stream, or from each
other, stay in one builder so that the same seed gives the same bytes. Which system exports a
table is not decided here: :func:`system_frames` gives each system the tables its layout hosts,
found through the businesses ``city.yaml`` gives the system. Moving a business (印鑑登録 out of
住民記録, say) into a system of its own is a change of ``mappings/`` only.

The 20 businesses follow the population: 後期高齢 for 75+, 介護 for 65+, 児童手当 for
households with children, 学齢簿 for ages 6–15, the electoral roll for Japanese 18+, and so on.
The selection rates are rough public figures for a large Japanese city, not claims about any
real city.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from dagster_project.core.checkdigits import hojin_check_digit
from dagster_project.simulate.population import OTHER_PLACES, Population, rng_for

F = pl.col


@dataclass
class Ctx:
    pop: Population
    seed: int

    @property
    def today(self) -> dt.date:
        return self.pop.as_of

    def rng(self, purpose: str) -> np.random.Generator:
        return rng_for(self.seed, purpose)

    @property
    def residents(self) -> pl.DataFrame:
        return self.pop.persons.filter(F("resident"))


def _serial(n: int, start: int, width: int) -> pl.Series:
    return pl.Series(np.char.zfill(np.arange(start, start + n).astype(str), width))


def _date_add(col: str | pl.Expr, days) -> pl.Expr:
    c = F(col) if isinstance(col, str) else col
    return (c.str.to_date() + pl.duration(days=days)).cast(pl.Utf8)


def _rand_days(rng, n, lo, hi) -> pl.Series:
    return pl.Series(rng.integers(lo, hi, n))


def _pick(df: pl.DataFrame, rng, p) -> pl.DataFrame:
    """Keep each row with probability p (a number or a per-row array)."""
    return df.filter(pl.Series(rng.random(df.height) < p))


def _ymd(day: dt.date) -> str:
    return day.isoformat()


Builder = Callable[[Ctx], dict[str, pl.DataFrame]]
TABLE_BUILDERS: dict[str, Builder] = {}


def builds(*tables: str) -> Callable[[Builder], Builder]:
    """Register a builder of the logical tables ``<business>.<table>``; it returns them by those names."""
    def register(fn: Builder) -> Builder:
        for t in tables:
            if t in TABLE_BUILDERS:
                raise ValueError(f"logical table {t} has two builders: {TABLE_BUILDERS[t].__name__}, {fn.__name__}")
            TABLE_BUILDERS[t] = fn
        return fn
    return register


# --------------------------------------------------------------------------- 住民記録

@builds("juki.kojin", "juki.gaikoku")
def juki(c: Ctx) -> dict[str, pl.DataFrame]:
    p, h = c.pop.persons, c.pop.history
    rows = h.join(p.drop("jusho", "jusho_cd", "zip", "katagaki", "jumin_date", "first_event",
                         "status", "ido_date"), on=["pid", "atena_no"], how="left")
    kojin = rows.select(
        "atena_no",
        rireki_no=F("rireki_no").cast(pl.Utf8).str.zfill(3),
        setai_no=F("setai_no"),
        shimei=pl.when(F("foreign")).then(F("alpha").str.to_uppercase()).otherwise(F("shimei")),
        shimei_kana=F("kana"),
        kyuuji=pl.lit(""),
        birth_wareki=pl.when(F("foreign")).then(pl.lit("")).otherwise(F("birth")),
        birth_seireki=pl.when(F("foreign")).then(F("birth")).otherwise(pl.lit("")),
        sex=F("sex"),
        zokugara=F("role"),
        jumin_date=F("jumin_date"),
        jusho_cd=F("jusho_cd"),
        yubin=F("zip"),
        jusho=F("jusho"),
        katagaki=F("katagaki"),
        jutei_date=F("jutei_date"),
        todoke_date=pl.when(F("ido_jiyu").is_in(["住民となった"])).then(pl.lit("@unknown")).otherwise(F("todoke_date")),
        ido_jiyu=F("ido_jiyu"),
        ido_date=F("ido_date"),
        jumin_jotai=F("status"),
        jumin_shubetsu=pl.when(F("foreign")).then(pl.lit("外国人")).otherwise(pl.lit("日本人")),
        honseki=F("honseki"),
        hittosha=F("hittosha"),
        kojin_bango=F("mynumber"),
        juminhyo_cd=F("juminhyo_cd"),
        zen_jusho=pl.when(F("ido_jiyu") == "転入").then(
            pl.lit(OTHER_PLACES[0])).otherwise(pl.lit("")),
        koho_kubun=pl.when(F("role") == "世帯主").then(pl.lit("配布")).otherwise(pl.lit("配布不要")),
    )
    frows = rows.filter(F("foreign"))
    gaikoku = frows.select(
        "atena_no",
        rireki_no=F("rireki_no").cast(pl.Utf8).str.zfill(3),
        shimei_eiji=F("alpha"),
        tsusho=F("tsusho"),
        tsusho_kana=F("tsusho_kana"),
        kokuseki=F("country").replace_strict(
            {"CHN": "中国", "KOR": "韓国", "VNM": "ベトナム", "PHL": "フィリピン", "BRA": "ブラジル",
             "NPL": "ネパール", "USA": "アメリカ合衆国", "IDN": "インドネシア"}),
        zairyu_shikaku=F("zairyu"),
        zairyu_kikan=pl.when(F("zairyu").is_in(["永住者", "特別永住者"])).then(pl.lit("")).otherwise(pl.lit("3年")),
        zairyu_manryo=pl.when(F("zairyu").is_in(["永住者", "特別永住者"])).then(pl.lit(""))
        .otherwise(pl.lit(_ymd(c.today + dt.timedelta(days=400)))),
        zairyu_card=pl.when(F("zairyu") == "特別永住者").then(pl.lit("")).otherwise(
            pl.concat_str([pl.lit("AB"), F("atena_no").str.slice(1, 8), pl.lit("CD")])),
    )
    return {"juki.kojin": kojin, "juki.gaikoku": gaikoku}


# --------------------------------------------------------------------------- 印鑑登録

@builds("inkan.inkan")
def inkan(c: Ctx) -> dict[str, pl.DataFrame]:
    p = c.pop.persons
    rng = c.rng("jumin")  # the stream's name from when 住民記録 built it: the same seed, the same seals
    adults = _pick(p.filter(F("age") >= 15), rng, 0.5)
    n = adults.height
    haishi = rng.random(n) < 0.05
    inkan = adults.select(
        inkan_no=_serial(n, 1, 8),
        atena_no=F("atena_no"),
        toroku_date=_date_add(F("birth"), pl.Series(rng.integers(15 * 366, 15 * 366 + 20 * 365, n))),
    ).with_columns(
        toroku_date=pl.min_horizontal(F("toroku_date"), pl.lit(_ymd(c.today - dt.timedelta(days=3)))),
    ).with_columns(
        haishi_date=pl.when(pl.Series(haishi)).then(_date_add("toroku_date", 400)).otherwise(pl.lit("@unknown")),
        jotai=pl.when(pl.Series(haishi)).then(pl.lit("廃止")).otherwise(pl.lit("登録")),
    )
    # dead or departed persons' seals are 廃止 too
    inkan = inkan.join(p.select("atena_no", "status", "ido_date"), on="atena_no").with_columns(
        jotai=pl.when(F("status") != "住民").then(pl.lit("廃止")).otherwise(F("jotai")),
        haishi_date=pl.when(F("status") != "住民").then(F("ido_date")).otherwise(F("haishi_date")),
    ).drop("status", "ido_date")
    return {"inkan.inkan": inkan}


# --------------------------------------------------------------------------- 戸籍

@builds("koseki.koseki", "koseki.kojin", "fuhyo.fuhyo")
def koseki(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("koseki")
    p = c.pop.persons.filter(F("honseki_here") & F("role").is_in(["世帯主", "妻", "夫", "子"]))
    fam = p.group_by("hh", maintain_order=True).agg(
        F("honseki").first(), F("hittosha").first(), F("birth").min().alias("oldest"))
    nk = fam.height
    fam = fam.with_columns(koseki_no=_serial(nk, 1000001, 10))
    hensei = _date_add(F("oldest"), pl.Series(rng.integers(20 * 365, 30 * 365, nk)))
    kos = fam.select(
        "koseki_no", "honseki", "hittosha",
        hensei_date=pl.min_horizontal(hensei, pl.lit("2020-01-01")),
        shojo_date=pl.lit(""),
        kubun=pl.lit("現在戸籍"),
    )
    kp = p.join(fam.select("hh", "koseki_no"), on="hh").sort("koseki_no", "member")
    kp = kp.with_columns(jun=(pl.int_range(pl.len()).over("koseki_no") + 1))
    order = pl.int_range(pl.len()).over("koseki_no", F("role"), F("sex"))
    nth = ["長", "二", "三", "四", "五", "六"]
    kojin = kp.select(
        "koseki_no",
        jun=F("jun").cast(pl.Utf8).str.zfill(3),
        shimei=F("shimei"),
        shimei_kana=F("kana"),
        birth=F("birth"),
        sex=F("sex"),
        zokugara=pl.when(F("role") == "子").then(
            pl.concat_str([order.clip(0, 5).replace_strict(dict(enumerate(nth)), return_dtype=pl.Utf8),
                           pl.when(F("sex") == "男").then(pl.lit("男")).otherwise(pl.lit("女"))]))
        .when(F("role") == "世帯主").then(pl.lit(""))
        .otherwise(F("role")),
        jiyu=pl.when(F("status") == "死亡").then(pl.lit("死亡")).otherwise(pl.lit("在籍")),
        joseki_date=pl.when(F("status") == "死亡").then(F("ido_date")).otherwise(pl.lit("")),
        atena_no=pl.when(F("status") == "住民").then(F("atena_no")).otherwise(pl.lit("")),
        biko=pl.lit(""),
    )
    hist = c.pop.history.join(kp.select("pid", "koseki_no", "jun"), on="pid")
    fuhyo = hist.select(
        "koseki_no",
        jun=F("jun").cast(pl.Utf8).str.zfill(3),
        rireki_no=F("rireki_no").cast(pl.Utf8).str.zfill(3),
        jusho=F("jusho"),
        jutei_date=F("jutei_date"),
        atena_no=F("atena_no"),
        jotai=pl.when(F("status") == "住民").then(pl.lit("現在")).otherwise(pl.lit("消除")),
    )
    return {"koseki.koseki": kos, "koseki.kojin": kojin, "fuhyo.fuhyo": fuhyo}


# --------------------------------------------------------------------------- 選挙

@builds("senkyo.meibo")
def senkyo(c: Ctx) -> dict[str, pl.DataFrame]:
    p = c.pop.persons
    cutoff = _ymd(c.today - dt.timedelta(days=92))
    eligible = p.filter(~F("foreign") & (F("age") >= 18) & (F("jumin_date") <= cutoff)
                        & ((F("status") == "住民") | ((F("status") == "転出") & (F("ido_date") >= cutoff))))
    n = eligible.height
    meibo = eligible.select(
        senkyonin_no=_serial(n, 1, 8),
        atena_no=F("atena_no"),
        tohyoku=(F("jusho_cd").str.slice(5, 3).cast(pl.Int64) % 97 + 1).cast(pl.Utf8).str.zfill(3),
        shimei=F("shimei"),
        shimei_kana=F("kana"),
        birth=F("birth"),
        sex=F("sex"),
        toroku_date=pl.max_horizontal(_date_add("birth", 18 * 366), _date_add("jumin_date", 92)),
        massho_date=pl.lit(""),
        hyoji=pl.when(F("status") == "転出").then(pl.lit("転出表示")).otherwise(pl.lit("登録")),
    )
    return {"senkyo.meibo": meibo}


# --------------------------------------------------------------------------- 国保 / 年金 / 後期 / 介護

@builds("kokuho.hihokensha", "kokuho.fuka")
def kokuho(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("kokuho")
    p = c.pop.persons.filter(F("age") < 75)
    age = p["age"].to_numpy()
    prob = np.select([age < 20, age < 40, age < 60, age < 65], [0.12, 0.15, 0.18, 0.45], 0.78)
    ins = _pick(p, rng, prob)
    n = ins.height
    start = pl.max_horizontal(F("birth"), F("jumin_date"), pl.lit("1990-04-01"))
    hiho = ins.select(
        hiho_kigo=pl.concat_str([pl.lit("27-"), F("jusho_cd").str.slice(4, 1).str.zfill(2)]),
        hiho_no=_serial(n, 10000001, 8),
        setai_no=F("setai_no"),
        atena_no=F("atena_no"),
        kojin_bango=F("mynumber"),
        shimei=F("shimei"),
        birth=F("birth"),
        sex=F("sex"),
        jusho=F("jusho"),
        shutoku_date=start,
        shutoku_jiyu=pl.when(F("birth") == start).then(pl.lit("出生"))
        .when(F("jumin_date") == start).then(pl.lit("転入")).otherwise(pl.lit("社保離脱")),
        soshitsu_date=pl.when(F("status") == "住民").then(pl.lit("@open")).otherwise(F("ido_date")),
        soshitsu_jiyu=pl.when(F("status") == "死亡").then(pl.lit("死亡"))
        .when(F("status") == "転出").then(pl.lit("転出")).otherwise(pl.lit("該当なし")),
        taishoku=pl.lit("一般"),
    )
    members = ins.filter(F("resident")).group_by("setai_no", maintain_order=True).agg(
        n=pl.len(), kaigo_n=((F("age") >= 40) & (F("age") < 65)).sum())
    fuka = []
    for nendo in (c.today.year - 1, c.today.year):
        k = members.height
        iryo = members["n"].to_numpy() * 28_400 + rng.integers(0, 60_000, k)
        shien = members["n"].to_numpy() * 9_800 + rng.integers(0, 20_000, k)
        kaigo_ = members["kaigo_n"].to_numpy() * 11_200
        fuka.append(members.select(
            nendo=pl.lit(str(nendo)), setai_no=F("setai_no"),
            iryo=pl.Series(iryo), shien=pl.Series(shien), kaigo=pl.Series(kaigo_),
            gokei=pl.Series(iryo + shien + kaigo_)))
    return {"kokuho.hihokensha": hiho, "kokuho.fuka": pl.concat(fuka)}


@builds("nenkin.hihokensha")
def nenkin(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("nenkin")
    p = c.pop.persons.filter(F("resident") & (F("age") >= 20) & (F("age") < 60))
    r = rng.random(p.height)
    kind = np.where(r < 0.30, "第1号被保険者",
                    np.where((r < 0.44) & (p["sex"].to_numpy() == "女"), "第3号被保険者",
                             np.where(r > 0.995, "任意加入被保険者", "")))
    p = p.with_columns(kind=pl.Series(kind)).filter(F("kind") != "")
    n = p.height
    menjo = rng.choice(["免除なし", "全額免除", "半額免除", "学生納付特例", "納付猶予"], n,
                       p=[0.78, 0.1, 0.04, 0.05, 0.03])
    kiso = rng.integers(1000, 9999, n).astype(str).astype(object) + "-" + \
        np.char.zfill(rng.integers(0, 999999, n).astype(str), 6).astype(object)
    hiho = p.select(
        kiso_nenkin_no=pl.Series(kiso),
        atena_no=F("atena_no"),
        kojin_bango=F("mynumber"),
        shubetsu=F("kind"),
        shutoku_date=pl.max_horizontal(_date_add("birth", 20 * 366), F("jumin_date")),
        soshitsu_date=pl.lit(""),
        menjo=pl.when(F("kind") == "第1号被保険者").then(pl.Series(menjo)).otherwise(pl.lit("免除なし")),
    ).unique(subset=["kiso_nenkin_no"], keep="first", maintain_order=True)
    return {"nenkin.hihokensha": hiho}


@builds("kouki.hihokensha")
def kouki(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("kouki")
    p = c.pop.persons.filter(F("age") >= 75)
    n = p.height
    hiho = p.select(
        hiho_no=_serial(n, 30000001, 8),
        atena_no=F("atena_no"),
        kojin_bango=F("mynumber"),
        shimei=F("shimei"),
        birth=F("birth"),
        sex=F("sex"),
        shutoku_date=pl.max_horizontal(_date_add("birth", 75 * 365 + 19), F("jumin_date"), pl.lit("2008-04-01")),
        soshitsu_date=pl.when(F("resident")).then(pl.lit("")).otherwise(F("ido_date")),
        futan=pl.Series(rng.choice(["1割", "2割", "3割"], n, p=[0.72, 0.2, 0.08])),
    )
    return {"kouki.hihokensha": hiho}


@builds("kaigo.hihokensha", "kaigo.nintei")
def kaigo(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("kaigo")
    p = c.pop.persons
    first = p.filter(F("age") >= 65)
    second = _pick(p.filter((F("age") >= 40) & (F("age") < 65) & F("resident")), rng, 0.004)
    ins = pl.concat([first.with_columns(kubun=pl.lit("第1号被保険者")),
                     second.with_columns(kubun=pl.lit("第2号被保険者"))])
    n = ins.height
    hiho = ins.select(
        hiho_no=_serial(n, 1000000001, 10),
        atena_no=F("atena_no"),
        kojin_bango=F("mynumber"),
        hiho_kubun=F("kubun"),
        shutoku_date=pl.max_horizontal(_date_add("birth", 65 * 365 + 16), F("jumin_date"), pl.lit("2000-04-01")),
        soshitsu_date=pl.when(F("resident")).then(pl.lit("@open")).otherwise(F("ido_date")),
        shotoku_dankai=pl.Series(rng.choice([f"第{i}段階" for i in range(1, 10)], n)),
        age=F("age"),
        resident=F("resident"),
    )
    age = hiho["age"].to_numpy()
    pn = np.select([age < 65, age < 75, age < 85], [1.0, 0.05, 0.2], 0.55)
    cert = _pick(hiho.filter(F("resident")), rng, pn[hiho["resident"].to_numpy()])
    k = cert.height
    levels = ["非該当", "要支援1", "要支援2", "要介護1", "要介護2", "要介護3", "要介護4", "要介護5"]
    start = pl.Series(rng.integers(30, 700, k))
    nintei = cert.select(
        hiho_no=F("hiho_no"),
        yokaigo=pl.Series(rng.choice(levels, k, p=[0.03, 0.14, 0.14, 0.2, 0.17, 0.13, 0.11, 0.08])),
        nintei_kaishi=pl.lit(_ymd(c.today)),
        nintei_shuryo=pl.lit(_ymd(c.today)),
        shinsei_date=pl.lit(_ymd(c.today)),
    ).with_columns(
        nintei_kaishi=_date_add("nintei_kaishi", -start),
        nintei_shuryo=_date_add("nintei_shuryo", -start + pl.Series(rng.choice([365, 730, 1095], k))),
        shinsei_date=_date_add("shinsei_date", -start - 30),
    )
    return {"kaigo.hihokensha": hiho.drop("age", "resident"), "kaigo.nintei": nintei}


# --------------------------------------------------------------------------- 健康管理

@builds("kenko.kenshin")
def kenko(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("kenko")
    p = c.residents.filter(F("age") >= 40)
    kinds = ["特定健康診査", "胃がん検診", "大腸がん検診", "乳がん検診", "歯周病検診"]
    frames = []
    for i, kind in enumerate(kinds):
        pr = [0.35, 0.12, 0.2, 0.12, 0.05][i]
        sel = _pick(p if kind != "乳がん検診" else p.filter(F("sex") == "女"), rng, pr)
        frames.append(sel.select("atena_no", "sex", kind=pl.lit(kind)))
    k = pl.concat(frames)
    n = k.height
    height = np.where(k["sex"].to_numpy() == "男", rng.normal(1690, 60, n), rng.normal(1560, 55, n))
    kenshin = k.select(
        jushin_no=_serial(n, 2000000001, 10),
        atena_no=F("atena_no"),
        kenshin_shubetsu=F("kind"),
        jushin_date=pl.lit(_ymd(c.today)),
        shincho=pl.Series(height.astype(np.int64)),
        taiju=pl.Series((height / 1000) ** 2 * rng.normal(225, 30, n)).cast(pl.Int64),
        ketsuatsu=pl.Series(rng.normal(128, 16, n).astype(np.int64)),
        hantei=pl.Series(rng.choice(["異常なし", "要経過観察", "要精密検査", "要治療"], n, p=[0.45, 0.35, 0.15, 0.05])),
    ).with_columns(jushin_date=_date_add("jushin_date", -pl.Series(rng.integers(1, 360, n))))
    return {"kenko.kenshin": kenshin}


# --------------------------------------------------------------------------- 子育て

@builds("jido_teate.teate_jukyusha", "jido_teate.teate_jido", "jido_fuyo.fuyo", "kodomo.hoiku")
def kosodate(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("kosodate")
    r = c.residents
    kids = r.filter((F("age") < 18) & F("role").is_in(["子", "子の子"]))
    heads = r.filter(F("role") == "世帯主").select("hh", "atena_no", "mynumber")
    per_hh = kids.group_by("hh", maintain_order=True).agg(
        n=pl.len(), under3=(F("age") < 3).sum())
    rec = per_hh.join(heads, on="hh")
    n = rec.height
    rec = rec.with_columns(
        jukyusha_no=_serial(n, 50000001, 8),
        getsugaku=(F("under3") * 15000 + (F("n") - F("under3")).clip(0, 2) * 10000
                   + (F("n") - 2).clip(0, None) * 30000 - (F("under3") - 2).clip(0, None) * 15000),
    )
    teate = rec.select(
        "jukyusha_no", "atena_no",
        nintei_date=pl.lit(_ymd(c.today - dt.timedelta(days=200))),
        getsugaku=F("getsugaku"),
        jido_su=F("n").cast(pl.Utf8).str.zfill(2),
        jotai=pl.Series(rng.choice(["支給中", "支給停止"], n, p=[0.98, 0.02])),
    )
    jido = kids.join(rec.select("hh", "jukyusha_no"), on="hh").select(
        "jukyusha_no", jido_atena_no=F("atena_no"), shimei=F("shimei"), birth=F("birth"))
    # 児童扶養手当: one-parent households (no spouse) with children
    spouses = r.filter(F("role").is_in(["妻", "夫"])).select("hh").unique()
    single = _pick(rec.join(spouses, on="hh", how="anti"), rng, 0.6)
    m = single.height
    fuyo = single.select(
        jukyusha_no=_serial(m, 70000001, 8),
        atena_no=F("atena_no"),
        kojin_bango=F("mynumber"),
        nintei_date=pl.lit(_ymd(c.today - dt.timedelta(days=500))),
        shikyu_kubun=pl.Series(rng.choice(["全部支給", "一部支給", "全部停止"], m, p=[0.5, 0.45, 0.05])),
    ).with_columns(
        getsugaku=pl.when(F("shikyu_kubun") == "全部支給").then(46690)
        .when(F("shikyu_kubun") == "一部支給").then(pl.Series(rng.integers(11010, 46680, m)))
        .otherwise(0)
    )
    small = _pick(kids.filter(F("age") < 6), rng, 0.55).join(heads.select("hh", hogo=F("atena_no")), on="hh")
    k = small.height
    hoiku = small.select(
        nintei_no=_serial(k, 80000001, 8),
        jido_atena_no=F("atena_no"),
        hogosha_atena_no=F("hogo"),
        nintei_kubun=pl.when(F("age") < 3).then(pl.lit("3号認定"))
        .otherwise(pl.Series(rng.choice(["1号認定", "2号認定"], k, p=[0.35, 0.65]))),
        shisetsu_cd=pl.Series(np.char.zfill(rng.integers(1, 400, k).astype(str), 6)).map_elements(
            lambda s: "27" + s[2:], return_dtype=pl.Utf8),
        nyusho_date=pl.max_horizontal(_date_add("birth", 60), pl.lit(_ymd(c.today - dt.timedelta(days=900)))),
        taisho_date=pl.lit(""),
    )
    return {"jido_teate.teate_jukyusha": teate, "jido_teate.teate_jido": jido, "jido_fuyo.fuyo": fuyo,
            "kodomo.hoiku": hoiku}


# --------------------------------------------------------------------------- 税総合

@builds("kojin_jumin.atena", "kojin_jumin.kojin", "hojin_jumin.hojin", "kotei.tochi", "kotei.kaoku",
        "keiji.keiji", "kojin_jumin.shuno")
def zeimu(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("zeimu")
    p = c.pop.persons
    res = p.filter(F("resident") & (F("age") >= 15))
    jutogai = c.pop.jutogai
    atena = pl.concat([
        res.select("atena_no", juto_kubun=pl.lit("住登内"), shimei_kana=F("kana"),
                   shimei=pl.when(F("foreign")).then(F("tsusho")).otherwise(F("shimei")),
                   birth="birth", sex="sex", yubin="zip7",
                   jusho=pl.concat_str([F("jusho"), pl.when(F("katagaki") != "").then(
                       pl.concat_str([pl.lit("\u3000"), F("katagaki")])).otherwise(pl.lit(""))]),
                   kojin_bango="mynumber", filler=pl.lit("")),
        jutogai.select("atena_no", juto_kubun=pl.lit("住登外"), shimei_kana="kana", shimei="shimei",
                       birth="birth", sex="sex", yubin="zip7", jusho="jusho", kojin_bango="mynumber",
                       filler=pl.lit("")),
    ])
    # 個人住民税
    age = res["age"].to_numpy()
    earner = rng.random(res.height) < np.select([age < 20, age < 65], [0.05, 0.82], 0.45)
    earners = res.filter(pl.Series(earner))
    kojin = []
    for nendo in (c.today.year - 1, c.today.year):
        k = earners.height
        shotoku = np.exp(rng.normal(15.0, 0.6, k)).astype(np.int64) // 1000 * 1000
        taxable = np.clip(shotoku - 430_000, 0, None)
        wari = taxable // 10 // 100 * 100
        kinto = np.where(shotoku > 1_000_000, 5_300, 0)
        kojin.append(earners.select(nendo=pl.lit(str(nendo)), atena_no=F("atena_no")).with_columns(
            shotoku=pl.Series(shotoku), shotokuwari=pl.Series(wari), kintowari=pl.Series(kinto),
            nenzei=pl.Series(wari + kinto)))
    kojin = pl.concat(kojin)
    # 法人住民税
    nh = max(res.height // 40, 5)
    base = rng.integers(10**11, 10**12, nh)
    hb = [f"{hojin_check_digit(f'{b:012d}')}{b:012d}" for b in base.tolist()]
    kinds = rng.choice(["株式会社", "有限会社", "合同会社", "医療法人", "一般社団法人"], nh, p=[0.6, 0.2, 0.1, 0.05, 0.05])
    sur = res["surname"].to_numpy()[rng.integers(0, res.height, nh)]
    hojin = pl.DataFrame({
        "hojin_bango": hb,
        "hojin_mei": kinds + sur + rng.choice(["商事", "工業", "建設", "製作所", "不動産", "運輸", "企画"], nh),
        "shozaichi": res["jusho"].to_numpy()[rng.integers(0, res.height, nh)],
        "jigyo_kaishi": [f"{c.today.year - 1}-04-01"] * nh,
        "kintowari": rng.choice([50_000, 120_000, 130_000, 150_000, 400_000, 1_750_000], nh, p=[.55, .15, .1, .1, .07, .03]),
        "hojinzeiwari": (np.exp(rng.normal(12, 1.5, nh))).astype(np.int64),
        "shinkoku_kubun": rng.choice(["確定申告", "中間申告", "修正申告"], nh, p=[0.8, 0.17, 0.03]),
    }).unique(subset=["hojin_bango"], keep="first", maintain_order=True)
    # 固定資産: owners are household heads (some) and 住登外 persons
    heads = res.filter(F("role") == "世帯主")
    owners = pl.concat([_pick(heads, rng, 0.45).select("atena_no", "jusho"),
                        jutogai.select("atena_no", "jusho")])
    reps = rng.choice([1, 1, 1, 2, 2, 3], owners.height)
    parcels = owners.select(pl.all().repeat_by(pl.Series(reps)).explode())
    n = parcels.height
    chimoku = rng.choice(["宅地", "田", "畑", "山林", "雑種地", "池沼"], n, p=[0.8, 0.06, 0.06, 0.02, 0.055, 0.005])
    chiseki = rng.integers(6_000, 40_000, n)
    hyoka = chiseki * rng.integers(800, 3_000, n) // 100 * 100
    tochi = parcels.select(
        bukken_no=_serial(n, 100000000001, 12),
        owner_atena_no=F("atena_no"),
        shozai=pl.Series(res["jusho"].to_numpy()[rng.integers(0, res.height, n)]).str.replace(r"^大阪府堺市", ""),
        chimoku=pl.Series(chimoku),
        chiseki=pl.Series(chiseki),
        hyoka=pl.Series(hyoka),
        kazei_hyojun=pl.Series(np.where(chimoku == "宅地", hyoka // 6, hyoka)),
    )
    houses = tochi.filter((F("chimoku") == "宅地") & pl.Series(rng.random(n) < 0.8))
    m = houses.height
    kaoku = houses.select(
        kaoku_no=_serial(m, 200000000001, 12),
        owner_atena_no=F("owner_atena_no"),
        shozai=F("shozai"),
        kozo=pl.Series(rng.choice(["木造", "軽量鉄骨造", "鉄骨造", "鉄筋コンクリート造"], m, p=[0.62, 0.15, 0.1, 0.13])),
        yuka_menseki=pl.Series(rng.integers(4_000, 20_000, m)),
        kenchiku_nen=pl.Series(rng.integers(1960, c.today.year, m).astype(str)),
        hyoka=pl.Series(rng.integers(2_000_000, 18_000_000, m) // 100 * 100),
        filler=pl.lit(""),
    )
    # 軽自動車
    vh = _pick(heads, rng, 0.28)
    v = vh.height
    shashu = rng.choice(["軽四輪乗用（自家用）", "軽四輪貨物（自家用）", "原動機付自転車（50cc以下）",
                         "二輪（125cc超250cc以下）", "原動機付自転車（90cc以下）", "小型特殊自動車"],
                        v, p=[0.62, 0.13, 0.15, 0.05, 0.04, 0.01])
    tax = {"軽四輪乗用（自家用）": 10_800, "軽四輪貨物（自家用）": 5_000, "原動機付自転車（50cc以下）": 2_000,
           "二輪（125cc超250cc以下）": 3_600, "原動機付自転車（90cc以下）": 2_000, "小型特殊自動車": 5_900}
    kana_pool = np.array(list("あいうえかきくけこさすせそたちつてとなにぬねのはひふほまみむめもやゆよらりるれろわ"))
    keiji = vh.select(
        hyoshiki=pl.Series("堺" + kana_pool[rng.integers(0, len(kana_pool), v)].astype(object)
                           + np.char.zfill(np.arange(1, v + 1).astype(str), 5).astype(object)),
        owner_atena_no=F("atena_no"),
        shashu=pl.Series(shashu),
        shonendo=pl.Series([f"{y}-{m_:02d}-01" for y, m_ in zip(rng.integers(2000, c.today.year, v).tolist(),
                                                                  rng.integers(1, 13, v).tolist())]),
        zeigaku=pl.Series([tax[s] for s in shashu]),
        genmen=pl.Series(rng.choice(["なし", "身体障害者等減免"], v, p=[0.97, 0.03])),
        filler=pl.lit(""),
    )
    # 収納: 4 instalments of 個人住民税 (普通徴収), 4 of 固定資産税, 1 of 軽自動車税
    nendo = str(c.today.year)
    kz = kojin.filter((F("nendo") == nendo) & (F("nenzei") > 0)).select(
        "atena_no", zeimoku=pl.lit("個人住民税（普通徴収）"), total=F("nenzei"), kib=pl.lit(4))
    kt = tochi.group_by("owner_atena_no", maintain_order=True).agg(total=(F("kazei_hyojun").sum() * 14 // 1000)) \
        .select(atena_no="owner_atena_no", zeimoku=pl.lit("固定資産税"), total="total", kib=pl.lit(4))
    kk = keiji.select(atena_no="owner_atena_no", zeimoku=pl.lit("軽自動車税"), total="zeigaku", kib=pl.lit(1))
    subj = pl.concat([kz, kt, kk]).with_columns(tsuchi_no=_serial(kz.height + kt.height + kk.height, 300000000001, 12))
    inst = subj.select(pl.all().repeat_by(F("kib")).explode()).with_columns(
        kibetsu=(pl.int_range(pl.len()).over("tsuchi_no") + 1))
    q = inst.height
    chotei = (inst["total"] // inst["kib"]).to_numpy()
    due_month = np.array([6, 8, 10, 1])[(inst["kibetsu"].to_numpy() - 1) % 4]
    due = [dt.date(int(nendo) + (1 if mth == 1 else 0), int(mth), 30 if mth != 1 else 31) for mth in due_month.tolist()]
    paid = (rng.random(q) < 0.93) & (np.array([d for d in due]) <= c.today)
    shuno = inst.select(
        tsuchi_no=F("tsuchi_no"),
        kibetsu=F("kibetsu").cast(pl.Utf8).str.zfill(2),
        atena_no=F("atena_no"),
        zeimoku=F("zeimoku"),
        nendo=pl.lit(nendo),
        chotei=pl.Series(chotei),
        shuno=pl.Series(np.where(paid, chotei, 0)),
        shuno_date=pl.Series([(d - dt.timedelta(days=int(x))).isoformat() if pd_ else "@unknown"
                              for d, x, pd_ in zip(due, rng.integers(0, 20, q).tolist(), paid.tolist())]),
        noki_date=pl.Series([d.isoformat() for d in due]),
    )
    return {"kojin_jumin.atena": atena, "kojin_jumin.kojin": kojin, "hojin_jumin.hojin": hojin,
            "kotei.tochi": tochi, "kotei.kaoku": kaoku, "keiji.keiji": keiji, "kojin_jumin.shuno": shuno}


# --------------------------------------------------------------------------- 障害 / 就学 / 生活保護

@builds("shogai.techo")
def shogai(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("shogai")
    p = c.residents
    age = p["age"].to_numpy()
    holders = _pick(p, rng, np.select([age < 18, age < 65], [0.02, 0.035], 0.09))
    n = holders.height
    kind = rng.choice(["身体障害者手帳", "療育手帳", "精神障害者保健福祉手帳"], n, p=[0.6, 0.15, 0.25])
    grade = np.where(kind == "身体障害者手帳", np.array([f"身体{i}級" for i in range(1, 7)])[rng.integers(0, 6, n)],
                     np.where(kind == "療育手帳", np.array(["療育A", "療育B1", "療育B2"])[rng.integers(0, 3, n)],
                              np.array(["精神1級", "精神2級", "精神3級"])[rng.integers(0, 3, n)]))
    names = np.array(["視覚障害", "聴覚障害", "肢体不自由", "内部障害", "知的障害", "精神障害", ""], dtype=object)
    kofu_days = rng.integers(30, 20 * 365, n)
    techo = holders.select(
        techo_no=_serial(n, 40000001, 8),
        atena_no=F("atena_no"),
        shimei=F("shimei"),
        techo_shubetsu=pl.Series(kind),
        tokyu=pl.Series(grade),
        kofu_date=pl.max_horizontal(_date_add(pl.lit(_ymd(c.today)), -pl.Series(kofu_days)), F("birth")),
        sainintei_date=pl.when(pl.Series(kind) == "身体障害者手帳").then(pl.lit("@open"))
        .otherwise(pl.lit(_ymd(c.today + dt.timedelta(days=500)))),
        shogai_mei=pl.Series(np.where(kind == "療育手帳", "知的障害",
                                      np.where(kind == "精神障害者保健福祉手帳", "精神障害",
                                               names[rng.integers(0, 4, n)]))),
    )
    return {"shogai.techo": techo}


@builds("shugaku.gakureibo")
def shugaku(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("shugaku")
    r = c.residents
    fy = c.today.year if c.today.month >= 4 else c.today.year - 1
    april1 = dt.date(fy, 4, 1)
    kids = r.filter((F("age") >= 6) & (F("age") <= 15)).with_columns(
        school_age=(pl.lit(fy) - F("birth").str.slice(0, 4).cast(pl.Int32)
                    - (F("birth").str.slice(5, 5) >= "04-02").cast(pl.Int32)))
    kids = kids.filter((F("school_age") >= 7) & (F("school_age") <= 15))
    heads = r.filter(F("role") == "世帯主").select("hh", hogo=F("atena_no"))
    kids = kids.join(heads, on="hh", how="left")
    n = kids.height
    grade = kids["school_age"].to_numpy() - 6
    elementary = grade <= 6
    gakunen = np.where(elementary, grade, grade - 6)
    entry_year = fy - gakunen + 1
    book = kids.select(
        gakurei_no=_serial(n, 60000001, 8),
        jido_atena_no=F("atena_no"),
        hogosha_atena_no=F("hogo").fill_null(""),
        shimei=F("shimei"),
        shimei_kana=F("kana"),
        birth=F("birth"),
        gakko_kubun=pl.Series(np.where(elementary, "小学校", "中学校")),
        gakko_cd=pl.Series(np.where(elementary, 1000, 2000) + rng.integers(1, 93, n)).cast(pl.Utf8),
        gakunen=pl.Series(gakunen.astype(str)),
        nyugaku_date=pl.Series([dt.date(int(y), 4, 1).isoformat() for y in entry_year.tolist()]),
        shugaku_enjo=pl.Series(rng.choice(["対象外", "準要保護", "要保護"], n, p=[0.8, 0.17, 0.03])),
        filler=pl.lit(""),
    )
    del april1
    return {"shugaku.gakureibo": book}


@builds("seiho.case", "seiho.setaiin", "seiho.fujo")
def seiho(c: Ctx) -> dict[str, pl.DataFrame]:
    rng = c.rng("seiho")
    r = c.residents
    hh = r.group_by("hh", maintain_order=True).agg(
        size=pl.len(), max_age=F("age").max(), kids=(F("age") < 18).sum(),
        spouse=F("role").is_in(["妻", "夫"]).any())
    ruikei = np.where(hh["max_age"].to_numpy() >= 65, "高齢者世帯",
                      np.where((hh["kids"].to_numpy() > 0) & ~hh["spouse"].to_numpy(), "母子世帯", "その他の世帯"))
    prob = np.where(ruikei == "高齢者世帯", 0.05, np.where(ruikei == "母子世帯", 0.12, 0.018))
    cases = _pick(hh.with_columns(ruikei=pl.Series(ruikei)), rng, prob)
    n = cases.height
    cases = cases.with_columns(case_no=_serial(n, 1000001, 7))
    heads = r.filter(F("role") == "世帯主").select("hh", head="atena_no")
    ruikei_c = cases["ruikei"].to_numpy()
    ruikei_c = np.where((ruikei_c == "その他の世帯") & (rng.random(n) < 0.5),
                        rng.choice(["障害者世帯", "傷病者世帯"], n), ruikei_c)
    case = cases.join(heads, on="hh", how="left").select(
        "case_no", nushi_atena_no=F("head").fill_null(""),
        kaishi_date=_date_add(pl.lit(_ymd(c.today)), -pl.Series(rng.integers(60, 15 * 365, n))),
        haishi_date=pl.lit(""),
        setai_ruikei=pl.Series(ruikei_c),
        tanto=pl.Series(np.array(["第一係", "第二係", "第三係", "第四係"], dtype=object)[rng.integers(0, 4, n)]),
    )
    members = r.join(cases.select("hh", "case_no"), on="hh")
    setaiin = members.select("case_no", "atena_no", kojin_bango="mynumber", shimei="shimei",
                             zokugara=F("role"))
    months = [(c.today.replace(day=1) - dt.timedelta(days=30 * i)).replace(day=1) for i in range(6)]
    fujo = pl.concat([
        cases.select("case_no", shikyu_ym=pl.lit(m.isoformat()),
                     seikatsu=(F("size") * 62_000 + pl.Series(rng.integers(0, 20_000, n))),
                     jutaku=pl.Series(rng.integers(30_000, 42_000, n)),
                     iryo=pl.Series(rng.integers(0, 120_000, n)))
        for m in months
    ])
    return {"seiho.case": case, "seiho.setaiin": setaiin, "seiho.fujo": fujo}


# --------------------------------------------------------------------------- systems

def logical_table(project, system: str, table: str) -> str:
    """The logical table ``<business>.<table>`` that ``table`` of ``system``'s layout exports: the
    one of the system's businesses (``mappings/city.yaml``) the simulator builds a table of that name for."""
    s = project.city.system(system)
    found = [f"{b}.{table}" for b in s.businesses if f"{b}.{table}" in TABLE_BUILDERS]
    if len(found) != 1:
        why = "several of its businesses have" if found else "none of its businesses has"
        known = sorted(t for t in TABLE_BUILDERS if t.endswith(f".{table}"))
        raise ValueError(f"{system}/layout.yaml: table {table!r}: {why} a simulated table of that name "
                         f"(businesses {s.businesses}; the simulator builds {known or 'none'})")
    return found[0]


def table_homes(project, systems: list[str]) -> dict[str, tuple[str, str]]:
    """``<business>.<table>`` -> (system, table) for every table the given systems' layouts host."""
    return {logical_table(project, sid, lf.table): (sid, lf.table)
            for sid in systems for lf in project.layouts[sid].files}


def system_frames(ctx: Ctx, project, systems: list[str]) -> dict[str, dict[str, pl.DataFrame]]:
    """system -> layout table -> logical frame, for the tables each system's layout hosts. Every
    builder runs once, however many systems share its tables, and only if one is wanted."""
    built: dict[Builder, dict[str, pl.DataFrame]] = {}
    frames: dict[str, dict[str, pl.DataFrame]] = {}
    for sid in systems:
        frames[sid] = {}
        for lf in project.layouts[sid].files:
            name = logical_table(project, sid, lf.table)
            fn = TABLE_BUILDERS[name]
            if fn not in built:
                built[fn] = fn(ctx)
            frames[sid][lf.table] = built[fn][name]
    return frames
