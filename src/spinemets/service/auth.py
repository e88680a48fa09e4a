"""Who is calling: API keys (hashed, scoped), web users (scrypt passwords), and the loopback mode.

Scopes are ``read`` < ``write`` < ``admin``: a key with ``write`` may also read, ``admin`` may do
everything. An API key looks like ``smk_<key id>_<secret>``; only the SHA-256 of the secret is
stored (the secret is 256 random bits, so a fast hash is enough), and the key id finds the row
without scanning. Web passwords are salted scrypt hashes. Successful key and user look-ups are
cached for a few seconds so that a busy API does not read the key table on every request; a
revoked key stops working within :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import secrets
import threading
import time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from spinemets.errors import InvalidInputError
from spinemets.service import audit
from spinemets.service.db import reader
from spinemets.service.schema import ACTOR_CHARS, ApiKeyRow, LoginFailureRow, UserRow, WebSessionRow

CACHE_SECONDS = 10.0
KEY_PREFIX = "smk_"
KEY_ID_BYTES = 6
"""Random bytes of a new key's id (12 hex digits)."""
MAX_KEY_NAME_CHARS = ACTOR_CHARS - len("key:") - 2 * KEY_ID_BYTES - len(":")
"""The longest API key name: the caller's name ``key:<id>:<name>`` is stored as author and audit actor."""
MAX_USERNAME_CHARS = 100
"""The longest web user name (the users, sessions and sign-in failure tables' column width)."""
LOGIN_FAILURES_ALLOWED = 5
LOGIN_LOCKOUT_SECONDS = 300.0


class Scope(StrEnum):
    """What a caller may do; each scope includes the ones before it."""

    read = "read"
    write = "write"
    admin = "admin"


_RANK = {Scope.read: 0, Scope.write: 1, Scope.admin: 2}


class PrincipalKind(StrEnum):
    api_key = "api_key"
    user = "user"
    local = "local"


class Principal(BaseModel):
    """An authenticated caller; ``name`` is what the audit log records as the author."""

    model_config = ConfigDict(frozen=True)
    name: str
    kind: PrincipalKind
    scope: Scope

    def allows(self, needed: Scope) -> bool:
        """True when this caller's scope includes ``needed``."""
        return _RANK[self.scope] >= _RANK[needed]


def parse_scope(value: str) -> Scope:
    """A scope from its name, with a clear error."""
    try:
        return Scope(value)
    except ValueError:
        raise InvalidInputError("scope", value, [s.value for s in Scope]) from None


