"""FHIR R4 Bundle -> patient model: the seed patients, round trips, and every way input can be wrong."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spinemets import parse_patient
from spinemets.errors import InvalidInputError
from spinemets.interop import codes as c
from spinemets.interop.fhir import bundle_to_patient, map_bundle, patient_to_bundle
from spinemets.model import enums
from spinemets.model.patient import Quantity
from tests.conftest import EXAMPLES

SUBJ = {"reference": "Patient/p1"}


def bundle_of(*resources: dict[str, Any], with_patient: bool = True) -> dict[str, Any]:
    items = ([{"resourceType": "Patient", "id": "p1"}] if with_patient else []) + list(resources)
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in items]}


def obs(
    code: str, value: dict[str, Any], system: str = c.LOCAL, rid: str = "o1", **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": SUBJ,
        **value,
        **extra,
    }


def level(code: str) -> dict[str, Any]:
    return {"bodySite": {"coding": [{"system": c.LEVEL_SYSTEM, "code": code}]}}


# --- the seed patients -----------------------------------------------------------------------------------


def test_breast_t12_bundle_reads_as_the_example_patient(breast_bundle: dict[str, Any]) -> None:
    """The hand-coded EHR bundle (birthDate, SNOMED CT primary, LOINC KPS/albumin/receptors, ATC letrozole,
    SNOMED CT chemotherapy procedure) is exactly the patient of examples/breast_t12_mechanical.json."""
    expected = parse_patient(json.loads((EXAMPLES / "breast_t12_mechanical.json").read_text()))
    assert bundle_to_patient(breast_bundle) == expected


def test_breast_t12_bundle_takes_age_from_birth_date_at_the_bundle_timestamp(
    breast_bundle: dict[str, Any],
) -> None:
    patient = bundle_to_patient(breast_bundle)
    assert patient.assessment_date == dt.date(2026, 11, 20)
    assert patient.age_years == 58  # born 1968-05-02
    assert bundle_to_patient(breast_bundle, assessment_date=dt.date(2026, 5, 1)).age_years == 57


def test_unknown_primary_bundle_maps_icd10_snomed_loinc_atc_and_local_codes(
    cup_bundle: dict[str, Any],
) -> None:
    mapping = map_bundle(cup_bundle)
    p = mapping.patient
    assert mapping.ignored == ()
    assert mapping.subject == "Patient/cup-002"
    assert p.primary.histology is enums.Histology.unknown_primary  # ICD-10 C80.0
    assert p.primary.diagnosis_date == dt.date(2026, 11, 16)
    assert [str(lesion.level) for lesion in p.lesions] == ["T9", "L2"]  # cranio-caudal order
    assert p.lesions[0].escc is enums.EsccGrade.g2
    assert p.lesions[1].bone_lesion is None  # L2 known only from the C79.5 condition: facts stay missing
    assert p.nodes.inguinal_lymphadenopathy is True
    assert p.performance.ecog == 2 and p.performance.kps is None
    assert p.labs.albumin == Quantity(value=31.0, unit="g/L")
    assert p.context.known_cancer is True
    assert p.context.on_corticosteroids is True  # dexamethasone, ATC H02AB02, active
    assert p.symptoms == [
        enums.AlarmSymptom.limb_weakness,
        enums.AlarmSymptom.new_or_increasing_back_or_neck_pain,
    ]
    assert p.sex == "male" and p.age_years == 67


# --- round trips -----------------------------------------------------------------------------------------------


def _value_for(spec: c.FieldSpec, i: int) -> Any:
    if spec.kind == "bool":
        return i % 2 == 0
    if spec.kind == "enum":
        return spec.enum[i % len(spec.enum)]
    if spec.kind == "date":
        return "2025-06-01"
    if spec.kind == "int":
        return 1
    return 2.5


def _every_local_field_patient() -> dict[str, Any]:
    data: dict[str, Any] = {"patient_id": "all-fields", "lesions": [{"level": "T11-T12"}]}
    for i, (code, spec) in enumerate(c.local_fields().items()):
        value = _value_for(spec, i)
        if code in ("symptoms", "other_symptoms"):
            data[code] = [value]
        elif spec.is_lesion:
            data["lesions"][0][code.removeprefix("lesion.")] = value
        elif "." in code:
            section, name = code.split(".")
            data.setdefault(section, {})[name] = value
        else:
            data[code] = value
    data["performance"] = {"kps": 60, "ecog": 2}
    data["age_years"] = 61  # old enough for the dated events below; a one-year-old's would predate birth
    data["pain"]["severity_nrs"] = 6
    data["context"]["known_cancer"] = True  # a recorded primary says so; False would be a conflict
    data["burden"]["vertebrae_involved"] = 2  # T11-T12 covers two vertebrae; fewer would be a conflict
    # a measured collapse between 0 and 50% is "under_50"; any other category would be a conflict
    assert 0 < data["lesions"][0]["collapse_percent"] <= 50
    data["lesions"][0]["collapse"] = "under_50"
    # treatable and removable: "none" beside brain metastases or a removable answer would be a conflict
    data["burden"].update({"visceral_metastases": "treatable", "visceral_metastases_removable": True})
    data["labs"].update(
        {"albumin": {"value": 3.2, "unit": "g/dL"}, "platelets_per_ul": 150000.0, "psa_ng_ml": 4.0}
    )
    data["primary"].update({"histology": "other", "histology_other": "adenoid cystic carcinoma"})
    data["primary"].update({"oestrogen_receptor": "negative", "her2": "positive"})
    data["lesions"][0]["prior_radiotherapy"] = {
        "dose_gy": 20.0,
        "fractions": 5,
        "date": "2024-02-01",
        "technique": "cebrt",
    }
    return data


@pytest.mark.parametrize(
    "source",
    [
        "examples/breast_t12_mechanical.json",
        "every local field",
    ],
)
def test_patient_to_bundle_round_trips(source: str) -> None:
    if source == "every local field":
        patient = parse_patient(_every_local_field_patient())
    else:
        patient = parse_patient(json.loads((EXAMPLES / source.split("/")[-1]).read_text()))
    bundle = patient_to_bundle(patient)
    again = json.loads(json.dumps(bundle))  # through JSON, as over the wire
    mapping = map_bundle(again)
    assert mapping.ignored == ()
    assert mapping.patient.model_dump(exclude={"assessment_date"}) == patient.model_dump(
        exclude={"assessment_date"}
    )


def test_every_local_code_is_exercised_by_the_round_trip() -> None:
    bundle = patient_to_bundle(parse_patient(_every_local_field_patient()))
    sent = {
        cd["code"]
        for e in bundle["entry"]
        for cd in (e["resource"].get("code") or {}).get("coding", [])
        if cd["system"] == c.LOCAL
    }
    assert sent == set(c.local_fields())


# --- agreements and conflicts ------------------------------------------------------------------------------------


def test_conflicting_dated_observations_use_the_most_recent() -> None:
    older = obs("89247-1", {"valueInteger": 1}, c.LOINC, "e1", effectiveDateTime="2026-01-01")
    newer = obs("89247-1", {"valueInteger": 3}, c.LOINC, "e2", effectiveDateTime="2026-10-01")
    assert bundle_to_patient(bundle_of(older, newer)).performance.ecog == 3


def test_conflicting_undated_observations_are_an_error_naming_both() -> None:
    a = obs("89247-1", {"valueInteger": 1}, c.LOINC, "e1")
    b = obs("89247-1", {"valueInteger": 3}, c.LOINC, "e2")
    with pytest.raises(InvalidInputError, match=r"performance\.ecog.*Observation/e1.*Observation/e2"):
        bundle_to_patient(bundle_of(a, b))


# One observation kind each (integer score, quantity, boolean, coded answer, receptor, date, lesion fact):
# two different values on the same date must never be settled by the Bundle's order.
SAME_DATE_KINDS: list[tuple[str, str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("kps", "89243-0", c.LOINC, {"valueInteger": 70}, {"valueInteger": 50}, {}),
    ("ecog", "89247-1", c.LOINC, {"valueInteger": 1}, {"valueInteger": 3}, {}),
    (
        "albumin",
        "1751-7",
        c.LOINC,
        {"valueQuantity": {"value": 3.9, "system": c.UCUM, "code": "g/dL"}},
        {"valueQuantity": {"value": 3.1, "system": c.UCUM, "code": "g/dL"}},
        {},
    ),
    (
        "crp",
        "1988-5",
        c.LOINC,
        {"valueQuantity": {"value": 0.2, "system": c.UCUM, "code": "mg/dL"}},
        {"valueQuantity": {"value": 2.0, "system": c.UCUM, "code": "mg/dL"}},
        {},
    ),
    ("boolean", "neurology.myelopathy", c.LOCAL, {"valueBoolean": True}, {"valueBoolean": False}, {}),
    (
        "coded answer",
        "neurology.ambulatory",
        c.LOCAL,
        {"valueCodeableConcept": {"coding": [{"system": c.LOCAL, "code": "independent"}]}},
        {"valueCodeableConcept": {"coding": [{"system": c.LOCAL, "code": "non_ambulatory"}]}},
        {},
    ),
    (
        "receptor",
        "85337-4",
        c.LOINC,
        {"valueCodeableConcept": {"coding": [{"system": c.LOINC, "code": "LA6576-8"}]}},
        {"valueCodeableConcept": {"coding": [{"system": c.LOINC, "code": "LA6577-6"}]}},
        {},
    ),
    (
        "date",
        "context.treatment_date",
        c.LOCAL,
        {"valueDateTime": "2026-10-01"},
        {"valueDateTime": "2026-10-15"},
        {},
    ),
    (
        "lesion fact",
        "lesion.escc",
        c.LOCAL,
        {"valueCodeableConcept": {"coding": [{"system": c.LOCAL, "code": "1a"}]}},
        {"valueCodeableConcept": {"coding": [{"system": c.LOCAL, "code": "2"}]}},
        level("T12"),
    ),
]


@pytest.mark.parametrize(
    ("code", "system", "first", "second", "extra"),
    [case[1:] for case in SAME_DATE_KINDS],
    ids=[case[0] for case in SAME_DATE_KINDS],
)
@pytest.mark.parametrize("order", ["as given", "swapped"])
def test_different_values_on_the_same_date_are_refused_in_either_order(
    code: str, system: str, first: dict[str, Any], second: dict[str, Any], extra: dict[str, Any], order: str
) -> None:
    """docs/fhir.md: different values go to the most recent one; on the same date none is the most
    recent, so the Bundle is refused naming both resources, their values and the date."""
    a = obs(code, first, system, "a", effectiveDateTime="2026-11-01", **extra)
    b = obs(code, second, system, "b", effectiveDateTime="2026-11-01", **extra)
    pair = (a, b) if order == "as given" else (b, a)
    with pytest.raises(InvalidInputError, match=r"one value per date") as info:
        bundle_to_patient(bundle_of(*pair))
    message = str(info.value)
    assert "Observation/a" in message and "Observation/b" in message
    assert message.count("on 2026-11-01") == 2


def test_same_date_conflict_over_http_names_both_observations(client: TestClient) -> None:
    """The tester's case: KPS 70 and 50 both on 2026-11-01 gave 'KPS 70 %' or 'KPS 50 %' by entry order."""
    a = obs("89243-0", {"valueInteger": 70}, c.LOINC, "kps-a", effectiveDateTime="2026-11-01")
    b = obs("89243-0", {"valueInteger": 50}, c.LOINC, "kps-b", effectiveDateTime="2026-11-01")
    for pair in ((a, b), (b, a)):
        response = client.post("/fhir/$assess", json=bundle_of(*pair))
        assert response.status_code == 422, response.text
        (issue,) = response.json()["issue"]
        assert "expression" not in issue  # a model field, no element of the Bundle: named in diagnostics
        assert issue["diagnostics"].startswith("performance.kps must be")
        for part in (
            "Observation/kps-a.valueInteger = 70 on 2026-11-01",
            "Observation/kps-b.valueInteger = 50",
        ):
            assert part in issue["diagnostics"]


