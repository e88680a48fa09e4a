"""docs/scores.md is generated from the catalogue; this keeps the two from drifting apart."""

from __future__ import annotations

from pathlib import Path

from spinemets.render.score_text import catalogue_markdown
from spinemets.scores import NOT_SUPPORTED, SCORES, SPECS

DOC = Path(__file__).resolve().parents[2] / "docs" / "scores.md"


def generated() -> str:
    return catalogue_markdown(SCORES, NOT_SUPPORTED, {k: s.options for k, s in SPECS.items()})


def test_docs_scores_md_matches_the_catalogue() -> None:
    # Regenerate with: python -c "from tests.scores.test_docs import write; write()"
    assert DOC.read_text(encoding="utf-8") == generated()


def test_docs_list_every_score_and_every_unsupported_one() -> None:
    text = generated()
    assert all(f"## `{k}`" in text for k in SCORES) and all(f"`{k}`:" in text for k in NOT_SUPPORTED)
    assert "Option `ecog_convention`" in text and "Option `escc_1c`" in text


def write() -> None:
    DOC.write_text(generated(), encoding="utf-8")


def test_references_in_a_line_are_separated_cleanly() -> None:
    # a reference ends with its period; joined with "; " it read "Paraplegia 1969;7(3):179-192.; American ..."
    assert ".;" not in generated()
    assert "179-192; American Spinal Injury Association" in generated()
