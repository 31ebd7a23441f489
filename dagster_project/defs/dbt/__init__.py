"""The mapping stage as dbt assets: staging, intermediate, standard and gap models.

Asset keys are ``[layer, model]``; dbt sources map to ``["raw", table]`` so they join the
extract assets; every model's group is its current system (from the model's meta), so the
asset graph stays grouped per system. dbt tests become asset checks; key uniqueness tests
are warnings here (the conformance stage owns key violations), so one bad key does not stop
a system's standard tables from being built.
"""

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ...lib.dbt_project import dbt_executable, prepare
from ...lib.extract_assets import WarehouseResource

LAYERS = {"stg_": "staging", "int_": "intermediate", "std_": "standard", "gaps_": "gaps", "conf_": "conformance",
          "recon_": "readiness"}


class KikanTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        rtype = dbt_resource_props["resource_type"]
        name = dbt_resource_props["name"]
        if rtype == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], name])
        if rtype == "seed":
            return dg.AssetKey(["reference", name])
        layer = next((v for k, v in LAYERS.items() if name.startswith(k)), "dbt")
        return dg.AssetKey([layer, name])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        meta = dbt_resource_props.get("config", {}).get("meta", {}) or dbt_resource_props.get("meta", {})
        return meta.get("group") or meta.get("system") or "reference"


dbt_project = prepare()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=KikanTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
    name="mapping_stage",
)
def mapping_stage(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """`dbt build`: the models and their tests, on the warehouse the resource names."""
    os.environ["KIKAN_WAREHOUSE"] = str(warehouse.db_path)
    yield from dbt.cli(["build"], context=context).stream()


defs = dg.Definitions(
    assets=[mapping_stage],
    resources={"dbt": DbtCliResource(
        project_dir=dbt_project, profiles_dir=str(dbt_project.project_dir), dbt_executable=dbt_executable())},
)