def test_equal_values_on_the_same_date_are_duplicates() -> None:
    a = obs("89243-0", {"valueInteger": 70}, c.LOINC, "a", effectiveDateTime="2026-11-01")
    b = obs("89243-0", {"valueInteger": 70}, c.LOINC, "b", effectiveDateTime="2026-11-01")
    assert bundle_to_patient(bundle_of(a, b)).performance.kps == 70


def test_a_day_and_a_time_on_that_day_cannot_be_ordered() -> None:
    """'2026-11-01' may mean any time that day, so it is neither before nor after 10:00 that day."""
    day = obs("89243-0", {"valueInteger": 70}, c.LOINC, "day", effectiveDateTime="2026-11-01")
    timed = obs("89243-0", {"valueInteger": 50}, c.LOINC, "timed", effectiveDateTime="2026-11-01T10:00:00Z")
    with pytest.raises(InvalidInputError, match=r"Observation/timed.*2026-11-01T10:00:00Z.*Observation/day"):
        bundle_to_patient(bundle_of(day, timed))


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("2026-11-01T08:00:00Z", "2026-11-01T10:00:00Z", 50),
        ("2026-11-01", "2026-11-02", 50),
        ("2026-10", "2026-11-01", 50),
        ("2026-11-01T10:00:00Z", "2026-11-01", None),
        ("2026-11", "2026-11-30", None),
    ],
)
def test_the_most_recent_value_is_used_only_when_certainly_later(
    first: str, second: str, expected: int | None
) -> None:
    older = obs("89243-0", {"valueInteger": 70}, c.LOINC, "o1", effectiveDateTime=first)
    newer = obs("89243-0", {"valueInteger": 50}, c.LOINC, "o2", effectiveDateTime=second)
    for pair in ((older, newer), (newer, older)):
        if expected is None:
            with pytest.raises(InvalidInputError, match="one value per date"):
                bundle_to_patient(bundle_of(*pair))
        else:
            assert bundle_to_patient(bundle_of(*pair)).performance.kps == expected


