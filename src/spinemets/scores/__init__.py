"""Published spinal-metastasis scores as data, with one shared engine (see :mod:`.engine`)."""

from spinemets.scores.catalogue import (
    DEFINITIONS_VERSION,
    SCORES,
    SPECS,
    get_spec,
    score,
    score_all,
    score_lesions,
)
from spinemets.scores.engine import Band, Category, Item, ItemResult, ScoreDefinition, ScoreResult

__all__ = [
    "DEFINITIONS_VERSION",
    "SCORES",
    "SPECS",
    "Band",
    "Category",
    "Item",
    "ItemResult",
    "ScoreDefinition",
    "ScoreResult",
    "get_spec",
    "score",
    "score_all",
    "score_lesions",
]
