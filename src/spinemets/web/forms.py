"""Translate the Assess form to the patient dict and back; nothing here judges a clinical fact.

The form is derived from the patient model itself: every leaf field of
:class:`spinemets.model.Patient` becomes one control (its kind, choices and help text read from
the model), so a field added to the model appears on the page without a second copy. The only
web-specific data is the grouping into sections, in the order a clinician works through a
patient. Values are passed on as typed; validation (and its message naming the value and the
allowed values) is left to :func:`spinemets.parse_patient`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ValidationError

from spinemets.errors import InvalidInputError
from spinemets.model.levels import LevelSpan
from spinemets.model.patient import Lesion, Patient, Quantity
from spinemets.model.units import ALBUMIN_UNITS, albumin_range_text
from spinemets.model.validation import collapse_unions, invalid_input

Kind = Literal["bool", "choice", "int", "float", "date", "text", "multi", "level", "quantity"]

YES, NO = "yes", "no"
LESIONS = "lesions"
_LESION_NAME = re.compile(r"^lesions\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class Bounds:
    """A number field's limits as the patient model declares them (pydantic ``ge``/``gt``/``le``/
    ``lt``/``multiple_of``); ``None`` where the model sets none."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    multiple_of: float | None = None

    @property
    def minimum(self) -> float | None:
        """The HTML ``min`` (an exclusive lower limit has no HTML form; it is named in the text)."""
        return self.ge if self.ge is not None else self.gt

    @property
    def maximum(self) -> float | None:
        return self.le if self.le is not None else self.lt

    def text(self) -> str:
        """``0–120``, ``over 0, up to 200``, ``10–100 in steps of 10``; "" with no upper limit
        (``0 or more`` says nothing a clinician needs)."""
        if self.maximum is None:
            return ""
        hi = f"{self.maximum:g}" if self.le is not None else f"under {self.maximum:g}"
        if self.ge is not None and self.le is not None:
            out = f"{self.ge:g}–{self.le:g}"
        elif self.ge is not None:
            out = f"{self.ge:g} to {hi}"
        elif self.gt is not None:
            out = f"over {self.gt:g}, up to {hi}"
        else:
            out = f"up to {hi}"
        if self.multiple_of is not None:
            out += f" in steps of {self.multiple_of:g}"
        return out


_BOUND_TYPES = (
    annotated_types.Ge,
    annotated_types.Gt,
    annotated_types.Le,
    annotated_types.Lt,
    annotated_types.MultipleOf,
)


def _bounds(annotation: Any, metadata: Iterable[Any]) -> Bounds | None:
    """The numeric limits in a field's metadata and in an ``Annotated`` member of its type
    (``Count = Annotated[int, Field(ge=0, le=1000)]``)."""
    found: list[Any] = list(metadata)
    stack = [annotation]
    while stack:
        ann = stack.pop()
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            base, *extra = typing.get_args(ann)
            stack.append(base)
            for item in extra:
                found.extend(getattr(item, "metadata", [item]))
        elif origin is typing.Union or origin is types.UnionType:
            stack.extend(typing.get_args(ann))
    limits: dict[str, float] = {}
    for item in found:
        if isinstance(item, _BOUND_TYPES):
            key = type(item).__name__.lower().replace("multipleof", "multiple_of")
            limits[key] = float(getattr(item, key))
    return Bounds(**limits) if limits else None


@dataclass(frozen=True)
class FieldSpec:
    """One form control, derived from one leaf field of the patient model."""

    name: str
    """Dotted path, e.g. ``primary.histology``; lesion fields are relative (``bone_lesion``)."""
    label: str
    kind: Kind
    choices: tuple[tuple[str, str], ...] = ()
    """(value, label) pairs for ``choice``, ``multi`` and ``quantity`` (units)."""
    bounds: Bounds | None = None
    """The model's numeric limits of an ``int`` or ``float`` control (shown on the page, and as
    ``min``/``max``/``step`` so that the arrow keys stay inside them)."""
    allowed: str = ""
    """What the control takes, shown under it before anything is typed: ``0–120``, ``10–100 in
    steps of 10``; empty where the label already says all (an unbounded count, a choice)."""


@dataclass(frozen=True)
class Section:
    """A group of controls as a clinician thinks about the patient."""

    key: str
    title: str
    fields: tuple[FieldSpec, ...]


