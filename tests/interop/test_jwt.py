"""Authentication of the CDS client by JWT, as CDS Hooks 2.0 "Trusting CDS Clients" requires.

The EHR signs a JWT (ES384 or RS384) with iss, sub, aud = the service endpoint URL, exp, iat and jti;
the service checks the issuer against its allow-list, the signature with that issuer's key, the
audience, the expiry and that the jti was not used before.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from spinemets.interop import cds_hooks as cds
from spinemets.service.settings import CdsIssuer
from tests.interop.conftest import BASE_URL, EHR_ISS, Signer
from tests.interop.test_cds_hooks import patient_view_request

URL = f"{BASE_URL}/cds-services/{cds.PATIENT_VIEW}"


def post(
    client: TestClient,
    token: str | None,
    body: dict[str, Any],
    path: str = f"/cds-services/{cds.PATIENT_VIEW}",
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(path, json=body, headers=headers)


@pytest.fixture
def body(breast_bundle: dict[str, Any]) -> dict[str, Any]:
    return patient_view_request(breast_bundle, "EX-001")


def test_valid_es384_token_is_accepted(client: TestClient, signer: Signer, body: dict[str, Any]) -> None:
    assert post(client, signer.token(URL), body).status_code == 200


def test_valid_rs384_token_with_a_pem_key_is_accepted(
    app_factory: Callable[..., TestClient], body: dict[str, Any]
) -> None:
    rsa_ehr = Signer(iss="https://rsa-ehr.example.org", kid="rsa-1", alg="RS384")
    client = app_factory(issuers=(CdsIssuer(iss=rsa_ehr.iss, public_key_pem=rsa_ehr.public_pem),))
    assert post(client, rsa_ehr.token(URL), body).status_code == 200


def test_configured_audience_is_accepted(
    app_factory: Callable[..., TestClient], signer: Signer, body: dict[str, Any]
) -> None:
    client = app_factory(cds_hooks_audience="https://spinemets.hospital.example")
    assert post(client, signer.token("https://spinemets.hospital.example"), body).status_code == 200
    aud = f"https://spinemets.hospital.example/cds-services/{cds.PATIENT_VIEW}"
    assert post(client, signer.token(aud), body).status_code == 200


REFUSALS: list[tuple[str, Callable[[Signer], str], str]] = [
    ("no token", lambda s: "", "a CDS Hooks JWT is required"),
    ("not a JWT", lambda s: "not-a-jwt", "malformed JWT"),
    ("wrong issuer", lambda s: s.token(URL, iss="https://evil.example.org"), "is not on the allow-list"),
    (
        "wrong audience",
        lambda s: s.token("https://other.example.org/cds-services/x"),
        "aud is not this service endpoint",
    ),
    (
        "expired",
        lambda s: s.token(URL, iat=int(time.time()) - 900, exp=int(time.time()) - 600),
        "token expired",
    ),
    (
        "issued in the future",
        lambda s: s.token(URL, iat=int(time.time()) + 600, exp=int(time.time()) + 900),
        "future",
    ),
    ("no jti", lambda s: s.token(URL, jti=None), "required claim missing: jti"),
    ("no exp", lambda s: s.token(URL, exp=None), "required claim missing: exp"),
    ("too long-lived", lambda s: s.token(URL, exp=int(time.time()) + 86400), "lifetime exceeds"),
    (
        "bad signature",
        lambda s: Signer(iss=EHR_ISS, kid=s.kid).token(URL),  # same issuer and kid, another private key
        "signature does not verify",
    ),
    (
        "shared-secret algorithm",
        lambda s: jwt.encode(
            {"iss": EHR_ISS, "aud": URL, "exp": int(time.time()) + 60, "iat": int(time.time()), "jti": "x"},
            "a-shared-secret-that-is-long-enough-for-hs256",
            algorithm="HS256",
            headers={"kid": s.kid},
        ),
        "algorithm 'HS256' not accepted",
    ),
    (
        "unknown kid",
        lambda s: jwt.encode(
            {"iss": EHR_ISS, "aud": URL, "exp": int(time.time()) + 60, "iat": int(time.time()), "jti": "y"},
            s.private,
            algorithm="ES384",
            headers={"kid": "rotated-away"},
        ),
        "no unique key with kid 'rotated-away'",
    ),
    (
        "jku not allow-listed",
        lambda s: jwt.encode(
            {"iss": EHR_ISS, "aud": URL, "exp": int(time.time()) + 60, "iat": int(time.time()), "jti": "z"},
            s.private,
            algorithm="ES384",
            headers={"kid": s.kid, "jku": "https://evil.example.org/jwks"},
        ),
        "jku 'https://evil.example.org/jwks' is not the JWKS URL",
    ),
]


@pytest.mark.parametrize(("case", "make", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_invalid_tokens_are_refused_with_the_failed_check(
    client: TestClient,
    signer: Signer,
    body: dict[str, Any],
    case: str,
    make: Callable[[Signer], str],
    reason: str,
) -> None:
    response = post(client, make(signer) or None, body)
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_replayed_jti_is_refused(client: TestClient, signer: Signer, body: dict[str, Any]) -> None:
    token = signer.token(URL, jti=str(uuid.uuid4()))
    assert post(client, token, body).status_code == 200
    again = post(client, token, body)
    assert again.status_code == 401
    assert "jti already used" in again.json()["detail"]


def test_the_same_jti_from_another_issuer_is_not_a_replay() -> None:
    a, b = Signer(iss="https://a.example.org"), Signer(iss="https://b.example.org")
    verifier = cds.JwtVerifier([CdsIssuer(iss=a.iss, jwks=a.jwks), CdsIssuer(iss=b.iss, jwks=b.jwks)])
    verifier.verify(a.token(URL, jti="same"), URL)
    verifier.verify(b.token(URL, jti="same"), URL)
    with pytest.raises(cds.AuthenticationError, match="jti already used"):
        verifier.verify(a.token(URL, jti="same"), URL)


def test_replay_cache_forgets_a_jti_once_its_token_has_expired(signer: Signer) -> None:
    now = [time.time()]
    cache = cds.MemoryReplayCache()
    verifier = cds.JwtVerifier(
        [CdsIssuer(iss=signer.iss, jwks=signer.jwks)], clock=lambda: now[0], replay=cache
    )
    verifier.verify(signer.token(URL, jti="j1"), URL)
    assert ("https://ehr.example.org", "j1") in cache
    now[0] += 3600
    verifier._check_replay(signer.iss, "j2", now[0] + 60, now[0])
    assert ("https://ehr.example.org", "j1") not in cache
    assert ("https://ehr.example.org", "j2") in cache


def test_an_overlong_jti_is_refused(client: TestClient, signer: Signer, body: dict[str, Any]) -> None:
    response = post(client, signer.token(URL, jti="x" * (cds.MAX_JTI + 1)), body)
    assert response.status_code == 401
    assert f"longer than {cds.MAX_JTI}" in response.json()["detail"]


def test_feedback_needs_a_token_too(client: TestClient, signer: Signer) -> None:
    card = "9368d37b-283f-44a0-93ea-547cc6a1d2cb"
    body = {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-20T10:15:00Z"}]}
    path = f"/cds-services/{cds.PATIENT_VIEW}/feedback"
    assert post(client, None, body, path).status_code == 401
    assert post(client, signer.token(URL + "/feedback"), body, path).status_code == 200


def test_without_configured_issuers_every_call_is_refused(
    app_factory: Callable[..., TestClient], signer: Signer, body: dict[str, Any]
) -> None:
    client = app_factory(issuers=())
    response = post(client, signer.token(URL), body)
    assert response.status_code == 401
    assert "allow-list" in response.json()["detail"]


def test_jwt_check_can_be_switched_off_for_a_local_sandbox(
    app_factory: Callable[..., TestClient], body: dict[str, Any]
) -> None:
    client = app_factory(cds_hooks_require_jwt=False)
    assert post(client, None, body).status_code == 200
