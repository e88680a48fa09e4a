"""Raw values that derive categories, with the derivation text every result shows."""

from __future__ import annotations

import pytest

from spinemets.errors import InvalidInputError
from spinemets.model.patient import collapse_categories
from spinemets.model.validation import parse_patient
from spinemets.scores import score
from spinemets.scores.sins import LOCATION_BY_LEVEL

# The level lists of Fisher 2010, written out independently of the module.
JUNCTIONAL = ["C0", "C1", "C2", "C7", "T1", "T2", "T11", "T12", "L1", "L5", "S1"]
MOBILE = ["C3", "C4", "C5", "C6", "L2", "L3", "L4"]
SEMI_RIGID = [f"T{i}" for i in range(3, 11)]
RIGID = ["S2", "S3", "S4", "S5"]


@pytest.mark.parametrize(
    ("levels", "location", "points"),
    [
        (JUNCTIONAL, "junctional", 3),
        (MOBILE, "mobile", 2),
        (SEMI_RIGID, "semi_rigid", 1),
        (RIGID, "rigid", 0),
    ],
)
def test_every_level_maps_to_its_published_sins_location(
    levels: list[str], location: str, points: int
) -> None:
    for level in levels:
        item = score("sins", {"level": level}).items[0]
        assert (item.category, item.points) == (location, points), level
        assert item.derivation == f"level {level} -> {location} ({points})"


def test_sins_location_table_covers_occiput_to_s5_and_not_the_coccyx() -> None:
    assert len(LOCATION_BY_LEVEL) == len(JUNCTIONAL + MOBILE + SEMI_RIGID + RIGID) == 30
    assert "Co" not in LOCATION_BY_LEVEL


def test_the_derivation_text_of_the_issue_example_t12() -> None:
    r = score("sins", {"level": "T12"})
    assert r.items[0].derivation == "level T12 -> junctional (3)"


def test_a_span_within_one_region_scores_that_region() -> None:
    item = score("sins", {"level": "C7-T1"}).items[0]
    assert (item.category, item.points) == ("junctional", 3)


def test_a_span_across_regions_keeps_both_locations_as_a_range() -> None:
    r = score("sins", {"level": "T10-T11"})
    item = r.items[0]
    assert item.category is None and item.possible == ("semi_rigid", "junctional")
    assert (item.min, item.max) == (1, 3) and "location" in r.missing


def test_level_names_are_case_insensitive() -> None:
    assert score("sins", {"level": "t12"}).items[0].category == "junctional"


@pytest.mark.parametrize(
    ("percent", "category"),
    [(0.5, "under_50"), (50, "under_50"), (50.5, "over_50"), (100, "over_50")],
)
def test_collapse_percent_exactly_50_counts_as_under_50(percent: float, category: str) -> None:
    item = score("sins", {"collapse_percent": percent}).items[4]
    assert item.category == category


@pytest.mark.parametrize(("percent", "category"), [(1e-7, "under_50"), (50.0000005, "over_50")])
def test_every_collapse_percent_from_0_to_100_has_a_category(percent: float, category: str) -> None:
    # Fisher 2010: any collapse up to half is "<50%" (exactly 50 by spinemets' rule), above half ">50%".
    # The bins once started at 0.000001 and 50.000001, so a valid percentage in a gap (a computed
    # ratio such as 50.0000005) was refused as "not 0-100 %", and assess() failed on it.
    assert score("sins", {"collapse_percent": percent}).items[4].category == category
    patient = parse_patient({"lesions": [{"level": "T5", "collapse_percent": percent}]})
    assert score("sins", patient).items[4].category == category


def test_zero_collapse_needs_the_body_involvement_to_decide() -> None:
    item = score("sins", {"collapse_percent": 0}).items[4]
    assert item.possible == ("no_collapse_over_50_involved", "none") and (item.min, item.max) == (0, 1)


