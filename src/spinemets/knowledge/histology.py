"""The histology table: how each score groups each primary, with citations (one source of truth).

Loaded from ``histology.yaml``; a null cell means the source does not list that primary, and the
score using the column flags it instead of mapping it silently.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from spinemets.errors import KnowledgeBaseError
from spinemets.knowledge.bibliography import get_reference
from spinemets.knowledge.yaml_text import load_yaml
from spinemets.model.enums import Histology

Growth = Literal["slow", "moderate", "rapid"]


class HistologyRow(BaseModel):
    """One primary's groupings across scores."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    tokuhashi_2005: int | None
    tokuhashi_2005_listed_as: str | None
    tokuhashi_2005_note: str | None = None
    """A caveat shown whenever this primary is scored through the name Tokuhashi 2005 lists."""
    tokuhashi_1990: int | None
    tomita_growth: Growth | None
    bauer_favourable: bool | None
    lung: bool
    noms_radiosensitivity: Literal["sensitive", "resistant"] | None
    katagiri_growth: (
        Literal["slow", "moderate", "rapid", "conditional_hormone", "conditional_targeted"] | None
    )
    rades_tumour_type: Literal["breast", "prostate", "myeloma_lymphoma", "lung", "other"] | None


class HistologyTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    certainty: dict[str, Literal["V", "S", "K"]]
    """Per column: seen in the source (V/S) or recalled (K)."""
    citations: dict[str, tuple[str, ...]]
    rows: dict[Histology, HistologyRow]


@cache
def histology_table() -> HistologyTable:
    """The validated table; every histology must have a row and every citation must exist."""
    text = resources.files(__package__).joinpath("histology.yaml").read_text(encoding="utf-8")
    try:
        table = HistologyTable.model_validate(load_yaml(text))
    except ValidationError as exc:
        raise KnowledgeBaseError(f"histology.yaml: {exc}") from exc
    missing = [h.value for h in Histology if h not in table.rows]
    if missing:
        raise KnowledgeBaseError(f"histology.yaml: no row for {', '.join(missing)}")
    columns = set(HistologyRow.model_fields) - {"tokuhashi_2005_listed_as", "tokuhashi_2005_note"}
    if set(table.certainty) != columns or set(table.citations) != columns:
        raise KnowledgeBaseError("histology.yaml: certainty and citations must name every column once")
    for ids in table.citations.values():
        for ref_id in ids:
            get_reference(ref_id)
    return table


def histology_row(histology: Histology | str) -> HistologyRow:
    return histology_table().rows[Histology(histology)]