class ApiKeyInfo(BaseModel):
    """An API key as listed (never the secret)."""

    model_config = ConfigDict(frozen=True)
    key_id: str
    name: str
    scope: Scope
    created_at: dt.datetime
    created_by: str
    revoked: bool


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class _Cache:
    """A tiny TTL cache of successful look-ups (thread-safe)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Principal | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or hit[0] < time.monotonic():
                self._data.pop(key, None)
                return None
            return hit[1]

    def put(self, key: str, value: Principal) -> None:
        with self._lock:
            if len(self._data) > 10_000:
                self._data.clear()
            self._data[key] = (time.monotonic() + CACHE_SECONDS, value)

    def discard(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Authenticator:
    """API keys and web users in the service database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reader = reader(engine)  # look-ups take no write lock (SQLite) and send no BEGIN (PostgreSQL)
        self._cache = _Cache()

    def login_blocked(self, username: str) -> bool:
        """True after :data:`LOGIN_FAILURES_ALLOWED` wrong passwords within :data:`LOGIN_LOCKOUT_SECONDS`,
        counted in the database: every worker process sees the same failures, and a restart keeps them."""
        horizon = time.time() - LOGIN_LOCKOUT_SECONDS
        with self._reader.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(LoginFailureRow)
                .where(
                    LoginFailureRow.username == username[:MAX_USERNAME_CHARS],
                    LoginFailureRow.failed_at > horizon,
                )
            ).scalar_one()
            conn.rollback()
        return int(count) >= LOGIN_FAILURES_ALLOWED

    def _record_failure(self, username: str) -> None:
        """Keep a wrong password for the lockout window; failures older than the window are dropped
        (only expired rows: wrong passwords for other names never lift a lockout in force)."""
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(
                delete(LoginFailureRow).where(LoginFailureRow.failed_at <= now - LOGIN_LOCKOUT_SECONDS)
            )
            conn.execute(
                insert(LoginFailureRow).values(username=username[:MAX_USERNAME_CHARS], failed_at=now)
            )

    # API keys -----------------------------------------------------------------------------------

    def create_api_key(self, name: str, scope: Scope | str, *, created_by: str) -> tuple[str, ApiKeyInfo]:
        """A new key; returns the full key (shown once, never stored) and its listing."""
        scope = parse_scope(str(scope))
        if not name or len(name) > MAX_KEY_NAME_CHARS:
            raise InvalidInputError("name", name, f"a label of 1 to {MAX_KEY_NAME_CHARS} characters")
        key_id = secrets.token_hex(KEY_ID_BYTES)
        secret = secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            conn.execute(
                insert(ApiKeyRow).values(
                    key_id=key_id,
                    name=name,
                    secret_sha256=_sha256(secret),
                    scopes=scope.value,
                    created_at=now,
                    created_by=created_by,
                )
            )
            audit.append(
                conn,
                actor=created_by,
                action="apikey.create",
                object_type="api_key",
                object_id=key_id,
                details={"scope": scope.value},
            )
        info = ApiKeyInfo(
            key_id=key_id, name=name, scope=scope, created_at=now, created_by=created_by, revoked=False
        )
        return f"{KEY_PREFIX}{key_id}_{secret}", info

    def list_api_keys(self) -> list[ApiKeyInfo]:
        """Every key, newest first (revoked ones included, marked)."""
        with self._reader.connect() as conn:
            rows = conn.execute(select(ApiKeyRow).order_by(ApiKeyRow.created_at.desc())).all()
            conn.rollback()
        return [
            ApiKeyInfo(
                key_id=r.key_id,
                name=r.name,
                scope=Scope(r.scopes),
                created_at=r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=dt.UTC),
                created_by=r.created_by,
                revoked=r.revoked_at is not None,
            )
            for r in rows
        ]

    def revoke_api_key(self, key_id: str, *, revoked_by: str) -> None:
        """Revoke a key (kept for the record); takes effect within :data:`CACHE_SECONDS`."""
        with self.engine.begin() as conn:
            res = conn.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.key_id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=dt.datetime.now(dt.UTC))
            )
            if res.rowcount != 1:
                raise InvalidInputError(
                    "key_id", key_id, "the id of an active API key (see `spinemets apikey list`)"
                )
            audit.append(
                conn,
                actor=revoked_by,
                action="apikey.revoke",
                object_type="api_key",
                object_id=key_id,
                details={},
            )
        self._cache.clear()

    def check_api_key(self, presented: str) -> Principal | None:
        """The caller a presented key belongs to, or None (unknown, malformed or revoked)."""
        cached = self._cache.get(presented)
        if cached is not None:
            return cached
        if not presented.startswith(KEY_PREFIX):
            return None
        key_id, sep, secret = presented[len(KEY_PREFIX) :].partition("_")
        if not sep or not secret or len(key_id) > 32:
            return None
        with self._reader.connect() as conn:
            row = conn.execute(
                select(ApiKeyRow.name, ApiKeyRow.secret_sha256, ApiKeyRow.scopes, ApiKeyRow.revoked_at).where(
                    ApiKeyRow.key_id == key_id
                )
            ).first()
            conn.rollback()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.secret_sha256, _sha256(secret)):
            return None
        # cut to the width of the author and actor columns: a key named before MAX_KEY_NAME_CHARS
        # may be longer, and the key id at the front already says which key it was
        principal = Principal(
            name=f"key:{key_id}:{row.name}"[:ACTOR_CHARS], kind=PrincipalKind.api_key, scope=Scope(row.scopes)
        )
        self._cache.put(presented, principal)
        return principal

    # web users ----------------------------------------------------------------------------------

    def create_user(self, username: str, password: str, scope: Scope | str, *, created_by: str) -> None:
        """A web user; the password must be at least 12 characters."""
        scope = parse_scope(str(scope))
        name_ok = username.replace(".", "").replace("-", "").isalnum()
        if not username or len(username) > MAX_USERNAME_CHARS or not name_ok:
            raise InvalidInputError(
                "username", username, f"1 to {MAX_USERNAME_CHARS} letters, digits, '.' or '-'"
            )
        if len(password) < 12:
            raise InvalidInputError("password", "(hidden)", "at least 12 characters")
        with self.engine.begin() as conn:
            exists = conn.execute(select(UserRow.username).where(UserRow.username == username)).first()
            if exists is not None:
                raise InvalidInputError("username", username, "a name that is not already taken")
            conn.execute(
                insert(UserRow).values(
                    username=username,
                    password_hash=hash_password(password),
                    scopes=scope.value,
                    created_at=dt.datetime.now(dt.UTC),
                    disabled=False,
                )
            )
            audit.append(
                conn,
                actor=created_by,
                action="user.create",
                object_type="user",
                object_id=username,
                details={"scope": scope.value},
            )

    def disable_user(self, username: str, *, disabled_by: str) -> None:
        """Disable a web user (kept for the record): sign-in is refused and every session of the
        account ends; other worker processes notice within :data:`CACHE_SECONDS`."""
        self._set_disabled(username, True, actor=disabled_by)
        self._cache.clear()

    def enable_user(self, username: str, *, enabled_by: str) -> None:
        """Let a disabled web user sign in again (audited). Sessions the account had when it was
        disabled stay ended: the user signs in anew."""
        self._set_disabled(username, False, actor=enabled_by)

    def _set_disabled(self, username: str, disabled: bool, *, actor: str) -> None:
        """Flip an account's ``disabled`` flag (refused unless it is the other way now) and audit it;
        disabling ends the account's open sessions in the same transaction."""
        with self.engine.begin() as conn:
            res = conn.execute(
                update(UserRow)
                .where(UserRow.username == username, UserRow.disabled.is_(not disabled))
                .values(disabled=disabled)
            )
            if res.rowcount != 1:
                state = "an active" if disabled else "a disabled"
                raise InvalidInputError("username", username, f"the name of {state} web user")
            if disabled:
                conn.execute(
                    update(WebSessionRow)
                    .where(WebSessionRow.username == username, WebSessionRow.ended_at.is_(None))
                    .values(ended_at=dt.datetime.now(dt.UTC))
                )
            audit.append(
                conn,
                actor=actor,
                action="user.disable" if disabled else "user.enable",
                object_type="user",
                object_id=username,
                details={},
            )

    def check_password(self, username: str, password: str) -> Principal | None:
        """The user if the password is right and the account is active; None otherwise (or when blocked)."""
        if self.login_blocked(username):
            return None
        principal = self._check_password(username, password)
        if principal is None:
            self._record_failure(username)
        return principal

    def _check_password(self, username: str, password: str) -> Principal | None:
        with self._reader.connect() as conn:
            row = conn.execute(
                select(UserRow.password_hash, UserRow.scopes, UserRow.disabled).where(
                    UserRow.username == username
                )
            ).first()
            conn.rollback()
        if row is None:
            verify_password(password, _dummy_hash())  # same time whether or not the user exists
            return None
        right = verify_password(password, row.password_hash)  # first: as long for a disabled account
        weaker = needs_rehash(row.password_hash)  # an older, cheaper hash
        if weaker and (row.disabled or not right):
            # add a check at today's cost, so that a refusal takes about as long as one for a name that
            # does not exist (about 1.2 times, not a fifth, until the user signs in again)
            verify_password(password, _dummy_hash())
        if row.disabled or not right:
            return None
        if weaker:  # upgrade while the password is at hand
            with self.engine.begin() as conn:
                conn.execute(
                    update(UserRow)
                    .where(UserRow.username == username, UserRow.password_hash == row.password_hash)
                    .values(password_hash=hash_password(password))
                )
        return Principal(name=f"user:{username}", kind=PrincipalKind.user, scope=Scope(row.scopes))

    def start_session(self, conn: Connection, username: str) -> str:
        """A new login session of ``username`` in the caller's transaction; returns its token.

        The token (256 random bits) goes in the signed session cookie; the database keeps only its
        SHA-256, so a copy of the database gives no live session.
        """
        token = secrets.token_urlsafe(32)
        conn.execute(
            insert(WebSessionRow).values(
                token_sha256=_sha256(token),
                username=username,
                created_at=dt.datetime.now(dt.UTC),
                ended_at=None,
            )
        )
        return token

    def end_session(self, username: str, token: str) -> bool:
        """End one login session (logout) and audit it; False when it was not an open session of
        ``username``. Other worker processes stop accepting it within :data:`CACHE_SECONDS`."""
        digest = _sha256(token)
        with self.engine.begin() as conn:
            res = conn.execute(
                update(WebSessionRow)
                .where(
                    WebSessionRow.token_sha256 == digest,
                    WebSessionRow.username == username,
                    WebSessionRow.ended_at.is_(None),
                )
                .values(ended_at=dt.datetime.now(dt.UTC))
            )
            ended = res.rowcount == 1
            if ended:
                audit.append(
                    conn,
                    actor=f"user:{username}",
                    action="user.logout",
                    object_type="user",
                    object_id=username,
                    details={},
                )
        self._cache.discard("session:" + digest)
        return ended

    def session_user(self, username: str, token: str) -> Principal | None:
        """The user behind a login session, if the session is open and the account still exists and
        is active (a cookie without a session token, from before sessions were kept, is no session)."""
        digest = _sha256(token)
        cached = self._cache.get("session:" + digest)
        if cached is not None and cached.name == f"user:{username}":
            return cached
        with self._reader.connect() as conn:
            row = conn.execute(
                select(UserRow.scopes, UserRow.disabled, WebSessionRow.ended_at)
                .join(WebSessionRow, WebSessionRow.username == UserRow.username)
                .where(UserRow.username == username, WebSessionRow.token_sha256 == digest)
            ).first()
            conn.rollback()
        if row is None or row.disabled or row.ended_at is not None:
            return None
        principal = Principal(name=f"user:{username}", kind=PrincipalKind.user, scope=Scope(row.scopes))
        self._cache.put("session:" + digest, principal)
        return principal


_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 5
"""One of the scrypt settings OWASP's Password Storage Cheat Sheet lists as equally strong (N=2^17, r=8,
p=1 down to N=2^14, r=8, p=5): this one needs 16 MiB per hash, not 128. Until 2026-12-05 p was 1; such
hashes still verify and are replaced at the user's next sign-in (:func:`needs_rehash`)."""


def needs_rehash(stored: str) -> bool:
    """True when a stored hash was made with other parameters than :func:`hash_password` uses now."""
    parts = stored.split("$")
    return len(parts) != 6 or parts[:4] != ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P)]


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64), salted per password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against :func:`hash_password` output."""
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))
