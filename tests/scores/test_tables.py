"""Every score's point table and bands, checked against the published definition written out here.

The expected tables are typed in from the sources (reference/scores.md, with the tag of each:
[S] seen in a source, [K] recalled from the primary paper) independently of the score modules,
so a changed point or band edge in the data fails here.
"""

from __future__ import annotations

import pytest

from spinemets.scores import SCORES, score

# score -> item -> {category: points}
PUBLISHED_POINTS: dict[str, dict[str, dict[str, int]]] = {
    # Fisher 2010, Spine 35:E1221 [S]
    "sins": {
        "location": {"junctional": 3, "mobile": 2, "semi_rigid": 1, "rigid": 0},
        "pain": {"mechanical": 3, "occasional": 1, "none": 0},
        "bone_lesion": {"lytic": 2, "mixed": 1, "blastic": 0},
        "alignment": {"subluxation_translation": 4, "de_novo_deformity": 2, "normal": 0},
        "vertebral_body_collapse": {
            "over_50": 3,
            "under_50": 2,
            "no_collapse_over_50_involved": 1,
            "none": 0,
        },
        "posterolateral_involvement": {"bilateral": 3, "unilateral": 1, "none": 0},
    },
    # Tokuhashi 2005, Spine 30:2186 [S, four sources agree]
    "tokuhashi_revised": {
        "general_condition": {"poor": 0, "moderate": 1, "good": 2},
        "extraspinal_bone_metastases": {"three_or_more": 0, "one_or_two": 1, "none": 2},
        "vertebral_body_metastases": {"three_or_more": 0, "two": 1, "one": 2},
        "major_organ_metastases": {"unremovable": 0, "removable": 1, "none": 2},
        "primary_site": {
            "lung_osteosarcoma_stomach_bladder_oesophagus_pancreas": 0,
            "liver_gallbladder_unidentified": 1,
            "others": 2,
            "kidney_uterus": 3,
            "rectum": 4,
            "thyroid_breast_prostate_carcinoid": 5,
        },
        "palsy": {"complete": 0, "incomplete": 1, "none": 2},
    },
    # Tokuhashi 1990, Spine 15:1110 [K]
    "tokuhashi_1990": {
        "general_condition": {"poor": 0, "moderate": 1, "good": 2},
        "extraspinal_bone_metastases": {"three_or_more": 0, "one_or_two": 1, "none": 2},
        "vertebral_body_metastases": {"three_or_more": 0, "two": 1, "one": 2},
        "major_organ_metastases": {"unremovable": 0, "removable": 1, "none": 2},
        "primary_site": {
            "lung_stomach": 0,
            "kidney_liver_uterus_other_unidentified": 1,
            "thyroid_prostate_breast_rectum": 2,
        },
        "palsy": {"complete": 0, "incomplete": 1, "none": 2},
    },
    # Tomita 2001, Spine 26:298 [K]
    "tomita": {
        "primary_growth": {"slow": 1, "moderate": 2, "rapid": 4},
        "visceral_metastases": {"none": 0, "treatable": 2, "untreatable": 4},
        "bone_metastases": {"solitary": 1, "multiple": 2},
    },
    # Bauer 1995, Acta Orthop Scand 66:143 [K]
    "bauer": {
        "pathological_fracture": {"absent": 1, "present": 0},
        "visceral_metastases": {"absent": 1, "present": 0},
        "skeletal_metastases": {"solitary": 1, "multiple": 0},
        "lung_cancer": {"no": 1, "yes": 0},
        "favourable_primary": {"yes": 1, "no": 0},
    },
    # Leithner 2008, Eur Spine J 17:1488 [S]
    "bauer_modified": {
        "visceral_metastases": {"absent": 1, "present": 0},
        "skeletal_metastases": {"solitary": 1, "multiple": 0},
        "lung_cancer": {"no": 1, "yes": 0},
        "favourable_primary": {"yes": 1, "no": 0},
    },
    # Ghori 2015 / Schoenfeld 2016 [S: item points]
    "nesms": {
        "modified_bauer": {"high": 2, "low": 0},
        "ambulatory": {"independent": 1, "not_independent": 0},
        "albumin": {"normal": 1, "low": 0},
    },
    # Bilsky 2010: six ordinal grades (rank as points)
    "escc": {"grade": {"0": 0, "1a": 1, "1b": 2, "1c": 3, "2": 4, "3": 5}},
    # Frankel 1969: five grades (rank as points)
    "frankel": {"grade": {"A": 0, "B": 1, "C": 2, "D": 3, "E": 4}},
    # Oken 1982: ECOG 0-5
    "performance": {"ecog": {str(e): e for e in range(6)}},
}

