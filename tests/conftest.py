"""Shared fixtures: the example patients shipped in examples/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def example_patient() -> dict:
    return json.loads((EXAMPLES / "breast_t12_mechanical.json").read_text())
