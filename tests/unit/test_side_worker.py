"""The second core (core.side): a report's workbook written in the side worker while its HTML twin
renders here, replaced together or not at all; and the GX child started ahead of its step, which
never outlives the run that started it."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dagster_project.core import atomic, side


def test_the_worker_is_another_process_and_the_switch_keeps_it_here(monkeypatch):
    assert side.submit(os.getpid).result() != os.getpid()
    monkeypatch.setenv("KIKAN_SIDE_WORKER", "0")
    assert side.submit(os.getpid).result() == os.getpid()


def test_files_written_in_the_worker_and_here_are_replaced_together(tmp_path):
    a, b = tmp_path / "book.xlsx", tmp_path / "book.html"
    a.write_text("old a", encoding="utf-8")
    b.write_text("old b", encoding="utf-8")
    atomic.write_files({a: atomic.InWorker(Path.write_text, ("新しい a", "utf-8")),
                        b: lambda p: p.write_text("新しい b", encoding="utf-8")})
    assert a.read_text(encoding="utf-8") == "新しい a" and b.read_text(encoding="utf-8") == "新しい b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.html", "book.xlsx"]


@pytest.mark.parametrize("fails", ["worker", "here"])
def test_a_writer_that_fails_in_either_place_leaves_both_old_files_and_no_temporary(tmp_path, fails):
    a, b = tmp_path / "book.xlsx", tmp_path / "book.html"
    a.write_text("old a", encoding="utf-8")
    b.write_text("old b", encoding="utf-8")

    def here(p: Path) -> None:
        if fails == "here":
            raise ValueError("the twin failed")
        p.write_text("new b", encoding="utf-8")

    in_worker = atomic.InWorker(Path.write_text, (12345,) if fails == "worker" else ("new a",))
    with pytest.raises(TypeError if fails == "worker" else ValueError):
        atomic.write_files({a: in_worker, b: here})
    assert a.read_text(encoding="utf-8") == "old a" and b.read_text(encoding="utf-8") == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.html", "book.xlsx"]


def test_the_gx_child_started_ahead_dies_with_the_run_that_started_it(tmp_path):
    """A run killed while its GX child validates must not leave the child holding the warehouse
    (read only: the next run's extract could not write). The parent here starts a child that would
    sleep a minute, and exits; the child's watch ends it."""
    pid_file = tmp_path / "child.pid"
    parent = textwrap.dedent(f"""
        import os, subprocess, sys
        child = subprocess.Popen([sys.executable, "-c",
            "import os, time; from dagster_project.conformance.gx_suites import _watch_parent; "
            "_watch_parent(os.getppid()); open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"])
        import time
        while not os.path.exists({str(pid_file)!r}):
            time.sleep(0.05)
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", parent], check=True, timeout=120)
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), "the GX child outlived its parent"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(") ", 1)[1][0] != "Z"   # a zombie has ended (its parent is gone; init reaps it)
