"""NESMS, the New England Spinal Metastasis Score (0-3): modified Bauer, ambulation, albumin.

The modified-Bauer item is a :class:`~spinemets.scores.engine.Subscore`: the nested score is
evaluated on the same inputs and its range decides the category (``>= 3`` high, 2 points), so the
missing-data range carries through and the cohort path can vectorise it from the data.

References:
    Ghori AK et al. Spine J 2015;15(11):2345-2350. doi:10.1016/j.spinee.2015.06.061
    Schoenfeld AJ et al. Spine J 2016;16(4):482-490. doi:10.1016/j.spinee.2015.09.043
    Schoenfeld AJ et al. Spine J 2021 (online 2020). doi:10.1016/j.spinee.2020.02.009
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinemets.model.units import ALBUMIN_PLAUSIBLE_G_DL, albumin_range_text, albumin_unit
from spinemets.scores.bauer import MODIFIED, modified_from_patient
from spinemets.scores.engine import (
    Band,
    Bins,
    Category,
    Item,
    Lookup,
    ScoreDefinition,
    ScoreSpec,
    Subscore,
    SurvivalDirection,
)

#: Normal serum albumin threshold, g/dL (NESMS: >= 3.5 g/dL scores 1).
ALBUMIN_NORMAL_G_DL = 3.5

_ALBUMIN_BINS: tuple[tuple[float, float, str], ...] = (
    (0.0, ALBUMIN_NORMAL_G_DL, "low"),
    (ALBUMIN_NORMAL_G_DL, 1000.0, "normal"),
)

WITH_AID_NOTE = (
    "walking with an aid: NESMS counts 'independent' ambulation and does not say whether an aid "
    "counts, so both categories stay possible (docs/conflicts.md)"
)

DEFINITION = ScoreDefinition(
    key="nesms",
    name="NESMS",
    version="Ghori 2015 / Schoenfeld 2016",
    description="New England Spinal Metastasis Score: 1-year survival after treatment, 0-3 (3 best).",
    citation_ids=("ghori2015", "schoenfeld2016", "schoenfeld2020"),
    survival_direction=SurvivalDirection.higher_longer,  # 1-year death OR vs 3: 7.0 at 2, 31.3 at 1 [S]
    items=(
        Item(
            key="modified_bauer",
            label="Modified Bauer score",
            definition="Modified Bauer >= 3 (high) scores 2; below 3 (low) scores 0.",
            question="What is the modified Bauer score (visceral metastases, solitary bone metastasis, "
            "lung cancer, favourable primary)?",
            categories=(
                Category(key="high", points=2, label="Modified Bauer >= 3"),
                Category(key="low", points=0, label="Modified Bauer < 3"),
            ),
            derivations=(
                Subscore(
                    input="modified_bauer",
                    definition=MODIFIED,
                    bins=((3, 4, "high"), (0, 2, "low")),
                    describe="a modified Bauer total 0-4, or high / low",
                ),
            ),
        ),
        Item(
            key="ambulatory",
            label="Independent ambulation",
            definition="Independent (intact) pre-treatment ambulatory status scores 1.",
            question="Before treatment, does the patient walk independently?",
            categories=(
                Category(key="independent", points=1, label="Independent ambulation"),
                Category(key="not_independent", points=0, label="Not independently ambulatory"),
            ),
            derivations=(
                Lookup(
                    input="ambulatory",
                    table={
                        "independent": "independent",
                        "with_aid": ("independent", "not_independent"),
                        "non_ambulatory": "not_independent",
                    },
                    value_notes={"with_aid": WITH_AID_NOTE},
                    describe="independent, with_aid or non_ambulatory",
                ),
            ),
        ),
        Item(
            key="albumin",
            label="Serum albumin",
            definition="Pre-treatment serum albumin >= 3.5 g/dL (normal) scores 1.",
            question="What is the pre-treatment serum albumin?",
            categories=(
                Category(key="normal", points=1, label="Albumin >= 3.5 g/dL"),
                Category(key="low", points=0, label="Albumin < 3.5 g/dL"),
            ),
            derivations=(
                Bins(
                    input="albumin",
                    unit="g/dL",
                    bins=_ALBUMIN_BINS,
                    right_open=True,
                    plausible=ALBUMIN_PLAUSIBLE_G_DL,
                    mixup=(0.1, "g/L", "albumin_g_l"),
                    describe="normal, low, or a serum albumin in g/dL (use albumin_g_l for g/L), "
                    f"plausible {albumin_range_text()}",
                ),
                Bins(
                    input="albumin_g_dl",
                    unit="g/dL",
                    bins=_ALBUMIN_BINS,
                    right_open=True,
                    plausible=ALBUMIN_PLAUSIBLE_G_DL,
                    mixup=(0.1, "g/L", "albumin_g_l"),
                    describe=f"a serum albumin in g/dL, plausible {albumin_range_text()}",
                ),
                Bins(
                    input="albumin_g_l",
                    unit="g/L",
                    bins=_ALBUMIN_BINS,
                    right_open=True,
                    factor=0.1,
                    converted_unit="g/dL",
                    factor_text="g/L ÷ 10",
                    plausible=ALBUMIN_PLAUSIBLE_G_DL,
                    mixup=(1.0, "g/dL", "albumin_g_dl"),
                    describe=f"a serum albumin in g/L, plausible {albumin_range_text()}",
                ),
            ),
        ),
    ),
    bands=(
        Band(
            key="nesms_0",
            low=0,
            high=0,
            label="0",
            meaning="Lowest NESMS; per-score 1-year survival is not published here [GAP].",
        ),
        Band(
            key="nesms_1",
            low=1,
            high=1,
            label="1",
            meaning="Odds of death at 1 year 31.3 (95% CI 8.8-111.0) times those of NESMS 3 "
            "(Schoenfeld 2021 prospective validation).",
        ),
        Band(
            key="nesms_2",
            low=2,
            high=2,
            label="2",
            meaning="Odds of death at 1 year 7.0 (95% CI 2.5-20.1) times those of NESMS 3 "
            "(Schoenfeld 2021 prospective validation).",
        ),
        Band(
            key="nesms_3",
            low=3,
            high=3,
            label="3",
            meaning="The reference (best) group in the prospective validation (Schoenfeld 2021).",
        ),
    ),
    ceiling=3,
    notes=(
        "Points as derived (Ghori 2015): modified Bauer high 2, independent ambulation 1, normal albumin 1, "
        "'with a ceiling score of three' [S: Becker's Spine Review summary of Ghori 2015]: a sum of 4 is "
        "NESMS 3 (docs/conflicts.md).",
        "Albumin must be pre-treatment; the 3.5 g/dL threshold is the usual normal limit [K].",
        "Per-score 1-year survival figures are a [GAP] in spinemets' sources and are not shown.",
    ),
)


def from_patient(patient: Any) -> Mapping[str, Any]:
    raw = dict(modified_from_patient(patient))
    if patient.neurology.ambulatory is not None:
        raw["ambulatory"] = patient.neurology.ambulatory
    albumin = patient.labs.albumin
    if albumin is not None:
        if isinstance(albumin, float | int):
            raw["albumin_g_dl"] = albumin
        elif albumin_unit(albumin.unit) == "g/L":
            raw["albumin_g_l"] = albumin.value
        else:
            raw["albumin_g_dl"] = patient.labs.albumin_g_dl()[0]
    return raw


SPEC = ScoreSpec(definition=DEFINITION, from_patient=from_patient)
