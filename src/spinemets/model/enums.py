"""Controlled vocabularies of the patient model.

Enum values are the published category names in snake_case; they are what the JSON input,
the CLI ``--item`` values and the web form use.
"""

from __future__ import annotations

from enum import StrEnum


class Histology(StrEnum):
    """Primary tumour, as recorded by the team. ``other`` needs ``histology_other`` text."""

    lung_nsclc = "lung_nsclc"
    lung_sclc = "lung_sclc"
    breast = "breast"
    prostate = "prostate"
    kidney = "kidney"
    thyroid = "thyroid"
    colorectal = "colorectal"
    rectum = "rectum"
    liver = "liver"
    gallbladder = "gallbladder"
    stomach = "stomach"
    oesophagus = "oesophagus"
    pancreas = "pancreas"
    bladder = "bladder"
    uterus = "uterus"
    cervix = "cervix"
    ovary = "ovary"
    head_and_neck = "head_and_neck"
    melanoma = "melanoma"
    myeloma = "myeloma"
    plasmacytoma = "plasmacytoma"
    lymphoma = "lymphoma"
    sarcoma = "sarcoma"
    osteosarcoma = "osteosarcoma"
    germ_cell = "germ_cell"
    neuroendocrine = "neuroendocrine"
    penile = "penile"
    vulvar = "vulvar"
    anal = "anal"
    unknown_primary = "unknown_primary"
    other = "other"


class ReceptorStatus(StrEnum):
    positive = "positive"
    negative = "negative"


class PainType(StrEnum):
    """SINS pain categories (Fisher 2010): mechanical, occasional non-mechanical, pain-free."""

    mechanical = "mechanical"
    occasional = "occasional"
    none = "none"


class RadicularPain(StrEnum):
    none = "none"
    unilateral = "unilateral"
    bilateral = "bilateral"


class BoneLesion(StrEnum):
    lytic = "lytic"
    mixed = "mixed"
    blastic = "blastic"


class Alignment(StrEnum):
    subluxation_translation = "subluxation_translation"
    de_novo_deformity = "de_novo_deformity"
    normal = "normal"


class Collapse(StrEnum):
    """SINS vertebral body collapse. Exactly 50% collapse counts as ``under_50`` (docs/conflicts.md)."""

    over_50 = "over_50"
    under_50 = "under_50"
    no_collapse_over_50_involved = "no_collapse_over_50_involved"
    none = "none"


class Posterolateral(StrEnum):
    bilateral = "bilateral"
    unilateral = "unilateral"
    none = "none"


class EsccGrade(StrEnum):
    """Bilsky epidural spinal cord compression grade (axial T2 MRI, worst level)."""

    g0 = "0"
    g1a = "1a"
    g1b = "1b"
    g1c = "1c"
    g2 = "2"
    g3 = "3"


class Frankel(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class Ambulatory(StrEnum):
    """Pre-treatment walking: independent, with an aid, or not ambulatory."""

    independent = "independent"
    with_aid = "with_aid"
    non_ambulatory = "non_ambulatory"


class VisceralMetastases(StrEnum):
    """Major internal organ (lung, liver, kidney, brain) metastases and whether treatable (Tomita).

    Tokuhashi's removable is a separate judgement (``Burden.visceral_metastases_removable``)."""

    none = "none"
    treatable = "treatable"
    untreatable = "untreatable"


class VisceralPattern(StrEnum):
    """Katagiri 2014: nodular visceral/cerebral vs disseminated (pleural, peritoneal, leptomeningeal)."""

    nodular = "nodular"
    disseminated = "disseminated"


class AlarmSymptom(StrEnum):
    """Alarm symptoms in a person with cancer (seed 000 / Dutch guideline; NICE CG75/NG234)."""

    new_or_increasing_back_or_neck_pain = "new_or_increasing_back_or_neck_pain"
    pain_between_shoulder_blades = "pain_between_shoulder_blades"
    pain_lying_down_relieved_sitting = "pain_lying_down_relieved_sitting"
    radiating_band_like_pain = "radiating_band_like_pain"
    limb_weakness = "limb_weakness"
    difficulty_controlling_limbs = "difficulty_controlling_limbs"
    unsteady_gait = "unsteady_gait"
    numbness_or_tingling = "numbness_or_tingling"
    sphincter_dysfunction = "sphincter_dysfunction"
    pain_aggravated_by_straining = "pain_aggravated_by_straining"
    localised_spinal_tenderness = "localised_spinal_tenderness"
    nocturnal_pain_preventing_sleep = "nocturnal_pain_preventing_sleep"
    progressive_lumbar_pain = "progressive_lumbar_pain"
    lhermitte_sign = "lhermitte_sign"


class OtherSymptom(StrEnum):
    """Findings that steer the differential diagnosis rather than urgency."""

    fever = "fever"
    weight_loss = "weight_loss"
    recent_trauma = "recent_trauma"
    overlying_cellulitis = "overlying_cellulitis"
