"""Durability: SIGKILL the server in the middle of a write burst; every acknowledged write survives.

A real server process (``spinemets serve``) takes concurrent create-assessment requests; once
enough have been acknowledged (HTTP 201) it is killed with SIGKILL while requests are still in
flight. After a restart every acknowledged assessment must be readable with the outputs that were
returned, and the audit chain must verify.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from spinemets.service.pgtemp import free_port

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "breast_t12_mechanical.json").read_text()
)


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-c", "from spinemets.cli import main; main()", "serve", "--port", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINEMETS_")}
    env.update({"SPINEMETS_DATA_DIR": str(tmp_path / "data"), "SPINEMETS_AUTH_MODE": "loopback_open"})
    if request.param == "postgresql":
        from .conftest import fresh_pg_url

        env["SPINEMETS_DATABASE_URL"] = fresh_pg_url(request.getfixturevalue("postgres_server"))
    yield env


def test_every_acknowledged_write_survives_sigkill(server_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    proc = _start(server_env, port, log)
    base = f"http://127.0.0.1:{port}/api/v1"
    acked: dict[str, dict] = {}
    lock = threading.Lock()
    stop = threading.Event()
    failures_after_kill = 0

    def worker(n: int) -> None:
        nonlocal failures_after_kill
        with httpx.Client(timeout=5) as http:
            i = 0
            while not stop.is_set():
                patient = {**EXAMPLE, "patient_id": f"K{n}-{i}"}
                i += 1
                try:
                    r = http.post(f"{base}/assessments", json={"patient": patient})
                except httpx.TransportError:
                    with lock:
                        failures_after_kill += 1
                    return
                if r.status_code == 201:
                    body = r.json()
                    with lock:
                        acked[body["id"]] = body

    with ThreadPoolExecutor(8) as pool:
        for n in range(8):
            pool.submit(worker, n)
        deadline = time.monotonic() + 30
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # mid-burst: the eight clients are still sending
        proc.wait(10)
        stop.set()
    assert len(acked) >= 150, log.read_text()
    assert failures_after_kill > 0  # requests really were in flight when the server died

    proc = _start(server_env, port, log)
    try:
        with httpx.Client(timeout=10) as http:
            for aid, body in acked.items():
                r = http.get(f"{base}/assessments/{aid}")
                assert r.status_code == 200, (aid, r.text)
                assert r.json()["outputs"] == body["outputs"] and r.json()["inputs"] == body["inputs"]
            report = http.get(f"{base}/audit/verify").json()
        assert report["ok"], report["problems"]
        assert report["versions_checked"] >= len(acked)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
