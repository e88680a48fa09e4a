"""Failure tables: every invalid input class raises InvalidInputError naming field, value and allowed."""

from __future__ import annotations

from typing import Any

import pytest

import spinemets
from spinemets.errors import InvalidInputError, UnknownScoreError
from spinemets.scores import Bins, Subscore, score, score_all


def _numeric_inputs() -> list[tuple[str, str]]:
    """(score, input) for every input of every score that is read as a number."""
    return sorted(
        {
            (key, d.input)
            for key, definition in spinemets.SCORES.items()
            for item in definition.items
            for d in item.derivations
            if isinstance(d, Bins | Subscore)
        }
    )


NOT_FINITE = [
    pytest.param(float("inf"), id="inf"),
    pytest.param(float("-inf"), id="-inf"),
    pytest.param(float("nan"), id="nan"),
    pytest.param("inf", id="'inf'"),
    pytest.param("nan", id="'nan'"),
    pytest.param("1e400", id="'1e400'"),
    pytest.param(10**400, id="10**400"),
]


@pytest.mark.parametrize(("name", "field"), _numeric_inputs())
@pytest.mark.parametrize("value", NOT_FINITE)
def test_a_number_that_is_not_finite_names_the_field(name: str, field: str, value: Any) -> None:
    """Infinity, NaN and integers beyond float's range are refused like any other wrong number
    (an int() of them raised OverflowError/ValueError: a 500 in the API, a crash in the CLI)."""
    with pytest.raises(InvalidInputError, match=rf"^{name}\.{field} must be .+; got "):
        score(name, {field: value})


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("sins", {"pain": "severe"}, r"sins\.pain must be one of mechanical, occasional, none; got 'severe'"),
    (
        "sins",
        {"level": "Co"},
        r"sins\.level must be a spinal level or span from occiput \(C0\) to S5.*coccyx.*got 'Co'",
    ),
    ("sins", {"level": "T13"}, r"sins\.level must be .*got 'T13'"),
    ("sins", {"level": "T12-T11"}, r"sins\.level must be .*got 'T12-T11'"),
    ("sins", {"collapse_percent": 120}, r"sins\.collapse_percent must be a collapse of 0-100 % .*got 120"),
    ("sins", {"collapse_percent": "half"}, r"sins\.collapse_percent must be .*got 'half'"),
    ("sins", {"kps": 60}, r"sins\.kps must be an input of this score: location, pain, .*level.*got 60"),
    (
        "tokuhashi_revised",
        {"kps": 65},
        r"tokuhashi_revised\.kps must be a Karnofsky score from 10 to 100 % "
        r"in steps of 10; got 65",
    ),
    ("tokuhashi_revised", {"kps": 0}, r"tokuhashi_revised\.kps must be a Karnofsky score .*got 0"),
    ("tokuhashi_revised", {"ecog": 5}, r"tokuhashi_revised\.ecog must be an ECOG grade 0-4; got 5"),
    (
        "tokuhashi_revised",
        {"frankel": "F"},
        r"tokuhashi_revised\.frankel must be a Frankel grade A-E; got 'F'",
    ),
    (
        "tokuhashi_revised",
        {"asia": "X"},
        r"tokuhashi_revised\.asia must be an ASIA Impairment Scale grade A-E",
    ),
    (
        "tokuhashi_revised",
        {"primary": "spleen"},
        r"tokuhashi_revised\.primary must be a primary from the "
        r"histology list: lung_nsclc, .*; got 'spleen'",
    ),
    (
        "tokuhashi_revised",
        {"extraspinal_bone_metastases": -1},
        r"extraspinal_bone_metastases must be a count of foci",
    ),
    (
        "tokuhashi_revised",
        {"vertebral_body_metastases": 0},
        r"vertebral_body_metastases must be a count of "
        r"vertebrae, at least 1",
    ),
    (
        "tokuhashi_revised",
        {"vertebral_body_metastases": 1.5},
        r"vertebral_body_metastases must be .*got 1\.5",
    ),
    (
        "tokuhashi_revised",
        {"ecog": 1, "ecog_convention": "mine"},
        r"tokuhashi_revised\.ecog_convention must be "
        r"one of oken1982, alternative; got 'mine'",
    ),
    (
        "tomita",
        {"visceral_metastases": "some"},
        r"tomita\.visceral_metastases must be one of none, treatable, "
        r"untreatable; got 'some'",
    ),
    (
        "tomita",
        {"bone_metastases_count": 0},
        r"tomita\.bone_metastases_count must be a count of bone metastases "
        r"including the spine, at least 1; got 0",
    ),
    ("nesms", {"albumin": "high"}, r"nesms\.albumin must be normal, low, or a serum albumin in g/dL"),
    ("nesms", {"albumin_g_l": -3}, r"nesms\.albumin_g_l must be a serum albumin in g/L"),
    # a plausibility guard against unit mix-ups (spinemets.model.units), not a clinical threshold
    (
        "nesms",
        {"albumin_g_dl": 35},
        r"nesms\.albumin_g_dl must be a serum albumin in g/dL, plausible 0\.5-7 g/dL \(5-70 g/L\); got 35 "
        r"\(35 g/dL is outside the plausible 0\.5-7 g/dL; as g/L it would be 3\.5 g/dL",
    ),
    (
        "nesms",
        {"albumin_g_l": 3.5},
        r"nesms\.albumin_g_l must be a serum albumin in g/L, plausible 0\.5-7 g/dL \(5-70 g/L\); got 3\.5 "
        r"\(0\.35 g/dL is outside the plausible",
    ),
    ("nesms", {"albumin_g_l": 350}, r"nesms\.albumin_g_l must be .*; got 350 \(35 g/dL is outside"),
    ("nesms", {"albumin": 35}, r"nesms\.albumin must be normal, low, or a serum albumin in g/dL .*; got 35"),
    ("nesms", {"albumin_g_dl": 7.01}, r"nesms\.albumin_g_dl must be .*; got 7\.01"),
    ("nesms", {"albumin_g_l": 4.9}, r"nesms\.albumin_g_l must be .*; got 4\.9"),
    (
        "nesms",
        {"modified_bauer": 7},
        r"nesms\.modified_bauer must be a modified Bauer total 0-4, or high / low; got 7",
    ),
    ("nesms", {"ambulatory": "crawls"}, r"nesms\.ambulatory must be independent, with_aid or non_ambulatory"),
    ("escc", {"grade": "4"}, r"escc\.grade must be one of 0, 1a, 1b, 1c, 2, 3; got '4'"),
    ("escc", {"grade": "2", "escc_1c": "middle"}, r"escc\.escc_1c must be one of low, high; got 'middle'"),
    (
        "performance",
        {"kps": 55},
        r"performance\.kps must be a Karnofsky score from 0 to 100 % in steps of 10",
    ),
    ("bauer", {"pathological_fracture": "maybe"}, r"bauer\.pathological_fracture must be present or absent"),
    ("frankel", {"grade": "G"}, r"frankel\.grade must be one of A, B, C, D, E; got 'G'"),
]


