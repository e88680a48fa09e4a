"""FHIR R4 in and out: a Bundle of a patient's record becomes a :class:`~spinemets.model.Patient`, and an
assessment becomes a Bundle of RiskAssessments (one per score) and a RequestGroup (the plan).

This module only translates. It never computes a score or decides a recommendation: scores and plan
come from :func:`spinemets.assess`. Resources are validated with ``fhir.resources`` (its R4B models,
FHIR 4.3, whose Patient, Condition, Observation, Procedure, MedicationStatement, RiskAssessment and
RequestGroup are the R4 structures). The codes are in :mod:`spinemets.interop.codes` and documented in
``docs/fhir.md``.

Nothing is dropped silently. A resource or code that does not map is an :class:`InvalidInputError`
naming the resource, the element and the value (``strict=True``, the default), or, for EHR feeds that
carry the whole record (CDS Hooks prefetch), is listed in :attr:`BundleMapping.ignored` with the reason
so that the caller can show it. A known code with a malformed value is always an error.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from spinemets.assessment import Assessment
from spinemets.errors import InvalidInputError, KnowledgeBaseError, MissingExtraError
from spinemets.interop import codes as c
from spinemets.knowledge.bibliography import Reference
from spinemets.model import enums
from spinemets.model.levels import LevelSpan
from spinemets.model.patient import Patient
from spinemets.model.validation import collapse_unions, error_from_validation, parse_patient
from spinemets.rules.model import Plan, Recommendation, Urgency

RESOURCE_TYPES = ("Patient", "Condition", "Observation", "Procedure", "MedicationStatement")
"""The resource types a Bundle may carry (anything else is reported as unmapped)."""
_OBS_USABLE = {"final", "amended", "corrected", "preliminary"}
_PROC_DONE = {"completed", "in-progress", "stopped"}
_SKIP_STATUS = {"entered-in-error"}
_UNCONFIRMED = {"unconfirmed", "provisional", "differential"}
"""Condition.verificationStatus short of confirmed (R4 condition-ver-status: unconfirmed and its children)."""
_NOT_ACTIVE = {"inactive", "remission", "resolved"}
"""Condition.clinicalStatus of a condition that is no longer active (R4 condition-clinical)."""


class Ignored(BaseModel):
    """A resource (or a part of one) that was not used, and why."""

    model_config = ConfigDict(frozen=True)
    resource: str
    element: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.resource} {self.element} = {self.value}: {self.reason}"


class BundleMapping(BaseModel):
    """The patient read from a Bundle, the resources that supplied facts and those left unused."""

    model_config = ConfigDict(frozen=True)
    patient: Patient
    used: tuple[str, ...]
    ignored: tuple[Ignored, ...]
    subject: str | None
    """The patient reference of the Bundle (``Patient/<id>``, or the Patient entry's ``fullUrl`` when it
    has no id), used as the subject of the results."""


@dataclass(frozen=True)
class _When:
    """When a fact held, as the span its FHIR date covers: ``2026-11-01`` is that whole day (UTC),
    ``2026-11`` the month, a dateTime with a time one instant. Two spans that overlap cannot be
    ordered, so neither observation is "the most recent" of the two."""

    start: dt.datetime
    end: dt.datetime
    """Exclusive end; an instant ends one microsecond after it starts."""
    text: str

    def before(self, other: _When) -> bool:
        """True when this span ends no later than ``other`` starts (certainly earlier)."""
        return self.end <= other.start


@dataclass(frozen=True)
class _Fact:
    value: Any
    ref: str
    element: str
    when: _When | None


def _fhir_bundle_class() -> Any:
    try:
        from fhir.resources.R4B.bundle import Bundle
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError("FHIR mapping", "api") from exc
    return Bundle


def _loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _check_entries(entries: Any) -> None:
    """Every entry holds a resource of a known FHIR R4 type (checked before the models see it)."""
    from fhir.resources.R4B import get_fhir_model_class

    if entries is None:
        return
    if not isinstance(entries, list):
        raise InvalidInputError("Bundle.entry", type(entries).__name__, "a list of entries")
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            raise InvalidInputError(f"Bundle.entry[{i}].resource", resource, "a FHIR resource (JSON object)")
        rtype = resource.get("resourceType")
        try:
            known = isinstance(rtype, str) and rtype.isalpha() and get_fhir_model_class(rtype) is not None
        except (ValueError, KeyError, AttributeError):
            known = False
        if not known:
            raise InvalidInputError(
                f"Bundle.entry[{i}].resource.resourceType", rtype, "a FHIR R4 resource type"
            )


def validate_bundle(bundle_json: Any) -> dict[str, Any]:
    """Check the JSON against the FHIR R4 Bundle structure; return it normalised, or a clear error."""
    if not isinstance(bundle_json, Mapping) or bundle_json.get("resourceType") != "Bundle":
        got = (
            bundle_json.get("resourceType")
            if isinstance(bundle_json, Mapping)
            else type(bundle_json).__name__
        )
        raise InvalidInputError("Bundle.resourceType", got, "a FHIR R4 Bundle (resourceType 'Bundle')")
    bundle_cls = _fhir_bundle_class()
    _check_entries(bundle_json.get("entry"))
    try:
        bundle = bundle_cls.model_validate(dict(bundle_json))
    except (TypeError, KeyError, AttributeError) as exc:  # fhir.resources trips over some malformed JSON
        raise InvalidInputError("Bundle", type(exc).__name__, "valid FHIR R4 JSON", str(exc)[:200]) from None
    except ValidationError as exc:
        raise _structure_error(exc) from None
    del bundle  # valid: read the JSON itself (dumping the model back costs more than the mapping)
    return dict(bundle_json)


def _structure_error(exc: ValidationError) -> InvalidInputError:
    """The first structural error of a Bundle, naming the element.

    A complex element (Reference, CodeableConcept, Quantity...) sent as a string is reported by the
    FHIR models as unparsable JSON ("Invalid JSON: expected value at line 1 column 1"), which says
    nothing useful to the sender: it is reported as the JSON object the element must be instead.
    """
    error = error_from_validation(exc, None, prefix="Bundle.")
    first = collapse_unions(exc.errors(include_url=False))[0]
    if first.get("type") == "json_invalid" and isinstance(first.get("input"), str):
        return InvalidInputError(
            error.field,
            first["input"],
            "a JSON object (a FHIR complex type such as a Reference, CodeableConcept or Quantity)",
            "FHIR JSON writes a complex element as an object, never as text",
        )
    return error


def _ref(resource: Mapping[str, Any], index: int) -> str:
    rid = resource.get("id")
    return (
        f"{resource.get('resourceType')}/{rid}" if rid else f"{resource.get('resourceType')}[entry {index}]"
    )


def _codings(concept: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not concept:
        return []
    return [(cd.get("system") or "", cd.get("code") or "") for cd in concept.get("coding") or []]


def _show(concept: Mapping[str, Any] | None) -> str:
    pairs = _codings(concept)
    if pairs:
        return ", ".join(f"{s}|{k}" for s, k in pairs)
    return repr((concept or {}).get("text"))


def _parse_when(value: Any, where: str) -> dt.datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime (partial dates at their start); None if absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInputError(
            where, value, "a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)"
        )
    text = value.replace("Z", "+00:00")
    try:
        if len(text) == 4:
            return dt.datetime(int(text), 1, 1, tzinfo=dt.UTC)
        if len(text) == 7:
            return dt.datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=dt.UTC)
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            where, value, "a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _span_when(value: Any, where: str) -> _When | None:
    """A FHIR date/dateTime/instant as the span of time it covers (its precision), or None if absent."""
    start = _parse_when(value, where)
    if start is None:
        return None
    text = str(value)
    if len(text) == 4:
        end = start.replace(year=start.year + 1)
    elif len(text) == 7:
        end = (start + dt.timedelta(days=32)).replace(day=1)
    elif len(text) == 10:
        end = start + dt.timedelta(days=1)
    else:
        end = start + dt.timedelta(microseconds=1)
    return _When(start, end, text)


def _date_of(value: Any, ref: str, element: str) -> dt.date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{ref}.{element}", value, "a date (YYYY-MM-DD)")
    if len(value) < 10:
        raise InvalidInputError(
            f"{ref}.{element}", value, "a full date (YYYY-MM-DD)", "a year or month alone is not a date"
        )
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise InvalidInputError(f"{ref}.{element}", value, "a valid calendar date (YYYY-MM-DD)") from None


class _Collector:
    """Facts gathered from the resources, with where each came from (for errors and provenance)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.facts: dict[tuple[str, str | None], list[_Fact]] = defaultdict(list)
        self.any_facts: dict[str, list[_Fact]] = defaultdict(list)
        self.lists: dict[str, list[_Fact]] = defaultdict(list)
        self.levels: dict[str, str] = {}
        self.used: list[str] = []
        self.ignored: list[Ignored] = []

    def unmapped(self, ref: str, element: str, value: object, allowed: str) -> None:
        if self.strict:
            raise InvalidInputError(f"{ref}.{element}", value, allowed, "not mapped: see docs/fhir.md")
        self.ignored.append(Ignored(resource=ref, element=element, value=str(value), reason=f"not {allowed}"))

    def skip(self, ref: str, element: str, value: object, reason: str) -> None:
        self.ignored.append(Ignored(resource=ref, element=element, value=str(value), reason=reason))

    def add(
        self,
        path: str,
        value: Any,
        ref: str,
        element: str,
        when: _When | None,
        level: str | None = None,
    ) -> None:
        self.facts[(path, level)].append(_Fact(value, ref, element, when))
        if level is not None:
            self.levels.setdefault(level, ref)
        if ref not in self.used:
            self.used.append(ref)

    def lesion(self, level: str, ref: str) -> None:
        self.levels.setdefault(level, ref)
        if ref not in self.used:
            self.used.append(ref)


