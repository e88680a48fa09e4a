"""`spinemets score`: calculator mode, patient files, options, --list, JSON output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli as run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "breast_t12_mechanical.json"


def test_calculator_mode_issue_example_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "score",
        "sins",
        "--item",
        "level=T12",
        "--item",
        "pain=mechanical",
        "--item",
        "bone_lesion=lytic",
        "--item",
        "alignment=normal",
        "--item",
        "vertebral_body_collapse=under_50",
        "--item",
        "posterolateral_involvement=none",
        "--format",
        "json",
    )
    data: dict[str, Any] = json.loads(out)
    assert (
        code == 0 and data["total"] == 3 + 3 + 2 + 0 + 2 + 0 and data["band"]["key"] == "potentially_unstable"
    )
    assert data["items"][0]["derivation"] == "level T12 -> junctional (3)"
    assert data["citation"][0]["doi"] == "10.1097/BRS.0b013e3181e16ae2"


def test_calculator_mode_text_shows_range_and_questions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "score",
        "tokuhashi_revised",
        "--item",
        "kps=60",
        "--item",
        "frankel=C",
        "--item",
        "primary=breast",
    )
    assert code == 0 and "Revised Tokuhashi 7..13" in out and "To settle it, obtain" in out
    assert "KPS 60 % -> moderate (1)" in out


def test_calculator_text_shows_which_facts_are_recalled(capsys: pytest.CaptureFixture[str]) -> None:
    # reference/scores.md tags the Tomita 2001 points and bands [K]; the panel showed the band
    # ("long-term local control") with nothing saying so, as the definition's notes were not printed.
    code, out, _ = run(
        capsys, "score", "tomita", "--item", "primary=breast", "--item", "visceral_metastases=none"
    )
    assert code == 0 and "recalled from Tomita 2001 [K]" in " ".join(out.replace("│", " ").split())


def test_options_change_the_conversion_and_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "score",
        "performance",
        "--item",
        "kps=90",
        "--option",
        "ecog_convention=alternative",
        "--format",
        "json",
    )
    data = json.loads(out)
    assert code == 0 and data["grade"] == "1" and data["options"] == {"ecog_convention": "alternative"}


def test_patient_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "score", "tomita", "--input", str(EXAMPLE), "--format", "json")
    assert code == 0 and json.loads(out)["total"] == 3


def test_list_includes_not_supported_scores(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "score", "--list", "--format", "json")
    data = json.loads(out)
    assert code == 0 and "nesms" in data["scores"] and "katagiri_new" in data["not_supported"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("score", "sins", "--item", "pain"),
            r"--item must be NAME=VALUE, e.g. --item pain=mechanical; got 'pain'",
        ),
        (
            ("score", "sins", "--item", "pain=severe"),
            r"sins.pain must be one of mechanical, occasional, none",
        ),
        (
            ("score", "sins", "--item", "pain=none", "--item", "pain=mechanical"),
            r"--item must be each name once",
        ),
        (("score", "nope"), r"score must be one of bauer, "),
        (("score", "performance", "-i", "kps=inf"), r"performance.kps must be a Karnofsky score .*got 'inf'"),
        (("score",), r"score must be one of .*give a score name or --list"),
        (
            ("score", "escc", "--item", "grade=1c", "--option", "escc_1c=mid"),
            r"escc.escc_1c must be one of low, high",
        ),
        (("score", "sins", "--input", "/nonexistent/p.json"), r"input must be a readable JSON file"),
    ],
)
def test_invalid_input_exits_2_with_a_one_line_error(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    import re

    code, out, err = run(capsys, *argv)
    assert code == 2 and re.search(message, err) and "Traceback" not in err + out


@pytest.mark.parametrize("command", [("assess",), ("score", "tokuhashi_revised", "--input")])
def test_a_patient_file_that_is_not_utf8_is_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    patient = tmp_path / "latin1.json"
    patient.write_bytes('{"name": "Jos\u00e9", "kps": 70}'.encode("latin-1"))
    code, _, err = run(capsys, *command, str(patient))
    assert code == 2
    assert err.startswith(f"error: input must be a JSON file encoded in UTF-8; got '{patient}' (byte 0xe9"), (
        err
    )
    assert "save it again as UTF-8" in err


def test_python_dash_m_runs_the_command_line() -> None:
    # "python -m spinemets ..." failed: the package had no __main__ module
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "spinemets", "score", "sins", "--item", "level=T12"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "SINS 3..18" in done.stdout


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 5000 + b"]" * 5000, r"--fhir must be JSON nested less deeply than the parser allows"),
        (
            b'{"resourceType": "Bundle", "type": "collection", "type": "batch"}',
            r"--fhir must be JSON that names ",
        ),
    ],
)
def test_a_bundle_the_parser_gives_up_on_or_that_repeats_a_key_is_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes, message: str
) -> None:
    import re

    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(raw)
    code, _, err = run(capsys, "assess", "--fhir", str(bundle))
    assert code == 2 and re.match("error: " + message, err) and "internal error" not in err, err


def test_a_bundle_saved_with_a_byte_order_mark_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle.json"
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    doc = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    bundle.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc).encode())
    code, out, err = run(capsys, "assess", "--fhir", str(bundle), "-f", "json")
    assert code == 0 and json.loads(out)["patient"]["sex"] == "female", err
