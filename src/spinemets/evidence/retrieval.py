"""Lexical retrieval over the evidence base (BM25 via bm25s), with optional dense fusion.

The BM25 index is built lazily on first use from the validated statements (a few milliseconds
for a few hundred statements) and kept for the life of the process. Each statement is indexed
with its text, its topic labels and its reviewer-supplied keywords, all through
:func:`spinemets.evidence.text.tokenize`, so abbreviations and synonyms match.

Dense retrieval (``spinemets[semantic]``) ranks the same statements by embedding similarity and is
fused with BM25 by reciprocal rank fusion (Cormack, Clarke, Buettcher 2009: score = sum of
1 / (60 + rank)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict

from spinemets.errors import InvalidInputError
from spinemets.evidence.statements import EvidenceStatement, load_statements
from spinemets.evidence.text import is_generic, tokenize

if TYPE_CHECKING:
    import numpy as np

TOPIC_WEIGHT = 2
"""Topic labels are indexed this many times: a question naming a topic should find its statements."""
GENERIC_WEIGHT = 0.25
"""Weight of domain-generic query words (every statement is about spinal metastases)."""
CONCEPT_WEIGHT = 0.6
"""Weight of synonym concept tokens, which repeat the evidence of the words they come from."""
RRF_K = 60
"""Rank offset of reciprocal rank fusion (the value of Cormack et al. 2009)."""


class RetrievalMethod(StrEnum):
    """How a statement was found."""

    bm25 = "bm25"
    dense = "dense"
    hybrid = "hybrid"
    link = "link"
    """Pulled in because a retrieved statement names it in ``see_also`` (conflicts, caveats)."""


class Hit(BaseModel):
    """One retrieved statement with its score and rank (1 = best)."""

    model_config = ConfigDict(frozen=True)

    statement_id: str
    score: float
    rank: int
    via: RetrievalMethod


@dataclass(frozen=True)
class Retrieval:
    """The ranked hits of one query plus what the lexical matching saw."""

    hits: tuple[Hit, ...]
    query_tokens: tuple[str, ...]
    matched_tokens: tuple[str, ...]
    coverage: float
    """Share of the specific (non-generic) query weight that the vocabulary knows, 0..1."""


class DenseRanker(Protocol):
    """Anything that ranks statement indices by similarity to a question."""

    def rank(self, question: str, top_n: int) -> list[int]: ...


class LexicalIndex:
    """BM25 over statement texts, topic labels and keywords."""

    def __init__(self, statements: Sequence[EvidenceStatement]) -> None:
        import bm25s

        self.statements = tuple(statements)
        corpus = [self._document_tokens(s) for s in self.statements]
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)
        vocab: dict[str, int] = self._bm25.vocab_dict
        self._vocab = vocab
        n = len(corpus)
        df: dict[str, int] = {}
        for doc in corpus:
            for tok in set(doc):
                df[tok] = df.get(tok, 0) + 1
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)

    @staticmethod
    def _document_tokens(s: EvidenceStatement) -> list[str]:
        extra = " ".join([*(t.label for t in s.topics for _ in range(TOPIC_WEIGHT)), *s.keywords])
        return tokenize(f"{s.text} {extra}")

    def coverage(self, tokens: Sequence[str]) -> tuple[tuple[str, ...], float]:
        """Matched tokens and the idf-weighted share of specific query tokens that are known."""
        specific = [t for t in dict.fromkeys(tokens) if not is_generic(t)]
        matched = tuple(t for t in dict.fromkeys(tokens) if t in self._idf)
        if not specific:
            return matched, 1.0 if matched else 0.0
        total = sum(self._idf.get(t, self._max_idf) for t in specific)
        known = sum(self._idf[t] for t in specific if t in self._idf)
        return matched, known / total

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """Weighted BM25 score of every statement (numpy array, statement order).

        Each distinct query token is scored on its own and weighted: domain-generic words
        ("spinal", "metastases", "treatment") by :data:`GENERIC_WEIGHT`, concept tokens by
        :data:`CONCEPT_WEIGHT`, so the specific words of a question decide the ranking.
        """
        import numpy as np

        total = np.zeros(len(self.statements), dtype=np.float32)
        for tok in dict.fromkeys(tokens):
            if tok not in self._vocab:
                continue
            weight = GENERIC_WEIGHT if is_generic(tok) else CONCEPT_WEIGHT if tok.startswith("c_") else 1.0
            total += weight * self._bm25.get_scores([tok])
        return total

    def search(self, question: str, k: int) -> Retrieval:
        import numpy as np

        tokens = tokenize(question)
        matched, cov = self.coverage(tokens)
        scores = self.scores(tokens)
        order = np.argsort(-scores, kind="stable")[:k]
        hits = tuple(
            Hit(
                statement_id=self.statements[i].id,
                score=round(float(scores[i]), 4),
                rank=r + 1,
                via=RetrievalMethod.bm25,
            )
            for r, i in enumerate(order)
            if scores[i] > 0
        )
        return Retrieval(hits=hits, query_tokens=tuple(tokens), matched_tokens=matched, coverage=cov)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse several rankings of item indices; best first, ties broken by first appearance."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


def hybrid_search(
    index: LexicalIndex, dense: DenseRanker, question: str, k: int, depth: int = 50
) -> Retrieval:
    """BM25 and dense rankings fused by RRF; coverage stays the lexical one."""
    lexical = index.search(question, depth)
    pos = {s.id: i for i, s in enumerate(index.statements)}
    bm25_rank = [pos[h.statement_id] for h in lexical.hits]
    dense_rank = dense.rank(question, depth)
    fused = reciprocal_rank_fusion([bm25_rank, dense_rank])[:k]
    hits = tuple(
        Hit(
            statement_id=index.statements[i].id,
            score=round(score, 6),
            rank=r + 1,
            via=RetrievalMethod.hybrid,
        )
        for r, (i, score) in enumerate(fused)
    )
    return Retrieval(
        hits=hits,
        query_tokens=lexical.query_tokens,
        matched_tokens=lexical.matched_tokens,
        coverage=lexical.coverage,
    )


@cache
def default_index() -> LexicalIndex:
    """The BM25 index over the packaged statements, built once per process."""
    return LexicalIndex(load_statements())


def search(question: str, k: int = 5) -> Retrieval:
    """Top-``k`` statements for ``question`` by BM25 (the fast default)."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError("question", question, "a non-empty text")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50:
        raise InvalidInputError("k", k, "an integer from 1 to 50 (number of statements)")
    return default_index().search(question, k)
