"""Bauer score (1995, 0-5) and modified Bauer score (2008, 0-4): one point per favourable factor.

The two share their items (one copy, here); modified Bauer drops "no pathological fracture".
"No lung cancer" and "favourable primary" overlap by design: lung cancer scores 0 on both,
breast / kidney / lymphoma / myeloma 1 on both, any other primary 1 and 0.

References:
    Bauer HC, Wedin R. Acta Orthop Scand 1995;66(2):143-146. doi:10.3109/17453679508995508
    Leithner A et al. Eur Spine J 2008;17(11):1488-1495. doi:10.1007/s00586-008-0763-1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinemets.scores.common import BONE_COUNT, bone_metastases_from_patient, histology_lookup, yes_no_lookup
from spinemets.scores.engine import (
    Band,
    Category,
    Item,
    Lookup,
    ScoreDefinition,
    ScoreSpec,
    SurvivalDirection,
)


def _lung_lookup() -> Lookup:
    return histology_lookup(lambda row: "yes" if row.lung else "no")


def _favourable_lookup() -> Lookup:
    return histology_lookup(
        lambda row: None if row.bauer_favourable is None else ("yes" if row.bauer_favourable else "no"),
        unlisted=("yes", "no"),
        unlisted_note="{primary}: whether Bauer's 'myeloma' includes it is not stated; give favourable_primary",
    )


PATHOLOGICAL_FRACTURE = Item(
    key="pathological_fracture",
    label="No pathological fracture",
    definition="One point when there is no pathological fracture (Bauer 1995 only).",
    question="Is there a pathological fracture?",
    categories=(
        Category(key="absent", points=1, label="No pathological fracture"),
        Category(key="present", points=0, label="Pathological fracture"),
    ),
    derivations=(yes_no_lookup("pathological_fracture", "present or absent (yes / no)"),),
)

VISCERAL = Item(
    key="visceral_metastases",
    label="No visceral or brain metastases",
    definition="One point when there are neither visceral nor brain metastases (Bauer 1995 counts "
    "'visceral or brain metastases' as one negative factor).",
    question="Are there visceral or brain metastases (lung, liver, kidney, brain)?",
    categories=(
        Category(key="absent", points=1, label="No visceral or brain metastases"),
        Category(key="present", points=0, label="Visceral or brain metastases"),
    ),
    derivations=(
        Lookup(
            input="visceral_metastases",
            table={
                "none": "absent",
                "treatable": "present",
                "untreatable": "present",
                "yes": "present",
                "no": "absent",
                "true": "present",
                "false": "absent",
            },
            describe="present or absent (or none / treatable / untreatable)",
        ),
    ),
)

SKELETAL = Item(
    key="skeletal_metastases",
    label="Solitary skeletal metastasis",
    definition="One point for a solitary skeletal metastasis (the spinal lesion counts).",
    question="Is the spinal lesion the only bone metastasis (bone scan, PET or CT)?",
    categories=(
        Category(key="solitary", points=1, label="Solitary skeletal metastasis"),
        Category(key="multiple", points=0, label="Multiple skeletal metastases"),
    ),
    derivations=(
        Lookup(
            input="bone_metastases",
            table={"solitary": "solitary", "multiple": "multiple"},
            describe="solitary or multiple",
        ),
        BONE_COUNT,
    ),
)

NO_LUNG = Item(
    key="lung_cancer",
    label="No lung cancer",
    definition="One point when the primary is not lung cancer.",
    question="Is the primary a lung cancer?",
    categories=(
        Category(key="no", points=1, label="Not lung cancer"),
        Category(key="yes", points=0, label="Lung cancer"),
    ),
    derivations=(_lung_lookup(),),
)

FAVOURABLE = Item(
    key="favourable_primary",
    label="Primary breast, kidney, lymphoma or myeloma",
    definition="One point when the primary is breast, kidney, lymphoma or multiple myeloma.",
    question="Is the primary breast, kidney, lymphoma or multiple myeloma?",
    categories=(
        Category(key="yes", points=1, label="Breast, kidney, lymphoma or myeloma"),
        Category(key="no", points=0, label="Another primary"),
    ),
    derivations=(_favourable_lookup(),),
)

BAUER = ScoreDefinition(
    key="bauer",
    name="Bauer",
    version="Bauer 1995",
    description="Bauer score: one point per favourable factor for survival after surgery for metastases, 0-5.",
    citation_ids=("bauer1995",),
    survival_direction=SurvivalDirection.higher_longer,  # one point per favourable factor (scores.md §4)
    items=(PATHOLOGICAL_FRACTURE, VISCERAL, SKELETAL, NO_LUNG, FAVOURABLE),
    bands=(
        Band(key="poor", low=0, high=1, label="poor", meaning="Poor prognosis group (Bauer 0-1)."),
        Band(
            key="moderate", low=2, high=3, label="moderate", meaning="Moderate prognosis group (Bauer 2-3)."
        ),
        Band(key="good", low=4, high=5, label="good", meaning="Good prognosis group (Bauer 4-5)."),
    ),
    notes=(
        "Derived from spinal and extremity metastases together (Bauer 1995); the per-group 1-year survival "
        "figures are recalled only and are not shown (docs/conflicts.md).",
        "The factors are confirmed by the paper's abstract, which stratifies patients into three groups "
        "without giving their cut-offs; the groups 0-1 / 2-3 / 4-5 are recalled [K] (reference sheet).",
    ),
)

MODIFIED = ScoreDefinition(
    key="bauer_modified",
    name="Modified Bauer",
    version="Leithner 2008",
    description="Modified Bauer score (no pathological-fracture item): survival group for spinal metastases, 0-4.",
    citation_ids=("leithner2008", "bauer1995"),
    survival_direction=SurvivalDirection.higher_longer,  # 0-1 supportive care .. 3-4 local control [S: src-dign]
    items=(VISCERAL, SKELETAL, NO_LUNG, FAVOURABLE),
    bands=(
        Band(
            key="supportive",
            low=0,
            high=1,
            label="0-1",
            meaning="Supportive care; no surgery.",
        ),
        Band(
            key="short_term_palliation",
            low=2,
            high=2,
            label="2",
            meaning="Short-term palliation: posterior (dorsal) surgery.",
        ),
        Band(
            key="middle_term_control",
            low=3,
            high=4,
            label="3-4",
            meaning="Middle-term local control: combined anterior-posterior (ventral-dorsal) surgery.",
        ),
    ),
    notes=(
        "Solitary skeletal metastasis in myeloma (solitary plasmacytoma vs diffuse disease) is unclear; "
        "give skeletal_metastases explicitly.",
    ),
)


def _common(patient: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if patient.burden.visceral_metastases is not None:
        raw["visceral_metastases"] = patient.burden.visceral_metastases
    elif patient.burden.brain_metastases:
        raw["visceral_metastases"] = "present"  # brain metastases alone decide this item
    raw.update(bone_metastases_from_patient(patient))
    if patient.primary.histology is not None:
        raw["primary"] = patient.primary.histology
    return raw


def modified_from_patient(patient: Any) -> Mapping[str, Any]:
    """Raw modified-Bauer inputs from a patient (unknown facts left out)."""
    return _common(patient)


def bauer_from_patient(patient: Any) -> Mapping[str, Any]:
    """Raw Bauer inputs: the modified-Bauer ones plus the pathological fracture."""
    raw = _common(patient)
    if patient.burden.pathological_fracture_elsewhere is not None:
        raw["pathological_fracture"] = patient.burden.pathological_fracture_elsewhere
    return raw


SPEC = ScoreSpec(definition=BAUER, from_patient=bauer_from_patient)
MODIFIED_SPEC = ScoreSpec(definition=MODIFIED, from_patient=modified_from_patient)
