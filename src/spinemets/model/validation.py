"""Turn raw input (dict, JSON text, file) into a :class:`Patient`, or a clear error.

A pydantic error becomes an :class:`InvalidInputError` that names the field path, the value and
what is allowed (enum members or the numeric bounds with units), never a traceback.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from spinemets.errors import InvalidInputError, json_too_big, not_utf8
from spinemets.model.patient import Patient


def _inner_types(annotation: Any) -> list[Any]:
    """The types an annotation is made of (``X | None``, ``list[X]``, ``Literal``... unwrapped one level)."""
    return [
        inner
        for arg in typing.get_args(annotation) or (annotation,)
        for inner in typing.get_args(arg) or (arg,)
    ]


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (itself, optional, or in a list), if it holds one."""
    models = [t for t in _inner_types(annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
    return models[-1] if models else None


def _field_info(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, str | None]:
    """(description, allowed enum members) of the field at ``loc`` (list indices skipped)."""
    names = tuple(p for p in loc if not isinstance(p, int))
    parent = _model_at(model, names) if names else None
    field = parent.model_fields.get(str(names[-1])) if parent is not None else None
    if field is None:
        return "", None
    enums = [t for t in _inner_types(field.annotation) if isinstance(t, type) and issubclass(t, Enum)]
    return field.description or "", "one of " + ", ".join(str(m.value) for m in enums[-1]) if enums else None


def error_from_validation(
    exc: ValidationError, model: type[BaseModel] | None = Patient, *, prefix: str = ""
) -> InvalidInputError:
    """The first error of ``exc`` as an :class:`InvalidInputError` (field path, value, allowed)."""
    return invalid_input(collapse_unions(exc.errors(include_url=False))[0], model, prefix=prefix)


_SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def _is_union_tag(part: Any) -> bool:
    """A union member's name in an error location (``Quantity``, ``float``, ``function-after[...]``).

    Field and input names start with a lower-case letter (``kps``, ``outcomeTimestamp``); pydantic
    names a union's members by their type: a class (capitalised), a built-in type, or a
    description that is no identifier.
    """
    if not isinstance(part, str):
        return False
    return part in _SCALAR_TAGS or not part.isidentifier() or part[:1].isupper()


def _union_tags(err: Mapping[str, Any]) -> frozenset[int]:
    """Where in ``err``'s location a union member is named.

    The last part of an unknown-field error is the key as the caller wrote it (``KPS``, ``age years``,
    ``escc-grade``), never a member, whatever its spelling: it stays in the path.
    """
    loc = tuple(err.get("loc", ()))
    end = len(loc) - 1 if err.get("type") == "extra_forbidden" else len(loc)
    return frozenset(i for i, part in enumerate(loc[:end]) if _is_union_tag(part))


def _without_tags(err: Mapping[str, Any]) -> tuple[Any, ...]:
    """``err``'s location with the union members' names dropped: the field as the caller wrote it."""
    tags = _union_tags(err)
    return tuple(p for i, p in enumerate(err.get("loc", ())) if i not in tags)


def collapse_unions(errors: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One error per field of a union (``albumin: Quantity | float``), at the field's own path.

    pydantic reports a failed union once per member, each under the member's name
    (``labs.albumin.Quantity.value`` and ``labs.albumin.float``). Kept: the member the input went
    deepest into (a JSON object reached ``Quantity.value``, so the float member's complaint is
    noise; each of that member's errors is kept at its own field); members that all refused the value
    as a whole are merged ("text or a whole number or ...").
    Member names are dropped from the path, so it names the field as the caller wrote it.
    """
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    order: list[tuple[Any, ...]] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        cut = min(_union_tags(err), default=None)
        key = loc if cut is None else ("union", cut, *loc[:cut])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(err)
    out: list[Mapping[str, Any]] = []
    for key in order:
        found = groups[key]
        if key[:1] != ("union",):
            out.extend(found)
            continue
        cut = key[1]
        deepest = max(found, key=lambda e: len(e.get("loc", ())))
        if len(deepest.get("loc", ())) > cut + 1:
            # the input went inside one member (a JSON object into Quantity): that member's own
            # errors, each at its own field, and none of the other members'
            member = deepest["loc"][cut]
            for err in found:
                if err["loc"][cut] == member:
                    out.append({**err, "loc": _without_tags(err)})
            continue
        # every member refused the value as a whole: one error listing what the field takes
        best = dict(found[0])
        best["loc"] = _without_tags(best)
        if len(found) > 1:
            best["type"] = "union_members"
            best["msg"] = " or ".join(dict.fromkeys(_msg(str(e.get("msg", ""))) for e in found))
            best.pop("ctx", None)
        out.append(best)
    return out


def invalid_input(
    err: Mapping[str, Any], model: type[BaseModel] | None = Patient, *, prefix: str = ""
) -> InvalidInputError:
    """One pydantic error (an item of ``ValidationError.errors()``) as an :class:`InvalidInputError`.

    ``err["loc"]`` is a path inside ``model`` (which gives each field's description and, for enums,
    the allowed members); ``prefix`` goes before the path in the message (e.g. ``patient.`` for a
    patient inside a request body). The one translation of pydantic's wording into "<field> must
    be <allowed>; got <value>", for the library, the API and the service settings.
    """
    loc = tuple(err.get("loc", ()))
    path = prefix + ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
    path = path.rstrip(".")
    value = err.get("input")
    desc, enum_text = _field_info(model, loc) if model is not None else ("", None)
    etype = err.get("type", "")
    ctx = err.get("ctx") or {}
    if etype == "extra_forbidden":
        near = _near_fields(model, loc, path) if model is not None else []
        why = "unknown fields are rejected so that nothing is silently ignored"
        return InvalidInputError(
            path, value, "a known field", why + (f"; did you mean {' or '.join(near)}?" if near else "")
        )
    if etype == "missing":
        allowed = "given: it is required" + (f" ({desc.rstrip('.')})" if desc else "")
    elif etype == "value_error":
        inner = ctx.get("error")
        if isinstance(inner, InvalidInputError):
            return _rebase(inner, path, loc)
        return InvalidInputError(path or "patient", value, "valid", str(inner or err["msg"]))
    elif enum_text:
        allowed = enum_text
    elif "expected" in ctx:
        allowed = f"one of {ctx['expected']}"
    elif etype == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        choices = re.fullmatch(r"\^\(([\w|]+)\)\$", pattern)
        allowed = (
            "one of " + ", ".join(choices.group(1).split("|")) if choices else f"text matching {pattern}"
        )
    else:
        allowed = _msg(err["msg"])
        if desc:
            allowed += f" ({desc.rstrip('.')})"
    return InvalidInputError(path or "patient", value, allowed)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that holds the field at ``loc`` (following nested models and lists of them)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part)) if current is not None else None
        if field is None:
            return None
        current = _nested_model(field.annotation)
    return current


def _near_fields(model: type[BaseModel], loc: tuple[Any, ...], path: str) -> list[str]:
    """Known fields an unknown one (``path``, at ``loc``) was probably meant to be, as full paths:
    the same name one or two models deeper (``kps`` -> ``performance.kps``), or a near spelling."""
    parent = _model_at(model, loc)
    if parent is None or not loc:
        return []
    name = str(loc[-1])
    base = path[: len(path) - len(name)]
    paths: list[str] = []

    def walk(m: type[BaseModel], prefix: str, depth: int) -> None:
        for key, field in m.model_fields.items():
            paths.append(prefix + key)
            nested = _nested_model(field.annotation)
            if nested is not None and depth < 2:
                walk(nested, f"{prefix}{key}.", depth + 1)

    walk(parent, "", 0)
    leaf = {p: p.rsplit(".", 1)[-1] for p in paths}
    # field names are snake_case: "KPS", "Age Years" and "escc-grade" are compared as kps, age_years, escc_grade
    name = re.sub(r"[\s-]+", "_", name.strip()).lower()
    found = [p for p in paths if leaf[p] == name]
    if not found and len(name) >= 3:
        found = [p for p in paths if leaf[p].startswith(name) or name.startswith(leaf[p] + "_")]
    if not found:
        close = set(difflib.get_close_matches(name, list(leaf.values()), n=3, cutoff=0.75))
        found = [p for p in paths if leaf[p] in close]
    return [base + p for p in found[:3]]


def _msg(msg: str) -> str:
    """pydantic's 'Input should be ...' as the 'allowed' part of our message."""
    m = msg[:1].lower() + msg[1:]
    m = re.sub(r"a valid dictionary or instance of \w+", "a JSON object", m)
    m = re.sub(r", unable to parse string as an? \w+", "", m)
    for prefix in ("input should be ", "value should be "):
        if m.startswith(prefix):
            return m[len(prefix) :]
    for prefix in ("string should have ", "list should have ", "tuple should have "):
        if m.startswith(prefix):  # "String should have at most 64 characters"
            return ("text" if prefix.startswith("string") else "a list") + " of " + m[len(prefix) :]
    if m.startswith("unable to parse input string as an integer, exceeded maximum size"):
        return "a whole number of ordinary size"
    return m


def _rebase(inner: InvalidInputError, path: str, loc: tuple[Any, ...] = ()) -> InvalidInputError:
    """Re-anchor an error raised deep inside (e.g. a level parser) at its full field path.

    An error that names a part of the field (``labs.albumin.unit`` raised for ``labs.albumin``)
    keeps that part.
    """
    own = ".".join(str(p) for p in loc if not isinstance(p, int))
    if path and own and inner.field.startswith(own + "."):
        path += inner.field[len(own) :]
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


class _RepeatedKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (``json.loads`` keeps the last of a repeated key)."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _RepeatedKeyError(key)
        obj[key] = value
    return obj


def load_json_file(path: str | Path, field: str = "input", what: str = "a readable JSON file") -> Any:
    """The JSON document in a file, or an :class:`InvalidInputError` naming ``field`` and the file.

    A UTF-8 byte order mark (Windows editors write one) is read past, as RFC 8259 allows; a key given
    twice in one object is refused, since the first value would be dropped without a word; a document
    nested too deeply or holding too long a number is named as such, never an internal error.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInputError(field, str(path), what, exc.strerror or "") from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            field, str(path), "a JSON file encoded in UTF-8", f"{not_utf8(exc)}; save it again as UTF-8"
        ) from None
    try:
        return json.loads(text, object_pairs_hook=_once_each)
    except _RepeatedKeyError as exc:
        raise InvalidInputError(
            field,
            str(path),
            "JSON that names each key of an object once",
            f"{exc.key!r} is given twice in one object: the first value would be silently replaced",
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            field, str(path), "valid JSON", f"line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (RecursionError, ValueError) as exc:
        too_big = json_too_big(exc)
        if too_big is None:
            raise
        raise InvalidInputError(field, str(path), too_big) from None


def load_patient(path: str | Path) -> Patient:
    """Read a patient JSON file; unreadable or malformed files give a clear error."""
    return parse_patient(load_json_file(path))
