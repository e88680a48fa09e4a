"""``spinemets serve --workers N``: one listening socket per worker, so keep-alive clients spread out.

With uvicorn's shared socket, the first worker to wake accepted every waiting connection; 16
keep-alive connections then sometimes all sat on one of two workers (the other idle). Here each
worker binds its own SO_REUSEPORT socket and the kernel assigns connections by address hash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from spinemets.service.pgtemp import free_port
from spinemets.service.workers import STARTUP_GRACE_S, balanced_sockets_supported

pytestmark = pytest.mark.skipif(
    not balanced_sockets_supported(), reason="SO_REUSEPORT balancing is Linux only"
)


def _serve(tmp_path: Path, port: int, workers: int, name: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINEMETS_")}
    env.update({"SPINEMETS_DATA_DIR": str(tmp_path / "data"), "SPINEMETS_AUTH_MODE": "loopback_open"})
    cmd = [sys.executable, "-c", "from spinemets.cli import main; main()", "serve", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    with (tmp_path / f"{name}.log").open("ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, workers: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited early"
        children = psutil.Process(proc.pid).children()
        listening = [c for c in children if any(k.status == psutil.CONN_LISTEN for k in c.net_connections())]
        if len(listening) == workers:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                    return listening
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise AssertionError("workers did not start")


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, list[psutil.Process]]]:
    port = free_port()
    proc = _serve(tmp_path, port, 2, "server")
    try:
        yield proc, port, _wait_ready(proc, port, 2)
    finally:
        proc.terminate()
        proc.wait(30)


def test_each_worker_listens_on_its_own_socket_and_keep_alive_connections_spread(two_workers) -> None:
    _proc, port, workers = two_workers
    sockets = {w.pid: [k for k in w.net_connections() if k.status == psutil.CONN_LISTEN] for w in workers}
    assert all(len(s) == 1 and s[0].laddr.port == port for s in sockets.values()), sockets
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(16)]
    try:
        for c in clients:
            assert c.get("/api/v1/health").status_code == 200
        local_ports = {
            k.laddr.port
            for c in clients
            for k in psutil.Process().net_connections()
            if k.raddr and k.raddr.port == port and k.status == psutil.CONN_ESTABLISHED
        }
        served_by: Counter[int] = Counter()
        for w in workers:
            for k in w.net_connections():
                if k.status == psutil.CONN_ESTABLISHED and k.raddr and k.raddr.port in local_ports:
                    served_by[w.pid] += 1
        # The kernel hashes each connection to a socket: all 16 on one worker has odds of 1 in 32,768.
        assert sum(served_by.values()) == 16 and len(served_by) == 2, served_by
    finally:
        for c in clients:
            c.close()


def test_a_second_server_on_the_same_port_is_refused(two_workers, tmp_path: Path) -> None:
    _proc, port, _workers = two_workers
    second = _serve(tmp_path, port, 2, "second")
    assert second.wait(60) == 2
    log = (tmp_path / "second.log").read_text()
    assert f"error: port must be a port nothing else listens on at 127.0.0.1; got {port}" in log
    assert "choose another port with --port" in log and "serving at" not in log  # refused before the banner


def test_sigterm_stops_every_worker(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, port, 2, "server")
    workers = _wait_ready(proc, port, 2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive and len(gone) == 2


def test_a_worker_that_dies_is_replaced(two_workers) -> None:
    proc, port, workers = two_workers
    # A worker that dies within STARTUP_GRACE_S of its start counts as a failed start-up (the
    # server stops); one that dies later is replaced.
    time.sleep(STARTUP_GRACE_S + 0.5)
    victim = workers[0]
    victim.kill()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = {c.pid for c in psutil.Process(proc.pid).children() if c.is_running()}
        if victim.pid not in children and len(children) == 2:
            break
        time.sleep(0.2)
    replacement = _wait_ready(proc, port, 2)
    assert victim.pid not in {w.pid for w in replacement}
    assert proc.poll() is None
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200
