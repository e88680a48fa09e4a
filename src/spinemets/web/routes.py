"""The clinician pages: Assess, Result, Ask and History, server-rendered with htmx partials.

Handlers only translate (form -> patient dict in :mod:`.forms`), call the library
(:func:`spinemets.assess`, :func:`spinemets.render.render`, :func:`spinemets.evidence.ask`) and the
store, and render a template. Pages need a logged-in user (or the loopback-open local user); the
app factory adds authentication, CSRF checking and the security headers around this router.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
from collections.abc import Callable, Coroutine
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

import spinemets
from spinemets.assessment import load_assessment
from spinemets.errors import InvalidInputError, SpinemetsError
from spinemets.model.validation import collapse_unions
from spinemets.render.view import patient_facts, patient_notes, recalled_notes
from spinemets.service import problems, reports
from spinemets.service.api import run_write, store_result
from spinemets.service.auth import Principal, Scope
from spinemets.service.deps import get_store, optional_user
from spinemets.service.security import CSRF_FIELD, csrf_token
from spinemets.service.storage import (
    AssessmentDeletedError,
    AssessmentNotFoundError,
    AssessmentStore,
    StoredAssessment,
    VersionConflictError,
)
from spinemets.web import forms, links, views


class _LoginRequired(Exception):
    """Raised by :func:`web_user` when nobody is logged in."""

    def __init__(self, target: str) -> None:
        self.target = target


class _WebRoute(APIRoute):
    """Pages answer in HTML: a login redirect, or an error page naming what was not found."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except _LoginRequired as exc:
                if request.headers.get("hx-request"):
                    return Response(status_code=401, headers={"HX-Redirect": exc.target})
                return RedirectResponse(exc.target, status_code=303)
            except AssessmentNotFoundError as exc:
                return _render(request, "error.html", {"title": "Not found", "message": str(exc)}, 404)
            except AssessmentDeletedError as exc:
                return _render(request, "error.html", {"title": "Deleted", "message": str(exc)}, 409)
            except InvalidInputError as exc:  # e.g. ?version= beyond any record
                return _render(request, "error.html", {"title": "Invalid input", "message": str(exc)}, 422)
            except RequestValidationError as exc:  # e.g. ?version=abc
                message = "; ".join(str(problems.request_error(e)) for e in collapse_unions(exc.errors()))
                return _render(request, "error.html", {"title": "Invalid input", "message": message}, 422)

        return wrapped


router = APIRouter(include_in_schema=False, route_class=_WebRoute)

_env = Environment(
    loader=PackageLoader("spinemets.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(
    score_value=views.score_value,
    score_range=views.score_range,
    missing_items=views.missing_items,
    recalled_notes=recalled_notes,
    plan_groups=views.plan_groups,
    version=spinemets.__version__,
    csrf_field=CSRF_FIELD,
    field_id=forms.field_id,
)
templates = Jinja2Templates(env=_env)

#: Static files served from the package: name -> media type.
STATIC = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}


# --- plumbing ---------------------------------------------------------------------------------


def web_user(request: Request) -> Principal:
    """The logged-in user; a browser without a session is sent to the login page."""
    user = optional_user(request)
    if user is None:
        raise _LoginRequired("/auth/login?next=" + quote(request.url.path))
    return user


#: Pages larger than this are sent gzip-encoded to browsers that accept it (keeps the first page light).
GZIP_MIN_BYTES = 2048


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    ctx = {"csrf": csrf_token(request), "user": getattr(request.state, "principal", None), **context}
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    if len(response.body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        packed = gzip.compress(bytes(response.body), 6)
        response.body = packed
        response.headers["content-length"] = str(len(packed))
        response.headers["content-encoding"] = "gzip"
        response.headers["vary"] = "Accept-Encoding"
    return response


@cache
def _static(name: str) -> tuple[bytes, bytes]:
    """A packaged static file and its gzip encoding (compressed once, on first request)."""
    data = resources.files("spinemets.web").joinpath("static", name).read_bytes()
    return data, gzip.compress(data, 9, mtime=0)


@router.get("/static/{name}")
def static_file(name: str, request: Request) -> Response:
    """htmx and the stylesheet, gzip-encoded when the browser accepts it, cached for a day."""
    if name not in STATIC:
        raise HTTPException(404, f"no static file {name!r}")
    raw, packed = _static(name)
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type=STATIC[name], headers=headers)
    return Response(raw, media_type=STATIC[name], headers=headers)