def _resolve(path: str, facts: list[_Fact]) -> _Fact:
    """One value per field: agreeing values, or the most recent when every fact is dated.

    "Most recent" must be certain: a different value whose date overlaps the latest one's (the same
    day, or a day against a time on that day) is a tie that the Bundle order would otherwise decide,
    and is refused with both resources, their values and dates named.
    """
    if all(f.value == facts[0].value for f in facts):
        return facts[0]
    if not all(f.when is not None for f in facts):
        shown = "; ".join(f"{f.ref}.{f.element} = {_plain(f.value)!r}" for f in facts)
        raise InvalidInputError(
            path,
            shown,
            "one value, or dated observations (effective[x]) so that the most recent one is used",
            "conflicting values",
        )
    dated = [(f, f.when) for f in facts if f.when is not None]
    latest, latest_when = max(dated, key=lambda fw: fw[1].start)
    tied = [
        (f, w) for f, w in dated if f is not latest and f.value != latest.value and not w.before(latest_when)
    ]
    if tied:
        shown = "; ".join(
            f"{f.ref}.{f.element} = {_plain(f.value)!r} on {w.text}"
            for f, w in [(latest, latest_when), *tied]
        )
        raise InvalidInputError(
            path,
            shown,
            "one value per date: different values are resolved to the most recent one, and these share "
            "a date (the same day, or a time on that day), so none is the most recent",
            "conflicting values on the same date; correct or mark one entered-in-error, or give times",
        )
    return latest


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _level_from(resource: Mapping[str, Any], ref: str, required: bool) -> str | None:
    """The spinal level of ``bodySite`` (local spinal-level code), canonical, or None when absent."""
    site = resource.get("bodySite")
    sites = site if isinstance(site, list) else ([site] if site else [])
    for i, concept in enumerate(sites):
        for j, (system, code) in enumerate(_codings(concept)):
            if system == c.LEVEL_SYSTEM:
                element = (
                    f"bodySite[{i}].coding[{j}].code"
                    if isinstance(site, list)
                    else f"bodySite.coding[{j}].code"
                )
                try:
                    return str(LevelSpan.parse(code))
                except InvalidInputError as exc:
                    raise InvalidInputError(f"{ref}.{element}", code, exc.allowed) from None
    if required:
        raise InvalidInputError(
            f"{ref}.bodySite",
            _show(sites[0]) if sites else None,
            f"a coding from {c.LEVEL_SYSTEM} naming the spinal level, e.g. T12 or T11-T12",
        )
    return None


def _subject(resource: Mapping[str, Any]) -> str | None:
    for key in ("subject", "patient"):
        value = resource.get(key)
        if isinstance(value, Mapping):
            return value.get("reference")
    return None


# --- values of observations ----------------------------------------------------------------------------


def _unit_text(unit: str) -> str:
    """A unit as compared between ``Quantity.unit`` (display) and ``Quantity.code`` (UCUM): case, spaces,
    UCUM brackets and braces ignored, ``µ`` as ``u`` and ``^`` as ``*`` (``10^3/µL`` is ``10*3/uL``)."""
    text = unit.strip().replace(" ", "").replace("µ", "u").replace("μ", "u").replace("^", "*")
    return "".join(ch for ch in text if ch not in "[]{}").lower()


def _same_size(spec: c.FieldSpec, code: str, text: str) -> bool:
    """Two units that ``spec`` reads with the same factor (``/uL`` and ``/mm3``; ``U/L`` and ``[IU]/L``)."""
    if spec.path == "labs.platelets_per_ul":
        factors = {_unit_text(u): f for u, f in c.PLATELET_UNITS.items()}
    elif spec.kind == "quantity_albumin":  # g/dL and g/L differ tenfold
        return False
    else:  # every accepted unit is read as it is
        factors = {_unit_text(u): 1.0 for u in spec.unit}
    a, b = factors.get(_unit_text(code)), factors.get(_unit_text(text))
    return a is not None and a == b


def _quantity_unit(quantity: Mapping[str, Any], where: str, spec: c.FieldSpec | None = None) -> str | None:
    """The unit a Quantity is in: its UCUM ``code``, else its ``unit`` text. When both are given they must
    say the same unit (a unit text of g/dL beside a code of g/L leaves the value's size ambiguous);
    two units the field reads with the same factor agree (:func:`_same_size`)."""
    code, text = quantity.get("code"), quantity.get("unit")
    if not code or not text or _unit_text(str(code)) == _unit_text(str(text)):
        return code or text
    if spec is not None and _same_size(spec, str(code), str(text)):
        return str(code)
    raise InvalidInputError(
        f"{where}.unit",
        text,
        f"the unit of {where}.code ({code!r}), or absent",
        f"the unit text says {text!r} but the UCUM code says {code!r}: which one is meant cannot be told, "
        "so neither is used; correct the one that is wrong",
    )


