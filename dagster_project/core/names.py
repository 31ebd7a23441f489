"""The project's names, in one place: the warehouse's table names, the model names of each
layer, the Dagster asset keys, where generated models go, and SQL literals. It imports nothing of
the project, so every stage can use it without importing another."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

GEN_MODELS = Path("models") / "generated"
GEN_MACROS = Path("macros") / "generated"


def q(s: str) -> str:
    """A SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def stg_name(system: str, table: str) -> str:
    return f"stg_{system}__{table}"


def int_name(t) -> str:
    return f"int_{t.std.business_id}__{t.std.table_id}"


def std_name(t) -> str:
    return f"std_{t.std.business_id}__{t.std.table_id}"


def fnd_name(system: str) -> str:
    """The system's findings ledger model; ``<it>__chars`` holds its characters outside the standard set."""
    return f"fnd_{system}"


# --------------------------------------------------------------------------- the warehouse's tables

def raw_table(system: str, table: str) -> str:
    """A current system's export file as extracted, one row per record."""
    return f"{system}__{table}"


def quarantine_table(system: str) -> str:
    """A system's records that could not be read, with the file, line, field and reason."""
    return f"{system}__quarantine"


# model name prefix -> layer (the first part of a model's asset key)
LAYER_PREFIXES = {"stg_": "staging", "int_": "intermediate", "std_": "standard", "gaps_": "gaps",
                  "conf_": "conformance", "recon_": "readiness", "fnd_": "findings", "findings": "findings"}


# --------------------------------------------------------------------------- asset keys

def raw_key(system: str, table: str) -> dg.AssetKey:
    """``["raw", "<system>__<table>"]``: equal to the dbt source key of the raw table, so
    dagster-dbt connects the lineage (STACK.md)."""
    return dg.AssetKey(["raw", raw_table(system, table)])


def quarantine_key(system: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", quarantine_table(system)])


def model_key(layer: str, model: str) -> dg.AssetKey:
    """A dbt model's key: ``[layer, model]``."""
    return dg.AssetKey([layer, model])


def gate_key(system: str) -> dg.AssetKey:
    return dg.AssetKey(["readiness", f"gate_{system}"])


def export_key(system: str) -> dg.AssetKey:
    return dg.AssetKey(["exports", f"package_{system}"])


def report_key(report: str, system: str) -> dg.AssetKey:
    """A system's report for its owner: ``gap_report``, ``gaiji_list``, ``owner_workbook``."""
    return dg.AssetKey(["reports", f"{report}_{system}"])


OVERVIEW_KEY = dg.AssetKey(["reports", "readiness_overview"])
