"""Extract assets: one per current system, generated from ``mappings/`` by one factory."""

import dagster as dg

from ...lib.config import cached_project
from ...lib.extract_assets import WarehouseResource, build_extract_assets

project = cached_project()

# Shared bookkeeping every extract asset writes its rows into (replacing only its own system's):
# declared as external assets so the reconciliation models that read them have a home.
BOOKKEEPING = [
    dg.AssetSpec(dg.AssetKey(["meta", "extract_files"]), group_name="bookkeeping", kinds={"duckdb"},
                 description="Per legacy file: SHA-256, bytes, records, raw rows, quarantined rows, line endings."),
    dg.AssetSpec(dg.AssetKey(["meta", "gaiji_usage"]), group_name="bookkeeping", kinds={"duckdb"},
                 description="Every vendor 外字 code seen at extraction, per field, with counts and sample record numbers."),
]

defs = dg.Definitions(
    assets=[*build_extract_assets(project), *BOOKKEEPING],
    resources={"warehouse": WarehouseResource()},
)
