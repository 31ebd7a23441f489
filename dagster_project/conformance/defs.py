"""Great Expectations conformance suites as Dagster asset checks, one check per standard table.

The suites (``expectations/suites/``, generated from the catalog) run by SQL on the DuckDB
warehouse after dbt built the standard tables; each table's result is an asset check with
counts per failed rule, never a value. They warn rather than block: key and character
violations are what the readiness gate weighs, not a reason to stop building other tables.
GX runs in one child process for all systems (see gx_suites.validate_in_subprocess): a child
per system was tried and cost 113 s against 27 s (five seconds of start-up each). The gates do
not wait for GX; they weigh the same rules from the conformance models. The conformance pages
for the ICT office are built beside the reports, one site for all systems:
``var/gx_docs/index.html``. They are the project's own pages from the GX results
(``conformance/gx_docs``), not GX's Data Docs, whose site loads its scripts and styles from CDNs and is
empty on the closed 庁内 network. The site is written into a hidden build folder and replaces the
old one whole (``atomic.replace_dir``), so a run killed or failing half-way leaves the previous
site as it was, never a site listing some of the tables.

The character-set rule is computed once, by the findings ledger (``findings.fnd_<system>__chars``);
GX counts the standard rows the ledger names, so the check depends on those models too. Splitting
every value again in GX cost 6.0 of GX's 10.6 s of SQL at 817,000 residents.
"""

import time

import dagster as dg

from dagster_project.core import atomic
from dagster_project.spec.config import cached_project
from dagster_project.core.names import fnd_name, model_key, std_name
from dagster_project.resources import WarehouseResource
from dagster_project.conformance.gx_docs import write_site
from dagster_project.conformance import gx_suites
from dagster_project.conformance.gx_suites import validate_in_subprocess
from dagster_project.spec.mapping import cached_mappings

project = cached_project()
mappings = cached_mappings()
TABLES = mappings.tables


GX_STEP = "gx_conformance"


@dg.multi_asset_check(
    name=GX_STEP,
    # last of the steps ready with it: its child, started when dbt finished (start_ahead), validates
    # while the gates and reports run, and this step waits only for what is left
    op_tags={"dagster/priority": "-10"},
    # the character-set expectations read the system's findings ledger of characters (gx_suites.suite_for)
    specs=[dg.AssetCheckSpec("gx_conformance", asset=model_key("standard", std_name(t)),
                             additional_deps=[model_key("findings", f"{fnd_name(t.system)}__chars")],
                             description=f"{t.std.table_name}: 主キー・コード値・文字種・桁数・行政事務標準文字 (Great Expectations)")
           for t in TABLES],
)
def gx_conformance(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    docs = warehouse.reports_path.parent / "gx_docs"
    systems = [s.id for s in project.city.systems]
    with atomic.replace_dir(docs) as build:
        run_id = getattr(context, "op_execution_context", context).run_id   # a check's context wraps the op's
        started = gx_suites.take_ahead(run_id, warehouse.db_path, systems)
        t0 = time.perf_counter()
        results = validate_in_subprocess(warehouse.db_path, systems, started=started)
        waited = time.perf_counter() - t0
        write_site(build, results, project.city.city.name)
    # how long this step waited for the child, and how long the child took (its start to its last line)
    how = {"started_ahead": started is not None, "waited_s": round(waited, 2),
           "validation_s": started.seconds if started is not None else round(waited, 2)}
    if started is not None:
        context.log.info(f"GX: 検証は dbt の直後から並行して実行済み、待ち {waited:.1f} 秒 / "
                         f"validation started when dbt finished; waited {waited:.1f} s for it")
    for t in TABLES:
        name = std_name(t)
        yield check_result(name, results[name], docs, how)


def start_ahead(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """Called by the dbt step once the warehouse is built without a failed model (definitions.py
    binds it): start this run's GX child now, if the run has the GX step, so that it validates
    beside the steps that follow instead of after them. Everything after the dbt step only reads
    the warehouse, as the child does."""
    if GX_STEP in {n.name for n in context.job_def.graph.nodes}:
        gx_suites.start_ahead(context.run_id, warehouse.db_path, [s.id for s in project.city.systems])


def check_result(name: str, r: dict, docs, extra: dict | None = None) -> dg.AssetCheckResult:
    """The asset check of one suite's summary (gx_suites.summarize). An expectation that raised
    did not look at the data: the check fails as an ERROR that names the suite and the rules,
    apart from the rules whose data failed (a WARN, counts only). Never a value."""
    raised = r.get("raised") or []
    failed = r["failed"]
    metadata = {
        "expectations": len(r.get("expectations") or []) or r["evaluated"],
        "evaluated": r["evaluated"],
        "raised": len(raised),
        "failed": len(failed),
        "failed_rules": dg.MetadataValue.json(
            [{k: f[k] for k in ("rule", "item", "unexpected_count")} for f in failed]),
        "data_docs": dg.MetadataValue.path(str(docs / "index.html")),
        **(extra or {}),
    }
    description = None
    if raised:
        rules = "; ".join(f"{e['rule']} ({e['item']})" if e.get("item") else str(e["rule"]) for e in raised)
        description = f"expectation raised (not evaluated): {name}: {rules}"
        metadata["reason"] = description
        metadata["raised_rules"] = dg.MetadataValue.json(
            [{k: e.get(k) for k in ("rule", "item", "item_id", "type", "id", "exception")} for e in raised])
    return dg.AssetCheckResult(
        asset_key=model_key("standard", name),
        check_name="gx_conformance",
        passed=bool(r["success"]) and not raised,
        severity=dg.AssetCheckSeverity.ERROR if raised else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )


defs = dg.Definitions(asset_checks=[gx_conformance])