@pytest.mark.parametrize(
    ("lesion", "fits"),
    [
        # Fisher 2010, Table 1: "none of the above" excludes "no collapse with >50% of the body
        # involved" (1 point); with the involvement recorded, "none" scored 0 instead of 1.
        ({"collapse": "none", "body_involvement_over_50": True}, "over_50 or under_50 or no_collapse"),
        ({"collapse": "no_collapse_over_50_involved", "body_involvement_over_50": False}, "or none"),
        # A measured collapse decides the category: 10% is "<50%" (2), not ">50%" (3).
        ({"collapse": "over_50", "collapse_percent": 10}, "fit under_50 "),
        ({"collapse": "under_50", "collapse_percent": 0}, "fit no_collapse_over_50_involved or none "),
        ({"collapse": "under_50", "collapse_percent": 50.5}, "fit over_50 "),
    ],
)
def test_a_collapse_category_contradicting_the_measured_facts_is_refused(
    lesion: dict[str, object], fits: str
) -> None:
    with pytest.raises(InvalidInputError, match=rf"collapse \w+ contradicts .*{fits}"):
        parse_patient({"lesions": [{"level": "T5", **lesion}]})


@pytest.mark.parametrize(
    "lesion",
    [
        {"collapse": "under_50", "collapse_percent": 50, "body_involvement_over_50": False},
        {"collapse": "no_collapse_over_50_involved", "collapse_percent": 0, "body_involvement_over_50": True},
        {"collapse": "none", "collapse_percent": 0, "body_involvement_over_50": False},
        {"collapse": "over_50", "collapse_percent": 80, "body_involvement_over_50": True},
    ],
)
def test_collapse_facts_that_agree_are_accepted(lesion: dict[str, object]) -> None:
    patient = parse_patient({"lesions": [{"level": "T5", **lesion}]})
    assert score("sins", patient).items[4].category == lesion["collapse"]


@pytest.mark.parametrize("percent", [0, 1e-7, 0.5, 10, 49.9, 50, 50.0000005, 50.5, 51, 99, 100])
def test_the_model_collapse_rule_agrees_with_the_sins_derivation(percent: float) -> None:
    derived = score("sins", {"collapse_percent": percent}).items[4].possible
    assert tuple(c.value for c in collapse_categories(percent, None)) == derived


@pytest.mark.parametrize(
    ("kps", "category", "points"),
    [
        (10, "poor", 0),
        (40, "poor", 0),
        (50, "moderate", 1),
        (70, "moderate", 1),
        (80, "good", 2),
        (100, "good", 2),
    ],
)
def test_kps_bins_of_tokuhashi(kps: int, category: str, points: int) -> None:
    item = score("tokuhashi_revised", {"kps": kps}).items[0]
    assert (item.category, item.points) == (category, points)


def test_the_derivation_text_of_the_issue_example_kps_60() -> None:
    assert score("tokuhashi_revised", {"kps": 60}).items[0].derivation == "KPS 60 % -> moderate (1)"


@pytest.mark.parametrize(
    ("ecog", "convention", "possible"),
    [
        (0, "oken1982", ("good",)),
        (1, "oken1982", ("moderate", "good")),  # KPS 70-80 straddles the 70/80 edge
        (2, "oken1982", ("moderate",)),
        (3, "oken1982", ("poor",)),
        (0, "alternative", ("good",)),
        (1, "alternative", ("good",)),  # KPS 80-90
        (2, "alternative", ("moderate",)),  # KPS 60-70
        (3, "alternative", ("poor", "moderate")),  # KPS 40-50
        (4, "alternative", ("poor",)),
    ],
)
def test_ecog_is_converted_by_the_named_convention(
    ecog: int, convention: str, possible: tuple[str, ...]
) -> None:
    r = score("tokuhashi_revised", {"ecog": ecog}, ecog_convention=convention)
    item = r.items[0]
    assert item.possible == possible
    assert r.options == {"ecog_convention": convention}
    expected_name = "Oken 1982" if convention == "oken1982" else "the alternative table"
    assert item.derivation is not None and expected_name in item.derivation


def test_performance_converts_kps_to_ecog_and_names_the_convention() -> None:
    r = score("performance", {"kps": 60})
    assert (r.grade, r.total) == ("2", 2)
    assert r.band is not None and "KPS 50-60" in r.band.meaning and "Oken 1982" in r.band.meaning
    alt = score("performance", {"kps": 60}, ecog_convention="alternative")
    assert alt.grade == "2" and alt.band is not None and "KPS 60-70" in alt.band.meaning
    assert score("performance", {"kps": 90}).grade == "0"
    assert score("performance", {"kps": 90}, ecog_convention="alternative").grade == "1"


