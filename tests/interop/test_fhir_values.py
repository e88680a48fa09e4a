"""FHIR R4 values of the wrong JSON type are refused naming the element, never a server error.

References:
    HL7 FHIR R4, JSON representation (https://hl7.org/fhir/R4/json.html): "decimal and integer values are
    represented as JSON numbers" ("The JSON number type ... decimal: a JSON number"); Quantity.value is a
    decimal, Observation.valueInteger an integer.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spinemets.errors import InvalidInputError
from spinemets.interop.fhir import map_bundle

KPS = {"system": "http://loinc.org", "code": "89243-0"}


def _with_kps(bundle: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    obs = {
        "resourceType": "Observation",
        "id": "kps-1",
        "status": "final",
        "code": {"coding": [KPS]},
        "subject": {"reference": "Patient/EX-001"},
        **value,
    }
    out["entry"].append({"resource": obs})
    return out


WRONG_TYPES = [
    (
        {"valueQuantity": {"value": "70.0", "code": "%", "system": "http://unitsofmeasure.org"}},
        ".valueQuantity.value",
    ),
    (
        {"valueQuantity": {"value": True, "code": "%", "system": "http://unitsofmeasure.org"}},
        ".valueQuantity.value",
    ),
    ({"valueQuantity": "70 %"}, ".valueQuantity"),
    ({"valueInteger": "70"}, ".valueInteger"),
]


@pytest.mark.parametrize(("value", "element"), WRONG_TYPES)
def test_a_number_given_as_text_is_refused_naming_the_element(
    breast_bundle: dict[str, Any], value: dict[str, Any], element: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        map_bundle(_with_kps(breast_bundle, value))
    assert refused.value.field.endswith(element)  # Observation/kps-1..., or Bundle.entry[n].resource...


@pytest.mark.parametrize(("value", "element"), WRONG_TYPES)
def test_assess_answers_a_number_given_as_text_with_422(
    client: TestClient, breast_bundle: dict[str, Any], value: dict[str, Any], element: str
) -> None:
    response = client.post("/fhir/$assess", json=_with_kps(breast_bundle, value))
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["expression"][0].endswith(element)


# --- a complex element written as text ------------------------------------------------------------------------------------
# FHIR R4, JSON representation (https://hl7.org/fhir/R4/json.html): "Objects ... complex datatypes are represented
# as JSON objects"; Reference, CodeableConcept and Quantity are complex types. The FHIR models report such a string
# as unparsable JSON; the error must say that the element is an object, not "must be invalid JSON".


@pytest.mark.parametrize(
    ("value", "element", "text"),
    [
        ({"subject": "Patient/EX-001"}, ".subject", "Patient/EX-001"),
        ({"code": "89243-0"}, ".code", "89243-0"),
        ({"valueQuantity": "70 %"}, ".valueQuantity", "70 %"),
    ],
)
def test_a_complex_element_written_as_text_is_refused_as_not_an_object(
    breast_bundle: dict[str, Any], value: dict[str, Any], element: str, text: str
) -> None:
    with pytest.raises(InvalidInputError, match=r"must be a JSON object \(a FHIR complex type") as refused:
        map_bundle(_with_kps(breast_bundle, value))
    assert refused.value.field.endswith(element)
    assert refused.value.value == text
    assert "invalid JSON" not in str(refused.value)


# --- radiotherapy extensions: a known extension whose value cannot be read is an error --------------------------------
# docs/fhir.md: "Nothing is dropped silently"; FHIR R4 Extension: "value[x] ... Value of extension - must be one of a
# constrained set of the data types"; the spinemets radiotherapy extensions carry valueQuantity (dose, Gy),
# valueInteger (fractions) and valueCode (technique).


def _rt_bundle(extension: dict[str, Any]) -> dict[str, Any]:
    from spinemets.interop import codes as c

    proc = {
        "resourceType": "Procedure",
        "id": "rt1",
        "status": "completed",
        "code": {"coding": [{"system": c.SNOMED, "code": "108290001"}]},
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": "2025-03-04",
        "bodySite": [{"coding": [{"system": c.LEVEL_SYSTEM, "code": "L1"}]}],
        "extension": [
            {"url": c.EXT_RT_DOSE, "valueQuantity": {"value": 8, "system": c.UCUM, "code": "Gy"}},
            extension,
        ],
    }
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient}, {"resource": proc}],
    }


def _rt_cases() -> list[tuple[dict[str, Any], str]]:
    from spinemets.interop import codes as c

    return [
        ({"url": c.EXT_RT_FRACTIONS, "valueString": "5"}, "Procedure/rt1.extension[radiotherapy-fractions]"),
        (
            {"url": c.EXT_RT_FRACTIONS, "valueInteger": "5"},
            "Procedure/rt1.extension[radiotherapy-fractions].valueInteger",
        ),
        (
            {"url": c.EXT_RT_TECHNIQUE, "valueString": "sbrt"},
            "Procedure/rt1.extension[radiotherapy-technique]",
        ),
        ({"url": c.EXT_RT_TECHNIQUE}, "Procedure/rt1.extension[radiotherapy-technique]"),
        ({"url": c.EXT_RT_DOSE, "valueString": "8 Gy"}, "Procedure/rt1.extension[radiotherapy-dose]"),
        # not a Quantity at all: refused by the FHIR structure check, before the mapping
        (
            {"url": c.EXT_RT_DOSE, "valueQuantity": "8 Gy"},
            "Bundle.entry[1].resource.extension[1].valueQuantity",
        ),
    ]


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "reporting"])
@pytest.mark.parametrize(("extension", "field"), _rt_cases())
def test_a_radiotherapy_extension_with_the_wrong_value_type_is_an_error(
    extension: dict[str, Any], field: str, strict: bool
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        map_bundle(_rt_bundle(extension), strict=strict)
    assert refused.value.field == field


def test_well_typed_radiotherapy_extensions_are_read() -> None:
    from spinemets.interop import codes as c

    mapping = map_bundle(_rt_bundle({"url": c.EXT_RT_TECHNIQUE, "valueCode": "sbrt"}))
    rt = mapping.patient.lesions[0].prior_radiotherapy
    assert rt is not None and (rt.dose_gy, rt.technique) == (8.0, "sbrt")
