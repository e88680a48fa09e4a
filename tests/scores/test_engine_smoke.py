"""First checks of the engine on the two exemplar scores (full suites live beside them)."""

from __future__ import annotations

import pytest

import spinemets
from spinemets.errors import InvalidInputError


def test_sins_boundary_vector_t12_is_13_unstable() -> None:
    # Definition-derived vector (reference/scores.md section 10): 3+3+2+2+2+1 = 13, unstable.
    r = spinemets.score(
        "sins",
        {
            "level": "T12",
            "pain": "mechanical",
            "bone_lesion": "lytic",
            "alignment": "de_novo_deformity",
            "vertebral_body_collapse": "under_50",
            "posterolateral_involvement": "unilateral",
        },
    )
    assert (r.total, r.band.key if r.band else None) == (13, "unstable")


def test_tokuhashi_top_of_lowest_band_is_8() -> None:
    # Definition-derived vector: KPS 60, 1-2 extraspinal, 2 vertebrae, removable, kidney, Frankel D = 8.
    r = spinemets.score(
        "tokuhashi_revised",
        {
            "kps": 60,
            "extraspinal_bone_metastases": 1,
            "vertebral_body_metastases": 2,
            "major_organ_metastases": "removable",
            "primary": "kidney",
            "frankel": "D",
        },
    )
    assert r.total == 8 and r.band is not None and r.band.label == "< 6 months"


def test_tokuhashi_treatable_organ_metastases_leave_removable_open() -> None:
    # reference/scores.md, Tokuhashi edge cases: removable is a clinical judgement to record, never
    # derived. Treatable organ metastases score 0 (unremovable) or 1 (removable) until it is recorded.
    base = {"kps": 60, "extraspinal_bone_metastases": 1, "vertebral_body_metastases": 2, "primary": "kidney"}
    decided = spinemets.score(
        "tokuhashi_revised", {**base, "visceral_metastases": "treatable", "frankel": "D"}
    )
    assert (decided.total, decided.min, decided.max) == (None, 7, 8)
    assert decided.band_determined and decided.band is not None and decided.band.key == "under_6_months"
    assert decided.missing == ("major_organ_metastases",)
    assert any("does not say removable" in w for w in decided.warnings)
    open_band = spinemets.score(
        "tokuhashi_revised", {**base, "visceral_metastases": "treatable", "frankel": "E"}
    )
    assert (open_band.min, open_band.max, open_band.band_determined) == (8, 9, False)
    untreatable = spinemets.score(
        "tokuhashi_revised", {**base, "visceral_metastases": "untreatable", "frankel": "E"}
    )
    assert untreatable.total == 8  # untreatable metastases cannot be removable


def test_missing_items_give_range_and_questions() -> None:
    r = spinemets.score("sins", {"level": "T12", "pain": "mechanical"})
    assert (r.min, r.max, r.total, r.band_determined) == (6, 18, None, False)
    assert set(r.missing) == {
        "bone_lesion",
        "alignment",
        "vertebral_body_collapse",
        "posterolateral_involvement",
    }


def test_invalid_category_names_field_value_and_allowed() -> None:
    with pytest.raises(
        InvalidInputError, match=r"sins\.pain must be one of mechanical, occasional, none; got 'severe'"
    ):
        spinemets.score("sins", {"pain": "severe"})


def test_assess_example_patient(example_patient: dict) -> None:
    a = spinemets.assess(example_patient)
    assert a.scores["sins"].subject == "T12"
    # T12 junctional 3 + mechanical 3 + lytic 2 + normal 0 + <50% 2 + unilateral 1 = 11
    assert a.scores["sins"].total == 11
