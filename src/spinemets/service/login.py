"""Web login and logout: a signed session cookie names the user; the password never leaves the form.

The pages of :mod:`spinemets.web` send unauthenticated visitors here (``/auth/login?next=...``).
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from spinemets.service import audit
from spinemets.service.auth import MAX_USERNAME_CHARS, Authenticator
from spinemets.service.deps import SESSION_TOKEN, SESSION_USER, get_authenticator, get_store
from spinemets.service.security import CSRF_FIELD, csrf_token
from spinemets.service.storage import AssessmentStore

router = APIRouter(prefix="/auth", tags=["login"], include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - spinemets</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main>
<h1>Sign in to spinemets</h1>
{message}
<form method="post" action="/auth/login">
<input type="hidden" name="{csrf_field}" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<p><label for="username">User name</label><br><input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>
</main></body></html>
"""


def _safe_next(target: str | None) -> str:
    """Only same-site paths (no scheme, no //host), so the login cannot redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _page(request: Request, next_: str, message: str = "", status: int = 200) -> HTMLResponse:
    msg = f'<p role="alert">{escape(message)}</p>' if message else ""
    body = _PAGE.format(
        message=msg, csrf_field=CSRF_FIELD, csrf=escape(csrf_token(request)), next=escape(_safe_next(next_))
    )
    return HTMLResponse(body, status_code=status)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form."""
    return _page(request, next)


MAX_PASSWORD_CHARS = 500
MAX_NEXT_CHARS = 500


@router.post("/login")
def login(
    request: Request,
    authenticator: Annotated[Authenticator, Depends(get_authenticator)],
    store: Annotated[AssessmentStore, Depends(get_store)],
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; on success start a session and go where the user was heading.

    The fields are checked here, not by the framework: its 422 problem quoted the refused value,
    and a refused password is still a password. A missing or over-long field is a wrong sign-in.
    """
    if len(next) > MAX_NEXT_CHARS:
        next = "/"
    if (
        not username
        or not password
        or len(username) > MAX_USERNAME_CHARS
        or len(password) > MAX_PASSWORD_CHARS
    ):
        return _page(request, next, "User name or password is not right.", status=401)
    if authenticator.login_blocked(username):
        return _page(request, next, "Too many wrong passwords: wait five minutes and try again.", status=429)
    principal = authenticator.check_password(username, password)
    if principal is None:
        return _page(request, next, "User name or password is not right.", status=401)
    request.session.clear()
    with store.write_transaction() as conn:  # SQLite: queue with the other writers on the lock file
        request.session[SESSION_TOKEN] = authenticator.start_session(conn, username)
        audit.append(
            conn,
            actor=principal.name,
            action="user.login",
            object_type="user",
            object_id=username,
            details={},
        )
    request.session[SESSION_USER] = username
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, authenticator: Annotated[Authenticator, Depends(get_authenticator)]) -> Response:
    """End the session, on the server too: a copy of the cookie no longer signs anyone in."""
    user, token = request.session.get(SESSION_USER), request.session.get(SESSION_TOKEN)
    if isinstance(user, str) and isinstance(token, str):
        authenticator.end_session(user, token)
    request.session.clear()
    return RedirectResponse("/auth/login", status_code=303)
