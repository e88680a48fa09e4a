"""The catalogue and the patient path: score_all, worst lesion, options, extraction from the model."""

from __future__ import annotations

from typing import Any

import pytest

import spinemets
from spinemets.errors import InvalidInputError
from spinemets.scores import NOT_SUPPORTED, SCORES, SPECS, ScoreKind, score, score_all, score_lesions


def _patient(**parts: Any) -> spinemets.Patient:
    return spinemets.parse_patient(parts)


def test_score_keys_other_helpers_code_against() -> None:
    assert set(SCORES) == {
        "sins",
        "tokuhashi_revised",
        "tokuhashi_1990",
        "tomita",
        "bauer",
        "bauer_modified",
        "nesms",
        "escc",
        "performance",
        "frankel",
    }
    assert set(NOT_SUPPORTED) == {"katagiri_new", "rades_mscc", "osri"}
    assert SCORES["escc"].kind is ScoreKind.grade and SCORES["performance"].kind is ScoreKind.conversion


def test_example_patient_scores(example_patient: dict[str, Any]) -> None:
    p = spinemets.parse_patient(example_patient)
    got = {k: (r.total, r.band.key if r.band else None) for k, r in score_all(p).items()}
    # Worked by hand from the published tables:
    assert got["sins"] == (11, "potentially_unstable")  # T12 3 + mech 3 + lytic 2 + normal 0 + <50% 2 + uni 1
    assert got["tokuhashi_revised"] == (
        12,
        "over_1_year",
    )  # KPS70 1 + 2 foci 1 + 2 vert 1 + none 2 + breast 5 + E 2
    assert got["tokuhashi_1990"] == (9, "over_12_months")  # 1 + 1 + 1 + 2 + breast 2 + 2
    assert got["tomita"] == (3, "long_term_control")  # slow 1 + none 0 + multiple 2
    assert got["bauer"] == (4, "good")  # no fracture 1 + no visceral 1 + multiple 0 + not lung 1 + breast 1
    assert got["bauer_modified"] == (3, "middle_term_control")
    assert got["nesms"] == (3, "nesms_3")  # high 2 + independent 1 + albumin 3.8 g/dL 1 = 4, ceiling 3
    assert got["escc"] == (2, "low_grade") and score_all(p)["escc"].grade == "1b"
    assert got["performance"] == (1, "ecog_1")  # KPS 70 -> ECOG 1 (Oken 1982)
    assert got["frankel"] == (4, "e")


def test_sins_patient_result_is_the_most_unstable_lesion_with_its_level() -> None:
    p = _patient(
        pain={"type": "mechanical"},
        lesions=[
            {
                "level": "L3",
                "bone_lesion": "blastic",
                "collapse": "none",
                "alignment": "normal",
                "posterolateral": "none",
            },
            {
                "level": "T11-T12",
                "bone_lesion": "lytic",
                "collapse": "over_50",
                "alignment": "normal",
                "posterolateral": "bilateral",
            },
        ],
    )
    r = score("sins", p)
    assert r.subject == "T11-T12" and r.total == 3 + 3 + 2 + 0 + 3 + 3
    assert [x.subject for x in score_lesions(p)] == ["L3", "T11-T12"]


def test_worst_lesion_range_starts_at_the_highest_certain_lesion() -> None:
    # T5 is certainly ESCC 2 (rank 4): whatever L1 turns out to be, the patient is high grade.
    p = _patient(lesions=[{"level": "T5", "escc": "2"}, {"level": "L1"}])
    r = score("escc", p)
    assert r.subject == "L1" and (r.min, r.max) == (4, 5)
    assert r.band_determined and r.band is not None and r.band.key == "high_grade"
    assert any("T5 is certainly" in w and "at least 4" in w for w in r.warnings)


