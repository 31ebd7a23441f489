"""Per-system reports for the system owner (Excel and HTML, in Japanese): the gap report and
the 外字同定リスト. One builder, two kinds; metadata carries counts and paths only."""

import dagster as dg

from ...lib.config import cached_project
from ...lib.decisions import load_decisions
from ...lib.extract_assets import WarehouseResource
from ...lib.gaiji_workflow import build_gaiji_list, load_gaiji_decisions
from ...lib.gap_report import build_report

project = cached_project()

# a wrong decision file fails when the definitions load, naming file, line and field
load_gaiji_decisions(project)
for _s in project.city.systems:
    load_decisions(_s.id, project.root)


def _report_asset(system: str, name: str, deps: list[dg.AssetKey], description: str, build):
    @dg.asset(
        key=dg.AssetKey(["reports", f"{name}_{system}"]),
        group_name=system,
        deps=deps,
        kinds={"excel", "html"},
        description=description,
        tags={"system": system, "layer": "reports"},
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
        system, "gap_report", [dg.AssetKey(["gaps", f"gaps_{system}__{k}"]) for k in ("items", "spec", "data")],
        f"{s.name}のギャップレポート（Excel・HTML）: 標準データ要件の項目ごとの対応状況、仕様差異・データ差異と件数・"
        f"サンプル（内部キー）、所管課の対応方針（mappings/{system}/gap_decisions.yaml）。",
        build_report)
    yield _report_asset(
        system, "gaiji_list", [dg.AssetKey(["conformance", f"conf_{system}__chars"]), dg.AssetKey(["reference", "mj_index"])],
        f"{s.name}の外字同定リスト: 標準文字にない文字ごとの出現箇所・件数・サンプル（内部キー）、ベンダー外字表の記載と"
        "MJ文字情報一覧表による同定候補、mappings/gaiji/decisions.csv の同定状況。",
        build_gaiji_list)


defs = dg.Definitions(assets=[a for s in project.city.systems for a in _assets_for(s.id)])
