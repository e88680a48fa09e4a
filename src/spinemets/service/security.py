"""Security middleware: headers, CSRF for forms, request size limit, and a log without patient data.

* **Headers** on every response: a strict Content-Security-Policy (only this origin's scripts and
  styles; ``frame-ancestors 'none'``), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options``,
  ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store`` (clinical pages must not sit in
  shared caches). The API docs pages get the few extra sources Swagger UI needs.
* **CSRF** (double-submit token): a browser can POST a form or a plain-text body to another site
  without asking, carrying that site's cookies. So every POST that is not JSON and carries no
  bearer token or ``X-API-Key`` (a ``Basic`` or ``Negotiate`` header is no such proof: browsers
  re-send those by themselves) must present the token of the ``spinemets_csrf`` cookie in the ``csrf_token`` form
  field or the ``X-CSRF-Token`` header (htmx: ``hx-headers``). JSON bodies, PUT, PATCH and DELETE
  are exempt (cross-site they need a CORS preflight, which this service never grants), but any
  unsafe request whose Origin header names another site is refused. Templates read the token
  with :func:`csrf_token`.
* **Host names**: with ``allowed_hosts`` set (always in ``loopback_open`` mode: 127.0.0.1, localhost,
  [::1]) a request whose Host header names anything else gets 400 before anything else is done.
  Without it, a web page on a site the attacker controls could make its own name resolve to
  127.0.0.1 (DNS rebinding) and then read and change records as the same-origin page of that
  name; the browser still sends the attacker's name in the Host header, so the name is refused.
* **Size limit**: bodies over ``max_request_bytes`` get 413 before they are read in full.
* **Access log**: method, route template, status and duration only; never the query string, the
  body, or a path parameter (they can hold patient identifiers). An unexpected exception becomes a
  500 problem here and is logged by type only (its message could quote patient data).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from spinemets.service.problems import reason_phrase

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_COOKIE = "spinemets_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI and ReDoc (FastAPI's /docs and /redoc) load from a CDN and start with an inline script.
DOCS_CSP = (
    # Swagger UI and ReDoc come from this server (fastapi-offline); their pages start them with an
    # inline script and style themselves inline, so only those two are allowed beyond 'self'.
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
JSON_ONLY_PATHS = ("/api/", "/fhir/", "/cds-services")
"""Interfaces that take JSON bodies only (a form or text body there is 415, not a forgery question)."""
#: A standalone report document: its own inline styles, nothing else at all (no script, no fetch).
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

access_log = logging.getLogger("spinemets.access")
error_log = logging.getLogger("spinemets.service")


def csrf_token(request: Request) -> str:
    """The CSRF token to put in a form (``<input type=hidden name=csrf_token>``) or an htmx header."""
    token = request.scope.get("state", {}).get("csrf_token")
    if token:
        return str(token)
    cookie = request.cookies.get(CSRF_COOKIE)
    return cookie or ""


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return str(v.decode("latin-1"))
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def _carries_token(scope: Scope) -> bool:
    """True when the request carries a credential only a program can attach: an ``X-API-Key``
    header or an ``Authorization: Bearer`` token (an API key, a CDS Hooks JWT). A browser never adds
    these by itself, and cross-site it can only send them after a CORS preflight this service never
    grants. Other schemes are not such proof: a browser re-sends ``Basic``, ``Digest``, ``Negotiate``
    or ``NTLM`` credentials (a proxy's sign-on) with every request, a forged form post included, and
    such a request is still authenticated here by the session cookie."""
    if _header(scope, b"x-api-key"):
        return True
    scheme, _, token = (_header(scope, b"authorization") or "").strip().partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def host_name(host: str | None) -> str | None:
    """The name in a Host header, lower case and without the port (``[::1]:8000`` -> ``[::1]``);
    None when the header is missing or is not a name with an optional numeric port."""
    if not host:
        return None
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, rest = host.partition("]")
        name += bracket
    else:
        name, _, port = host.partition(":")
        rest = ":" + port if _ else ""
    if not name or (rest and not (rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit())):
        return None
    return name


async def _problem(
    send: Send,
    status: int,
    detail: str,
    instance: str,
    errors: list[dict[str, Any]] | None = None,
) -> None:
    problem: dict[str, Any] = {
        "type": "about:blank",
        "title": reason_phrase(status),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        problem["errors"] = errors
    body = json.dumps(problem)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *_security_headers(instance),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


def _security_headers(path: str) -> list[tuple[bytes, bytes]]:
    csp = DOCS_CSP if path.startswith(DOCS_PATHS) else CSP
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]


class SecurityMiddleware:
    """All of the above, as one pure ASGI middleware (no per-request thread hop)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_request_bytes: int,
        secure_cookies: bool = False,
        allowed_hosts: frozenset[str] | None = None,
        hsts: bool | None = None,
    ) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.secure_cookies = secure_cookies
        self.hsts = secure_cookies if hsts is None else hsts
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        request_id = uuid.uuid4().hex[:16]
        status_box = [500]

        if self.allowed_hosts is not None:
            refused = self._host_refusal(scope, self.allowed_hosts)
            if refused:
                await _problem(send, 400, refused[0], path, [refused[1]])
                self._log(scope, method, 400, t0, request_id)
                return

        # size limit: trust a declared length first, then count while reading
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_request_bytes):
            await _problem(send, 413, f"bodies are limited to {self.max_request_bytes} bytes", path)
            self._log(scope, method, 413, t0, request_id)
            return
        body = b""
        if method in UNSAFE or declared:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_request_bytes:
                    await _problem(send, 413, f"bodies are limited to {self.max_request_bytes} bytes", path)
                    self._log(scope, method, 413, t0, request_id)
                    return

        cookie_token = _cookie(scope, CSRF_COOKIE)
        new_token = None if cookie_token else secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = cookie_token or new_token
        scope["state"]["request_id"] = request_id

        if method in UNSAFE:
            refusal = await self._refusal(scope, path, body, cookie_token)
            if refusal:
                status, detail, errors = refusal
                await _problem(send, status, detail, path, errors)
                self._log(scope, method, status, t0, request_id)
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status_box[0] = int(message["status"])
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for k, v in _security_headers(path):
                    if k not in present:
                        headers.append((k, v))
                if b"cache-control" not in present and not path.startswith("/static"):
                    headers.append((b"cache-control", b"no-store"))
                headers.append((b"x-request-id", request_id.encode()))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                if new_token:
                    cookie = f"{CSRF_COOKIE}={new_token}; Path=/; HttpOnly; SameSite=Strict"
                    if self.secure_cookies:
                        cookie += "; Secure"
                    headers.append((b"set-cookie", cookie.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, replay, send_with_headers)
        except Exception as exc:
            # Stop it here: past this point the server would log the traceback and the exception's
            # message, which can quote patient input. Log the type and the route only.
            status_box[0] = 500
            route = getattr(scope.get("route"), "path", None) or "(unmatched)"
            error_log.error("unhandled %s on %s %s id=%s", type(exc).__name__, method, route, request_id)
            if not started:
                await _problem(send, 500, "the server could not complete the request", path)
        finally:
            self._log(scope, method, status_box[0], t0, request_id)

    @staticmethod
    def _host_refusal(scope: Scope, allowed_hosts: frozenset[str]) -> tuple[str, dict[str, Any]] | None:
        """Why the Host header is refused (detail, and the error naming field, value and allowed)."""
        raw = _header(scope, b"host")
        if host_name(raw) in allowed_hosts:
            return None
        allowed = f"one of {', '.join(sorted(allowed_hosts))} (with any port)"
        shown = raw if raw is None or len(raw) <= 100 else raw[:100] + "..."
        detail = (
            f"Host must be {allowed}; got {shown!r}: open the service by one of these names, "
            "or add the name to the allowed_hosts setting"
        )
        return detail, {"field": "Host", "value": shown, "allowed": allowed}

    async def _refusal(
        self, scope: Scope, path: str, body: bytes, cookie_token: str | None
    ) -> tuple[int, str, list[dict[str, Any]] | None] | None:
        """Why an unsafe request is refused before it reaches a route, or None: (status, detail,
        field errors).

        A foreign Origin is refused (403). Only POST can be sent cross-site without a CORS preflight
        (HTML forms); PUT, PATCH and DELETE from another site need a preflight this service never
        grants. A non-JSON body to the JSON-only interfaces is 415 naming the media type rather than
        a forgery refusal (refused either way, so a cross-site form gains nothing); any other
        non-JSON POST needs the CSRF token. Callers with a bearer token or an API key header (see
        :func:`_carries_token`) are checked by the routes.
        """
        if _carries_token(scope):
            return None
        origin = _header(scope, b"origin")
        if origin and origin != "null" and not self._same_origin(scope, origin):
            return 403, "cross-origin request refused", None
        content_type = _header(scope, b"content-type")
        if _is_json(content_type):
            return None
        if body and path.startswith(JSON_ONLY_PATHS):
            got = content_type or "(none)"
            detail = f"Content-Type must be application/json (or another +json type); got {got!r}"
            return (
                415,
                detail,
                [{"field": "Content-Type", "value": got, "allowed": "application/json"}],
            )
        if scope.get("method") != "POST":
            return None
        presented = _header(scope, CSRF_HEADER.encode())
        if presented is None and content_type:
            media = content_type.split(";")[0].strip().lower()
            if media in {"application/x-www-form-urlencoded", "multipart/form-data"}:
                presented = await self._form_token(scope, body)
        if not cookie_token or not presented or not hmac.compare_digest(cookie_token, presented):
            return (
                403,
                "missing or wrong CSRF token: reload the page and submit the form again",
                None,
            )
        return None

    @staticmethod
    def _same_origin(scope: Scope, origin: str) -> bool:
        host = _header(scope, b"host")
        return bool(host) and urlsplit(origin).netloc == host

    @staticmethod
    async def _form_token(scope: Scope, body: bytes) -> str | None:
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        request = Request(dict(scope), receive)
        try:
            form = await request.form()
        except Exception:  # malformed multipart: no token can be read from it
            return None
        try:
            value = form.get(CSRF_FIELD)
            return value if isinstance(value, str) else None
        finally:
            await form.close()

    @staticmethod
    def _log(scope: Scope, method: str, status: int, started: float, request_id: str) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "(unmatched)"
        access_log.info(
            "%s %s %d %.1fms id=%s",
            method,
            template,
            status,
            (time.perf_counter() - started) * 1000,
            request_id,
        )
