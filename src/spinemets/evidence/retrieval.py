"""Lexical retrieval over the evidence base (BM25 via bm25s), with optional dense fusion.

The BM25 index is built lazily on first use from the validated statements and kept for the life
of the process; callers that start often (the CLI) pass a cache directory, where the validated
statements and posting lists are stored as JSON keyed by a content hash. Each statement is indexed
with its text, its topic labels and its reviewer-supplied keywords, all through
:func:`spinemets.evidence.text.tokenize`, so abbreviations and synonyms match.

Dense retrieval (``spinemets[semantic]``) ranks the same statements by embedding similarity and is
fused with BM25 by reciprocal rank fusion (Cormack, Clarke, Buettcher 2009: score = sum of
1 / (60 + rank)).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, TypeAdapter

from spinemets.errors import InvalidInputError
from spinemets.evidence.statements import (
    EvidenceStatement,
    StatementKind,
    Topic,
    load_statements,
    prime_statements,
    read_statement_files,
)
from spinemets.evidence.text import CANONICAL, analyse, is_generic, tokenize

INDEX_FORMAT = 2
"""Version of the on-disk index cache layout."""
TOPIC_WEIGHT = 1
"""Topic labels are indexed this many times: a question naming a topic should find its statements."""
BM25_K1 = 2.0
"""Term-frequency saturation of BM25 (tuned on the evaluation set, see the report)."""
BM25_B = 0.4
"""Length normalisation of BM25: low, because long statements are often the complete ones."""
GENERIC_WEIGHT = 0.25
"""Weight of domain-generic query words (every statement is about spinal metastases)."""
CONCEPT_WEIGHT = 0.6
"""Weight of synonym concept tokens, which repeat the evidence of the words they come from."""
SETTING_WEIGHT = 0.5
"""Weight of the tokens of a question's setting clause ("after surgery and radiotherapy") in a statement
that names nothing else the question asks: the setting says where the question stands, the rest what it
asks (:attr:`spinemets.evidence.text.Analysis.setting`)."""
STRONG_IDF = 2.0
"""A query token with at least this idf (in roughly 1 in 8 statements or fewer) is distinctive."""
WEIGHT_DIGITS = 6
"""Decimals kept of each BM25 weight (in memory and in the cache file alike)."""
RRF_K = 60
"""Rank offset of reciprocal rank fusion (the value of Cormack et al. 2009)."""
DENSE_WEIGHT = 0.3
"""Weight of the dense ranking in the fusion; BM25 with the synonym layer is the stronger signal here."""
BRANCHES: dict[Topic, str] = {Topic.penile_cancer: "c_penile", Topic.vulvar_cancer: "c_vulvar"}
"""Primary-specific branches of the inguinal pathway (guidelines.md 12.6: penile-cancer figures stay in
their branch) and the concept token (evidence.text) of the primary that opens each."""
OTHER_PRIMARIES = ("c_melanoma", "c_other_groin_primary", "c_non_groin_primary")
"""Concept tokens of the other primaries (anal cancer and melanoma, which drain to the groin but have no
branch; breast, prostate, lung and the rest): naming one closes the penile and vulvar branches (their
dissection and chemotherapy do not carry over)."""
GROIN = "c_groin"
"""A question about groin nodes that names no primary opens every branch of the pathway."""


def in_closed_branch(st: EvidenceStatement, tokens: frozenset[str]) -> bool:
    """True when ``st`` belongs to a branch the question (its tokens) does not open: a branch opens
    when the question names its primary, or asks about groin nodes without naming another primary.
    The caveats that warn against carrying a branch over (kind caveat, topic conflicts) stay open."""
    if st.kind is StatementKind.caveat or Topic.conflicts in st.topics:
        return False
    named = {topic for topic, token in BRANCHES.items() if token in tokens}
    other = any(token in tokens for token in OTHER_PRIMARIES)
    for topic in BRANCHES:
        if topic in st.topics and topic not in named and (named or other or GROIN not in tokens):
            return True
    return False


def out_of_scope(st: EvidenceStatement, tokens: frozenset[str]) -> bool:
    """True when ``st`` must not answer a question with these tokens: its branch is closed
    (:func:`in_closed_branch`) or the question names none of the situations in ``st.only_when``."""
    if st.only_when and not tokens.intersection(st.only_when):
        return True
    return in_closed_branch(st, tokens)


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
    overlap: float = 0.0
    """Idf-weighted share of the question's specific words found in the statement's text, 0..1."""


@dataclass(frozen=True)
class Retrieval:
    """The ranked hits of one query plus what the lexical matching saw."""

    hits: tuple[Hit, ...]
    query_tokens: tuple[str, ...]
    matched_tokens: tuple[str, ...]
    coverage: float
    """Share of the specific (non-generic) query weight that the vocabulary knows, 0..1."""
    strong_match: bool = False
    """True when at least one specific query token is a distinctive term of the evidence base."""
    setting_tokens: tuple[str, ...] = ()
    """Query tokens that name only the question's setting (see :meth:`LexicalIndex.scores`)."""
    focus_tokens: tuple[str, ...] = ()
    """Words that say what kind of answer the question wants (:attr:`spinemets.evidence.text.Analysis.focus`)."""
    idf: Mapping[str, float] = field(default_factory=dict)
    """Idf of each query token the index knows: how specific it is across the statement base."""
    top_score_unqualified: float | None = None
    """The best score with the setting clause counted fully everywhere; None without a setting. The
    setting's down-weighting ranks the statements; whether the base answers the question at all is
    judged on this (:func:`spinemets.evidence.answer.compose`)."""


