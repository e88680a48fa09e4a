"""The one public entry point of the evidence Q&A: :func:`ask`."""

from __future__ import annotations

from pathlib import Path

from spinemets.errors import InvalidInputError
from spinemets.evidence.answer import Answer, AnswerSentence, Synthesis, compose, retrieve
from spinemets.evidence.llm import LLMConfig, LLMSentence, SynthesisError, synthesise
from spinemets.evidence.statements import statements_by_id

QUESTION_LENGTH = (3, 2000)
"""Shortest and longest question taken, in characters (the library, CLI, API and web page alike): a
longer text is no question, and retrieval time grows with its length."""


def check_question(question: str) -> str:
    """The question without surrounding spaces, or InvalidInputError naming its length."""
    text = question.strip()
    shortest, longest = QUESTION_LENGTH
    if not shortest <= len(text) <= longest:
        raise InvalidInputError(
            "question",
            text if len(text) <= 80 else text[:80] + "...",
            f"a question in words of {shortest} to {longest:,} characters, e.g. 'dose for SBRT to the "
            f"spine' (this one has {len(text):,})",
        )
    return text


def ask(
    question: str,
    k: int = 5,
    *,
    hybrid: bool = False,
    llm: LLMConfig | None = None,
    cache_dir: Path | None = None,
) -> Answer:
    """Answer a free-text clinical question from the curated evidence base.

    Args:
        question: the question, e.g. "How to diagnose recurrence after surgery and radiation?".
        k: how many statements to retrieve (1-50); the answer uses those scoring at least a fifth
            of the best one, plus statements they link as caveats.
        hybrid: fuse BM25 with dense retrieval (needs ``spinemets[semantic]``).
        llm: an OpenAI-compatible endpoint to phrase the answer; only the retrieved statements are
            sent and every cited id is checked. Without it the answer is extractive.
        cache_dir: where to keep the BM25 index between processes (JSON, keyed by a content
            hash); None builds it in memory on first use.

    Returns:
        A frozen :class:`Answer`; ``covered`` is False (with nearest topics) when the evidence
        base does not address the question.
    """
    question = check_question(question)
    retrieval, method = retrieve(question, k, hybrid=hybrid, cache_dir=cache_dir)
    answer = compose(question, retrieval, method)
    if llm is None or not answer.covered:
        return answer
    by_id = statements_by_id()
    retrieved = [by_id[h.statement_id] for h in answer.retrieved]
    try:
        reply = synthesise(llm, question, retrieved)
    except SynthesisError as exc:
        return answer.model_copy(update={"notice": f"LLM synthesis not used: {exc}"})

    ref_numbers = {r.id: r.number for r in answer.references}

    def convert(items: list[LLMSentence]) -> tuple[AnswerSentence, ...]:
        out = []
        for s in items:
            ids = tuple(dict.fromkeys(s.ids))
            nums = tuple(dict.fromkeys(ref_numbers[src] for i in ids for src in by_id[i].source_ids))
            out.append(AnswerSentence(text=s.text.strip(), statement_ids=ids, reference_numbers=nums))
        return tuple(out)

    return answer.model_copy(
        update={
            "summary": convert(reply.summary),
            "key_considerations": convert(reply.key_considerations),
            "rationale": convert(reply.rationale),
            "synthesis": Synthesis.llm,
        }
    )
