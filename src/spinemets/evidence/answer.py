"""Answer composition: retrieved statements -> summary, key considerations, rationale, references.

Extractive and deterministic by default: every sentence of an answer is a sentence of a curated
statement and carries that statement's id; every reference is a bibliography entry cited by one of
those statements. Statements that a retrieved statement links through ``see_also`` (source
conflicts, caveats) are pulled into the rationale so a reader sees where guidelines disagree.

When the question shares too little with the evidence base the answer says it is not covered and
names the nearest topics; it never fills the gap.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from spinemets.evidence.retrieval import (
    Hit,
    Retrieval,
    RetrievalMethod,
    document_tokens,
    own_tokens,
    search,
)
from spinemets.evidence.statements import (
    Certainty,
    EvidenceStatement,
    StatementKind,
    Topic,
    statements_by_id,
)
from spinemets.evidence.text import is_generic
from spinemets.knowledge.bibliography import get_reference

MIN_COVERAGE = 0.45
"""Share of the question's specific terms the evidence base must know before it answers."""
MIN_TOP_SCORE = 2.0
"""Lowest BM25 score of the best statement that still counts as an answer."""
LEAD_BAND = 0.75
"""The summary leads with the statement whose own text best matches the question's words among the
recommendations and facts scoring within this fraction of the best; trial data and caveats go to
the rationale."""
RELATIVE_CUTOFF = 0.2
"""Statements scoring below this fraction of the best score are dropped from the answer."""

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_NO_SPLIT_BEFORE = ("e.g.", "i.e.", "vs.", "et al.", "approx.", "cf.", "Dr.")


class Section(StrEnum):
    """Part of an answer a sentence belongs to."""

    summary = "summary"
    key_considerations = "key_considerations"
    rationale = "rationale"


class Synthesis(StrEnum):
    """How the answer text was produced."""

    extractive = "extractive"
    llm = "llm"


class AnswerSentence(BaseModel):
    """One sentence of an answer and the statements (ids) it comes from."""

    model_config = ConfigDict(frozen=True)

    text: str
    statement_ids: tuple[str, ...]
    reference_numbers: tuple[int, ...] = ()
    certainty: Certainty | None = None
    level: str | None = None


class AnswerReference(BaseModel):
    """A numbered bibliography entry cited by the answer."""

    model_config = ConfigDict(frozen=True)

    number: int
    id: str
    citation: str
    link: str | None
    certainty: str
    locators: tuple[str, ...] = ()
    """Sections or pages of this source used by the cited statements."""


class Answer(BaseModel):
    """A guideline-backed answer: summary, key considerations, rationale, numbered references."""

    model_config = ConfigDict(frozen=True)

    question: str
    covered: bool
    summary: tuple[AnswerSentence, ...] = ()
    key_considerations: tuple[AnswerSentence, ...] = ()
    rationale: tuple[AnswerSentence, ...] = ()
    references: tuple[AnswerReference, ...] = ()
    retrieved: tuple[Hit, ...] = ()
    nearest_topics: tuple[Topic, ...] = ()
    notice: str | None = None
    """Why the question is not covered, or why LLM synthesis was not used."""
    follow_up_of: str | None = None
    """The earlier question whose subject this answer also read: set only when the question alone
    was too broad (every term known, none specific enough), as "What dose?" after a question about
    dexamethasone. Shown with the answer, so the reading can be checked."""
    synthesis: Synthesis = Synthesis.extractive
    method: RetrievalMethod = RetrievalMethod.bm25

    @property
    def sentences(self) -> tuple[AnswerSentence, ...]:
        return self.summary + self.key_considerations + self.rationale

    @property
    def cited_statement_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i for s in self.sentences for i in s.statement_ids))

    def render(self, fmt: str = "text") -> str:
        """The answer as ``text``, ``markdown`` or ``json``."""
        from spinemets.evidence.render import render

        return render(self, fmt)


def split_sentences(text: str) -> list[str]:
    """Split a statement into sentences without breaking at ``e.g.``, ``vs.`` and the like."""
    parts = _SENTENCE_SPLIT.split(text)
    out: list[str] = []
    for p in parts:
        if out and out[-1].endswith(_NO_SPLIT_BEFORE):
            out[-1] = f"{out[-1]} {p}"
        else:
            out.append(p)
    return out


