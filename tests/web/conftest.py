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

LOOPBACK = ("127.0.0.1", 50123)
LOOPBACK_URL = "http://127.0.0.1"
"""A loopback_open app answers only to loopback host names (DNS rebinding), not to ``testserver``."""

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
    with TestClient(app, client=LOOPBACK, base_url=LOOPBACK_URL, follow_redirects=False) as c:
        yield c


@pytest.fixture
def csrf(client: TestClient) -> str:
    """A CSRF token bound to the client's cookie (from a first page view)."""
    return csrf_from(client.get("/assess").text)


@pytest.fixture
def breast_patient() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "breast_t12_mechanical.json").read_text())
    return data


# --- a real server and a real browser (end-to-end tests) ----------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs the Debian chromium package at /usr/bin/chromium (scripts/install-sysdeps.sh installs it)",
)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving the real app on a free loopback port with a fresh SQLite database."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    data = tmp_path_factory.mktemp("web-e2e")
    env = {
        **os.environ,
        "SPINEMETS_DATA_DIR": str(data),
        "SPINEMETS_AUTH_MODE": "loopback_open",
        "SPINEMETS_HOST": "127.0.0.1",
        "SPINEMETS_PORT": str(port),
    }
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "spinemets.service.asgi:app_from_environment",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/assess", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    raise RuntimeError(
                        "server did not start:\n" + (data / "server.log").read_text()
                    ) from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


#: Runs before any page script: records every Content-Security-Policy violation the document reports.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push({directive: e.effectiveDirective, blocked: e.blockedURI,
                               sample: e.sample, source: e.sourceFile, line: e.lineNumber});
});
"""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A tablet-sized page (iPad landscape) that accepts downloads; no script error, console error
    or CSP violation may happen on it."""
    context = browser.new_context(viewport={"width": 1180, "height": 820}, accept_downloads=True)
    context.add_init_script(CSP_RECORDER)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    # A 422 answer to a form with an invalid entry is expected (it carries the error page).
    p.on(
        "console",
        lambda msg: (
            errors.append(msg.text) if msg.type == "error" and "status of 422" not in msg.text else None
        ),
    )
    try:
        yield p
        assert errors == [], f"browser errors: {errors}"
        if not p.url.startswith("about:"):
            assert p.evaluate("window.__cspViolations") == [], "CSP violations on the last page"
    finally:
        context.close()


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot as a test artefact (the Assess page's sticky score panel needs the viewport)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
