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
from spinemets.scores import sins, tokuhashi
from spinemets.scores.engine import ScoreDefinition, ScoreResult, ScoreSpec, evaluate

#: Version of the score definitions as a whole; bumped whenever a table or band changes.
DEFINITIONS_VERSION = "2026.11.0"

SPECS: dict[str, ScoreSpec] = {
    spec.definition.key: spec
    for spec in (
        sins.SPEC,
        tokuhashi.SPEC,
    )
}

SCORES: dict[str, ScoreDefinition] = {key: spec.definition for key, spec in SPECS.items()}
"""The catalogue: score key -> its published definition (items, categories, points, bands, citation)."""


def get_spec(name: str) -> ScoreSpec:
    key = name.strip().lower().replace("-", "_")
    if key not in SPECS:
        raise UnknownScoreError("score", name, sorted(SPECS))
    return SPECS[key]


def score_lesions(patient: Patient) -> tuple[ScoreResult, ...]:
    """SINS for every lesion of the patient, in the order entered."""
    return tuple(
        evaluate(sins.SPEC, sins.lesion_inputs(lesion, patient.pain.type), subject=str(lesion.level))
        for lesion in patient.lesions
    )


def most_unstable(results: tuple[ScoreResult, ...]) -> ScoreResult | None:
    """The lesion with the highest attainable SINS, ties broken by the higher certain minimum."""
    if not results:
        return None
    return max(results, key=lambda r: (r.max, r.min))


def score(name: str, items_or_patient: Mapping[str, Any] | Patient, **inputs: Any) -> ScoreResult:
    """Compute one score from calculator items (``{"pain": "mechanical", "level": "T12"}``) or a patient.

    Keyword arguments are merged into the items, so ``score("sins", {}, level="T12")`` works too.
    For SINS with a patient, the result is the most unstable lesion (its level is ``subject``).
    """
    spec = get_spec(name)
    if isinstance(items_or_patient, Patient):
        return _score_patient(spec, items_or_patient)
    if not isinstance(items_or_patient, Mapping):
        raise InvalidInputError(
            "items", type(items_or_patient).__name__, "a mapping of item -> value, or a Patient"
        )
    merged = {**items_or_patient, **inputs}
    if "lesions" in merged or ("primary" in merged and isinstance(merged.get("primary"), Mapping)):
        return _score_patient(spec, parse_patient(dict(merged)))
    return evaluate(spec, merged)


def _score_patient(spec: ScoreSpec, patient: Patient) -> ScoreResult:
    if spec is sins.SPEC:
        best = most_unstable(score_lesions(patient))
        if best is None:
            return evaluate(spec, {}, subject="no lesion entered")
        return best
    raw = spec.from_patient(patient) if spec.from_patient else {}
    return evaluate(spec, raw)


def score_all(patient: Patient) -> dict[str, ScoreResult]:
    """Every catalogue score for one patient."""
    return {key: _score_patient(spec, patient) for key, spec in SPECS.items()}
