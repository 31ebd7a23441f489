"""The mapping stage as dbt assets: staging, intermediate, standard, gap, conformance and
reconciliation models, in one ``dbt build``.

Failure stays within its system: the build runs with ``raise_on_error=False``, so a model or
test error makes dbt skip only the models downstream of it (that system's, and those of
systems that read its tables, as the cross-system key checks do); Dagster then skips only the
steps that needed the missing tables (that system's reports and gate), and the failed nodes
are logged by name. One step per system was tried and rejected: the cross-system references
make Dagster split each system's step in three, and 40 dbt start-ups cost 670 s against 45 s.

Asset keys are ``[layer, model]``; dbt sources map to ``["raw", table]`` so they join the
extract assets; every model's group is its current system (from the model's meta), so the
asset graph stays grouped per system. dbt tests become asset checks; key uniqueness tests
are warnings here (the conformance stage owns key violations), so one bad key does not stop
a system's standard tables from being built.
"""

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ...lib.dbt_project import LAYER_PREFIXES, dbt_executable, prepare
from ...lib.extract_assets import WarehouseResource



class KikanTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        rtype = dbt_resource_props["resource_type"]
        name = dbt_resource_props["name"]
        if rtype == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], name])
        if rtype == "seed":
            return dg.AssetKey(["reference", name])
        layer = next((v for k, v in LAYER_PREFIXES.items() if name.startswith(k)), "dbt")
        return dg.AssetKey([layer, name])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        meta = dbt_resource_props.get("config", {}).get("meta", {}) or dbt_resource_props.get("meta", {})
        return meta.get("group") or meta.get("system") or "reference"


dbt_project = prepare()
TRANSLATOR = KikanTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _keep_partial_parse(run_target: Path) -> None:
    """Carry this build's parse state back to ``dbt/target`` for the next rehearsal.

    dagster-dbt runs each invocation in a fresh target folder and seeds it with
    ``dbt/target/partial_parse.msgpack``; that file comes from ``dbt parse`` on the default
    warehouse path, and dbt discards a parse state whose profile differs (the DuckDB path is
    part of the profile hash), so every rehearsal on another warehouse re-parsed all 330 nodes
    (6 s of the 817k benchmark's dbt start-up). The build's own state is valid for the next
    build on the same warehouse; dbt still re-checks every file's checksum.
    """
    src = Path(run_target) / "partial_parse.msgpack"
    if not src.exists():
        return
    dest = Path(dbt_project.project_dir) / "target" / "partial_parse.msgpack"
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=TRANSLATOR,
            name="mapping_stage")
def mapping_stage(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """`dbt build`: the models and their tests, on the warehouse the resource names."""
    os.environ["KIKAN_WAREHOUSE"] = str(warehouse.db_path)
    invocation = dbt.cli(["build"], context=context, raise_on_error=False)
    yield from invocation.stream()
    _keep_partial_parse(invocation.target_path)
    failed = [r["unique_id"].split(".")[-1] for r in invocation.get_artifact("run_results.json")["results"]
              if r["status"] in ("error", "fail")]
    skipped = [r["unique_id"].split(".")[-1] for r in invocation.get_artifact("run_results.json")["results"]
               if r["status"] == "skipped"]
    if failed:
        # names of models and tests only; their dependents are skipped, other systems go on
        context.log.error(f"dbt: {len(failed)} node(s) failed: {', '.join(failed)}; "
                          f"{len(skipped)} dependent node(s) skipped")


defs = dg.Definitions(
    assets=[mapping_stage],
    resources={"dbt": DbtCliResource(
        project_dir=dbt_project, profiles_dir=str(dbt_project.project_dir), dbt_executable=dbt_executable())},
)