#: Sections in the order of a consultation: (key, title, model paths or path prefixes).
SECTION_LAYOUT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("patient", "Patient", ("patient_id", "assessment_date", "age_years", "sex")),
    (
        "presentation",
        "Presentation and symptoms",
        ("pain", "symptoms", "other_symptoms", "context.known_cancer", "context.suspected_mscc"),
    ),
    ("neurology", "Neurology", ("neurology",)),
    ("primary", "Primary tumour and lymph nodes", ("primary", "nodes")),
    ("burden", "Metastatic burden", ("burden",)),
    ("performance", "Performance status", ("performance",)),
    ("labs", "Laboratory values", ("labs",)),
    ("treatment", "Imaging, prior treatment and pathway", ("context",)),
    ("notes", "Notes", ("notes",)),
)


#: Options whose value, read as words, says something else: SINS collapse 'under 50' has lost its %, and
#: 'none' there means none of the above (Fisher 2010), so no collapse with over 50% of the body
#: involved is not 'none' but 1 point. Keyed by control name (a lesion control's name within its row).
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "collapse": {
        "over_50": "over 50% collapse",
        "under_50": "under 50% collapse",
        "no_collapse_over_50_involved": "no collapse, over 50% of the body involved",
        "none": "none of the above",
    },
}


def _humanise(value: str) -> str:
    return value.replace("_", " ")


def _label(path: str, description: str | None) -> str:
    """The model's description reads as a label, except where it only lists the choices
    (``lytic / mixed / blastic``): then the field's own name is clearer (``Bone lesion``)."""
    if description and " / " not in description:
        return description.rstrip(".")
    parts = path.split(".")
    words = parts[-2:] if parts[-1] in {"type", "status"} and len(parts) > 1 else parts[-1:]
    return _humanise(" ".join(words)).capitalize()


