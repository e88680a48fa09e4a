"""The catalogue of scores and the two entry points: one score, or every score for a patient.

``SPECS`` lists each published score once; the single-patient path, calculator mode, the cohort
path and the web form all read their tables from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinemets.errors import InvalidInputError, UnknownScoreError
from spinemets.model.patient import Patient
from spinemets.model.validation import parse_patient
from spinemets.scores import (
    bauer,
    escc,
    nesms,
    neurology,
    performance,
    sins,
    tokuhashi,
    tokuhashi_1990,
    tomita,
)
from spinemets.scores.engine import Band, ScoreDefinition, ScoreResult, ScoreSpec, evaluate

#: Version of the score definitions as a whole; bumped whenever a table, a band or what an input scores changes.
DEFINITIONS_VERSION = "2026.12.2"

SPECS: dict[str, ScoreSpec] = {
    spec.definition.key: spec
    for spec in (
        sins.SPEC,
        tokuhashi.SPEC,
        tokuhashi_1990.SPEC,
        tomita.SPEC,
        bauer.SPEC,
        bauer.MODIFIED_SPEC,
        nesms.SPEC,
        escc.SPEC,
        performance.SPEC,
        neurology.SPEC,
    )
}

SCORES: dict[str, ScoreDefinition] = {key: spec.definition for key, spec in SPECS.items()}
"""The catalogue: score key -> its published definition (items, categories, points, bands, citation)."""

#: Scores asked for but not implemented, with the reason (shown by ``spinemets score --list``).
NOT_SUPPORTED: dict[str, str] = {
    "katagiri_new": "Katagiri-New (2014): the per-factor points could not be verified against the primary "
    "paper's table in the sources available; only the factors and band survival are confirmed.",
    "rades_mscc": "Rades MSCC survival score (2008): the recalled per-factor points sum to 46, not the "
    "published maximum 45, so at least one value is wrong; the primary Table 2 could not be checked.",
    "osri": "Oswestry Spinal Risk Index (2013): the primary-tumour pathology grade (PTP 1-5) table is a gap.",
}


def get_spec(name: str) -> ScoreSpec:
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    if key not in SPECS:
        hint = f"{key} is not supported yet: {NOT_SUPPORTED[key]}" if key in NOT_SUPPORTED else ""
        raise UnknownScoreError("score", name, sorted(SPECS), hint)
    return SPECS[key]


def _options(spec: ScoreSpec, given: Mapping[str, Any]) -> tuple[ScoreSpec, dict[str, str]]:
    opts = spec.resolve_options(given)
    return spec.variant(opts), opts


def score_lesions(patient: Patient, name: str = "sins", **options: Any) -> tuple[ScoreResult, ...]:
    """A lesion-level score (SINS by default, or ``escc``) for every lesion, in the order entered."""
    spec, opts = _options(get_spec(name), options)
    if spec.lesion_inputs is None:
        raise InvalidInputError("score", name, [k for k, s in SPECS.items() if s.lesion_inputs is not None])
    extract = spec.lesion_inputs
    return tuple(
        evaluate(spec, extract(lesion, patient), subject=str(lesion.level), options=opts)
        for lesion in patient.lesions
    )


def worst_lesion(results: tuple[ScoreResult, ...]) -> ScoreResult | None:
    """The patient-level result of a lesion score: the worst lesion, with the patient's true range.

    The lesion shown is the one with the highest attainable score (ties: higher certain minimum).
    The patient's worst score is at least the highest certain minimum over *all* lesions, so the
    range is ``max(min)..max(max)`` and the band is decided on that range: a lesion known to be ESCC 2
    makes the patient high grade even while another lesion is still ungraded.
    """
    if not results:
        return None
    best = max(results, key=lambda r: (r.max, r.min))
    floor = max(results, key=lambda r: r.min)
    if floor is best or floor.min <= best.min:
        return best
    lo, hi = floor.min, best.max
    bands = [b for b in _bands(best.score, best.options) if b.high >= lo and b.low <= hi]
    note = (
        f"{floor.subject} is certainly {floor.label()}, so the patient's worst lesion scores at least "
        f"{floor.min}; {best.subject} is shown because its missing items could make it worse"
    )
    return best.model_copy(
        update={
            "min": lo,
            "band": bands[0] if len(bands) == 1 else None,
            "band_determined": len(bands) == 1,
            "possible_bands": tuple(b.label for b in bands),
            "warnings": (*best.warnings, note),
        }
    )


def _bands(key: str, options: Mapping[str, str]) -> tuple[Band, ...]:
    """The bands of the definition the result was computed with (options such as ``escc_1c`` change them)."""
    spec = SPECS[key]
    return spec.variant(spec.resolve_options(options)).definition.bands


most_unstable = worst_lesion
"""SINS name for :func:`worst_lesion`: the most unstable lesion, its level in ``subject``."""


def score(name: str, items_or_patient: Mapping[str, Any] | Patient, **inputs: Any) -> ScoreResult:
    """Compute one score from calculator items (``{"pain": "mechanical", "level": "T12"}``) or a patient.

    Keyword arguments are merged into the items, so ``score("sins", {}, level="T12")`` works too.
    Options (e.g. ``ecog_convention="alternative"``, ``escc_1c="high"``) may be given either way.
    For a lesion-level score with a patient, the result is the worst lesion (its level is ``subject``).
    """
    spec = get_spec(name)
    if isinstance(items_or_patient, Patient):
        extra = [k for k in inputs if k not in spec.option_names]
        if extra:
            names = sorted(spec.option_names)
            allowed = f"an option ({', '.join(names)})" if names else "absent (this score has no options)"
            raise InvalidInputError(
                f"{spec.definition.key}.{extra[0]}",
                inputs[extra[0]],
                allowed,
                "with a patient, only options may be given as keywords",
            )
        return _score_patient(spec, items_or_patient, inputs)
    if not isinstance(items_or_patient, Mapping):
        raise InvalidInputError(
            "items", type(items_or_patient).__name__, "a mapping of item -> value, or a Patient"
        )
    merged = {**items_or_patient, **inputs}
    option_names = spec.option_names
    opts_given = {k: v for k, v in merged.items() if k in option_names}
    raw = {k: v for k, v in merged.items() if k not in option_names}
    if "lesions" in raw or ("primary" in raw and isinstance(raw.get("primary"), Mapping)):
        return _score_patient(spec, parse_patient(dict(raw)), opts_given)
    variant, opts = _options(spec, opts_given)
    return evaluate(variant, raw, options=opts)


def _score_patient(spec: ScoreSpec, patient: Patient, options: Mapping[str, Any]) -> ScoreResult:
    variant, opts = _options(spec, options)
    if variant.lesion_inputs is not None:
        extract = variant.lesion_inputs
        per_lesion = tuple(
            evaluate(variant, extract(lesion, patient), subject=str(lesion.level), options=opts)
            for lesion in patient.lesions
        )
        best = worst_lesion(per_lesion)
        if best is None:
            return evaluate(variant, {}, subject="no lesion entered", options=opts)
        return best
    raw = variant.from_patient(patient) if variant.from_patient else {}
    return evaluate(variant, raw, options=opts)


def score_all(patient: Patient, **options: Any) -> dict[str, ScoreResult]:
    """Every catalogue score for one patient; options apply to the scores that have them."""
    known = {name for spec in SPECS.values() for name in spec.option_names}
    for k, v in options.items():
        if k not in known:
            raise InvalidInputError(f"options.{k}", v, sorted(known))
    out: dict[str, ScoreResult] = {}
    for key, spec in SPECS.items():
        names = spec.option_names
        out[key] = _score_patient(spec, patient, {k: v for k, v in options.items() if k in names})
    return out
