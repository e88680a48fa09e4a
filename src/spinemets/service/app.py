"""The app factory: ``create_app(settings)`` builds the whole service as one FastAPI app.

Layers, outermost first: security middleware (headers, CSRF, size limit, access log), signed
web sessions, then the routers: the REST API (``/api/v1``), login, and, when installed, the
clinician pages (:mod:`spinemets.web.routes`) and FHIR / CDS Hooks (:mod:`spinemets.service.ehr_routes`).
The store is opened (and migrated) when the app is created and closed when it shuts down.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.sessions import SessionMiddleware

import spinemets
from spinemets.errors import InvalidInputError
from spinemets.service import api, login, problems
from spinemets.service.auth import Authenticator
from spinemets.service.db import private_folder
from spinemets.service.security import SecurityMiddleware
from spinemets.service.settings import ServiceSettings, is_loopback, load_settings
from spinemets.service.storage import AssessmentStore

#: Routers included when their module exists (their extras installed): the clinician pages, and the
#: FHIR and CDS Hooks endpoints.
OPTIONAL_ROUTERS = ("spinemets.web.routes", "spinemets.service.ehr_routes")

log = logging.getLogger("spinemets.service")


SESSION_KEY_MIN_CHARS = 32
"""A session key file shorter than this is refused (a key made here has 64 characters)."""


def session_secret(settings: ServiceSettings) -> str:
    """The session signing key: from settings, or a random key kept (mode 0600) in the data folder.

    Worker processes may start together on a fresh data folder. Each writes a key to a temporary
    file and publishes it with ``os.link``, which fails when the name exists, so the file is never
    seen half written (an empty key would sign sessions anyone can forge) and every worker reads
    the one key published first.
    """
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    path = Path(settings.data_dir) / "session.key"
    if not path.exists():
        try:
            _publish_new_key(path)
        except OSError as exc:
            raise InvalidInputError(
                "data_dir",
                str(path.parent),
                "a folder spinemets can write (or set SPINEMETS_SESSION_SECRET)",
                exc.strerror or type(exc).__name__,
            ) from None
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < SESSION_KEY_MIN_CHARS:
        raise InvalidInputError(
            "session key file",
            f"{path} ({len(key)} characters)",
            f"at least {SESSION_KEY_MIN_CHARS} characters: delete the file to have a new key made, "
            "or set SPINEMETS_SESSION_SECRET",
        )
    return key


def _publish_new_key(path: Path) -> None:
    """Write a random key to a temporary file (mode 0600) and link it to ``path`` unless it exists."""
    private_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=".session.key.", dir=path.parent)
    try:
        try:
            os.write(fd, secrets.token_urlsafe(48).encode())
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # another worker was first: all use its key
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _optional_routers(app: FastAPI) -> list[str]:
    included = []
    for name in OPTIONAL_ROUTERS:
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except ModuleNotFoundError:
            continue
        module = importlib.import_module(name)
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
            included.append(name)
    return included


def create_app(settings: ServiceSettings | None = None, *, store: AssessmentStore | None = None) -> FastAPI:
    """Build the service; ``store`` lets tests share one open store between apps."""
    settings = settings or load_settings()
    logging.getLogger("spinemets").setLevel(settings.log_level.upper())
    owns_store = store is None
    if store is None:
        store = AssessmentStore(
            settings.effective_database_url, sqlite_synchronous=settings.sqlite_synchronous
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What is loaded by now (some 130,000 objects: models, rule set, point tables, routes) lives
        # as long as the process; the collector's full passes walked it all, a 60-70 ms pause in the
        # middle of a request every few thousand requests (the load test's p99 reached 100 ms).
        gc.freeze()
        yield
        gc.unfreeze()  # an app made by a test leaves nothing the collector cannot reach
        if owns_store:
            app.state.store.close()

    # FastAPIOffline: FastAPI with /docs and /redoc served from the package's own copy of Swagger UI
    # and ReDoc (a CDN is unreachable on many hospital networks, and the page was blank offline)
    app = FastAPIOffline(
        title="spinemets",
        version=spinemets.__version__,
        summary="Clinical decision support for spinal metastases: scores, plans, evidence.",
        description=(
            "REST API of spinemets. Authenticate with an API key (`Authorization: Bearer smk_...`); "
            "errors are RFC 9457 problem+json naming the field, the value and what is allowed."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.authenticator = Authenticator(store.engine)
    problems.install(app)
    https = settings.base_url.startswith("https://")
    # Off loopback the cookies travel over a network: Secure even without an https public_base_url
    # (behind a TLS proxy that was not named, a plain http:// request must not carry the session).
    secure = https or not is_loopback(settings.host)
    if secure and not https:
        log.warning(
            "bound to %s without an https:// public_base_url: cookies are marked Secure, so browsers "
            "sign in only over HTTPS; set public_base_url to the https:// URL users open",
            settings.host,
        )
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="spinemets_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=secure,
    )
    app.add_middleware(
        SecurityMiddleware,
        max_request_bytes=settings.max_request_bytes,
        secure_cookies=secure,
        hsts=https,
        allowed_hosts=settings.accepted_hosts,
    )
    app.include_router(api.router)
    app.include_router(login.router)
    app.state.optional_routers = _optional_routers(app)
    return app