def _unwrap(annotation: Any) -> list[Any]:
    """The non-None members of an annotation (``X | None`` -> ``[X]``)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return [m for a in typing.get_args(annotation) if a is not type(None) for m in _unwrap(a)]
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return [annotation]


def _spec(
    name: str, annotation: Any, description: str | None, metadata: Iterable[Any] = ()
) -> FieldSpec | None:
    """The control for one annotation, or None for a nested model (handled by the caller)."""
    members = _unwrap(annotation)
    label = _label(name, description)
    if Quantity in members:  # the description after ':' explains the JSON shape, not the fact
        units = tuple((u, u) for u in ALBUMIN_UNITS)
        return FieldSpec(
            name, label.split(":")[0], "quantity", units, allowed=f"plausible {albumin_range_text()}"
        )
    only = members[0]
    origin = typing.get_origin(only)
    if origin is list:
        (inner,) = typing.get_args(only)
        return FieldSpec(name, label, "multi", tuple((m.value, _humanise(m.value)) for m in inner))
    if origin is Literal:
        return FieldSpec(
            name, label, "choice", tuple((str(v), _humanise(str(v))) for v in typing.get_args(only))
        )
    if isinstance(only, type):
        if issubclass(only, BaseModel):
            return None
        if issubclass(only, Enum):
            words = CHOICE_LABELS.get(name, {})
            choices = tuple((m.value, words.get(m.value, _humanise(m.value))) for m in only)
            return FieldSpec(name, label, "choice", choices)
        if issubclass(only, bool):
            return FieldSpec(name, label, "bool", ((YES, "yes"), (NO, "no")))
        if issubclass(only, (int, float)):
            bounds = _bounds(annotation, metadata)
            kind: Kind = "int" if issubclass(only, int) else "float"
            return FieldSpec(name, label, kind, bounds=bounds, allowed=bounds.text() if bounds else "")
        if issubclass(only, dt.date):
            return FieldSpec(name, label, "date")
        if issubclass(only, LevelSpan):
            return FieldSpec(name, label, "level")
    return FieldSpec(name, label, "text")


def _leaves(model: type[BaseModel], prefix: str = "") -> list[FieldSpec]:
    out: list[FieldSpec] = []
    for fname, info in model.model_fields.items():
        name = f"{prefix}{fname}"
        if prefix == "" and fname == LESIONS:
            continue
        spec = _spec(name, info.annotation, info.description, info.metadata)
        if spec is not None:
            out.append(spec)
            continue
        nested = next(m for m in _unwrap(info.annotation) if isinstance(m, type) and issubclass(m, BaseModel))
        out.extend(_leaves(nested, f"{name}."))
    return out


@cache
def patient_fields() -> tuple[FieldSpec, ...]:
    """Every patient-level control (lesions excluded), in model order."""
    return tuple(_leaves(Patient))


@cache
def lesion_fields() -> tuple[FieldSpec, ...]:
    """The controls of one lesion row, names relative to the row."""
    return tuple(_leaves(Lesion))


@cache
def sections() -> tuple[Section, ...]:
    """Patient-level controls grouped by :data:`SECTION_LAYOUT`; any field not placed goes to 'Other'."""
    remaining = list(patient_fields())
    out: list[Section] = []
    for key, title, paths in SECTION_LAYOUT:
        chosen: list[FieldSpec] = []
        for path in paths:
            for f in list(remaining):
                if f.name == path or f.name.startswith(path + "."):
                    chosen.append(f)
                    remaining.remove(f)
        out.append(Section(key, title, tuple(chosen)))
    if remaining:
        out.append(Section("other", "Other", tuple(remaining)))
    return tuple(out)


def _by_name() -> dict[str, FieldSpec]:
    return {f.name: f for f in patient_fields()}


def _lesion_by_name() -> dict[str, FieldSpec]:
    return {f.name: f for f in lesion_fields()}


def _number(text: str, kind: Kind) -> Any:
    """A number as typed; text that is not one (nor a finite one: 'inf', 'nan', '1e400') is passed
    on so the validator can name it as typed."""
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    if kind == "int" and value == int(value):
        return int(value)
    return value


def _convert(spec: FieldSpec, values: list[str]) -> Any:
    """Form strings -> the JSON value of one control; ``None`` means not recorded."""
    if spec.kind == "multi":
        chosen = [v for v in values if v]
        return chosen or None
    text = (values[-1] if values else "").strip()
    if text == "":
        return None
    if spec.kind == "bool":
        return {YES: True, NO: False}.get(text, text)
    if spec.kind in ("int", "float"):
        return _number(text, spec.kind)
    return text


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _collect(form: Mapping[str, list[str]], specs: Iterable[FieldSpec], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in specs:
        name = prefix + spec.name
        if spec.kind == "quantity":
            value = _convert(FieldSpec(name, spec.label, "float"), form.get(name + ".value", []))
            if value is not None:
                unit = (form.get(name + ".unit", [""])[-1]).strip()
                _put(out, spec.name, {"value": value, "unit": unit})
            continue
        value = _convert(spec, form.get(name, []))
        if value is not None:
            _put(out, spec.name, value)
    return out


def lesion_indices(form: Mapping[str, list[str]]) -> list[int]:
    """Row numbers of the lesion rows present in the form, in order (rows may have been removed)."""
    found = {int(m.group(1)) for key in form if (m := _LESION_NAME.match(key))}
    return sorted(found)


def with_lesion_row(form: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The form with one more, empty, lesion row after the last one."""
    index = max(lesion_indices(form), default=-1) + 1
    return {**form, f"{LESIONS}.{index}.level": [""]}


def without_lesion_row(form: Mapping[str, list[str]], index: int) -> dict[str, list[str]]:
    """The form without lesion row ``index`` (other rows keep their numbers)."""
    prefix = f"{LESIONS}.{index}."
    return {k: v for k, v in form.items() if not k.startswith(prefix)}


def form_to_patient(form: Mapping[str, list[str]]) -> dict[str, Any]:
    """The patient dict for :func:`spinemets.parse_patient`; blank controls are left out (unknown).

    A lesion row left entirely blank is dropped; any other row is kept, so a row with findings but
    no level is reported by the validator rather than silently discarded.
    """
    patient = _collect(form, patient_fields(), "")
    lesions = []
    for i in lesion_indices(form):
        row = _collect(form, lesion_fields(), f"{LESIONS}.{i}.")
        if row:
            lesions.append(row)
    if lesions:
        patient[LESIONS] = lesions
    return patient


#: Fields of the form that are not patient facts: the CSRF token, the button pressed, the record reopened.
FORM_CONTROLS = frozenset({"csrf_token", "action", "assessment_id", "expected_version"})


def _control_names(specs: Iterable[FieldSpec]) -> frozenset[str]:
    names: set[str] = set()
    for spec in specs:
        names.update((spec.name + ".value", spec.name + ".unit") if spec.kind == "quantity" else (spec.name,))
    return frozenset(names)


