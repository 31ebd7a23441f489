"""An independent writer of a small legacy city export, from the layouts alone.

It shares nothing with the project's simulator (``dagster_project.simulate``) or its helpers
(check digits, 和暦, codecs): it reads ``mappings/<system>/layout.yaml`` with plain PyYAML and
writes every file byte by byte as the layout says, with its own few lines for M11W2-7 and 和暦,
python-stdnum for 個人番号 (``stdnum.jp.in_``) and 法人番号 (``stdnum.jp.cn``), and Python's
``cp932`` codec. The point is to catch blind spots the simulator and the pipeline share.

About 30 persons, a few records per file, every record clean (it should give no finding at all)
except the handful of defects planted on purpose, each on a known physical line:

    from tests.independent.writer import write_city
    city = write_city(Path("/tmp/legacy"))
    city.planted   # [Planted(system, table, record_no, kind, rule_id, note), ...]
    city.files     # {(system, table): FileInfo(path, header_lines, records)}

``record_no`` is the 1-based physical line of the file (a header line counts), which is what
the warehouse calls ``_record_no``.

    python -m tests.independent.writer OUT_DIR      # writes the folder and prints the planted list
"""

from __future__ import annotations

import datetime as dt
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from stdnum.jp import cn as hojin_number
from stdnum.jp import in_ as my_number

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 7)   # the judging day the synthetic city pins (city.yaml as_of)
MAPPINGS = ROOT / "mappings"
D = dt.date

# --------------------------------------------------------------------------- own small helpers


def m11w27(base: str) -> str:
    """The check digit of ``base`` by modulus 11, weights 2,3,4,5,6,7 repeating from the right;
    r = sum mod 11; check = 0 if r <= 1 else 11 - r (DOMAIN.md; city.yaml atena_check_digit)."""
    weights = [2, 3, 4, 5, 6, 7]
    s = sum(int(d) * weights[i % 6] for i, d in enumerate(reversed(base)))
    r = s % 11
    return "0" if r <= 1 else str(11 - r)


def with_m11(base: str) -> str:
    return base + m11w27(base)


def wrong_last_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def kojin_bango(n: int) -> str:
    base = f"{31_400_000_000 + n * 7_919:011d}"
    return base + str(my_number.calc_check_digit(base))


def hojin_bango(n: int) -> str:
    base = f"{270_001_000_000 + n * 104_729:012d}"
    return str(hojin_number.calc_check_digit(base)) + base


# 和暦: (letter, name, digit, first day). 明治 never occurs here, so the 1868-10-23 variant of
# 戸籍 does not matter.
ERAS = [("R", "令和", 5, D(2019, 5, 1)), ("H", "平成", 4, D(1989, 1, 8)), ("S", "昭和", 3, D(1926, 12, 25)),
        ("T", "大正", 2, D(1912, 7, 30)), ("M", "明治", 1, D(1868, 1, 25))]


def wareki(d: dt.date) -> tuple[str, str, int, int]:
    for letter, name, digit, start in ERAS:
        if d >= start:
            return letter, name, digit, d.year - start.year + 1
    raise ValueError(f"{d} is before 明治")


def render_date(d: dt.date, style: str) -> str:
    letter, name, digit, yy = wareki(d)
    return {
        "era7": f"{digit}{yy:02d}{d.month:02d}{d.day:02d}",
        "era_letter": f"{letter}{yy:02d}{d.month:02d}{d.day:02d}",
        # 元年 as the vendors write it (令和元.05.01); 12 bytes like 平成15.01.07
        "era_dotted": f"{name}{'元' if yy == 1 else f'{yy:02d}'}.{d.month:02d}.{d.day:02d}",
        "ymd8": f"{d.year:04d}{d.month:02d}{d.day:02d}",
        "ymd_slash": f"{d.year:04d}/{d.month:02d}/{d.day:02d}",
        "ym6": f"{d.year:04d}{d.month:02d}",
    }[style]


def zoned(n: int, width: int) -> str:
    """Zoned decimal, sign over-punched in the last digit: + {ABCDEFGHI, - }JKLMNOPQR."""
    digits = f"{abs(n):0{width}d}"
    if len(digits) > width:
        raise ValueError(f"{n} does not fit {width} zoned digits")
    table = "{ABCDEFGHI" if n >= 0 else "}JKLMNOPQR"
    return digits[:-1] + table[int(digits[-1])]


def _half_kana_table() -> dict[str, str]:
    """Full-width katakana (and the full-width space) -> half-width, voiced marks split."""
    full_to_half: dict[str, str] = {}
    for cp in range(0xFF61, 0xFFA0):
        h = chr(cp)
        f = unicodedata.normalize("NFKC", h)
        if len(f) == 1:
            full_to_half.setdefault(f, h)
    for cp in range(0x30A1, 0x30FB):
        f = chr(cp)
        base, *mark = unicodedata.normalize("NFD", f)
        if mark and base in full_to_half:
            full_to_half[f] = full_to_half[base] + {"\u3099": "\uff9e", "\u309a": "\uff9f"}[mark[0]]
    full_to_half["\u3000"] = " "
    return full_to_half


_HALF = _half_kana_table()


def hankaku(s: str) -> str:
    out = "".join(_HALF.get(c, c) for c in s)
    assert all(ord(c) < 0x80 or 0xFF61 <= ord(c) <= 0xFF9F for c in out), s
    return out


# --------------------------------------------------------------------------- records and defects


class Raw(str):
    """A value written as it stands (no date rendering, no checks): only in planted records."""


class Sentinel(str):
    """A date sentinel of the layout's ``date_sentinels`` (0000000 unknown, 99999999 open, …)."""


@dataclass
class Rec:
    values: dict
    plant: list[tuple[str, str]] = field(default_factory=list)   # [(kind, rule_id)]
    note: str = ""


@dataclass(frozen=True)
class Planted:
    system: str
    table: str
    record_no: int
    kind: str
    rule_id: str
    note: str = ""


@dataclass
class FileInfo:
    path: Path
    header_lines: int
    records: int


@dataclass
class City:
    out: Path
    files: dict[tuple[str, str], FileInfo]
    planted: list[Planted]
    notes: dict[tuple[str, str, int], str]   # remarks on clean records worth showing in a diff
    tables: dict[tuple[str, str], list[Rec]] = field(default_factory=dict)   # what was written

    def clean_values(self, system: str, table: str) -> dict[int, dict]:
        """record_no -> the values written, for the records with nothing planted."""
        fi = self.files[system, table]
        return {fi.header_lines + i: rec.values for i, rec in enumerate(self.tables[system, table], 1)
                if not rec.plant}

    def all_records(self) -> set[tuple[str, str, int]]:
        return {(s, t, fi.header_lines + i) for (s, t), fi in self.files.items()
                for i in range(1, fi.records + 1)}


# --------------------------------------------------------------------------- the persons

def atena(n: int) -> str:
    return with_m11(f"{100_000 + n:09d}")


