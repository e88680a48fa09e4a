"""HTTP endpoints of the EHR integration: ``POST /fhir/$assess`` and CDS Hooks 2.0.

* ``POST /fhir/$assess``: a FHIR R4 Bundle in, a Bundle of RiskAssessments and the plan (RequestGroup)
  out; invalid or unmapped input is an OperationOutcome naming the resource, element and value. Needs
  an API key with the ``read`` scope (the result is computed, not stored).
* ``GET /fhir/CodeSystem/spinemets``: the local code system (generated from the patient model).
* ``GET /cds-services``: discovery. ``POST /cds-services/{id}``: a hook call, authenticated by the
  EHR's JWT. ``POST /cds-services/{id}/feedback``: what the clinician did with the cards.

In the service the used JWT ids and the feedback are kept in the database (:mod:`spinemets.service.cds_store`),
so every worker process refuses a replay and sees all feedback.

Configuration comes from the service settings (``cds_hooks_issuers``, ``cds_hooks_audience``,
``cds_hooks_require_jwt``, ``public_base_url``) through :func:`spinemets.service.deps.get_settings`.
Route handlers only translate: mapping is :mod:`spinemets.interop.fhir`, scoring is :func:`spinemets.assess`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

import spinemets
from spinemets.errors import InvalidInputError
from spinemets.interop import cds_hooks as cds
from spinemets.interop import fhir
from spinemets.interop.codes import code_system_resource
from spinemets.model.validation import error_from_validation
from spinemets.service.cds_store import DbFeedbackLog, DbReplayCache
from spinemets.service.deps import get_settings, require_scope
from spinemets.service.problems import check_unicode, field_problem, withhold
from spinemets.service.settings import ServiceSettings
from spinemets.service.storage import AssessmentStore

FHIR_JSON = "application/fhir+json"

router = APIRouter()
fhir_caller = require_scope("read")
"""Who may call ``$assess``: an API key (or session) with the read scope; tests may override it."""


@dataclass
class InteropState:
    """Per-app state: the JWT verifier (with its jti cache), the feedback log and the FHIR fetcher."""

    verifier: cds.JwtVerifier
    feedback: cds.FeedbackStore = field(default_factory=cds.FeedbackLog)
    fetcher: cds.Fetcher | None = field(default_factory=cds.http_fetcher)


def interop_state(settings: ServiceSettings, store: AssessmentStore | None) -> InteropState:
    """The interop state of an app: with a store, the jti cache and the feedback log live in its
    database (shared by every worker process); without one (the router used on its own), in memory."""
    if store is None:
        return InteropState(verifier=cds.JwtVerifier(settings.cds_hooks_issuers))
    return InteropState(
        verifier=cds.JwtVerifier(settings.cds_hooks_issuers, replay=DbReplayCache(store)),
        feedback=DbFeedbackLog(store),
    )


def get_interop(request: Request, settings: ServiceSettings = Depends(get_settings)) -> InteropState:
    """The app's interop state, built from the settings (and the app's store) on first use."""
    state: InteropState | None = getattr(request.app.state, "interop", None)
    if state is None:
        state = interop_state(settings, getattr(request.app.state, "store", None))
        request.app.state.interop = state
    return state


def _outcome(status: int, exc: InvalidInputError, bundle: Any) -> JSONResponse:
    """The refusal as an OperationOutcome: the diagnostics name resource, element and value as the sender
    knows them; ``expression`` (FHIRPath only) locates the element in the Bundle when there is one."""
    issue: dict[str, Any] = {"severity": "error", "code": "invalid", "diagnostics": str(exc)}
    expression = fhir.fhirpath(exc.field, bundle) if isinstance(bundle, dict) else None
    if expression is not None:
        issue["expression"] = [expression]
    return JSONResponse(
        {"resourceType": "OperationOutcome", "issue": [issue]}, status_code=status, media_type=FHIR_JSON
    )


def _problem(
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    error: InvalidInputError | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if error is not None:  # the field, value and what is allowed, as the REST API's problems give them
        body["errors"] = [field_problem(error).model_dump(mode="json", exclude_none=True)]
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


@router.post(
    "/fhir/$assess",
    tags=["fhir"],
    summary="Assess a patient from a FHIR R4 Bundle",
    response_description="A collection Bundle: one RiskAssessment per score and the plan as a RequestGroup.",
)
def fhir_assess(
    bundle: dict[str, Any] = Body(
        ..., description="A FHIR R4 Bundle (Patient, Condition, Observation, ...).", media_type=FHIR_JSON
    ),
    _caller: Any = Depends(fhir_caller),
) -> JSONResponse:
    try:
        mapping = fhir.map_bundle(bundle, strict=True)
        assessment = spinemets.assess(mapping.patient)
        out = fhir.assessment_to_bundle(assessment, subject=mapping.subject, basis=mapping.used)
    except InvalidInputError as exc:
        return _outcome(422, exc, bundle)
    return JSONResponse(out, media_type=FHIR_JSON)


@router.get("/fhir/CodeSystem/spinemets", tags=["fhir"], summary="The spinemets local code system")
def local_code_system() -> JSONResponse:
    return JSONResponse(code_system_resource(), media_type=FHIR_JSON)


@router.get("/cds-services", tags=["cds-hooks"], summary="CDS Hooks discovery")
def cds_discovery() -> dict[str, Any]:
    return cds.discovery()


def _audiences(settings: ServiceSettings, service_id: str, suffix: str = "") -> list[str]:
    """The aud values accepted: the endpoint URL on the service's base URL or the configured audience."""
    bases = {settings.base_url.rstrip("/")}
    auds: list[str] = []
    if settings.cds_hooks_audience:
        bases.add(settings.cds_hooks_audience.rstrip("/"))
        auds.append(settings.cds_hooks_audience)
    for base in sorted(bases):
        auds.append(f"{base}/cds-services/{service_id}{suffix}")
    return auds