@cache
def _known_controls() -> tuple[frozenset[str], frozenset[str]]:
    """Names of the form's own controls, and of a lesion row's (built once)."""
    return _control_names(patient_fields()) | FORM_CONTROLS, _control_names(lesion_fields())


def unknown_field(form: Mapping[str, list[str]]) -> InvalidInputError | None:
    """The first field of a posted form that is no control of the Assess form, or None.

    :func:`form_to_patient` reads only the controls it knows, so anything else (a mistyped name, a
    lesion row numbered ``x`` or ``-1``) would be dropped without a word: it is refused instead.
    """
    known, lesion_known = _known_controls()
    for name, values in form.items():
        match = _LESION_NAME.match(name)
        if name in known or (match and match.group(1).isascii() and match.group(2) in lesion_known):
            continue
        value = values[-1] if values else ""
        allowed = "a field of the Assess form"
        if name.startswith(LESIONS + "."):
            allowed = f"a lesion field named {LESIONS}.<row number 0, 1, ...>.<field>, e.g. {LESIONS}.0.level"
        return InvalidInputError(
            name, value, allowed, "unknown fields are refused so that nothing is silently dropped"
        )
    return None


def multidict(items: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    """(name, value) pairs, e.g. from Starlette's ``FormData.multi_items()``, as name -> values."""
    out: dict[str, list[str]] = {}
    for key, value in items:
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def _flatten(value: Any, prefix: str, specs: Mapping[str, FieldSpec], out: dict[str, list[str]]) -> None:
    for key, item in value.items():
        name = f"{prefix}{key}"
        spec = specs.get(name)
        if spec is not None and spec.kind == "quantity":
            if isinstance(item, Mapping):
                out[name + ".value"] = [_text(item.get("value"))]
                out[name + ".unit"] = [_text(item.get("unit"))]
            elif item is not None:
                out[name + ".value"] = [_text(item)]
                out[name + ".unit"] = ["g/dL"]  # the model's documented meaning of a bare number
        elif isinstance(item, Mapping):
            _flatten(item, name + ".", specs, out)
        elif isinstance(item, list):
            out[name] = [_text(v) for v in item]
        elif item is not None:
            out[name] = [_text(item)]


def _text(value: Any) -> str:
    if value is True:
        return YES
    if value is False:
        return NO
    if value is None:
        return ""
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def patient_to_form(patient: Mapping[str, Any]) -> dict[str, list[str]]:
    """The inverse of :func:`form_to_patient`, to reopen a saved assessment in the form."""
    out: dict[str, list[str]] = {}
    rest = {k: v for k, v in patient.items() if k != LESIONS}
    _flatten(rest, "", _by_name(), out)
    lesion_specs = _lesion_by_name()
    for i, lesion in enumerate(patient.get(LESIONS) or []):
        row: dict[str, list[str]] = {}
        _flatten(lesion, "", lesion_specs, row)
        out.update({f"{LESIONS}.{i}.{k}": v for k, v in row.items()})
    return out


def form_name(error_field: str) -> str:
    """An error's field path (``lesions[0].level``) as the control's form name (``lesions.0.level``)."""
    name = re.sub(r"\[(\d+)\]", r".\1", error_field).removeprefix("patient.")
    base, _, part = name.rpartition(".")
    spec = _by_name().get(base)
    if part in ("value", "unit") and spec is not None and spec.kind == "quantity":
        return base  # a quantity's value and unit are one control on the page (labs.albumin)
    return name


def field_id(field: str) -> str:
    """The page id of the control for an error's field path or a form name (``f-performance-kps``):
    what the error summary and the live panel link to, and what the control carries."""
    return "f-" + form_name(field).replace(".", "-")


def field_errors(patient: Mapping[str, Any], first: InvalidInputError) -> dict[str, str]:
    """Every field error of a refused patient, by form name, ``first`` (the one that stopped the
    assessment) leading; so that one save shows all that is wrong, not one error per attempt.

    The messages are the library's (:func:`spinemets.model.validation.invalid_input`); an error
    found after the fields validated (a cross-field check, a score) is ``first`` alone.
    """
    out = {form_name(first.field): str(first)}
    try:
        Patient.model_validate(dict(patient))
    except ValidationError as exc:
        for err in collapse_unions(exc.errors(include_url=False)):
            error = invalid_input(err)
            out.setdefault(form_name(error.field), str(error))
    return out
