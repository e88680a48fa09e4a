"""The one public entry point of the evidence Q&A: :func:`ask`."""

from __future__ import annotations

from pathlib import Path

from spinemets.errors import InvalidInputError
from spinemets.evidence.answer import Answer, AnswerSentence, Synthesis, compose, retrieve, too_broad
from spinemets.evidence.llm import LLMConfig, LLMSentence, SynthesisError, synthesise
from spinemets.evidence.retrieval import document_tokens
from spinemets.evidence.statements import statements_by_id
from spinemets.evidence.text import analyse, is_generic

QUESTION_LENGTH = (3, 2000)
"""Shortest and longest question taken, in characters (the library, CLI, API and web page alike): a
longer text is no question, and retrieval time grows with its length."""


def check_question(question: str, field: str = "question") -> str:
    """The question without surrounding spaces, or InvalidInputError naming ``field`` and its length."""
    text = question.strip()
    shortest, longest = QUESTION_LENGTH
    if not shortest <= len(text) <= longest:
        raise InvalidInputError(
            field,
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
    previous: str | None = None,
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
        previous: the question asked before it in the same conversation. Read only when this one
            alone is too broad ("What dose?"): it is then answered together with the previous
            question's words, and ``follow_up_of`` says so. A question answerable on its own, or
            with a term the evidence base does not know, is answered on its own.

    Returns:
        A frozen :class:`Answer`; ``covered`` is False (with nearest topics) when the evidence
        base does not address the question.
    """
    question = check_question(question)
    previous = check_question(previous, "previous") if previous else None
    retrieval, method = retrieve(question, k, hybrid=hybrid, cache_dir=cache_dir)
    answer = compose(question, retrieval, method)
    if previous and too_broad(retrieval):
        answer = _as_follow_up(question, previous, k, hybrid, cache_dir) or answer
    if llm is None or not answer.covered:
        return answer
    by_id = statements_by_id()
    retrieved = [by_id[h.statement_id] for h in answer.retrieved]
    try:
        reply = synthesise(llm, subject_of(answer), retrieved)  # a follow-up with its subject
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


def follow_up_text(question: str, previous: str) -> str:
    """The text a follow-up is retrieved with: the question, then the previous one in brackets (cut
    to the longest question taken). Also what the next follow-up of a follow-up reads as its subject."""
    room = max(0, QUESTION_LENGTH[1] - len(question) - 3)
    return f"{question} ({previous[:room]})" if room else question


def subject_of(answer: Answer) -> str:
    """What a later follow-up question should be read with: the question, with its own subject."""
    return follow_up_text(answer.question, answer.follow_up_of) if answer.follow_up_of else answer.question


def _as_follow_up(
    question: str, previous: str, k: int, hybrid: bool, cache_dir: Path | None
) -> Answer | None:
    """``question`` answered with ``previous`` beside it, or None when that is no better: still not
    covered, or led by a statement that names none of what the follow-up itself asks (its words, or a
    concept they stand for), which answers the previous question again under the new one ("What about
    radiotherapy?" after a prognosis question led with a bone-modifying agent statement)."""
    combined = follow_up_text(question, previous)
    retrieval, method = retrieve(combined, k, hybrid=hybrid, cache_dir=cache_dir)
    answer = compose(combined, retrieval, method)
    if not answer.covered or not _names_what_is_asked(question, answer):
        return None
    return answer.model_copy(update={"question": question, "follow_up_of": previous})


def _names_what_is_asked(question: str, answer: Answer) -> bool:
    """Whether the lead statement names every specific word of ``question`` (or a concept it stands in for)."""
    if not answer.summary:
        return False
    lead = set(document_tokens(statements_by_id()[answer.summary[0].statement_ids[0]]))
    analysis = analyse(question)
    words = [t for t in analysis.tokens if not t.startswith("c_") and not is_generic(t)]
    return all(
        w in lead or any(w in ws and c in lead for c, ws in analysis.by_concept.items()) for w in words
    )