def test_medication_summary_and_statement_must_agree() -> None:
    says_no = obs("context.on_corticosteroids", {"valueBoolean": False})
    dexa = {
        "resourceType": "MedicationStatement",
        "id": "m1",
        "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": c.ATC, "code": "H02AB02"}]},
        "subject": SUBJ,
    }
    with pytest.raises(InvalidInputError, match=r"context\.on_corticosteroids"):
        bundle_to_patient(bundle_of(says_no, dexa))
    stopped = {**dexa, "status": "completed"}
    assert bundle_to_patient(bundle_of(says_no, stopped)).context.on_corticosteroids is False


def test_platelets_in_thousands_per_microlitre_are_converted() -> None:
    q = {"valueQuantity": {"value": 180, "system": c.UCUM, "code": "10*3/uL"}}
    assert bundle_to_patient(bundle_of(obs("777-3", q, c.LOINC))).labs.platelets_per_ul == 180000.0


@pytest.mark.parametrize(
    ("code", "unit", "value", "expected"),
    [
        ("1751-7", "g/dl", 3.5, Quantity(value=3.5, unit="g/dL")),  # the same unit, spelled otherwise
        ("1751-7", "g/L", 38, Quantity(value=38, unit="g/L")),
        ("777-3", "/mm3", 180000, 180000.0),  # read with the same factor as /uL
        ("777-3", "10^3/µL", 180, 180000.0),
        ("2532-0", "IU/L", 300, 300.0),  # U/L and [IU]/L are both read as they are
        ("89243-0", "%", 70, 70),
    ],
)
def test_quantity_unit_text_that_agrees_with_its_code_is_accepted(
    code: str, unit: str, value: float, expected: object
) -> None:
    units = {"1751-7": "g/dL" if unit == "g/dl" else "g/L", "777-3": "/uL", "2532-0": "U/L", "89243-0": "%"}
    if code == "777-3" and unit.startswith("10"):
        units[code] = "10*3/uL"
    q = {"valueQuantity": {"value": value, "unit": unit, "system": c.UCUM, "code": units[code]}}
    patient = bundle_to_patient(bundle_of(obs(code, q, c.LOINC)))
    got = {
        "1751-7": patient.labs.albumin,
        "777-3": patient.labs.platelets_per_ul,
        "2532-0": patient.labs.ldh_iu_l,
        "89243-0": patient.performance.kps,
    }[code]
    assert got == expected


