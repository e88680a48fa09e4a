"""CDS Hooks 2.0 services, with request bodies written after the examples of the specification.

References:
    HL7 CDS Hooks 2.0, https://cds-hooks.hl7.org/2.0/ (Discovery, Calling a CDS Service, CDS Service
    Response / Card Attributes, Feedback) and the hook definitions patient-view 1.0 and order-select 1.0.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import spinemets
from spinemets.interop import cds_hooks as cds
from spinemets.interop.fhir import map_bundle, priority_of
from spinemets.service.ehr_routes import InteropState
from tests.interop.conftest import BASE_URL, Signer, prefetch_from

HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
FHIR_AUTH = {
    "access_token": "some-opaque-fhir-access-token",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "user/Patient.read user/Condition.read user/Observation.read",
    "subject": "cds-service4",
}


def patient_view_request(bundle: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """A patient-view call shaped like the specification's example, with our prefetch keys."""
    return {
        "hookInstance": HOOK_INSTANCE,
        "fhirServer": "https://fhir.ehr.example.org/r4",
        "hook": "patient-view",
        "fhirAuthorization": FHIR_AUTH,
        "context": {"userId": "Practitioner/example", "patientId": patient_id, "encounterId": "89284"},
        "prefetch": prefetch_from(bundle),
    }


def order_select_request(bundle: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """An order-select call: two draft orders, one of them selected (the hook's context)."""
    subject = {"reference": f"Patient/{patient_id}"}
    draft_orders = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "ServiceRequest",
                    "id": "mri-spine-1",
                    "status": "draft",
                    "intent": "order",
                    "code": {"text": "MRI whole spine"},
                    "subject": subject,
                }
            },
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "smart-MedicationRequest-103",
                    "status": "draft",
                    "intent": "order",
                    "medicationCodeableConcept": {"text": "dexamethasone 8 mg"},
                    "subject": subject,
                }
            },
        ],
    }
    return {
        "hookInstance": "ce6ab8e1-6bbd-4b2a-8d37-0b3c5e5c4f1e",
        "fhirServer": "https://fhir.ehr.example.org/r4",
        "hook": "order-select",
        "fhirAuthorization": FHIR_AUTH,
        "context": {
            "userId": "PractitionerRole/123",
            "patientId": patient_id,
            "encounterId": "89284",
            "selections": ["ServiceRequest/mri-spine-1"],
            "draftOrders": draft_orders,
        },
        "prefetch": prefetch_from(bundle),
    }


def call(client: TestClient, signer: Signer, service: str, body: dict[str, Any], suffix: str = "") -> Any:
    token = signer.token(f"{BASE_URL}/cds-services/{service}{suffix}")
    return client.post(
        f"/cds-services/{service}{suffix}", json=body, headers={"Authorization": f"Bearer {token}"}
    )


INDICATOR = {"stat": "critical", "urgent": "warning", "asap": "warning", "routine": "info"}


def expected_top_indicator(bundle: dict[str, Any]) -> str:
    plan = spinemets.assess(map_bundle(bundle).patient).plan
    assert plan is not None and plan.urgency is not None
    return INDICATOR[priority_of(plan.urgency)]


# --- discovery ---------------------------------------------------------------------------------------------------


def test_discovery_lists_both_services_with_prefetch_templates(client: TestClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json()["services"]}
    assert {s["hook"] for s in services.values()} == {"patient-view", "order-select"}
    for s in services.values():
        assert s["title"] and s["description"]
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert s["prefetch"]["observations"] == "Observation?patient={{context.patientId}}"


# --- patient-view ----------------------------------------------------------------------------------------------------