UNAUTHENTICATED = "unauthenticated"
"""The client recorded with feedback when JWTs are not required (a local sandbox)."""


def _authenticate(
    request: Request, settings: ServiceSettings, state: InteropState, auds: list[str]
) -> JSONResponse | str:
    """The trusted caller's issuer (or :data:`UNAUTHENTICATED` when JWTs are not required); else the 401."""
    if not settings.cds_hooks_require_jwt:
        return UNAUTHENTICATED
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if scheme.lower() != "bearer" or not token.strip():
        return _problem(
            401, "Unauthorized", "a CDS Hooks JWT is required (Authorization: Bearer <jwt>)", challenge
        )
    try:
        claims = state.verifier.verify(token.strip(), auds)
    except cds.AuthenticationError as exc:
        return _problem(401, "Unauthorized", str(exc), challenge)
    return str(claims["iss"])


def _service(service_id: str) -> cds.CdsService | JSONResponse:
    service = cds.SERVICES.get(service_id)
    if service is None:
        return _problem(404, "Not Found", f"no CDS service {service_id!r}; known: {', '.join(cds.SERVICES)}")
    return service


SECRET_FIELDS = ("fhirAuthorization",)
"""Request fields whose values are never echoed in an error (the EHR's access token and its details)."""


@router.post("/cds-services/{service_id}", tags=["cds-hooks"], summary="Call a CDS service (hook request)")
def cds_call(
    service_id: str,
    request: Request,
    body: dict[str, Any] = Body(...),
    settings: ServiceSettings = Depends(get_settings),
    state: InteropState = Depends(get_interop),
) -> JSONResponse:
    service = _service(service_id)
    if isinstance(service, JSONResponse):
        return service
    caller = _authenticate(request, settings, state, _audiences(settings, service_id))
    if isinstance(caller, JSONResponse):
        return caller
    try:
        check_unicode(body)
        hook = cds.HookRequest.model_validate(body)
        cds.check_context(hook, service)
        record = cds.record_bundle(hook, service, state.fetcher)
        mapping = fhir.map_bundle(record, strict=False)
        assessment = spinemets.assess(mapping.patient)
        cards = cds.build_cards(
            assessment,
            mapping,
            hook_instance=hook.hookInstance,
            report_url=f"{settings.base_url.rstrip('/')}/assess",
            selections=[str(s) for s in hook.context.get("selections") or []],
        )
    except ValidationError as exc:
        refused = withhold(error_from_validation(exc, None), SECRET_FIELDS)
        return _problem(400, "Bad Request", str(refused), error=refused)
    except InvalidInputError as exc:
        refused = withhold(exc, SECRET_FIELDS)
        return _problem(400, "Bad Request", str(refused), error=refused)
    except cds.PrefetchUnavailableError as exc:
        return _problem(412, "Precondition Failed", str(exc))
    return JSONResponse({"cards": [cds.card_json(c) for c in cards]})


@router.post("/cds-services/{service_id}/feedback", tags=["cds-hooks"], summary="Feedback on cards")
def cds_feedback(
    service_id: str,
    request: Request,
    body: dict[str, Any] = Body(...),
    settings: ServiceSettings = Depends(get_settings),
    state: InteropState = Depends(get_interop),
) -> JSONResponse:
    service = _service(service_id)
    if isinstance(service, JSONResponse):
        return service
    auds = _audiences(settings, service_id, "/feedback") + _audiences(settings, service_id)
    caller = _authenticate(request, settings, state, auds)
    if isinstance(caller, JSONResponse):
        return caller
    try:  # every item is checked before any is kept: the feedback log is append-only
        check_unicode(body)
        feedback = cds.FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        error = withhold(error_from_validation(exc, None))
        return _problem(400, "Bad Request", str(error), error=error)
    except InvalidInputError as exc:
        return _problem(400, "Bad Request", str(exc), error=exc)
    state.feedback.add(service_id, feedback.feedback, client=caller)
    return JSONResponse({})


__all__ = [
    "FHIR_JSON",
    "UNAUTHENTICATED",
    "InteropState",
    "fhir_caller",
    "get_interop",
    "interop_state",
    "router",
]
