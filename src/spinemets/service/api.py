"""The REST API, version 1 (``/api/v1``): thin handlers over the library and the store.

Handlers validate, call :func:`spinemets.assess` / :func:`spinemets.score` / the evidence Q&A,
store through :class:`~spinemets.service.storage.AssessmentStore` and return the library's own
serialisation; they never compute a score or a recommendation themselves.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
from collections.abc import Callable
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

import spinemets
from spinemets.assessment import Assessment
from spinemets.errors import InvalidInputError, MissingExtraError
from spinemets.evidence.qa import QUESTION_LENGTH
from spinemets.knowledge.bibliography import Reference
from spinemets.model.patient import Patient
from spinemets.scores import ScoreDefinition, ScoreResult
from spinemets.service import audit, reports
from spinemets.service.auth import Principal, Scope
from spinemets.service.deps import get_store, require_scope
from spinemets.service.problems import PROBLEM_RESPONSES
from spinemets.service.security import REPORT_CSP
from spinemets.service.storage import (
    MAX_VERSION,
    AssessmentStore,
    StoreBusyError,
    StoredAssessment,
    StoredVersionInfo,
    no_wait,
)

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scope(Scope.read))]
Writer = Annotated[Principal, Depends(require_scope(Scope.write))]
Admin = Annotated[Principal, Depends(require_scope(Scope.admin))]
Store = Annotated[AssessmentStore, Depends(get_store)]
AssessmentId = Annotated[str, Field(min_length=1, max_length=64)]
T = TypeVar("T")


# request and response models ----------------------------------------------------------------------


class AssessmentIn(BaseModel):
    """A patient to assess; the result is computed and stored with its inputs."""

    model_config = ConfigDict(extra="forbid")
    patient: Patient


class Links(BaseModel):
    model_config = ConfigDict(frozen=True)
    self: str
    versions: str
    report_html: str
    report_pdf: str
    report_json: str


class AssessmentSummary(BaseModel):
    """One stored assessment version without its inputs and outputs (for lists)."""

    model_config = ConfigDict(frozen=True)
    id: str
    version: int
    patient_id: str | None
    assessment_date: dt.date
    created_at: dt.datetime
    author: str
    ruleset_version: str
    deleted: bool
    links: Links


class AssessmentOut(AssessmentSummary):
    """One stored assessment version: the patient as entered and the assessment as computed."""

    inputs: dict[str, Any] = Field(description="The patient facts as entered.")
    outputs: dict[str, Any] = Field(description="The assessment (spinemets.Assessment as JSON).")


class AssessmentList(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[AssessmentSummary]
    limit: int
    offset: int


class ScoreInfo(BaseModel):
    """A published score: items with their definitions, bands with their meaning, and citations."""

    model_config = ConfigDict(frozen=True)
    definition: ScoreDefinition
    citations: list[Reference]


class ScoreRequest(BaseModel):
    """Either calculator items (item -> category or raw value) or a whole patient."""

    model_config = ConfigDict(extra="forbid")
    items: dict[str, str | int | float | bool | None] | None = Field(
        None, description="Calculator mode, e.g. {'pain': 'mechanical', 'level': 'T12'}."
    )
    patient: Patient | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ScoreRequest:
        if (self.items is None) == (self.patient is None):
            raise ValueError("give exactly one of 'items' or 'patient'")
        return self


class AskIn(BaseModel):
    """A clinical question for the evidence Q&A."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(
        min_length=QUESTION_LENGTH[0],
        max_length=QUESTION_LENGTH[1],
        description="A free-text clinical question.",
    )
    k: int = Field(5, ge=1, le=50, description="How many evidence statements to retrieve.")
    previous: str | None = Field(
        None,
        min_length=QUESTION_LENGTH[0],
        max_length=QUESTION_LENGTH[1],
        description="The question asked before it, for a follow-up: read only when this question alone is "
        "too broad ('What dose?'); the answer's follow_up_of then names it.",
    )


