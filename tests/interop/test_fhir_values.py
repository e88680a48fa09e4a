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
