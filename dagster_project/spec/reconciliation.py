"""The tolerances of reconciliation (突合) between the legacy files and the standard tables:
the ``reconciliation`` section of ``mappings/readiness.yaml``. The SQL generator reads them to
write the reconciliation models; the gate reads the whole file (``readiness.gate``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from dagster_project.spec.config import _build, _read_yaml


class ReconConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    record_count_tolerance: int = Field(default=0, ge=0)
    person_count_tolerance: int = Field(default=0, ge=0)
    amount_tolerance: int = Field(default=0, ge=0)
    category_count_tolerance: int = Field(default=0, ge=0)


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    reconciliation: ReconConfig = Field(default_factory=ReconConfig)


def load_reconciliation(root: Path) -> ReconConfig:
    """The tolerances from ``<root>/readiness.yaml`` (defaults when the file or section is absent);
    a wrong value fails naming the file and field."""
    path = Path(root) / "readiness.yaml"
    if not path.exists():
        return ReconConfig()
    return _build(_Section, path, _read_yaml(path)).reconciliation