def _value(spec: c.FieldSpec, obs: Mapping[str, Any], ref: str) -> tuple[Any, str] | None:
    """The model value of an Observation for ``spec`` and the element it came from (None: no value)."""
    present = [
        k for k, v in obs.items() if k.startswith("value") and not k.endswith("__ext") and v is not None
    ]
    if not present:
        return None
    key = present[0]
    raw = obs[key]
    where = f"{ref}.{key}"
    kind = spec.kind
    if kind == "bool":
        if key != "valueBoolean":
            raise InvalidInputError(where, raw, f"valueBoolean for {spec.path}")
        return bool(raw), key
    if kind == "enum":
        if key != "valueCodeableConcept":
            raise InvalidInputError(where, raw, f"valueCodeableConcept from {c.LOCAL} for {spec.path}")
        for system, code in _codings(raw):
            if system == c.LOCAL:
                if code not in spec.enum:
                    raise InvalidInputError(f"{where}.coding.code", code, spec.enum, f"answer to {spec.path}")
                return code, key
        raise InvalidInputError(
            where, _show(raw), f"a coding from {c.LOCAL} with one of {', '.join(spec.enum)} ({spec.path})"
        )
    if kind == "receptor":
        if key != "valueCodeableConcept":
            raise InvalidInputError(
                where, raw, "valueCodeableConcept Positive (LA6576-8) or Negative (LA6577-6)"
            )
        for pair in _codings(raw):
            if pair in c.RECEPTOR_ANSWERS:
                return c.RECEPTOR_ANSWERS[pair].value, key
        raise InvalidInputError(
            where,
            _show(raw),
            "LOINC LA6576-8 (Positive) or LA6577-6 (Negative), or SNOMED CT 10828004 / 260385009",
            "equivocal or other results are not a receptor status the scores use",
        )
    if kind == "date":
        if key != "valueDateTime":
            raise InvalidInputError(where, raw, f"valueDateTime for {spec.path}")
        return _date_of(raw, ref, key), key
    # numbers
    if key == "valueInteger":
        number: Any = raw
        unit: str | None = None
    elif key == "valueQuantity":
        if not isinstance(raw, Mapping):
            raise InvalidInputError(
                where, raw, f"a Quantity (JSON object with value and code) for {spec.path}"
            )
        number = raw.get("value")
        unit = _quantity_unit(raw, where, spec)
        if number is None:
            raise InvalidInputError(f"{where}.value", None, "a number")
        if raw.get("comparator"):
            raise InvalidInputError(
                f"{where}.comparator",
                raw["comparator"],
                "absent (an exact value)",
                f"'{raw['comparator']}{number}' is a bound, not a value; the fact stays unknown unless measured",
            )
        ucum_system: Any = raw.get("system")
        if raw.get("code") and ucum_system not in (None, c.UCUM):
            raise InvalidInputError(f"{where}.system", ucum_system, c.UCUM)
    else:
        raise InvalidInputError(where, raw, f"valueQuantity (or valueInteger) for {spec.path}")
    if isinstance(number, bool) or not isinstance(number, int | float):
        element = where if key == "valueInteger" else f"{where}.value"
        raise InvalidInputError(
            element, number, f"a JSON number for {spec.path}", "FHIR JSON writes numbers without quotes"
        )
    if kind == "quantity_albumin":
        if unit not in spec.unit:
            raise InvalidInputError(f"{where}.code", unit, spec.unit, "albumin in g/dL or g/L (UCUM)")
        return {"value": float(number), "unit": unit}, key
    if spec.path == "labs.platelets_per_ul" and unit in c.PLATELET_UNITS:
        return float(number) * c.PLATELET_UNITS[unit], key
    if spec.unit and unit not in (*spec.unit, None):
        allowed_units = spec.unit if spec.path != "labs.platelets_per_ul" else tuple(c.PLATELET_UNITS)
        raise InvalidInputError(f"{where}.code", unit, allowed_units, f"UCUM unit of {spec.path}")
    if spec.unit and unit is None and key == "valueQuantity":
        raise InvalidInputError(f"{where}.code", None, spec.unit, f"UCUM unit of {spec.path}")
    if kind == "int":
        if float(number) != int(number):
            raise InvalidInputError(where, number, f"a whole number for {spec.path}")
        return int(number), key
    return float(number), key


def _when(resource: Mapping[str, Any], ref: str) -> _When | None:
    """When a fact held: effective[x] / performed[x] (a period's end, else start), else ``issued``."""
    for key in ("effectiveDateTime", "effectiveInstant", "occurrenceDateTime", "performedDateTime"):
        if resource.get(key):
            return _span_when(resource[key], f"{ref}.{key}")
    for key in ("effectivePeriod", "performedPeriod"):
        period = resource.get(key)
        if isinstance(period, Mapping):
            end = "end" if period.get("end") else "start"
            return _span_when(period.get(end), f"{ref}.{key}.{end}")
    return _span_when(resource.get("issued"), f"{ref}.issued")


# --- resources ------------------------------------------------------------------------------------------


def _observation(obs: Mapping[str, Any], ref: str, col: _Collector) -> None:
    status = obs.get("status")
    if status not in _OBS_USABLE:
        col.skip(ref, "status", status, f"only {', '.join(sorted(_OBS_USABLE))} observations carry results")
        return
    spec: c.FieldSpec | None = None
    for system, code in _codings(obs.get("code")):
        if system == c.LOINC and code in c.standard_fields():
            spec = c.standard_fields()[code]
            break
        if system == c.LOCAL and code in c.local_fields():
            spec = c.local_fields()[code]
            break
    if spec is None:
        col.unmapped(ref, "code", _show(obs.get("code")), "a LOINC or local code listed in docs/fhir.md")
        return
    if obs.get("component"):
        col.unmapped(
            ref, "component", len(obs["component"]), "an Observation without components (one fact each)"
        )
        return
    if not spec.is_lesion and _level_from(obs, ref, required=False) is not None:
        raise InvalidInputError(
            f"{ref}.bodySite",
            _show(obs["bodySite"]),
            f"absent for {spec.path} (a patient-level fact)",
            "lesion facts use the lesion.* codes",
        )
    got = _value(spec, obs, ref)
    if got is None:
        reason = _show(obs.get("dataAbsentReason")) if obs.get("dataAbsentReason") else "no value[x]"
        col.skip(ref, "value[x]", reason, f"no value for {spec.path}: the fact stays missing")
        return
    value, value_element = got
    when = _when(obs, ref)
    if spec.path in ("symptoms", "other_symptoms"):
        col.lists[spec.path].append(_Fact(value, ref, value_element, when))
        col.used.append(ref)
        return
    level = _level_from(obs, ref, required=spec.is_lesion) if spec.is_lesion else None
    path = spec.path.removeprefix("lesion.") if spec.is_lesion else spec.path
    col.add(path, value, ref, value_element, when, level)


