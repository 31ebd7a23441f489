"""Gap reports: one asset per current system, for its owner (Excel and HTML, in Japanese)."""

import dagster as dg

from ...lib.config import cached_project
from ...lib.decisions import load_decisions
from ...lib.extract_assets import WarehouseResource
from ...lib.gaiji_workflow import build_gaiji_list, load_gaiji_decisions
from ...lib.gap_report import build_report

project = cached_project()


def _report_asset(system):
    s = project.city.system(system)
    load_decisions(system, project.root)  # a wrong decision file fails at load, naming file and field

    @dg.asset(
        key=dg.AssetKey(["reports", f"gap_report_{system}"]),
        group_name=system,
        deps=[dg.AssetKey(["gaps", f"gaps_{system}__{k}"]) for k in ("items", "spec", "data")],
        kinds={"excel", "html"},
        description=(f"{s.name}のギャップレポート（Excel・HTML）: 標準データ要件の項目ごとの対応状況、仕様差異・データ差異と"
                     "件数・サンプル（内部キー）、所管課の対応方針（mappings/{system}/gap_decisions.yaml）。"),
        tags={"system": system, "layer": "reports"},
    )
    def _report(warehouse: WarehouseResource) -> dg.MaterializeResult:
        counts = build_report(project, warehouse.db_path, system, warehouse.reports_path / system)
        return dg.MaterializeResult(metadata={
            "path_xlsx": dg.MetadataValue.path(counts.pop("xlsx")),
            "path_html": dg.MetadataValue.path(counts.pop("html")),
            **counts,
        })

    return _report


def _gaiji_asset(system):
    s = project.city.system(system)

    @dg.asset(
        key=dg.AssetKey(["reports", f"gaiji_list_{system}"]),
        group_name=system,
        deps=[dg.AssetKey(["conformance", f"conf_{system}__chars"]), dg.AssetKey(["reference", "mj_index"])],
        kinds={"excel", "html"},
        description=(f"{s.name}の外字同定リスト: 標準文字にない文字ごとの出現箇所・件数・サンプル（内部キー）、"
                     "ベンダー外字表の記載と MJ 文字情報一覧表による同定候補、mappings/gaiji/decisions.csv の同定状況。"),
        tags={"system": system, "layer": "reports"},
    )
    def _list(warehouse: WarehouseResource) -> dg.MaterializeResult:
        counts = build_gaiji_list(project, warehouse.db_path, system, warehouse.reports_path / system)
        return dg.MaterializeResult(metadata={
            "path_xlsx": dg.MetadataValue.path(counts.pop("xlsx")),
            "path_html": dg.MetadataValue.path(counts.pop("html")),
            **counts,
        })

    return _list


load_gaiji_decisions(project)  # a wrong decisions.csv fails at load, naming file, line and field

defs = dg.Definitions(assets=[_report_asset(s.id) for s in project.city.systems]
                      + [_gaiji_asset(s.id) for s in project.city.systems])
