"""The Dagster entry point: loads the ``defs/`` sub-packages, nothing else.

Writers run in one process (``in_process_executor``): DuckDB admits a single writer, and
on two cores the extract steps gain little from processes anyway.
"""

import dagster as dg

from dagster_project.defs import dbt, extract, quality, reference, reports

# the main job: everything the embedded default builds, per system in dependency order
migration_job = dg.define_asset_job(
    "migration",
    selection=dg.AssetSelection.all(),
    description="The whole pipeline on the embedded default (DuckDB): extract every current system, "
    "map it onto the standard data requirements (dbt) and record every gap.",
)

defs = dg.Definitions.merge(
    extract.defs,
    dbt.defs,
    reports.defs,
    reference.defs,
    quality.defs,
    dg.Definitions(jobs=[migration_job], executor=dg.in_process_executor),
)
