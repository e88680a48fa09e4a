"""``spinemets run``, ``serve``, ``audit verify``, ``apikey`` and ``user``: the service from the command line.

``run`` is what ``make run`` starts: the web app and API on http://127.0.0.1:8000 with the
embedded SQLite database, in the single-user loopback mode (no login, refused on any other
address). ``serve`` is the configurable server (settings from ``SPINEMETS_*`` or a settings file,
API keys and logins required unless configured otherwise).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from spinemets.service.settings import ServiceSettings

SettingsFile = Annotated[
    Path | None,
    typer.Option("--settings-file", help="TOML/JSON/YAML settings file (SPINEMETS_SETTINGS_FILE)."),
]


def _settings(settings_file: Path | None, **overrides: Any) -> ServiceSettings:
    from spinemets.service.settings import load_settings

    given = {k: v for k, v in overrides.items() if v is not None}
    if settings_file is not None:
        given["settings_file"] = settings_file
    return load_settings(**given)


def _export(settings: ServiceSettings) -> None:
    """Hand the effective settings to the worker processes through the environment."""
    os.environ["SPINEMETS_HOST"] = settings.host
    os.environ["SPINEMETS_PORT"] = str(settings.port)
    os.environ["SPINEMETS_AUTH_MODE"] = settings.auth_mode.value
    os.environ["SPINEMETS_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        os.environ["SPINEMETS_DATABASE_URL"] = settings.database_url
    if settings.settings_file is not None:
        os.environ["SPINEMETS_SETTINGS_FILE"] = str(settings.settings_file)


def _ensure_port_free(settings: ServiceSettings) -> None:
    """Refuse, before any start-up message, a port something already listens on (a running spinemets)."""
    from spinemets.errors import InvalidInputError
    from spinemets.service.workers import check_port_free

    try:
        check_port_free(settings.host, settings.port)
    except OSError as exc:
        raise InvalidInputError(
            "port",
            settings.port,
            f"a port nothing else listens on at {settings.host}",
            f"{exc.strerror or exc}; stop the other server or choose another port with --port",
        ) from None


def serve_settings(settings: ServiceSettings) -> None:
    """Migrate the database once, then run uvicorn with the configured workers."""
    import uvicorn

    from spinemets.service.app import session_secret
    from spinemets.service.storage import AssessmentStore
    from spinemets.service.workers import balanced_sockets_supported, serve_workers

    store = AssessmentStore(settings.effective_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    store.close()
    session_secret(settings)  # create the shared key before the workers race for it
    _export(settings)
    options: dict[str, Any] = {
        "app": "spinemets.service.asgi:app_from_environment",
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
        "log_level": settings.log_level.lower(),
        "timeout_keep_alive": 10,
    }
    if settings.workers > 1 and balanced_sockets_supported():
        code = serve_workers(options, settings.workers)
        if code:
            raise typer.Exit(code)
        return
    uvicorn.run(**options, workers=settings.workers)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1.")] = 8000,
        data_dir: Annotated[
            Path | None,
            typer.Option(
                help="Folder of the embedded SQLite database [default: SPINEMETS_DATA_DIR or ./data]."
            ),
        ] = None,
    ) -> None:
        """Start the web app and API on http://127.0.0.1:8000 with the embedded SQLite database.

        Single-user mode on loopback, one worker; the database and its folder come from the settings
        as for ``serve`` (``SPINEMETS_DATA_DIR``, ``SPINEMETS_DATABASE_URL``, a settings file) unless
        ``--data-dir`` is given. A ``--data-dir`` default of ./data had silently overridden
        ``SPINEMETS_DATA_DIR`` while ``SPINEMETS_DATABASE_URL`` was honoured.
        """
        settings = _settings(
            None, host="127.0.0.1", port=port, data_dir=data_dir, auth_mode="loopback_open", workers=1
        )
        _ensure_port_free(settings)
        typer.echo(f"spinemets is running at {settings.base_url}/  (API docs: {settings.base_url}/docs)")
        typer.echo(
            f"database: {settings.effective_database_url}; single-user mode on this machine only. Ctrl+C stops."
        )
        serve_settings(settings)

    @app.command("serve")
    def serve_cmd(
        host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="TCP port (default 8000).")] = None,
        workers: Annotated[int | None, typer.Option(help="Worker processes (default 1).")] = None,
        settings_file: SettingsFile = None,
    ) -> None:
        """Run the service with settings from the environment / settings file and these options."""
        from spinemets.service.settings import is_loopback

        settings = _settings(settings_file, host=host, port=port, workers=workers)
        _ensure_port_free(settings)
        typer.echo(f"spinemets serving at {settings.base_url}/ with {settings.workers} worker(s)")
        if not is_loopback(settings.host) and not settings.base_url.startswith("https://"):
            typer.echo(
                "warning: listening beyond this machine without TLS; put an HTTPS reverse proxy in front and set "
                "SPINEMETS_PUBLIC_BASE_URL=https://...",
                err=True,
            )
        serve_settings(settings)

    audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")

    @audit_app.command("verify")
    def audit_verify(
        settings_file: SettingsFile = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Check every audit entry's hash chain and every stored version; exit 1 on any problem."""
        from spinemets.service.audit import verify
        from spinemets.service.storage import AssessmentStore

        settings = _settings(settings_file)
        store = AssessmentStore(
            settings.effective_database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        try:
            report = verify(store.engine)
        finally:
            store.close()
        if as_json:
            typer.echo(report.model_dump_json(indent=2))
        else:
            status = "OK" if report.ok else "TAMPERING DETECTED"
            typer.echo(
                f"audit log {status}: {report.entries} entries, {report.versions_checked} stored versions checked"
            )
            for problem in report.problems:
                typer.echo(f"  - {problem}")
        if not report.ok:
            raise typer.Exit(1)

    key_app = typer.Typer(help="API keys (stored hashed; scopes read, write, admin).", no_args_is_help=True)
    app.add_typer(key_app, name="apikey")

    def _auth(settings_file: Path | None) -> Any:
        from spinemets.service.auth import Authenticator
        from spinemets.service.storage import AssessmentStore

        settings = _settings(settings_file)
        store = AssessmentStore(
            settings.effective_database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        return Authenticator(store.engine)

    @key_app.command("create")
    def key_create(
        name: Annotated[str, typer.Argument(help="What the key is for, e.g. 'tumour board EHR'.")],
        scope: Annotated[str, typer.Option(help="read, write or admin.")] = "read",
        settings_file: SettingsFile = None,
    ) -> None:
        """Create a key and print it once (only its hash is kept)."""
        key, info = _auth(settings_file).create_api_key(name, scope, created_by="cli:" + _whoami())
        typer.echo(key)
        typer.echo(
            f"key id {info.key_id}, scope {info.scope.value}: store it now, it cannot be shown again",
            err=True,
        )

    @key_app.command("list")
    def key_list(settings_file: SettingsFile = None) -> None:
        """List keys (never their secrets)."""
        for info in _auth(settings_file).list_api_keys():
            state = "revoked" if info.revoked else "active"
            typer.echo(
                f"{info.key_id}  {info.scope.value:<5}  {state:<7}  {info.created_at:%Y-%m-%d}  {info.name}"
            )

    @key_app.command("revoke")
    def key_revoke(
        key_id: Annotated[str, typer.Argument(help="Key id from `apikey list`.")],
        settings_file: SettingsFile = None,
    ) -> None:
        """Revoke a key."""
        _auth(settings_file).revoke_api_key(key_id, revoked_by="cli:" + _whoami())
        typer.echo(f"revoked {key_id}")

    user_app = typer.Typer(help="Web app users.", no_args_is_help=True)
    app.add_typer(user_app, name="user")

    @user_app.command("create")
    def user_create(
        username: Annotated[str, typer.Argument(help="Login name.")],
        scope: Annotated[str, typer.Option(help="read, write or admin.")] = "write",
        password: Annotated[
            str,
            typer.Option(
                prompt=True,
                hide_input=True,
                confirmation_prompt=True,
                show_default=False,
                help="At least 12 characters.",
            ),
        ] = "",
        settings_file: SettingsFile = None,
    ) -> None:
        """Create a web user (the password is stored as a salted scrypt hash)."""
        _auth(settings_file).create_user(username, password, scope, created_by="cli:" + _whoami())
        typer.echo(json.dumps({"created": username, "scope": scope}))

    @user_app.command("disable")
    def user_disable(
        username: Annotated[str, typer.Argument(help="Login name.")],
        settings_file: SettingsFile = None,
    ) -> None:
        """Disable a web user: sign-in is refused and the account's open sessions end (audited)."""
        _auth(settings_file).disable_user(username, disabled_by="cli:" + _whoami())
        typer.echo(json.dumps({"disabled": username}))

    @user_app.command("enable")
    def user_enable(
        username: Annotated[str, typer.Argument(help="Login name.")],
        settings_file: SettingsFile = None,
    ) -> None:
        """Let a disabled web user sign in again (audited); the sessions ended at disabling stay ended."""
        _auth(settings_file).enable_user(username, enabled_by="cli:" + _whoami())
        typer.echo(json.dumps({"enabled": username}))


def _whoami() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
