"""Assessment -> FHIR R4: a RiskAssessment per score and the plan as a RequestGroup, valid and cited."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

import spinemets
from spinemets.interop import codes as c
from spinemets.interop.fhir import URGENCY_PRIORITY, assessment_to_bundle, map_bundle, priority_of
from spinemets.rules.model import Urgency


def _resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def _ext(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e["url"] == url]


@pytest.fixture
def breast_result(breast_bundle: dict[str, Any]) -> tuple[spinemets.Assessment, dict[str, Any]]:
    mapping = map_bundle(breast_bundle)
    assessment = spinemets.assess(mapping.patient)
    return assessment, assessment_to_bundle(assessment, subject=mapping.subject, basis=mapping.used)


def test_result_bundle_is_valid_fhir_r4(breast_result: tuple[spinemets.Assessment, dict[str, Any]]) -> None:
    _, bundle = breast_result
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])


def test_one_risk_assessment_per_score_and_per_lesion_sins(
    breast_result: tuple[spinemets.Assessment, dict[str, Any]],
) -> None:
    assessment, bundle = breast_result
    risks = _resources(bundle, "RiskAssessment")
    codes = [r["code"]["coding"][0]["code"] for r in risks]
    assert sorted(codes) == sorted([k for k in assessment.scores if k != "sins"] + ["sins", "sins"])
    by_id = {r["id"]: r for r in risks}
    for lesion in assessment.sins_by_lesion:
        risk = by_id[f"sins-{lesion.subject}"]
        assert _ext(risk, c.EXT_SCORE_TOTAL)[0]["valueInteger"] == lesion.total
        assert lesion.subject in risk["code"]["text"]


def test_risk_assessment_carries_value_band_basis_and_citation(
    breast_result: tuple[spinemets.Assessment, dict[str, Any]],
) -> None:
    assessment, bundle = breast_result
    result = assessment.scores["tokuhashi_revised"]
    risk = next(r for r in _resources(bundle, "RiskAssessment") if r["id"] == "tokuhashi-revised")
    assert _ext(risk, c.EXT_SCORE_TOTAL)[0]["valueInteger"] == result.total
    assert result.band is not None
    assert (
        risk["prediction"][0]["qualitativeRisk"]["coding"][0]["code"]
        == f"tokuhashi_revised.{result.band.key}"
    )
    assert risk["prediction"][0]["rationale"] == result.band.meaning
    assert [e["valueString"] for e in _ext(risk, c.EXT_BASIS)] == [i.explain() for i in result.items]
    cited = [e["valueRelatedArtifact"] for e in _ext(risk, c.EXT_CITATION)]
    assert [a["url"] for a in cited] == [ref.link for ref in result.citation]
    assert risk["basis"][0] == {"reference": "Patient/EX-001"}
    assert risk["subject"] == {"reference": "Patient/EX-001"}


def test_missing_items_give_a_preliminary_assessment_with_the_attainable_range(
    cup_bundle: dict[str, Any],
) -> None:
    mapping = map_bundle(cup_bundle)
    assessment = spinemets.assess(mapping.patient)
    bundle = assessment_to_bundle(assessment, subject=mapping.subject)
    result = assessment.scores["tokuhashi_revised"]
    assert not result.complete
    risk = next(r for r in _resources(bundle, "RiskAssessment") if r["id"] == "tokuhashi-revised")
    assert risk["status"] == "preliminary"
    assert _ext(risk, c.EXT_SCORE_TOTAL) == []
    rng = _ext(risk, c.EXT_SCORE_RANGE)[0]["valueRange"]
    assert (rng["low"]["value"], rng["high"]["value"]) == (result.min, result.max)
    missing = [e["valueString"] for e in _ext(risk, c.EXT_SCORE_MISSING)]
    assert [m.split(":")[0] for m in missing] == list(result.missing)
    assert risk["prediction"][0]["qualitativeRisk"]["text"].startswith("band undetermined")


def test_plan_is_a_request_group_with_priority_basis_and_citations(
    breast_result: tuple[spinemets.Assessment, dict[str, Any]],
) -> None:
    assessment, bundle = breast_result
    assert assessment.plan is not None
    (group,) = _resources(bundle, "RequestGroup")
    assert (group["status"], group["intent"]) == ("draft", "proposal")
    actions = {a["id"]: a for a in group["action"]}
    assert len(actions) == len(assessment.plan.recommendations) + len(assessment.plan.schedule)
    for rec in assessment.plan.recommendations:
        action = actions[rec.id]
        assert action["priority"] == URGENCY_PRIORITY[rec.urgency]
        assert action["description"].startswith(rec.text)
        assert [e["valueString"] for e in _ext(action, c.EXT_BASIS)] == list(rec.basis)
        urls = {d.get("url") for d in action.get("documentation", [])}
        labels = {d["label"] for d in action.get("documentation", [])}
        assert {r.short() for r in rec.citations} <= labels
        assert {r.link for r in rec.citations if r.link} <= urls
    scores = {r["valueReference"]["reference"] for r in _ext(group, c.EXT_SCORE_RESULT)}
    assert scores == {
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RiskAssessment"
    }


def test_plan_references_only_targets_fhir_r4_allows(
    breast_result: tuple[spinemets.Assessment, dict[str, Any]],
) -> None:
    """FHIR R4 RequestGroup.reasonReference is Reference(Condition | Observation | DiagnosticReport |
    DocumentReference): a RiskAssessment there fails validation once the reference is resolved in the
    Bundle, so the scores the plan rests on are linked by an extension instead."""
    _, bundle = breast_result
    (group,) = _resources(bundle, "RequestGroup")
    types = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"]}
    targets = {types.get(r["reference"], r["reference"]) for r in group.get("reasonReference", [])}
    assert targets <= {"Condition", "Observation", "DiagnosticReport", "DocumentReference"}


def test_every_plan_urgency_has_a_fhir_priority() -> None:
    assert set(URGENCY_PRIORITY) == set(Urgency)
    assert priority_of("emergency") == "stat"
    assert set(URGENCY_PRIORITY.values()) <= {"routine", "urgent", "asap", "stat"}
