"""Tomita score (2001): surgical strategy for spinal metastases, 2-10.

Not to be confused with the Tomita *surgical classification* (anatomic types 1-7, 1997). The
point values and bands are recalled [K]; rapid growth = 4 is checked by the published range 2-10
and the top band 8-10, which only a 4-point rapid-growth category reaches (docs/conflicts.md).

References:
    Tomita K et al. Spine 2001;26(3):298-306. doi:10.1097/00007632-200102010-00016
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinemets.scores.common import BONE_COUNT, bone_metastases_from_patient, histology_lookup
from spinemets.scores.engine import (
    Band,
    Category,
    Item,
    Lookup,
    ScoreDefinition,
    ScoreSpec,
    SurvivalDirection,
)

GROWTH = ("slow", "moderate", "rapid")


def growth_lookup() -> Lookup:
    """Histology -> growth class; an unlisted primary keeps every class (item missing) and is flagged."""
    return histology_lookup(
        lambda row: row.tomita_growth,
        unlisted=GROWTH,
        unlisted_note="{primary} is not classed by Tomita 2001; give primary_growth (slow / moderate / rapid)",
    )


DEFINITION = ScoreDefinition(
    key="tomita",
    name="Tomita",
    version="Tomita 2001",
    description="Tomita score: treatment goal and surgical strategy for spinal metastases, 2-10.",
    citation_ids=("tomita2001",),
    survival_direction=SurvivalDirection.higher_shorter,  # 2-3 long-term control .. 8-10 terminal care
    items=(
        Item(
            key="primary_growth",
            label="Primary tumour growth",
            definition="Slow growth, e.g. breast, thyroid, prostate (1); moderate growth, e.g. kidney, uterus (2); "
            "rapid growth, e.g. lung, liver, stomach, colon, oesophagus, pancreas, unknown primary (4).",
            question="Is the primary slow-, moderate- or rapid-growing in Tomita's grouping?",
            categories=(
                Category(key="slow", points=1, label="Slow growth"),
                Category(key="moderate", points=2, label="Moderate growth"),
                Category(key="rapid", points=4, label="Rapid growth"),
            ),
            derivations=(growth_lookup(),),
        ),
        Item(
            key="visceral_metastases",
            label="Visceral metastases",
            definition="None (0); treatable (2); untreatable (4).",
            question="Are there visceral metastases, and are they treatable?",
            categories=(
                Category(key="none", points=0, label="No visceral metastases"),
                Category(key="treatable", points=2, label="Treatable"),
                Category(key="untreatable", points=4, label="Untreatable"),
            ),
        ),
        Item(
            key="bone_metastases",
            label="Bone metastases",
            definition="Solitary or isolated (1); multiple (2). The spinal lesion counts.",
            question="Is the spinal lesion the only bone metastasis, or are there several?",
            categories=(
                Category(key="solitary", points=1, label="Solitary or isolated"),
                Category(key="multiple", points=2, label="Multiple"),
            ),
            derivations=(BONE_COUNT,),
        ),
    ),
    bands=(
        Band(
            key="long_term_control",
            low=2,
            high=3,
            label="long-term local control",
            meaning="Goal: long-term local control. Strategy: wide or marginal excision (e.g. total en bloc "
            "spondylectomy).",
        ),
        Band(
            key="middle_term_control",
            low=4,
            high=5,
            label="middle-term local control",
            meaning="Goal: middle-term local control. Strategy: marginal or intralesional excision.",
        ),
        Band(
            key="short_term_palliation",
            low=6,
            high=7,
            label="short-term palliation",
            meaning="Goal: short-term palliation. Strategy: palliative surgery (decompression, stabilisation).",
        ),
        Band(
            key="terminal_care",
            low=8,
            high=10,
            label="terminal care",
            meaning="Goal: terminal care. Strategy: supportive (non-operative) care.",
        ),
    ),
    notes=(
        "Point values and bands recalled from Tomita 2001 [K]; per-band survival is not shown (low confidence).",
        "Treatable vs untreatable visceral metastases is a clinical judgement; it is never derived.",
    ),
)


def from_patient(patient: Any) -> Mapping[str, Any]:
    raw: dict[str, Any] = {}
    if patient.primary.histology is not None:
        raw["primary"] = patient.primary.histology
    if patient.burden.visceral_metastases is not None:
        raw["visceral_metastases"] = patient.burden.visceral_metastases
    found = bone_metastases_from_patient(patient)
    if "bone_metastases" in found:
        raw["bone_metastases"] = found["bone_metastases"]
    elif found:
        raw["bone_metastases_count"] = found["bone_metastases_count"]
    return raw


SPEC = ScoreSpec(definition=DEFINITION, from_patient=from_patient)