@pytest.mark.parametrize(
    ("grade", "category"),
    [("A", "complete"), ("B", "complete"), ("C", "incomplete"), ("D", "incomplete"), ("E", "none")],
)
def test_frankel_and_asia_derive_tokuhashi_palsy(grade: str, category: str) -> None:
    by_frankel = score("tokuhashi_revised", {"frankel": grade}).items[5]
    by_asia = score("tokuhashi_revised", {"asia": grade.lower()}).items[5]
    assert by_frankel.category == by_asia.category == category
    assert (
        by_asia.derivation is not None
        and "ASIA grade substituted one-for-one for Frankel" in by_asia.derivation
    )


def test_frankel_score_gives_the_grade_and_its_published_meaning() -> None:
    r = score("frankel", {"asia": "C"})
    assert r.grade == "C" and r.band is not None and r.band.meaning.startswith("Motor useless")
    assert r.label() == "Frankel C (Frankel C)"


@pytest.mark.parametrize(
    ("primary", "points", "flagged"),
    [
        ("breast", 5, False),
        ("kidney", 3, False),
        ("rectum", 4, False),
        ("liver", 1, False),
        ("unknown_primary", 1, False),
        ("lung_sclc", 0, False),
        ("neuroendocrine", 5, True),  # scored as the listed carcinoid, with a caveat
        ("colorectal", 2, True),
        ("melanoma", 2, True),
        ("myeloma", 2, True),
    ],
)
def test_tokuhashi_primary_lookup_and_unlisted_flags(primary: str, points: int, flagged: bool) -> None:
    r = score("tokuhashi_revised", {"primary": primary})
    assert r.items[4].points == points
    assert bool(r.warnings) is flagged


def test_tomita_kidney_is_moderate_growth() -> None:
    item = score("tomita", {"primary": "kidney"}).items[0]
    assert (item.category, item.points, item.derivation) == ("moderate", 2, "primary kidney -> moderate (2)")


def test_tomita_unlisted_primary_stays_missing_with_a_flag_never_mapped() -> None:
    r = score("tomita", {"primary": "melanoma"})
    assert "primary_growth" in r.missing and r.items[0].possible == ("slow", "moderate", "rapid")
    assert any("melanoma is not classed by Tomita 2001" in w for w in r.warnings)


def test_bauer_lung_and_favourable_items_overlap_as_published() -> None:
    lung = score("bauer_modified", {"primary": "lung_nsclc"})
    breast = score("bauer_modified", {"primary": "breast"})
    prostate = score("bauer_modified", {"primary": "prostate"})
    pts = lambda r: (r.items[2].points, r.items[3].points)  # noqa: E731
    assert (pts(lung), pts(breast), pts(prostate)) == ((0, 0), (1, 1), (1, 0))


def test_bauer_plasmacytoma_favourable_flag_is_left_open() -> None:
    r = score("bauer_modified", {"primary": "plasmacytoma"})
    assert "favourable_primary" in r.missing and r.warnings


@pytest.mark.parametrize(
    ("value", "unit_input", "category"),
    [
        (3.5, "albumin_g_dl", "normal"),
        (3.49, "albumin_g_dl", "low"),
        (35, "albumin_g_l", "normal"),
        (34.9, "albumin_g_l", "low"),
        (3.4, "albumin", "low"),
        (4.0, "albumin", "normal"),
        (0.5, "albumin_g_dl", "low"),  # the ends of the plausible range (spinemets.model.units)
        (7.0, "albumin_g_dl", "normal"),
        (5, "albumin_g_l", "low"),
        (70, "albumin_g_l", "normal"),
    ],
)
def test_nesms_albumin_threshold_and_unit_conversion(value: float, unit_input: str, category: str) -> None:
    item = score("nesms", {unit_input: value}).items[2]
    assert item.category == category


def test_nesms_albumin_conversion_shows_the_factor() -> None:
    item = score("nesms", {"albumin_g_l": 35}).items[2]
    assert item.derivation == "albumin_g_l 35 g/L is 3.5 g/dL (g/L ÷ 10) -> normal (1)"


def test_nesms_walking_with_aid_is_left_open_and_flagged() -> None:
    r = score("nesms", {"ambulatory": "with_aid"})
    assert "ambulatory" in r.missing and any("walking with an aid" in w for w in r.warnings)


