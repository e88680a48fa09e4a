"""Band boundaries: the last total of one band and the first of the next (min, max and one past)."""

from __future__ import annotations

import pytest

from spinemets.scores import score

SINS_BASE = {
    "location": "rigid",
    "pain": "none",
    "bone_lesion": "blastic",
    "alignment": "normal",
    "vertebral_body_collapse": "none",
    "posterolateral_involvement": "none",
}


@pytest.mark.parametrize(
    ("changes", "total", "band"),
    [
        ({}, 0, "stable"),
        (
            {
                "pain": "mechanical",
                "alignment": "de_novo_deformity",
                "posterolateral_involvement": "unilateral",
            },
            6,
            "stable",
        ),
        (
            {
                "pain": "mechanical",
                "alignment": "de_novo_deformity",
                "vertebral_body_collapse": "no_collapse_over_50_involved",
                "posterolateral_involvement": "unilateral",
            },
            7,
            "potentially_unstable",
        ),
        (
            {
                "pain": "mechanical",
                "alignment": "subluxation_translation",
                "vertebral_body_collapse": "over_50",
                "bone_lesion": "lytic",
            },
            12,
            "potentially_unstable",
        ),
        (
            {
                "pain": "mechanical",
                "alignment": "subluxation_translation",
                "vertebral_body_collapse": "over_50",
                "bone_lesion": "lytic",
                "posterolateral_involvement": "unilateral",
            },
            13,
            "unstable",
        ),
        (
            {
                "location": "junctional",
                "pain": "mechanical",
                "bone_lesion": "lytic",
                "alignment": "subluxation_translation",
                "vertebral_body_collapse": "over_50",
                "posterolateral_involvement": "bilateral",
            },
            18,
            "unstable",
        ),
    ],
)
def test_sins_band_edges(changes: dict[str, str], total: int, band: str) -> None:
    r = score("sins", {**SINS_BASE, **changes})
    assert r.total == total and r.band is not None and r.band.key == band


TOK_BASE = {
    "general_condition": "poor",
    "extraspinal_bone_metastases": "three_or_more",
    "vertebral_body_metastases": "three_or_more",
    "major_organ_metastases": "unremovable",
    "primary_site": "lung_osteosarcoma_stomach_bladder_oesophagus_pancreas",
    "palsy": "complete",
}


@pytest.mark.parametrize(
    ("changes", "total", "band"),
    [
        ({}, 0, "under_6_months"),
        (
            {
                "primary_site": "thyroid_breast_prostate_carcinoid",
                "general_condition": "good",
                "palsy": "incomplete",
            },
            8,
            "under_6_months",
        ),
        (
            {
                "primary_site": "thyroid_breast_prostate_carcinoid",
                "general_condition": "good",
                "palsy": "none",
            },
            9,
            "over_6_months",
        ),
        (
            {
                "primary_site": "thyroid_breast_prostate_carcinoid",
                "general_condition": "good",
                "palsy": "none",
                "major_organ_metastases": "none",
            },
            11,
            "over_6_months",
        ),
        (
            {
                "primary_site": "thyroid_breast_prostate_carcinoid",
                "general_condition": "good",
                "palsy": "none",
                "major_organ_metastases": "none",
                "vertebral_body_metastases": "two",
            },
            12,
            "over_1_year",
        ),
        (
            {
                "primary_site": "thyroid_breast_prostate_carcinoid",
                "general_condition": "good",
                "palsy": "none",
                "major_organ_metastases": "none",
                "vertebral_body_metastases": "one",
                "extraspinal_bone_metastases": "none",
            },
            15,
            "over_1_year",
        ),
    ],
)
def test_revised_tokuhashi_band_edges(changes: dict[str, str], total: int, band: str) -> None:
    r = score("tokuhashi_revised", {**TOK_BASE, **changes})
    assert r.total == total and r.band is not None and r.band.key == band


@pytest.mark.parametrize(
    ("growth", "visceral", "bones", "total", "band"),
    [
        ("slow", "none", "solitary", 2, "long_term_control"),
        ("moderate", "none", "solitary", 3, "long_term_control"),
        ("moderate", "none", "multiple", 4, "middle_term_control"),
        ("slow", "treatable", "multiple", 5, "middle_term_control"),
        ("moderate", "treatable", "multiple", 6, "short_term_palliation"),
        ("rapid", "treatable", "solitary", 7, "short_term_palliation"),
        ("rapid", "treatable", "multiple", 8, "terminal_care"),
        ("rapid", "untreatable", "multiple", 10, "terminal_care"),
    ],
)
def test_tomita_band_edges(growth: str, visceral: str, bones: str, total: int, band: str) -> None:
    r = score("tomita", {"primary_growth": growth, "visceral_metastases": visceral, "bone_metastases": bones})
    assert r.total == total and r.band is not None and r.band.key == band


@pytest.mark.parametrize(
    ("flags", "band"),
    [
        ((0, 0, 0, 0), "supportive"),
        ((1, 0, 0, 0), "supportive"),
        ((1, 1, 0, 0), "short_term_palliation"),
        ((1, 1, 1, 0), "middle_term_control"),
        ((1, 1, 1, 1), "middle_term_control"),
    ],
)
def test_modified_bauer_band_edges(flags: tuple[int, ...], band: str) -> None:
    keys = ["visceral_metastases", "skeletal_metastases", "lung_cancer", "favourable_primary"]
    good = ["absent", "solitary", "no", "yes"]
    bad = ["present", "multiple", "yes", "no"]
    items = {k: (g if f else b) for k, g, b, f in zip(keys, good, bad, flags, strict=True)}
    r = score("bauer_modified", items)
    assert r.total == sum(flags) and r.band is not None and r.band.key == band


def test_tokuhashi_1990_band_edges() -> None:
    base = {**TOK_BASE, "primary_site": "lung_stomach"}
    five = {**base, "general_condition": "good", "palsy": "none", "major_organ_metastases": "removable"}
    six = {**five, "major_organ_metastases": "none"}
    eight = {**six, "primary_site": "thyroid_prostate_breast_rectum"}
    nine = {**eight, "vertebral_body_metastases": "two"}
    got = [
        (r.total, r.band.key if r.band else None)
        for r in (score("tokuhashi_1990", x) for x in (five, six, eight, nine))
    ]
    assert got == [(5, "up_to_3_months"), (6, "intermediate"), (8, "intermediate"), (9, "over_12_months")]


@pytest.mark.parametrize(("counts", "category"), [(1, "solitary"), (2, "multiple"), (50, "multiple")])
def test_bone_metastasis_count_edges(counts: int, category: str) -> None:
    assert score("tomita", {"bone_metastases_count": counts}).items[2].category == category
