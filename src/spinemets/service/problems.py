"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error response names what went wrong in a way a client can act on: for invalid input the
``errors`` list gives each field path, the value received and what is allowed (with units), taken
from :class:`spinemets.errors.InvalidInputError` or from request validation. A server error says
only that it happened and its request id: no traceback, no input echoed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from spinemets.errors import (
    InvalidInputError,
    MissingExtraError,
    SpinemetsError,
    UnknownScoreError,
    json_too_big,
    not_utf8,
)
from spinemets.model.patient import Patient
from spinemets.model.validation import collapse_unions, invalid_input
from spinemets.service.storage import AssessmentDeletedError, AssessmentNotFoundError, VersionConflictError

PROBLEM_JSON = "application/problem+json"
DATABASE_RETRY_AFTER_S = 5
"""Seconds a client is asked to wait (Retry-After) when the database is not available."""
log = logging.getLogger("spinemets.service")


class FieldProblem(BaseModel):
    """One invalid field: where, what was received, what is allowed."""

    model_config = ConfigDict(frozen=True)
    field: str = Field(
        description="Dotted path of the field, e.g. patient.performance.kps or lesions[0].level."
    )
    value: Any = Field(None, description="The value received (omitted when it is not safe to echo).")
    allowed: str = Field(description="What is allowed, with units.")


class Problem(BaseModel):
    """RFC 9457 problem details, with the spinemets ``errors`` extension."""

    model_config = ConfigDict(frozen=True)
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": desc}
    for code, desc in {
        400: "Bad request",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found",
        413: "Request too large",
        422: "Invalid input",
        503: "The database is not available (see Retry-After)",
    }.items()
}

#: RFC 9457 section 4.2.1: with type "about:blank" the title SHOULD be the status code's reason phrase
#: as RFC 9110 words it (Python's ``HTTPStatus`` has older wordings for 413 and 422 before 3.13).
_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def reason_phrase(status: int) -> str:
    """The title of an "about:blank" problem with this status."""
    return _PHRASES.get(status, "Error")