@router.get("/favicon.ico")
def favicon() -> Response:
    """No icon: an empty answer, so that pages without ``<link rel=icon>`` (sign-in) log no 404."""
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})


def _load(store: AssessmentStore, assessment_id: str, version: int | None) -> StoredAssessment:
    """One stored version; a missing id or version becomes the HTML not-found page (see :class:`_WebRoute`)."""
    return store.get(assessment_id, version)


# --- Assess -----------------------------------------------------------------------------------


def _assess_context(values: dict[str, list[str]], errors: dict[str, str], **extra: Any) -> dict[str, Any]:
    rows = forms.lesion_indices(values) or [0]
    return {
        "active": "assess",
        "sections": forms.sections(),
        "lesion_fields": forms.lesion_fields(),
        "links": _section_links(),
        "lesion_links": _lesion_row_links(),
        "unlinked": links.unlinked_items(),
        "values": values,
        "errors": errors,
        "rows": rows,
        **extra,
    }


@cache
def _section_links() -> dict[str, tuple[tuple[links.ItemRef, ...], tuple[links.ItemRef, ...]]]:
    out: dict[str, tuple[tuple[links.ItemRef, ...], tuple[links.ItemRef, ...]]] = {}
    for section in forms.sections():
        out.update(links.first_mentions((f.name for f in section.fields), links.patient_links()))
    return out


@cache
def _lesion_row_links() -> dict[str, tuple[tuple[links.ItemRef, ...], tuple[links.ItemRef, ...]]]:
    return links.first_mentions((f.name for f in forms.lesion_fields()), links.lesion_links())


def _live(values: dict[str, list[str]]) -> dict[str, Any]:
    """Scores of the form as it stands (``assessment``), or the error that stops them (``live_error``,
    an unknown field too, as on save) and every other wrong entry (``live_more``, form name ->
    message): a clinician fixing one entry at a time saw the next only once the first was right."""
    unknown = forms.unknown_field(values)
    if unknown is not None:
        return {"assessment": None, "live_error": unknown, "live_more": {}}
    patient = forms.form_to_patient(values)
    try:
        return {"assessment": spinemets.assess(patient), "live_error": None, "live_more": {}}
    except InvalidInputError as exc:
        more = forms.field_errors(patient, exc)
        more.pop(forms.form_name(exc.field), None)
        return {"assessment": None, "live_error": exc, "live_more": more}


@router.get("/", response_class=HTMLResponse)
@router.get("/assess", response_class=HTMLResponse)
def assess_page(
    request: Request,
    from_: str | None = Query(None, alias="from"),
    version: int | None = None,
    user: Principal = Depends(web_user),
    store: AssessmentStore = Depends(get_store),
) -> HTMLResponse:
    """The structured patient form; ``?from=<id>`` reopens a saved assessment to add a version."""
    values: dict[str, list[str]] = {}
    editing: dict[str, Any] = {}
    if from_:
        reopened = _load(store, from_, version)
        latest = _editable(reopened if version is None else store.get(from_))
        values = forms.patient_to_form(reopened.inputs)
        editing = {"reopened": reopened, "expected_version": latest.version, "latest_version": latest.version}
    return _render(request, "assess.html", _assess_context(values, {}, **_live(values), **editing))


def _editable(latest: StoredAssessment) -> StoredAssessment:
    """The latest version of an assessment that may take a new one (a deleted one is refused)."""
    if latest.deleted:
        raise AssessmentDeletedError("assessment_id", latest.id, "an assessment that has not been deleted")
    return latest


def _editing(store: AssessmentStore, values: dict[str, list[str]]) -> dict[str, Any]:
    """The reopened assessment a posted form edits, and the version it was opened at (``expected_version``).

    Kept through every redraw of the form (a refused save, a lesion row added without JavaScript), so
    that the corrected save still adds a version to the same assessment, and a save over a version
    someone else added meanwhile is refused instead of silently replacing it.
    """
    existing = (values.get("assessment_id") or [""])[-1]
    if not existing:
        return {}
    reopened = _editable(_load(store, existing, None))
    expected_text = (values.get("expected_version") or [""])[-1]
    if not (expected_text.isascii() and expected_text.isdigit() and len(expected_text) <= 9):
        raise InvalidInputError(
            "expected_version", expected_text, "the version number the form was opened at"
        )
    return {"reopened": reopened, "expected_version": int(expected_text), "latest_version": reopened.version}


