"""Turn raw input (dict, JSON text, file) into a :class:`Patient`, or a clear error.

A pydantic error becomes an :class:`InvalidInputError` that names the field path, the value and
what is allowed (enum members or the numeric bounds with units), never a traceback.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from spinemets.errors import InvalidInputError
from spinemets.model.patient import Patient


def _field_info(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, str | None]:
    """Follow ``loc`` through nested models; return (description, annotation text) of the leaf."""
    import typing

    current: Any = model
    desc: str | None = None
    ann_text: str | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            break
        field = current.model_fields.get(str(part))
        if field is None:
            break
        desc = field.description
        ann = field.annotation
        ann_text = None
        nxt: Any = None
        for arg in typing.get_args(ann) or (ann,):
            for inner in typing.get_args(arg) or (arg,):
                if isinstance(inner, type) and issubclass(inner, Enum):
                    ann_text = "one of " + ", ".join(str(m.value) for m in inner)
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    nxt = inner
        current = nxt
    return desc or "", ann_text


def error_from_validation(exc: ValidationError, model: type[BaseModel] = Patient) -> InvalidInputError:
    """The first error of ``exc`` as an :class:`InvalidInputError` (field path, value, allowed)."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err.get("loc", ()))
    path = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
    value = err.get("input")
    desc, enum_text = _field_info(model, loc)
    etype = err.get("type", "")
    ctx = err.get("ctx") or {}
    if etype == "extra_forbidden":
        allowed = "a known field (unknown fields are rejected so that nothing is silently ignored)"
    elif etype == "missing":
        allowed = "given: it is required" + (f" ({desc.rstrip('.')})" if desc else "")
    elif enum_text:
        allowed = enum_text
    elif etype in {"greater_than_equal", "less_than_equal", "greater_than", "less_than", "multiple_of"}:
        allowed = _msg(err["msg"])
        if desc:
            allowed += f" ({desc.rstrip('.')})"
    elif etype == "value_error":
        allowed = str(ctx.get("error", err["msg"]))
        return (
            InvalidInputError(path or "patient", value, "valid", allowed)
            if not isinstance(ctx.get("error"), InvalidInputError)
            else _rebase(ctx["error"], path)
        )
    else:
        allowed = _msg(err["msg"])
        if desc:
            allowed += f" ({desc.rstrip('.')})"
    return InvalidInputError(path or "patient", value, allowed)


def _msg(msg: str) -> str:
    """pydantic's 'Input should be ...' as the 'allowed' part of our message."""
    m = msg[0].lower() + msg[1:]
    for prefix in ("input should be ", "value should be "):
        if m.startswith(prefix):
            return m[len(prefix) :]
    return m


def _rebase(inner: InvalidInputError, path: str) -> InvalidInputError:
    """Re-anchor an error raised deep inside (e.g. a level parser) at its full field path."""
    return InvalidInputError(path or inner.field, inner.value, inner.allowed, inner.hint)


def parse_patient(data: Any) -> Patient:
    """Validate a dict (or an existing Patient) into a Patient, raising :class:`InvalidInputError`."""
    if isinstance(data, Patient):
        return data
    if not isinstance(data, dict):
        raise InvalidInputError("patient", type(data).__name__, "a JSON object with the patient's facts")
    try:
        return Patient.model_validate(data)
    except ValidationError as exc:
        raise error_from_validation(exc) from None


def load_patient(path: str | Path) -> Patient:
    """Read a patient JSON file; unreadable or malformed files give a clear error."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError("input", str(path), "a readable JSON file", exc.strerror or "") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            "input", str(path), "valid JSON", f"line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    return parse_patient(data)