def test_worst_lesion_band_stays_open_when_the_floor_does_not_decide_it() -> None:
    # T5 certainly SINS 1 (semi-rigid, everything else benign); L1 has nothing recorded: 3..18.
    p = _patient(
        lesions=[
            {
                "level": "T5",
                "pain": "none",
                "bone_lesion": "blastic",
                "alignment": "normal",
                "collapse": "none",
                "posterolateral": "none",
            },
            {"level": "L1"},
        ]
    )
    r = score("sins", p)
    assert r.subject == "L1" and (r.min, r.max) == (3, 18) and not r.band_determined


def test_escc_patient_level_is_the_worst_grade_and_option_applies() -> None:
    p = _patient(lesions=[{"level": "T5", "escc": "1c"}, {"level": "L1", "escc": "1a"}])
    assert score("escc", p).grade == "1c" and score("escc", p).band.key == "low_grade"  # type: ignore[union-attr]
    high = score_all(p, escc_1c="high")["escc"]
    assert high.band is not None and high.band.key == "high_grade" and high.options == {"escc_1c": "high"}
    assert [r.grade for r in score_lesions(p, "escc")] == ["1c", "1a"]


def test_worst_lesion_decides_the_raised_range_with_the_option_bands() -> None:
    """A certain 1c lesion beside an ungraded one: grades 1c..3 (3..5). Under escc_1c=high every one of
    them is high grade, so the band is decided; under the default grouping 1c is low grade (Bilsky 2010
    groups 1c with 0-1b for radiotherapy decisions), so it is not."""
    p = _patient(lesions=[{"level": "T5", "escc": "1c"}, {"level": "L1"}])
    default = score("escc", p)
    assert (default.min, default.max) == (3, 5) and not default.band_determined
    high = score("escc", p, escc_1c="high")
    assert (high.min, high.max) == (3, 5)
    assert high.band_determined and high.band is not None and high.band.key == "high_grade"
    assert high.possible_bands == (high.band.label,)


def test_no_lesion_entered_gives_the_full_range() -> None:
    r = score("sins", _patient())
    assert (r.min, r.max, r.subject) == (0, 18, "no lesion entered")


def test_coccyx_lesion_leaves_sins_location_missing() -> None:
    r = score("sins", _patient(lesions=[{"level": "Co", "bone_lesion": "lytic"}]))
    assert "location" in r.missing and r.items[2].points == 2


def test_unknown_facts_stay_missing_never_defaulted() -> None:
    r = score("tokuhashi_revised", _patient(primary={"histology": "breast"}))
    assert r.total is None and set(r.missing) == {
        "general_condition",
        "extraspinal_bone_metastases",
        "vertebral_body_metastases",
        "major_organ_metastases",
        "palsy",
    }
    assert (r.min, r.max) == (5, 15)


def test_ecog_only_patient_uses_the_convention_option() -> None:
    p = _patient(performance={"ecog": 1})
    assert score("tokuhashi_revised", p).items[0].possible == ("moderate", "good")
    alt = score_all(p, ecog_convention="alternative")
    assert alt["tokuhashi_revised"].items[0].category == "good"
    assert alt["performance"].band is not None and "KPS 80-90" in alt["performance"].band.label


def test_asia_is_substituted_when_frankel_is_absent() -> None:
    r = score("tokuhashi_revised", _patient(neurology={"asia": "C"}))
    assert r.items[5].category == "incomplete" and "ASIA grade substituted" in (r.items[5].derivation or "")


@pytest.mark.parametrize(
    ("burden", "lesions", "expected"),
    [
        ({"extraspinal_bone_metastases": 0, "vertebrae_involved": 1}, 1, "solitary"),
        ({"extraspinal_bone_metastases": 1, "vertebrae_involved": 1}, 1, "multiple"),
        ({"extraspinal_bone_metastases": 0}, 2, "multiple"),  # two lesions entered: at least 2
        ({}, 1, None),  # one lesion, counts unknown: stays missing
        ({"vertebrae_involved": 1}, 1, None),  # extraspinal unknown: solitary not shown
    ],
)
def test_bone_metastasis_extent_from_the_patient(
    burden: dict[str, int], lesions: int, expected: str | None
) -> None:
    levels = ["T5", "L2"][:lesions]
    p = _patient(burden=burden, lesions=[{"level": lv} for lv in levels])
    assert score("tomita", p).items[2].category == expected
    assert score("bauer_modified", p).items[1].category == expected