def nearest_topics(hits: tuple[Hit, ...], limit: int = 5) -> tuple[Topic, ...]:
    """Topics of the best partial matches, weighted by score."""
    by_id = statements_by_id()
    weight: dict[Topic, float] = {}
    for h in hits:
        for t in by_id[h.statement_id].topics:
            weight[t] = weight.get(t, 0.0) + max(h.score, 1e-6)
    return tuple(sorted(weight, key=lambda t: -weight[t])[:limit])


#: A question asking what a trial or study found (its evidence statement may lead the answer).
ASKS_FOR_EVIDENCE = re.compile(
    r"\b(?:results?|outcomes?|found|showed?|shown|trials?|study|studies|randomi[sz]ed|evidence)\b", re.I
)


def _catalogue_topics(limit: int = 8) -> tuple[Topic, ...]:
    """The broadest topics of the evidence base (most statements first)."""
    counts: dict[Topic, int] = {}
    for st in statements_by_id().values():
        for t in st.topics:
            counts[t] = counts.get(t, 0) + 1
    return tuple(sorted(counts, key=lambda t: (-counts[t], t.value))[:limit])


def too_broad(retrieval: Retrieval) -> bool:
    """Every specific term of the question is in the evidence base, yet no statement is specific
    enough to stand as the answer ("the role of radiotherapy", "what dose?")."""
    if _is_covered(retrieval):
        return False
    specific = [t for t in retrieval.matched_tokens if not is_generic(t)]
    unmatched = [t for t in retrieval.query_tokens if t not in retrieval.matched_tokens and not is_generic(t)]
    return bool(specific) and not unmatched


def _not_covered(question: str, retrieval: Retrieval, method: RetrievalMethod) -> Answer:
    specific = [t for t in retrieval.matched_tokens if not is_generic(t)]
    if too_broad(retrieval):
        # every term of the question is in the base, yet no statement is specific enough to stand as
        # the answer ("the role of radiotherapy"): ask for an aspect rather than say "not covered"
        topics = nearest_topics(retrieval.hits)
        return Answer(
            question=question,
            covered=False,
            retrieved=retrieval.hits,
            nearest_topics=topics,
            notice="This question is too broad for one answer from the spinemets evidence base: ask about "
            "one aspect (for example the dose, the timing, who benefits, or the risks). Nearest topics: "
            + ", ".join(t.label for t in topics)
            + ".",
            method=method,
        )
    if specific:
        topics = nearest_topics(retrieval.hits)
        why = "Nearest topics in the evidence base: " + ", ".join(t.label for t in topics) + "."
    else:
        topics = _catalogue_topics()
        why = (
            "No statement shares a specific term with the question. The evidence base covers, among others: "
            + ", ".join(t.label for t in topics)
            + "."
        )
    return Answer(
        question=question,
        covered=False,
        retrieved=retrieval.hits,
        nearest_topics=topics,
        notice=f"This question is not covered by the spinemets evidence base. {why}",
        method=method,
    )


def _is_covered(retrieval: Retrieval) -> bool:
    if not retrieval.hits or not retrieval.strong_match:
        return False
    top = retrieval.hits[0].score
    if retrieval.top_score_unqualified is not None:  # "after ..." down-weights for ranking, not for coverage
        top = max(top, retrieval.top_score_unqualified)
    if retrieval.hits[0].via is RetrievalMethod.bm25 and top < MIN_TOP_SCORE:
        return False
    return retrieval.coverage >= MIN_COVERAGE


