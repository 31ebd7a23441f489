"""One factory for every current system's extract assets.

A system in ``mappings/city.yaml`` becomes one multi-asset: one raw table per export file
plus the system's quarantine table, grouped under the system, each raw table with a
blocking row-conservation check. Thirteen systems are thirteen calls of this factory, not
thirteen modules; a 14th system is a new folder under ``mappings/``.

Event metadata carries counts, hashes and reason codes only: never a field value, since
raw rows hold names, addresses, birth dates and 個人番号 (DESIGN.md principle 5).
"""


from collections import Counter

import dagster as dg

from dagster_project.resources import WarehouseResource  # noqa: F401 (re-exported)
from dagster_project.spec.config import Project, System
from dagster_project.extract.pipeline import extract_system
from dagster_project.core.names import quarantine_table, raw_table


def raw_key(system: str, table: str) -> dg.AssetKey:
    """``["raw", "<system>__<table>"]``: equal to the dbt source key of the raw table, so
    dagster-dbt connects the lineage (STACK.md)."""
    return dg.AssetKey(["raw", raw_table(system, table)])


def quarantine_key(system: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", quarantine_table(system)])


_FORMAT_JA = {"fixed": "固定長", "csv": "CSV"}


def _system_asset(project: Project, system: System) -> dg.AssetsDefinition:
    layout = project.layouts[system.id]
    gaiji = project.gaiji[system.id]
    businesses = "・".join(project.city.business(b).name for b in system.businesses)
    common_meta = {
        "system": system.id, "system_name": system.name, "businesses": businesses,
        "owner_department": system.owner, "vendor": system.vendor, "track": system.track_ja,
        "cutover": system.cutover.isoformat(),
    }
    tags = {"system": system.id, "track": system.track, "layer": "raw"}
    specs = [
        dg.AssetSpec(
            key=raw_key(system.id, lf.table),
            group_name=system.id,
            owners=[system.dagster_owner],
            description=(
                f"{system.name}「{lf.label}」の抽出データ（{lf.file}、{_FORMAT_JA[lf.format]}、CP932）: "
                "出力ファイルを文字コード変換して項目に分けただけで、値は解釈しない。各行にレコード番号と"
                "バイト位置を残す。事業者が特定した外字は置換し、残りは文字同定のため私用領域の文字のまま残す。"
                f"所管課: {system.owner}。"
            ),
            kinds={"duckdb"},
            tags=tags,
            metadata={**common_meta, "file": lf.file, "format": lf.format, "fields": len(lf.fields)},
        )
        for lf in layout.files
    ]
    specs.append(
        dg.AssetSpec(
            key=quarantine_key(system.id),
            group_name=system.id,
            owners=[system.dagster_owner],
            description=(
                f"{system.name}の読めなかったレコード（隔離）: 長さ違い・変換できないバイト・CSV の構文・"
                "項目の形式の誤り。レコードごとに理由・項目・元のバイト列（16進）を持つ。"
                f"所管課: {system.owner}。"
            ),
            kinds={"duckdb"},
            tags=tags,
            metadata=common_meta,
        )
    )
    checks = [
        dg.AssetCheckSpec(
            name="row_conservation",
            asset=raw_key(system.id, lf.table),
            blocking=True,
            description=("件数保存: 出力ファイルのレコード数（バイト列から数える）= 抽出行 + 隔離行 + "
                         "ファイルごと受け付けなかったレコード（何も失われない） / Records in the export file = "
                         "raw rows + quarantined rows + records of a file refused as a whole."),
        )
        for lf in layout.files
    ] + [
        dg.AssetCheckSpec(
            name="file_accepted",
            asset=raw_key(system.id, lf.table),
            description=("出力ファイルを読み込めたこと（欠落・文字コード違い・見出し違いでファイルごと受け付けなかった"
                         "のではない） / The export file was read, not refused as a whole."),
        )
        for lf in layout.files
    ]

    @dg.multi_asset(
        name=f"extract_{system.id}",
        specs=specs,
        check_specs=checks,
        can_subset=False,
        description=f"{system.name}（{businesses}）の出力ファイルを抽出する。",
        op_tags={"system": system.id},
    )
    def _extract(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        src = warehouse.legacy_path / system.id

        def refusal_logged(r) -> None:
            # refused as a whole: empty tables and a failed check, not a failed step (a failed
            # step would stop the one dbt build of every system); the message names the file,
            # the line and what is wrong, never a value
            if r.refused is not None:
                context.log.error(f"{system.id}: {r.refused}")

        # the files are read in a thread while the warehouse writes what is read (one transaction);
        # counts: per table, (raw, quarantined, refused) as the warehouse holds them once committed
        results, counts = extract_system(src, layout, gaiji, warehouse.db_path, on_file=refusal_logged)
        all_reasons: Counter = Counter()
        for r in results:
            reasons = Counter(r.quarantine["reason_code"].to_list())
            all_reasons.update(reasons)
            unknown_gaiji = r.gaiji_usage.filter(~r.gaiji_usage["in_vendor_table"])
            unresolved = r.gaiji_usage.filter(r.gaiji_usage["substituted_with"].is_null())
            yield dg.MaterializeResult(
                asset_key=raw_key(system.id, r.table),
                metadata={
                    "dagster/row_count": r.frame.height,
                    "records_in_file": r.records_in_file,
                    "quarantined": r.quarantine.height,
                    "refused_records": r.refused_records,
                    "quarantine_by_reason": dg.MetadataValue.json(dict(sorted(reasons.items()))),
                    "file_sha256": r.sha256,
                    "file_bytes": r.file_bytes,
                    "gaiji_codes": r.gaiji_usage.height,
                    "gaiji_unresolved_occurrences": int(unresolved["occurrences"].sum() or 0),
                    "gaiji_not_in_vendor_table": int(unknown_gaiji["occurrences"].sum() or 0),
                    "eof_marker_0x1a": r.eof_marker,
                    **({"refused": r.refused} if r.refused else {}),
                },
            )
            yield dg.AssetCheckResult(
                asset_key=raw_key(system.id, r.table),
                check_name="file_accepted",
                passed=r.refused is None,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"reason": r.refused or "読み込み済み"},
            )
            # file = raw + quarantined + refused: the file's records counted from its bytes by a rule
            # of their own; raw and quarantined as the warehouse holds them; a refused file's records
            # (counted from its bytes, neither raw nor quarantined) as refused, so they are not lost
            # from the sum the way a refused file's 0 = 0 + 0 used to lose them
            in_file = r.records_counted
            raw_n, q_n, refused_n = counts[r.table]
            yield dg.AssetCheckResult(
                asset_key=raw_key(system.id, r.table),
                check_name="row_conservation",
                passed=in_file == raw_n + q_n + refused_n,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"records_in_file": in_file, "raw_rows": raw_n, "quarantined": q_n,
                          "refused": refused_n, "difference": in_file - raw_n - q_n - refused_n},
            )
        yield dg.MaterializeResult(
            asset_key=quarantine_key(system.id),
            metadata={
                "dagster/row_count": sum(all_reasons.values()),
                "by_reason": dg.MetadataValue.json(dict(sorted(all_reasons.items()))),
            },
        )
        refused_files = [r for r in results if r.refused]
        context.log.info(
            f"{system.id}: {sum(r.frame.height for r in results)} raw rows, "
            f"{sum(all_reasons.values())} quarantined, in {len(results)} files"
            + (f"; {len(refused_files)} files refused with {sum(r.refused_records for r in refused_files)} "
               "records" if refused_files else "")
        )

    return _extract


def build_extract_assets(project: Project) -> list[dg.AssetsDefinition]:
    return [_system_asset(project, s) for s in project.city.systems]