class Health(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: Literal["ok"]
    version: str
    database: str


# helpers -----------------------------------------------------------------------------------------


def ruleset_version(assessment: Any) -> str:
    """What produced a result: spinemets version, score definitions and (when present) the rule set."""
    parts = [f"spinemets {spinemets.__version__}", f"definitions {assessment.definitions_version}"]
    plan = getattr(assessment, "plan", None)
    rules = getattr(plan, "ruleset_version", None) or getattr(assessment, "ruleset_version", None)
    if rules:
        parts.append(f"rules {rules}")
    return "; ".join(parts)[:64]


def _links(request: Request | None, s: StoredAssessment | StoredVersionInfo) -> Links:
    base = f"/api/v1/assessments/{s.id}"
    return Links(
        self=f"{base}?version={s.version}",
        versions=f"{base}/versions",
        report_html=f"{base}/report?format=html&version={s.version}",
        report_pdf=f"{base}/report?format=pdf&version={s.version}",
        report_json=f"{base}/report?format=json&version={s.version}",
    )


_SUMMARY_FIELDS = (
    "id",
    "version",
    "patient_id",
    "assessment_date",
    "created_at",
    "author",
    "ruleset_version",
    "deleted",
)


def _summary(request: Request | None, s: StoredAssessment | StoredVersionInfo) -> AssessmentSummary:
    return AssessmentSummary(**{f: getattr(s, f) for f in _SUMMARY_FIELDS}, links=_links(request, s))


def _full(request: Request, s: StoredAssessment) -> AssessmentOut:
    # attributes, not model_dump(): the outputs are large and need no deep copy
    fields = {f: getattr(s, f) for f in _SUMMARY_FIELDS}
    return AssessmentOut(**fields, inputs=s.inputs, outputs=s.outputs, links=_links(request, s))


def _patient_inputs(patient: Patient) -> dict[str, Any]:
    return patient.model_dump(mode="json", exclude_unset=True)


class SavedTexts(NamedTuple):
    """A stored version and the JSON texts stored for it, as UTF-8 bytes (a reply is built from them as
    they are)."""

    info: StoredVersionInfo
    inputs_json: bytes
    outputs_json: bytes


def store_result(
    store: AssessmentStore,
    inputs: dict[str, Any],
    assessment: Assessment,
    author: str,
    *,
    assessment_id: str | None = None,
    expected_version: int | None = None,
) -> SavedTexts:
    """Store an assessment computed from ``inputs``: a new assessment, or the next version of
    ``assessment_id`` (see ``expected_version`` in :meth:`AssessmentStore.new_version`).

    The one write path of the API and the web pages. The result is serialised once, straight to JSON
    (``Assessment.model_dump_json()`` is the same text as ``to_json(model_dump(mode="json"))``,
    pydantic's one compact serialiser), so what is stored and hashed does not change; callers reply
    with these texts instead of rebuilding and re-serialising some 70 kB of nested dictionaries. The
    texts stay the serialiser's UTF-8 bytes, which are hashed and sent without encoding them again
    (:func:`.audit.to_json_utf8`). Blocking (CPU and the database): call it through :func:`run_write`.
    """
    inputs_json, outputs_json = audit.to_json_utf8(inputs), audit.to_json_utf8(assessment)
    rules = ruleset_version(assessment)
    if assessment_id is None:
        info = store.create_serialised(
            inputs,
            inputs_json,
            outputs_json,
            author=author,
            patient_id=assessment.patient.patient_id,
            ruleset_version=rules,
        )
    else:
        info = store.new_version_serialised(
            assessment_id,
            inputs,
            inputs_json,
            outputs_json,
            author=author,
            ruleset_version=rules,
            expected_version=expected_version,
        )
    return SavedTexts(info, inputs_json, outputs_json)


def assess_and_store(
    store: AssessmentStore,
    patient: Patient,
    author: str,
    *,
    assessment_id: str | None = None,
    expected_version: int | None = None,
) -> SavedTexts:
    """Assess the patient with the library and store inputs and result (:func:`store_result`)."""
    return store_result(
        store,
        _patient_inputs(patient),
        spinemets.assess(patient),
        author,
        assessment_id=assessment_id,
        expected_version=expected_version,
    )


WRITE_THREADS = 1
"""Waiting writes (see :func:`run_write`) run at once per worker process: SQLite takes one writer at a
time, so more threads would only queue on its lock."""


async def run_write(request: Request, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a write (compute and store) without ever blocking the event loop on a lock.

    The write runs on the event loop when the database takes it at once, which is nearly always;
    when SQLite's write lock is held (by another worker, or by an outside process for as long as it
    likes) it fails before writing anything (:func:`.storage.no_wait`) and runs again in a worker
    thread that waits for the lock, while the loop keeps serving. Why not always a thread: each
    database call releases the GIL, and taking it back from a busy event loop costs up to the
    interpreter's switch interval (5 ms), several times per write: the load test served about half
    the requests per second that way.
    """
    try:
        with no_wait():
            return func(*args, **kwargs)
    except StoreBusyError:
        pass
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "write_limiter", None)
    if limiter is None:
        limiter = request.app.state.write_limiter = anyio.CapacityLimiter(WRITE_THREADS)
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs), limiter=limiter)


def _stored_reply(
    request: Request,
    saved: SavedTexts,
    status: int,
    headers: dict[str, str],
    prefer: str | None = None,
) -> Response:
    """The reply to a write: AssessmentOut (or with ``Prefer: return=minimal`` the summary only).

    AssessmentOut is the summary followed by inputs and outputs: the same bytes as
    ``_full(...).model_dump_json()``, spliced from the texts already made (a test checks they are equal).
    """
    summary = audit.to_json_utf8(_summary(request, saved.info))
    if prefer and "return=minimal" in prefer.replace(" ", "").lower():
        headers["Preference-Applied"] = "return=minimal"
        return Response(summary, status_code=status, media_type="application/json", headers=headers)
    full = b"".join(
        (summary[:-1], b',"inputs":', saved.inputs_json, b',"outputs":', saved.outputs_json, b"}")
    )
    return Response(full, status_code=status, media_type="application/json", headers=headers)


# routes ------------------------------------------------------------------------------------------


@router.get("/health", response_model=Health, tags=["service"])
def health(store: Store) -> Health:
    """Liveness and database reachability (no authentication, no data)."""
    store.ping()
    return Health(status="ok", version=spinemets.__version__, database=store.dialect)


@router.post(
    "/assessments",
    status_code=201,
    response_model=AssessmentOut,
    tags=["assessments"],
    responses={201: {"description": "Stored; the body is the summary only with `Prefer: return=minimal`."}},
)
async def create_assessment(
    body: AssessmentIn,
    request: Request,
    store: Store,
    user: Writer,
    prefer: Annotated[
        str | None, Header(description="`return=minimal` (RFC 7240): reply without inputs/outputs.")
    ] = None,
) -> Response:
    """Compute every score (and the plan) for the patient, store inputs and outputs, return them."""
    saved = await run_write(request, assess_and_store, store, body.patient, user.name)
    headers = {"Location": f"/api/v1/assessments/{saved.info.id}", "ETag": _etag(saved.info)}
    return _stored_reply(request, saved, 201, headers, prefer)


def _json_response(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise a response model once, in pydantic's serialiser (it was validated when built)."""
    return Response(
        model.model_dump_json(), status_code=status, media_type="application/json", headers=headers
    )


@router.get("/assessments", response_model=AssessmentList, tags=["assessments"])
def list_assessments(
    request: Request,
    store: Store,
    user: Reader,
    patient_id: Annotated[
        str | None, Query(max_length=64, description="Pseudonymous patient identifier.")
    ] = None,
    date_from: Annotated[
        dt.date | None, Query(description="Assessment date on or after (YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[
        dt.date | None, Query(description="Assessment date on or before (YYYY-MM-DD).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AssessmentList:
    """Latest versions of stored assessments, newest first, searchable by patient and date."""
    items = store.list(
        patient_id=patient_id, date_from=date_from, date_to=date_to, limit=limit, offset=offset
    )
    return AssessmentList(items=[_summary(request, s) for s in items], limit=limit, offset=offset)


@router.get("/assessments/{assessment_id}", response_model=AssessmentOut, tags=["assessments"])
def get_assessment(
    assessment_id: AssessmentId,
    request: Request,
    store: Store,
    user: Reader,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> Response:
    """One assessment (latest version unless ``version`` is given, ETag ``"vN"``).

    Once deleted, the assessment itself is gone (410), but each of its versions stays readable for
    the record when named (``?version=n``, as the links of ``/versions`` do), marked ``deleted``.
    """
    stored = store.get(assessment_id, version)
    _refuse_deleted(stored, version)
    return _json_response(_full(request, stored), headers={"ETag": _etag(stored), **_deleted_header(stored)})


def _etag(stored: StoredAssessment | StoredVersionInfo) -> str:
    return f'"v{stored.version}"'


def _if_match_version(if_match: str | None) -> int | None:
    """The version named by an ``If-Match: "vN"`` header (RFC 9110), or None when there is none."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not (tag.startswith("v") and tag[1:].isdigit()):
        raise InvalidInputError("If-Match", if_match, 'the ETag of a version read before, e.g. "v2"')
    return int(tag[1:])


@router.put(
    "/assessments/{assessment_id}",
    response_model=AssessmentOut,
    tags=["assessments"],
    responses={
        412: PROBLEM_RESPONSES[404] | {"description": "If-Match names a version that is no longer the latest"}
    },
)
async def update_assessment(
    assessment_id: AssessmentId,
    body: AssessmentIn,
    request: Request,
    store: Store,
    user: Writer,
    if_match: Annotated[
        str | None,
        Header(description='ETag of the version being changed, e.g. "v2": refused (412) if outdated.'),
    ] = None,
) -> Response:
    """Recompute with changed facts and store as a new version; earlier versions stay unchanged."""
    expected = _if_match_version(if_match)
    saved = await run_write(
        request,
        assess_and_store,
        store,
        body.patient,
        user.name,
        assessment_id=assessment_id,
        expected_version=expected,
    )
    return _stored_reply(request, saved, 200, {"ETag": _etag(saved.info)})


@router.get(
    "/assessments/{assessment_id}/versions", response_model=list[AssessmentSummary], tags=["assessments"]
)
def list_versions(
    assessment_id: AssessmentId, request: Request, store: Store, user: Reader
) -> list[AssessmentSummary]:
    """Every version of an assessment, oldest first (also for deleted assessments, for the record)."""
    return [_summary(request, s) for s in store.versions(assessment_id)]


@router.delete("/assessments/{assessment_id}", status_code=204, tags=["assessments"])
async def delete_assessment(
    assessment_id: AssessmentId, request: Request, store: Store, user: Writer
) -> Response:
    """Soft delete (audited): the assessment leaves lists; its versions stay in the record."""
    await run_write(request, store.delete, assessment_id, author=user.name)
    return Response(status_code=204)


@router.get(
    "/assessments/{assessment_id}/report",
    tags=["assessments"],
    responses={200: {"content": {"text/html": {}, "application/pdf": {}, "application/json": {}}}},
)
def report(
    assessment_id: AssessmentId,
    store: Store,
    user: Reader,
    format: Annotated[Literal["html", "pdf", "json"], Query(description="html, pdf or json")] = "html",
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> Response:
    """The tumour-board report of a stored assessment, rendered from what was stored.

    A deleted assessment's report is served for a named version only (``?version=n``), with the
    ``Spinemets-Deleted: true`` header (and ``-deleted`` in a PDF's file name).
    """
    stored = store.get(assessment_id, version)
    _refuse_deleted(stored, version)
    marked = _deleted_header(stored)
    if format == "json":
        return JSONResponse(stored.outputs, headers=marked)
    if format == "html":
        return HTMLResponse(reports.html(stored), headers={"Content-Security-Policy": REPORT_CSP, **marked})
    return Response(
        reports.pdf(stored),
        media_type="application/pdf",
        headers={
            "Content-Disposition": reports.attachment(reports.filename(stored, stored.id[:8], "pdf")),
            **marked,
        },
    )


@router.get("/scores", response_model=list[ScoreInfo], tags=["scores"])
def list_scores(user: Reader) -> list[ScoreInfo]:
    """Every score in the catalogue with its items, definitions, bands and citations."""
    return [ScoreInfo(definition=d, citations=list(d.citations)) for d in spinemets.SCORES.values()]


@router.get("/scores/{name}", response_model=ScoreInfo, tags=["scores"])
def get_score(name: Annotated[str, Field(max_length=64)], user: Reader) -> ScoreInfo:
    """One score's published definition and citations."""
    from spinemets.scores import get_spec

    d = get_spec(name).definition
    return ScoreInfo(definition=d, citations=list(d.citations))


@router.post("/scores/{name}", response_model=ScoreResult, tags=["scores"])
def compute_score(
    name: Annotated[str, Field(max_length=64)], body: ScoreRequest, user: Reader
) -> ScoreResult:
    """Compute one score from calculator items or a patient (nothing is stored)."""
    source: Any = body.patient if body.patient is not None else (body.items or {})
    return spinemets.score(name, source)


@router.post("/ask", tags=["evidence"])
def ask(body: AskIn, user: Reader) -> JSONResponse:
    """Answer a clinical question from the curated evidence base, with numbered references."""
    try:
        evidence = importlib.import_module("spinemets.evidence")
    except ImportError:
        raise MissingExtraError("evidence Q&A", "evidence") from None
    answer = evidence.ask(body.question, body.k, previous=body.previous)
    data = answer.model_dump(mode="json") if isinstance(answer, BaseModel) else answer
    return JSONResponse(data)


@router.get("/audit/verify", response_model=audit.VerifyReport, tags=["service"])
def verify_audit(store: Store, user: Admin) -> audit.VerifyReport:
    """Check the audit chain and every stored version against it (admin)."""
    return audit.verify(store.engine)


@router.get("/assessments/{assessment_id}/audit", response_model=list[audit.AuditEntry], tags=["assessments"])
def assessment_audit(assessment_id: AssessmentId, store: Store, user: Admin) -> list[audit.AuditEntry]:
    """The audit entries of one assessment (admin)."""
    store.versions(assessment_id)
    return audit.entries(store.engine, object_id=assessment_id)


DELETED_HEADER = "Spinemets-Deleted"
"""Response header (value ``true``) on a version of a deleted assessment read for the record."""


def _deleted_header(stored: StoredAssessment) -> dict[str, str]:
    return {DELETED_HEADER: "true"} if stored.deleted else {}


def _refuse_deleted(stored: StoredAssessment, version: int | None) -> None:
    """A deleted assessment answers 410 unless a version is named: its versions stay readable."""
    if stored.deleted and version is None:
        from spinemets.service.storage import AssessmentDeletedError

        raise AssessmentDeletedError(
            "assessment_id",
            stored.id,
            "an assessment that has not been deleted",
            f"it was deleted; its versions stay readable for the record with ?version=n "
            f"(version {stored.version} is the last), listed at /api/v1/assessments/{stored.id}/versions",
        )


__all__ = [
    "SavedTexts",
    "assess_and_store",
    "router",
    "ruleset_version",
    "run_write",
    "store_result",
]
