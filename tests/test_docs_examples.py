"""The command output that README.md and docs/plan-example.md show is what the commands print, and
the other doc examples a test can check cheaply are what the code does.

A new user runs the examples literally; an output block that drifted from the code (a note added to a
score, a reworded error) reads as a bug. Each block is compared with the command run at the block's own
width (``COLUMNS``), as a terminal of that width would show it. Beside them: quoted derivations, counts,
the cohort mapping example and lesion columns, and the service's settings table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PLAN_EXAMPLE = ROOT / "docs" / "plan-example.md"
EXAMPLE = ROOT / "examples" / "breast_t12_mechanical.json"


def _run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int, *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("COLUMNS", str(width))
    return run_cli(capsys, *argv)


def _console_block(text: str, command: str) -> list[str]:
    """The lines printed under ``$ <command>`` in a ```console block."""
    match = re.search(r"```console\n\$ " + re.escape(command) + r"\n(.*?)```", text, re.S)
    assert match, f"no ```console block for `$ {command}`"
    return match.group(1).splitlines()


def _example_output_block(text: str) -> list[str]:
    """The ```text block of the full assessment example (between the example-output markers)."""
    section = text.split("<!-- example-output:start -->", 1)[-1].split("<!-- example-output:end -->")[0]
    match = re.search(r"```text\n(.*?)```", section, re.S)
    assert match, "no ```text block with the example assessment"
    return match.group(1).splitlines()


def test_readme_calculator_example_is_what_score_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    command = "spinemets score sins --item level=T12 --item pain=mechanical --item bone_lesion=lytic"
    shown = _console_block(README.read_text(encoding="utf-8"), command)
    width = len(shown[0])
    code, out, _ = _run(capsys, monkeypatch, width, *command.split()[1:])
    assert code == 0
    assert out.splitlines() == shown


