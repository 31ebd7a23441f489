"""Per-system reports for the system owner (Excel and HTML, in Japanese): the gap report, the
外字同定リスト, and the owner's workbook (every finding out, every decision back in), written
after the gate so its cover shows where the system stands. Metadata carries counts and paths only.

An owner's decision file with a mistake does not stop anything here: the workbook's cover and the
system's gate say what is wrong (one owner's mistake never stops the others)."""

import os

import dagster as dg

from dagster_project.core.names import OVERVIEW_KEY, gate_key, model_key, report_key

from dagster_project.readiness import gatelog
from dagster_project.spec.config import cached_project
from dagster_project.resources import WarehouseResource
from dagster_project.conformance.gaiji import build_gaiji_list
from dagster_project.reports.gap_report import build_report
from dagster_project.reports.owner_workbook import build_owner_workbook
from dagster_project.resources import ReadinessResource
from dagster_project.core.settings import settings
from dagster_project.mapping.dbt_project import dbt_executable
from dagster_project.readiness.defs import CONFIG, complete_rehearsals
from dagster_project.reports import dbt_docs
from dagster_project.reports.overview import render

project = cached_project()


def _report_asset(system: str, name: str, deps: list[dg.AssetKey], description: str, build):
    @dg.asset(
        key=report_key(name, system),
        group_name=system,
        deps=deps,
        kinds={"excel", "html"},
        description=description,
        tags={"system": system, "layer": "reports"},
        owners=[project.city.system(system).dagster_owner],
        metadata={"owner_department": project.city.system(system).owner},
    )
    def _report(warehouse: WarehouseResource) -> dg.MaterializeResult:
        counts = build(project, warehouse.db_path, system, warehouse.reports_path / system)
        return dg.MaterializeResult(metadata={
            "path_xlsx": dg.MetadataValue.path(counts.pop("xlsx")),
            "path_html": dg.MetadataValue.path(counts.pop("html")),
            **counts,
        })

    return _report


def _assets_for(system: str):
    s = project.city.system(system)
    yield _report_asset(
        system, "gap_report", [model_key("gaps", f"gaps_{system}__{k}") for k in ("items", "spec", "data")],
        f"{s.name}のギャップレポート（Excel・HTML）: 標準データ要件の項目ごとの対応状況、仕様差異・データ差異と件数・"
        f"サンプル（内部キー）、所管課の対応方針（mappings/{system}/gap_decisions.yaml）。",
        build_report)
    yield _report_asset(
        system, "gaiji_list", [model_key("conformance", f"conf_{system}__chars"), model_key("reference", "mj_index")],
        f"{s.name}の外字同定リスト: 標準文字にない文字ごとの出現箇所・件数・サンプル（内部キー）、ベンダー外字表の記載と"
        "MJ文字情報一覧表による同定候補、mappings/gaiji/decisions.csv の同定状況。",
        build_gaiji_list)


def _owner_workbook_asset(system: str) -> dg.AssetsDefinition:
    s = project.city.system(system)

    @dg.asset(
        key=report_key("owner_workbook", system),
        group_name=system,
        deps=[gate_key(system)],
        kinds={"excel", "html"},
        description=(f"{s.name}の移行確認ブック（{system}_移行確認.xlsx と HTML）: 表紙（判定基準ごとの状況・残作業）と、"
                     "仕様差異・データ差異・キー違反・個人番号紐付け確認・外字同定・突合結果・対象レコード一覧。"
                     "所管課が記入して kikan decisions import で取り込むと次回の実行で反映される。"),
        tags={"system": system, "layer": "reports"},
        owners=[s.dagster_owner],
        metadata={"owner_department": s.owner},
    )
    def _workbook(warehouse: WarehouseResource, readiness: ReadinessResource) -> dg.MaterializeResult:
        history = gatelog.read_history(readiness.state_path, system)
        counts = build_owner_workbook(project, warehouse.db_path, system, warehouse.reports_path / system,
                                      gate=history[-1] if history else None, owner_root=readiness.owner_path)
        return dg.MaterializeResult(metadata={
            "path_xlsx": dg.MetadataValue.path(counts.pop("xlsx")),
            "path_html": dg.MetadataValue.path(counts.pop("html")),
            **counts,
        })

    return _workbook



# the ICT office's page: after every rehearsal (the sensors in definitions.py)


@dg.asset(
    key=OVERVIEW_KEY, group_name="ict_office", kinds={"html"}, owners=[project.city.city.ict_office_owner],
    deps=[gate_key(s.id) for s in project.city.systems]
    + [report_key("owner_workbook", s.id) for s in project.city.systems],   # it links to them
    description="ICTイノベーション推進室向け 移行可否判定 状況一覧（HTML）: 全システムの状況（色）、移行日までの日数、"
                "満たしていない基準、前回リハーサルとの差、リハーサルごとの推移、各ギャップレポートへのリンク。"
                "個人情報を含まない。",
)
def readiness_overview(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       readiness: ReadinessResource) -> dg.MaterializeResult:
    out = warehouse.reports_path / "readiness_overview.html"
    state = readiness.state_path
    # dbt docs as one static page linked from the overview, made again only when the models changed
    # (reports/dbt_docs); a failure leaves the previous page and is a warning, not a failed overview
    docs_dir = warehouse.reports_path.parent / "dbt_docs"
    try:
        docs = dbt_docs.generate(warehouse.db_path, docs_dir, settings().dbt_dir / "target" / "manifest.json",
                                 settings().dbt_dir, dbt_executable())
    except Exception as e:  # noqa: BLE001 - dbt's message names nodes, never a value
        context.log.warning(f"dbt docs を作成できなかった（前回のページを残す）: {e}")
        docs = {"made": False, "seconds": 0.0, "failed": True}
    page = docs_dir / dbt_docs.PAGE
    href = os.path.relpath(page, out.parent) if page.exists() else None
    try:
        with gatelog.lock(state):
            completed, why_not = complete_rehearsals(context.instance, context.run, state)
            r = render(project, state, CONFIG.gate, readiness.as_of(), out, dbt_docs_href=href)
    except gatelog.LogCorrupted as exc:
        # the project's own words (file and lines), shown like the gate's; the last page stays
        raise dg.Failure(description=f"判定ログ・記録の異常のため状況一覧を作らない（前回の一覧を残す）: {exc}") from None
    return dg.MaterializeResult(metadata={
        "path_html": dg.MetadataValue.path(r.pop("html")), "path_json": dg.MetadataValue.path(r.pop("json")),
        "completed_rehearsals": dg.MetadataValue.json(completed),
        "dbt_docs": dg.MetadataValue.json(docs),
        **({"path_dbt_docs": dg.MetadataValue.path(str(page))} if page.exists() else {}),
        **({"not_completed": why_not} if why_not else {}), **r})


overview_job = dg.define_asset_job(
    "readiness_overview", selection=[OVERVIEW_KEY],
    description="The ICT office's overview page, made from the rehearsal history and the decision log.")


defs = dg.Definitions(assets=[a for s in project.city.systems for a in _assets_for(s.id)]
                      + [_owner_workbook_asset(s.id) for s in project.city.systems] + [readiness_overview],
                      jobs=[overview_job])
