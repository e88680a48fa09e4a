"""Service settings: environment variables (prefix ``SPINEMETS_``) over an optional settings file.

Precedence, highest first: keyword arguments, environment variables, the settings file named by
``SPINEMETS_SETTINGS_FILE`` (TOML, JSON or YAML, flat keys as below), the defaults. Settings are
read once, at the edge; the library never reads the environment.

The defaults are safe for one clinician on one machine: loopback address, an embedded SQLite
database in ``./data``, API keys required. The unauthenticated mode must be asked for
(``auth_mode = "loopback_open"``) and is refused on any non-loopback address.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from spinemets.errors import InvalidInputError
from spinemets.knowledge.yaml_text import YAMLError, load_yaml
from spinemets.model.validation import collapse_unions, invalid_input
from spinemets.service.security import host_name

SETTINGS_FILE_ENV = "SPINEMETS_SETTINGS_FILE"


class AuthMode(StrEnum):
    """How callers are identified."""

    required = "required"
    """API keys for the API, login sessions for the web pages (the default)."""
    loopback_open = "loopback_open"
    """No login, for a single user on this machine; only allowed when bound to a loopback address."""


class CdsIssuer(BaseModel):
    """A CDS Hooks client (EHR) allowed to call the services, with the keys that verify its JWTs."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    iss: str = Field(description="The issuer (iss claim) the EHR puts in its JWT.")
    jwks_url: str | None = Field(None, description="Where the issuer publishes its JSON Web Key Set.")
    jwks: dict[str, Any] | None = Field(None, description="An inline JSON Web Key Set (instead of jwks_url).")
    public_key_pem: str | None = Field(None, description="A single PEM public key (instead of a JWKS).")
    algorithms: tuple[str, ...] = Field(("RS384", "ES384"), description="Accepted JWS algorithms.")


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
"""Host names a browser uses for this machine; the only ones ``loopback_open`` answers to."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: addresses no other machine can reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServiceSettings(BaseSettings):
    """Every setting of the service, with its default and what it is for."""

    model_config = SettingsConfigDict(env_prefix="SPINEMETS_", extra="forbid", frozen=True)

    data_dir: Path = Field(Path("data"), description="Folder for the embedded database and the session key.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite in data_dir. PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    sqlite_synchronous: str = Field(
        "NORMAL",
        pattern="^(FULL|NORMAL)$",
        description=(
            "SQLite synchronous pragma. NORMAL (WAL): a committed write survives a crash of the service "
            "process; FULL also survives power loss or an OS crash, at one disk flush per write."
        ),
    )
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes (uvicorn).")
    public_base_url: str | None = Field(
        None, description="External URL of the service (links in cards/reports)."
    )
    auth_mode: AuthMode = Field(AuthMode.required, description="required (default) or loopback_open.")
    session_secret: SecretStr | None = Field(
        None, description="Key that signs web login sessions; default: a random key kept in data_dir."
    )
    session_max_age_s: int = Field(8 * 3600, ge=60, description="Web session lifetime, seconds.")
    max_request_bytes: int = Field(1_000_000, ge=1024, description="Largest accepted request body, bytes.")
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description=(
            "Host names (Host header, port ignored) the service answers to; empty: any name with "
            "auth_mode required. loopback_open answers only to 127.0.0.1, localhost and [::1] plus "
            "these names (a defence against DNS rebinding)."
        ),
    )
    cds_hooks_issuers: tuple[CdsIssuer, ...] = Field(
        (), description="CDS Hooks clients allowed to call, each with its keys (JWKS URL, JWKS or PEM)."
    )
    cds_hooks_audience: str | None = Field(
        None, description="Expected aud claim of CDS Hooks JWTs; default: the service's own URL."
    )
    cds_hooks_require_jwt: bool = Field(
        True,
        description="Refuse CDS Hooks calls without a valid JWT; false (a local sandbox) only on a loopback host.",
    )
    log_level: str = Field("INFO", description="Log level of the service logger (never logs patient data).")
    settings_file: Path | None = Field(None, description="The settings file that was read, if any.")

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        """Stored as the Host check compares them: lower case, without a port (``host:8443`` -> ``host``)."""
        names = []
        for entry in hosts:
            name = host_name(entry)
            if name is None:
                raise ValueError(
                    f"{entry!r} is not a host name with an optional port (e.g. spine.example.org)"
                )
            names.append(name)
        return tuple(names)

    @model_validator(mode="after")
    def _open_only_on_loopback(self) -> ServiceSettings:
        if self.auth_mode is AuthMode.loopback_open and not is_loopback(self.host):
            raise ValueError(
                f"auth_mode loopback_open is only allowed on a loopback host (127.0.0.1, ::1); got host {self.host}"
            )
        if not self.cds_hooks_require_jwt and not is_loopback(self.host):
            # anyone could then call the hooks, and have this server fetch from any fhirServer URL
            raise ValueError(
                "cds_hooks_require_jwt false (unauthenticated CDS Hooks calls, a local sandbox) is only "
                f"allowed on a loopback host (127.0.0.1, ::1); got host {self.host}"
            )
        return self

    @property
    def accepted_hosts(self) -> frozenset[str] | None:
        """The Host names requests may carry (lower case, no port), or None for any name."""
        names = set(self.allowed_hosts)
        if self.auth_mode is AuthMode.loopback_open:
            # the address it is bound to too (any of 127.0.0.0/8 may be, see is_loopback)
            bound = f"[{self.host}]" if ":" in self.host else self.host.lower()
            return frozenset(names | set(LOOPBACK_NAMES) | {bound})
        return frozenset(names) or None

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to ``sqlite:///<data_dir>/spinemets.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'spinemets.db').as_posix()}"

    @property
    def base_url(self) -> str:
        """The URL clients use to reach this service."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls, init_settings))