def _condition(cond: Mapping[str, Any], ref: str, col: _Collector) -> None:
    verification = {k for _, k in _codings(cond.get("verificationStatus"))}
    if verification & {"refuted", "entered-in-error"}:
        col.skip(ref, "verificationStatus", ",".join(sorted(verification)), "refuted or entered in error")
        return
    # a tentative or differential diagnosis is not a fact to score; a primary site unknown is tentative by
    # nature (the working label until tissue names the tumour) and claims no tumour type to doubt
    if verification & _UNCONFIRMED and not _names_unknown_primary(cond):
        col.skip(
            ref, "verificationStatus", ",".join(sorted(verification)), "not a confirmed diagnosis: not used"
        )
        return
    clinical = {k for _, k in _codings(cond.get("clinicalStatus"))}
    when = _span_when(cond.get("recordedDate"), f"{ref}.recordedDate")
    for i, (system, code) in enumerate(_codings(cond.get("code"))):
        element = f"code.coding[{i}]"
        histology = _coded_primary(system, code)
        if histology is None:
            secondary = _icd10_secondary(code) if system in (c.ICD10, c.ICD10_CM) else None
            if secondary is not None:
                _secondary(cond, ref, col, element, when, secondary, clinical)
                return
            if system == c.SNOMED and code in c.SNOMED_SECONDARY:
                _secondary(cond, ref, col, element, when, "", clinical)
                return
            if system == c.PRIMARY_SYSTEM:
                raise InvalidInputError(f"{ref}.{element}.code", code, [h.value for h in enums.Histology])
        if histology is not None:
            col.add("primary.histology", histology.value, ref, element, None)
            if histology is enums.Histology.other:
                text = (cond.get("code") or {}).get("text")
                if not text:
                    raise InvalidInputError(
                        f"{ref}.code.text", None, "the name of the primary when the code is 'other'"
                    )
                col.add("primary.histology_other", text, ref, "code.text", None)
            if histology is not enums.Histology.unknown_primary:  # a working label, not a cancer history
                col.add("context.known_cancer", True, ref, element, when)
            onset = cond.get("onsetDateTime")
            if onset:
                col.add(
                    "primary.diagnosis_date",
                    _date_of(onset, ref, "onsetDateTime"),
                    ref,
                    "onsetDateTime",
                    None,
                )
            return
    col.unmapped(
        ref,
        "code",
        _show(cond.get("code")),
        "a primary cancer (SNOMED CT, ICD-10 or local primary-tumour code) or a secondary bone/brain neoplasm",
    )


def _names_unknown_primary(cond: Mapping[str, Any]) -> bool:
    """Whether a coding of ``cond.code`` is a primary site unknown (ICD-10 C80, SNOMED CT or local)."""
    return any(
        _coded_primary(system, code) is enums.Histology.unknown_primary
        for system, code in _codings(cond.get("code"))
    )


def _coded_primary(system: str, code: str) -> enums.Histology | None:
    """The primary tumour a coding names (SNOMED CT, ICD-10 or ICD-10-CM, the local system), or None."""
    if system == c.SNOMED:
        found = c.SNOMED_PRIMARY.get(code)
        return found[0] if found else None
    if system in (c.ICD10, c.ICD10_CM):
        return _icd10_primary(code)
    if system == c.PRIMARY_SYSTEM and code in enums.Histology.__members__:
        return enums.Histology(code)
    return None


def _icd10_primary(code: str) -> enums.Histology | None:
    norm = code.strip().upper()
    for prefix in sorted(c.ICD10_PRIMARY, key=len, reverse=True):
        if norm.startswith(prefix):
            return c.ICD10_PRIMARY[prefix]
    return None


def _icd10_secondary(code: str) -> str | None:
    norm = code.strip().upper()
    for prefix, path in c.ICD10_SECONDARY.items():
        if norm.startswith(prefix):
            return path
    return None


def _secondary(
    cond: Mapping[str, Any],
    ref: str,
    col: _Collector,
    element: str,
    when: _When | None,
    path: str,
    clinical: set[str],
) -> None:
    """A secondary neoplasm: a known cancer and, while active, the brain fact (``path``) or a lesion at the
    ``bodySite`` level. One no longer active (R4 Condition.clinicalStatus, a modifier) is history only."""
    col.add("context.known_cancer", True, ref, element, when)
    if clinical & _NOT_ACTIVE:
        col.skip(
            ref, "clinicalStatus", ",".join(sorted(clinical)), "no longer active: not a present metastasis"
        )
        return
    if path:
        col.add(path, True, ref, element, when)
    level = _level_from(cond, ref, required=False)
    if level is not None:
        col.lesion(level, ref)


def _procedure(proc: Mapping[str, Any], ref: str, col: _Collector) -> None:
    status = proc.get("status")
    if status not in _PROC_DONE:
        col.skip(
            ref, "status", status, "only completed, in-progress or stopped procedures count as treatment"
        )
        return
    kind: str | None = None
    for system, code in _codings(proc.get("code")):
        if system == c.SNOMED and code in c.SNOMED_PROCEDURES:
            kind = c.SNOMED_PROCEDURES[code][0]
        elif system == c.LOCAL and code in c.LOCAL_PROCEDURES:
            kind = code
    if kind is None:
        col.unmapped(ref, "code", _show(proc.get("code")), "radiotherapy, chemotherapy or spinal surgery")
        return
    when = _when(proc, ref)
    performed = proc.get("performedDateTime") or (proc.get("performedPeriod") or {}).get("end")
    element = "performedDateTime" if proc.get("performedDateTime") else "performedPeriod.end"
    date = _date_of(performed, ref, element) if performed else None
    if kind == c.PROCEDURE_CHEMOTHERAPY:
        col.add("primary.previous_chemotherapy", True, ref, "code", when)
        return
    level = _level_from(proc, ref, required=False)
    if level is None:
        col.unmapped(
            ref, "bodySite", _show((proc.get("bodySite") or [None])[0]), "a spinal level (spinal-level code)"
        )
        return
    if kind == c.PROCEDURE_SPINAL_SURGERY:
        col.add("prior_surgery", True, ref, "code", when, level)
        if date:
            col.add("prior_surgery_date", date, ref, element, when, level)
        return
    rt: dict[str, Any] = {"date": date}
    for ext in proc.get("extension") or []:
        url = ext.get("url") if isinstance(ext, Mapping) else None
        expected = _RT_EXTENSIONS.get(url) if isinstance(url, str) else None
        if expected is None:
            col.unmapped(
                ref, "extension", url, "a spinemets radiotherapy extension (dose, fractions, technique)"
            )
            continue
        name, value_key = expected
        where = f"{ref}.extension[{name}]"
        given = [k for k in ext if k.startswith("value")]
        if given != [value_key]:
            # a known extension whose value cannot be read is an error in every mode: never dropped silently
            raise InvalidInputError(
                where, ", ".join(given) or "no value[x]", f"{value_key} for {name}", f"extension {url}"
            )
        value = ext[value_key]
        if name == "radiotherapy-dose":
            q = value if isinstance(value, Mapping) else {}
            number = q.get("value")
            if (
                not q
                or _quantity_unit(q, f"{where}.valueQuantity") != "Gy"
                or isinstance(number, bool)
                or not isinstance(number, int | float)
            ):
                raise InvalidInputError(where, value, "valueQuantity in Gy (UCUM 'Gy') with a JSON number")
            rt["dose_gy"] = number
        elif name == "radiotherapy-fractions":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInputError(f"{where}.valueInteger", value, "a whole number (JSON integer)")
            rt["fractions"] = value
        else:
            if not isinstance(value, str):
                raise InvalidInputError(f"{where}.valueCode", value, "a code (JSON string)")
            rt["technique"] = value
    col.add(
        "prior_radiotherapy", {k: v for k, v in rt.items() if v is not None}, ref, "extension", when, level
    )