@router.post("/assess/scores", response_class=HTMLResponse)
async def live_scores(request: Request, user: Principal = Depends(web_user)) -> HTMLResponse:
    """htmx partial: the score panel for the form as filled so far (ranges while items are missing)."""
    values = forms.multidict((await request.form()).multi_items())
    return _render(request, "_scores.html", _live(values))


@router.post("/assess/lesion", response_class=HTMLResponse)
async def lesion_row(request: Request, user: Principal = Depends(web_user)) -> HTMLResponse:
    """htmx partial: one more empty lesion row, numbered after the rows already on the page."""
    values = forms.multidict((await request.form()).multi_items())
    index = max(forms.lesion_indices(values), default=-1) + 1
    return _render(
        request,
        "_lesion.html",
        {
            "i": index,
            "lesion_fields": forms.lesion_fields(),
            "lesion_links": _lesion_row_links(),
            "values": {},
            "errors": {},
            "focus": True,
        },
    )


@router.post("/assess/lesion/{index}/remove", response_class=HTMLResponse)
async def remove_lesion(index: int, request: Request, user: Principal = Depends(web_user)) -> HTMLResponse:
    """htmx: drop lesion row ``index`` and return the score panel without it (the row is removed out of band)."""
    values = forms.multidict((await request.form()).multi_items())
    return _render(
        request, "_scores.html", {**_live(forms.without_lesion_row(values, index)), "removed_row": index}
    )


#: The no-JavaScript button that redraws the form with its scores (the panel is otherwise as first drawn).
RESCORE = "rescore"


@router.post("/assess", response_class=HTMLResponse, response_model=None)
async def save_assessment(
    request: Request,
    user: Principal = Depends(web_user),
    store: AssessmentStore = Depends(get_store),
) -> Response:
    """Validate, compute and store (a new assessment, or a new version of a reopened one)."""
    values = forms.multidict((await request.form()).multi_items())
    action = (values.pop("action", None) or [""])[-1]
    if action in ("add_lesion", RESCORE) or action.startswith("remove_lesion:"):
        # Without JavaScript the add/remove buttons submit the form: redraw it with the rows changed;
        # 'Update the scores' redraws it with the score panel of what is entered (htmx does that live).
        if action == "add_lesion":
            values = forms.with_lesion_row(values)
        elif action.removeprefix("remove_lesion:").isdigit():
            values = forms.without_lesion_row(values, int(action.removeprefix("remove_lesion:")))
        ctx = _assess_context(values, {}, **_live(values), **_editing(store, values))
        return _render(request, "assess.html", ctx)
    editing = _editing(store, values)
    if not user.allows(Scope.write):  # as the API's Writer dependency: reading is not saving
        refusal = (
            f"Not saved: the account {user.name} may read but not save assessments (scope {user.scope.value}). "
            "Your entries are kept below; ask an administrator for write access."
        )
        ctx = _assess_context(values, {}, **_live(values), conflict=refusal, **editing)
        return _render(request, "assess.html", ctx, status_code=403)
    patient = forms.form_to_patient(values)
    try:
        unknown = forms.unknown_field(values)
        if unknown is not None:
            raise unknown
        assessment = spinemets.assess(patient)
    except InvalidInputError as exc:
        errors = forms.field_errors(patient, exc)
        ctx = _assess_context(values, errors, assessment=None, live_error=exc, **editing)
        return _render(request, "assess.html", ctx, status_code=422)
    reopened = editing.get("reopened")
    try:
        saved = await run_write(
            request,
            store_result,
            store,
            patient,
            assessment,
            user.name,
            assessment_id=reopened.id if reopened else None,
            expected_version=editing.get("expected_version"),
        )
    except VersionConflictError:
        latest = store.get(reopened.id) if reopened else None
        conflict = (
            f"Not saved: this assessment changed after you opened it (version {editing['expected_version']}; "
            f"it is now at version {latest.version if latest else '?'}). Your entries are kept below: open the "
            "latest version to see what changed, then apply your change to it."
        )
        ctx = _assess_context(
            values, {}, assessment=assessment, live_error=None, conflict=conflict, **editing
        )
        return _render(request, "assess.html", ctx, status_code=409)
    stored = saved.info
    return RedirectResponse(f"/assessments/{stored.id}?version={stored.version}", status_code=303)


