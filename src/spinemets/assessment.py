"""A patient's assessment: every score (and, from the rule engine, the plan) with versions.

This is the object the CLI, the API, the renderers and storage all serialise the same way
(``Assessment.model_dump(mode="json")``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from spinemets.model.patient import Patient
from spinemets.model.validation import parse_patient
from spinemets.scores.catalogue import DEFINITIONS_VERSION, score_all, score_lesions
from spinemets.scores.engine import ScoreResult

SCHEMA_VERSION = "1"


class Assessment(BaseModel):
    """Scores for one patient, with the definitions version that produced them."""

    model_config = ConfigDict(frozen=True)
    schema_version: str = SCHEMA_VERSION
    definitions_version: str = DEFINITIONS_VERSION
    created: dt.datetime
    patient: Patient
    scores: dict[str, ScoreResult]
    sins_by_lesion: tuple[ScoreResult, ...]
    """SINS of every lesion; ``scores['sins']`` is the most unstable one."""


def assess(patient: Patient | dict[str, Any]) -> Assessment:
    """Validate the patient (a dict is parsed, with clear errors) and compute every score."""
    p = parse_patient(patient)
    return Assessment(
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
        patient=p,
        scores=score_all(p),
        sins_by_lesion=score_lesions(p),
    )
