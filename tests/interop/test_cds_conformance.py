"""CDS Hooks 2.0 conformance of the services, each test written from a sentence of the specification.

References:
    HL7 CDS Hooks 2.0, https://cds-hooks.hl7.org/2.0/ (text: cds-hooks/docs, docs/specification/current.md).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from spinemets.interop import cds_hooks as cds
from spinemets.service.ehr_routes import InteropState
from tests.interop.conftest import Signer
from tests.interop.test_cds_hooks import call, patient_view_request

FHIR = "https://fhir.ehr.example.org/r4"


def _transport(
    handler: Callable[[httpx.Request], httpx.Response],
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.MockTransport(record), seen


def _searchset(ids: list[str], next_url: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Observation", "id": i}} for i in ids],
    }
    if next_url:
        page["link"] = [{"relation": "next", "url": next_url}]
    return page


#: Fields stamped with the moment the assessment was computed (to the second): two calls a moment
#: apart differ there and nowhere else, so comparisons of two calls' cards leave them out.
_COMPUTED_AT = frozenset({"occurrenceDateTime", "authoredOn"})


def _same_cards(response: Any) -> Any:
    """A hook response without the computed-at timestamps (a comparison across a second boundary failed)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _COMPUTED_AT}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(response)


def _with_fetcher(client: TestClient, fetcher: cds.Fetcher | None) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.state.interop = InteropState(  # type: ignore[attr-defined]
        verifier=cds.JwtVerifier(settings.cds_hooks_issuers), fetcher=fetcher
    )


# --- 1. the access token goes to the fhirServer only ----------------------------------------------------------------
# Spec, FHIR Resource Access: "the CDS Client obtains and passes directly to the CDS Service a bearer token issued
# for the CDS Service's use in executing FHIR API calls against the CDS Client's FHIR server" and "the CDS
# Service MUST take [steps] to protect patient data and access tokens" (Trusting CDS Services).


@pytest.mark.parametrize(
    "next_url",
    [
        "https://attacker.example/steal?page=2",  # another host
        "http://fhir.ehr.example.org/r4/Observation?page=2",  # another scheme
        "https://fhir.ehr.example.org:8443/r4/Observation?page=2",  # another port
        "https://fhir.ehr.example.org/admin/Observation?page=2",  # same host, outside the base path
        "https://fhir.ehr.example.org/r4/../admin?page=2",  # climbing out of the base path
        "https://user@fhir.ehr.example.org/r4/Observation?page=2",  # credentials in the URL
    ],
)
def test_a_next_link_outside_the_fhir_server_is_not_followed_and_gets_no_token(next_url: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_searchset(["o1"], next_url))

    transport, seen = _transport(handler)
    fetch = cds.http_fetcher(transport=transport)
    with pytest.raises(cds.PrefetchUnavailableError, match="outside the fhirServer"):
        fetch(FHIR, "Observation?patient=p1", cds.FhirAuthorization(access_token="secret-token"))
    assert [str(r.url) for r in seen] == [f"{FHIR}/Observation?patient=p1"]


def test_a_next_link_on_the_fhir_server_is_followed_with_the_token() -> None:
    pages = {
        f"{FHIR}/Observation?patient=p1": _searchset(["o1"], f"{FHIR}/Observation?patient=p1&page=2"),
        f"{FHIR}/Observation?patient=p1&page=2": _searchset(["o2"]),
    }
    transport, seen = _transport(lambda r: httpx.Response(200, json=pages[str(r.url)]))
    got = cds.http_fetcher(transport=transport)(
        FHIR, "Observation?patient=p1", cds.FhirAuthorization(access_token="t")
    )
    assert [e["resource"]["id"] for e in got["entry"]] == ["o1", "o2"]
    assert "link" not in got or all(ln["relation"] != "next" for ln in got["link"])
    assert [r.headers["authorization"] for r in seen] == ["Bearer t", "Bearer t"]


