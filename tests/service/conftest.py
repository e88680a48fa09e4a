"""Fixtures of the service tests: SQLite and a real PostgreSQL server, apps, clients, API keys.

The PostgreSQL server is started once per session on loopback in a temporary folder (Debian's
initdb/pg_ctl, see :mod:`spinemets.service.pgtemp`); every test gets a fresh database in it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

import spinemets
from spinemets.service.app import create_app
from spinemets.service.auth import Authenticator
from spinemets.service.pgtemp import PostgresUnavailableError, TempPostgres
from spinemets.service.settings import ServiceSettings, load_settings
from spinemets.service.storage import AssessmentStore

LOOPBACK = ("127.0.0.1", 50000)
LOOPBACK_URL = "http://127.0.0.1"
"""A loopback_open app answers only to loopback host names (DNS rebinding), not to ``testserver``."""
_db_counter = itertools.count()


def library_outputs(patient: Any, stored: dict[str, Any]) -> dict[str, Any]:
    """What ``spinemets.assess`` gives for ``patient``, stamped with the stored version's time.

    ``Assessment.created`` is the clock second of the computation, so a library call made beside a
    stored one may fall in the next second; every other field must match exactly.
    """
    created = stored["created"]
    assert dt.datetime.fromisoformat(created).tzinfo is not None, created
    return spinemets.assess(patient).model_dump(mode="json") | {"created": created}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TempPostgres]:
    try:
        server = TempPostgres()
    except PostgresUnavailableError as exc:
        pytest.skip(str(exc))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fresh_pg_url(server: TempPostgres) -> str:
    """A new empty database on the session's server."""
    name = f"t{next(_db_counter)}"
    with psycopg.connect(
        f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'spinemets.db'}"
    return fresh_pg_url(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(db_url: str) -> Iterator[AssessmentStore]:
    s = AssessmentStore(db_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    """Default settings (API keys required) with the data folder in a temporary directory."""
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
def app_store(settings: ServiceSettings) -> Iterator[AssessmentStore]:
    s = AssessmentStore(settings.effective_database_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def client(settings: ServiceSettings, app_store: AssessmentStore) -> Iterator[TestClient]:
    """A client of an app that requires API keys (loopback address)."""
    with TestClient(create_app(settings, store=app_store), client=LOOPBACK, base_url=LOOPBACK_URL) as c:
        yield c


@pytest.fixture
def keys(app_store: AssessmentStore) -> dict[str, str]:
    """One API key per scope, as Authorization headers."""
    auth = Authenticator(app_store.engine)
    return {
        scope: f"Bearer {auth.create_api_key(f'test {scope}', scope, created_by='test')[0]}"
        for scope in ("read", "write", "admin")
    }


@pytest.fixture
def open_client(tmp_path: Path) -> Iterator[TestClient]:
    """A client of an app in the single-user loopback mode (what `make run` starts)."""
    s = load_settings(data_dir=tmp_path / "open", auth_mode="loopback_open")
    with TestClient(create_app(s), client=LOOPBACK, base_url=LOOPBACK_URL) as c:
        yield c
