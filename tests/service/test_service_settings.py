"""Service settings: defaults, environment over settings file over defaults, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from spinemets.errors import InvalidInputError
from spinemets.service.settings import AuthMode, is_loopback, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("SPINEMETS_"):
            monkeypatch.delenv(key)


def test_defaults_are_loopback_sqlite_in_data_and_keys_required() -> None:
    s = load_settings()
    assert (s.host, s.port, s.workers, s.auth_mode) == ("127.0.0.1", 8000, 1, AuthMode.required)
    assert s.effective_database_url == "sqlite:///data/spinemets.db"
    assert s.base_url == "http://127.0.0.1:8000"


def test_environment_overrides_file_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "spinemets.toml"
    f.write_text('port = 9001\nworkers = 3\ndatabase_url = "postgresql+psycopg://u@127.0.0.1/db"\n')
    monkeypatch.setenv("SPINEMETS_SETTINGS_FILE", str(f))
    monkeypatch.setenv("SPINEMETS_PORT", "9002")
    s = load_settings()
    assert (s.port, s.workers, s.effective_database_url) == (9002, 3, "postgresql+psycopg://u@127.0.0.1/db")
    assert s.settings_file == f
    assert load_settings(port=9003).port == 9003


def test_cds_hooks_issuers_from_json_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SPINEMETS_CDS_HOOKS_ISSUERS",
        '[{"iss": "https://ehr.example", "jwks_url": "https://ehr.example/jwks"}]',
    )
    (issuer,) = load_settings().cds_hooks_issuers
    assert issuer.iss == "https://ehr.example" and issuer.algorithms == ("RS384", "ES384")


def test_bad_settings_name_the_setting(tmp_path: Path) -> None:
    # each message reads "<setting> must be <what is allowed>; got <value> (<what the setting is>)"
    with pytest.raises(InvalidInputError) as port:
        load_settings(port=70000)
    assert str(port.value) == "settings.port must be less than or equal to 65535 (TCP port); got 70000"
    with pytest.raises(
        InvalidInputError, match=r"^settings\.sqlite_synchronous must be one of FULL, NORMAL; got 'x'"
    ):
        load_settings(sqlite_synchronous="x")
    f = tmp_path / "s.yaml"
    f.write_text("colour: blue\n")
    with pytest.raises(
        InvalidInputError, match=r"^settings\.colour must be a known setting: data_dir, database_url"
    ):
        load_settings(settings_file=f)
    ini = tmp_path / "s.ini"
    ini.write_text("[x]\n")
    with pytest.raises(InvalidInputError, match=r"a \.toml, \.json, \.yaml or \.yml file"):
        load_settings(settings_file=ini)
    with pytest.raises(InvalidInputError, match="a readable settings file"):
        load_settings(settings_file=tmp_path / "missing.toml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("port: [8000\n")
    with pytest.raises(InvalidInputError, match="a well-formed settings file"):
        load_settings(settings_file=broken)


def test_open_mode_only_on_loopback() -> None:
    assert load_settings(auth_mode="loopback_open", host="::1").auth_mode is AuthMode.loopback_open
    for host in ("0.0.0.0", "192.168.1.10", "example.org"):
        with pytest.raises(InvalidInputError, match="only allowed on a loopback host"):
            load_settings(auth_mode="loopback_open", host=host)
    assert [is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "localhost", "10.0.0.1", "")] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_unauthenticated_cds_hooks_only_on_loopback() -> None:
    # "local sandbox only" (docs/fhir.md) was not enforced: on a network address anyone could call
    # the hooks and have the server fetch from any fhirServer URL they named.
    assert load_settings(cds_hooks_require_jwt=False, host="127.0.0.1").cds_hooks_require_jwt is False
    for host in ("0.0.0.0", "192.168.1.10", "example.org"):
        with pytest.raises(InvalidInputError, match="only allowed on a loopback host"):
            load_settings(cds_hooks_require_jwt=False, host=host)
    assert load_settings(host="0.0.0.0").cds_hooks_require_jwt is True


def test_secrets_are_not_echoed_in_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as info:
        load_settings(session_secret=12345)
    assert "12345" not in str(info.value)
    # A mistyped name is an unknown setting: its value was quoted, the secret it was meant to set too.
    typo = tmp_path / "s.toml"
    typo.write_text('session_secrte = "TOPSECRET-0123456789abcdef0123456789abcdef"\n')
    with pytest.raises(InvalidInputError, match="did you mean session_secret") as info:
        load_settings(settings_file=typo)
    assert "TOPSECRET" not in str(info.value) and "TOPSECRET" not in repr(info.value.value)
    with pytest.raises(InvalidInputError) as info:
        load_settings(database_url=["postgresql+psycopg://spine:PASSW0RD@db/spinemets"])
    assert "PASSW0RD" not in str(info.value) and "PASSW0RD" not in repr(info.value.value)


def test_workers_starting_together_share_one_complete_session_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers started by an outside process manager (uvicorn --workers, gunicorn) each call
    # session_secret on a fresh data folder at once. Writes are slowed down here so that the
    # second arrives while the first is writing: it must never read a key half written (an empty
    # key signs sessions anyone can forge) nor fail, and every worker must end with the same key.
    import os
    import threading
    import time

    from spinemets.service.app import session_secret

    real_write = os.write

    def slow_write(fd: int, data: bytes) -> int:
        time.sleep(0.2)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", slow_write)
    settings = load_settings(data_dir=tmp_path / "data")
    keys: list[str] = []
    failures: list[BaseException] = []

    def start_worker() -> None:
        try:
            keys.append(session_secret(settings))
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=start_worker) for _ in range(2)]
    workers[0].start()
    time.sleep(0.05)  # the first worker is now writing its key
    workers[1].start()
    for w in workers:
        w.join(10)
    monkeypatch.undo()
    assert not failures
    stored = (tmp_path / "data" / "session.key").read_text(encoding="utf-8").strip()
    assert len(stored) >= 32 and keys == [stored, stored]
    assert oct((tmp_path / "data" / "session.key").stat().st_mode & 0o777) == "0o600"


def test_an_empty_or_short_session_key_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from spinemets.service.app import session_secret

    (tmp_path / "session.key").write_text("short\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"session key file must be at least 32 characters.*delete"):
        session_secret(load_settings(data_dir=tmp_path))
    assert session_secret(load_settings(data_dir=tmp_path, session_secret="x" * 40)) == "x" * 40


def test_a_data_folder_that_cannot_be_written_is_named_in_the_error(tmp_path: Path) -> None:
    from spinemets.service.app import session_secret

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(
        InvalidInputError, match=r"^data_dir must be a folder spinemets can write .*a-file/data"
    ):
        session_secret(load_settings(data_dir=blocker / "data"))


def test_a_misspelt_environment_variable_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # docs/service.md: unknown names are rejected. SPINEMETS_WORKER=2 was ignored, leaving one worker.
    monkeypatch.setenv("SPINEMETS_WORKER", "2")
    with pytest.raises(
        InvalidInputError,
        match=r"SPINEMETS_WORKER must be a known setting: .*did you mean SPINEMETS_WORKERS\?",
    ):
        load_settings(data_dir=tmp_path)
    monkeypatch.delenv("SPINEMETS_WORKER")
    monkeypatch.setenv("SPINEMETS_SESSION_SECRT", "hunter2-not-shown")
    with pytest.raises(InvalidInputError) as refused:
        load_settings(data_dir=tmp_path)
    assert "hunter2" not in str(refused.value)  # a misspelt secret is not echoed
    monkeypatch.delenv("SPINEMETS_SESSION_SECRT")
    monkeypatch.setenv("SPINEMETS_DEBUG", "1")  # not a setting, but the CLI's own switch
    monkeypatch.setenv("SPINEMETS_BENCH_RUNS", "3")  # the benchmark harness's knobs
    assert load_settings(data_dir=tmp_path).workers == 1


def test_the_environment_check_is_as_case_insensitive_as_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # pydantic-settings reads SPINEMETS_Workers as workers: the check must neither refuse it nor let
    # a misspelt lower-case name through
    monkeypatch.setenv("SPINEMETS_Workers", "3")
    assert load_settings(data_dir=tmp_path).workers == 3
    monkeypatch.delenv("SPINEMETS_Workers")
    monkeypatch.setenv("spinemets_worker", "2")
    with pytest.raises(InvalidInputError, match="spinemets_worker must be a known setting"):
        load_settings(data_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "typed"),
    [("SPINEMETS_ALLOWED_HOSTS", "spine.example.org"), ("SPINEMETS_CDS_HOOKS_ISSUERS", "{iss: x}")],
)
def test_an_environment_value_that_is_not_json_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, typed: str
) -> None:
    """A list setting in the environment is JSON; a plain host name reached the command line as 'internal
    error: SettingsError ... This is a bug in spinemets, not in your input'."""
    monkeypatch.setenv(name, typed)
    with pytest.raises(InvalidInputError) as caught:
        load_settings()
    field = name.removeprefix("SPINEMETS_").lower()
    assert caught.value.field == f"settings.{field}" and caught.value.value == typed
    assert "JSON" in caught.value.allowed and name in caught.value.hint
