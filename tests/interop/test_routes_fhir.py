"""POST /fhir/$assess and the local code system over HTTP; docs/fhir.md lists every code the mapping reads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem

import spinemets
from spinemets.interop import codes as c
from spinemets.interop.fhir import map_bundle
from spinemets.service.ehr_routes import FHIR_JSON
from tests.conftest import ROOT


def test_assess_returns_a_bundle_of_results(client: TestClient, breast_bundle: dict[str, Any]) -> None:
    response = client.post("/fhir/$assess", json=breast_bundle, headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    out = Bundle.model_validate(response.json())
    kinds = [e.resource.get_resource_type() for e in out.entry]
    assessment = spinemets.assess(map_bundle(breast_bundle).patient)
    n_risks = len(assessment.scores) - 1 + len(assessment.sins_by_lesion)
    assert kinds.count("RiskAssessment") == n_risks
    assert kinds.count("RequestGroup") == 1
    sins_t12 = next(e.resource for e in out.entry if e.resource.id == "sins-T12")
    assert sins_t12.code.text == "SINS 11 (potentially unstable) at T12"


def test_assess_answers_invalid_input_with_an_operation_outcome(
    client: TestClient, breast_bundle: dict[str, Any]
) -> None:
    ecog = {
        "resource": {
            "resourceType": "Observation",
            "id": "ecog-bad",
            "status": "final",
            "code": {"coding": [{"system": c.LOINC, "code": "89247-1"}]},
            "subject": {"reference": "Patient/EX-001"},
            "valueInteger": 9,
        }
    }
    breast_bundle["entry"].append(ecog)
    response = client.post("/fhir/$assess", json=breast_bundle)
    assert response.status_code == 422
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    (issue,) = outcome["issue"]
    # FHIR R4 OperationOutcome.issue.expression is FHIRPath ("element names, repetition indicators and
    # the default child accessor"); the diagnostics name the resource as the sender knows it
    assert issue["expression"] == [f"Bundle.entry[{len(breast_bundle['entry']) - 1}].resource.valueInteger"]
    assert issue["diagnostics"].startswith("Observation/ecog-bad.valueInteger (performance.ecog) must be")
    assert "got 9" in issue["diagnostics"]


def test_assess_refuses_a_non_bundle(client: TestClient) -> None:
    response = client.post("/fhir/$assess", json={"resourceType": "Patient", "id": "p"})
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Bundle.resourceType"]


def test_local_code_system_is_served_and_valid(client: TestClient) -> None:
    response = client.get("/fhir/CodeSystem/spinemets")
    assert response.status_code == 200
    system = CodeSystem.model_validate(response.json())
    assert system.url == c.LOCAL
    served = {concept.code for concept in system.concept}
    assert set(c.local_fields()) | set(c.LOCAL_PROCEDURES) <= served
    assert {answer for spec in c.local_fields().values() for answer in spec.enum} <= served


def test_local_code_system_defines_each_code_once() -> None:
    """FHIR R4 CodeSystem csd-1: "Within a code system definition, all the codes SHALL be unique".
    Frankel and ASIA are both graded A-E, and several questions answer 'none': each answer code is one
    concept of the system, whichever questions use it."""
    seen: list[str] = []

    def walk(concepts: list[dict[str, Any]]) -> None:
        for concept in concepts:
            seen.append(concept["code"])
            walk(concept.get("concept", []))

    system = c.code_system_resource()
    walk(system["concept"])
    assert [code for code in set(seen) if seen.count(code) > 1] == []
    frankel_a = next(concept for concept in system["concept"] if concept["code"] == "A")
    assert "neurology.frankel" in frankel_a["definition"] and "neurology.asia" in frankel_a["definition"]


# --- the documentation is complete -----------------------------------------------------------------------------

DOC = (ROOT / "docs" / "fhir.md").read_text(encoding="utf-8")


def _doc_codes() -> set[str]:
    return set(re.findall(r"`([^`]+)`", DOC))


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        ("local observation codes", sorted(c.local_fields())),
        ("LOINC", sorted(c.LOINC_FIELDS)),
        ("SNOMED CT primaries", sorted(c.SNOMED_PRIMARY)),
        ("ICD-10 primaries", sorted(c.ICD10_PRIMARY)),
        ("ATC classes", sorted({p for ps in c.ATC_CLASSES.values() for p in ps})),
        ("procedures", sorted([*c.SNOMED_PROCEDURES, *c.LOCAL_PROCEDURES])),
        (
            "systems",
            [c.LOCAL, c.PRIMARY_SYSTEM, c.LEVEL_SYSTEM, c.SCORE_SYSTEM, c.EXT_RT_DOSE, c.EXT_CITATION],
        ),
    ],
)
def test_docs_list_every_code_the_mapping_reads(table: str, codes: list[str]) -> None:
    missing = [code for code in codes if code not in _doc_codes()]
    assert missing == [], f"docs/fhir.md does not document these {table}: {missing}"


@pytest.mark.parametrize(
    ("field", "expression"),
    [
        ("Bundle.entry[2].resource.subject", "Bundle.entry[2].resource.subject"),
        ("Observation/o2.valueQuantity.code", "Bundle.entry[2].resource.valueQuantity.code"),
        ("Observation/o2.valueInteger (performance.ecog)", "Bundle.entry[2].resource.valueInteger"),
        ("Condition[entry 1].code.coding[0].code", "Bundle.entry[1].resource.code.coding[0].code"),
        ("Procedure/p3.extension[radiotherapy-dose]", "Bundle.entry[3].resource.extension"),
        ("Observation/elsewhere.code", None),
        ("performance.kps", None),
    ],
)
def test_an_error_field_becomes_a_fhirpath_or_nothing(field: str, expression: str | None) -> None:
    """OperationOutcome.issue.expression takes FHIRPath only (element names, repetition indicators, the
    child accessor): a resource named Type/id is found in the Bundle; a model field has no element."""
    from spinemets.interop.fhir import fhirpath

    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": {"resourceType": "Condition"}},
            {"resource": {"resourceType": "Observation", "id": "o2"}},
            {"resource": {"resourceType": "Procedure", "id": "p3"}},
        ],
    }
    assert fhirpath(field, bundle) == expression
