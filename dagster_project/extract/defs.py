"""Extract assets: one per current system, generated from ``mappings/`` by one factory."""

import dagster as dg

from dagster_project.spec.config import cached_project
from dagster_project.extract.assets import build_extract_assets
from dagster_project.resources import WarehouseResource

project = cached_project()

# Shared bookkeeping every extract asset writes its rows into (replacing only its own system's):
# declared as external assets so the reconciliation models that read them have a home.
BOOKKEEPING = [
    dg.AssetSpec(dg.AssetKey(["meta", "extract_files"]), group_name="bookkeeping", kinds={"duckdb"},
                 owners=[project.city.city.ict_office_owner],
                 description="出力ファイルごとの記録: SHA-256・バイト数・レコード数・抽出行・隔離行・改行コード。"),
    dg.AssetSpec(dg.AssetKey(["meta", "gaiji_usage"]), group_name="bookkeeping", kinds={"duckdb"},
                 owners=[project.city.city.ict_office_owner],
                 description="抽出で見つかったベンダー外字コードの一覧: 項目ごとの件数とサンプルのレコード番号。"),
]

defs = dg.Definitions(
    assets=[*build_extract_assets(project), *BOOKKEEPING],
    resources={"warehouse": WarehouseResource()},
)
