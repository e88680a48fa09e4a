"""The evaluation set and runner (make eval): size, validity, targets, scoring arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from spinemets.errors import KnowledgeBaseError
from spinemets.evidence.answer import Answer, AnswerSentence
from spinemets.evidence.evaluate import (
    DEFAULT_PATH,
    TARGET_COVERAGE,
    TARGET_MIN_COVERAGE,
    EvalQuestion,
    evaluate,
    load_questions,
    main,
    score_question,
)
from spinemets.evidence.statements import Topic, statements_by_id

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / DEFAULT_PATH


def test_at_least_60_questions_with_facts_and_known_ids() -> None:
    qs = load_questions(QUESTIONS)
    assert len(qs) >= 60
    assert {"seed-recurrence", "seed-inguinal"} <= {q.id for q in qs}
    for q in qs:
        assert q.must_mention and set(q.relevant) <= set(statements_by_id())


def test_questions_span_the_topics_of_the_issue() -> None:
    by_id = statements_by_id()
    topics = {t for q in load_questions(QUESTIONS) for r in q.relevant for t in by_id[r].topics}
    assert set(Topic) - topics == set()


def test_targets_are_met() -> None:
    report = evaluate(load_questions(QUESTIONS), k=5)
    assert report.coverage >= TARGET_COVERAGE
    assert report.min_coverage >= TARGET_MIN_COVERAGE
    assert report.passed


def test_runner_prints_per_question_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(QUESTIONS)]) == 0
    out = capsys.readouterr().out
    assert "seed-recurrence" in out and "must-mention coverage" in out and "recall@5" in out and "PASS" in out


def test_scoring_counts_facts_and_recall() -> None:
    q = EvalQuestion(
        id="t",
        question="Which dose?",
        source="test",
        must_mention=(("16 mg",), ("24 hours", "24 h")),
        relevant=("ster-nice-16mg-neuro", "img-nice-mri-24h"),
    )
    answer = Answer(
        question="Which dose?",
        covered=True,
        summary=(AnswerSentence(text="Give 16 mg dexamethasone.", statement_ids=("ster-nice-16mg-neuro",)),),
    )
    res = score_question(q, answer, ["ster-nice-16mg-neuro", "rt-first-choice"])
    assert res.coverage == 0.5 and res.recall == 0.5 and res.missing == ("24 hours | 24 h",)


def test_bad_question_file_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "q.yaml"
    bad.write_text(
        "- id: x\n  question: Why?\n  source: s\n  must_mention: [[a]]\n  relevant: [no-such-id]\n"
    )
    with pytest.raises(KnowledgeBaseError, match="unknown statement ids"):
        load_questions(bad)
    with pytest.raises(KnowledgeBaseError, match="cannot be read"):
        load_questions(tmp_path / "missing.yaml")


def test_every_section_of_the_fact_sheet_is_asked_about() -> None:
    """Each numbered section of guidelines.md (1-12) is the source of at least one question."""
    import re

    cited = {
        int(n)
        for q in load_questions(QUESTIONS)
        if "guidelines.md" in q.source
        for n in re.findall(r"\b(\d+)(?:\.\d+)*", q.source.split("guidelines.md", 1)[1].split(";")[0])
    }
    assert set(range(1, 13)) <= cited


def test_heldout_set_is_valid_and_answered() -> None:
    heldout = load_questions(ROOT / "evaluation" / "heldout.yaml")
    assert len(heldout) >= 10
    assert not {q.id for q in heldout} & {q.id for q in load_questions(QUESTIONS)}
    assert evaluate(heldout).min_coverage >= TARGET_MIN_COVERAGE


def test_negative_checks_fail_the_run_when_an_answer_mentions_or_leads_with_what_it_must_not() -> None:
    """Reviewer defects (guidelines.md 2.1: 'no emergency work-up' for a new paraplegia; 12.6: penile
    chemotherapy in generic advice) are caught by must_not_mention / must_not_lead, not by coverage."""
    q = EvalQuestion(
        id="t",
        question="New paraplegia?",
        source="test",
        must_mention=(("16 mg",),),
        relevant=("ster-nice-16mg-neuro",),
        must_not_mention=(("no need for an emergency work-up",), ("penile",)),
        must_not_lead=("img-complete-lesion-no-emergency",),
    )
    bad = Answer(
        question=q.question,
        covered=True,
        summary=(
            AnswerSentence(
                text="The Dutch guideline sees no need for an emergency work-up.",
                statement_ids=("img-complete-lesion-no-emergency",),
            ),
            AnswerSentence(text="Give 16 mg dexamethasone.", statement_ids=("ster-nice-16mg-neuro",)),
        ),
    )
    res = score_question(q, bad, ["img-complete-lesion-no-emergency"])
    assert res.coverage == 1.0
    assert res.violations == (
        "mentions: no need for an emergency work-up",
        "leads with: img-complete-lesion-no-emergency",
    )
    good = Answer(
        question=q.question,
        covered=True,
        summary=(AnswerSentence(text="Give 16 mg dexamethasone.", statement_ids=("ster-nice-16mg-neuro",)),),
    )
    assert score_question(q, good, ["ster-nice-16mg-neuro"]).violations == ()


def test_the_question_set_has_negative_checks_and_all_pass() -> None:
    qs = load_questions(QUESTIONS)
    assert sum(q.negative_checks for q in qs) >= 10
    report = evaluate([q for q in qs if q.negative_checks], k=5)
    assert report.negatives_total >= 10 and report.violations == 0, [r.violations for r in report.results]


def test_an_unknown_must_not_lead_id_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(
        "- {id: a, question: What now?, source: s, must_mention: [[x]], relevant: [ster-nice-16mg-neuro],"
        " must_not_lead: [no-such-statement]}\n",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeBaseError, match="no-such-statement"):
        load_questions(path)