def setai(n: int) -> str:
    return with_m11(f"{500_000 + n:09d}")


def juminhyo(n: int) -> str:
    return with_m11(f"{61_234_500_00 + n * 37:010d}")


ADDR = {
    "minamikawara": ("590-0078", "大阪府堺市堺区南瓦町３番１号", "27141"),
    "sanbo": ("590-0061", "大阪府堺市堺区翁橋町２丁１番５号", "27141"),
    "mozu": ("591-8032", "大阪府堺市北区百舌鳥梅町１丁２３番", "27146"),
    "tomio": ("599-8236", "大阪府堺市中区深井沢町３３００番", "27143"),
    "kanaoka": ("591-8022", "大阪府堺市北区金岡町１２３４番地", "27146"),
    "ohama": ("590-0977", "大阪府堺市堺区大浜西町１０番", "27141"),
    # 40 characters: fills 税宛名's 80-byte 住所 to the last byte
    "harayama": ("590-0132", "大阪府堺市南区原山台二丁五番三号サンハイツ原山台南ヒルズ第二号棟４階４０１２号室", "27145"),
    "old": ("590-0024", "大阪府堺市堺区向陵中町４丁４番", "27141"),
}
assert len(ADDR["harayama"][1].encode("cp932")) == 80   # exactly 税宛名's 住所 width


@dataclass
class Person:
    n: int
    sei: str
    mei: str
    sei_kana: str
    mei_kana: str
    birth: dt.date
    sex: str                    # 1 男 2 女
    zoku: str                   # jumin zokugara code
    hh: int                     # household number
    addr: str
    katagaki: str = ""
    honseki: str = ""
    hittosha: str = ""
    foreign: bool = False
    mynumber: bool = True
    jumin_date: dt.date | None = None
    zen_jusho: str = ""

    @property
    def atena(self) -> str:
        return atena(self.n)

    @property
    def setai(self) -> str:
        return setai(self.hh)

    @property
    def shimei(self) -> str:
        return self.sei if self.foreign else f"{self.sei}　{self.mei}"

    @property
    def kana_half(self) -> str:
        return hankaku(f"{self.sei_kana}　{self.mei_kana}")

    @property
    def kojin_bango(self) -> str:
        return kojin_bango(self.n) if self.mynumber else ""

    @property
    def jusho(self) -> str:
        return ADDR[self.addr][1]

    @property
    def yubin(self) -> str:
        return ADDR[self.addr][0]

    def age(self, on: dt.date = TODAY) -> int:
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))


HON_YAMADA = "大阪府堺市堺区南瓦町３番"
HON_SATO = "大阪府堺市北区百舌鳥梅町１丁"
HON_YOSHIDA = "大阪府堺市中区深井沢町"
HON_NAKAMURA = "大阪府堺市堺区大浜西町"
HON_KATO = "大阪府堺市堺区向陵中町"

PEOPLE = [
    # n, 氏, 名, 氏カナ, 名カナ, birth, sex, 続柄, household, address
    Person(1, "山田", "太郎", "ヤマダ", "タロウ", D(1960, 4, 12), "1", "01", 1, "minamikawara",
           honseki=HON_YAMADA, hittosha="山田　太郎", jumin_date=D(2015, 6, 1)),
    Person(2, "山田", "花子", "ヤマダ", "ハナコ", D(1963, 8, 30), "2", "03", 1, "minamikawara",
           honseki=HON_YAMADA, hittosha="山田　太郎", jumin_date=D(2018, 3, 20)),
    Person(3, "山田", "一郎", "ヤマダ", "イチロウ", D(1989, 1, 8), "1", "04", 1, "minamikawara",
           honseki=HON_YAMADA, hittosha="山田　太郎", jumin_date=D(2018, 3, 20)),
    Person(4, "佐藤", "健一", "サトウ", "ケンイチ", D(1948, 2, 14), "1", "01", 2, "mozu",
           honseki=HON_SATO, hittosha="佐藤　健一", jumin_date=D(1975, 4, 1)),
    Person(5, "佐藤", "和子", "サトウ", "カズコ", D(1950, 11, 3), "2", "03", 2, "mozu",
           honseki=HON_SATO, hittosha="佐藤　健一", jumin_date=D(1975, 4, 1)),
    Person(6, "鈴木", "大輔", "スズキ", "ダイスケ", D(1985, 6, 20), "1", "01", 3, "kanaoka",
           honseki="東京都世田谷区太子堂１丁目", hittosha="鈴木　大輔", jumin_date=D(2014, 10, 1),
           katagaki="カナオカハイツ２０３号"),
    Person(7, "鈴木", "美咲", "スズキ", "ミサキ", D(1987, 9, 9), "2", "03", 3, "kanaoka",
           honseki="東京都世田谷区太子堂１丁目", hittosha="鈴木　大輔", jumin_date=D(2014, 10, 1),
           katagaki="カナオカハイツ２０３号"),
    Person(8, "鈴木", "陽菜", "スズキ", "ヒナ", D(2016, 5, 5), "2", "04", 3, "kanaoka",
           honseki="東京都世田谷区太子堂１丁目", hittosha="鈴木　大輔", jumin_date=D(2016, 5, 5),
           katagaki="カナオカハイツ２０３号"),
    Person(9, "鈴木", "蓮", "スズキ", "レン", D(2020, 7, 7), "1", "04", 3, "kanaoka",
           honseki="東京都世田谷区太子堂１丁目", hittosha="鈴木　大輔", jumin_date=D(2020, 7, 7),
           katagaki="カナオカハイツ２０３号"),
    Person(10, "高橋", "誠", "タカハシ", "マコト", D(1975, 3, 3), "1", "01", 4, "sanbo",
           honseki="京都府京都市左京区岩倉", hittosha="高橋　誠", jumin_date=D(2009, 2, 2)),
    Person(11, "田中", "直美", "タナカ", "ナオミ", D(1982, 12, 12), "2", "01", 5, "harayama",
           honseki="兵庫県神戸市灘区岩屋", hittosha="田中　直美", jumin_date=D(2012, 8, 1)),
    Person(12, "田中", "翔太", "タナカ", "ショウタ", D(2012, 4, 2), "1", "04", 5, "harayama",
           honseki="兵庫県神戸市灘区岩屋", hittosha="田中　直美", jumin_date=D(2012, 8, 1)),
    Person(13, "伊藤", "清", "イトウ", "キヨシ", D(1940, 1, 20), "1", "01", 6, "ohama",
           honseki="和歌山県和歌山市小松原通", hittosha="伊藤　清", jumin_date=D(1968, 5, 10)),
    Person(14, "渡辺", "正雄", "ワタナベ", "マサオ", D(1955, 10, 10), "1", "01", 7, "tomio",
           honseki="奈良県奈良市三条町", hittosha="渡辺　正雄", jumin_date=D(1990, 9, 1)),
    Person(15, "渡辺", "幸子", "ワタナベ", "サチコ", D(1957, 2, 28), "2", "03", 7, "tomio",
           honseki="奈良県奈良市三条町", hittosha="渡辺　正雄", jumin_date=D(1990, 9, 1)),
    Person(16, "NGUYEN VAN AN", "", "グエン", "ヴァン　アン", D(1995, 3, 15), "1", "01", 8, "sanbo",
           foreign=True, jumin_date=D(2021, 4, 5), katagaki="ハイツオキナ１０２号"),
    Person(17, "中村", "修", "ナカムラ", "オサム", D(1970, 7, 17), "1", "01", 9, "ohama",
           honseki=HON_NAKAMURA, hittosha="中村　修", jumin_date=D(1998, 11, 20)),
    Person(18, "中村", "恵子", "ナカムラ", "ケイコ", D(1972, 1, 8), "2", "03", 9, "ohama",
           honseki=HON_NAKAMURA, hittosha="中村　修", jumin_date=D(1998, 11, 20)),
    Person(19, "中村", "大樹", "ナカムラ", "ダイキ", D(2003, 11, 11), "1", "04", 9, "ohama",
           honseki=HON_NAKAMURA, hittosha="中村　修", jumin_date=D(2003, 11, 11)),
    Person(20, "小林", "明美", "コバヤシ", "アケミ", D(1968, 5, 25), "2", "01", 10, "kanaoka",
           honseki="大阪府大阪市北区梅田", hittosha="小林　明美", jumin_date=D(2001, 1, 9),
           katagaki="カナオカハイツ１０１号"),
    Person(21, "加藤", "勇", "カトウ", "イサム", D(1938, 8, 15), "1", "01", 11, "old",
           honseki=HON_KATO, hittosha="加藤　勇", jumin_date=D(1965, 3, 1)),
    Person(22, "吉田", "茂", "ヨシダ", "シゲル", D(1952, 4, 29), "1", "01", 12, "tomio",
           honseki=HON_YOSHIDA, hittosha="吉田　茂", jumin_date=D(1980, 6, 6)),
    Person(23, "吉田", "洋子", "ヨシダ", "ヨウコ", D(1954, 6, 6), "2", "03", 12, "tomio",
           honseki=HON_YOSHIDA, hittosha="吉田　茂", jumin_date=D(1980, 6, 6)),
    Person(24, "山本", "浩二", "ヤマモト", "コウジ", D(1980, 2, 2), "1", "01", 13, "harayama",
           honseki="広島県広島市中区本通", hittosha="山本　浩二", jumin_date=D(2013, 7, 1)),
    Person(25, "山本", "由紀", "ヤマモト", "ユキ", D(1983, 7, 21), "2", "03", 13, "harayama",
           honseki="広島県広島市中区本通", hittosha="山本　浩二", jumin_date=D(2013, 7, 1)),
    Person(26, "山本", "悠斗", "ヤマモト", "ユウト", D(2014, 9, 9), "1", "04", 13, "harayama",
           honseki="広島県広島市中区本通", hittosha="山本　浩二", jumin_date=D(2014, 9, 9)),
    Person(27, "木村", "拓也", "キムラ", "タクヤ", D(1989, 1, 7), "1", "01", 14, "sanbo",
           honseki="大阪府堺市堺区翁橋町", hittosha="木村　拓也", jumin_date=D(2019, 6, 3),
           katagaki="ハイツオキナ３０１号"),
    Person(28, "林", "優花", "ハヤシ", "ユウカ", D(1999, 1, 23), "2", "01", 15, "mozu",
           honseki="福岡県福岡市中央区天神", hittosha="林　優花", jumin_date=D(2021, 4, 1)),
]
P = {p.n: p for p in PEOPLE}

