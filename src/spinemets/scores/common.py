"""Derivations and patient extractors shared by several scores (one copy of each rule).

The skeletal-metastasis count of Tomita and Bauer includes the spinal lesion(s): a solitary spinal
metastasis with no other bone lesion is "solitary" (Tomita 2001; Bauer 1995).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spinemets.knowledge.histology import HistologyRow, histology_table
from spinemets.model.enums import Histology
from spinemets.model.levels import vertebrae_covered
from spinemets.scores.engine import Bins, Lookup

PRIMARIES = "a primary from the histology list: " + ", ".join(h.value for h in Histology)
"""What a ``primary`` input may be, for error messages."""


def histology_lookup(
    column: Callable[[HistologyRow], str | tuple[str, ...] | None],
    unlisted: str | tuple[str, ...] = (),
    unlisted_note: str = "",
    listed_as: Callable[[HistologyRow], str | None] | None = None,
    note: Callable[[HistologyRow], str | None] | None = None,
) -> Lookup:
    """``primary`` -> category, read from one column of the histology table (the one source).

    ``column`` gives a row's category (or ``None`` when the paper does not list that primary);
    an unlisted primary gets ``unlisted`` (a published catch-all, or every category so the item
    stays open) and ``unlisted_note`` (with ``{primary}`` filled in) as a warning; ``note`` gives a
    listed primary's own caveat (e.g. scored through a narrower name the paper lists).
    """
    table: dict[str, str | tuple[str, ...]] = {}
    notes: dict[str, str] = {}
    listed: dict[str, str] = {}
    for h, row in histology_table().rows.items():
        target = column(row)
        if target is None:
            table[h.value] = unlisted
            notes[h.value] = unlisted_note.format(primary=h.value)
            continue
        table[h.value] = target
        caveat = note(row) if note else None
        if caveat:
            notes[h.value] = caveat
        alias = listed_as(row) if listed_as else None
        if alias and alias != h.value:
            listed[h.value] = alias
    return Lookup(input="primary", table=table, value_notes=notes, listed_as=listed, describe=PRIMARIES)


BONE_COUNT = Bins(
    input="bone_metastases_count",
    unit="bone metastases",
    integer=True,
    bins=((1, 1, "solitary"), (2, 100000, "multiple")),
    describe="a count of bone metastases including the spine, at least 1",
)
"""Total bone metastases (spine included) -> solitary / multiple."""

BOOL_PRESENT: dict[str, str] = {
    "present": "present",
    "absent": "absent",
    "yes": "present",
    "no": "absent",
    "true": "present",
    "false": "absent",
}
"""Yes/no spellings accepted for a finding, mapped onto ``present`` / ``absent``."""


def yes_no_lookup(name: str, describe: str) -> Lookup:
    """``name=yes|no|true|false|present|absent`` -> the item's present/absent categories."""
    return Lookup(input=name, table=BOOL_PRESENT, describe=describe)


def bone_metastases_from_patient(patient: Any) -> dict[str, Any]:
    """``bone_metastases_count`` when both counts are known; ``multiple`` when a lower bound shows it.

    The lower bound uses the recorded extraspinal foci, the vertebrae involved and the levels of the
    lesions entered; nothing is assumed about counts that were not recorded.
    """
    extraspinal = patient.burden.extraspinal_bone_metastases
    vertebrae = patient.burden.vertebrae_involved
    entered = vertebrae_covered(lesion.level for lesion in patient.lesions)
    if extraspinal is not None and vertebrae is not None:
        total = extraspinal + vertebrae  # the model ensures vertebrae >= the levels entered
        return {"bone_metastases_count": total} if total >= 1 else {}
    lower = (extraspinal or 0) + max(vertebrae or 0, entered)
    if lower >= 2:
        return {"bone_metastases": "multiple"}
    return {}
