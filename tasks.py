#!/usr/bin/env python3
"""The front door, with nothing but Python 3.11 and pip (no make needed).

    python3.11 tasks.py demo [--residents N] [--seed S]   install, simulate, run the main job
    python3.11 tasks.py test [pytest args]                the whole test suite (CI runs this)
    python3.11 tasks.py dev                               Dagster UI on http://127.0.0.1:3000
    python3.11 tasks.py simulate [...]                    the legacy-city simulator
    python3.11 tasks.py bench [--residents N ...]         the designated-city benchmark (default 817,000)
    python3.11 tasks.py spark [--systems ...]             jumin and zeimu on local Spark, against DuckDB
    python3.11 tasks.py fuzz [--harness NAME] [--seconds N]  coverage-guided fuzzing (atheris) of the
                                                          extractor per layout family and the value readers

The first call creates ``.venv`` and installs the pinned project into it
(``pip install -c constraints.txt -e .[test]``); later calls reinstall only when
``pyproject.toml`` or ``constraints.txt`` changed. ``test`` and ``spark`` also install the
optional Spark target (dbt-spark, pyspark: a 456 MB download, once) into the same ``.venv``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
SPARK_STAMP = VENV / ".installed-spark"
FUZZ_STAMP = VENV / ".installed-fuzz"


def _fingerprint() -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt", "node/package-lock.json"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def _pip_install(extras: str) -> None:
    """The project, editable, with these extras, every version from constraints.txt."""
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-c", "constraints.txt", "-e", f".[{extras}]"], cwd=ROOT, check=True)


def ensure_env() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"tasks.py needs Python 3.11 (this is {sys.version.split()[0]}): run it as python3.11 tasks.py")
    want = _fingerprint()
    if STAMP.exists() and STAMP.read_text().strip() == want:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    print("installing the pinned project (first time: about a minute) ...", flush=True)
    _pip_install("test")
    # the MJ文字情報一覧表 (SQLite, shipped inside the npm package; no install scripts run)
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is needed for the reference character data (@mandel59/mojidata): install node and npm")
    print("installing the pinned reference data from npm ...", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                   cwd=ROOT / "node", check=True)
    STAMP.write_text(want)


def ensure_spark() -> None:
    """The optional distributed-engine target (``pip install -e .[spark]``), for tests and ``spark``."""
    want = _fingerprint()
    if SPARK_STAMP.exists() and SPARK_STAMP.read_text().strip() == want:
        return
    if shutil.which("java") is None:
        print("warning: no java on PATH: the Spark target (and its test) needs a Java 17 runtime", flush=True)
    print("installing the Spark target (dbt-spark, pyspark; first time: about a minute) ...", flush=True)
    _pip_install("test,spark")
    SPARK_STAMP.write_text(want)


def ensure_fuzz() -> None:
    """atheris (the optional ``fuzz`` extra, pinned), installed the first time ``fuzz`` is asked for."""
    want = _fingerprint()
    if FUZZ_STAMP.exists() and FUZZ_STAMP.read_text().strip() == want:
        return
    print("installing the fuzzing extra (atheris) ...", flush=True)
    _pip_install("test,fuzz")
    FUZZ_STAMP.write_text(want)


def fuzz(rest: list[str]) -> int:
    """Each harness (or the one named) under atheris for ``--seconds``; every input that fails an
    oracle is copied into ``tests/fuzz/regressions/<harness>/``, which the normal suite replays."""
    import argparse
    import re

    ap = argparse.ArgumentParser(prog="tasks.py fuzz")
    ap.add_argument("--harness", action="append", help="one harness (repeatable); default: every harness")
    ap.add_argument("--seconds", type=int, default=120, help="per harness (default 120)")
    a, extra = ap.parse_known_args(rest)
    names = a.harness or subprocess.run(
        [str(BIN / "python"), "-c", "from tests.fuzz.harness import HARNESSES; print(*HARNESSES)"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    work = ROOT / "var" / "fuzz"
    results = []
    for name in names:
        print(f"--- fuzz {name}: {a.seconds} s", flush=True)
        proc = subprocess.Popen([str(BIN / "python"), "-m", "tests.fuzz.fuzz", "--harness", name,
                                 "--seconds", str(a.seconds), "--work", str(work), *extra],
                                cwd=ROOT, env=_env(), stderr=subprocess.PIPE, text=True, errors="replace")
        stats: dict[str, str] = {}
        for line in proc.stderr:
            sys.stderr.write(line)
            m = re.match(r"stat::(\w+):\s*(\d+)", line)
            if m:
                stats[m.group(1)] = m.group(2)
        code = proc.wait()
        found = []
        for art in sorted((work / name / "artifacts").glob("*")):
            dest = ROOT / "tests" / "fuzz" / "regressions" / name / art.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(art, dest)
            art.unlink()
            found.append(dest.relative_to(ROOT))
        results.append((name, stats.get("number_of_executed_units", "?"), stats.get("average_exec_per_sec", "?"),
                        code, found))
    print(f"{'harness':12s} {'execs':>10s} {'exec/s':>7s}  result")
    for name, execs, rate, code, found in results:
        what = "no finding" if code == 0 and not found else f"exit {code}; new regression cases: " + (
            ", ".join(str(f) for f in found) or "none written")
        print(f"{name:12s} {execs:>10s} {rate:>7s}  {what}")
    return 1 if any(code != 0 or found for *_, code, found in results) else 0


BROWSER_PACKAGES = ["chromium", "fonts-noto-cjk"]   # Debian's; the overview test drives it with playwright-core
FONT_PACKAGES = ["fonts-ipamj-mincho"]   # Debian's IPAmj明朝: the 外字同定リスト draws characters in it
_apt_updated = False


def _can_apt() -> str | None:
    """apt-get's path when this process may install Debian packages (root), else None."""
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    return apt


