"""Worker processes that each listen on their own socket, so the kernel spreads connections evenly.

uvicorn's ``--workers`` shares one listening socket between the processes, and whichever process
wakes first accepts every connection waiting (up to the backlog). Clients that keep connections
open (an EHR's connection pool, a load balancer, the load test) can then all land on one worker
while the others idle: measured here, 16 keep-alive connections to 2 workers split 16/0 in one
start out of three, and such starts answered up to half as many requests per second. On Linux each
worker here binds its own ``SO_REUSEPORT`` socket instead, and the kernel assigns each new
connection to one of them by a hash of its addresses (a 16/0 split has odds of about 1 in 30,000).

The parent only supervises: it checks that the port is free, starts the workers (spawned, like
uvicorn's), restarts one that dies, stops them all on SIGINT/SIGTERM, and gives up when a worker
fails at start-up. Elsewhere (no ``SO_REUSEPORT`` load balancing) :func:`balanced_sockets_supported`
is False and the caller uses uvicorn's own supervisor.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from typing import Any

log = logging.getLogger("spinemets.workers")

#: A worker that exits within this many seconds of its start failed to start: the parent stops.
STARTUP_GRACE_S = 10.0
#: How long a stopping worker may take to finish its requests before it is killed.
STOP_TIMEOUT_S = 30.0


def balanced_sockets_supported() -> bool:
    """True where the kernel balances connections between ``SO_REUSEPORT`` sockets (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_port_free(host: str, port: int) -> None:
    """Raise OSError when something already listens on ``host:port`` (another spinemets included).

    The probe binds without ``SO_REUSEPORT``, which fails while any socket is bound to the address,
    so a second ``spinemets serve`` on the same port is refused instead of silently joining the first.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def reuseport_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that shares the port with the other workers."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _worker(options: dict[str, Any]) -> None:
    """One worker: its own socket, then uvicorn's server (which handles SIGTERM gracefully)."""
    import uvicorn

    config = uvicorn.Config(**options)
    sock = reuseport_socket(config.host, config.port, config.backlog)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(options: dict[str, Any], workers: int) -> int:
    """Run ``workers`` uvicorn workers on ``options["host"]:options["port"]``; returns the exit code.

    ``options`` are :class:`uvicorn.Config` keyword arguments (the app as an import string).
    """
    host, port = str(options["host"]), int(options["port"])
    try:
        check_port_free(host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc.strerror or exc)
        return 1
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start() -> tuple[multiprocessing.process.BaseProcess, float]:
        proc = context.Process(target=_worker, args=(options,), name="spinemets-worker")
        proc.start()
        return proc, time.monotonic()

    code = 0
    procs = [start() for _ in range(workers)]
    log.info("started %d workers on %s:%d, one listening socket each", workers, host, port)
    try:
        while not stop.wait(0.5):
            for i, (proc, started) in enumerate(procs):
                if proc.is_alive():
                    continue
                if time.monotonic() - started < STARTUP_GRACE_S:
                    log.error("worker %s exited at start-up (code %s); stopping", proc.pid, proc.exitcode)
                    code = 1
                    stop.set()
                    break
                log.warning("worker %s exited (code %s); starting another", proc.pid, proc.exitcode)
                procs[i] = start()
    finally:
        for proc, _ in procs:
            if proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc, _ in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
