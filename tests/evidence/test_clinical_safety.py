"""Reviewer-reproduced answer defects (clinical safety, house rules): each test names the sheet section."""

from __future__ import annotations

import pytest

from spinemets.evidence import ask
from spinemets.evidence.text import tokenize


@pytest.mark.parametrize(
    "words",
    ["paraparesis", "paraplegia", "tetraparesis", "leg weakness", "motor deficit", "weakness of both legs"],
)
def test_deficit_synonyms_mean_a_neurological_deficit(words: str) -> None:
    """guidelines.md 2.1 and 3 (neurological deficit drives MRI timing and dexamethasone): the words a
    clinician uses for a deficit all reach the neurological-deficit concept."""
    assert "c_deficit" in tokenize(words)


def test_spinal_weakness_is_not_a_neurological_deficit() -> None:
    """guidelines.md 11 (mechanical pain): 'spinal weakness or instability' is not a motor deficit."""
    assert "c_deficit" not in tokenize("spinal weakness")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "Unknown primary with progressive paraparesis: what to do?",
            {"surg-unknown-primary-progressive", "cup-nl-surgery-progressive", "cup-nl-tissue-timing"},
        ),
        (
            "What is the treatment for a spinal metastasis of unknown primary with progressive paraparesis?",
            {"surg-unknown-primary-progressive", "cup-nl-surgery-progressive", "cup-nl-tissue-timing"},
        ),
        ("Patient with paraparesis from spinal metastasis: what treatment?", None),
        ("Patient with leg weakness from spinal metastasis: what treatment?", None),
    ],
)
def test_deficit_questions_in_other_words_are_covered(question: str, expected: set[str] | None) -> None:
    """guidelines.md 9 (unknown primary: surgery for a deficit progressing despite steroids) and 2.1/3
    (deficit = urgent MRI, dexamethasone): the evidence base covers these, so the answer must not say
    'not covered' because the question says paraparesis or leg weakness."""
    a = ask(question)
    assert a.covered, a.notice
    if expected:
        assert expected & set(a.cited_statement_ids)
        assert a.summary[0].statement_ids[0] in expected
