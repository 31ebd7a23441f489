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

A failed model is visible and contained (issue 17). dbt's error text is never passed on, as it
may quote the value that failed (a 個人番号 in a cast): the dbt process's output is redacted
line by line before dagster-dbt re-emits it to the compute logs and the run log, dbt writes no
``dbt.log``, and ``run_results.json`` is rewritten; each failed node becomes the model, the column
and the rule (``mapping/dbt_failures``). The failed and skipped nodes are kept per system in
``meta.model_failures``; each failed model is an observation on its asset (which ``kikan run``
prints as FAILED); and since Dagster skips every step downstream of a model that was not
built, this step judges the gate of each system it failed itself: NO-GO, 移行処理の完了 naming
the model. The other systems' models, gates and exports go on. A full disk is not a system's
failure: the step fails, naming the path and the space needed, and no gate is judged on it.
"""

import json
import os
import shutil
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from dagster_project.core import diskspace
from dagster_project.core.names import LAYER_PREFIXES, gate_key
from dagster_project.mapping.dbt_failures import failures_of, record_failures, redact_invocation, redact_run_results
from dagster_project.core.settings import settings
from dagster_project.mapping.dbt_project import dbt_executable, is_own_dbt, prepare
from dagster_project.spec.config import cached_project
from dagster_project.resources import WarehouseResource
from dagster_project.spec.mapping import cached_mappings
from dagster_project.resources import ReadinessResource



# the seeds, as the ICT office reads them in the asset graph
SEED_DESCRIPTIONS = {
    "std_items": "標準データ項目カタログ（seeds/std_items.csv）: 業務・標準テーブル・標準項目ID・項目名・型・桁数・必須・"
                 "コード表・文字種・キー。標準テーブル・ギャップ・検査はすべてここから生成する。",
    "std_codes": "標準コード表（seeds/std_codes.csv）: コード表ごとのコード値と名称。コード変換と値の検査に使う。",
    "std_item_ranges": "標準項目の値の範囲と根拠（seeds/std_item_ranges.csv）: 範囲外の値をデータ差異として数える。",
    "finding_rules": "指摘の規則（seeds/finding_rules.csv）: 規則ごとの区分・重大度・名称・説明。",
    "gap_kinds": "ギャップの種類（seeds/gap_kinds.csv）: 仕様差異・データ差異の区分と名称。",
    "eras": "元号表（seeds/eras.csv）: 和暦の日付を西暦に変換する。",
    "code_maps": "コード変換表（seeds/code_maps.csv、mappings/*/mapping.yaml の codemaps から生成）: 現行システムの"
                 "コード値ごとの標準コード値。中間モデルが結合して変換する。",
    "charset_extra": "行政事務標準文字に加える文字（seeds/charset_extra.csv）: かな・英数字・記号など MJ 以外の文字。",
}

# per layer (model name prefix), what a system's model is, in one Japanese sentence
_SYSTEM_LAYER_JA = {
    "gaps_": {"items": "標準データ項目ごとの対応状況（対応済み・一部・移行元なし）と移行元の項目（系譜）",
              "spec": "仕様差異: 標準データ要件と移行元の仕様の違い（項目・コード値・移行元だけの項目）",
              "data": "データ差異: 変換できない値・桁あふれ・範囲外・未対応コード・必須の欠落を、項目と種類ごとに件数で"},
    "conf_": {"chars": "行政事務標準文字にない文字の出現（文字・項目ごとの件数）",
              "findings": "項目の規則とキー（一意性・参照先）の適合状況（規則ごとの件数）",
              "mynumber_audit": "マイナンバー紐付け点検: 各レコードの4情報と個人番号の住民記録との照合"},
    "fnd_": {"": "指摘台帳: 対象レコード（内部キー）と規則ごとに1行、件数の上限なし",
             "chars": "標準の文字項目のうち行政事務標準文字でない文字を含むレコード（内部キー）"},
}


class KikanTranslator(DagsterDbtTranslator):
    """Keys by layer, groups by system (the model's meta), owners by the system's 所管課 (mappings/
    city.yaml ``owner_team``), descriptions in Japanese from the catalog: never the model's SQL,
    which says nothing to the ICT office (and dagster-dbt shows it when a model has no description)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        rtype = dbt_resource_props["resource_type"]
        name = dbt_resource_props["name"]
        if rtype == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], name])
        if rtype == "seed":
            return dg.AssetKey(["reference", name])
        layer = next((v for k, v in LAYER_PREFIXES.items() if name.startswith(k)), "dbt")
        return dg.AssetKey([layer, name])

    @staticmethod
    def _meta(dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        return dbt_resource_props.get("config", {}).get("meta", {}) or dbt_resource_props.get("meta", {}) or {}

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        meta = self._meta(dbt_resource_props)
        return meta.get("group") or meta.get("system") or "reference"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        system = self._meta(dbt_resource_props).get("system")
        city = cached_project().city
        return [city.system(system).dagster_owner if system else city.city.ict_office_owner]

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        system = self._meta(dbt_resource_props).get("system")
        city = cached_project().city
        return {**super().get_metadata(dbt_resource_props),
                "owner_department": city.system(system).owner if system else city.city.ict_office}

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        name = dbt_resource_props["name"]
        if dbt_resource_props["resource_type"] == "seed":
            return SEED_DESCRIPTIONS.get(name) or f"参照データ（seeds/{name}.csv）"
        system_id = self._meta(dbt_resource_props).get("system")
        if not system_id:
            return dbt_resource_props.get("description") or f"全システム共通のモデル {name}"
        s = cached_project().city.system(system_id)
        suffix = name.split("__", 1)[1] if "__" in name else ""
        tables = cached_mappings().for_system(system_id)
        owner = f"所管課: {s.owner}。"
        if name.startswith("std_"):
            t = next(t for t in tables if f"std_{t.std.business_id}__{t.std.table_id}" == name)
            business = cached_project().city.business(t.std.business_id).name
            return (f"{business}「{t.std.table_name}」の標準テーブル（標準データ項目 {len(t.std.items)}）: "
                    f"移行元 {s.name}「{t.source.label}」（{t.source.file}）を標準データ要件の項目・型・コードに写したもの。"
                    + owner)
        if name.startswith("int_"):
            t = next(t for t in tables if t.std.table_id == suffix)
            return (f"{s.name}「{t.source.label}」を標準テーブル「{t.std.table_name}」に写す中間モデル: "
                    "項目ごとの写像式・コード変換の値と、変換できなかった値のフラグ。" + owner)
        if name.startswith("stg_"):
            label = next((lf.label for lf in cached_project().layouts[system_id].files if lf.table == suffix), suffix)
            return f"{s.name}「{label}」の staging モデル: 型変換・和暦変換・カナ全角化・外字同定の適用。" + owner
        if name.startswith("recon_"):
            return (f"{s.name}の突合: 件数・人数・金額・区分ごとに移行元と標準テーブルを照合した結果"
                    "（移行可否判定の基準）。" + owner)
        for prefix, sentences in _SYSTEM_LAYER_JA.items():
            if name.startswith(prefix) and suffix in sentences:
                return f"{s.name}の{sentences[suffix]}。" + owner
        return f"{s.name}のモデル {name}。" + owner


def load_dbt_project() -> DbtProject:
    """The generated dbt project as it is on disk, without generating or parsing anything.

    Generation and ``dbt parse`` are an explicit step (``kikan generate``, and ``kikan run`` and
    the mapping step itself when ``mappings/`` or ``seeds/`` changed: :func:`dbt_project.prepare`);
    loading the definitions only reads the manifest, and says what to run when it is missing."""
    dbt_dir = settings().dbt_dir
    project = DbtProject(project_dir=dbt_dir, profiles_dir=dbt_dir)
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"{project.manifest_path}: dbt の manifest がない。`kikan generate` を実行する / "
            "the dbt manifest is missing: run `kikan generate` (the README's first command does)")
    return project


