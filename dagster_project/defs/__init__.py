"""Dagster definitions, one sub-package per stage of the pipeline (DESIGN.md data flow)."""