def test_a_foreign_next_link_is_a_412_naming_the_fhir_server(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host != "fhir.ehr.example.org":
            return httpx.Response(200, json=_searchset([]))
        return httpx.Response(200, json=_searchset([], "https://attacker.example/steal"))

    transport, seen = _transport(handler)
    _with_fetcher(client, cds.http_fetcher(transport=transport))
    body = patient_view_request(breast_bundle, "EX-001")
    del body["prefetch"]["observations"]
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 412
    assert "outside the fhirServer" in response.json()["detail"]
    assert all(r.url.host == "fhir.ehr.example.org" for r in seen)
    assert "some-opaque-fhir-access-token" not in response.text


# --- 3b. a FHIR server answering something other than FHIR JSON -----------------------------------------------------
# Spec, HTTP Status Codes: "412 Precondition Failed | The CDS Service is unable to retrieve the necessary FHIR data
# to execute its decision support, either through a prefetch request or directly calling the FHIR server."


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"no": "resourceType"}),
    ],
    ids=["html", "json-list", "json-without-resourceType"],
)
def test_a_fhir_server_answering_non_fhir_is_412(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any], answer: httpx.Response
) -> None:
    transport, _ = _transport(lambda r: answer)
    _with_fetcher(client, cds.http_fetcher(transport=transport))
    body = patient_view_request(breast_bundle, "EX-001")
    del body["prefetch"]["observations"]
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 412, response.text
    assert "FHIR server answered" in response.json()["detail"]


# --- 2. errors never echo the access token or prefetched data -------------------------------------------------------
# Spec, FHIR Resource Access: "the access token MUST be treated as a transient value by the CDS Service";
# Trusting CDS Services: the agreement covers the "steps the CDS Service MUST take to protect patient data and
# access tokens". An error body names the field and what is allowed; it does not copy the request back.

TOKEN = "some-opaque-fhir-access-token"


def _drop_hook_instance(b: dict[str, Any]) -> None:
    del b["hookInstance"]


def _token_as_number(b: dict[str, Any]) -> None:
    b["fhirAuthorization"]["expires_in"] = "soon"


def _authorization_as_text(b: dict[str, Any]) -> None:
    b["fhirAuthorization"] = "Bearer " + TOKEN


def _refused(
    client: TestClient,
    signer: Signer,
    service: str,
    request: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
) -> Any:
    """Call ``service`` with a copy of ``request`` changed by ``change``; it must be refused with 400."""
    body = copy.deepcopy(request)
    change(body)
    response = call(client, signer, service, body)
    assert response.status_code == 400, response.text
    return response


def _authorization_without_token(b: dict[str, Any]) -> None:
    b["fhirAuthorization"] = {"token": TOKEN}


def _entry_not_a_resource(b: dict[str, Any]) -> None:
    b["prefetch"]["observations"]["entry"][0]["resource"] = [b["prefetch"]["patient"]]