def test_nesms_from_patient_converts_albumin_g_l_and_shows_it() -> None:
    p = _patient(labs={"albumin": {"value": 34, "unit": "g/L"}}, neurology={"ambulatory": "independent"})
    item = score("nesms", p).items[2]
    assert (
        item.category == "low" and item.derivation == "albumin_g_l 34 g/L is 3.4 g/dL (g/L ÷ 10) -> low (0)"
    )
    assert score("nesms", _patient(labs={"albumin": 3.6})).items[2].category == "normal"


def test_tokuhashi_vertebral_count_comes_from_vertebrae_involved() -> None:
    r = score("tokuhashi_revised", _patient(burden={"vertebrae_involved": 1}))
    assert r.items[2].category == "one"


def test_patient_dict_in_calculator_call_is_parsed() -> None:
    r = score("sins", {"lesions": [{"level": "T12"}], "pain": {"type": "mechanical"}})
    assert r.subject == "T12" and r.items[1].category == "mechanical"


def test_results_are_frozen_and_serialise_round_trip(example_patient: dict[str, Any]) -> None:
    r = score("nesms", spinemets.parse_patient(example_patient))
    with pytest.raises(Exception, match="frozen"):
        r.total = 1  # type: ignore[misc]
    again = type(r).model_validate_json(r.model_dump_json())
    assert again == r and again.citation[0].id == "ghori2015"


def test_specs_and_scores_agree() -> None:
    assert all(SPECS[k].definition is d for k, d in SCORES.items())


def test_entered_lesions_are_a_lower_bound_for_the_vertebral_count() -> None:
    three = _patient(lesions=[{"level": "T4-T5"}, {"level": "L2"}])
    assert score("tokuhashi_revised", three).items[2].category == "three_or_more"
    two = _patient(lesions=[{"level": "T4-T5"}])
    assert score("tokuhashi_revised", two).items[2].category is None
    # A recorded count below the levels entered is no longer corrected silently: the input is refused
    # with the field, the value and the minimum (tests/model: vertebral-count contradiction).
    with pytest.raises(InvalidInputError, match=r"burden\.vertebrae_involved must be at least 2"):
        _patient(lesions=[{"level": "T4-T5"}], burden={"vertebrae_involved": 1})


def test_overlapping_lesions_are_not_counted_twice_as_vertebrae() -> None:
    # three lesion entries at T12 are one vertebra: Tokuhashi's vertebral item stays unknown, and
    # T11-T12 with T12-L1 cover three vertebrae, not four
    same = _patient(lesions=[{"level": "T12"}, {"level": "T12"}, {"level": "T12"}])
    assert score("tokuhashi_revised", same).items[2].category is None
    overlap = _patient(lesions=[{"level": "T11-T12"}, {"level": "T12-L1"}])
    assert score("tokuhashi_revised", overlap).items[2].category == "three_or_more"
    two = _patient(lesions=[{"level": "T12-L1"}, {"level": "L1"}])
    assert score("tokuhashi_revised", two).items[2].category is None


@pytest.mark.parametrize("key", ["tomita", "bauer", "performance", "frankel", "tokuhashi_revised"])
def test_recalled_definitions_say_so_in_their_notes(key: str) -> None:
    """reference/scores.md tags these tables or bands [K] (recalled, not checked against the primary
    paper): Tomita 2001 points and bands; Bauer 1995 groups 0-1 / 2-3 / 4-5 (the abstract, PubMed
    7740944, names three groups but not their cut-offs); both KPS<->ECOG tables; Frankel 1969 wording;
    Tokuhashi 2005's recommended treatment per band ([S: src-nsnotes-prog, K]).
    Every result and docs/scores.md carry the notes, so the mark must be there."""
    assert any("[K]" in note for note in SCORES[key].notes)
