"""Fixtures for the clinician pages: the real app (``create_app``) on a temporary SQLite database.

``loopback_open`` mode with the test client calling from 127.0.0.1 stands for the single local
user; CSRF protection stays on, so every form post carries the token the page handed out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spinemets.service.app import create_app
from spinemets.service.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token a page put in its form."""
    match = _CSRF.search(html)
    if match is None:
        raise AssertionError("page has no csrf_token field")
    return match.group(1)


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(data_dir=tmp_path, auth_mode="loopback_open", host="127.0.0.1")


@pytest.fixture
def client(settings: ServiceSettings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 50123), follow_redirects=False) as c:
        yield c


@pytest.fixture
def csrf(client: TestClient) -> str:
    """A CSRF token bound to the client's cookie (from a first page view)."""
    return csrf_from(client.get("/assess").text)


@pytest.fixture
def breast_patient() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "breast_t12_mechanical.json").read_text())
    return data