def test_radiotherapy_procedure_goes_to_the_lesion_at_its_level() -> None:
    proc = {
        "resourceType": "Procedure",
        "id": "rt1",
        "status": "completed",
        "code": {"coding": [{"system": c.SNOMED, "code": "108290001"}]},
        "subject": SUBJ,
        "performedDateTime": "2025-03-04",
        "bodySite": [{"coding": [{"system": c.LEVEL_SYSTEM, "code": "L1"}]}],
        "extension": [
            {"url": c.EXT_RT_DOSE, "valueQuantity": {"value": 8, "system": c.UCUM, "code": "Gy"}},
            {"url": c.EXT_RT_FRACTIONS, "valueInteger": 1},
        ],
    }
    lesion = bundle_to_patient(bundle_of(proc)).lesions[0]
    assert str(lesion.level) == "L1"
    assert lesion.prior_radiotherapy is not None
    assert (lesion.prior_radiotherapy.dose_gy, lesion.prior_radiotherapy.fractions) == (8.0, 1)
    assert lesion.prior_radiotherapy.date == dt.date(2025, 3, 4)


def test_entered_in_error_and_absent_values_are_reported_not_used() -> None:
    wrong = obs("89247-1", {"valueInteger": 4}, c.LOINC, "bad", status="entered-in-error")
    absent = obs("89243-0", {"dataAbsentReason": {"coding": [{"code": "asked-unknown"}]}}, c.LOINC, "none")
    mapping = map_bundle(bundle_of(wrong, absent))
    assert mapping.patient.performance.ecog is None and mapping.patient.performance.kps is None
    assert {i.resource for i in mapping.ignored} == {"Observation/bad", "Observation/none"}


