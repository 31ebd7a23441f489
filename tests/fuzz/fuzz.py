"""Coverage-guided fuzzing of one harness with atheris (libFuzzer), for ``python3.11 tasks.py fuzz``.

    .venv/bin/python -m tests.fuzz.fuzz --harness fixed_zoned --seconds 300 [--work var/fuzz]

Seeds come from ``tests/fuzz/corpus/<harness>/`` (read only) and the regression inputs; what the
fuzzer grows is kept in ``<work>/<harness>/corpus`` for the next campaign; an input that fails an
oracle (or raises anything but the project's refusal) is written to ``<work>/<harness>/artifacts/``,
and ``tasks.py fuzz`` copies it into ``tests/fuzz/regressions/<harness>/``, where the normal suite
replays it. Only the project's modules that read inputs are instrumented for coverage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["dagster_project.extract.reader", "dagster_project.core.textcodec",
                                         "dagster_project.core.wareki", "dagster_project.core.amounts"]):
    import dagster_project.core.amounts  # noqa: F401
    import dagster_project.extract.reader  # noqa: F401
    import dagster_project.core.textcodec  # noqa: F401
    import dagster_project.core.wareki  # noqa: F401

from tests.fuzz import harness  # noqa: E402


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--harness", required=True, choices=harness.HARNESSES)
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--work", type=Path, default=Path("var/fuzz"))
    a, extra = ap.parse_known_args(argv)
    name = a.harness
    work = (a.work / name).resolve()
    corpus, artifacts = work / "corpus", work / "artifacts"
    for d in (corpus, artifacts, harness.REGRESSIONS / name):
        d.mkdir(parents=True, exist_ok=True)
    harness.WORKDIR = work / "input"
    (work / "dict").write_text(harness.dictionary(name), encoding="utf-8")
    seeds = [str(d) for d in (harness.CORPUS / name, harness.REGRESSIONS / name) if d.is_dir()]

    def one(data: bytes) -> None:
        harness.check(name, data)

    args = [sys.argv[0], str(corpus), *seeds, f"-max_total_time={a.seconds}", f"-dict={work / 'dict'}",
            f"-artifact_prefix={artifacts}/", f"-max_len={harness.MAX_LEN[name]}", "-timeout=60",
            "-rss_limit_mb=3072", "-print_final_stats=1", "-print_pcs=0", *extra]
    atheris.Setup(args, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