# --- Result -----------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}", response_class=HTMLResponse)
def result_page(
    assessment_id: str,
    request: Request,
    version: int | None = None,
    user: Principal = Depends(web_user),
    store: AssessmentStore = Depends(get_store),
) -> HTMLResponse:
    """The stored result as it was computed: urgency, scores with basis, plan, schedule, references."""
    return _result(request, user, store, _load(store, assessment_id, version))


def _result(
    request: Request,
    user: Principal,
    store: AssessmentStore,
    stored: StoredAssessment,
    delete_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assessment = load_assessment(stored.outputs)
    return _render(
        request,
        "result.html",
        {
            "active": "history",
            "stored": stored,
            "deleted_notice": reports.deleted_notice(stored),
            "assessment": assessment,
            "plan": getattr(assessment, "plan", None),
            "versions": store.versions(stored.id),
            "can_write": user.allows(Scope.write),
            "delete_error": delete_error,
            "facts": patient_facts(assessment),
            "notes": patient_notes(assessment),
        },
        status_code,
    )


#: The value of the confirmation box a delete must carry (a deliberate act, not a stray click).
DELETE_CONFIRM = "yes"


@router.post("/assessments/{assessment_id}/delete", response_class=HTMLResponse, response_model=None)
async def delete_assessment(
    assessment_id: str,
    request: Request,
    user: Principal = Depends(web_user),
    store: AssessmentStore = Depends(get_store),
) -> Response:
    """Soft delete from the result page, as the API's DELETE: out of History and lists, audited, and
    every version still readable from its link (marked deleted)."""
    values = forms.multidict((await request.form()).multi_items())
    stored = _load(store, assessment_id, None)
    if not user.allows(Scope.write):
        refusal = (
            f"Not deleted: the account {user.name} may read but not change assessments "
            f"(scope {user.scope.value}); ask an administrator for write access."
        )
        return _result(request, user, store, stored, refusal, 403)
    if (values.get("confirm") or [""])[-1] != DELETE_CONFIRM:
        return _result(
            request, user, store, stored, "Not deleted: tick the box to confirm the deletion.", 422
        )
    await run_write(request, store.delete, assessment_id, author=user.name)
    return RedirectResponse(f"/history?deleted={quote(assessment_id)}", status_code=303)


@router.get("/assessments/{assessment_id}/report.pdf")
def report_pdf(
    assessment_id: str,
    version: int | None = None,
    user: Principal = Depends(web_user),
    store: AssessmentStore = Depends(get_store),
) -> Response:
    """The tumour-board summary as PDF, rendered from the stored result (marked if deleted)."""
    stored = _load(store, assessment_id, version)
    pdf = reports.pdf(stored)
    name = reports.filename(stored, stored.patient_id or stored.id, "pdf")
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": reports.attachment(name)}
    )


@router.get("/assessments/{assessment_id}/report.json")
def report_json(
    assessment_id: str,
    version: int | None = None,
    user: Principal = Depends(web_user),
    store: AssessmentStore = Depends(get_store),
) -> JSONResponse:
    """The stored record: inputs, outputs, version, author and rule-set version."""
    stored = _load(store, assessment_id, version)
    name = reports.filename(stored, stored.patient_id or stored.id, "json")
    return JSONResponse(
        stored.model_dump(mode="json"), headers={"Content-Disposition": reports.attachment(name)}
    )


# --- History ----------------------------------------------------------------------------------