_RT_EXTENSIONS: dict[str, tuple[str, str]] = {
    c.EXT_RT_DOSE: ("radiotherapy-dose", "valueQuantity"),
    c.EXT_RT_FRACTIONS: ("radiotherapy-fractions", "valueInteger"),
    c.EXT_RT_TECHNIQUE: ("radiotherapy-technique", "valueCode"),
}
"""The radiotherapy extensions of a Procedure: url -> (name in messages, the value[x] it carries)."""


def _medication(med: Mapping[str, Any], ref: str, col: _Collector) -> None:
    status = med.get("status")
    if status in _SKIP_STATUS or status in {"intended", "on-hold", "unknown"}:
        col.skip(ref, "status", status, "neither current nor past use")
        return
    concept = med.get("medicationCodeableConcept")
    matched: list[tuple[str, str]] = []
    for system, code in _codings(concept):
        if system != c.ATC:
            continue
        for path, prefixes in c.ATC_CLASSES.items():
            if any(code.upper().startswith(p) for p in prefixes):
                matched.append((path, code))
    if not matched:
        col.unmapped(
            ref,
            "medicationCodeableConcept",
            _show(concept),
            "an ATC code of a corticosteroid, bone-modifying agent, endocrine, kinase-inhibitor or cytotoxic drug",
        )
        return
    when = _when(med, ref)
    for path, _code in matched:
        if path == "primary.previous_chemotherapy":
            if status != "not-taken":
                col.any_facts[path].append(_Fact(True, ref, "medicationCodeableConcept", when))
        else:
            col.any_facts[path].append(_Fact(status == "active", ref, f"status ({status})", when))
    col.used.append(ref)


def _patient(res: Mapping[str, Any], ref: str, col: _Collector, on: dt.date) -> None:
    if res.get("id"):
        col.add("patient_id", res["id"], ref, "id", None)
    gender = res.get("gender")
    if gender in ("female", "male", "other"):
        col.add("sex", gender, ref, "gender", None)
    elif gender not in (None, "unknown"):
        raise InvalidInputError(f"{ref}.gender", gender, ("female", "male", "other", "unknown"))
    birth = res.get("birthDate")
    if birth:
        born = _date_of(birth, ref, "birthDate")
        if born is not None:
            age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
            col.add("age_years", age, ref, "birthDate", None)
    if ref not in col.used:
        col.used.append(ref)


# --- the whole bundle --------------------------------------------------------------------------------------


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def map_bundle(
    bundle_json: Mapping[str, Any], *, strict: bool = True, assessment_date: dt.date | None = None
) -> BundleMapping:
    """Read a FHIR R4 Bundle into the patient model, reporting every resource it could not use.

    ``assessment_date`` (default: the Bundle's ``timestamp``, else today) is the date of the
    assessment and the date at which the age is computed from ``Patient.birthDate``.
    """
    data = validate_bundle(bundle_json)
    _check_complete(data)
    entries = [e.get("resource") for e in data.get("entry") or []]
    full_urls = {i: e.get("fullUrl") for i, e in enumerate(data.get("entry") or [])}
    on = (
        assessment_date
        or (_parse_when(data.get("timestamp"), "Bundle.timestamp") or dt.datetime.now(dt.UTC)).date()
    )
    col = _Collector(strict)
    col.facts[("assessment_date", None)].append(_Fact(on, "Bundle", "timestamp", None))
    patients = [(i, r) for i, r in enumerate(entries) if r and r.get("resourceType") == "Patient"]
    if len(patients) > 1:
        refs = [_ref(r, i) for i, r in patients]
        raise InvalidInputError(
            "Bundle.entry", refs, "one Patient per Bundle (one assessment is one patient)"
        )
    subject_refs: set[str] = set()
    subject: str | None = None
    if patients:
        i, p = patients[0]
        subject = _ref(p, i)
        subject_refs = {subject}
        if full_urls.get(i):
            subject_refs.add(str(full_urls[i]))
    for i, res in enumerate(entries):
        if not res:
            raise InvalidInputError(f"Bundle.entry[{i}].resource", None, "a resource")
        ref = _ref(res, i)
        rtype = res.get("resourceType")
        if rtype == "OperationOutcome" and _search_mode(data, i) == "outcome":
            _search_outcome(res, ref, col)
            continue
        if rtype not in RESOURCE_TYPES:
            col.unmapped(ref, "resourceType", rtype, f"one of {', '.join(RESOURCE_TYPES)}")
            continue
        if rtype != "Patient":
            if res.get("status") in _SKIP_STATUS:
                col.skip(ref, "status", "entered-in-error", "entered in error")
                continue
            who = _subject(res)
            if who is None:
                raise InvalidInputError(f"{ref}.subject", None, "a reference to the patient of the Bundle")
            if subject is None:
                subject, subject_refs = who, {who}
            elif who not in subject_refs:
                raise InvalidInputError(
                    f"{ref}.subject", who, f"a reference to {subject}", "a Bundle must describe one patient"
                )
        if res.get("modifierExtension"):
            urls = [m.get("url") for m in res["modifierExtension"]]
            raise InvalidInputError(
                f"{ref}.modifierExtension",
                urls,
                "absent",
                "a modifier extension can change the meaning of a resource",
            )
        if rtype == "Patient":
            _patient(res, ref, col, on)
        elif rtype == "Observation":
            _observation(res, ref, col)
        elif rtype == "Condition":
            _condition(res, ref, col)
        elif rtype == "Procedure":
            _procedure(res, ref, col)
        else:
            _medication(res, ref, col)
    # A resource without an id is referenced by its entry's fullUrl (FHIR R4 Bundle: "fullUrl ... the
    # Absolute URL for the resource"); one with neither cannot be referenced (its "Type[entry n]" name is
    # for messages only), so it is left out of the references the results carry.
    nameless = {_ref(r, i) for i, r in enumerate(entries) if r and not r.get("id")}
    by_url = {
        _ref(r, i): str(full_urls[i])
        for i, r in enumerate(entries)
        if r and not r.get("id") and full_urls.get(i)
    }

    def reference(name: str | None) -> str | None:
        if name in by_url:
            return by_url[name]
        return None if name in nameless else name

    used = (reference(u) for u in dict.fromkeys(col.used))
    return BundleMapping(
        patient=_build(col),
        used=tuple(u for u in used if u is not None),
        ignored=tuple(col.ignored),
        subject=reference(subject),
    )