class DenseRanker(Protocol):
    """Anything that ranks statement indices by similarity to a question."""

    def rank(self, question: str, top_n: int) -> list[int]: ...


class LexicalIndex:
    """BM25 over statement texts, topic labels and keywords.

    bm25s computes the BM25 weight of every (token, statement) pair eagerly when the index is
    built; those weights are kept as posting lists, so a query only sums a few lists. This is what
    bm25s does at query time too, and it lets a cached index answer without importing bm25s,
    numpy or scipy (fast start of ``spinemets ask``).
    """

    def __init__(
        self,
        statements: Sequence[EvidenceStatement],
        postings: dict[str, tuple[list[int], list[float]]],
        idf: dict[str, float],
    ) -> None:
        self.statements = tuple(statements)
        self._postings = postings
        self._idf = idf
        self._max_idf = math.log(1 + (len(self.statements) + 0.5) / 0.5)
        self._own_memo: dict[int, frozenset[str]] = {}

    @classmethod
    def build(
        cls, statements: Sequence[EvidenceStatement], k1: float = BM25_K1, b: float = BM25_B
    ) -> LexicalIndex:
        """Index ``statements`` with bm25s (Lucene BM25 variant)."""
        import bm25s

        statements = tuple(statements)
        corpus = [document_tokens(s) for s in statements]
        bm25 = bm25s.BM25(k1=k1, b=b)
        bm25.index(corpus, show_progress=False)
        data, indices, indptr = (bm25.scores[key].tolist() for key in ("data", "indices", "indptr"))
        # weights rounded as the on-disk cache stores them, so a built and a cached index rank alike
        postings = {
            tok: (
                indices[indptr[tid] : indptr[tid + 1]],
                [round(w, WEIGHT_DIGITS) for w in data[indptr[tid] : indptr[tid + 1]]],
            )
            for tok, tid in bm25.vocab_dict.items()
            if tok and indptr[tid + 1] > indptr[tid]
        }
        n = len(corpus)
        df: dict[str, int] = {}
        for doc in corpus:
            for tok in set(doc):
                df[tok] = df.get(tok, 0) + 1
        idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        return cls(statements, postings, idf)

    def to_json(self) -> dict[str, object]:
        return {
            "postings": {t: [docs, list(weights)] for t, (docs, weights) in self._postings.items()},
            "idf": self._idf,
        }

    @classmethod
    def from_json(cls, statements: Sequence[EvidenceStatement], payload: dict[str, object]) -> LexicalIndex:
        postings = payload["postings"]
        idf = payload["idf"]
        if not isinstance(postings, dict) or not isinstance(idf, dict):
            raise ValueError("malformed index cache")
        return cls(statements, {t: (p[0], p[1]) for t, p in postings.items()}, idf)

    def coverage(
        self, tokens: Sequence[str], stand_ins: frozenset[str] = frozenset()
    ) -> tuple[tuple[str, ...], float]:
        """Matched tokens and the idf-weighted share of specific query tokens that are known.

        Words in ``stand_ins`` are represented by a concept token and not counted on their own.
        """
        specific = [t for t in dict.fromkeys(tokens) if not is_generic(t) and t not in stand_ins]
        matched = tuple(t for t in dict.fromkeys(tokens) if t in self._idf)
        if not specific:
            return matched, 1.0 if matched else 0.0
        total = sum(self._idf.get(t, self._max_idf) for t in specific)
        known = sum(self._idf[t] for t in specific if t in self._idf)
        return matched, known / total

    def score_parts(
        self, tokens: Sequence[str], setting: frozenset[str] = frozenset()
    ) -> tuple[list[float], list[float], set[int]]:
        """Weighted BM25 score of every statement (statement order), in two parts: the question's
        own tokens and its setting's, with the statements whose own text names something asked.

        Each distinct query token contributes its posting list, weighted: domain-generic words
        ("spinal", "metastases", "treatment") by :data:`GENERIC_WEIGHT`, concept tokens by
        :data:`CONCEPT_WEIGHT`, so the specific words of a question decide the ranking. Tokens in
        ``setting`` (the question's "after ..." clause) count fully only in a statement whose own text
        names something the question asks about, and :data:`SETTING_WEIGHT` as much elsewhere: the
        setting qualifies an answer but is none on its own (:meth:`search` combines the parts; counted
        fully, they tell whether the base answers the question at all).
        """
        asked = [0.0] * len(self.statements)
        around = [0.0] * len(self.statements)
        about: set[int] = set()
        for tok in dict.fromkeys(tokens):
            posting = self._postings.get(tok)
            if not posting:
                continue
            weight = GENERIC_WEIGHT if is_generic(tok) else CONCEPT_WEIGHT if tok.startswith("c_") else 1.0
            part = around if tok in setting else asked
            for doc, w in zip(*posting, strict=True):
                part[doc] += weight * w
            if setting and part is asked and not is_generic(tok):
                about.update(doc for doc in posting[0] if tok in self._own_tokens(doc))
        return asked, around, about

    def _own_tokens(self, doc: int) -> frozenset[str]:
        """Tokens of a statement's text and keywords (not its topic labels)."""
        tokens = self._own_memo.get(doc)
        if tokens is None:
            tokens = own_tokens(self.statements[doc])
            self._own_memo[doc] = tokens
        return tokens

    def _text_words(self, doc: int) -> frozenset[str]:
        return frozenset(t for t in self._own_tokens(doc) if not t.startswith("c_"))

    def _overlap(self, tokens: Sequence[str], docs: set[int]) -> dict[int, float]:
        """Idf-weighted share of the question's specific words found in each statement's own text.

        Topic labels and concept tokens are left out: they make related statements look alike,
        while the question's own words say which one answers it best.
        """
        specific = [
            t
            for t in dict.fromkeys(tokens)
            if not is_generic(t) and not t.startswith("c_") and t in self._idf
        ]
        total = sum(self._idf[t] for t in specific) or 1.0
        return {d: sum(self._idf[t] for t in specific if t in self._text_words(d)) / total for d in docs}

    def expansion(self, by_concept: Mapping[str, frozenset[str]]) -> list[str]:
        """Words read into ``question`` for synonyms the statements never use.

        "Paraparesis" is a reviewed synonym of a neurological deficit (``c_deficit``), but no statement
        uses the word, so the concept token would be the question's only (and down-weighted) evidence.
        A concept that stands in for a specific word the index does not know adds the tokens of its
        canonical wording (:data:`spinemets.evidence.text.CANONICAL`): the question is read as if it
        said "neurological deficit".
        """
        extra: list[str] = []
        for concept, words in by_concept.items():
            canonical = CANONICAL.get(concept)
            if canonical and any(w not in self._idf and not is_generic(w) for w in words):
                extra.extend(t for t in tokenize(canonical) if not t.startswith("c_"))
        return extra

    def search(self, question: str, k: int) -> Retrieval:
        tokens, stand_ins, by_concept, setting, focus = analyse(question)
        matched, cov = self.coverage(tokens, stand_ins)
        tokens = list(dict.fromkeys([*tokens, *self.expansion(by_concept)]))
        own, around, about = self.score_parts(tokens, setting)
        scores = [
            a + s * (1.0 if doc in about else SETTING_WEIGHT)
            for doc, (a, s) in enumerate(zip(own, around, strict=True))
        ]
        asked = frozenset(tokens)
        for i, st in enumerate(self.statements):
            if scores[i] and out_of_scope(st, asked):
                scores[i] = 0.0
        best = heapq.nlargest(k, range(len(scores)), key=lambda i: (scores[i], -i))
        overlap = self._overlap(tokens, set(best))
        hits = tuple(
            Hit(
                statement_id=self.statements[i].id,
                score=round(scores[i], 4),
                rank=r + 1,
                via=RetrievalMethod.bm25,
                overlap=round(overlap.get(i, 0.0), 4),
            )
            for r, i in enumerate(best)
            if scores[i] > 0
        )
        strong = any(self._idf.get(t, 0.0) >= STRONG_IDF for t in tokens if not is_generic(t))
        # the best score with the setting counted fully, among the statements still in scope
        unqualified = (
            max((own[i] + around[i] for i, v in enumerate(scores) if v), default=0.0) if setting else None
        )
        return Retrieval(
            hits=hits,
            query_tokens=tuple(tokens),
            matched_tokens=matched,
            coverage=cov,
            strong_match=strong,
            setting_tokens=tuple(t for t in tokens if t in setting),
            focus_tokens=tuple(sorted(focus)),
            idf={t: round(self._idf[t], WEIGHT_DIGITS) for t in tokens if t in self._idf},
            top_score_unqualified=None if unqualified is None else round(unqualified, 4),
        )


