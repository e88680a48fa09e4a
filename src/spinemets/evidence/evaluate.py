"""Evaluation of the evidence Q&A against a question set with must-mention key facts.

``python -m spinemets.evidence.evaluate [PATH] [--k 5] [--hybrid] [--json]`` (``make eval``) prints,
per question and in total, the must-mention coverage of the answer and recall@k of the relevant
statements. It exits with status 1 when a target is missed: overall coverage at least
:data:`TARGET_COVERAGE`, no question below :data:`TARGET_MIN_COVERAGE`.

Each question in the YAML file (default ``evaluation/questions.yaml``, relative to the working
directory) has ``id``, ``question``, ``source``, ``must_mention`` (a list of facts, each a list of
alternative phrasings; one match suffices, compared after the retriever's normalisation) and
``relevant`` (statement ids). Negative checks are optional: ``must_not_mention`` (facts, as above, that
the answer must not contain; one alternative found is a violation) and ``must_not_lead`` (statement ids
that must not open the summary). Any violation fails the run, whatever the coverage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinemets.errors import KnowledgeBaseError
from spinemets.evidence.answer import Answer
from spinemets.evidence.statements import statements_by_id
from spinemets.evidence.text import normalise
from spinemets.knowledge.yaml_text import load_yaml

DEFAULT_PATH = Path("evaluation") / "questions.yaml"
TARGET_COVERAGE = 0.90
TARGET_MIN_COVERAGE = 0.50


class EvalQuestion(BaseModel):
    """One evaluation question with its key facts and relevant statements."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    question: str = Field(min_length=3)
    source: str
    must_mention: tuple[tuple[str, ...], ...] = Field(min_length=1)
    relevant: tuple[str, ...] = Field(min_length=1)
    must_not_mention: tuple[tuple[str, ...], ...] = ()
    """Facts (each a list of alternative phrasings) the answer must not contain."""
    must_not_lead: tuple[str, ...] = ()
    """Statement ids that must not open the summary."""

    @property
    def negative_checks(self) -> int:
        return len(self.must_not_mention) + len(self.must_not_lead)


class QuestionResult(BaseModel):
    """Scores of one question."""

    model_config = ConfigDict(frozen=True)

    id: str
    coverage: float
    recall: float
    missing: tuple[str, ...]
    covered: bool
    lead_relevant: bool = False
    """The summary opens with one of the relevant statements."""
    violations: tuple[str, ...] = ()
    """Negative checks that failed: 'mentions: ...' or 'leads with: ...'."""


class EvalReport(BaseModel):
    """All question results plus the totals and whether the targets are met."""

    model_config = ConfigDict(frozen=True)

    k: int
    hybrid: bool
    results: tuple[QuestionResult, ...]
    facts_found: int
    facts_total: int
    mean_recall: float
    negatives_total: int = 0
    """Negative checks (must_not_mention facts plus must_not_lead ids) over all questions."""

    @property
    def violations(self) -> int:
        return sum(len(r.violations) for r in self.results)

    @property
    def coverage(self) -> float:
        return self.facts_found / self.facts_total if self.facts_total else 0.0

    @property
    def min_coverage(self) -> float:
        return min((r.coverage for r in self.results), default=0.0)

    @property
    def passed(self) -> bool:
        return (
            self.coverage >= TARGET_COVERAGE
            and self.min_coverage >= TARGET_MIN_COVERAGE
            and self.violations == 0
        )


def load_questions(path: Path = DEFAULT_PATH) -> tuple[EvalQuestion, ...]:
    """Read and validate the question set; relevant ids must be statements."""
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeBaseError(f"evaluation set {path} cannot be read: {exc}") from exc
    if not isinstance(raw, list):
        raise KnowledgeBaseError(f"evaluation set {path}: expected a list of questions")
    known = statements_by_id()
    out: list[EvalQuestion] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        try:
            q = EvalQuestion.model_validate(item)
        except ValidationError as exc:
            raise KnowledgeBaseError(f"evaluation set {path} entry {i}: {exc}") from exc
        if q.id in seen:
            raise KnowledgeBaseError(f"evaluation set {path}: duplicate question id {q.id!r}")
        seen.add(q.id)
        unknown = [r for r in (*q.relevant, *q.must_not_lead) if r not in known]
        if unknown:
            raise KnowledgeBaseError(
                f"evaluation set {path} question {q.id!r}: unknown statement ids {unknown}"
            )
        out.append(q)
    return tuple(out)


