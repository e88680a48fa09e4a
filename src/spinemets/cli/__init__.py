"""The ``spinemets`` command line: a thin Typer app over the library.

Each command group lives in its own module and registers itself on :data:`app` through
``register(app)``; heavy imports stay inside the command functions so the CLI starts fast.
Errors that spinemets raises on purpose become a one-line message and exit code 2, never a
traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from spinemets.errors import SpinemetsError

app = typer.Typer(
    name="spinemets",
    help="Clinical decision support for spinal metastases: scores, plans, evidence, cohorts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules that add commands to :data:`app` (each defines ``register(app)``).
_COMMAND_MODULES = (
    "spinemets.cli.scores",
    "spinemets.cli.assess",
    "spinemets.cli.cohort",
    "spinemets.cli.service",
    "spinemets.cli.ask",
)


def _register() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning spinemets errors into exit code 2."""
    try:
        # Without standalone mode, click returns the code of a ``typer.Exit`` instead of exiting.
        code = app(args=argv, standalone_mode=False)
    except SpinemetsError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Usage errors (bad option value, unknown command) from click or Typer's vendored click:
        # show click's one-line message and exit 2, never a traceback.
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(2)
        if os.environ.get("SPINEMETS_DEBUG"):
            raise
        unavailable = _database_unavailable(exc)
        if unavailable:
            typer.echo(f"error: the database is not available: {unavailable}", err=True)
            sys.exit(1)
        typer.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in spinemets, not in your input; rerun with SPINEMETS_DEBUG=1 for the traceback.",
            err=True,
        )
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


def _database_unavailable(exc: BaseException) -> str | None:
    """The driver's first line when the database cannot be reached or used (not a spinemets bug).

    SQLAlchemy's OperationalError (server down, refused login, database locked, disk full) wraps the
    driver's message, which names host and port but never the password; sqlalchemy is not imported
    here, so commands that need no database start no slower.
    """
    names = {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.startswith("sqlalchemy")}
    if "OperationalError" not in names:
        return None
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def _is_usage_error(exc: BaseException) -> bool:
    return any(cls.__name__ == "ClickException" for cls in type(exc).__mro__) and hasattr(exc, "show")