def test_patient_view_for_the_breast_t12_patient(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    response = call(client, signer, cds.PATIENT_VIEW, patient_view_request(breast_bundle, "EX-001"))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    scores = cards[0]
    assert scores["summary"].startswith("SINS 11 (potentially unstable) at T12")  # Fisher 2010 bands
    assert "Tokuhashi" in scores["detail"] and "References:" in scores["detail"]
    assert scores["indicator"] == expected_top_indicator(breast_bundle)
    (record,) = scores["suggestions"]
    assert {a["resource"]["resourceType"] for a in record["actions"]} == {"RiskAssessment"}
    assert scores["links"] == [
        {"label": "Open spinemets (full report)", "url": f"{BASE_URL}/assess", "type": "absolute"}
    ]


def test_every_card_follows_the_card_attributes_of_the_specification(
    client: TestClient, signer: Signer, cup_bundle: dict[str, Any]
) -> None:
    cards = call(client, signer, cds.PATIENT_VIEW, patient_view_request(cup_bundle, "cup-002")).json()[
        "cards"
    ]
    assert cards
    for card in cards:
        assert 0 < len(card["summary"]) < 140  # CDS Hooks 2.0, Card attributes: "<140-character"
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"]
        assert card["uuid"]
        for suggestion in card.get("suggestions", []):
            assert suggestion["uuid"] and suggestion["label"]
        if card.get("suggestions"):
            assert card["selectionBehavior"] in ("at-most-one", "any")
    ranks = [{"critical": 0, "warning": 1, "info": 2}[card["indicator"]] for card in cards]
    assert ranks == sorted(ranks)
    assert cards[0]["indicator"] == expected_top_indicator(cup_bundle)


def _plan_cards(
    bundle: dict[str, Any], cards: list[dict[str, Any]]
) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
    plan = spinemets.assess(map_bundle(bundle).patient).plan
    assert plan is not None
    by_indicator: dict[str, list[dict[str, Any]]] = {"critical": [], "warning": [], "info": []}
    for card in cards[1:]:
        if card["source"]["label"] != "spinemets FHIR mapping":
            by_indicator[card["indicator"]].append(card)
    return plan, by_indicator


@pytest.mark.parametrize("fixture", ["breast_bundle", "cup_bundle"])
def test_each_emergency_has_its_own_card_and_other_steps_are_grouped_by_urgency(
    client: TestClient, signer: Signer, fixture: str, request: pytest.FixtureRequest
) -> None:
    bundle = request.getfixturevalue(fixture)
    pid = bundle["entry"][0]["resource"]["id"]
    cards = call(client, signer, cds.PATIENT_VIEW, patient_view_request(bundle, pid)).json()["cards"]
    plan, by_indicator = _plan_cards(bundle, cards)
    expected: dict[str, list[Any]] = {"critical": [], "warning": [], "info": []}
    for rec in plan.recommendations:
        expected[INDICATOR[priority_of(rec.urgency)]].append(rec)
    assert [c["summary"] for c in by_indicator["critical"]] == [
        cds.shorten(r.text) for r in expected["critical"]
    ]
    for indicator in ("warning", "info"):
        assert len(by_indicator[indicator]) == (1 if expected[indicator] else 0)
    for indicator, recs in expected.items():
        text = "\n".join(c["detail"] for c in by_indicator[indicator])
        for rec in recs:
            assert rec.text in text
            for ref in rec.citations:
                assert ref.vancouver() in text


def test_plan_card_source_is_the_first_citation(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    cards = call(client, signer, cds.PATIENT_VIEW, patient_view_request(breast_bundle, "EX-001")).json()[
        "cards"
    ]
    plan, by_indicator = _plan_cards(breast_bundle, cards)
    (urgent,) = by_indicator["warning"]
    first = next(r for r in plan.recommendations if priority_of(r.urgency) == "urgent")
    n_urgent = sum(1 for r in plan.recommendations if priority_of(r.urgency) == "urgent")
    assert urgent["summary"].startswith(f"{n_urgent} urgent steps in the plan: {first.text[:40]}")
    assert urgent["source"]["label"] == f"spinemets · {first.citations[0].short()}"
    assert urgent["source"].get("url") == first.citations[0].link
    assert urgent["selectionBehavior"] == "any"
    proposals = [a["resource"] for s in urgent["suggestions"] for a in s["actions"]]
    assert {(p["resourceType"], p["intent"], p["status"]) for p in proposals} == {
        ("ServiceRequest", "proposal", "draft")
    }


def test_unused_record_entries_are_shown_on_a_card(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = patient_view_request(breast_bundle, "EX-001")
    body["prefetch"]["conditions"]["entry"].append(
        {
            "resource": {
                "resourceType": "Condition",
                "id": "htn",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
                "subject": {"reference": "Patient/EX-001"},
            }
        }
    )
    cards = call(client, signer, cds.PATIENT_VIEW, body).json()["cards"]
    unused = [c for c in cards if c["summary"].startswith("1 record entries were not used")]
    assert len(unused) == 1
    assert "Condition/htn code" in unused[0]["detail"]


# --- order-select -------------------------------------------------------------------------------------------------------


def test_order_select_names_the_selected_orders(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    response = call(client, signer, cds.ORDER_SELECT, order_select_request(breast_bundle, "EX-001"))
    assert response.status_code == 200, response.text
    first = response.json()["cards"][0]
    assert first["detail"].startswith("Orders selected: ServiceRequest/mri-spine-1.")


def test_order_select_without_draft_orders_is_refused(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = order_select_request(breast_bundle, "EX-001")
    del body["context"]["draftOrders"]
    response = call(client, signer, cds.ORDER_SELECT, body)
    assert response.status_code == 400
    assert "context.draftOrders" in response.json()["detail"]


# --- prefetch and the FHIR server -------------------------------------------------------------------------------------


def test_missing_prefetch_is_fetched_from_the_fhir_server_with_the_given_token(
    app_factory: Callable[..., TestClient], signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    client = app_factory()
    body = patient_view_request(breast_bundle, "EX-001")
    served = body["prefetch"].pop("observations")
    asked: list[tuple[str, str, str | None]] = []

    def fetch(server: str, query: str, auth: cds.FhirAuthorization | None) -> Any:
        asked.append((server, query, auth.access_token if auth else None))
        return copy.deepcopy(served)

    client.app.state.interop = InteropState(verifier=cds.JwtVerifier([]), fetcher=fetch)  # type: ignore[attr-defined]
    client.app.state.interop.verifier = cds.JwtVerifier(client.app.state.settings.cds_hooks_issuers)  # type: ignore[attr-defined]
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 200, response.text
    assert asked == [
        ("https://fhir.ehr.example.org/r4", "Observation?patient=EX-001", "some-opaque-fhir-access-token")
    ]
    assert response.json()["cards"][0]["summary"].startswith("SINS 11")


def test_missing_prefetch_without_fhir_server_is_412(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = patient_view_request(breast_bundle, "EX-001")
    del body["fhirServer"], body["fhirAuthorization"]  # no FHIR server, so no token for one
    del body["prefetch"]["observations"]  # absent: not prefetched (a null value means "no data")
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 412
    assert "observations" in response.json()["detail"]


_FAILED_SEARCH_NOTE = {
    "resource": {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "search timed out"}],
    },
    "search": {"mode": "outcome"},
}


def test_a_prefetched_search_reporting_an_error_is_fetched_again_or_412(
    app_factory: Callable[..., TestClient], signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    # FHIR R4 Bundle.entry.search.mode 'outcome': the server's note about the search; an error there
    # may mean resources were left out. CDS Hooks 2.0 (Prefetch): the service may fetch what it
    # lacks from the fhirServer with the token; it must not score an incomplete record as complete.
    body = patient_view_request(breast_bundle, "EX-001")
    complete = copy.deepcopy(body["prefetch"]["observations"])
    body["prefetch"]["observations"].setdefault("entry", []).append(_FAILED_SEARCH_NOTE)
    asked: list[str] = []

    def fetch(server: str, query: str, auth: cds.FhirAuthorization | None) -> Any:
        asked.append(query)
        return copy.deepcopy(complete)

    client = app_factory()
    client.app.state.interop = InteropState(verifier=cds.JwtVerifier([]), fetcher=fetch)  # type: ignore[attr-defined]
    client.app.state.interop.verifier = cds.JwtVerifier(client.app.state.settings.cds_hooks_issuers)  # type: ignore[attr-defined]
    response = call(client, signer, cds.PATIENT_VIEW, copy.deepcopy(body))
    assert response.status_code == 200, response.text
    assert asked == ["Observation?patient=EX-001"]
    assert response.json()["cards"][0]["summary"].startswith("SINS 11")
    # without a FHIR server to ask, or when its answer reports the failure too: 412 naming the key
    del body["fhirServer"], body["fhirAuthorization"]
    refused = call(client, signer, cds.PATIENT_VIEW, copy.deepcopy(body))
    assert refused.status_code == 412 and "observations" in refused.json()["detail"]


def test_a_prefetched_search_with_only_a_warning_note_is_used_as_it_is(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = patient_view_request(breast_bundle, "EX-001")
    note = copy.deepcopy(_FAILED_SEARCH_NOTE)
    note["resource"]["issue"][0]["severity"] = "warning"
    body["prefetch"]["observations"].setdefault("entry", []).append(note)
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 200, response.text
    assert response.json()["cards"][0]["summary"].startswith("SINS 11")


# --- bad calls ------------------------------------------------------------------------------------------------------------

BAD_CALLS: list[tuple[str, Callable[[dict[str, Any]], None], int, str]] = [
    ("wrong hook for the service", lambda b: b.update(hook="order-sign"), 400, "hook must be 'patient-view'"),
    ("no patientId", lambda b: b["context"].pop("patientId"), 400, "context.patientId"),
    ("no hookInstance", lambda b: b.pop("hookInstance"), 400, "hookInstance"),
    # patient-view context: patientId, userId, encounterId are strings, the values of prefetch tokens;
    # a number left {{context.patientId}} unreplaced in the query sent to the fhirServer
    ("patientId a number", lambda b: b["context"].update(patientId=123), 400, "context.patientId must be"),
    ("encounterId an object", lambda b: b["context"].update(encounterId={}), 400, "context.encounterId"),
    (
        "prefetched patient is someone else",
        lambda b: b["prefetch"]["patient"].update(id="someone-else"),
        400,
        "prefetch.patient.id",
    ),
    (
        "malformed observation value",
        lambda b: b["prefetch"]["observations"]["entry"][0]["resource"].update(valueBoolean="maybe"),
        400,
        "valueBoolean must be a valid boolean",
    ),
]


@pytest.mark.parametrize(("case", "change", "status", "message"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_hook_calls_are_answered_with_the_reason(
    client: TestClient,
    signer: Signer,
    breast_bundle: dict[str, Any],
    case: str,
    change: Callable[[dict[str, Any]], None],
    status: int,
    message: str,
) -> None:
    body = patient_view_request(breast_bundle, "EX-001")
    obs = body["prefetch"]["observations"]["entry"]
    obs.sort(key=lambda e: "valueBoolean" not in e["resource"])  # a boolean observation first
    change(body)
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_an_optional_context_field_sent_as_null_is_absent_and_a_refusal_shows_the_value(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    """patient-view's encounterId is optional (0..1): an EHR that sends it as null outside an encounter got
    no cards at all ('must be a non-empty string; got 'NoneType''); and a refused number read as the text
    'int' rather than the value sent."""
    body = patient_view_request(breast_bundle, "EX-001")
    body["context"]["encounterId"] = None
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 200, response.text
    body = patient_view_request(breast_bundle, "EX-001")
    body["context"]["patientId"] = 123
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 400
    assert response.json()["detail"].endswith("got 123")


def test_unknown_service_is_404(client: TestClient, signer: Signer) -> None:
    response = call(client, signer, "no-such-service", {})
    assert response.status_code == 404


# --- feedback ---------------------------------------------------------------------------------------------------------------


def test_feedback_is_accepted_and_kept(client: TestClient, signer: Signer) -> None:
    body = {
        "feedback": [
            {
                "card": "9368d37b-283f-44a0-93ea-547cc6a1d2cb",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                "outcomeTimestamp": "2026-11-20T10:15:00Z",
            },
            {
                "card": "5b4c4e0c-4f5d-4a8b-8a8f-3f6f7f2e9d11",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {
                        "code": "team-decision",
                        "system": "https://spinemets.org/fhir/CodeSystem/override",
                        "display": "Tumour board decided otherwise",
                    },
                    "userComment": "Discussed on Tuesday",
                },
                "outcomeTimestamp": "2026-11-20T10:16:00Z",
            },
        ]
    }
    response = call(client, signer, cds.PATIENT_VIEW, body, "/feedback")
    assert response.status_code == 200, response.text
    kept = client.app.state.interop.feedback.items()  # type: ignore[attr-defined]
    assert [(sid, f.outcome.value) for sid, f in kept] == [
        (cds.PATIENT_VIEW, "accepted"),
        (cds.PATIENT_VIEW, "overridden"),
    ]


CARD = "9368d37b-283f-44a0-93ea-547cc6a1d2cb"
GOOD_ITEM = {"card": CARD, "outcome": "overridden", "outcomeTimestamp": "2026-11-20T10:16:00Z"}


@pytest.mark.parametrize(
    "body",
    [
        {"feedback": []},
        {"feedback": [{"card": CARD, "outcome": "ignored", "outcomeTimestamp": "2026-11-20T10:15:00Z"}]},
    ],
    ids=["empty", "unknown outcome"],
)
def test_malformed_feedback_is_400(client: TestClient, signer: Signer, body: dict[str, Any]) -> None:
    assert call(client, signer, cds.PATIENT_VIEW, body, "/feedback").status_code == 400


# CDS Hooks 2.0 "Feedback": card (the card.uuid) and outcome and outcomeTimestamp (ISO timestamp in UTC)
# required; acceptedSuggestions (ids: card.suggestion.uuid) required for accepted outcomes;
# overrideReason optional, with reason a Coding (code and system required) and/or userComment.
BAD_FEEDBACK: list[tuple[str, dict[str, Any], str, str]] = [
    ("timestamp in words", {"outcomeTimestamp": "yesterday"}, "outcomeTimestamp", "an ISO 8601 date-time"),
    ("timestamp without zone", {"outcomeTimestamp": "2026-11-20T10:16:00"}, "outcomeTimestamp", "time zone"),
    ("date without time", {"outcomeTimestamp": "2026-11-20"}, "outcomeTimestamp", "date-time"),
    ("impossible timestamp", {"outcomeTimestamp": "2026-02-30T10:00:00Z"}, "outcomeTimestamp", "ISO 8601"),
    (
        "card id of 10,000 characters",
        {"card": "c" * 10_000},
        "card",
        "the uuid of a card this service returned",
    ),
    ("card id not a uuid", {"card": "card-1"}, "card", "the uuid of a card"),
    (
        "override reason outside the offered ones",
        {"overrideReason": {"reason": {"system": cds.OVERRIDE_SYSTEM, "code": "nope"}}},
        "overrideReason.reason.code",
        "one of not-applicable, data-wrong, team-decision",
    ),
    (
        "override reason without a system",
        {"overrideReason": {"reason": {"code": "nope"}}},
        "overrideReason.reason.system",
        "required",
    ),
    ("empty override reason", {"overrideReason": {}}, "overrideReason", "a reason (Coding) or a userComment"),
    (
        "override comment too long",
        {"overrideReason": {"userComment": "x" * (cds.USER_COMMENT_MAX + 1)}},
        "overrideReason.userComment",
        "at most 2000 characters",
    ),
    ("accepted without suggestions", {"outcome": "accepted"}, "acceptedSuggestions", "at least one"),
    (
        "accepted suggestion id not a uuid",
        {"outcome": "accepted", "acceptedSuggestions": [{"id": "s" * 5000}]},
        "acceptedSuggestions[0].id",
        "the uuid of a card suggestion",
    ),
    (
        "overridden with accepted suggestions",
        {"acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}]},
        "acceptedSuggestions",
        "absent when outcome is overridden",
    ),
    (
        "accepted with an override reason",
        {
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
            "overrideReason": {"userComment": "why"},
        },
        "overrideReason",
        "absent when outcome is accepted",
    ),
    ("unknown field", {"comment": "free text"}, "comment", "a known field"),
]


@pytest.mark.parametrize(
    ("change", "field", "allowed"), [b[1:] for b in BAD_FEEDBACK], ids=[b[0] for b in BAD_FEEDBACK]
)
def test_invalid_feedback_is_refused_whole_naming_item_and_field_and_nothing_is_kept(
    client: TestClient, signer: Signer, change: dict[str, Any], field: str, allowed: str
) -> None:
    """The second item is bad: the first, valid one is not kept either (the log is append-only)."""
    body = {"feedback": [GOOD_ITEM, {**GOOD_ITEM, **change}]}
    response = call(client, signer, cds.PATIENT_VIEW, body, "/feedback")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    (error,) = problem["errors"]
    assert error["field"] == f"feedback[1].{field}"
    assert allowed in error["allowed"]
    assert problem["detail"].startswith(f"feedback[1].{field} must be ")
    assert len(problem["detail"]) < 1000  # a long value is shown by its start
    assert client.app.state.interop.feedback.items() == []  # type: ignore[attr-defined]


def test_feedback_with_the_ehrs_own_override_reason_or_a_zone_offset_is_kept(
    client: TestClient, signer: Signer
) -> None:
    """CDS Hooks 2.0 lets the EHR offer reasons of its own beside the service's; a timestamp with an
    explicit offset names one instant."""
    own = {"reason": {"system": "https://ehr.example.org/override", "code": "patient-declined"}}
    body = {
        "feedback": [
            {**GOOD_ITEM, "overrideReason": own},
            {**GOOD_ITEM, "outcomeTimestamp": "2026-11-20T11:16:00.5+01:00"},
            {**GOOD_ITEM, "overrideReason": {"userComment": "Discussed at the tumour board"}},
        ]
    }
    response = call(client, signer, cds.PATIENT_VIEW, body, "/feedback")
    assert response.status_code == 200, response.text
    assert len(client.app.state.interop.feedback.items()) == 3  # type: ignore[attr-defined]


def test_the_card_uuids_this_service_returns_pass_the_feedback_check(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    request = patient_view_request(breast_bundle, "EX-001")
    cards = call(client, signer, cds.PATIENT_VIEW, request).json()["cards"]
    items = [
        {
            **GOOD_ITEM,
            "card": card["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": sug["uuid"]}],
        }
        for card in cards
        for sug in card.get("suggestions", [])[:1]
    ] + [
        {**GOOD_ITEM, "card": card["uuid"], "overrideReason": {"reason": card["overrideReasons"][0]}}
        for card in cards
        if card.get("overrideReasons")
    ]
    assert items
    assert call(client, signer, cds.PATIENT_VIEW, {"feedback": items}, "/feedback").status_code == 200


# --- card model ----------------------------------------------------------------------------------------------------------------


def test_summary_is_cut_at_a_word_below_140_characters() -> None:
    # CDS Hooks 2.0, Card attributes: summary is a "<140-character summary message"
    text = "Ask a spine surgeon to assess stability " * 6
    short = cds.shorten(text)
    assert len(short) < 140 and short.endswith("…")
    assert text.startswith(short[:-1])
    assert cds.shorten("SINS 14 (unstable)") == "SINS 14 (unstable)"


def test_a_card_refuses_a_summary_of_140_characters_or_more() -> None:
    with pytest.raises(ValueError, match="139"):
        cds.Card(uuid="u", summary="x" * 140, indicator="info", source=cds.Source(label="s"))
    assert (
        len(cds.Card(uuid="u", summary="x" * 139, indicator="info", source=cds.Source(label="s")).summary)
        == 139
    )


# --- fetching from the EHR's FHIR server (httpx, mocked transport) ----------------------------------------------


def _server(
    pages: dict[str, dict[str, Any]], status: int = 200
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=pages.get(str(request.url), {}))

    return httpx.MockTransport(handler), seen


def test_http_fetcher_sends_the_token_and_follows_next_links() -> None:
    base = "https://fhir.ehr.example.org/r4"
    obs = [{"resource": {"resourceType": "Observation", "id": f"o{i}"}} for i in range(3)]
    pages = {
        f"{base}/Observation?patient=p1": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": obs[:2],
            "link": [{"relation": "next", "url": f"{base}/Observation?patient=p1&page=2"}],
        },
        f"{base}/Observation?patient=p1&page=2": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": obs[2:],
        },
    }
    transport, seen = _server(pages)
    fetch = cds.http_fetcher(transport=transport)
    got = fetch(base, "Observation?patient=p1", cds.FhirAuthorization(access_token="tok"))
    assert [e["resource"]["id"] for e in got["entry"]] == ["o0", "o1", "o2"]
    assert [r.headers["authorization"] for r in seen] == ["Bearer tok", "Bearer tok"]


def test_http_fetcher_turns_a_refusal_into_412_material() -> None:
    transport, _ = _server({}, status=401)
    fetch = cds.http_fetcher(transport=transport)
    with pytest.raises(cds.PrefetchUnavailableError, match="answered 401"):
        fetch("https://fhir.ehr.example.org/r4", "Patient/p1", None)
