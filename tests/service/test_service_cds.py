"""CDS Hooks state in the service database: one jti replay cache and one feedback log for every worker.

Each test runs two app instances (as two ``spinemets serve --workers 2`` processes would be), each with
its own store on one shared database, once on SQLite and once on PostgreSQL. CDS Hooks 2.0 ("Trusting
CDS Clients"): a service must refuse a JWT whose jti it has already seen.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from spinemets.interop import cds_hooks as cds
from spinemets.service import audit
from spinemets.service.app import create_app
from spinemets.service.cds_store import DbFeedbackLog, DbReplayCache
from spinemets.service.settings import CdsIssuer, load_settings
from spinemets.service.storage import AssessmentStore
from tests.interop.conftest import BASE_URL, Signer, load_fixture, prefetch_from
from tests.service.conftest import LOOPBACK, LOOPBACK_URL

HOOK_URL = f"{BASE_URL}/cds-services/{cds.PATIENT_VIEW}"
FEEDBACK_URL = HOOK_URL + "/feedback"

FEEDBACK: dict[str, list[dict[str, Any]]] = {
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


CARD_FROM_TWO = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[AssessmentStore, AssessmentStore]]:
    """Two stores on one database, as two worker processes hold them."""
    a, b = AssessmentStore(db_url), AssessmentStore(db_url)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.fixture
def workers(
    stores: tuple[AssessmentStore, AssessmentStore], db_url: str, signer: Signer, tmp_path: Path
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances sharing one database (one per store)."""
    settings = load_settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        public_base_url=BASE_URL,
        cds_hooks_issuers=(CdsIssuer(iss=signer.iss, jwks=signer.jwks),),
    )
    with (
        TestClient(create_app(settings, store=stores[0]), client=LOOPBACK, base_url=LOOPBACK_URL) as one,
        TestClient(create_app(settings, store=stores[1]), client=LOOPBACK, base_url=LOOPBACK_URL) as two,
    ):
        yield one, two


def _hook_body() -> dict[str, Any]:
    bundle = load_fixture("breast_t12_mechanical.bundle.json")
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/dr-a", "patientId": "EX-001"},
        "prefetch": prefetch_from(bundle),
    }