def condition(code: str, system: str = c.SNOMED, rid: str = "c1", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": rid,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": SUBJ,
        **extra,
    }


def status(kind: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": f"http://terminology.hl7.org/CodeSystem/condition-{kind}", "code": code}]}


@pytest.mark.parametrize("verification", ["unconfirmed", "provisional", "differential"])
def test_an_unconfirmed_diagnosis_is_reported_not_used(verification: str) -> None:
    """FHIR R4 condition-ver-status: unconfirmed (and its provisional and differential) is "not
    sufficient ... evidence to treat this as a confirmed condition": a breast cancer that is one of
    the differential diagnoses is not the patient's primary, for the scores or for known cancer."""
    breast = condition("254837009", verificationStatus=status("ver-status", verification))
    mapping = map_bundle(bundle_of(breast))
    assert mapping.patient.primary.histology is None
    assert mapping.patient.context.known_cancer is None
    assert [(i.resource, i.element, i.value) for i in mapping.ignored] == [
        ("Condition/c1", "verificationStatus", verification)
    ]


@pytest.mark.parametrize("verification", ["unconfirmed", "provisional", "differential"])
def test_a_provisional_unknown_primary_is_still_an_unknown_primary(verification: str) -> None:
    """'Primary site unknown' (C80) is a working diagnosis, provisional by nature: it names no tumour type
    to doubt. Dropped as unconfirmed, the patient lost the unknown-primary pathway (tissue within a day
    with MSCC, corticosteroids held for the biopsy) and was planned as one whose histology was simply not
    entered (dexamethasone now, a radiotherapy schedule before any tissue)."""
    for cup in (
        condition("C80.0", c.ICD10, verificationStatus=status("ver-status", verification)),
        condition("unknown_primary", c.PRIMARY_SYSTEM, verificationStatus=status("ver-status", verification)),
    ):
        mapping = map_bundle(bundle_of(cup))
        assert mapping.patient.primary.histology is enums.Histology.unknown_primary
        assert mapping.ignored == ()


@pytest.mark.parametrize("clinical", ["inactive", "remission", "resolved"])
def test_a_resolved_secondary_condition_is_history_not_a_present_metastasis(clinical: str) -> None:
    """FHIR R4 Condition.clinicalStatus is a modifier ("codes that mark the condition as no longer
    active"): resolved brain metastases are not "brain metastases present", and a resolved vertebral
    metastasis is no lesion; both still say the patient has had cancer."""
    brain = condition("C79.3", c.ICD10, "brain", clinicalStatus=status("clinical", clinical))
    spine = condition(
        "94602001", rid="t9", clinicalStatus=status("clinical", clinical), bodySite=[level("T9")["bodySite"]]
    )
    mapping = map_bundle(bundle_of(brain, spine))
    assert mapping.patient.burden.brain_metastases is None
    assert mapping.patient.lesions == []
    assert mapping.patient.context.known_cancer is True
    assert {(i.resource, i.element) for i in mapping.ignored} == {
        ("Condition/brain", "clinicalStatus"),
        ("Condition/t9", "clinicalStatus"),
    }


def test_an_unknown_primary_does_not_say_whether_a_cancer_was_known() -> None:
    """A Condition 'primary site unknown' names the working diagnosis of a patient who may present with
    metastases and no known cancer: the record's own answer stands, and without one it stays missing."""
    cup = condition("C80.0", c.ICD10)
    assert map_bundle(bundle_of(cup)).patient.context.known_cancer is None
    said = obs("context.known_cancer", {"valueBoolean": False}, rid="kc")
    assert map_bundle(bundle_of(cup, said)).patient.context.known_cancer is False
    seed = parse_patient(
        json.loads((EXAMPLES / "seed000_vertebral_mets_inguinal_unknown_primary.json").read_text())
    )
    again = map_bundle(patient_to_bundle(seed)).patient  # was refused: C80 said True, the observation False
    assert (again.primary.histology, again.context.known_cancer) == (enums.Histology.unknown_primary, False)


def test_lenient_mode_lists_unmapped_resources_instead_of_failing() -> None:
    allergy = {"resourceType": "AllergyIntolerance", "id": "a1", "patient": SUBJ}
    htn = {
        "resourceType": "Condition",
        "id": "htn",
        "code": {"coding": [{"system": c.ICD10, "code": "I10"}]},
        "subject": SUBJ,
    }
    mapping = map_bundle(bundle_of(allergy, htn), strict=False)
    assert [(i.resource, i.element) for i in mapping.ignored] == [
        ("AllergyIntolerance/a1", "resourceType"),
        ("Condition/htn", "code"),
    ]


# --- errors: each names the resource, the element and the value -----------------------------------------------------

ERRORS: list[tuple[str, dict[str, Any], str]] = [
    (
        "not a bundle",
        {"resourceType": "Patient", "id": "x"},
        r"Bundle\.resourceType must be a FHIR R4 Bundle",
    ),
    (
        "malformed FHIR",
        bundle_of(obs("89247-1", {"valueInteger": "two"}, c.LOINC)),
        r"Bundle\.entry\[1\]\.resource\.valueInteger must be a valid integer.*; got 'two'",
    ),
    (
        "unknown observation code",
        bundle_of(obs("8480-6", {"valueInteger": 120}, c.LOINC)),
        r"Observation/o1\.code must be a LOINC or local code.*http://loinc.org\|8480-6",
    ),
    (
        "ECOG out of range",
        bundle_of(obs("89247-1", {"valueInteger": 7}, c.LOINC)),
        r"Observation/o1\.valueInteger \(performance\.ecog\) must be less than or equal to 4.*got 7",
    ),
    (
        "KPS not a multiple of ten",
        bundle_of(obs("89243-0", {"valueInteger": 75}, c.LOINC)),
        r"Observation/o1\.valueInteger \(performance\.kps\) must be a multiple of 10",
    ),
    (
        "enum answer not allowed",
        bundle_of(
            obs("neurology.frankel", {"valueCodeableConcept": {"coding": [{"system": c.LOCAL, "code": "F"}]}})
        ),
        r"Observation/o1\.valueCodeableConcept\.coding\.code must be one of A, B, C, D, E; got 'F'",
    ),
    (
        "boolean sent as string",
        bundle_of(obs("context.mri_done", {"valueString": "yes"})),
        r"Observation/o1\.valueString must be valueBoolean for context\.mri_done",
    ),
    (
        "lesion fact without level",
        bundle_of(
            obs("lesion.escc", {"valueCodeableConcept": {"coding": [{"system": c.LOCAL, "code": "2"}]}})
        ),
        r"Observation/o1\.bodySite must be a coding from .*spinal-level",
    ),
    (
        "bad level",
        bundle_of(
            obs(
                "lesion.escc",
                {"valueCodeableConcept": {"coding": [{"system": c.LOCAL, "code": "2"}]}},
                **level("T13"),
            )
        ),
        r"Observation/o1\.bodySite\.coding\[0\]\.code must be a level from occiput.*got 'T13'",
    ),
    (
        "albumin in mg/dL",
        bundle_of(
            obs("1751-7", {"valueQuantity": {"value": 3500, "system": c.UCUM, "code": "mg/dL"}}, c.LOINC)
        ),
        r"Observation/o1\.valueQuantity\.code must be one of g/dL, g/L; got 'mg/dL'",
    ),
    (
        "albumin 350 g/dL",
        bundle_of(
            obs("1751-7", {"valueQuantity": {"value": 350, "system": c.UCUM, "code": "g/dL"}}, c.LOINC)
        ),
        r"Observation/o1\.valueQuantity \(labs\.albumin\) must be a plausible serum albumin, "
        r"0\.5-7 g/dL \(5-70 g/L\); got '350 g/dL'",
    ),
    (
        "albumin 35 g/dL (g/L meant)",
        bundle_of(obs("1751-7", {"valueQuantity": {"value": 35, "system": c.UCUM, "code": "g/dL"}}, c.LOINC)),
        r"\(labs\.albumin\) must be a plausible serum albumin.*; got '35 g/dL' .*was the unit g/L\?",
    ),
    (
        "albumin unit text g/dL, UCUM code g/L",
        bundle_of(
            obs(
                "1751-7",
                {"valueQuantity": {"value": 3.5, "unit": "g/dL", "system": c.UCUM, "code": "g/L"}},
                c.LOINC,
            )
        ),
        r"Observation/o1\.valueQuantity\.unit must be the unit of Observation/o1\.valueQuantity\.code "
        r"\('g/L'\), or absent; got 'g/dL' \(the unit text says 'g/dL' but the UCUM code says 'g/L'",
    ),
    (
        "CRP unit text mg/L, UCUM code mg/dL",
        bundle_of(
            obs(
                "1988-5",
                {"valueQuantity": {"value": 1.2, "unit": "mg/L", "system": c.UCUM, "code": "mg/dL"}},
                c.LOINC,
            )
        ),
        r"Observation/o1\.valueQuantity\.unit must be the unit of .*; got 'mg/L'",
    ),
    (
        "radiotherapy dose in cGy text, Gy code",
        bundle_of(
            {
                "resourceType": "Procedure",
                "id": "rt1",
                "status": "completed",
                "code": {"coding": [{"system": c.SNOMED, "code": "108290001"}]},
                "subject": SUBJ,
                "bodySite": [{"coding": [{"system": c.LEVEL_SYSTEM, "code": "L1"}]}],
                "extension": [
                    {
                        "url": c.EXT_RT_DOSE,
                        "valueQuantity": {"value": 800, "unit": "cGy", "system": c.UCUM, "code": "Gy"},
                    }
                ],
            }
        ),
        r"Procedure/rt1\.extension\[radiotherapy-dose\]\.valueQuantity\.unit must be the unit of .*; got 'cGy'",
    ),
    (
        "CRP in mg/L",
        bundle_of(obs("1988-5", {"valueQuantity": {"value": 12, "system": c.UCUM, "code": "mg/L"}}, c.LOINC)),
        r"Observation/o1\.valueQuantity\.code must be one of mg/dL; got 'mg/L'",
    ),
    (
        "equivocal HER2",
        bundle_of(
            obs(
                "85319-2",
                {"valueCodeableConcept": {"coding": [{"system": c.LOINC, "code": "LA15174-5"}]}},
                c.LOINC,
            )
        ),
        r"Observation/o1\.valueCodeableConcept must be LOINC LA6576-8 \(Positive\)",
    ),
    (
        "ICD-10 lung without cell type",
        bundle_of(
            {
                "resourceType": "Condition",
                "id": "c1",
                "code": {"coding": [{"system": c.ICD10, "code": "C34.1"}]},
                "subject": SUBJ,
            }
        ),
        r"Condition/c1\.code must be a primary cancer.*C34\.1",
    ),
    (
        "two different primaries",
        bundle_of(
            {
                "resourceType": "Condition",
                "id": "c1",
                "code": {"coding": [{"system": c.ICD10, "code": "C50.9"}]},
                "subject": SUBJ,
            },
            {
                "resourceType": "Condition",
                "id": "c2",
                "code": {"coding": [{"system": c.ICD10, "code": "C61"}]},
                "subject": SUBJ,
            },
        ),
        r"primary\.histology must be one value.*'breast'.*'prostate'",
    ),
    (
        "other resource type",
        bundle_of({"resourceType": "AllergyIntolerance", "id": "a1", "patient": SUBJ}),
        r"AllergyIntolerance/a1\.resourceType must be one of Patient, Condition, Observation, Procedure, MedicationStatement",
    ),
    (
        "another patient's observation",
        bundle_of(obs("89247-1", {"valueInteger": 1}, c.LOINC, subject={"reference": "Patient/p2"})),
        r"Observation/o1\.subject must be a reference to Patient/p1; got 'Patient/p2'",
    ),
    (
        "two patients",
        bundle_of({"resourceType": "Patient", "id": "p2"}),
        r"Bundle\.entry must be one Patient per Bundle",
    ),
    (
        "checkpoint inhibitor is not mapped",
        bundle_of(
            {
                "resourceType": "MedicationStatement",
                "id": "m1",
                "status": "active",
                "medicationCodeableConcept": {"coding": [{"system": c.ATC, "code": "L01FF02"}]},
                "subject": SUBJ,
            }
        ),
        r"MedicationStatement/m1\.medicationCodeableConcept must be an ATC code.*L01FF02",
    ),
    (
        "radiotherapy outside the spine",
        bundle_of(
            {
                "resourceType": "Procedure",
                "id": "rt",
                "status": "completed",
                "code": {"coding": [{"system": c.SNOMED, "code": "108290001"}]},
                "subject": SUBJ,
            }
        ),
        r"Procedure/rt\.bodySite must be a spinal level",
    ),
    (
        "a bound instead of a value",
        bundle_of(
            obs(
                "1988-5",
                {"valueQuantity": {"value": 0.5, "comparator": "<", "system": c.UCUM, "code": "mg/dL"}},
                c.LOINC,
            )
        ),
        r"Observation/o1\.valueQuantity\.comparator must be absent \(an exact value\); got '<'",
    ),
    (
        "patient-level fact with a level",
        bundle_of(
            obs(
                "pain.type",
                {"valueCodeableConcept": {"coding": [{"system": c.LOCAL, "code": "mechanical"}]}},
                **level("T12"),
            )
        ),
        r"Observation/o1\.bodySite must be absent for pain\.type",
    ),
    (
        "modifier extension",
        bundle_of(
            obs(
                "89247-1",
                {"valueInteger": 1},
                c.LOINC,
                modifierExtension=[{"url": "https://x.example/negated", "valueBoolean": True}],
            )
        ),
        r"Observation/o1\.modifierExtension must be absent",
    ),
    (
        "observation with components",
        bundle_of(
            obs(
                "89247-1",
                {"valueInteger": 1},
                c.LOINC,
                component=[{"code": {"text": "sub"}, "valueInteger": 1}],
            )
        ),
        r"Observation/o1\.component must be an Observation without components",
    ),
    (
        "partial birth date",
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960"}}],
        },
        r"Patient/p1\.birthDate must be a full date",
    ),
]