def _check_complete(bundle: Mapping[str, Any]) -> None:
    """A Bundle with a ``next`` link (FHIR R4 search paging) is one page of the result: the facts on the
    other pages (a later value, a conflicting one) would be missing without a trace, so it is refused."""
    for i, link in enumerate(bundle.get("link") or []):
        if isinstance(link, Mapping) and link.get("relation") == "next":
            raise InvalidInputError(
                f"Bundle.link[{i}].relation",
                "next",
                "absent: the whole search result in one Bundle (every page's entries)",
                "this Bundle is one page of a search result; its other pages were not sent",
            )


def _search_mode(bundle: Mapping[str, Any], index: int) -> Any:
    """``Bundle.entry[index].search.mode`` (match, include or outcome), or None."""
    search = (bundle.get("entry") or [])[index].get("search")
    return search.get("mode") if isinstance(search, Mapping) else None


_SIMPLE_PATH = re.compile(r"[A-Za-z]\w*(\[\d+\])?(\.[A-Za-z]\w*(\[\d+\])?)*")


def fhirpath(field: str, bundle: Mapping[str, Any]) -> str | None:
    """An error's field as FHIRPath in ``bundle`` (R4 OperationOutcome.issue.expression: "element names,
    repetition indicators and the default child accessor"), or None when it names no element of the
    Bundle (a model field such as ``performance.kps``). ``Observation/o1.valueQuantity.code`` becomes
    ``Bundle.entry[n].resource.valueQuantity.code``; a part that is no FHIRPath is left off."""
    field = re.sub(r" \(.*\)$", "", field)
    if field.startswith("Bundle") and _SIMPLE_PATH.fullmatch(field):
        return field
    entries = bundle.get("entry")
    names = {  # the names _ref gives resources in messages: Type/id, or Type[entry n] without an id
        _ref(e["resource"], i): i
        for i, e in enumerate(entries if isinstance(entries, list) else [])
        if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
    }
    found = [n for n in names if field == n or field.startswith(n + ".")]
    if not found:
        return None
    name = max(found, key=len)  # ids may hold dots: the longest name that matches is the resource
    path = f"Bundle.entry[{names[name]}].resource"
    for part in field[len(name) + 1 :].split(".") if field != name else []:
        if not _SIMPLE_PATH.fullmatch(part):  # extension[radiotherapy-dose]: the element, no index
            element = re.match(r"[A-Za-z]\w*", part)
            path += f".{element.group()}" if element else ""
            break
        path += f".{part}"
    return path


def failed_issue(outcome: Mapping[str, Any]) -> tuple[int, str] | None:
    """The first issue of an OperationOutcome that reports a failure (severity ``error`` or ``fatal``),
    as (index, severity); None when it only informs or warns. Read by ``$assess`` and CDS Hooks alike."""
    issues = outcome.get("issue")
    for k, issue in enumerate(issues if isinstance(issues, list) else []):
        severity = issue.get("severity") if isinstance(issue, Mapping) else None
        if severity in ("error", "fatal"):
            return k, str(severity)
    return None


def _search_outcome(outcome: Mapping[str, Any], ref: str, col: _Collector) -> None:
    """An OperationOutcome of a searchset (FHIR R4 Bundle.entry.search.mode ``outcome``: "An
    OperationOutcome that provides additional information about the processing of a search") is not
    patient data: information and warnings are reported as unused; an error or fatal issue may mean
    that the search left resources out, so the record is refused rather than scored as complete."""
    failed = failed_issue(outcome)
    if failed is not None:
        k, severity = failed
        raise InvalidInputError(
            f"{ref}.issue[{k}].severity",
            severity,
            "information or warning",
            "the server reported a failed search: the record may be incomplete",
        )
    col.skip(ref, "search.mode", "outcome", "a note of the server about the search, not patient data")


def _build(col: _Collector) -> Patient:
    data: dict[str, Any] = {}
    sources: dict[str, _Fact] = {}
    levels = sorted(col.levels, key=lambda s: (LevelSpan.parse(s).start.index, LevelSpan.parse(s).end.index))
    lesions: list[dict[str, Any]] = [{"level": lv} for lv in levels]
    index = {lv: i for i, lv in enumerate(levels)}
    for path, summary in col.any_facts.items():
        value = any(f.value for f in summary)
        chosen = next(f for f in summary if f.value == value)
        col.facts[(path, None)].append(_Fact(value, chosen.ref, chosen.element, None))
    for (path, level), facts in col.facts.items():
        target = f"lesions[{index[level]}].{path}" if level is not None else path
        fact = _resolve(target, facts)
        sources[target] = fact
        if level is None:
            _set(data, path, fact.value)
        else:
            lesions[index[level]][path] = fact.value
    for path, facts in col.lists.items():
        data[path] = list(dict.fromkeys(f.value for f in facts))
        for n, f in enumerate(facts):
            sources[f"{path}[{n}]"] = f
    if lesions:
        data["lesions"] = lesions
    try:
        return parse_patient(_plain(data))
    except InvalidInputError as exc:
        origin = _source_of(exc.field, sources)
        if origin is None:
            raise
        raise InvalidInputError(
            f"{origin.ref}.{origin.element} ({exc.field})", exc.value, exc.allowed, exc.hint
        ) from None


def _source_of(field: str, sources: Mapping[str, _Fact]) -> _Fact | None:
    best = None
    for path, fact in sources.items():
        matches = field == path or field.startswith(path + ".") or field.startswith(path + "[")
        if matches and (best is None or len(path) > len(best[0])):
            best = (path, fact)
    if best is None and field.startswith("lesions["):
        prefix = field.split("]")[0] + "]"
        best = next(((p, f) for p, f in sources.items() if p.startswith(prefix)), None)
    return best[1] if best else None


def bundle_to_patient(bundle_json: Mapping[str, Any], *, assessment_date: dt.date | None = None) -> Patient:
    """The patient described by a FHIR R4 Bundle; any unmapped or malformed resource is an error."""
    return map_bundle(bundle_json, strict=True, assessment_date=assessment_date).patient


# --- the patient as FHIR (export, fixtures, round trip) ------------------------------------------------------

_SNOMED_FOR_HISTOLOGY = {h: code for code, (h, _display) in c.SNOMED_PRIMARY.items()}
_LOINC_FOR_PATH = {path: code for code, (path, *_rest) in c.LOINC_FIELDS.items()}
_RECEPTOR_CODING = {
    enums.ReceptorStatus.positive: {"system": c.LOINC, "code": "LA6576-8", "display": "Positive"},
    enums.ReceptorStatus.negative: {"system": c.LOINC, "code": "LA6577-6", "display": "Negative"},
}