# 住登外: persons who own property or pay tax here without living here (税宛名 住登区分 2)
JUTOGAI = [
    dict(n=901, shimei="松本　博", kana="マツモト　ヒロシ", birth=D(1965, 9, 19), sex="1",
         yubin="5300001", jusho="大阪府大阪市北区梅田１丁目１番", mynumber=True),
    dict(n=902, shimei="ポーター　ジェーン", kana="ポーター　ジェーン", birth=D(1978, 3, 21), sex="2",
         yubin="6500001", jusho="兵庫県神戸市中央区加納町６丁目", mynumber=False),
]


# --------------------------------------------------------------------------- the tables

def build_tables() -> dict[tuple[str, str], list[Rec]]:  # noqa: C901 - one table after another
    t: dict[tuple[str, str], list[Rec]] = {}

    # ---- 住民記録 jumin ------------------------------------------------------------------
    kojin = []
    for p in PEOPLE:
        base = dict(
            atena_no=p.atena, setai_no=p.setai, shimei=p.shimei, shimei_kana=p.kana_half, kyuuji="",
            birth_wareki="" if p.foreign else p.birth, birth_seireki=p.birth if p.foreign else "",
            sex=p.sex, zokugara=p.zoku, jumin_date=p.jumin_date, jusho_cd=ADDR[p.addr][2] + "001001",
            yubin=p.yubin, jusho=p.jusho, katagaki=p.katagaki, jutei_date=p.jumin_date,
            todoke_date=p.jumin_date, ido_jiyu="02" if p.jumin_date == p.birth else "01",
            ido_date=p.jumin_date, jumin_jotai="0", jumin_shubetsu="2" if p.foreign else "1",
            honseki=p.honseki, hittosha=p.hittosha, kojin_bango=p.kojin_bango, juminhyo_cd=juminhyo(p.n),
            zen_jusho="" if p.jumin_date == p.birth else "大阪府大阪市中央区大手前２丁目", koho_kubun="0",
        )
        if p.n == 1:   # 山田太郎: 転入 to an old address, then 転居 within the city (two full snapshots)
            kojin.append(Rec({**base, "rireki_no": "001", "jusho": ADDR["old"][1], "yubin": ADDR["old"][0],
                              "jusho_cd": "27141004004"}))
            kojin.append(Rec({**base, "rireki_no": "002", "jutei_date": D(2018, 3, 20), "todoke_date": D(2018, 3, 22),
                              "ido_jiyu": "11", "ido_date": D(2018, 3, 20), "zen_jusho": ADDR["old"][1]}))
        elif p.n == 21:  # 加藤勇: 死亡 (the register keeps him, 住民状態 2)
            kojin.append(Rec({**base, "rireki_no": "001", "koho_kubun": "1"}))
            kojin.append(Rec({**base, "rireki_no": "002", "ido_jiyu": "22", "ido_date": D(2025, 12, 24),
                              "todoke_date": D(2025, 12, 25), "jumin_jotai": "2", "koho_kubun": "1"}))
        elif p.n == 20:  # planted (5): the household number's check digit is wrong (nothing else uses it)
            kojin.append(Rec({**base, "rireki_no": "001", "setai_no": wrong_last_digit(p.setai)},
                             [("setai_no_check_digit", "check_digit")], "世帯番号の検査数字誤り（他システムは参照しない世帯）"))
        elif p.n == 28:  # planted (10): half-width kana in 方書 (a 漢字 item)
            kojin.append(Rec({**base, "rireki_no": "001", "katagaki": "ﾓｽﾞﾊｲﾂ 205"},
                             [("hankaku_kana_in_kanji", "hankaku_kana")], "方書に半角カナ"))
        else:
            kojin.append(Rec({**base, "rireki_no": "001"}))
    t["jumin", "kojin"] = kojin

    t["jumin", "gaikoku"] = [Rec(dict(
        atena_no=P[16].atena, rireki_no="001", shimei_eiji="NGUYEN VAN AN", tsusho="", tsusho_kana="",
        kokuseki="VNM", zairyu_shikaku="03", zairyu_kikan="５年", zairyu_manryo=D(2029, 4, 4),
        zairyu_card="AB12345678CD"))]

    t["jumin", "inkan"] = [
        Rec(dict(inkan_no=f"{70000000 + i:08d}", atena_no=P[n].atena, toroku_date=d, haishi_date="", jotai="1"))
        for i, (n, d) in enumerate([(1, D(2015, 6, 10)), (4, D(1990, 4, 2)), (17, D(2000, 1, 14)), (22, D(1985, 8, 8))], 1)
    ]

    # ---- 戸籍 koseki ---------------------------------------------------------------------
    KOSEKI = {1: "0000000101", 4: "0000000102", 22: "0000000103", 17: "0000000104", 21: "0000000105"}
    t["koseki", "koseki"] = [
        Rec(dict(koseki_no=KOSEKI[1], honseki=HON_YAMADA, hittosha="山田　太郎", hensei_date=D(1988, 10, 1),
                 shojo_date="", kubun="01")),
        Rec(dict(koseki_no=KOSEKI[4], honseki=HON_SATO, hittosha="佐藤　健一", hensei_date=D(1974, 11, 23),
                 shojo_date="", kubun="01")),
        Rec(dict(koseki_no=KOSEKI[22], honseki=HON_YOSHIDA, hittosha="吉田　茂", hensei_date=D(1979, 5, 5),
                 shojo_date="", kubun="01")),
        Rec(dict(koseki_no=KOSEKI[17], honseki=HON_NAKAMURA, hittosha="中村　修", hensei_date=D(1997, 12, 24),
                 shojo_date="", kubun="01")),
        Rec(dict(koseki_no=KOSEKI[21], honseki=HON_KATO, hittosha="加藤　勇", hensei_date=D(1964, 2, 10),
                 shojo_date=D(2026, 1, 15), kubun="02")),
    ]
    zoku = {"01": None, "03": "妻", "04": None}
    koseki_members = [(KOSEKI[1], [1, 2, 3]), (KOSEKI[4], [4, 5]), (KOSEKI[22], [22, 23]),
                      (KOSEKI[17], [17, 18, 19]), (KOSEKI[21], [21])]
    kk, fu = [], []
    for kno, members in koseki_members:
        for jun, n in enumerate(members, 1):
            p = P[n]
            rel = zoku[p.zoku] or ("長男" if p.sex == "1" else "長女")
            dead = n == 21
            kk.append(Rec(dict(koseki_no=kno, jun=f"{jun:03d}", shimei=p.shimei, shimei_kana=p.kana_half,
                               birth=p.birth, sex=p.sex, zokugara=rel, jiyu="11" if dead else "00",
                               joseki_date=D(2025, 12, 24) if dead else "", atena_no=p.atena, biko="")))
            if n == 1:
                fu.append(Rec(dict(koseki_no=kno, jun="001", rireki_no="001", jusho=ADDR["old"][1],
                                   jutei_date=D(2015, 6, 1), atena_no=p.atena, jotai="1")))
                fu.append(Rec(dict(koseki_no=kno, jun="001", rireki_no="002", jusho=p.jusho,
                                   jutei_date=D(2018, 3, 20), atena_no=p.atena, jotai="0")))
            else:
                fu.append(Rec(dict(koseki_no=kno, jun=f"{jun:03d}", rireki_no="001", jusho=p.jusho,
                                   jutei_date=p.jumin_date, atena_no=p.atena, jotai="1" if dead else "0")))
        if kno == KOSEKI[1]:
            # planted (11): a daughter married out of the 戸籍 (lives in 東京, no 宛名番号), her name
            # holds a vendor 外字 that 戸籍's gaiji.csv does not list (F9A0)
            gaiji = b"\xf9\xa0".decode("cp932")
            kk.append(Rec(dict(koseki_no=kno, jun="004", shimei="山田　" + gaiji + "子", shimei_kana=hankaku("ヤマダ　サキコ"),
                               birth=D(1992, 3, 3), sex="2", zokugara="長女", jiyu="12", joseki_date=D(2019, 10, 10),
                               atena_no="", biko=""),
                          [("unidentified_gaiji_in_shimei", "charset")], "氏名に外字表にない外字 F9A0"))
            fu.append(Rec(dict(koseki_no=kno, jun="004", rireki_no="001", jusho="東京都杉並区阿佐谷南１丁目",
                               jutei_date=D(2019, 10, 10), atena_no="", jotai="1")))
    # planted (3): a 附票 row of a 戸籍番号 that 戸籍 does not have
    fu.append(Rec(dict(koseki_no="0000000999", jun="001", rireki_no="001", jusho="大阪府堺市西区鳳東町１丁",
                       jutei_date=D(2010, 4, 1), atena_no="", jotai="0"),
                  [("fuhyo_orphan_koseki_no", "orphan_reference")], "存在しない戸籍番号の附票"))
    t["koseki", "kojin"] = kk
    t["koseki", "fuhyo"] = fu

    # ---- 国民健康保険 kokuho ----------------------------------------------------------------
    kh = []
    kokuho_members = [10, 14, 15, 16, 24, 25, 26, 27]
    for i, n in enumerate(kokuho_members, 1):
        p = P[n]
        v = dict(hiho_kigo="堺０１", hiho_no=f"{20000000 + i:08d}", setai_no=p.setai, atena_no=p.atena,
                 kojin_bango=p.kojin_bango, shimei=p.shimei, birth=p.birth, sex={"1": "M", "2": "F"}[p.sex],
                 jusho=p.jusho, shutoku_date=max(p.jumin_date, D(2016, 4, 1)), shutoku_jiyu="01" if p.birth < D(2014, 1, 1) else "03",
                 soshitsu_date=Sentinel("99999999") if n == 10 else "", soshitsu_jiyu="00", taishoku="0")
        if n == 27:   # planted (2): a 世帯番号 no household of 住民記録 has (its check digit is right)
            kh.append(Rec({**v, "setai_no": setai(77)}, [("kokuho_setai_no_unknown", "orphan_reference")],
                          "住民記録にない世帯番号（検査数字は正しい）"))
        elif n == 15:  # planted (4): the 個人番号's check digit is wrong
            kh.append(Rec({**v, "kojin_bango": wrong_last_digit(p.kojin_bango)},
                          [("kokuho_mynumber_check_digit", "check_digit")], "個人番号の検査数字誤り"))
        else:
            kh.append(Rec(v))
    t["kokuho", "hihokensha"] = kh
    t["kokuho", "fuka"] = [
        Rec(dict(nendo="2026", setai_no=setai(hh), iryo=iryo, shien=shien, kaigo=kaigo, gokei=iryo + shien + kaigo))
        for hh, iryo, shien, kaigo in [(4, 215300, 71200, 0), (7, 301450, 98760, 0), (8, 45210, 15030, 0),
                                       (13, 402115, 130044, 55123)]
    ] + [
        # planted (12): an amount beyond BIGINT: a number of data, never a silent null
        Rec(dict(nendo="2025", setai_no=setai(4), iryo=99999999999999999999, shien=71200, kaigo=0, gokei=1),
            [("kokuho_amount_overflow", "number_invalid")], "医療分 20桁（BIGINT を超える）"),
        # planted (14): an amount that fits a BIGINT but not the standard's 11 digits (and is longer
        # than the layout's 9 bytes): 桁数超過, and 突合 shows the 医療分 the standard side lost
        Rec(dict(nendo="2024", setai_no=setai(7), iryo=123456789012, shien=98760, kaigo=0, gokei=98760),
            [("kokuho_amount_over_digits", "over_length"), ("kokuho_amount_over_layout", "legacy_overlong")],
            "医療分 12桁（BIGINT には入るが標準は11桁）"),
    ]

    # ---- 介護保険 kaigo -------------------------------------------------------------------
    kaigo_members = [(4, "1"), (5, "1"), (13, "1"), (14, "1"), (21, "1"), (22, "1"), (23, "1")]
    kh = []
    hiho = {}
    for i, (n, kubun) in enumerate(kaigo_members, 1):
        p = P[n]
        hiho[n] = f"{2714000000 + i:010d}"
        kh.append(Rec(dict(hiho_no=hiho[n], atena_no=p.atena, kojin_bango=p.kojin_bango, hiho_kubun=kubun,
                           shutoku_date=D(p.birth.year + 65, p.birth.month, p.birth.day) - dt.timedelta(days=1),
                           soshitsu_date=D(2025, 12, 24) if n == 21 else "", shotoku_dankai=f"{(i % 9) + 1:02d}")))
    # planted (1): a 宛名番号 never issued by 住民記録 nor 住登外 (its check digit is right)
    kh.append(Rec(dict(hiho_no="2714000099", atena_no=atena(555), kojin_bango="", hiho_kubun="1",
                       shutoku_date=D(2020, 4, 1), soshitsu_date="", shotoku_dankai="05"),
                  [("kaigo_orphan_atena_no", "orphan_reference")], "発行されていない宛名番号"))
    t["kaigo", "hihokensha"] = kh
    t["kaigo", "nintei"] = [
        Rec(dict(hiho_no=hiho[13], yokaigo="11", nintei_kaishi=D(2025, 4, 1), nintei_shuryo=D(2027, 3, 31),
                 shinsei_date=D(2025, 2, 10))),
        # 佐藤和子: two consecutive 認定 periods, distinct by the layout's key (hiho_no, nintei_kaishi)
        Rec(dict(hiho_no=hiho[5], yokaigo="01", nintei_kaishi=D(2023, 10, 1), nintei_shuryo=D(2025, 9, 30),
                 shinsei_date=D(2023, 8, 21)),
            note="認定履歴: レイアウトのキー (被保険者番号, 認定有効期間開始日) では重複なし"),
        Rec(dict(hiho_no=hiho[5], yokaigo="02", nintei_kaishi=D(2025, 10, 1), nintei_shuryo=D(2028, 9, 30),
                 shinsei_date=D(2025, 8, 18)),
            note="認定履歴: レイアウトのキー (被保険者番号, 認定有効期間開始日) では重複なし"),
        # planted (9): 06 経過的要介護 is in the vendor's list, the mapping's codemap does not map it
        Rec(dict(hiho_no=hiho[21], yokaigo="06", nintei_kaishi=D(2024, 4, 1), nintei_shuryo=D(2025, 12, 24),
                 shinsei_date=D(2024, 2, 1)),
            [("kaigo_unmapped_yokaigo", "unmapped_code")], "要介護度 06（コード対応なし）"),
    ]

    # ---- 健康管理 kenko --------------------------------------------------------------------
    ks = []
    for i, (n, kind, d, h, w, bp, hantei) in enumerate([
            (1, "01", D(2026, 6, 3), 1712, 684, 128, "B"), (2, "04", D(2026, 6, 3), 1565, 521, 112, "A"),
            (17, "01", D(2026, 7, 15), 1690, 702, 135, "C"), (22, "02", D(2026, 9, 1), 1655, 598, 141, "B")], 1):
        ks.append(Rec(dict(jushin_no=f"{2026000000 + i:010d}", atena_no=P[n].atena, kenshin_shubetsu=kind,
                           jushin_date=d, shincho=h, taiju=w, ketsuatsu=bp, hantei=hantei)))
    # planted (6): two records with the same 受診番号
    for n, d in [(18, D(2026, 7, 16)), (23, D(2026, 9, 2))]:
        ks.append(Rec(dict(jushin_no="2026000050", atena_no=P[n].atena, kenshin_shubetsu="01", jushin_date=d,
                           shincho=1580, taiju=550, ketsuatsu=118, hantei="A"),
                      [("kenko_duplicate_jushin_no", "duplicate_key")], "受診番号の重複"))
    # planted (16): a 身長 of 9,999 mm: the standard's four digits hold it, the item's range does not;
    # planted (17): a 受診日 of 1850, a real day before any date the legacy systems can hold
    ks.append(Rec(dict(jushin_no="2026000061", atena_no=P[14].atena, kenshin_shubetsu="01",
                       jushin_date=D(2026, 8, 20), shincho=9999, taiju=655, ketsuatsu=131, hantei="B"),
                  [("kenko_height_out_of_range", "out_of_range")], "身長 9999mm（範囲 300〜2500）"))
    ks.append(Rec(dict(jushin_no="2026000062", atena_no=P[15].atena, kenshin_shubetsu="01",
                       jushin_date=Raw("1850/08/20"), shincho=1548, taiju=502, ketsuatsu=122, hantei="A"),
                  [("kenko_date_out_of_range", "out_of_range")], "受診日 1850/08/20（範囲 1868-01-25〜2099-12-31）"))
    # planted (7): a 受診番号 of 11 digits where the layout declares 10 bytes
    ks.append(Rec(dict(jushin_no=Raw("20260000600"), atena_no=P[25].atena, kenshin_shubetsu="04",
                       jushin_date=D(2026, 10, 5), shincho=1602, taiju=488, ketsuatsu=105, hantei="A"),
                  [("kenko_jushin_no_overlong", "legacy_overlong")], "受診番号11桁（定義は10バイト）"))
    t["kenko", "kenshin"] = ks

    # ---- 国民年金 nenkin -------------------------------------------------------------------
    nk = []
    for i, (n, shubetsu, since) in enumerate([(10, "1", D(2009, 2, 2)), (16, "1", D(2021, 4, 5)),
                                              (24, "1", D(2013, 7, 1)), (25, "1", D(2013, 7, 1)),
                                              (27, "1", D(2019, 6, 3)), (28, "1", D(2021, 4, 1))], 1):
        p = P[n]
        v = dict(kiso_nenkin_no=f"{4100 + i:04d}-{600000 + i * 13:06d}", atena_no=p.atena, kojin_bango=p.kojin_bango,
                 shubetsu=shubetsu, shutoku_date=since, soshitsu_date="", menjo="5" if n == 28 else "0")
        if n == 25:   # planted (8): 令和5年2月30日
            nk.append(Rec({**v, "shutoku_date": Raw("令和05.02.30")}, [("nenkin_impossible_date", "date_invalid")],
                          "資格取得年月日 令和5年2月30日"))
        else:
            nk.append(Rec(v))
    t["nenkin", "hihokensha"] = nk

    # ---- 後期高齢者医療 kouki ----------------------------------------------------------------
    t["kouki", "hihokensha"] = [
        Rec(dict(hiho_no=f"{31000000 + i:08d}", atena_no=P[n].atena, kojin_bango=P[n].kojin_bango,
                 shimei=P[n].shimei, birth=P[n].birth, sex=P[n].sex,
                 shutoku_date=D(P[n].birth.year + 75, P[n].birth.month, P[n].birth.day),
                 soshitsu_date=D(2025, 12, 24) if n == 21 else "", futan=f))
        for i, (n, f) in enumerate([(4, "1"), (5, "1"), (13, "1"), (21, "2")], 1)
    ]

    # ---- 選挙 senkyo ----------------------------------------------------------------------
    voters = [p for p in PEOPLE if not p.foreign and p.age() >= 18 and p.n != 21]
    t["senkyo", "meibo"] = [
        Rec(dict(senkyonin_no=f"{10000 + i:08d}", atena_no=p.atena, tohyoku=f"{(p.hh % 7) + 1:03d}", shimei=p.shimei,
                 shimei_kana=p.kana_half, birth=p.birth,
                 sex=p.sex, toroku_date=max(D(p.birth.year + 18, p.birth.month, p.birth.day), p.jumin_date + dt.timedelta(days=92)),
                 massho_date="", hyoji="0"))
        for i, p in enumerate(voters, 1)
    ]

    # ---- 子育て支援 kosodate ------------------------------------------------------------------
    t["kosodate", "teate_jukyusha"] = [
        Rec(dict(jukyusha_no="40000001", atena_no=P[6].atena, nintei_date=D(2016, 6, 1), getsugaku=20000,
                 jido_su="02", jotai="1")),
        Rec(dict(jukyusha_no="40000002", atena_no=P[24].atena, nintei_date=D(2014, 10, 1), getsugaku=10000,
                 jido_su="01", jotai="1")),
        Rec(dict(jukyusha_no="40000003", atena_no=P[11].atena, nintei_date=D(2012, 9, 1), getsugaku=10000,
                 jido_su="01", jotai="1")),
        # planted (13): a count the mapping's cast to integer could not take (it failed all of 子育て
        # before): read whole, it is a number beyond the standard's two digits (and the layout's)
        Rec(dict(jukyusha_no="40000004", atena_no=P[6].atena, nintei_date=D(2016, 6, 1), getsugaku=20000,
                 jido_su="98765432109", jotai="1"),
            [("kosodate_count_over_digits", "over_length"), ("kosodate_count_over_layout", "legacy_overlong")],
            "支給対象児童数 11桁（integer に入らない、標準は2桁）"),
        # planted (15): a count of no child: the standard's digits hold it, the item's range (1 or more) does not
        Rec(dict(jukyusha_no="40000005", atena_no=P[24].atena, nintei_date=D(2014, 10, 1), getsugaku=10000,
                 jido_su="00", jotai="1"), [("kosodate_count_out_of_range", "out_of_range")],
            "支給対象児童数 0（範囲は1以上）"),
    ]
    t["kosodate", "teate_jido"] = [
        Rec(dict(jukyusha_no=j, jido_atena_no=P[n].atena, shimei=P[n].shimei, birth=P[n].birth))
        for j, n in [("40000001", 8), ("40000001", 9), ("40000002", 26), ("40000003", 12)]
    ]
    t["kosodate", "fuyo"] = [
        Rec(dict(jukyusha_no="41000001", atena_no=P[11].atena, kojin_bango=P[11].kojin_bango,
                 nintei_date=D(2015, 4, 1), shikyu_kubun="2", getsugaku=31250)),
    ]
    t["kosodate", "hoiku"] = [
        Rec(dict(nintei_no="42000001", jido_atena_no=P[9].atena, hogosha_atena_no=P[6].atena, nintei_kubun="2",
                 shisetsu_cd="271001", nyusho_date=D(2021, 4, 1), taisho_date="")),
    ]

    # ---- 生活保護 seiho ---------------------------------------------------------------------
    t["seiho", "case"] = [
        Rec(dict(case_no="0000101", nushi_atena_no=P[13].atena, kaishi_date=D(2018, 4, 1), haishi_date="",
                 setai_ruikei="1", tanto="南　一郎")),
    ]
    t["seiho", "setaiin"] = [
        Rec(dict(case_no="0000101", atena_no=P[13].atena, kojin_bango=P[13].kojin_bango, shimei=P[13].shimei,
                 zokugara="世帯主")),
    ]
    t["seiho", "fujo"] = [
        Rec(dict(case_no="0000101", shikyu_ym=D(2026, m, 1), seikatsu=71900, jutaku=40000, iryo=12340 + m))
        for m in (9, 10, 11)
    ]

    # ---- 障害福祉 shogai --------------------------------------------------------------------
    t["shogai", "techo"] = [
        Rec(dict(techo_no="50000001", atena_no=P[13].atena, shimei=P[13].shimei, techo_shubetsu="1", tokyu="13",
                 kofu_date=D(2019, 8, 1), sainintei_date=Sentinel("9999999"), shogai_mei="下肢機能障害")),
        Rec(dict(techo_no="50000002", atena_no=P[26].atena, shimei=P[26].shimei, techo_shubetsu="2", tokyu="22",
                 kofu_date=D(2019, 11, 11), sainintei_date=D(2027, 11, 30), shogai_mei="知的障害")),
    ]

    # ---- 就学 shugaku ----------------------------------------------------------------------
    t["shugaku", "gakureibo"] = [
        Rec(dict(gakurei_no="60000001", jido_atena_no=P[8].atena, hogosha_atena_no=P[6].atena, shimei=P[8].shimei,
                 shimei_kana=P[8].kana_half, birth=P[8].birth, gakko_kubun="1", gakko_cd="0101", gakunen="4",
                 nyugaku_date=D(2023, 4, 6), shugaku_enjo="0", filler="")),
        Rec(dict(gakurei_no="60000002", jido_atena_no=P[12].atena, hogosha_atena_no=P[11].atena, shimei=P[12].shimei,
                 shimei_kana=P[12].kana_half, birth=P[12].birth, gakko_kubun="2", gakko_cd="0205", gakunen="2",
                 nyugaku_date=D(2025, 4, 7), shugaku_enjo="2", filler="")),
        Rec(dict(gakurei_no="60000003", jido_atena_no=P[26].atena, hogosha_atena_no=P[24].atena, shimei=P[26].shimei,
                 shimei_kana=P[26].kana_half, birth=P[26].birth, gakko_kubun="1", gakko_cd="0112", gakunen="6",
                 nyugaku_date=D(2021, 4, 6), shugaku_enjo="0", filler="")),
    ]

    # ---- 税総合 zeimu ----------------------------------------------------------------------
    taxpayers = [1, 4, 6, 10, 11, 14, 17, 22, 24, 27]
    atena_rows = []
    for n in taxpayers:
        p = P[n]
        atena_rows.append(Rec(dict(atena_no=p.atena, juto_kubun="1", shimei_kana=p.kana_half, shimei=p.shimei,
                                   birth=p.birth, sex=p.sex, yubin=p.yubin.replace("-", ""), jusho=p.jusho,
                                   kojin_bango=p.kojin_bango, filler="")))
    for j in JUTOGAI:
        atena_rows.append(Rec(dict(atena_no=atena(j["n"]), juto_kubun="2", shimei_kana=hankaku(j["kana"]),
                                   shimei=j["shimei"], birth=j["birth"], sex=j["sex"], yubin=j["yubin"],
                                   jusho=j["jusho"], kojin_bango=kojin_bango(j["n"]) if j["mynumber"] else "",
                                   filler="")))
    t["zeimu", "atena"] = atena_rows
    t["zeimu", "kojin"] = [
        Rec(dict(nendo="2026", atena_no=P[n].atena, shotoku=s, shotokuwari=s * 6 // 100, kintowari=5300,
                 nenzei=s * 6 // 100 + 5300))
        for n, s in [(1, 6_123_457), (6, 4_850_001), (10, 3_210_999), (17, 5_500_000), (24, 2_987_654)]
    ] + [
        # planted (18): a negative 所得割額 (zoned, sign over-punched): a number of the file, outside the
        # item's range (0 or more); it stays in the standard table, flagged, and 突合 still agrees
        Rec(dict(nendo="2025", atena_no=P[1].atena, shotoku=6_001_000, shotokuwari=-5_300, kintowari=5300,
                 nenzei=0), [("zeimu_negative_amount", "out_of_range")], "所得割額 -5300（範囲は0以上）"),
    ]
    t["zeimu", "hojin"] = [
        Rec(dict(hojin_bango=hojin_bango(1), hojin_mei="株式会社さかい商事", shozaichi="大阪府堺市堺区南瓦町２番１号",
                 jigyo_kaishi=D(2025, 4, 1), kintowari=120000, hojinzeiwari=1_234_567, shinkoku_kubun="1"),
            note="法人の事業年度履歴: レイアウトのキー (法人番号, 事業年度開始日) では重複なし"),
        Rec(dict(hojin_bango=hojin_bango(1), hojin_mei="株式会社さかい商事", shozaichi="大阪府堺市堺区南瓦町２番１号",
                 jigyo_kaishi=D(2026, 4, 1), kintowari=60000, hojinzeiwari=617_283, shinkoku_kubun="2"),
            note="法人の事業年度履歴: レイアウトのキー (法人番号, 事業年度開始日) では重複なし"),
        Rec(dict(hojin_bango=hojin_bango(2), hojin_mei="有限会社もず工務店", shozaichi="大阪府堺市北区百舌鳥梅町３丁",
                 jigyo_kaishi=D(2026, 1, 1), kintowari=50000, hojinzeiwari=0, shinkoku_kubun="1")),
    ]
    t["zeimu", "tochi"] = [
        Rec(dict(bukken_no=f"{800000000000 + i:012d}", owner_atena_no=a, shozai=s, chimoku=c, chiseki=ch,
                 hyoka=h, kazei_hyojun=h * 2 // 3))
        for i, (a, s, c, ch, h) in enumerate([
            (P[1].atena, "堺市堺区南瓦町３番１", "03", 16_525, 21_345_678),
            (P[22].atena, "堺市中区深井沢町３３００番", "03", 20_011, 18_000_001),
            (atena(901), "堺市南区原山台２丁５番", "03", 12_340, 9_876_543),
            (atena(902), "堺市美原区丹上１５８番", "02", 99_999, 1_234_567)], 1)
    ]
    t["zeimu", "kaoku"] = [
        Rec(dict(kaoku_no=f"{810000000000 + i:012d}", owner_atena_no=a, shozai=s, kozo=k, yuka_menseki=m,
                 kenchiku_nen=y, hyoka=h, filler=""))
        for i, (a, s, k, m, y, h) in enumerate([
            (P[1].atena, "堺市堺区南瓦町３番地１", "1", 10_253, "1995", 4_567_891),
            (P[22].atena, "堺市中区深井沢町３３００番地", "4", 8_812, "2008", 9_123_456),
            (atena(901), "堺市南区原山台２丁５番地", "3", 15_000, "2015", 12_000_000)], 1)
    ]
    t["zeimu", "keiji"] = [
        Rec(dict(hyoshiki="堺市あ1234", owner_atena_no=P[10].atena, shashu="21", shonendo=D(2019, 4, 1),
                 zeigaku=10_800, genmen="0", filler="")),
        Rec(dict(hyoshiki="堺市う5678", owner_atena_no=P[27].atena, shashu="12", shonendo=D(2022, 8, 1),
                 zeigaku=2_000, genmen="0", filler="")),
        Rec(dict(hyoshiki="堺市え901", owner_atena_no=atena(902), shashu="22", shonendo=D(2016, 11, 1),
                 zeigaku=5_000, genmen="2", filler="")),
    ]
    shuno = []
    for i, (n, zeimoku, chotei, paid) in enumerate([(1, "1", 92_950, 92_950), (6, "1", 73_651, 73_651),
                                                    (22, "2", 252_001, 252_001), (10, "3", 10_800, 0)], 1):
        for kibetsu, noki, sd in [("01", D(2026, 6, 30), D(2026, 6, 25)), ("02", D(2026, 8, 31), D(2026, 8, 28))]:
            shuno.append(Rec(dict(tsuchi_no=f"{900000000000 + i:012d}", kibetsu=kibetsu, atena_no=P[n].atena,
                                  zeimoku=zeimoku, nendo="2026", chotei=chotei, shuno=paid,
                                  shuno_date=sd if paid else "", noki_date=noki)))
    # a 減額更正 as the host writes it: negative zoned amounts (sign over-punched, } J..R)
    shuno.append(Rec(dict(tsuchi_no=f"{900000000000 + 2:012d}", kibetsu="03", atena_no=P[6].atena, zeimoku="1",
                          nendo="2026", chotei=-7_365, shuno=-7_360, shuno_date=D(2026, 10, 30),
                          noki_date=D(2026, 10, 31))))
    t["zeimu", "shuno"] = shuno
    return t


# --------------------------------------------------------------------------- rendering by layout

def load_layouts(mappings: Path = MAPPINGS) -> dict[str, dict]:
    out = {}
    for path in sorted(mappings.glob("*/layout.yaml")):
        with path.open(encoding="utf-8") as fh:
            lay = yaml.safe_load(fh)
        out[lay["system"]] = lay
    return out


def _value_text(f: dict, v, planted: bool, layout: dict) -> str:
    if isinstance(v, Sentinel):
        if f["type"] != "date" or str(v) not in (layout.get("date_sentinels") or {}):
            raise ValueError(f"{f['name']}: {v!r} is not a date sentinel of this layout")
        return str(v)
    if isinstance(v, Raw):
        if not planted:
            raise ValueError(f"{f['name']}: a raw value outside a planted record")
        return str(v)
    if v is None or v == "":
        return ""
    if f["type"] == "date":
        if not isinstance(v, dt.date):
            raise TypeError(f"{f['name']}: a date field needs a date, got {v!r}")
        return render_date(v, f["style"])
    if f["type"] == "amount":
        if f.get("zoned"):
            return zoned(int(v), f["length"])
        return str(int(v))
    if f["type"] == "digits" and not str(v).isdigit():
        raise ValueError(f"{f['name']}: {v!r} is not digits")
    return str(v)


def render_record(layout: dict, lf: dict, rec: Rec) -> bytes:
    names = [f["name"] for f in lf["fields"]]
    unknown = set(rec.values) - set(names)
    if unknown:
        raise KeyError(f"{lf['file']}: fields not in the layout: {sorted(unknown)}")
    planted = bool(rec.plant)
    parts: list[bytes] = []
    for f in lf["fields"]:
        text = _value_text(f, rec.values.get(f["name"], ""), planted, layout)
        if f.get("required") and not text:
            raise ValueError(f"{lf['file']}: required field {f['name']} is blank")
        if f["type"] == "code" and text and not planted:
            if text not in {str(k) for k in layout["codes"][f["codes"]]}:
                raise ValueError(f"{lf['file']}: {f['name']}={text!r} is not in code list {f['codes']}")
        if f["type"] == "date" and isinstance(rec.values.get(f["name"]), dt.date):
            assert len(text.encode("cp932")) == f["length"], (f["name"], text)
        b = text.encode("cp932")
        if len(b) > f["length"] and not planted:
            raise ValueError(f"{lf['file']}: {f['name']}={text!r} is {len(b)} bytes, the layout says {f['length']}")
        if lf["format"] == "fixed":
            if len(b) > f["length"]:
                raise ValueError(f"{lf['file']}: {f['name']} does not fit its width")
            if not text:
                b = b" " * f["length"]
            elif f["type"] == "digits" or (f["type"] == "amount" and f.get("zoned")):
                b = b.rjust(f["length"], b"0")
            elif f["type"] == "amount":
                b = b.rjust(f["length"], b" ")
            else:
                b = b.ljust(f["length"], b" ")
        else:
            if any(c in text for c in ',"\r\n'):
                raise ValueError(f"{lf['file']}: {f['name']}={text!r} would need CSV escaping")
            if lf.get("quote_all"):
                b = b'"' + b + b'"'
        parts.append(b)
    if lf["format"] == "fixed":
        line = b"".join(parts)
        assert len(line) == lf["record_length"], (lf["file"], len(line))
        return line
    return b",".join(parts)


def write_city(out: Path, mappings: Path = MAPPINGS) -> City:
    layouts = load_layouts(mappings)
    tables = build_tables()
    declared = {(s, lf["table"]) for s, lay in layouts.items() for lf in lay["files"]}
    missing = declared - set(tables)
    extra = set(tables) - declared
    if missing or extra:
        raise ValueError(f"tables without records: {sorted(missing)}; records for no layout file: {sorted(extra)}")
    files: dict[tuple[str, str], FileInfo] = {}
    planted: list[Planted] = []
    notes: dict[tuple[str, str, int], str] = {}
    for system, lay in layouts.items():
        folder = out / system
        folder.mkdir(parents=True, exist_ok=True)
        for lf in lay["files"]:
            recs = tables[system, lf["table"]]
            eol = b"\n" if lf.get("line_ending", "crlf") == "lf" else b"\r\n"
            lines = []
            header = lf["format"] == "csv" and lf.get("header", False)
            if header:
                labels = [f["label"] for f in lf["fields"]]
                if lf.get("quote_all"):
                    labels = [f'"{x}"' for x in labels]
                lines.append(",".join(labels).encode("cp932"))
            for i, rec in enumerate(recs, 1):
                record_no = i + (1 if header else 0)
                lines.append(render_record(lay, lf, rec))
                for kind, rule in rec.plant:
                    planted.append(Planted(system, lf["table"], record_no, kind, rule, rec.note))
                if rec.note and not rec.plant:
                    notes[system, lf["table"], record_no] = rec.note
            path = folder / lf["file"]
            path.write_bytes(b"".join(line + eol for line in lines))
            files[system, lf["table"]] = FileInfo(path, 1 if header else 0, len(recs))
    _check_keys(layouts, tables)
    return City(out, files, planted, notes, tables)


def _check_keys(layouts: dict[str, dict], tables: dict[tuple[str, str], list[Rec]]) -> None:
    """The layout's declared key is unique among the clean records of each file (the planted
    duplicate excepted), so a duplicate_key finding elsewhere is not the writer's doing."""
    for system, lay in layouts.items():
        for lf in lay["files"]:
            seen: dict[tuple, int] = {}
            for rec in tables[system, lf["table"]]:
                if any(rule == "duplicate_key" for _, rule in rec.plant):
                    continue
                k = tuple(str(rec.values.get(c, "")) for c in lf["key"])
                if k in seen:
                    raise ValueError(f"{system}.{lf['table']}: clean records share the key {k}")
                seen[k] = 1


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    city = write_city(Path(argv[0]))
    for (s, tb), fi in sorted(city.files.items()):
        print(f"{s:9} {tb:15} {fi.records:3} records  {fi.path}")
    print("planted:")
    for p in city.planted:
        print(f"  {p.system}.{p.table} line {p.record_no}: {p.kind} -> {p.rule_id}  ({p.note})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
