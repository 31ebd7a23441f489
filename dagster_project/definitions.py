"""The Dagster entry point: composes the stages' definitions (each stage package's ``defs.py``), nothing else.

Writers run in one process (``in_process_executor``): DuckDB admits a single writer, and
on two cores the extract steps gain little from processes anyway. The second core is used after
the dbt build, where every step only reads the warehouse: the GX child starts when dbt finishes
(``conformance.start_ahead``, bound to the dbt step here) and validates beside the gates and
reports, and each report writes its workbook in a side worker (``core.side``).
"""

import dagster as dg

from dagster_project.conformance import defs as conformance
from dagster_project.conformance import reference
from dagster_project.extract import defs as extract
from dagster_project.mapping import defs as mapping
from dagster_project.readiness import defs as readiness
from dagster_project.reports import defs as reports

# the main job: everything the embedded default builds, per system in dependency order
migration_job = dg.define_asset_job(
    "migration",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(reports.OVERVIEW_KEY),
    description="One rehearsal (移行リハーサル) on the embedded default (DuckDB): extract every current system, "
    "map it onto the standard data requirements (dbt), record every gap, validate, evaluate each system's "
    "readiness gate and write the export packages the gates allow. The overview follows (sensor).",
)

# 移行リハーサル every night; the readiness gates judge on the day the run starts (Asia/Tokyo).
# Running by default, as the README promises: it fires wherever the Dagster daemon runs (`dagster dev`
# starts one). Switched off in the instance, not here: the UI's toggle or `dagster schedule stop
# daily_rehearsal` records the stop in the instance under DAGSTER_HOME, and it stays off.
daily_rehearsal = dg.ScheduleDefinition(
    name="daily_rehearsal", job=migration_job, cron_schedule="0 2 * * *", execution_timezone="Asia/Tokyo",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="毎晩 02:00（日本時間）に移行リハーサルを実行する。実行ごとに各システムの移行可否判定が評価し、"
    "判定日からは判定を記録する / Runs the whole pipeline every night at 02:00 JST: each run is a rehearsal, "
    "and each system's gate evaluates (and, from its gate date, decides) on it.",
)

@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[migration_job],
                      request_job=reports.overview_job, name="overview_after_rehearsal",
                      default_status=dg.DefaultSensorStatus.RUNNING)
def overview_after_rehearsal(context: dg.RunStatusSensorContext):
    """After every successful rehearsal: refresh the overview (and complete the rehearsal)."""
    return dg.RunRequest(run_key=context.dagster_run.run_id,
                         tags={readiness.REHEARSAL_RUN_TAG: context.dagster_run.run_id})


@dg.run_failure_sensor(monitored_jobs=[migration_job], request_job=reports.overview_job,
                       name="overview_after_failed_rehearsal", default_status=dg.DefaultSensorStatus.RUNNING)
def overview_after_failed_rehearsal(context: dg.RunFailureSensorContext):
    """After a rehearsal in which some system failed: refresh the overview all the same, so the
    systems that did run show their state and the failed one shows as not evaluated. The rehearsal
    is completed only if it went through its steps (a killed run the monitor failed is not)."""
    return dg.RunRequest(run_key=context.dagster_run.run_id,
                         tags={readiness.REHEARSAL_RUN_TAG: context.dagster_run.run_id})


defs = dg.Definitions.merge(
    extract.defs,
    mapping.build_defs(judge_gate=readiness.judge_gate, after_build=conformance.start_ahead),
    reports.defs,
    reference.defs,
    conformance.defs,
    readiness.defs,
    dg.Definitions(jobs=[migration_job], schedules=[daily_rehearsal],
                   sensors=[overview_after_rehearsal, overview_after_failed_rehearsal], executor=dg.in_process_executor),
)