@pytest.mark.parametrize(("name", "items", "message"), CASES)
def test_invalid_input_names_field_value_and_allowed(name: str, items: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        score(name, items)


def test_unknown_score_lists_the_catalogue() -> None:
    with pytest.raises(
        UnknownScoreError, match=r"score must be one of bauer, bauer_modified, escc, .*; got 'sinss'"
    ):
        score("sinss", {})


@pytest.mark.parametrize("name", ["katagiri_new", "rades_mscc", "osri"])
def test_unsupported_scores_say_why(name: str) -> None:
    with pytest.raises(UnknownScoreError, match=rf"{name} is not supported yet: "):
        score(name, {})


def test_items_must_be_a_mapping_or_patient() -> None:
    with pytest.raises(
        InvalidInputError, match=r"items must be a mapping of item -> value, or a Patient; got 'list'"
    ):
        score("sins", ["pain"])  # type: ignore[arg-type]


def test_bool_is_not_a_count() -> None:
    with pytest.raises(InvalidInputError, match=r"extraspinal_bone_metastases must be a count of foci"):
        score("tokuhashi_revised", {"extraspinal_bone_metastases": True})


def test_score_all_rejects_unknown_options(example_patient: dict[str, Any]) -> None:
    with pytest.raises(
        InvalidInputError, match=r"options\.ecog_conversion must be one of ecog_convention, escc_1c"
    ):
        score_all(spinemets.parse_patient(example_patient), ecog_conversion="oken1982")


def test_patient_with_bad_field_is_rejected_with_its_path() -> None:
    with pytest.raises(InvalidInputError, match=r"lesions\[0\]\.level must be a level from occiput"):
        score("sins", {"lesions": [{"level": "X9"}]})


def test_keywords_with_a_patient_must_be_options(example_patient: dict[str, Any]) -> None:
    p = spinemets.parse_patient(example_patient)
    with pytest.raises(
        InvalidInputError, match=r"sins\.pain must be absent \(this score has no options\); got 'none'"
    ):
        score("sins", p, pain="none")
    assert score("tokuhashi_revised", p, ecog_convention="alternative").options == {
        "ecog_convention": "alternative"
    }


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"albumin": 35}, "as g/L it would be 3.5 g/dL: was the unit g/L? give albumin_g_l=35"),
        ({"albumin_g_dl": 40}, "as g/L it would be 4 g/dL: was the unit g/L? give albumin_g_l=40"),
        ({"albumin_g_l": 3.5}, "as g/dL it would be 3.5 g/dL: was the unit g/dL? give albumin_g_dl=3.5"),
        ({"albumin": 900}, "900 g/dL is outside the plausible 0.5-7 g/dL: check the value and its unit"),
    ],
)
def test_calculator_albumin_refusal_names_the_probable_unit_mix_up(
    inputs: dict[str, float], expected: str
) -> None:
    """docs/conflicts.md: the probable mix-up is named in calculator mode as in the patient model
    (a data-entry guard, spinemets.model.units.ALBUMIN_PLAUSIBLE_G_DL)."""
    with pytest.raises(InvalidInputError) as refused:
        spinemets.score("nesms", inputs)
    assert expected in str(refused.value)