# score -> [(low, high, band key)]
PUBLISHED_BANDS: dict[str, list[tuple[int, int, str]]] = {
    "sins": [(0, 6, "stable"), (7, 12, "potentially_unstable"), (13, 18, "unstable")],  # Fourney 2011 [S]
    "tokuhashi_revised": [(0, 8, "under_6_months"), (9, 11, "over_6_months"), (12, 15, "over_1_year")],  # [S]
    "tokuhashi_1990": [(0, 5, "up_to_3_months"), (6, 8, "intermediate"), (9, 12, "over_12_months")],  # [K]
    "tomita": [  # [K]
        (2, 3, "long_term_control"),
        (4, 5, "middle_term_control"),
        (6, 7, "short_term_palliation"),
        (8, 10, "terminal_care"),
    ],
    "bauer": [(0, 1, "poor"), (2, 3, "moderate"), (4, 5, "good")],  # [K]
    "bauer_modified": [(0, 1, "supportive"), (2, 2, "short_term_palliation"), (3, 4, "middle_term_control")],
    "nesms": [(0, 0, "nesms_0"), (1, 1, "nesms_1"), (2, 2, "nesms_2"), (3, 3, "nesms_3")],  # 0-3 [S]
    "escc": [(0, 3, "low_grade"), (4, 5, "high_grade")],  # 1c grouped low by default
    "frankel": [(i, i, g) for i, g in enumerate("abcde")],
    "performance": [(e, e, f"ecog_{e}") for e in range(6)],
}

PUBLISHED_RANGE = {
    "sins": (0, 18),
    "tokuhashi_revised": (0, 15),
    "tokuhashi_1990": (0, 12),
    "tomita": (2, 10),
    "bauer": (0, 5),
    "bauer_modified": (0, 4),
    "escc": (0, 5),
    "frankel": (0, 4),
    "performance": (0, 5),
}


def test_catalogue_is_exactly_the_scores_with_published_tables() -> None:
    assert set(SCORES) == set(PUBLISHED_POINTS)


@pytest.mark.parametrize("key", sorted(PUBLISHED_POINTS))
def test_point_table_matches_published_definition(key: str) -> None:
    defn = SCORES[key]
    got = {i.key: {c.key: c.points for c in i.categories} for i in defn.items}
    assert got == PUBLISHED_POINTS[key]


@pytest.mark.parametrize("key", sorted(PUBLISHED_BANDS))
def test_bands_match_published_definition(key: str) -> None:
    got = [(b.low, b.high, b.key) for b in SCORES[key].bands]
    assert got == PUBLISHED_BANDS[key]


@pytest.mark.parametrize("key", sorted(PUBLISHED_RANGE))
def test_range_is_the_published_range(key: str) -> None:
    assert SCORES[key].range == PUBLISHED_RANGE[key]


@pytest.mark.parametrize("key", sorted(PUBLISHED_BANDS))
def test_bands_tile_the_range_without_gap_or_overlap(key: str) -> None:
    defn = SCORES[key]
    lo, hi = defn.range
    covered = [t for b in defn.bands for t in range(b.low, b.high + 1)]
    assert covered == list(range(lo, hi + 1))


def test_nesms_sum_of_four_is_reported_at_the_published_ceiling_of_three() -> None:
    # Ghori 2015 as summarised by Becker's Spine Review [S]: modified Bauer 2 points, intact ambulation
    # and normal albumin 1 point each, "with a ceiling score of three" (docs/conflicts.md).
    defn = SCORES["nesms"]
    assert defn.range == (0, 3) and defn.ceiling == 3
    r = score("nesms", {"modified_bauer": 4, "ambulatory": "independent", "albumin_g_dl": 3.8})
    assert r.total == 3 and r.band is not None and r.band.key == "nesms_3"
    assert any("sum to 4" in w and "ceiling of 3" in w for w in r.warnings)


def test_nesms_capped_range_can_be_decided_with_an_item_missing() -> None:
    # high (2) + independent (1) = 3 already: albumin cannot change NESMS, so the total is known.
    r = score("nesms", {"modified_bauer": 3, "ambulatory": "independent"})
    assert (r.min, r.max, r.total) == (3, 3, 3) and r.missing == ("albumin",)


def test_tomita_rapid_growth_is_four_points_as_the_range_requires() -> None:
    # With rapid = 3 the maximum would be 9 and the published 8-10 band could not reach 10.
    defn = SCORES["tomita"]
    assert defn.item_map["primary_growth"].points("rapid") == 4
    assert defn.range[1] == 10 == defn.bands[-1].high


def test_every_definition_cites_existing_bibliography_entries() -> None:
    for defn in SCORES.values():
        refs = defn.citations
        assert refs and all(r.year > 1900 and r.title for r in refs)


def test_supporting_papers_carry_their_own_titles() -> None:
    """Two entries once held the title of a sibling paper by the same group.

    Records checked: Radiat Oncol 2014;9:69 (SINS among *radiation oncologists*, doi
    10.1186/1748-717X-9-69) and PubMed 17848812 (Ulmar 2007, Onkologie 30:414-8, the *Tomita*
    score in 217 patients, doi 10.1159/000104491)."""
    from spinemets.knowledge.bibliography import load_bibliography

    bib = load_bibliography()
    assert "radiation oncologists" in bib["fisher2014"].title
    assert bib["fisher2014"].doi == "10.1186/1748-717X-9-69"
    assert "Tomita score" in bib["ulmar2007"].title
    assert bib["ulmar2007"].doi == "10.1159/000104491"
