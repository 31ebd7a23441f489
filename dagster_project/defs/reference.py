"""Reference data built from field data rather than typed in: the standard character set."""

import dagster as dg

from ..lib.charset import write_charset
from ..lib.extract_assets import WarehouseResource


@dg.asset(
    key=dg.AssetKey(["reference", "std_charset"]),
    group_name="reference",
    kinds={"duckdb"},
    description=("行政事務標準文字: the MJ文字情報一覧表 (npm @mandel59/mojidata, IVS sequences as one character) "
                 "plus seeds/charset_extra.csv (kana, Latin, digits, punctuation, additions beyond MJ); "
                 "also reference.mj_index (住基ネット統一文字コード / 戸籍統一文字番号 → character) for 文字同定."),
)
def std_charset(warehouse: WarehouseResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=write_charset(warehouse.db_path))


defs = dg.Definitions(assets=[std_charset])