def own_tokens(s: EvidenceStatement) -> frozenset[str]:
    """Tokens of a statement's own words, its text and keywords (not its topic labels)."""
    return frozenset(tokenize(f"{s.text} {' '.join(s.keywords)}"))


def document_tokens(s: EvidenceStatement) -> list[str]:
    """What is indexed for a statement: its text, topic labels and keywords."""
    extra = " ".join([*(t.label for t in s.topics for _ in range(TOPIC_WEIGHT)), *s.keywords])
    return tokenize(f"{s.text} {extra}")


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Fuse rankings of item indices: score = sum of weight / (k + rank); best first, ties by index."""
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def hybrid_search(
    index: LexicalIndex, dense: DenseRanker, question: str, k: int, depth: int = 50
) -> Retrieval:
    """BM25 and dense rankings fused by RRF; coverage stays the lexical one."""
    lexical = index.search(question, depth)
    pos = {s.id: i for i, s in enumerate(index.statements)}
    bm25_rank = [pos[h.statement_id] for h in lexical.hits]
    asked = frozenset(lexical.query_tokens)
    dense_rank = [i for i in dense.rank(question, depth) if not out_of_scope(index.statements[i], asked)]
    fused = reciprocal_rank_fusion([bm25_rank, dense_rank], weights=(1.0, DENSE_WEIGHT))[:k]
    overlap = index._overlap(lexical.query_tokens, {i for i, _ in fused})
    hits = tuple(
        Hit(
            statement_id=index.statements[i].id,
            score=round(score, 6),
            rank=r + 1,
            via=RetrievalMethod.hybrid,
            overlap=round(overlap.get(i, 0.0), 4),
        )
        for r, (i, score) in enumerate(fused)
    )
    return Retrieval(
        hits=hits,
        query_tokens=lexical.query_tokens,
        matched_tokens=lexical.matched_tokens,
        coverage=lexical.coverage,
        strong_match=lexical.strong_match,
        setting_tokens=lexical.setting_tokens,
        focus_tokens=lexical.focus_tokens,
        idf=lexical.idf,
    )


_STATEMENT_LIST = TypeAdapter(tuple[EvidenceStatement, ...])


def _fingerprint(files: dict[str, str]) -> str:
    """Hash of everything the index depends on: statement files, parameters, synonym table."""
    from spinemets.evidence import text as text_module

    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode())
        h.update(files[name].encode())
    params = (
        INDEX_FORMAT,
        BM25_K1,
        BM25_B,
        TOPIC_WEIGHT,
        sorted(text_module.CONCEPTS.items()),
        sorted(text_module.CANONICAL.items()),
        text_module._SUFFIXES,
    )
    h.update(repr(params).encode())
    h.update(repr(sorted(text_module.STOPWORDS)).encode())
    bibliography = resources.files("spinemets.knowledge.bibliography")
    for f in sorted(bibliography.iterdir(), key=lambda f: f.name):
        if f.name.endswith(".yaml"):
            h.update(f.read_bytes())
    return h.hexdigest()[:32]


def load_or_build_index(cache_dir: Path | None = None) -> LexicalIndex:
    """The BM25 index over the packaged statements, read from ``cache_dir`` when fresh.

    The cache file holds the validated statements and the posting lists, keyed by a hash of the
    statement files and the retrieval parameters; a stale, unreadable or missing cache is rebuilt
    (and rewritten when the directory is writable). Without ``cache_dir`` nothing touches the disk.
    """
    if cache_dir is None:
        return LexicalIndex.build(load_statements())
    files = read_statement_files()
    path = cache_dir / f"evidence-index-{_fingerprint(files)}.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        statements = _STATEMENT_LIST.validate_python(payload["statements"])
        index = LexicalIndex.from_json(statements, payload["index"])
        prime_statements(statements)
        return index
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    index = LexicalIndex.build(load_statements())
    payload = {
        "statements": [s.model_dump(mode="json") for s in index.statements],
        "index": index.to_json(),
    }
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("evidence-index-*.json"):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass
    return index


@cache
def default_index(cache_dir: Path | None = None) -> LexicalIndex:
    """The process-wide index (built once; optionally cached on disk in ``cache_dir``)."""
    return load_or_build_index(cache_dir)


def search(question: str, k: int = 5, cache_dir: Path | None = None) -> Retrieval:
    """Top-``k`` statements for ``question`` by BM25 (the fast default)."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError("question", question, "a non-empty text")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50:
        raise InvalidInputError("k", k, "an integer from 1 to 50 (number of statements)")
    return default_index(cache_dir).search(question, k)
