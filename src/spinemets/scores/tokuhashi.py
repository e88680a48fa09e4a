"""Revised Tokuhashi score (2005): preoperative prognosis of metastatic spine tumours, 0-15.

The five items other than the primary site are shared with the original 1990 score
(:mod:`.tokuhashi_1990`), which differs only in the primary-site table and the bands.

References:
    Tokuhashi Y et al. Spine 2005;30(19):2186-2191. doi:10.1097/01.brs.0000180401.06919.a5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinemets.model.levels import vertebrae_covered
from spinemets.scores.common import histology_lookup
from spinemets.scores.engine import (
    Band,
    BandSurvival,
    Bins,
    Category,
    Item,
    Lookup,
    ScoreDefinition,
    ScoreSpec,
    SourceCertainty,
    SurvivalDirection,
)
from spinemets.scores.neurology import asia_lookup, frankel_lookup
from spinemets.scores.performance import CONVENTION_LABEL, ECOG_OPTION, EcogConvention, ecog_lookup

#: Karnofsky % -> general condition (Tokuhashi 2005: poor 10-40, moderate 50-70, good 80-100).
KPS_BINS: tuple[tuple[float, float, str], ...] = ((10, 40, "poor"), (50, 70, "moderate"), (80, 100, "good"))

PRIMARY_SITE = (
    Category(
        key="lung_osteosarcoma_stomach_bladder_oesophagus_pancreas",
        points=0,
        label="Lung, osteosarcoma, stomach, bladder, oesophagus, pancreas",
    ),
    Category(key="liver_gallbladder_unidentified", points=1, label="Liver, gallbladder, unidentified"),
    Category(key="others", points=2, label="Others"),
    Category(key="kidney_uterus", points=3, label="Kidney, uterus"),
    Category(key="rectum", points=4, label="Rectum"),
    Category(
        key="thyroid_breast_prostate_carcinoid", points=5, label="Thyroid, breast, prostate, carcinoid tumour"
    ),
)


def primary_lookup() -> Lookup:
    """Histology -> primary-site category, from the histology table (unlisted -> 'others', flagged)."""
    by_points = {c.points: c.key for c in PRIMARY_SITE}
    return histology_lookup(
        lambda row: None if row.tokuhashi_2005 is None else by_points[row.tokuhashi_2005],
        unlisted="others",
        unlisted_note="{primary} is not named in Tokuhashi 2005; the published catch-all 'others' (2) applies",
        listed_as=lambda row: row.tokuhashi_2005_listed_as,
        note=lambda row: row.tokuhashi_2005_note,
    )


def general_condition(convention: EcogConvention) -> Item:
    """General condition (KPS bands, shared by 1990 and 2005); ECOG converted by ``convention``."""
    return Item(
        key="general_condition",
        label="General condition",
        definition="Performance status (Karnofsky): poor 10-40% (0), moderate 50-70% (1), good 80-100% (2).",
        question="What is the Karnofsky performance status (or ECOG grade)?",
        categories=(
            Category(key="poor", points=0, label="Poor (KPS 10-40%)"),
            Category(key="moderate", points=1, label="Moderate (KPS 50-70%)"),
            Category(key="good", points=2, label="Good (KPS 80-100%)"),
        ),
        derivations=(
            Bins(
                input="kps",
                bins=KPS_BINS,
                unit="%",
                integer=True,
                step=10,
                describe="a Karnofsky score from 10 to 100 % in steps of 10",
            ),
            Lookup(
                input="ecog",
                table=ecog_lookup(KPS_BINS, convention),
                describe="an ECOG grade 0-4",
                note=CONVENTION_LABEL[convention],
            ),
        ),
    )


EXTRASPINAL = Item(
    key="extraspinal_bone_metastases",
    label="Extraspinal bone metastases",
    definition="Number of extraspinal bone metastasis foci: >=3 (0), 1-2 (1), 0 (2).",
    question="How many extraspinal bone metastases are there (bone scan, PET or CT)?",
    categories=(
        Category(key="three_or_more", points=0, label=">=3"),
        Category(key="one_or_two", points=1, label="1-2"),
        Category(key="none", points=2, label="0"),
    ),
    derivations=(
        Bins(
            input="extraspinal_bone_metastases",
            unit="foci",
            integer=True,
            bins=((0, 0, "none"), (1, 2, "one_or_two"), (3, 1000, "three_or_more")),
            describe="a count of foci (0 or more)",
        ),
    ),
)

VERTEBRAL = Item(
    key="vertebral_body_metastases",
    label="Metastases in the vertebral body",
    definition="Number of vertebrae with metastases, index lesion included: >=3 (0), 2 (1), 1 (2).",
    question="How many vertebrae carry metastases (whole-spine MRI), including this one?",
    categories=(
        Category(key="three_or_more", points=0, label=">=3"),
        Category(key="two", points=1, label="2"),
        Category(key="one", points=2, label="1"),
    ),
    derivations=(
        Bins(
            input="vertebral_body_metastases",
            unit="vertebrae",
            integer=True,
            bins=((1, 1, "one"), (2, 2, "two"), (3, 1000, "three_or_more")),
            describe="a count of vertebrae, at least 1 (the index lesion counts)",
        ),
    ),
)

MAJOR_ORGANS = Item(
    key="major_organ_metastases",
    label="Metastases to the major internal organs",
    definition="Lung, liver, kidney, brain metastases: unremovable (0), removable (1), none (2).",
    question="Are there metastases in lung, liver, kidney or brain, and are they removable?",
    categories=(
        Category(key="unremovable", points=0, label="Unremovable"),
        Category(key="removable", points=1, label="Removable"),
        Category(key="none", points=2, label="No metastases"),
    ),
    derivations=(
        # Tokuhashi asks whether the organ metastases can be removed, a clinical judgement that
        # "treatable" does not record (reference sheet: store it, never derive it); untreatable
        # metastases cannot be removable, since removal would treat them.
        Lookup(
            input="visceral_metastases",
            table={
                "none": "none",
                "treatable": ("unremovable", "removable"),
                "untreatable": "unremovable",
            },
            describe="none, treatable or untreatable",
            value_notes={
                "treatable": "treatable does not say removable: record whether the organ metastases "
                "are removable (patient: burden.visceral_metastases_removable; calculator or cohort: "
                "major_organ_metastases=removable or unremovable)",
            },
        ),
    ),
)

PALSY = Item(
    key="palsy",
    label="Palsy",
    definition="Complete, Frankel A-B (0); incomplete, Frankel C-D (1); none, Frankel E (2).",
    question="What is the Frankel (or ASIA) grade?",
    categories=(
        Category(key="complete", points=0, label="Complete (Frankel A, B)"),
        Category(key="incomplete", points=1, label="Incomplete (Frankel C, D)"),
        Category(key="none", points=2, label="None (Frankel E)"),
    ),
    derivations=(
        frankel_lookup({"A": "complete", "B": "complete", "C": "incomplete", "D": "incomplete", "E": "none"}),
        asia_lookup({"A": "complete", "B": "complete", "C": "incomplete", "D": "incomplete", "E": "none"}),
    ),
)


def definition(convention: EcogConvention = EcogConvention.oken1982) -> ScoreDefinition:
    """The revised Tokuhashi table; ``convention`` only changes how an ECOG grade is derived."""
    return ScoreDefinition(
        key="tokuhashi_revised",
        name="Revised Tokuhashi",
        version="Tokuhashi 2005",
        description="Revised Tokuhashi score: predicted survival before surgery for spinal metastases, 0-15.",
        citation_ids=("tokuhashi2005",),
        items=(
            general_condition(convention),
            EXTRASPINAL,
            VERTEBRAL,
            MAJOR_ORGANS,
            Item(
                key="primary_site",
                label="Primary site of the cancer",
                definition="Lung, osteosarcoma, stomach, bladder, oesophagus, pancreas (0); liver, gallbladder, "
                "unidentified (1); others (2); kidney, uterus (3); rectum (4); thyroid, breast, prostate, "
                "carcinoid (5).",
                question="What is the primary tumour?",
                categories=PRIMARY_SITE,
                derivations=(primary_lookup(),),
            ),
            PALSY,
        ),
        bands=(
            Band(
                key="under_6_months",
                low=0,
                high=8,
                label="< 6 months",
                meaning="Predicted survival < 6 months: conservative treatment or palliative surgery.",
            ),
            Band(
                key="over_6_months",
                low=9,
                high=11,
                label=">= 6 months",
                meaning="Predicted survival >= 6 months: palliative surgery; excisional surgery for a single "
                "lesion without major-organ metastases.",
            ),
            Band(
                key="over_1_year",
                low=12,
                high=15,
                label=">= 1 year",
                meaning="Predicted survival >= 1 year: excisional surgery.",
            ),
        ),
        survival_direction=SurvivalDirection.higher_longer,
        band_survival=tuple(
            BandSurvival(
                band=band,
                median_low_months=lo,
                median_high_months=hi,
                statement=text,
                certainty=SourceCertainty.S,
                citation_id="tokuhashi2005",
            )
            for band, lo, hi, text in (
                ("under_6_months", None, 6.0, "predicted survival < 6 months"),
                ("over_6_months", 6.0, None, "predicted survival >= 6 months"),
                ("over_1_year", 12.0, None, "predicted survival >= 1 year"),
            )
        ),
        notes=(
            "Predicted and actual survival agreed in 86.4% of 246 patients in the 2005 paper (recalled; unverified).",
            "The treatment named in each band's meaning (conservative or palliative surgery, excisional "
            "surgery) is from a secondary source [S] and recall [K], not checked against the 2005 paper; "
            "the survival predictions are from the published table [S].",
        ),
    )


def from_patient(patient: Any) -> Mapping[str, Any]:
    """Raw Tokuhashi inputs from a patient; facts not recorded are left out (they stay missing)."""
    raw: dict[str, Any] = {}
    if patient.performance.kps is not None:
        raw["kps"] = patient.performance.kps
    elif patient.performance.ecog is not None:
        raw["ecog"] = patient.performance.ecog
    if patient.burden.extraspinal_bone_metastases is not None:
        raw["extraspinal_bone_metastases"] = patient.burden.extraspinal_bone_metastases
    entered = vertebrae_covered(lesion.level for lesion in patient.lesions)
    if patient.burden.vertebrae_involved is not None:
        raw["vertebral_body_metastases"] = patient.burden.vertebrae_involved
    elif entered >= 3:  # the lesions entered already cover three or more vertebrae
        raw["vertebral_body_metastases"] = "three_or_more"
    if patient.burden.visceral_metastases_removable is not None:
        removable = patient.burden.visceral_metastases_removable
        raw["major_organ_metastases"] = "removable" if removable else "unremovable"
    elif patient.burden.visceral_metastases is not None:
        raw["visceral_metastases"] = patient.burden.visceral_metastases
    if patient.primary.histology is not None:
        raw["primary"] = patient.primary.histology
    if patient.neurology.frankel is not None:
        raw["frankel"] = patient.neurology.frankel
    elif patient.neurology.asia is not None:
        raw["asia"] = patient.neurology.asia
    return raw


DEFINITION = definition()
SPEC = ScoreSpec(
    definition=DEFINITION,
    from_patient=from_patient,
    options=(ECOG_OPTION,),
    build=lambda o: definition(EcogConvention(o["ecog_convention"])),
)
