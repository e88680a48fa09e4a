"""The package's public API is explicit and stable; the CLI never shows a traceback for bad usage."""

from __future__ import annotations

import subprocess
import sys

import pytest

import spinemets
from spinemets.cli import main

PUBLIC = {
    "SCORES",
    "Answer",
    "Assessment",
    "InvalidInputError",
    "Patient",
    "ScoreResult",
    "SpinemetsError",
    "__version__",
    "ask",
    "assess",
    "load_patient",
    "parse_patient",
    "score",
}


def test_all_lists_exactly_the_public_api() -> None:
    assert set(spinemets.__all__) == PUBLIC
    for name in spinemets.__all__:
        assert getattr(spinemets, name) is not None


def test_catalogue_covers_the_supported_scores() -> None:
    assert {
        "sins",
        "tokuhashi_revised",
        "tokuhashi_1990",
        "tomita",
        "bauer",
        "bauer_modified",
        "nesms",
        "escc",
    } <= set(spinemets.SCORES)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["score", "sins", "--format", "pdf"], "Invalid value for '--format'"),
        (["no-such-command"], "No such command"),
        (["score", "sins", "--item", "pain=severe"], "sins.pain must be one of mechanical, occasional, none"),
    ],
)
def test_bad_usage_exits_2_with_one_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_console_script_bad_value_prints_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from spinemets.cli import main; main()", "score", "sins", "--format", "pdf"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--format" in proc.stderr