def _date(field: str, text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(field, text, "a date written YYYY-MM-DD") from None


@router.get("/history", response_class=HTMLResponse)
def history_page(
    request: Request,
    patient_id: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    deleted: Annotated[str | None, Query(max_length=64)] = None,
    user: Principal = Depends(web_user),
    store: AssessmentStore = Depends(get_store),
) -> HTMLResponse:
    """Saved assessments, newest first, searchable by patient identifier and assessment date.

    ``deleted``: the id of an assessment just deleted from its result page, named in a notice (only
    if it is deleted) with the link that still opens it for the record.
    """
    query = {"patient_id": patient_id or "", "date_from": date_from or "", "date_to": date_to or ""}
    errors: dict[str, str] = {}
    just_deleted: StoredAssessment | None = None
    if deleted:
        try:
            found = store.get(deleted)
        except InvalidInputError:
            found = None
        just_deleted = found if found is not None and found.deleted else None
    rows: list[StoredAssessment] = []
    try:
        rows = store.list(
            patient_id_contains=patient_id.strip() if patient_id and patient_id.strip() else None,
            date_from=_date("date_from", date_from),
            date_to=_date("date_to", date_to),
            limit=200,
        )
    except InvalidInputError as exc:
        errors[exc.field] = str(exc)
    status = 422 if errors else 200
    return _render(
        request,
        "history.html",
        {"active": "history", "rows": rows, "query": query, "errors": errors, "just_deleted": just_deleted},
        status,
    )


def _ref(text: str) -> tuple[str, int | None]:
    """``<id>`` or ``<id>:<version>``."""
    ident, _, ver = text.partition(":")
    if ver and not (ver.isascii() and ver.isdigit()):  # isdigit() alone admits '²', which int() refuses
        raise InvalidInputError("ids", text, "an assessment id, optionally followed by :version (digits 0-9)")
    return ident, int(ver) if ver else None


@router.get("/history/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    user: Principal = Depends(web_user),
    store: AssessmentStore = Depends(get_store),
) -> HTMLResponse:
    """Two assessments of the same patient side by side, older first: scores, then changed facts."""
    ids = request.query_params.getlist("ids")
    error = None
    pair: list[StoredAssessment] = []
    try:
        if len(ids) != 2:
            raise InvalidInputError("ids", len(ids), "exactly two assessments ticked in the history list")
        pair = [_load(store, *_ref(i)) for i in ids]
        same_record = pair[0].id == pair[1].id
        same_patient = pair[0].patient_id is not None and pair[0].patient_id == pair[1].patient_id
        if not (same_record or same_patient):
            raise InvalidInputError(
                "ids",
                f"{pair[0].patient_id} and {pair[1].patient_id}",
                "two assessments of the same patient (same patient identifier)",
            )
    except InvalidInputError as exc:
        error = str(exc)
    ctx: dict[str, Any] = {"active": "history", "error": error}
    if error is None:
        older, newer = sorted(pair, key=lambda s: (s.assessment_date, s.created_at))
        a_old, a_new = load_assessment(older.outputs), load_assessment(newer.outputs)
        ctx.update(
            older=older,
            newer=newer,
            a_old=a_old,
            a_new=a_new,
            score_rows=views.compare_scores(a_old, a_new),
            input_rows=views.compare_inputs(older.inputs, newer.inputs),
        )
    return _render(request, "compare.html", ctx, 422 if error else 200)


# --- Ask --------------------------------------------------------------------------------------


@router.get("/ask", response_class=HTMLResponse)
def ask_page(request: Request, user: Principal = Depends(web_user)) -> HTMLResponse:
    """The evidence Q&A: ask, read the answer with references, ask a follow-up on the same page."""
    return _render(request, "ask.html", {"active": "ask", "answer": None, "question": "", "subject": None})


@router.post("/ask", response_class=HTMLResponse)
async def ask_question(request: Request, user: Principal = Depends(web_user)) -> HTMLResponse:
    """Answer a question; an htmx request gets just the answer, appended to the thread."""
    form = await request.form()
    question = str(form.get("question") or "").strip()
    previous = str(form.get("previous") or "").strip() or None
    answer = None
    error = None
    subject = previous
    try:
        from spinemets.evidence import ask
        from spinemets.evidence.qa import QUESTION_LENGTH, subject_of

        if previous is not None and not QUESTION_LENGTH[0] <= len(previous) <= QUESTION_LENGTH[1]:
            previous = subject = None  # a tampered form: answer the question on its own
        # retrieval takes milliseconds, more for a long question: off the event loop (ask refuses
        # a question outside its length limits before retrieving)
        answer = await anyio.to_thread.run_sync(functools.partial(ask, question, k=5, previous=previous))
        subject = subject_of(answer)
    except SpinemetsError as exc:
        error = str(exc)
    ctx = {"active": "ask", "answer": answer, "question": question, "error": error, "subject": subject}
    if request.headers.get("hx-request"):
        return _render(request, "_answer.html", {**ctx, "oob": True})
    return _render(request, "ask.html", ctx, 422 if error else 200)
