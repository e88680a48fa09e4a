"""Fixtures of the EHR-integration tests: FHIR bundles of the seed patients, signing keys, a test app."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from spinemets.service import ehr_routes as routes
from spinemets.service.settings import CdsIssuer, ServiceSettings

FIXTURES = Path(__file__).parent / "fixtures"
BASE_URL = "https://cds.example.org"
EHR_ISS = "https://ehr.example.org"
EHR_KID = "ehr-es384-1"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def breast_bundle() -> dict[str, Any]:
    """Seed patient: breast cancer, mechanical pain from a lytic T12 metastasis (examples/breast_t12_mechanical.json)."""
    return load_fixture("breast_t12_mechanical.bundle.json")


@pytest.fixture
def cup_bundle() -> dict[str, Any]:
    """Seed patient: unknown primary with vertebral metastases (T9, L2) and inguinal lymphadenopathy."""
    return load_fixture("unknown_primary_inguinal.bundle.json")


def prefetch_from(bundle: dict[str, Any]) -> dict[str, Any]:
    """Split a collection Bundle into the prefetch keys of the CDS services (searchset Bundles per type)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    patient = by_type["Patient"][0]

    def searchset(rtype: str) -> dict[str, Any]:
        found = by_type.get(rtype, [])
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [
                {
                    "fullUrl": f"https://fhir.ehr.example.org/r4/{r['resourceType']}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in found
            ],
        }

    return {
        "patient": copy.deepcopy(patient),
        "conditions": searchset("Condition"),
        "observations": searchset("Observation"),
        "procedures": searchset("Procedure"),
        "medications": searchset("MedicationStatement"),
    }


class Signer:
    """An EHR that signs CDS Hooks JWTs (ES384 by default) as the specification describes."""

    def __init__(self, iss: str = EHR_ISS, kid: str = EHR_KID, alg: str = "ES384") -> None:
        self.iss, self.kid, self.alg = iss, kid, alg
        if alg.startswith("ES"):
            self.private = ec.generate_private_key(ec.SECP384R1())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = self.private.public_key()
        self.public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(public))
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        self.jwks = {"keys": [jwk]}

    def token(self, aud: str, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.iss,
            "sub": "client-id-of-the-ehr",
            "aud": aud,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid, "typ": "JWT"})


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer()


def make_app(issuers: tuple[CdsIssuer, ...], **settings: Any) -> FastAPI:
    """A FastAPI app with only the interop router, configured like the service would configure it."""
    app = FastAPI()
    app.state.settings = ServiceSettings(public_base_url=BASE_URL, cds_hooks_issuers=issuers, **settings)
    app.include_router(routes.router)
    app.dependency_overrides[routes.fhir_caller] = lambda: None
    return app


@pytest.fixture
def app_factory(signer: Signer) -> Callable[..., TestClient]:
    def build(**settings: Any) -> TestClient:
        issuers = settings.pop("issuers", (CdsIssuer(iss=signer.iss, jwks=signer.jwks),))
        return TestClient(make_app(issuers, **settings))

    return build


@pytest.fixture
def client(app_factory: Callable[..., TestClient]) -> TestClient:
    return app_factory()