@pytest.mark.parametrize(
    ("items", "category", "lo_hi"),
    [
        ({"primary": "breast", "visceral_metastases": "none", "bone_metastases_count": 1}, "high", (2, 2)),
        (
            {"primary": "prostate", "visceral_metastases": "none", "bone_metastases": "multiple"},
            "low",
            (0, 0),
        ),
        ({"primary": "breast"}, None, (0, 2)),  # modified Bauer 2..4: high or low
        ({"primary": "lung_nsclc", "visceral_metastases": "treatable"}, "low", (0, 0)),  # at most 1
        ({"modified_bauer": 3}, "high", (2, 2)),
        ({"modified_bauer": "low"}, "low", (0, 0)),
    ],
)
def test_nesms_modified_bauer_is_a_subscore_of_the_same_inputs(
    items: dict[str, object], category: str | None, lo_hi: tuple[int, int]
) -> None:
    item = score("nesms", items).items[0]
    assert item.category == category and (item.min, item.max) == lo_hi


def test_escc_1c_grouping_is_an_option_named_in_the_result() -> None:
    low = score("escc", {"grade": "1c"})
    high = score("escc", {"grade": "1c"}, escc_1c="high")
    assert low.band is not None and low.band.key == "low_grade" and low.options == {"escc_1c": "low"}
    assert high.band is not None and high.band.key == "high_grade" and "1c grouped high" in high.version
    assert score("escc", {"escc": "2"}).band.key == "high_grade"  # type: ignore[union-attr]
    assert score("escc", {"grade": "1b"}, escc_1c="high").band.key == "low_grade"  # type: ignore[union-attr]


def test_escc_label_shows_the_grade() -> None:
    assert score("escc", {"grade": "1B"}).label() == "Bilsky ESCC 1b (low grade)"


def test_a_preexisting_deformity_is_not_de_novo_and_scores_normal_alignment() -> None:
    """SINS alignment scores a *de novo* deformity (Fisher 2010); reference sheet, SINS edge cases:
    a degenerative kyphosis/scoliosis that predates the tumour does not count."""
    from spinemets import Patient
    from spinemets.scores.catalogue import score_all

    lesion = {"level": "T12", "bone_lesion": "lytic", "collapse": "over_50", "posterolateral": "unilateral"}
    base = {"pain": {"type": "mechanical"}, "lesions": [lesion | {"alignment": "de_novo_deformity"}]}
    de_novo = score_all(Patient.model_validate(base))["sins"]
    assert (de_novo.total, de_novo.band.key if de_novo.band else None) == (14, "unstable")
    base["lesions"] = [lesion | {"alignment": "de_novo_deformity", "deformity_preexisting": True}]
    older = score_all(Patient.model_validate(base))["sins"]
    assert (older.total, older.band.key if older.band else None) == (12, "potentially_unstable")
    alignment = next(i for i in older.items if i.key == "alignment")
    assert alignment.category == "normal" and alignment.points == 0
    assert any("predating the tumour" in w for w in older.warnings)
    # calculator mode takes the same finding directly
    assert score("sins", {"alignment_finding": "preexisting_deformity"}).items[3].points == 0


def test_neuroendocrine_scored_as_carcinoid_carries_a_caveat() -> None:
    """Tokuhashi 2005 lists 'carcinoid tumour' (5) [S]; a high-grade neuroendocrine carcinoma is not one,
    so scoring `neuroendocrine` through that name must say so (docs/conflicts.md)."""
    r = score("tokuhashi_revised", {"primary": "neuroendocrine"})
    item = next(i for i in r.items if i.key == "primary_site")
    assert item.points == 5
    assert any("not a carcinoid" in w for w in r.warnings)
    assert not any("carcinoid" in w for w in score("tokuhashi_revised", {"primary": "breast"}).warnings)


def test_a_contradicting_collapse_category_is_named_at_its_field() -> None:
    """The refusal names lesions[i].collapse and the category (it read 'lesions[1] must be valid; got {...the
    whole lesion...}', and the web form's link pointed at no control), like the model's other checks."""
    with pytest.raises(InvalidInputError) as refused:
        parse_patient(
            {"lesions": [{"level": "T4"}, {"level": "T5", "collapse": "none", "collapse_percent": 30}]}
        )
    assert (refused.value.field, refused.value.value) == ("lesions[1].collapse", "none")
    assert "these fit under_50" in str(refused.value)
