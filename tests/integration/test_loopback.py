"""Access: `tasks.py dev` (the Dagster UI, its daemon and code server) listens on loopback only.

The front door is started as users start it; once the UI answers, every TCP socket any process
of its tree listens on is read from /proc and must be bound to 127.0.0.1 (or ::1).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dagster_project.bench import process_tree

ROOT = Path(__file__).resolve().parents[2]


def _listening(pids: set[int]) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket owned by these processes."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    out = []
    for table, fam in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:    # 0A = LISTEN
                continue
            addr_hex, port_hex = f[1].split(":")
            raw = bytes.fromhex(addr_hex)
            if fam == socket.AF_INET:
                addr = socket.inet_ntop(fam, raw[::-1])
            else:
                addr = socket.inet_ntop(fam, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            out.append((addr, int(port_hex, 16)))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dagster_ui_and_its_servers_listen_on_loopback_only(tmp_path):
    port = _free_port()
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path / "home"), KIKAN_VAR_DIR=str(tmp_path / "var"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    proc = subprocess.Popen([sys.executable, str(ROOT / "tasks.py"), "dev", "-p", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, up = time.time() + 180, False
        while time.time() < deadline and not up:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as r:
                    up = r.status == 200
            except OSError:
                assert proc.poll() is None, "dagster dev exited"
                time.sleep(1)
        assert up, "the UI never answered on 127.0.0.1"
        time.sleep(3)   # the daemon and the code server are up by now
        sockets = _listening(set(process_tree(proc.pid)))
        assert (("127.0.0.1", port) in sockets), sockets
        exposed = [s for s in sockets if s[0] not in ("127.0.0.1", "::1")]
        assert exposed == [], f"listening beyond loopback: {exposed}"
        # the ICT office's view of a gate, with the network cut: the UI asks for nothing outside
        # itself, and the gate's page carries its Japanese description and its 所管課 as owner
        shots = tmp_path / "screenshots"
        shots.mkdir()
        node_dir = Path(os.environ.get("KIKAN_NODE_DIR") or ROOT / "node")
        seen = json.loads(subprocess.run(
            ["node", str(ROOT / "tests" / "browser" / "dagster_ui.mjs"), f"http://127.0.0.1:{port}", str(shots),
             "readiness/gate_jumin", "住民記録システムの移行可否判定"], cwd=node_dir.parent, env=dict(os.environ, KIKAN_NODE_DIR=str(node_dir)),
            capture_output=True, text=True, timeout=300, check=True).stdout)
        assert seen["gate"]["blocked"] == [] and seen["runs"]["blocked"] == [], seen
        gate = seen["gate"]["text"]
        assert "住民記録システムの移行可否判定" in gate, gate[:2000]
        from dagster_project.spec.config import cached_project

        assert cached_project().city.system("jumin").dagster_owner.split(":", 1)[1] in gate, gate[:2000]
        assert (shots / "dagster_gate.png").stat().st_size > 10_000
        out = ROOT / "var" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        for f in shots.glob("*.png"):
            f.replace(out / f.name)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