def _model_ids(manifest_path: Path) -> set[str]:
    nodes = json.loads(Path(manifest_path).read_text(encoding="utf-8")).get("nodes") or {}
    return {k for k, v in nodes.items() if v.get("resource_type") in ("model", "seed")}


dbt_project = load_dbt_project()
TRANSLATOR = KikanTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _keep_partial_parse(project: DbtProject, run_target: Path) -> None:
    """Carry this build's parse state back to ``dbt/target`` for the next rehearsal.

    dagster-dbt runs each invocation in a fresh target folder and seeds it with
    ``dbt/target/partial_parse.msgpack``. The profile names no warehouse (the plugin in
    ``duck_dbt`` attaches it), so a parse state is valid for every warehouse, and the build's own
    is the newest: the next build, and the overview's ``dbt docs generate``, re-check the files'
    checksums instead of parsing all 400 nodes. It is a saving only: a copy that cannot be
    written (a full disk) is removed and the step goes on.
    """
    src = Path(run_target) / "partial_parse.msgpack"
    if not src.exists():
        return
    dest = Path(project.project_dir) / "target" / "partial_parse.msgpack"
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except OSError:
        tmp.unlink(missing_ok=True)


# the build folders dagster-dbt leaves under dbt/target, one per rehearsal (16 MB each at the
# default catalog: compiled SQL, manifest, run results); the newest few are kept for reading
KEEP_TARGETS = 5