def _apt_install(apt: str, packages: list[str], check: bool = True) -> bool:
    """``apt-get install`` (after one ``apt-get update`` per process); False if it failed."""
    global _apt_updated
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        if subprocess.run([apt, "-qq", "update"], check=check, env=env).returncode != 0:
            return False
        _apt_updated = True
    return subprocess.run([apt, "-qq", "install", "-y", "--no-install-recommends", *packages],
                          check=check, env=env).returncode == 0


def ensure_browser() -> None:
    """Chromium and a Japanese font for the overview's browser test, from Debian's packages."""
    if Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")).exists():
        return
    apt = _can_apt()
    if apt is None:
        print("warning: /usr/bin/chromium is missing and cannot be installed here (needs apt-get as root): "
              f"install {' '.join(BROWSER_PACKAGES)}, or the browser test fails", flush=True)
        return
    print(f"installing Debian's {' '.join(BROWSER_PACKAGES)} for the browser test ...", flush=True)
    _apt_install(apt, BROWSER_PACKAGES)


def _glyph_font() -> Path | None:
    """IPAmj明朝's file where conformance/glyphs.py looks for it ($KIKAN_GLYPH_FONT, the font folders)."""
    if os.environ.get("KIKAN_GLYPH_FONT"):
        p = Path(os.environ["KIKAN_GLYPH_FONT"])
        return p if p.is_file() else None
    for d in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts")):
        found = sorted(d.rglob("ipamjm*.ttf")) if d.is_dir() else []
        if found:
            return found[0]
    return None


def ensure_fonts() -> None:
    """IPAmj明朝 (Debian's fonts-ipamj-mincho) for the characters drawn in the 外字同定リスト; without
    it the pipeline still runs and the list says the character cannot be drawn."""
    if _glyph_font() is not None:
        return
    if os.environ.get("KIKAN_GLYPH_FONT"):
        print(f"warning: KIKAN_GLYPH_FONT={os.environ['KIKAN_GLYPH_FONT']} is not a file: "
              "the 外字同定リスト cannot draw characters", flush=True)
        return
    apt = _can_apt()
    why = "cannot be installed here (needs apt-get as root)"
    if apt is not None:
        print(f"installing Debian's {' '.join(FONT_PACKAGES)} (IPAmj明朝) for the 外字同定リスト ...", flush=True)
        if _apt_install(apt, FONT_PACKAGES, check=False) and _glyph_font() is not None:
            return
        why = "could not be installed (apt-get failed)"
    print(f"warning: IPAmj明朝 is missing and {why}: install {' '.join(FONT_PACKAGES)} or set "
          "KIKAN_GLYPH_FONT, else the 外字同定リスト cannot draw characters", flush=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # the instance `kikan run` records into (cli.dagster_home): the UI shows every rehearsal
    env.setdefault("DAGSTER_HOME", str(Path(env.get("KIKAN_VAR_DIR") or ROOT / "var") / "dagster_home"))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    # the instance holds runs over 特定個人情報: no usage telemetry leaves the machine
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return env


def run(argv: list[str]) -> int:
    return subprocess.run(argv, cwd=ROOT, env=_env()).returncode


def main(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    cmd, rest = args[0], args[1:]
    if cmd not in ("demo", "test", "dev", "simulate", "run", "setup", "bench", "spark", "fuzz"):
        print(__doc__)
        return 2
    ensure_env()
    if cmd == "setup":
        if "--spark" in rest:
            ensure_spark()
        return 0
    if cmd == "fuzz":
        ensure_fuzz()
        return fuzz(rest)
    if cmd in ("test", "spark"):
        ensure_spark()
    if cmd in ("demo", "run", "test"):
        ensure_fonts()
    if cmd == "test":
        ensure_browser()
        # two workers (one per core here; at most four), scheduled by tests/conftest.py: the
        # modules of the session city on one worker, each other module whole on either; the 25
        # slowest tests' own times are printed at the end, so CI shows where the suite's time goes
        return run([str(BIN / "pytest"), "--numprocesses", "auto", "--maxprocesses", "4",
                    "--dist", "loadscope", "--durations", "25", *rest])
    if cmd == "dev":
        return run([str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", "3000", *rest])
    return run([str(BIN / "kikan"), cmd, *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