class _FileSource(PydanticBaseSettingsSource):
    """Values from the settings file named by ``settings_file=`` or ``SPINEMETS_SETTINGS_FILE``."""

    def __init__(self, settings_cls: type[BaseSettings], init: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._init = init

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        given = getattr(self._init, "init_kwargs", {}).get("settings_file") or os.environ.get(
            SETTINGS_FILE_ENV
        )
        if not given:
            return {}
        path = Path(given)
        values = read_settings_file(path)
        values.setdefault("settings_file", path)
        return values


def read_settings_file(path: Path) -> dict[str, Any]:
    """Read a flat TOML, JSON or YAML settings file; unknown keys are rejected by the model."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(
            "settings_file", str(path), "a readable settings file", exc.strerror or ""
        ) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in {".yaml", ".yml"}:
            data = load_yaml(text)
        else:
            raise InvalidInputError("settings_file", str(path), "a .toml, .json, .yaml or .yml file")
    except (ValueError, ImportError, YAMLError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError("settings_file", str(path), "a well-formed settings file", str(exc)) from None
    if not isinstance(data, dict):
        raise InvalidInputError("settings_file", str(path), "a mapping of setting name to value")
    return {str(k): v for k, v in data.items()}


#: ``SPINEMETS_*`` environment variables that are not settings: the settings file's name, the CLI's
#: traceback switch, and (by prefix) the benchmark harness's knobs.
OTHER_ENV = frozenset({SETTINGS_FILE_ENV, "SPINEMETS_DEBUG"})
OTHER_ENV_PREFIXES = ("SPINEMETS_BENCH_", "SPINEMETS_WRK_")


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Refuse a ``SPINEMETS_*`` variable that names no setting (``SPINEMETS_WORKER=2`` was ignored
    without a word, leaving one worker). The value is not shown: it may be a secret."""
    environ = os.environ if environ is None else environ
    known = {"SPINEMETS_" + name.upper() for name in ServiceSettings.model_fields} | OTHER_ENV
    for name in sorted(environ):
        upper = name.upper()  # pydantic-settings reads the environment case-insensitively
        if not upper.startswith("SPINEMETS_") or upper in known or upper.startswith(OTHER_ENV_PREFIXES):
            continue
        near = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.8)
        raise InvalidInputError(
            name,
            "(set)",
            "a known setting: " + ", ".join(sorted(known)),
            f"did you mean {near[0]}?"
            if near
            else "unknown names are refused so that none is silently ignored",
        )


SECRET_SETTINGS = ("secret", "database_url")
"""Settings whose refused value is not shown: the session key, and a database URL (it can hold a
password)."""


def _not_json(exc: SettingsError) -> InvalidInputError:
    """The setting an environment variable failed to give, its value and what it must be (JSON)."""
    match = re.search(r'field "(\w+)"', str(exc))
    field = match.group(1) if match else "?"
    variable = "SPINEMETS_" + field.upper()
    value = next((v for k, v in os.environ.items() if k.upper() == variable), None)
    if field in SECRET_SETTINGS or value is None:
        value = "(value not shown)"
    return InvalidInputError(
        f"settings.{field}",
        value,
        'JSON: a list, e.g. ["spine.example.org"], or a list of objects for cds_hooks_issuers',
        f"as given in the environment variable {variable}",
    )


def load_settings(**overrides: Any) -> ServiceSettings:
    """Settings from keyword overrides, the environment and the settings file; errors name the setting."""
    from pydantic import ValidationError

    check_environment()
    try:
        return ServiceSettings(**overrides)
    except SettingsError as exc:  # a list or mapping setting in the environment that is not JSON
        raise _not_json(exc) from None
    except ValidationError as exc:
        err = collapse_unions(exc.errors(include_url=False))[0]
        loc = err.get("loc", ())
        if not loc:  # a rule over several settings: do not echo them (they may hold secrets)
            raise InvalidInputError("settings", "(combination)", "consistent settings", err["msg"]) from None
        if err.get("type") == "extra_forbidden":
            # the value is not shown: an unknown name is often a mistyped one (session_secrte)
            known = ", ".join(ServiceSettings.model_fields)
            near = difflib.get_close_matches(str(loc[0]), list(ServiceSettings.model_fields), n=1, cutoff=0.8)
            raise InvalidInputError(
                f"settings.{loc[0]}",
                "(value not shown)",
                f"a known setting: {known}",
                f"did you mean {near[0]}?" if near else "",
            ) from None
        problem = invalid_input(err, ServiceSettings, prefix="settings.")
        if any(name in problem.field for name in SECRET_SETTINGS):  # never echo one, even a wrong one
            problem = InvalidInputError(problem.field, "(secret)", problem.allowed, problem.hint)
        raise problem from None