def _prune_targets(run_target: Path, keep: int = KEEP_TARGETS) -> None:
    """Remove all but the ``keep`` newest build folders of this step (``<step>-<run>-<hash>``,
    this run's always kept): a daily schedule otherwise grows dbt/target by one folder a day. A
    folder another process is still writing is at worst left half-removed; nothing reads old ones."""
    run_target = Path(run_target)
    prefix = run_target.name.split("-")[0] + "-"
    folders = [p for p in run_target.parent.glob(prefix + "*") if p.is_dir() and p != run_target]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[keep - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def _model_key(manifest: Mapping[str, Any], unique_id: str) -> dg.AssetKey | None:
    node = (manifest.get("nodes") or {}).get(unique_id)
    if not node or node.get("resource_type") not in ("model", "seed", "snapshot"):
        return None
    return TRANSLATOR.get_asset_key(node)


def _gate_inputs(context: dg.AssetExecutionContext, built_here: set[dg.AssetKey]) -> dict[str, set[dg.AssetKey]]:
    """Per system gate in this run, the assets of this step that its gate waits for (standard,
    gaps, conformance, reconciliation models, directly or through the report steps): walked up the
    job's asset graph from the gate through the assets other steps make."""
    graph = context.job_def.asset_layer.asset_graph
    out = {}
    for system in cached_project().city.systems:
        gate = gate_key(system.id)
        if not graph.has(gate):
            continue
        todo, seen, found = [gate], set(), set()
        while todo:
            k = todo.pop()
            if k in seen or not graph.has(k):
                continue
            seen.add(k)
            if k in built_here:
                found.add(k)
            else:
                todo.extend(graph.get(k).parent_keys)
        out[system.id] = found
    return out


# judges one system's gate in this run: (system, run id, warehouse, readiness) -> a judgement with
# .status and .phase; the readiness stage's judge_gate, bound in definitions.py
GateJudge = Callable[[str, str, WarehouseResource, ReadinessResource], Any]
# what to start once the warehouse is built without a failed model: (step context, warehouse); the
# conformance stage's start_ahead (its GX child), bound in definitions.py
AfterBuild = Callable[[dg.AssetExecutionContext, WarehouseResource], None]


def build_mapping_stage(project: DbtProject, name: str = "mapping_stage",
                        judge_gate: GateJudge | None = None, after_build: AfterBuild | None = None) -> dg.AssetsDefinition:
    """The ``dbt build`` step over ``project`` (the generated project; tests pass a copy).

    ``judge_gate`` judges the gate of a system whose models failed (Dagster skips that gate's step);
    without it the failures are recorded and shown, and no gate is judged here. ``after_build`` is
    called when every node built (after the failures table is written: the last write of the step)."""
    loaded = _model_ids(project.manifest_path)

    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=TRANSLATOR, name=name)
    def _stage(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
               readiness: ReadinessResource):
        """`dbt build`: the models and their tests, on the warehouse the resource names."""
        if Path(project.project_dir).resolve() == settings().dbt_dir.resolve():
            prepare()   # mappings/ or seeds/ changed since the last generation: regenerate and re-parse
            if _model_ids(project.manifest_path) != loaded:
                raise dg.Failure(description="mappings/ の変更でモデルが増減した: 定義を読み直す（Dagster UI の Reload、"
                                             "または kikan run）/ models were added or removed since the definitions "
                                             "loaded: reload the code location")
        # dbt's plugin (duck_dbt) attaches the warehouse KIKAN_WAREHOUSE names; the dbt process
        # inherits this environment
        os.environ.update(settings().dbt_env(warehouse.db_path))
        # no dbt.log: dbt's debug log repeats every error text, and the run log has the redacted stream
        invocation = dbt.cli(["build", "--log-level-file", "none"], context=context, raise_on_error=False)
        redacted = redact_invocation(invocation, invocation.manifest)
        yield from invocation.stream()
        _keep_partial_parse(project, invocation.target_path)
        _prune_targets(invocation.target_path)
        results_path = Path(invocation.target_path) / "run_results.json"
        if not results_path.exists():
            # dbt stopped before building anything (a profile, a parse, a full disk): no system's fault
            why = redacted.reasons[0] if redacted.reasons else "理由は実行ログを参照 / see the run log"
            if redacted.disk_full:
                raise diskspace.failure(diskspace.DiskFull.at(warehouse.db_path, warehouse.legacy_path))
            raise dg.Failure(description=f"dbt が実行できなかった（終了コード {invocation.process.returncode}）: {why}",
                             metadata={"exit_code": invocation.process.returncode})
        manifest = invocation.manifest
        run_results = redact_run_results(results_path, manifest)
        failures = failures_of(run_results, manifest)
        if any(f.rule == "disk_full" for f in failures):
            raise diskspace.failure(diskspace.DiskFull.at(warehouse.db_path, warehouse.legacy_path))
        ran = [r["unique_id"] for r in run_results.get("results") or []]
        # forget what is recorded of nodes the project no longer has (the whole manifest, not the subset)
        known = json.loads(Path(project.manifest_path).read_text(encoding="utf-8")).get("nodes") or {}
        record_failures(warehouse.db_path, context.run_id, ran, failures, known=known)
        errors = [f for f in failures if f.status == "error"]
        if not errors:
            if after_build is not None:
                after_build(context, warehouse)
            return
        skipped = [f for f in failures if f.status == "skipped"]
        for f in errors:
            key = _model_key(manifest, f.unique_id)
            dependents = [x for x in skipped if f.node in (x.upstream or "").split(", ")]
            metadata = {"dbt_status": "error", "system": f.system or "", "rule": f.rule,
                        "column": f.column_name or "", "reason": f.reason, "node": f.node,
                        "resource_type": f.resource_type, "skipped_dependents": len(dependents)}
            if key is not None:
                context.log_event(dg.AssetObservation(asset_key=key, metadata=metadata))
            context.log.error(f"dbt: {f.reason}; 依存する {len(dependents)} ノードは未実行 / "
                              f"{len(dependents)} dependent node(s) skipped")
        # Dagster skips the gate of a system whose gate reads a model that was not built: judge it
        # here (NO-GO, 移行処理の完了 names the model), in this rehearsal, so the failure is on record
        unbuilt = {k for k in (_model_key(manifest, f.unique_id) for f in failures) if k is not None}
        selected = context.job_def.asset_layer.selected_asset_keys
        built_here = set(context.assets_def.keys)
        for system, inputs in sorted(_gate_inputs(context, built_here).items()):
            gate = gate_key(system)
            if judge_gate is None or not (inputs & unbuilt) or gate not in selected:
                continue    # its gate step runs, and reads the failures itself
            j = judge_gate(system, context.run_id, warehouse, readiness)
            context.log.error(f"{system}: 移行可否判定 {j.status}（{j.phase}）: モデルの失敗・未実行 "
                              f"{sum(1 for f in failures if f.system == system)} 件 / gate judged {j.status}: "
                              "models failed or were skipped")

    return _stage




class KikanDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without the two things it does before every ``dbt`` command that
    the project never uses: 3.2 s per dbt command (a rehearsal's dbt step runs one), whatever the
    city's size.

    - ``dbt --version`` in a subprocess (1.9 s: a Python start and dbt's import), to tell dbt Core
      from the Fusion engine. The executable is this environment's own (``dbt_executable``: the
      ``dbt`` script pip installed beside this interpreter, which runs this interpreter's dbt-core),
      so its version is the dbt-core imported here (``DBT_PYTHON_VERSION``).
    - a dbt adapter made in this process (1.3 s: the project's config and macros loaded), which
      dagster-dbt uses only to fetch row counts and column metadata after the build
      (``fetch_row_counts`` / ``fetch_column_metadata``, not called here: the row counts the owners
      and the ICT office see come from the project's own queries).

    With another dbt on the PATH (no ``dbt`` beside the interpreter) both are done as dagster-dbt
    does them."""

    @cached_property
    def _cli_version(self):
        if not is_own_dbt(self.dbt_executable):
            return super()._cli_version
        from dagster_dbt.compat import DBT_PYTHON_VERSION

        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args):
        return super()._initialize_dbt_core_adapter(args) if not is_own_dbt(self.dbt_executable) else None


def build_defs(judge_gate: GateJudge | None = None, after_build: AfterBuild | None = None) -> dg.Definitions:
    """The mapping stage's definitions; ``definitions.py`` passes the readiness stage's gate judge
    and the conformance stage's start of GX."""
    return dg.Definitions(
        assets=[build_mapping_stage(dbt_project, judge_gate=judge_gate, after_build=after_build)],
        resources={"dbt": KikanDbtCliResource(
            project_dir=dbt_project, profiles_dir=str(dbt_project.project_dir), dbt_executable=dbt_executable())},
    )
