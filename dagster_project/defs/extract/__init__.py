"""Extract assets: one per current system, generated from ``mappings/`` by one factory."""

import dagster as dg

from ...lib.config import cached_project
from ...lib.extract_assets import WarehouseResource, build_extract_assets

project = cached_project()

defs = dg.Definitions(
    assets=build_extract_assets(project),
    resources={"warehouse": WarehouseResource()},
)