def answer_text(answer: Answer) -> str:
    """Everything the reader sees, normalised for fact matching."""
    return normalise(" ".join(s.text for s in answer.sentences))


def fact_found(fact: Sequence[str], text: str) -> bool:
    return any(normalise(alt) in text for alt in fact)


def score_question(q: EvalQuestion, answer: Answer, retrieved_ids: Sequence[str]) -> QuestionResult:
    """Coverage of must-mention facts in ``answer`` and recall of relevant ids in ``retrieved_ids``."""
    text = answer_text(answer)
    missing = tuple(" | ".join(f) for f in q.must_mention if not fact_found(f, text))
    coverage = 1 - len(missing) / len(q.must_mention)
    recall = len(set(q.relevant) & set(retrieved_ids)) / len(q.relevant)
    lead = answer.summary[0].statement_ids if answer.summary else ()
    violations = tuple(
        [f"mentions: {' | '.join(f)}" for f in q.must_not_mention if fact_found(f, text)]
        + [f"leads with: {sid}" for sid in q.must_not_lead if sid in lead]
    )
    return QuestionResult(
        id=q.id,
        coverage=coverage,
        recall=recall,
        missing=missing,
        covered=answer.covered,
        lead_relevant=bool(set(lead) & set(q.relevant)),
        violations=violations,
    )


def evaluate(questions: Sequence[EvalQuestion], k: int = 5, hybrid: bool = False) -> EvalReport:
    """Ask every question with ``k`` statements and score it."""
    from spinemets.evidence.answer import compose, retrieve

    results = []
    found = total = 0
    for q in questions:
        retrieval, method = retrieve(q.question, k, hybrid=hybrid)
        answer = compose(q.question, retrieval, method)
        res = score_question(q, answer, [h.statement_id for h in retrieval.hits[:k]])
        results.append(res)
        total += len(q.must_mention)
        found += len(q.must_mention) - len(res.missing)
    mean_recall = sum(r.recall for r in results) / len(results) if results else 0.0
    return EvalReport(
        k=k,
        hybrid=hybrid,
        results=tuple(results),
        facts_found=found,
        facts_total=total,
        mean_recall=mean_recall,
        negatives_total=sum(q.negative_checks for q in questions),
    )


def format_report(report: EvalReport) -> str:
    lines = [f"{'question':<32} {'coverage':>8} {f'recall@{report.k}':>9}  missing"]
    for r in report.results:
        flag = "" if r.covered else " [not covered]"
        bad = f" [VIOLATES {'; '.join(r.violations)}]" if r.violations else ""
        lines.append(f"{r.id:<32} {r.coverage:>8.0%} {r.recall:>9.0%}  {'; '.join(r.missing)}{flag}{bad}")
    lines.append("")
    lines.append(
        f"questions: {len(report.results)}  retrieval: {'bm25+dense (RRF)' if report.hybrid else 'bm25'}  k={report.k}"
    )
    lines.append(
        f"must-mention coverage: {report.coverage:.1%} ({report.facts_found}/{report.facts_total} facts; "
        f"target >= {TARGET_COVERAGE:.0%})"
    )
    lines.append(f"lowest question coverage: {report.min_coverage:.0%} (target >= {TARGET_MIN_COVERAGE:.0%})")
    lines.append(f"mean recall@{report.k} of relevant statements: {report.mean_recall:.1%}")
    leads = sum(r.lead_relevant for r in report.results) / len(report.results) if report.results else 0.0
    lines.append(f"summary opens with a relevant statement: {leads:.1%}")
    lines.append(
        f"negative checks (must not mention / lead): {report.negatives_total - report.violations}/"
        f"{report.negatives_total} pass (target: all)"
    )
    lines.append("PASS" if report.passed else "FAIL")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help="question set (YAML)")
    parser.add_argument("--k", type=int, default=5, help="statements retrieved per question (default 5)")
    parser.add_argument(
        "--hybrid", action="store_true", help="fuse BM25 with dense retrieval (semantic extra)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = evaluate(load_questions(args.path), k=args.k, hybrid=args.hybrid)
    if args.json:
        payload = report.model_dump() | {
            "coverage": report.coverage,
            "min_coverage": report.min_coverage,
            "violations": report.violations,
            "passed": report.passed,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(format_report(report))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
