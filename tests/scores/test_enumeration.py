"""Exhaustive enumeration of item combinations against independent formulations of the tables.

The formulations below are written from the published text (not from the score modules): SINS
all 1,296 combinations (4*3*3*3*4*3), revised Tokuhashi all 1,458, original Tokuhashi all 729,
Tomita all 18, Bauer all 32 and modified Bauer all 16.
"""

from __future__ import annotations

import itertools

import pytest

from spinemets.scores import score

# SINS, Fisher 2010: each component's points, written as the paper lists them.
SINS_LOCATION = {"junctional": 3, "mobile": 2, "semi_rigid": 1, "rigid": 0}
SINS_PAIN = {"mechanical": 3, "occasional": 1, "none": 0}
SINS_BONE = {"lytic": 2, "mixed": 1, "blastic": 0}
SINS_ALIGN = {"subluxation_translation": 4, "de_novo_deformity": 2, "normal": 0}
SINS_COLLAPSE = {"over_50": 3, "under_50": 2, "no_collapse_over_50_involved": 1, "none": 0}
SINS_POST = {"bilateral": 3, "unilateral": 1, "none": 0}


def sins_band(total: int) -> str:
    return "stable" if total <= 6 else "potentially_unstable" if total <= 12 else "unstable"


def test_sins_all_1296_combinations_match_the_published_table() -> None:
    combos = list(
        itertools.product(SINS_LOCATION, SINS_PAIN, SINS_BONE, SINS_ALIGN, SINS_COLLAPSE, SINS_POST)
    )
    assert len(combos) == 1296
    for loc, pain, bone, align, collapse, post in combos:
        r = score(
            "sins",
            {
                "location": loc,
                "pain": pain,
                "bone_lesion": bone,
                "alignment": align,
                "vertebral_body_collapse": collapse,
                "posterolateral_involvement": post,
            },
        )
        expected = (
            SINS_LOCATION[loc]
            + SINS_PAIN[pain]
            + SINS_BONE[bone]
            + SINS_ALIGN[align]
            + SINS_COLLAPSE[collapse]
            + SINS_POST[post]
        )
        assert (r.total, r.min, r.max, r.complete) == (expected, expected, expected, True)
        assert r.band is not None and r.band.key == sins_band(expected)


# Revised Tokuhashi 2005, written as raw values a clinician records, scored by rule.
def tokuhashi_2005(
    kps: int, extraspinal: int, vertebrae: int, organs: str, site_points: int, frankel: str
) -> int:
    gc = 0 if kps <= 40 else 1 if kps <= 70 else 2
    ex = 2 if extraspinal == 0 else 1 if extraspinal <= 2 else 0
    vb = 2 if vertebrae == 1 else 1 if vertebrae == 2 else 0
    org = {"unremovable": 0, "removable": 1, "none": 2}[organs]
    palsy = 0 if frankel in "AB" else 1 if frankel in "CD" else 2
    return gc + ex + vb + org + site_points + palsy


#: One representative primary per published 2005 primary-site group (points).
SITE_2005 = {"lung_nsclc": 0, "liver": 1, "colorectal": 2, "kidney": 3, "rectum": 4, "breast": 5}


def test_revised_tokuhashi_all_1458_combinations_match_an_independent_formulation() -> None:
    n = 0
    for kps, ex, vb, org, primary, frankel in itertools.product(
        (30, 60, 90), (0, 2, 3), (1, 2, 4), ("unremovable", "removable", "none"), SITE_2005, "ADE"
    ):
        r = score(
            "tokuhashi_revised",
            {
                "kps": kps,
                "extraspinal_bone_metastases": ex,
                "vertebral_body_metastases": vb,
                "major_organ_metastases": org,
                "primary": primary,
                "frankel": frankel,
            },
        )
        expected = tokuhashi_2005(kps, ex, vb, org, SITE_2005[primary], frankel)
        assert r.total == expected
        want = "under_6_months" if expected <= 8 else "over_6_months" if expected <= 11 else "over_1_year"
        assert r.band is not None and r.band.key == want
        n += 1
    assert n == 3 * 3 * 3 * 3 * 6 * 3 == 1458


SITE_1990 = {"stomach": 0, "kidney": 1, "breast": 2}


def test_original_tokuhashi_all_729_combinations_match_an_independent_formulation() -> None:
    n = 0
    for kps, ex, vb, org, primary, frankel in itertools.product(
        (20, 50, 100), (0, 1, 5), (1, 2, 3), ("unremovable", "removable", "none"), SITE_1990, "BCE"
    ):
        r = score(
            "tokuhashi_1990",
            {
                "kps": kps,
                "extraspinal_bone_metastases": ex,
                "vertebral_body_metastases": vb,
                "major_organ_metastases": org,
                "primary": primary,
                "frankel": frankel,
            },
        )
        expected = tokuhashi_2005(kps, ex, vb, org, SITE_1990[primary], frankel)
        assert r.total == expected
        n += 1
    assert n == 729


TOMITA_GROWTH = {"breast": 1, "kidney": 2, "lung_nsclc": 4}  # slow / moderate / rapid exemplars
TOMITA_VISCERAL = {"none": 0, "treatable": 2, "untreatable": 4}


def tomita_band(total: int) -> str:
    if total <= 3:
        return "long_term_control"
    if total <= 5:
        return "middle_term_control"
    if total <= 7:
        return "short_term_palliation"
    return "terminal_care"


def test_tomita_all_18_combinations_match_an_independent_formulation() -> None:
    seen = set()
    for primary, visceral, bones in itertools.product(TOMITA_GROWTH, TOMITA_VISCERAL, (1, 4)):
        r = score(
            "tomita", {"primary": primary, "visceral_metastases": visceral, "bone_metastases_count": bones}
        )
        expected = TOMITA_GROWTH[primary] + TOMITA_VISCERAL[visceral] + (1 if bones == 1 else 2)
        assert r.total == expected
        assert r.band is not None and r.band.key == tomita_band(expected)
        seen.add(expected)
    assert seen == set(range(2, 11))  # every total of the published range is reached


@pytest.mark.parametrize("modified", [False, True])
def test_bauer_all_combinations_count_one_point_per_favourable_factor(modified: bool) -> None:
    name = "bauer_modified" if modified else "bauer"
    factors = ["visceral_metastases", "skeletal_metastases", "lung_cancer", "favourable_primary"]
    if not modified:
        factors.insert(0, "pathological_fracture")
    good = {
        "pathological_fracture": "absent",
        "visceral_metastases": "absent",
        "skeletal_metastases": "solitary",
        "lung_cancer": "no",
        "favourable_primary": "yes",
    }
    bad = {
        "pathological_fracture": "present",
        "visceral_metastases": "present",
        "skeletal_metastases": "multiple",
        "lung_cancer": "yes",
        "favourable_primary": "no",
    }
    for flags in itertools.product((True, False), repeat=len(factors)):
        items = {f: (good[f] if ok else bad[f]) for f, ok in zip(factors, flags, strict=True)}
        assert score(name, items).total == sum(flags)
