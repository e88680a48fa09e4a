"""References in the results point at the input resources as FHIR lets them be referenced.

References:
    HL7 FHIR R4, Bundle.entry.fullUrl (https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.fullUrl):
    "The Absolute URL for the resource. The fullUrl SHALL NOT disagree with the id in the resource"; a
    resource without an id is referenced by that URL (a "Type[entry n]" name is no FHIR reference).
"""

from __future__ import annotations

import copy
from typing import Any

import spinemets
from spinemets.interop.fhir import assessment_to_bundle, map_bundle


def _without_ids(bundle: dict[str, Any], only_patient: bool) -> tuple[dict[str, Any], str]:
    out = copy.deepcopy(bundle)
    patient_url = out["entry"][0]["fullUrl"]
    for n, entry in enumerate(out["entry"]):
        resource = entry["resource"]
        if n == 0 or not only_patient:
            resource.pop("id", None)
        for key in ("subject", "patient"):
            if key in resource:
                resource[key] = {"reference": patient_url}
    return out, patient_url


def _results(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    mapping = map_bundle(bundle)
    out = assessment_to_bundle(spinemets.assess(mapping.patient), subject=mapping.subject, basis=mapping.used)
    return [e["resource"] for e in out["entry"]]


def test_a_patient_without_id_is_the_subject_by_its_full_url(breast_bundle: dict[str, Any]) -> None:
    bundle, patient_url = _without_ids(breast_bundle, only_patient=True)
    for resource in _results(bundle):
        assert resource["subject"] == {"reference": patient_url}


def test_resources_without_ids_are_the_basis_by_their_full_urls(breast_bundle: dict[str, Any]) -> None:
    bundle, _ = _without_ids(breast_bundle, only_patient=False)
    urls = {e["fullUrl"] for e in bundle["entry"]}
    risk = [r for r in _results(bundle) if r["resourceType"] == "RiskAssessment"]
    basis = [b["reference"] for r in risk for b in r.get("basis", [])]
    assert basis and set(basis) <= urls
    assert not any("[entry" in str(r) for r in risk)