def _context_not_object(b: dict[str, Any]) -> None:
    b["context"] = [b["prefetch"]["patient"], TOKEN]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_drop_hook_instance, "hookInstance"),
        (_token_as_number, "fhirAuthorization.expires_in"),
        (_authorization_as_text, "fhirAuthorization"),
        (_authorization_without_token, "fhirAuthorization.access_token"),
        (_entry_not_a_resource, "prefetch.observations.entry[0].resource"),
        (_context_not_object, "context"),
    ],
)
def test_an_error_names_the_field_but_echoes_neither_token_nor_record(
    client: TestClient,
    signer: Signer,
    breast_bundle: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    response = _refused(
        client, signer, cds.PATIENT_VIEW, patient_view_request(breast_bundle, "EX-001"), change
    )
    problem = response.json()
    assert TOKEN not in response.text
    assert "EX-001" not in response.text and "birthDate" not in response.text  # nothing of the record
    assert problem["errors"][0]["field"] == field
    assert "value" not in problem["errors"][0]
    assert problem["detail"].startswith(f"{field} must be ")


# --- 3c. JWT header fields of the wrong JSON type --------------------------------------------------------------------
# Spec, Trusting CDS Clients, the JWT header: "alg | REQUIRED | *string* | The cryptographic algorithm used to sign
# this JWT." and "kid | REQUIRED | *string*"; a header that breaks this is an authentication failure (401), decided
# before the service reads anything of the request.


def _b64(data: dict[str, Any]) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims() -> dict[str, Any]:
    import time
    import uuid

    now = int(time.time())
    aud = f"https://cds.example.org/cds-services/{cds.PATIENT_VIEW}"
    return {
        "iss": "https://ehr.example.org",
        "aud": aud,
        "exp": now + 60,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }


@pytest.mark.parametrize(
    "header",
    [
        {"alg": ["ES384"], "typ": "JWT", "kid": "ehr-es384-1"},
        {"alg": {"ES384": 1}, "typ": "JWT", "kid": "ehr-es384-1"},
        {"alg": "ES384", "typ": "JWT", "kid": 5},
        {"alg": "ES384", "typ": "JWT", "kid": "ehr-es384-1", "jku": ["https://ehr.example.org/jwks"]},
    ],
    ids=["alg-list", "alg-object", "kid-number", "jku-list"],
)
def test_a_jwt_header_field_of_the_wrong_type_is_401(
    client: TestClient, breast_bundle: dict[str, Any], header: dict[str, Any]
) -> None:
    token = f"{_b64(header)}.{_b64(_claims())}.AAAA"
    response = client.post(
        f"/cds-services/{cds.PATIENT_VIEW}",
        json=patient_view_request(breast_bundle, "EX-001"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401, response.text
    assert "must be a string" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


# --- 3d/3e. text that is not Unicode ----------------------------------------------------------------------------------
# Spec, Use of JSON: "All data exchanged through production RESTful APIs MUST be sent and received as JSON
# (RFC 8259)"; RFC 8259 section 8.1: "JSON text exchanged between systems that are not part of a closed
# ecosystem MUST be encoded using UTF-8". A lone surrogate escape ("\ud800") cannot be encoded as UTF-8.

LONE = "\\ud800"  # as written in the JSON text


def test_feedback_with_a_lone_surrogate_is_400_and_nothing_is_kept(
    client: TestClient, signer: Signer
) -> None:
    raw = (
        '{"feedback":[{"card":"6dc6e22a-90b8-58ab-8072-dc8a3517e191","outcome":"overridden",'
        '"outcomeTimestamp":"2026-11-20T10:15:00Z","overrideReason":{"userComment":"no' + LONE + '"}}]}'
    )
    service = cds.PATIENT_VIEW
    token = signer.token(f"https://cds.example.org/cds-services/{service}/feedback")
    response = client.post(
        f"/cds-services/{service}/feedback",
        content=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "feedback[0].overrideReason.userComment"
    assert client.app.state.interop.feedback.items() == []  # type: ignore[attr-defined]


def test_a_lone_surrogate_in_prefetched_text_is_400_naming_the_field(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    import json

    body = patient_view_request(breast_bundle, "EX-001")
    body["prefetch"]["conditions"]["entry"][0]["resource"]["code"]["text"] = "PLACEHOLDER"
    raw = json.dumps(body).replace("PLACEHOLDER", "breast" + LONE)
    token = signer.token(f"https://cds.example.org/cds-services/{cds.PATIENT_VIEW}")
    response = client.post(
        f"/cds-services/{cds.PATIENT_VIEW}",
        content=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == "prefetch.conditions.entry[0].resource.code.text"
    assert "breast" not in problem["detail"]


# --- 4. paginated prefetch ------------------------------------------------------------------------------------------
# Spec, Prefetch Template: the prefetch result "MUST be submitted at once using the prefetch parameter (e.g., no
# "next page" links allowed)", and "It is the CDS Service's responsibility to check prefetched data against its
# template to determine what requests were satisfied (if any) and to programmatically retrieve any additional
# necessary data. If the CDS Service is unable to obtain required data because it cannot access the FHIR server
# and the request did not contain the necessary prefetch keys, the service SHALL respond with an HTTP 412".


def _paginated(body: dict[str, Any], next_url: str) -> list[dict[str, Any]]:
    """Cut prefetch 'observations' after its first entry, with a next link; the rest is returned."""
    entries = body["prefetch"]["observations"]["entry"]
    body["prefetch"]["observations"]["entry"] = entries[:1]
    body["prefetch"]["observations"]["link"] = [{"relation": "next", "url": next_url}]
    return entries[1:]


def test_a_paginated_prefetch_without_fhir_server_is_412(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = patient_view_request(breast_bundle, "EX-001")
    del body["fhirServer"], body["fhirAuthorization"]  # no FHIR server, so no token for one
    _paginated(body, f"{FHIR}/Observation?patient=EX-001&page=2")
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 412, response.text
    assert "prefetch 'observations' is paginated" in response.json()["detail"]


def test_a_paginated_prefetch_is_completed_from_the_fhir_server(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    whole = call(client, signer, cds.PATIENT_VIEW, patient_view_request(breast_bundle, "EX-001")).json()
    body = patient_view_request(breast_bundle, "EX-001")
    page2 = f"{FHIR}/Observation?patient=EX-001&page=2"
    rest = _paginated(body, page2)
    transport, seen = _transport(
        lambda r: httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset", "entry": rest})
    )
    _with_fetcher(client, cds.http_fetcher(transport=transport))
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 200, response.text
    assert [str(r.url) for r in seen] == [page2]
    assert [c["summary"] for c in response.json()["cards"]] == [c["summary"] for c in whole["cards"]]


def test_a_paginated_prefetch_linking_elsewhere_is_412_and_not_followed(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = patient_view_request(breast_bundle, "EX-001")
    _paginated(body, "https://attacker.example/r4/Observation?page=2")
    transport, seen = _transport(lambda r: httpx.Response(200, json=_searchset([])))
    _with_fetcher(client, cds.http_fetcher(transport=transport))
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 412, response.text
    assert "outside the fhirServer" in response.json()["detail"]
    assert seen == []


def test_a_search_of_more_than_the_page_limit_is_412_saying_so(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("page", "1"))
        return httpx.Response(200, json=_searchset([], f"{FHIR}/Observation?patient=EX-001&page={n + 1}"))

    transport, seen = _transport(endless)
    _with_fetcher(client, cds.http_fetcher(transport=transport))
    body = patient_view_request(breast_bundle, "EX-001")
    del body["prefetch"]["observations"]
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 412, response.text
    assert f"more than {cds.MAX_PAGES} pages" in response.json()["detail"]
    assert len(seen) == cds.MAX_PAGES


# --- 5. a null prefetch value means "no data" -------------------------------------------------------------------------
# Spec, Prefetch Template: "If the CDS Client has no data to populate a template prefetch key, the prefetch template
# key MUST have a value of null. Note that the null result is used rather than a bundle with zero entries".


def test_a_null_prefetch_value_is_no_data_not_a_missing_key(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    empty = patient_view_request(breast_bundle, "EX-001")
    empty["prefetch"]["medications"] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    expected = call(client, signer, cds.PATIENT_VIEW, empty).json()

    def fetch(server: str, query: str, auth: cds.FhirAuthorization | None) -> Any:
        raise AssertionError(f"nothing is fetched for a null prefetch key; asked for {query}")

    _with_fetcher(client, fetch)
    body = patient_view_request(breast_bundle, "EX-001")
    body["prefetch"]["medications"] = None
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 200, response.text
    assert _same_cards(response.json()) == _same_cards(expected)
    del body["fhirServer"], body["fhirAuthorization"]  # and without a fhirServer it is not a 412 either
    assert call(client, signer, cds.PATIENT_VIEW, body).status_code == 200


# --- 6. an OperationOutcome in place of prefetched data ----------------------------------------------------------------
# Spec, Prefetch Template: "It is the CDS Service's responsibility to check prefetched data against its template to
# determine what requests were satisfied (if any) and to programmatically retrieve any additional necessary data";
# CDS Hooks 2.0 lets the client send an OperationOutcome for a prefetch it failed to obtain, and services SHOULD
# check prefetched data for OperationOutcomes.

OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "timeout", "diagnostics": "search timed out"}],
}


def test_an_operation_outcome_as_prefetch_without_fhir_server_is_412_naming_the_key(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = patient_view_request(breast_bundle, "EX-001")
    del body["fhirServer"], body["fhirAuthorization"]  # no FHIR server, so no token for one
    body["prefetch"]["observations"] = copy.deepcopy(OUTCOME)
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 412, response.text
    assert "prefetch 'observations'" in response.json()["detail"]
    assert "OperationOutcome" in response.json()["detail"]


def test_an_operation_outcome_as_prefetch_is_fetched_again_from_the_fhir_server(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = patient_view_request(breast_bundle, "EX-001")
    served = body["prefetch"]["observations"]
    body["prefetch"]["observations"] = copy.deepcopy(OUTCOME)
    asked: list[str] = []

    def fetch(server: str, query: str, auth: cds.FhirAuthorization | None) -> Any:
        asked.append(query)
        return copy.deepcopy(served)

    expected = call(client, signer, cds.PATIENT_VIEW, patient_view_request(breast_bundle, "EX-001")).json()
    _with_fetcher(client, fetch)
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 200, response.text
    assert asked == ["Observation?patient=EX-001"]
    assert _same_cards(response.json()) == _same_cards(expected)


# --- 7. no empty values in cards ------------------------------------------------------------------------------------------
# Spec, Null and empty JSON elements: "Unless otherwise specified, JSON attribute values SHALL NOT be null or empty:
# `null`, `""`, `[]`, or `{}` are prohibited. If a JSON attribute is defined with an optionality of OPTIONAL, but does
# not have a value, implementers SHALL omit it."


def _empty_values(node: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if v in (None, "", [], {}):
                found.append(f"{path}.{k}")
            found += _empty_values(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _empty_values(v, f"{path}[{i}]")
    return found


def test_cards_carry_no_null_or_empty_values(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any], cup_bundle: dict[str, Any]
) -> None:
    for bundle, pid in ((breast_bundle, "EX-001"), (cup_bundle, cup_bundle["entry"][0]["resource"]["id"])):
        response = call(client, signer, cds.PATIENT_VIEW, patient_view_request(bundle, pid))
        assert response.status_code == 200, response.text
        cards = response.json()["cards"]
        assert cards
        assert _empty_values(cards) == []


# --- 8. order-select context shapes -------------------------------------------------------------------------------------
# Hook order-select, Context: "selections | REQUIRED | array | The FHIR id of the newly selected order(s). The
# selections field references FHIR resources in the draftOrders Bundle. For example, MedicationRequest/103." and
# "draftOrders | REQUIRED | object | R4 - FHIR Bundle of MedicationRequest, NutritionOrder, ServiceRequest,
# VisionPrescription with draft status".


def _selections_text(b: dict[str, Any]) -> None:
    b["context"]["selections"] = "ServiceRequest/mri-spine-1"


def _selections_objects(b: dict[str, Any]) -> None:
    b["context"]["selections"] = [{"reference": "ServiceRequest/mri-spine-1"}]


def _selections_empty(b: dict[str, Any]) -> None:
    b["context"]["selections"] = []


def _selection_not_drafted(b: dict[str, Any]) -> None:
    b["context"]["selections"] = ["ServiceRequest/does-not-exist"]


def _selection_of_an_order_without_id(b: dict[str, Any]) -> None:
    # an order without an id cannot be selected: "ServiceRequest/None" named nothing but was accepted
    b["context"]["draftOrders"]["entry"][0]["resource"].pop("id", None)
    b["context"]["selections"] = ["ServiceRequest/None"]


def _draft_orders_text(b: dict[str, Any]) -> None:
    b["context"]["draftOrders"] = "nonsense"


def _draft_orders_resource(b: dict[str, Any]) -> None:
    b["context"]["draftOrders"] = b["context"]["draftOrders"]["entry"][0]["resource"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_selections_text, "context.selections"),
        (_selections_objects, "context.selections[0]"),
        (_selections_empty, "context.selections"),
        (_selection_not_drafted, "context.selections[0]"),
        (_selection_of_an_order_without_id, "context.selections[0]"),
        (_draft_orders_text, "context.draftOrders"),
        (_draft_orders_resource, "context.draftOrders"),
    ],
)
def test_order_select_context_of_the_wrong_shape_is_400_naming_the_field(
    client: TestClient,
    signer: Signer,
    breast_bundle: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    from tests.interop.test_cds_hooks import order_select_request

    response = _refused(
        client, signer, cds.ORDER_SELECT, order_select_request(breast_bundle, "EX-001"), change
    )
    assert response.json()["errors"][0]["field"] == field


def test_order_select_names_the_selected_orders_as_given(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    from tests.interop.test_cds_hooks import order_select_request

    response = call(client, signer, cds.ORDER_SELECT, order_select_request(breast_bundle, "EX-001"))
    assert response.status_code == 200, response.text
    assert response.json()["cards"][0]["detail"].startswith("Orders selected: ServiceRequest/mri-spine-1.")


# --- 9c. JWT header kid and typ are required ---------------------------------------------------------------------------
# Spec, Trusting CDS Clients, the JWT header: "kid | REQUIRED | *string* | The identifier of the key-pair used to sign
# this JWT." and "typ | REQUIRED | *string* | Fixed value: `JWT`".


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"typ": "JWT"}, "no kid"),
        ({"kid": "ehr-es384-1", "typ": "at+jwt"}, "typ must be 'JWT'"),
        ({"kid": "ehr-es384-1", "typ": None}, "typ must be 'JWT'"),
    ],
    ids=["no-kid", "typ-at+jwt", "no-typ"],
)
def test_a_jwt_without_kid_or_typ_jwt_is_refused(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any], headers: dict[str, Any], reason: str
) -> None:
    import jwt

    token = jwt.encode(_claims(), signer.private, algorithm="ES384", headers=headers)
    response = client.post(
        f"/cds-services/{cds.PATIENT_VIEW}",
        json=patient_view_request(breast_bundle, "EX-001"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401, response.text
    assert reason in response.json()["detail"]


# --- 10. a fhirAuthorization comes with its fhirServer -----------------------------------------------------------------
# Spec, Calling a CDS Service, request fields: "fhirServer | OPTIONAL | *URL* | The base URL of the CDS Client's FHIR
# server. If fhirAuthorization is provided, this field is REQUIRED." A token without the server it is for is a
# malformed call (400 naming fhirServer), not a missing prefetch (412) nor a call to score as if it were whole.


def test_a_fhir_authorization_without_fhir_server_is_400_naming_fhir_server(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = patient_view_request(breast_bundle, "EX-001")
    del body["fhirServer"]
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "fhirServer"
    assert TOKEN not in response.text


# --- 11. the fhirServer is only called with the access token the client gave -------------------------------------------
# Spec, FHIR Resource Access: "If the CDS Client provides both `fhirServer` and `fhirAuthorization` request parameters,
# the CDS Service MAY use the FHIR server"; "a CDS Service MUST be able to obtain an access token before communicating
# with the CDS Client's FHIR resource server"; Prefetch Template: "If the CDS Service is unable to obtain required data
# because it cannot access the FHIR server and the request did not contain the necessary prefetch keys, the service
# SHALL respond with an HTTP 412 Precondition Failed status code".


def _never_called(server: str, query: str, auth: cds.FhirAuthorization | None) -> Any:
    raise AssertionError(f"the fhirServer was called without an access token for {query}")


def test_a_missing_prefetch_with_fhir_server_but_no_token_is_412_and_nothing_is_fetched(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    _with_fetcher(client, _never_called)
    body = patient_view_request(breast_bundle, "EX-001")
    del body["fhirAuthorization"], body["prefetch"]["observations"]
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 412, response.text
    detail = response.json()["detail"]
    assert "prefetch 'observations'" in detail and "no fhirAuthorization" in detail


def test_a_paginated_prefetch_with_fhir_server_but_no_token_is_412_and_no_page_is_fetched(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    _with_fetcher(client, _never_called)
    body = patient_view_request(breast_bundle, "EX-001")
    del body["fhirAuthorization"]
    _paginated(body, f"{FHIR}/Observation?patient=EX-001&page=2")
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 412, response.text
    assert "no fhirAuthorization" in response.json()["detail"]


# --- 12. a reference to the patient by its absolute URL on the fhirServer ----------------------------------------------
# FHIR R4 Reference.reference (https://hl7.org/fhir/R4/references.html#Reference): "A reference to a location at which
# the other resource is found. The reference may be a relative reference, in which case it is relative to the service
# base URL, or an absolute URL that resolves to the location where the resource is found." CDS Hooks 2.0, Prefetch
# Template: the prefetched data "MUST be equivalent to the data the CDS Service would receive if it were making its own
# call to the CDS Client's FHIR server" - so the prefetched Patient is <fhirServer>/Patient/<id>.


def _absolute_subjects(body: dict[str, Any], base: str) -> None:
    for key in ("conditions", "observations", "procedures", "medications"):
        for entry in body["prefetch"][key]["entry"]:
            entry["resource"]["subject"]["reference"] = f"{base}/Patient/EX-001"


def test_resources_naming_the_patient_by_its_absolute_url_on_the_fhir_server_are_the_patients(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    relative = call(client, signer, cds.PATIENT_VIEW, patient_view_request(breast_bundle, "EX-001"))
    body = patient_view_request(copy.deepcopy(breast_bundle), "EX-001")
    _absolute_subjects(body, FHIR)
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 200, response.text
    assert _same_cards(response.json()) == _same_cards(relative.json())


def test_a_patient_url_on_another_server_is_still_another_patient(
    client: TestClient, signer: Signer, breast_bundle: dict[str, Any]
) -> None:
    body = patient_view_request(copy.deepcopy(breast_bundle), "EX-001")
    _absolute_subjects(body, "https://other-ehr.example.org/r4")
    response = call(client, signer, cds.PATIENT_VIEW, body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"].endswith(".subject")