@pytest.mark.parametrize(("case", "bundle", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_input_names_resource_element_and_value(case: str, bundle: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        bundle_to_patient(copy.deepcopy(bundle))


# --- a searchset's outcome entry -------------------------------------------------------------------------------------
# FHIR R4 Bundle.entry.search.mode (https://hl7.org/fhir/R4/valueset-search-entry-mode.html): "outcome - An
# OperationOutcome that provides additional information about the processing of a search". A searchset Bundle is a
# valid $assess input; its outcome entry is not patient data (reported, not an unmapped-type error), and an error or
# fatal issue means the search may have left resources out, so the record is refused.


def _searchset_with_outcome(severity: str) -> dict[str, Any]:
    bundle = bundle_of(obs("performance.ecog", {"valueInteger": 1}, system=c.LOINC))
    bundle["entry"][1]["resource"]["code"]["coding"][0]["code"] = "89247-1"
    bundle["type"] = "searchset"
    outcome = {
        "resourceType": "OperationOutcome",
        "id": "search-note",
        "issue": [{"severity": severity, "code": "informational", "diagnostics": "search note"}],
    }
    bundle["entry"].append({"resource": outcome, "search": {"mode": "outcome"}})
    return bundle


@pytest.mark.parametrize("severity", ["information", "warning"])
def test_a_searchset_outcome_entry_is_reported_not_refused(severity: str) -> None:
    mapping = map_bundle(_searchset_with_outcome(severity), strict=True)
    assert mapping.patient.performance.ecog == 1
    assert [(i.resource, i.element) for i in mapping.ignored] == [
        ("OperationOutcome/search-note", "search.mode")
    ]
    assert "OperationOutcome/search-note" not in mapping.used


@pytest.mark.parametrize("severity", ["error", "fatal"])
def test_a_searchset_outcome_with_an_error_refuses_the_record(severity: str) -> None:
    with pytest.raises(InvalidInputError, match="the record may be incomplete") as refused:
        map_bundle(_searchset_with_outcome(severity), strict=False)
    assert refused.value.field == "OperationOutcome/search-note.issue[0].severity"


def test_one_page_of_a_paged_search_is_refused() -> None:
    """FHIR R4 Bundle.link 'next' (search paging): the Bundle holds one page of the result, so a more
    recent value or a conflicting one may be on a later page; scoring the page as the record would
    present an older value as the patient's."""
    bundle = _searchset_with_outcome("information")
    bundle["link"] = [
        {"relation": "self", "url": "https://ehr.example.org/fhir/Observation?patient=p1"},
        {"relation": "next", "url": "https://ehr.example.org/fhir/Observation?patient=p1&page=2"},
    ]
    for strict in (True, False):
        with pytest.raises(InvalidInputError, match=r"Bundle\.link\[1\]\.relation must be .*got 'next'"):
            map_bundle(bundle, strict=strict)
    del bundle["link"][1]
    assert map_bundle(bundle).patient.performance.ecog == 1