def _obs_value(spec: c.FieldSpec, value: Any) -> dict[str, Any]:
    if spec.kind == "bool":
        return {"valueBoolean": value}
    if spec.kind == "enum":
        v = _plain(value)
        return {
            "valueCodeableConcept": {
                "coding": [{"system": c.LOCAL, "code": v}],
                "text": str(v).replace("_", " "),
            }
        }
    if spec.kind == "receptor":
        return {"valueCodeableConcept": {"coding": [_RECEPTOR_CODING[enums.ReceptorStatus(value)]]}}
    if spec.kind == "date":
        return {"valueDateTime": value.isoformat()}
    if spec.kind == "quantity_albumin":
        if isinstance(value, int | float):
            return {"valueQuantity": {"value": value, "unit": "g/dL", "system": c.UCUM, "code": "g/dL"}}
        return {
            "valueQuantity": {"value": value.value, "unit": value.unit, "system": c.UCUM, "code": value.unit}
        }
    if spec.unit and spec.unit[0] not in ("{score}", "1"):
        return {
            "valueQuantity": {"value": value, "unit": spec.unit[0], "system": c.UCUM, "code": spec.unit[0]}
        }
    return {"valueInteger": value} if spec.kind == "int" else {"valueQuantity": {"value": value}}


def patient_to_bundle(patient: Patient) -> dict[str, Any]:
    """A patient as a FHIR R4 collection Bundle that :func:`map_bundle` reads back to the same patient.

    Facts with a standard code use it (LOINC, SNOMED CT); the rest use the local code system. Useful
    to export a record to an EHR, and the inverse that the round-trip tests check.
    """
    pid = patient.patient_id or "patient"
    subj = {"reference": f"Patient/{pid}"}
    resources: list[dict[str, Any]] = []
    person: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if patient.sex:
        person["gender"] = patient.sex
    resources.append(person)
    prim = patient.primary
    if prim.histology is not None:
        code: dict[str, Any]
        if prim.histology in _SNOMED_FOR_HISTOLOGY:
            snomed = _SNOMED_FOR_HISTOLOGY[prim.histology]
            code = {"coding": [{"system": c.SNOMED, "code": snomed, "display": c.SNOMED_PRIMARY[snomed][1]}]}
        else:
            code = {"coding": [{"system": c.PRIMARY_SYSTEM, "code": prim.histology.value}]}
        if prim.histology_other:
            code["text"] = prim.histology_other
        cond: dict[str, Any] = {"resourceType": "Condition", "id": "primary", "code": code, "subject": subj}
        if prim.diagnosis_date:
            cond["onsetDateTime"] = prim.diagnosis_date.isoformat()
        resources.append(cond)
    n = 0

    def observe(path: str, value: Any, level: str | None = None) -> None:
        nonlocal n
        n += 1
        if path in _LOINC_FOR_PATH:
            loinc = _LOINC_FOR_PATH[path]
            spec = c.standard_fields()[loinc]
            coding = {"system": c.LOINC, "code": loinc, "display": spec.description}
        else:
            spec = c.local_fields()[f"lesion.{path}" if level else path]
            coding = {"system": c.LOCAL, "code": spec.path}
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"obs-{n}",
            "status": "final",
            "code": {"coding": [coding]},
            "subject": subj,
            **_obs_value(spec, value),
        }
        if level:
            obs["bodySite"] = {"coding": [{"system": c.LEVEL_SYSTEM, "code": level}]}
        resources.append(obs)

    if patient.age_years is not None:
        observe("age_years", patient.age_years)
    sections = ("primary", "performance", "neurology", "pain", "burden", "nodes", "labs", "context")
    for section in sections:
        for name, value in getattr(patient, section):
            path = f"{section}.{name}"
            if value is None or path in (
                "primary.histology",
                "primary.histology_other",
                "primary.diagnosis_date",
            ):
                continue
            observe(path, value)
    for lesion in patient.lesions:
        level = str(lesion.level)
        for name, value in lesion:
            if value is None or name == "level":
                continue
            if name == "prior_radiotherapy":
                n += 1
                proc: dict[str, Any] = {
                    "resourceType": "Procedure",
                    "id": f"proc-{n}",
                    "status": "completed",
                    "code": {"coding": [{"system": c.SNOMED, "code": "108290001"}]},
                    "subject": subj,
                    "bodySite": [{"coding": [{"system": c.LEVEL_SYSTEM, "code": level}]}],
                }
                ext = []
                if value.dose_gy is not None:
                    ext.append(
                        {
                            "url": c.EXT_RT_DOSE,
                            "valueQuantity": {"value": value.dose_gy, "system": c.UCUM, "code": "Gy"},
                        }
                    )
                if value.fractions is not None:
                    ext.append({"url": c.EXT_RT_FRACTIONS, "valueInteger": value.fractions})
                if value.technique is not None:
                    ext.append({"url": c.EXT_RT_TECHNIQUE, "valueCode": value.technique})
                if ext:
                    proc["extension"] = ext
                if value.date:
                    proc["performedDateTime"] = value.date.isoformat()
                resources.append(proc)
                continue
            observe(name, value, level)
        if all(v is None for k, v in lesion if k != "level"):
            n += 1
            resources.append(
                {
                    "resourceType": "Condition",
                    "id": f"lesion-{n}",
                    "code": {"coding": [{"system": c.SNOMED, "code": "94602001"}]},
                    "bodySite": [{"coding": [{"system": c.LEVEL_SYSTEM, "code": level}]}],
                    "subject": subj,
                }
            )
    for path in ("symptoms", "other_symptoms"):
        for value in getattr(patient, path):
            observe(path, value)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:spinemets:{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }
    if patient.assessment_date:
        bundle["timestamp"] = f"{patient.assessment_date.isoformat()}T00:00:00Z"
    return bundle


# --- results as FHIR -----------------------------------------------------------------------------------------

URGENCY_PRIORITY: dict[Urgency, str] = {
    Urgency.emergency: "stat",
    Urgency.urgent: "urgent",
    Urgency.routine: "routine",
}
"""Plan urgency -> RequestGroup.action.priority (FHIR request-priority: routine | urgent | asap | stat)."""


def priority_of(urgency: Urgency | str) -> str:
    """The FHIR request priority of a plan urgency (every :class:`Urgency` member has one)."""
    try:
        return URGENCY_PRIORITY[Urgency(urgency)]
    except (KeyError, ValueError):
        raise KnowledgeBaseError(
            f"plan urgency {urgency!r} has no FHIR priority; known: {', '.join(URGENCY_PRIORITY)}"
        ) from None


def related_artifact(ref: Reference) -> dict[str, Any]:
    art: dict[str, Any] = {
        "type": "citation",
        "label": ref.short(),
        "display": ref.title,
        "citation": ref.vancouver(),
    }
    if ref.link:
        art["url"] = ref.link
    return art


