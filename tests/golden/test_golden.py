"""Golden cases in tests/golden/*.json, each with its ``source``; every case must reproduce exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spinemets.scores import SCORES, score

HERE = Path(__file__).resolve().parent


def _cases() -> list[Any]:
    out = []
    for path in sorted(HERE.glob("*.json")):
        for i, case in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            out.append(pytest.param(case, id=f"{path.stem}-{i}"))
    return out


CASES = _cases()


def test_golden_files_are_present_for_the_main_scores() -> None:
    assert {p.stem for p in HERE.glob("*.json")} >= {
        "sins",
        "tokuhashi_revised",
        "tomita",
        "bauer_modified",
        "nesms",
    }


@pytest.mark.parametrize("case", CASES)
def test_golden_case_reproduces(case: dict[str, Any]) -> None:
    assert case["source"].strip() and case["score"] in SCORES
    r = score(case["score"], case["items"])
    assert r.complete, r.missing
    assert r.total == case["total"]
    assert r.band is not None and r.band.key == case["band"]
