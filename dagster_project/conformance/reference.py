"""Reference data built from field data rather than typed in: the standard character set."""

import dagster as dg

from dagster_project.conformance.charset import write_charset
from dagster_project.spec.config import cached_project
from dagster_project.resources import WarehouseResource

DESCRIPTIONS = {
    "std_charset": "行政事務標準文字: the MJ文字情報一覧表 (npm @mandel59/mojidata, IVS sequences as one character) "
                   "plus seeds/charset_extra.csv (kana, Latin, digits, punctuation, additions beyond MJ).",
    "mj_index": "Per MJ character its 住基ネット統一文字コード and 戸籍統一文字番号: how a vendor 外字 that cites "
                "one of them finds its standard character (文字同定).",
    "char_fold": "MJ character → 正字 by the MJ縮退マップ (戸籍統一文字情報・親字正字, then JIS包摂規準): names that "
                 "differ only by a degraded variant compare as the same name in the My Number audit.",
}


@dg.multi_asset(
    name="reference_characters",
    specs=[dg.AssetSpec(dg.AssetKey(["reference", k]), group_name="reference", kinds={"duckdb"}, description=d,
                        owners=[cached_project().city.city.ict_office_owner])
           for k, d in DESCRIPTIONS.items()],
)
def reference_characters(warehouse: WarehouseResource):
    counts = write_charset(warehouse.db_path)
    yield dg.MaterializeResult(asset_key=["reference", "std_charset"], metadata={"characters": counts["characters"]})
    yield dg.MaterializeResult(asset_key=["reference", "mj_index"],
                               metadata={"mj_characters": counts["mj_characters"], "ivs_sequences": counts["ivs_sequences"]})
    yield dg.MaterializeResult(asset_key=["reference", "char_fold"], metadata={"fold_pairs": counts["fold_pairs"]})


defs = dg.Definitions(assets=[reference_characters])