def _fhir_id(text: str) -> str:
    """A FHIR id (letters, digits, '-' and '.', at most 64) from a score key and subject."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-.") else "-" for ch in text)[:64]


def _uuid(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '/'.join(parts))}"


def as_text(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return "; ".join(as_text(v) for v in value)
    return str(value)


def score_resource(
    result: Any, *, subject: Mapping[str, Any], when: str, basis: Sequence[str] = ()
) -> dict[str, Any]:
    """One ScoreResult as a RiskAssessment: value or attainable range, band, item basis, citations."""
    ext: list[dict[str, Any]] = []
    if result.total is not None:
        ext.append({"url": c.EXT_SCORE_TOTAL, "valueInteger": result.total})
    ext.append(
        {
            "url": c.EXT_SCORE_RANGE,
            "valueRange": {"low": {"value": result.min}, "high": {"value": result.max}},
        }
    )
    ext.extend({"url": c.EXT_BASIS, "valueString": item.explain()} for item in result.items)
    ext.extend(
        {"url": c.EXT_SCORE_MISSING, "valueString": f"{m}: {result.questions.get(m, '')}".rstrip(": ")}
        for m in result.missing
    )
    ext.extend({"url": c.EXT_CITATION, "valueRelatedArtifact": related_artifact(r)} for r in result.citation)
    prediction: dict[str, Any] = {}
    if result.band_determined and result.band is not None:
        prediction["qualitativeRisk"] = {
            "coding": [
                {
                    "system": c.SCORE_SYSTEM,
                    "code": f"{result.score}.{result.band.key}",
                    "display": result.band.label,
                }
            ],
            "text": result.band.label,
        }
        prediction["rationale"] = result.band.meaning
    else:
        prediction["qualitativeRisk"] = {"text": "band undetermined: " + " or ".join(result.possible_bands)}
        prediction["rationale"] = (
            "Missing items leave more than one band possible; see the missing-item extensions."
        )
    notes = [*result.warnings, *result.notes]
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": _fhir_id(f"{result.score}-{result.subject}" if result.subject else result.score),
        "extension": ext,
        "status": "final" if result.complete else "preliminary",
        "code": {
            "coding": [{"system": c.SCORE_SYSTEM, "code": result.score, "display": result.name}],
            "text": result.label() + (f" at {result.subject}" if result.subject else ""),
        },
        "method": {"text": f"{result.name}, version {result.version}"},
        "subject": dict(subject),
        "occurrenceDateTime": when,
        "prediction": [prediction],
    }
    if basis:
        resource["basis"] = [{"reference": b} for b in basis]
    if notes:
        resource["note"] = [{"text": n} for n in notes]
    return resource


def recommendation_text(rec: Recommendation) -> str:
    """The recommendation with its strength and, when it rests on recalled facts, the caveat."""
    text = rec.text
    if rec.strength:
        text += f" [{rec.strength}]"
    if rec.unverified:
        text += " (unverified: rests on recalled facts not yet checked in the primary source)"
    return text


def plan_resource(
    plan: Plan, *, subject: Mapping[str, Any], when: str, reasons: Sequence[str]
) -> dict[str, Any]:
    """The plan as a RequestGroup (status draft, intent proposal): one action per recommendation, each
    with its priority, basis and citations, then the follow-up schedule as timed actions.

    ``reasons`` (the RiskAssessments) are linked by the score-result extension: R4
    RequestGroup.reasonReference only takes a Condition, Observation, DiagnosticReport or DocumentReference."""
    actions: list[dict[str, Any]] = []
    for rec in plan.recommendations:
        action: dict[str, Any] = {
            "id": rec.id,
            "title": as_text(rec.category).replace("_", " "),
            "description": recommendation_text(rec),
            "priority": priority_of(rec.urgency),
            "code": [{"coding": [{"system": c.RECOMMENDATION_SYSTEM, "code": rec.id}]}],
            "extension": [
                {"url": c.EXT_URGENCY, "valueCode": rec.urgency.value},
                *({"url": c.EXT_BASIS, "valueString": b} for b in rec.basis),
            ],
        }
        refs = list(rec.citations)
        for statement in rec.per_source:
            refs.extend(r for r in statement.citations if r not in refs)
        if refs:
            action["documentation"] = [related_artifact(r) for r in refs]
        actions.append(action)
    for n, item in enumerate(plan.schedule, 1):
        timed: dict[str, Any] = {
            "id": f"follow-up-{n}",
            "title": f"follow-up, month {item.month}",
            "description": item.what,
            "priority": "routine",
            "relatedAction": [{"actionId": item.recommendation_id, "relationship": "after"}]
            if plan.get(item.recommendation_id)
            else [],
        }
        if item.due is not None:
            timed["timingDateTime"] = item.due.isoformat()
        else:
            timed["timingDuration"] = {"value": item.month, "unit": "months", "system": c.UCUM, "code": "mo"}
        if not timed["relatedAction"]:
            del timed["relatedAction"]
        actions.append(timed)
    resource: dict[str, Any] = {
        "resourceType": "RequestGroup",
        "id": "plan",
        "status": "draft",
        "intent": "proposal",
        "subject": dict(subject),
        "authoredOn": when,
    }
    if plan.urgency is not None:
        resource["priority"] = priority_of(plan.urgency)
    if actions:
        resource["action"] = actions
    else:
        resource["note"] = [{"text": "No recommendation was produced for this patient."}]
    resource["extension"] = [
        {"url": c.EXT_RULESET, "valueString": plan.ruleset_version},
        *({"url": c.EXT_SCORE_RESULT, "valueReference": {"reference": r}} for r in reasons),
    ]
    return resource


def _validated(resource: dict[str, Any]) -> dict[str, Any]:
    """Check an output resource against its FHIR R4 structure; a failure is a bug here, so it is loud."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise KnowledgeBaseError(f"{resource['resourceType']} {_loc(err['loc'])}: {err['msg']}") from exc
    return resource


def assessment_to_bundle(
    assessment: Assessment, *, subject: str | None = None, basis: Sequence[str] = ()
) -> dict[str, Any]:
    """An assessment as a FHIR R4 collection Bundle: a RiskAssessment per score and the plan.

    ``subject`` is the patient reference (default ``Patient/<patient_id>``); ``basis`` lists the input
    resources (references) the assessment was computed from.
    """
    patient = assessment.patient
    subj: dict[str, Any] = {"reference": subject} if subject else {}
    if not subject:
        subj = (
            {"reference": f"Patient/{patient.patient_id}"}
            if patient.patient_id
            else {"display": "unidentified patient"}
        )
    created = assessment.created
    when = created.isoformat() if isinstance(created, dt.datetime) else str(created)
    results = [r for key, r in assessment.scores.items() if key != "sins"]
    lesions = tuple(getattr(assessment, "sins_by_lesion", ()) or ())
    if lesions:
        results.extend(lesions)
    elif "sins" in assessment.scores:
        results.append(assessment.scores["sins"])
    entries: list[dict[str, Any]] = []
    seed = f"{subj.get('reference', '')}/{when}"
    for r in results:
        res = _validated(score_resource(r, subject=subj, when=when, basis=basis))
        entries.append({"fullUrl": _uuid(seed, res["id"]), "resource": res})
    plan: Plan | None = assessment.plan
    if plan is not None:
        reasons = [e["fullUrl"] for e in entries]
        res = _validated(plan_resource(plan, subject=subj, when=when, reasons=reasons))
        entries.append({"fullUrl": _uuid(seed, "plan"), "resource": res})
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": when,
        "entry": entries,
    }


__all__ = [
    "RESOURCE_TYPES",
    "BundleMapping",
    "Ignored",
    "assessment_to_bundle",
    "bundle_to_patient",
    "fhirpath",
    "map_bundle",
    "patient_to_bundle",
    "validate_bundle",
]
