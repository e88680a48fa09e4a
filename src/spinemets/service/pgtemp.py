"""A throwaway PostgreSQL server on loopback, for the test suite and the benchmarks.

Uses the Debian server binaries (``initdb``, ``pg_ctl`` from ``/usr/lib/postgresql/<n>/bin``,
installed by ``make sysdeps``). The cluster lives in a temporary folder, listens only on
127.0.0.1 at a free port with trust authentication (nothing else can reach it), and is removed on
:meth:`TempPostgres.stop`. PostgreSQL refuses to run as root, so as root it runs as the
``postgres`` system user through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from spinemets.errors import SpinemetsError


class PostgresUnavailableError(SpinemetsError):
    """No PostgreSQL server binaries on this machine (run ``make sysdeps``)."""


def find_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<n>/bin`` holding initdb, or ``initdb`` on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailableError("PostgreSQL server binaries not found; run `make sysdeps`")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempPostgres:
    """Start with :meth:`start`, connect with :attr:`url`, end with :meth:`stop`."""

    def __init__(self, *, port: int | None = None, database: str = "spinemets") -> None:
        self.bindir = find_bindir()
        self.port = port or free_port()
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="spinemets-pg-"))
        self.datadir = self.root / "data"
        self._as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.root)

    def start(self) -> TempPostgres:
        """initdb, start on loopback, create the database; returns self."""
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
            "-c max_connections=200 -c fsync=on -c shared_buffers=64MB"
        )
        self._run("pg_ctl", "-D", str(self.datadir), "-o", opts, "-l", str(self.root / "log"), "-w", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database)
        return self

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            for _ in range(3):
                try:
                    shutil.rmtree(self.root)
                    break
                except OSError:
                    time.sleep(0.2)