INVALID_INPUT_TYPE = "urn:spinemets:problem:invalid-input"
"""The problem type of a value refused by name (field, value, what is allowed): a title of its own."""
_TYPE_TITLES = {INVALID_INPUT_TYPE: "Invalid input"}


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    request: Request | None = None,
    errors: list[FieldProblem] | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = Problem(
        type=type_,
        title=_TYPE_TITLES.get(type_) or reason_phrase(status),
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        errors=errors or [],
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


class Withheld:
    """A refused value that is not echoed (a secret, or a whole JSON object or list of the request):
    the message shows what it was, the problem's ``value`` is omitted."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"({self.what}, not shown)"


SECRET = Withheld("a secret")


def withhold(exc: InvalidInputError, secret_fields: tuple[str, ...] = ()) -> InvalidInputError:
    """``exc`` without the refused value when it must not be echoed: a field at or under one of
    ``secret_fields`` (e.g. an access token), or a JSON object or list (which may hold tokens or a
    patient's record). Field, allowed values and hint are kept."""
    value = exc.value
    if any(exc.field == f or exc.field.startswith((f + ".", f + "[")) for f in secret_fields):
        value = SECRET
    elif isinstance(value, Mapping):
        value = Withheld("a JSON object")
    elif isinstance(value, list | tuple):
        value = Withheld("a JSON array")
    else:
        return exc
    return InvalidInputError(exc.field, value, exc.allowed, exc.hint)


def check_unicode(document: Any, where: str = "") -> None:
    """Refuse a JSON document holding a string that is not Unicode text (a lone surrogate such as
    ``"\\ud800"``, which JSON can spell but UTF-8 cannot encode): InvalidInputError naming the first such
    field, its value not shown. Without this the text fails later, when it is stored or sent back."""
    stack: list[tuple[str, Any]] = [(where, document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInputError(
                    path or "body",
                    Withheld("text with a lone surrogate"),
                    "Unicode text (encodable as UTF-8)",
                    "a \\ud800-\\udfff escape must be one half of a surrogate pair",
                ) from None
        elif isinstance(node, Mapping):
            for key, value in reversed(list(node.items())):
                stack.append(((f"{path}.{key}" if path else str(key)), value))
                stack.append((path or "body", key))  # a key is text too
        elif isinstance(node, list):
            for i, value in reversed(list(enumerate(node))):
                stack.append((f"{path}[{i}]", value))


def _safe_value(value: Any) -> Any:
    """Echo small scalar values only; long or nested input is summarised, never dumped."""
    if isinstance(value, Withheld):
        return None
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "..."
    return f"({type(value).__name__})"


def field_problem(exc: InvalidInputError) -> FieldProblem:
    """The field, value and allowed values of a spinemets input error."""
    allowed = exc.allowed + (f" ({exc.hint})" if exc.hint else "")
    return FieldProblem(field=exc.field, value=_safe_value(exc.value), allowed=allowed)


def invalid_input_response(request: Request, exc: InvalidInputError) -> JSONResponse:
    """422 problem naming the field, the value and what is allowed."""
    return problem_response(
        422,
        str(exc),
        request=request,
        errors=[field_problem(exc)],
        type_=INVALID_INPUT_TYPE,
    )


def request_error(err: Mapping[str, Any]) -> InvalidInputError:
    """One request validation error in the library's words (:func:`spinemets.model.validation.invalid_input`).

    A patient in the body is described from the patient model (units, allowed members, the field
    probably meant); a body that is not JSON is named as such rather than by a character position.
    """
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "json_invalid":
        reason = str((err.get("ctx") or {}).get("error", ""))
        return InvalidInputError("body", "(not JSON)", "a JSON document", reason)
    where, rest = (
        (loc[0], loc[1:]) if loc and loc[0] in {"body", "query", "path", "header", "cookie"} else ("", loc)
    )
    if where == "body" and rest[:1] == ("patient",) and len(rest) > 1:
        return invalid_input({**err, "loc": rest[1:]}, Patient, prefix="patient.")
    return invalid_input({**err, "loc": rest or (where or "request",)}, None)


def body_error(exc: BaseException | None) -> InvalidInputError | None:
    """What is wrong with a JSON body the framework could not parse (its 400 "There was an error
    parsing the body" carries the parser's exception as its cause), or None when it is not known."""
    if isinstance(exc, UnicodeDecodeError):
        return InvalidInputError("body", "(not UTF-8)", "JSON encoded as UTF-8", not_utf8(exc))
    too_big = json_too_big(exc) if exc is not None else None
    if too_big is not None:
        what = "(nested too deeply)" if isinstance(exc, RecursionError) else "(number too long)"
        return InvalidInputError("body", what, too_big)
    return None


def _body_media_types(request: Request) -> str:
    """The content types the route's body accepts: its declared ``Body(media_type=...)``, and JSON."""
    field = getattr(request.scope.get("route"), "body_field", None)
    declared = str(getattr(getattr(field, "field_info", None), "media_type", None) or "application/json")
    return declared if declared == "application/json" else f"{declared} or application/json"


def _route(request: Request) -> str:
    """The route template for a log line (``/api/v1/assessments/{assessment_id}``): as the access
    log, never the path itself, whose segments can be identifiers a client typed."""
    return getattr(request.scope.get("route"), "path", None) or "(unmatched)"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(UnknownScoreError)
    async def _unknown_score(request: Request, exc: UnknownScoreError) -> JSONResponse:
        return problem_response(404, str(exc), request=request, errors=[field_problem(exc)])

    @app.exception_handler(AssessmentNotFoundError)
    async def _not_found(request: Request, exc: AssessmentNotFoundError) -> JSONResponse:
        return problem_response(404, str(exc), request=request, errors=[field_problem(exc)])

    @app.exception_handler(VersionConflictError)
    async def _conflict(request: Request, exc: VersionConflictError) -> JSONResponse:
        return problem_response(412, str(exc), request=request, errors=[field_problem(exc)])

    @app.exception_handler(AssessmentDeletedError)
    async def _gone(request: Request, exc: AssessmentDeletedError) -> JSONResponse:
        return problem_response(410, str(exc), request=request, errors=[field_problem(exc)])

    @app.exception_handler(InvalidInputError)
    async def _invalid(request: Request, exc: InvalidInputError) -> JSONResponse:
        return invalid_input_response(request, exc)

    @app.exception_handler(MissingExtraError)
    async def _extra(request: Request, exc: MissingExtraError) -> JSONResponse:
        return problem_response(503, str(exc), request=request)

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError) -> JSONResponse:
        # the database is down, refuses the login, is locked or full: the client may retry; the
        # message is not logged (it quotes the statement's parameters, which can be patient data)
        cause = type(getattr(exc, "orig", None) or exc).__name__
        log.error("database unavailable (%s) on %s %s", cause, request.method, _route(request))
        return problem_response(
            503,
            "the database is not available; try again shortly",
            request=request,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )

    @app.exception_handler(SpinemetsError)
    async def _spinemets(request: Request, exc: SpinemetsError) -> JSONResponse:
        log.error("spinemets error %s on %s %s", type(exc).__name__, request.method, _route(request))
        return problem_response(500, "the server could not complete the request", request=request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(
            tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes) for e in exc.errors()
        ):
            # the body was not read as JSON: its Content-Type is missing or not a JSON type
            allowed = _body_media_types(request)
            got = request.headers.get("content-type")
            problem = InvalidInputError("Content-Type", got or "(none)", allowed)
            return problem_response(415, str(problem), request=request, errors=[field_problem(problem)])
        errors = [field_problem(request_error(e)) for e in collapse_unions(exc.errors())]
        detail = "; ".join(f"{e.field} must be {e.allowed}; got {e.value!r}" for e in errors[:5])
        return problem_response(422, detail, request=request, errors=errors, type_=INVALID_INPUT_TYPE)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        unparsed = body_error(exc.__cause__) if exc.status_code == 400 else None
        if unparsed is not None:
            return invalid_input_response(request, unparsed)
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            exc.status_code, detail, request=request, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The type and the route only: exception messages may quote patient input.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, _route(request))
        return problem_response(500, "the server could not complete the request", request=request)
