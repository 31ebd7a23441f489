"""Half-width kana made full-width in SQL: DuckDB's lookup (the value cut into pieces, each looked up
once) gives what the chain of replaces and translate gives (the Spark branch, run here on DuckDB,
where both functions exist), on the edge cases and on thousands of random values."""

import random

import duckdb

from tests.dbt_render import render

HALF = "｡｢｣､･ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝﾞﾟ"
OTHER = [" ", "　", "\n", "\r", "ア", "ガ", "山", "A", "Ａ", "1", "'", "\u3099", "\U000e0100", "😀", "𠮷", "ﾞ", "ﾟ"]
EDGES = [
    None, "", " ", "ﾞ", "ﾟ", "ﾞﾞ", "ｶﾞ", "ｶﾞﾞ", "ﾞｶﾞ", "ｱﾞ", "ｶﾟ", "ﾊﾟﾞ", "ﾊﾞﾟ", "ｳﾞｦﾞﾜﾞ", "ﾔﾏﾀﾞ ﾀﾛｳ", "ﾔﾏﾀﾞ　ﾀﾛｳ",
    "ｶ\nﾞ", "ｶﾞ\nｷﾞ", "ｶ\u3099", "山田ﾀﾞ", "｡｢｣､･", "ｶ\U000e0100ﾞ", "😀ﾞ", "Ａｶﾞ1",
]


def _outputs(expr_sql: str, values: list[str | None]) -> list[str | None]:
    con = duckdb.connect()
    con.execute("create table t (i integer, v varchar)")
    con.executemany("insert into t values (?, ?)", list(enumerate(values)))
    return [r[0] for r in con.execute(f"select {expr_sql} from t order by i").fetchall()]


def test_the_lookup_gives_what_the_replaces_and_translate_give():
    rng = random.Random(11)
    alphabet = list(HALF) * 3 + OTHER
    values = EDGES + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(5000)]
    lookup = render("{{ kikan.zenkaku_kana('v') }}")
    chain = render("{{ kikan.spark__zenkaku_kana('v') }}")
    assert "list_transform" in lookup and "translate(" in chain      # two different spellings
    got, want = _outputs(lookup, values), _outputs(chain, values)
    diff = [(v, g, w) for v, g, w in zip(values, got, want) if g != w]
    assert diff == []
    # and the conversion is one: pairs joined, singles widened, the rest as it was
    assert dict(zip(EDGES, got))["ｶﾞﾞ"] == "ガ\u3099" and dict(zip(EDGES, got))["ﾔﾏﾀﾞ ﾀﾛｳ"] == "ヤマダ　タロウ"
    assert dict(zip(EDGES, got))["ｶ\nﾞ"] == "カ\n\u3099" and dict(zip(EDGES, got))["Ａｶﾞ1"] == "Ａガ1"