def _post(client: TestClient, path: str, token: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_token_replayed_to_another_worker_is_refused(
    workers: tuple[TestClient, TestClient], signer: Signer
) -> None:
    one, two = workers
    token = signer.token(HOOK_URL)
    body = _hook_body()
    first = _post(one, f"/cds-services/{cds.PATIENT_VIEW}", token, body)
    assert first.status_code == 200, first.text
    for worker in (two, one):
        again = _post(worker, f"/cds-services/{cds.PATIENT_VIEW}", token, body)
        assert again.status_code == 401
        assert "jti already used" in again.json()["detail"]
    fresh = _post(two, f"/cds-services/{cds.PATIENT_VIEW}", signer.token(HOOK_URL), body)
    assert fresh.status_code == 200, fresh.text


def test_feedback_sent_to_one_worker_is_seen_by_the_other_and_audited(
    workers: tuple[TestClient, TestClient], stores: tuple[AssessmentStore, AssessmentStore], signer: Signer
) -> None:
    one, two = workers
    path = f"/cds-services/{cds.PATIENT_VIEW}/feedback"
    assert _post(one, path, signer.token(FEEDBACK_URL), FEEDBACK).status_code == 200
    later = {"feedback": [FEEDBACK["feedback"][0] | {"card": CARD_FROM_TWO}]}
    assert _post(two, path, signer.token(FEEDBACK_URL), later).status_code == 200
    for worker in (one, two):
        kept = worker.app.state.interop.feedback.items()  # type: ignore[attr-defined]
        assert [(sid, f.card, f.outcome.value) for sid, f in kept] == [
            (cds.PATIENT_VIEW, "9368d37b-283f-44a0-93ea-547cc6a1d2cb", "accepted"),
            (cds.PATIENT_VIEW, "5b4c4e0c-4f5d-4a8b-8a8f-3f6f7f2e9d11", "overridden"),
            (cds.PATIENT_VIEW, CARD_FROM_TWO, "accepted"),
        ]
        assert kept[1][1].overrideReason is not None
        assert kept[1][1].overrideReason.userComment == "Discussed on Tuesday"
    entries = [e for e in audit.entries(stores[1].engine) if e.action == "cds.feedback"]
    assert [(e.actor, e.object_id, e.details["outcomes"]) for e in entries] == [
        (signer.iss, cds.PATIENT_VIEW, ["accepted", "overridden"]),
        (signer.iss, cds.PATIENT_VIEW, ["accepted"]),
    ]
    assert "Tuesday" not in str([e.details for e in entries])  # comments are kept, never audited
    assert audit.verify(stores[0].engine).ok


def test_the_database_refuses_to_edit_or_remove_feedback(
    stores: tuple[AssessmentStore, AssessmentStore],
) -> None:
    store = stores[0]
    DbFeedbackLog(store).add(
        cds.PATIENT_VIEW, [cds.FeedbackItem.model_validate(FEEDBACK["feedback"][0])], client="ehr"
    )
    for statement in ("UPDATE cds_feedback SET outcome = 'overridden'", "DELETE FROM cds_feedback"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(DbFeedbackLog(stores[1]).items()) == 1


def test_concurrent_first_uses_of_one_jti_let_exactly_one_through(
    stores: tuple[AssessmentStore, AssessmentStore],
) -> None:
    caches = [DbReplayCache(s) for s in stores]
    now = time.time()
    jtis = [f"race-{i}" for i in range(15)]
    wins: dict[str, list[bool]] = {j: [] for j in jtis}
    barrier = threading.Barrier(4)

    def run(cache: DbReplayCache) -> None:
        barrier.wait()
        for jti in jtis:
            wins[jti].append(cache.claim("https://ehr.example.org", jti, now + 300, now=now, leeway_s=30))

    threads = [threading.Thread(target=run, args=(caches[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(sorted(w) == [False, False, False, True] for w in wins.values()), wins


def test_expired_jti_rows_are_pruned_and_other_issuers_are_independent(
    stores: tuple[AssessmentStore, AssessmentStore],
) -> None:
    one, two = (DbReplayCache(s) for s in stores)
    now = time.time()
    assert one.claim("https://a.example.org", "j1", now + 60, now=now, leeway_s=30)
    assert two.claim("https://b.example.org", "j1", now + 60, now=now, leeway_s=30)
    assert not two.claim("https://a.example.org", "j1", now + 60, now=now, leeway_s=30)
    assert ("https://a.example.org", "j1") in one
    later = now + 60 + 31  # past exp plus the leeway: the token would be refused as expired
    assert two.claim("https://a.example.org", "j2", later + 60, now=later, leeway_s=30)
    assert ("https://a.example.org", "j1") not in one
    assert ("https://b.example.org", "j1") not in one
    assert ("https://a.example.org", "j2") in one


def test_invalid_feedback_leaves_no_row_and_no_audit_entry(
    workers: tuple[TestClient, TestClient], stores: tuple[AssessmentStore, AssessmentStore], signer: Signer
) -> None:
    """The tester's three items (a timestamp in words, an override code the cards never offered, a
    10,000-character card id) each went into the append-only table with 200 {}; now the whole call is
    refused with a 400 problem naming the item and the field, before anything is written."""
    one, _ = workers
    path = f"/cds-services/{cds.PATIENT_VIEW}/feedback"
    good = FEEDBACK["feedback"][1]
    for bad, field in (
        ({"outcomeTimestamp": "yesterday"}, "outcomeTimestamp"),
        (
            {"overrideReason": {"reason": {"system": cds.OVERRIDE_SYSTEM, "code": "nope"}}},
            "overrideReason.reason.code",
        ),
        ({"card": "c" * 10_000}, "card"),
    ):
        response = _post(one, path, signer.token(FEEDBACK_URL), {"feedback": [good, good | bad]})
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == f"feedback[1].{field}"
    with stores[0].engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cds_feedback")).scalar_one() == 0
    assert [e for e in audit.entries(stores[0].engine) if e.action == "cds.feedback"] == []


def test_feedback_stored_before_the_check_is_still_read_back(
    stores: tuple[AssessmentStore, AssessmentStore],
) -> None:
    """Rows already in the append-only table stay readable as they were written."""
    old = cds.FeedbackItem.model_validate(
        {"card": "x", "outcome": "accepted", "outcomeTimestamp": "yesterday"}
    )
    DbFeedbackLog(stores[0]).add(cds.PATIENT_VIEW, [old], client="ehr")
    assert DbFeedbackLog(stores[1]).items() == [(cds.PATIENT_VIEW, old)]


def test_a_malformed_hook_call_names_the_field_like_feedback_does(
    workers: tuple[TestClient, TestClient], signer: Signer
) -> None:
    """Both CDS Hooks routes answer a bad body with the structured field, value and allowed."""
    one, _ = workers
    response = _post(
        one, f"/cds-services/{cds.PATIENT_VIEW}", signer.token(HOOK_URL), {"hook": "patient-view"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["field"] and "allowed" in error
