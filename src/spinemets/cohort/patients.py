"""Patients -> cohort rows, using each score's own extractor (``from_patient`` / ``lesion_inputs``).

The cohort file is flat: one row per patient, one column per raw input (``kps``, ``primary``,
``frankel``, ... and, for lesion-level scores, the inputs of one index lesion: ``level``, ``pain``,
...). This module builds such a row from a :class:`~spinemets.model.patient.Patient` by calling the
same extractors as :func:`spinemets.assess`, so a registry exported from spinemets patient files
scores identically. When two scores would read the same input name with different values, each
gets a score-specific column ``<score>.<input>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from spinemets.model.patient import Patient
from spinemets.scores.engine import ScoreSpec


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def score_inputs(patient: Patient, spec: ScoreSpec, lesion_index: int = 0) -> dict[str, Any]:
    """The raw inputs ``spec`` reads for this patient (lesion scores: the lesion at ``lesion_index``)."""
    if spec.lesion_inputs is not None:
        if len(patient.lesions) <= lesion_index:
            return {}
        return {k: _plain(v) for k, v in spec.lesion_inputs(patient.lesions[lesion_index], patient).items()}
    if spec.from_patient is None:
        return {}
    return {k: _plain(v) for k, v in spec.from_patient(patient).items()}


def patient_row(patient: Patient, specs: Mapping[str, ScoreSpec], lesion_index: int = 0) -> dict[str, Any]:
    """One flat cohort row for ``patient`` (index lesion ``lesion_index`` for lesion-level scores)."""
    per_score = {key: score_inputs(patient, spec, lesion_index) for key, spec in specs.items()}
    readers: dict[str, list[str]] = {}
    for key, spec in specs.items():
        for name in spec.definition.accepted_inputs():
            readers.setdefault(name, []).append(key)
    row: dict[str, Any] = {}
    for key, inputs in per_score.items():
        for name, value in inputs.items():
            same = all(
                name in per_score[other] and repr(per_score[other][name]) == repr(value)
                for other in readers.get(name, [key])
            )
            row[name if same else f"{key}.{name}"] = value
    return row
