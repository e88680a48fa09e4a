"""FastAPI dependencies: the settings, the store, and who is calling with what scope.

Callers authenticate with an API key (``Authorization: Bearer smk_...`` or ``X-API-Key``) or a
web login session. In ``loopback_open`` mode a caller without credentials is the local user with
every scope, but only when the connection comes from a loopback address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from spinemets.service.auth import Authenticator, Principal, PrincipalKind, Scope
from spinemets.service.settings import AuthMode, ServiceSettings, is_loopback
from spinemets.service.storage import AssessmentStore

SESSION_USER = "user"
SESSION_TOKEN = "sid"
"""The login session's token in the signed cookie (the server keeps its hash: :meth:`.auth.Authenticator.start_session`)."""
LOCAL_USER = Principal(name="local", kind=PrincipalKind.local, scope=Scope.admin)


def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


def _authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


# The dependencies are coroutines only so that FastAPI does not send each one to a worker thread.


async def get_settings(request: Request) -> ServiceSettings:
    """The settings the app was created with."""
    return _settings(request)


async def get_store(request: Request) -> AssessmentStore:
    """The assessment store of this app."""
    store: AssessmentStore = request.app.state.store
    return store


async def get_authenticator(request: Request) -> Authenticator:
    """API keys and web users."""
    return _authenticator(request)


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.startswith("smk_"):
            return token.strip()
    return request.headers.get("x-api-key")


def optional_user(request: Request) -> Principal | None:
    """The caller, or None when nobody is authenticated (web pages use this to redirect to login).

    Key and session look-ups are cached (see :mod:`.auth`), so this rarely touches the database.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal: Principal | None = None
    authenticator = _authenticator(request)
    key = _presented_key(request)
    if key is not None:
        principal = authenticator.check_api_key(key)
        if principal is None:
            raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    elif "session" in request.scope and request.session.get(SESSION_USER):
        token = request.session.get(SESSION_TOKEN)
        if isinstance(token, str):
            principal = authenticator.session_user(str(request.session[SESSION_USER]), token)
        if principal is None:
            request.session.clear()
    if principal is None and _settings(request).auth_mode is AuthMode.loopback_open:
        client = request.client.host if request.client else ""
        if is_loopback(client):
            principal = LOCAL_USER
    request.state.principal = principal
    return principal


def _required_user(request: Request) -> Principal:
    principal = optional_user(request)
    if principal is None:
        raise HTTPException(
            401,
            "authentication required: an API key (Authorization: Bearer smk_...) or a web login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


async def current_user(request: Request) -> Principal:
    """The authenticated caller; 401 problem when there is none."""
    return _required_user(request)


def require_scope(scope: Scope | str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits callers whose scope includes ``scope`` (403 otherwise)."""
    needed = Scope(scope)

    async def dependency(request: Request) -> Principal:
        principal = _required_user(request)
        if not principal.allows(needed):
            raise HTTPException(
                403, f"this needs the '{needed.value}' scope; the caller has '{principal.scope.value}'"
            )
        return principal

    dependency.__name__ = f"require_{needed.value}"
    return dependency
