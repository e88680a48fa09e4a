"""Shared fixtures: the example patients shipped in examples/; running the command line in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def example_patient() -> dict:
    return json.loads((EXAMPLES / "breast_t12_mechanical.json").read_text())


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``spinemets ARGV...`` in this process, as from a shell: (exit code, stdout, stderr)."""
    from spinemets.cli import main

    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