@pytest.mark.parametrize("doc", [README, PLAN_EXAMPLE], ids=["README.md", "plan-example.md"])
def test_full_assessment_example_is_what_assess_prints(
    doc: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = _example_output_block(doc.read_text(encoding="utf-8"))
    code, out, _ = _run(capsys, monkeypatch, 110, "assess", str(EXAMPLE))
    assert code == 0
    assert out.splitlines() == shown


def test_readme_error_examples_are_the_messages_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    readme = README.read_text(encoding="utf-8")
    paragraph = readme.split("Invalid input exits with code 2", 1)[1].split("\n\n", 1)[0]
    quoted = [" ".join(q.split()) for q in re.findall(r"`([^`]+)`", paragraph)]
    assert len(quoted) == 2
    patient = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    patient["performance"] = {"kps": 65}
    kps65 = tmp_path / "kps65.json"
    kps65.write_text(json.dumps(patient), encoding="utf-8")
    printed: list[str] = []
    for argv in (["score", "sins", "--item", "pain=severe"], ["assess", str(kps65)]):
        code, _, err = _run(capsys, monkeypatch, 110, *argv)
        assert code == 2
        printed.append(" ".join(err.split()))
    for message, err in zip(quoted, printed, strict=True):
        assert f"error: {message}" in err


COHORT = ROOT / "docs" / "cohort.md"


def _one_line(path: Path) -> str:
    return " ".join(path.read_text(encoding="utf-8").split())


def test_cohort_lesion_columns_are_read_by_the_lesion_scores_only() -> None:
    """docs/cohort.md names the columns of the index lesion; a patient-level score reading one of them
    would score the lesion's fact as the patient's (the doc once named `grade` for the ESCC grade,
    which the Frankel grade reads too: every ESCC grade became a Frankel error)."""
    from spinemets.cohort.mapping import accepted_inputs
    from spinemets.scores import SPECS

    text = _one_line(COHORT)
    listed = text.split("one index lesion:", 1)[1].split(". SINS and ESCC are computed", 1)[0]
    names = re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", listed))  # not the remarks in brackets
    lesion_scores = {k for k, s in SPECS.items() if s.definition.unit_of_scoring == "lesion"}
    readers = accepted_inputs(SPECS)
    recommended = [n for n in names if n in readers]
    for name in recommended:
        assert set(readers[name]) <= lesion_scores, f"`{name}` is also read by {readers[name]}"
    assert {"level", "escc"} <= set(recommended)


def test_cohort_mapping_example_is_a_valid_mapping(tmp_path: Path) -> None:
    from spinemets.cohort.mapping import load_mapping
    from spinemets.scores import SPECS

    match = re.search(r"```yaml\n(.*?)```", COHORT.read_text(encoding="utf-8"), re.S)
    assert match, "no ```yaml block with the mapping example"
    path = tmp_path / "registry.yaml"
    path.write_text(match.group(1), encoding="utf-8")
    mapping = load_mapping(path, SPECS)
    assert {"kps", "primary", "visceral_metastases", "sins.pain"} <= set(mapping.columns)


def test_readme_derivations_are_what_the_scores_print() -> None:
    """README's examples of derived items, each a part of a derivation the score prints (it quoted
    `KPS 60 -> moderate (1)` for `KPS 60 % -> moderate (1)`)."""
    import spinemets

    paragraph = (
        _one_line(README).split("Derived items show their derivation (", 1)[1].split("), a primary", 1)[0]
    )
    quoted = re.findall(r"`([^`]+)`", paragraph)
    assert len(quoted) == 3
    calculated = [
        ("sins", {"level": "T12"}),
        ("tokuhashi_revised", {"kps": 60}),
        ("tokuhashi_revised", {"ecog": 1}),
    ]
    printed = [
        item.derivation or "" for name, items in calculated for item in spinemets.score(name, items).items
    ]
    for quote in quoted:
        assert any(quote in text for text in printed), f"`{quote}` is in no derivation: {printed}"


def test_readme_report_summary_gives_the_lines_and_columns_shown() -> None:
    readme = README.read_text(encoding="utf-8")
    match = re.search(r"The full text report \((\d+) lines, (\d+) columns\)", readme)
    assert match, "no '(N lines, W columns)' summary of the example report"
    shown = _example_output_block(readme)
    assert int(match.group(1)) == len(shown)
    assert int(match.group(2)) == max(len(line) for line in shown)


def test_plan_example_input_is_the_example_file() -> None:
    match = re.search(r"## Input\n\n```json\n(.*?)```", PLAN_EXAMPLE.read_text(encoding="utf-8"), re.S)
    assert match, "no ```json block under '## Input'"
    assert json.loads(match.group(1)) == json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_readme_counts_the_evidence_statements_and_evaluation_questions() -> None:
    from spinemets.evidence.evaluate import load_questions
    from spinemets.evidence.statements import load_statements

    text = _one_line(README)
    statements = re.search(r"answers from (\d+) curated evidence statements", text)
    questions = re.search(r"runs the (\d+)-question evaluation set", text)
    assert statements and questions
    assert int(statements.group(1)) == len(load_statements())
    assert int(questions.group(1)) == len(load_questions(ROOT / "evaluation" / "questions.yaml"))


SERVICE = ROOT / "docs" / "service.md"


def test_service_settings_table_lists_every_setting_with_its_default() -> None:
    """docs/service.md's table of SPINEMETS_* variables: one row per setting, none that is not one, and
    the defaults the settings model has (where it has one that a table cell can spell)."""
    from enum import Enum

    from spinemets.service.settings import ServiceSettings

    rows = re.findall(r"^\| `SPINEMETS_(\w+)` \| ([^|]+) \|", SERVICE.read_text(encoding="utf-8"), re.M)
    documented = {name.lower(): default.strip() for name, default in rows}
    fields = {k: f for k, f in ServiceSettings.model_fields.items() if k != "settings_file"}
    assert sorted(documented) == sorted(fields)
    for name, field in fields.items():
        default = field.default
        if default is None or default == ():
            continue
        if isinstance(default, bool):
            spelt = str(default).lower()
        else:
            spelt = str(default.value if isinstance(default, Enum) else default)
        assert documented[name] == f"`{spelt}`", name
