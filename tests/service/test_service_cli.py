"""The service commands: API keys, users and the app factory's wiring of the other routers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from spinemets.cli import app as cli_app
from spinemets.service.app import create_app
from spinemets.service.settings import load_settings

from .conftest import LOOPBACK, LOOPBACK_URL


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPINEMETS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_apikey_create_list_revoke_and_use(data_env: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(cli_app, ["apikey", "create", "tumour board", "--scope", "write"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("smk_")
    key_id = key.split("_")[1]
    listed = runner.invoke(cli_app, ["apikey", "list"])
    assert key_id in listed.output and "write" in listed.output and "active" in listed.output
    assert key not in listed.output
    app = create_app(load_settings(data_dir=data_env))
    with TestClient(app, client=LOOPBACK, base_url=LOOPBACK_URL) as c:
        assert c.get("/api/v1/assessments", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    revoked = runner.invoke(cli_app, ["apikey", "revoke", key_id])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in runner.invoke(cli_app, ["apikey", "list"]).output
    with TestClient(
        create_app(load_settings(data_dir=data_env)), client=LOOPBACK, base_url=LOOPBACK_URL
    ) as c:
        assert c.get("/api/v1/assessments", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    again = runner.invoke(cli_app, ["apikey", "revoke", key_id])
    assert again.exit_code != 0
    bad = runner.invoke(cli_app, ["apikey", "create", "x", "--scope", "root"])
    assert bad.exit_code != 0


def test_user_create_needs_a_long_password(data_env: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        cli_app, ["user", "create", "dr.lee"], input="a long enough pass\na long enough pass\n"
    )
    assert ok.exit_code == 0, ok.output
    short = runner.invoke(cli_app, ["user", "create", "dr.kim"], input="short\nshort\n")
    assert short.exit_code != 0


def test_app_includes_the_web_pages_and_interop_when_installed(tmp_path: Path) -> None:
    import importlib.util

    app = create_app(load_settings(data_dir=tmp_path))
    expected = [
        m for m in ("spinemets.web.routes", "spinemets.service.ehr_routes") if importlib.util.find_spec(m)
    ]
    assert app.state.optional_routers == expected


def test_an_unreachable_database_is_reported_as_such_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Through spinemets.cli.main (the console script), which turns errors into messages: a server
    # that is down is the operator's to fix, not "a bug in spinemets", and the URL's password stays out.
    from spinemets.cli import main
    from spinemets.service.pgtemp import free_port

    monkeypatch.setenv("SPINEMETS_DATA_DIR", str(tmp_path))
    url = f"postgresql+psycopg://spinemets:s3cret-pw@127.0.0.1:{free_port()}/spinemets"
    monkeypatch.setenv("SPINEMETS_DATABASE_URL", url)
    with pytest.raises(SystemExit) as exited:
        main(["audit", "verify"])
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert err.startswith("error: the database is not available: ") and "Connection refused" in err
    assert "s3cret-pw" not in err and "bug" not in err


def test_run_on_a_port_in_use_is_refused_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from spinemets.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            main(["run", "--port", str(port), "--data-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert exited.value.code == 2
    assert captured.err.startswith(
        f"error: port must be a port nothing else listens on at 127.0.0.1; got {port}"
    )
    assert "is running at" not in captured.out


def test_user_disable(data_env: Path) -> None:
    runner = CliRunner()
    pw = "a long enough pass\n"
    assert runner.invoke(cli_app, ["user", "create", "dr.lee"], input=pw * 2).exit_code == 0
    disabled = runner.invoke(cli_app, ["user", "disable", "dr.lee"])
    assert disabled.exit_code == 0, disabled.output
    from spinemets.service.auth import Authenticator
    from spinemets.service.storage import AssessmentStore

    store = AssessmentStore(load_settings(data_dir=data_env).effective_database_url)
    try:
        assert Authenticator(store.engine).check_password("dr.lee", pw.strip()) is None
    finally:
        store.close()
    assert runner.invoke(cli_app, ["user", "disable", "dr.lee"]).exit_code != 0  # already disabled
    assert runner.invoke(cli_app, ["user", "disable", "nobody"]).exit_code != 0


def test_user_enable_lets_a_disabled_user_sign_in_again_but_not_resume_old_sessions(data_env: Path) -> None:
    from spinemets.service import audit
    from spinemets.service.auth import Authenticator
    from spinemets.service.storage import AssessmentStore

    runner = CliRunner()
    pw = "a long enough pass"
    assert runner.invoke(cli_app, ["user", "create", "dr.lee"], input=f"{pw}\n" * 2).exit_code == 0
    store = AssessmentStore(load_settings(data_dir=data_env).effective_database_url)
    try:
        authn = Authenticator(store.engine)
        with store.write_transaction() as conn:  # a session open before the account was disabled
            old_session = authn.start_session(conn, "dr.lee")
        assert runner.invoke(cli_app, ["user", "enable", "dr.lee"]).exit_code != 0  # not disabled
        assert runner.invoke(cli_app, ["user", "disable", "dr.lee"]).exit_code == 0
        enabled = runner.invoke(cli_app, ["user", "enable", "dr.lee"])
        assert enabled.exit_code == 0 and json.loads(enabled.output) == {"enabled": "dr.lee"}
        fresh = Authenticator(store.engine)  # no cache
        assert fresh.check_password("dr.lee", pw) is not None
        assert fresh.session_user("dr.lee", old_session) is None  # ended when disabled, stays ended
        actions = [e.action for e in audit.entries(store.engine) if e.object_id == "dr.lee"]
        assert actions[-2:] == ["user.disable", "user.enable"]
    finally:
        store.close()
    assert runner.invoke(cli_app, ["user", "enable", "nobody"]).exit_code != 0


def test_user_create_prompts_for_the_password_without_an_empty_default(data_env: Path) -> None:
    # the prompt read "Password []:", offering an empty password as the default
    result = CliRunner().invoke(cli_app, ["user", "create", "dr.lee"], input="a long enough pass\n" * 2)
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "[]" not in result.output


def test_run_keeps_its_data_where_the_settings_say_unless_data_dir_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``spinemets run`` reads SPINEMETS_DATA_DIR as ``serve`` does; a --data-dir default of ./data
    had overridden it (while SPINEMETS_DATABASE_URL was honoured)."""
    import spinemets.cli.service as cli_service
    from spinemets.cli import main
    from spinemets.service.pgtemp import free_port

    served: list[Any] = []
    monkeypatch.setattr(cli_service, "serve_settings", served.append)
    monkeypatch.setenv("SPINEMETS_DATA_DIR", str(tmp_path / "from-env"))
    main(["run", "--port", str(free_port())])
    main(["run", "--port", str(free_port()), "--data-dir", str(tmp_path / "given")])
    assert [s.data_dir for s in served] == [tmp_path / "from-env", tmp_path / "given"]
    assert [s.auth_mode.value for s in served] == ["loopback_open"] * 2
    assert (
        served[0].effective_database_url == f"sqlite:///{(tmp_path / 'from-env' / 'spinemets.db').as_posix()}"
    )