class _References:
    """Numbers bibliography entries in order of first citation."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.locators: dict[str, list[str]] = {}

    def cite(self, st: EvidenceStatement) -> tuple[int, ...]:
        nums = []
        for src in st.sources:
            if src.id not in self.numbers:
                get_reference(src.id)
                self.numbers[src.id] = len(self.numbers) + 1
                self.locators[src.id] = []
            loc = ", ".join(x for x in (src.section, f"p. {src.page}" if src.page else None) if x)
            if loc and loc not in self.locators[src.id]:
                self.locators[src.id].append(loc)
            nums.append(self.numbers[src.id])
        return tuple(dict.fromkeys(nums))

    def entries(self) -> tuple[AnswerReference, ...]:
        out = []
        for ref_id, num in self.numbers.items():
            ref = get_reference(ref_id)
            out.append(
                AnswerReference(
                    number=num,
                    id=ref_id,
                    citation=ref.vancouver(),
                    link=ref.link,
                    certainty=ref.certainty,
                    locators=tuple(self.locators[ref_id]),
                )
            )
        return tuple(out)


def _sentences(st: EvidenceStatement, refs: _References) -> list[AnswerSentence]:
    nums = refs.cite(st)
    return [
        AnswerSentence(
            text=part,
            statement_ids=(st.id,),
            reference_numbers=nums,
            certainty=st.certainty,
            level=st.level,
        )
        for part in split_sentences(st.text)
    ]


def _place(st: EvidenceStatement, first: bool) -> Section:
    if first:
        return Section.summary
    if st.kind in (StatementKind.evidence, StatementKind.caveat):
        return Section.rationale
    return Section.key_considerations


def compose(question: str, retrieval: Retrieval, method: RetrievalMethod = RetrievalMethod.bm25) -> Answer:
    """Build the extractive answer for ``question`` from a retrieval result."""
    if not _is_covered(retrieval):
        return _not_covered(question, retrieval, method)
    by_id = statements_by_id()
    top = retrieval.hits[0].score
    hits = [h for h in retrieval.hits if h.score >= RELATIVE_CUTOFF * top] or [retrieval.hits[0]]
    used = [by_id[h.statement_id] for h in hits]
    linked: list[Hit] = []
    seen = {s.id for s in used}
    for st in list(used):
        for other in st.see_also:
            if other not in seen:
                seen.add(other)
                used.append(by_id[other])
                linked.append(
                    Hit(
                        statement_id=other,
                        score=0.0,
                        rank=len(hits) + len(linked) + 1,
                        via=RetrievalMethod.link,
                    )
                )
    # A question about a trial's result may be answered by the trial's evidence statement first;
    # otherwise the lead is a recommendation or a fact.
    kinds = {StatementKind.recommendation, StatementKind.fact}
    if ASKS_FOR_EVIDENCE.search(question):
        kinds.add(StatementKind.evidence)
    candidates = [
        (h, by_id[h.statement_id])
        for h in hits
        if h.score >= LEAD_BAND * top and by_id[h.statement_id].kind in kinds
    ]
    # The lead answers what the question is about: first the statement sharing the most specific of the
    # question's concepts (SBRT, MSCC, good or poor condition, ...; each weighted by its idf across the
    # statement base; an example named in passing must not steer it), counting those of its "after ..."
    # setting only to break ties; then the one naming the question's focus ("which MRI sequences"), then
    # its own words. Domain-generic concepts (spine, metastases) come last: every statement is about them,
    # whether its text says so or not.
    setting = set(retrieval.setting_tokens)
    concepts = {t for t in retrieval.query_tokens if t.startswith("c_") and t not in setting}
    specific = {t for t in concepts if not is_generic(t)}
    setting_concepts = {t for t in setting if t.startswith("c_")}
    focus = set(retrieval.focus_tokens)

    def lead_key(hs: tuple[Hit, EvidenceStatement]) -> tuple[float, int, float, float, int, float]:
        doc = set(document_tokens(hs[1]))
        return (
            round(sum(retrieval.idf.get(t, 0.0) for t in specific & doc), 3),
            len(setting_concepts & doc),
            round(sum(retrieval.idf.get(t, 0.0) for t in focus & own_tokens(hs[1])), 3),
            round(hs[0].overlap, 3),
            len((concepts - specific) & doc),
            hs[0].score,
        )

    lead = max(candidates, key=lead_key)[1] if candidates else used[0]
    refs = _References()
    sections: dict[Section, list[AnswerSentence]] = {s: [] for s in Section}
    ordered = [lead, *(s for s in used if s.id != lead.id)]
    for st in ordered:
        sections[_place(st, st is lead)].extend(_sentences(st, refs))
    return Answer(
        question=question,
        covered=True,
        summary=tuple(sections[Section.summary]),
        key_considerations=tuple(sections[Section.key_considerations]),
        rationale=tuple(sections[Section.rationale]),
        references=refs.entries(),
        retrieved=(*hits, *linked),
        method=method,
    )


def retrieve(
    question: str, k: int = 5, *, hybrid: bool = False, cache_dir: Path | None = None
) -> tuple[Retrieval, RetrievalMethod]:
    """Retrieval step of :func:`ask` (BM25, or BM25 + dense fused by RRF)."""
    lexical = search(question, k, cache_dir)  # also validates question and k
    if not hybrid:
        return lexical, RetrievalMethod.bm25
    from spinemets.evidence.dense import default_dense_index
    from spinemets.evidence.retrieval import default_index, hybrid_search

    return hybrid_search(default_index(cache_dir), default_dense_index(), question, k), RetrievalMethod.hybrid
