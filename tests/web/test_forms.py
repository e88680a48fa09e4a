"""The form <-> patient translation: lossless for a full patient, blanks stay unknown, errors name the field."""

from __future__ import annotations

from typing import Any

import pytest

import spinemets
from spinemets.errors import InvalidInputError
from spinemets.model.patient import Lesion, Patient
from spinemets.web import forms, links


def test_every_model_field_has_a_control() -> None:
    names = {f.name for f in forms.patient_fields()}
    placed = {f.name for s in forms.sections() for f in s.fields}
    assert names == placed
    assert "performance.kps" in names and "nodes.inguinal_lymphadenopathy" in names
    assert {f.name for f in forms.lesion_fields()} >= {
        "level",
        "bone_lesion",
        "escc",
        "prior_radiotherapy.dose_gy",
    }
    assert set(Patient.model_fields) - {"lesions"} <= {n.split(".")[0] for n in names}
    assert set(Lesion.model_fields) == {n.split(".")[0] for n in (f.name for f in forms.lesion_fields())}


def test_round_trip_of_the_breast_example_is_lossless(breast_patient: dict[str, Any]) -> None:
    values = forms.patient_to_form(breast_patient)
    assert values["primary.hormone_dependent"] == ["yes"]
    assert values["neurology.myelopathy"] == ["no"]
    assert values["labs.albumin.value"] == ["38"] and values["labs.albumin.unit"] == ["g/L"]
    back = forms.form_to_patient(values)
    assert spinemets.parse_patient(back) == spinemets.parse_patient(breast_patient)


def test_blank_controls_stay_unknown_and_blank_lesion_rows_are_dropped() -> None:
    form = {
        "performance.kps": [""],
        "neurology.myelopathy": [""],
        "symptoms": [],
        "lesions.0.level": [""],
        "lesions.0.bone_lesion": [""],
        "lesions.3.level": ["T12"],
        "csrf_token": ["x"],
    }
    assert forms.form_to_patient(form) == {"lesions": [{"level": "T12"}]}


def test_a_lesion_with_findings_but_no_level_is_reported_not_dropped() -> None:
    patient = forms.form_to_patient({"lesions.0.bone_lesion": ["lytic"]})
    with pytest.raises(InvalidInputError, match=r"lesions\[0\]\.level") as info:
        spinemets.parse_patient(patient)
    assert forms.form_name(info.value.field) == "lesions.0.level"


def test_text_in_a_number_field_reaches_the_validator_with_its_value() -> None:
    patient = forms.form_to_patient({"performance.kps": ["seventy"], "age_years": ["58.0"]})
    assert patient == {"performance": {"kps": "seventy"}, "age_years": 58}
    with pytest.raises(InvalidInputError, match="seventy"):
        spinemets.parse_patient(patient)


def test_bool_controls_are_tri_state() -> None:
    assert forms.form_to_patient({"context.mri_done": ["yes"]}) == {"context": {"mri_done": True}}
    assert forms.form_to_patient({"context.mri_done": ["no"]}) == {"context": {"mri_done": False}}
    assert forms.form_to_patient({"context.mri_done": [""]}) == {}


def test_level_feeds_every_item_derived_from_a_level() -> None:
    """The probe finds the catalogue's own derivations: every item derived from 'level' is linked."""
    derived = {
        (key, item.key)
        for key, d in spinemets.SCORES.items()
        for item in d.items
        for deriv in item.derivations
        if deriv.input == "level"
    }
    linked = {(s, r.item) for r in links.lesion_links()["level"] for s in r.scores}
    assert derived and derived <= linked
    kps = {(s, r.item) for r in links.patient_links()["performance.kps"] for s in r.scores}
    assert ("tokuhashi_revised", "general_condition") in kps
