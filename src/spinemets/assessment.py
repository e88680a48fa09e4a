"""A patient's assessment: every score (and, from the rule engine, the plan) with versions.

This is the object the CLI, the API, the renderers and storage all serialise the same way
(``Assessment.model_dump(mode="json")``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from spinemets.model.patient import STORED_RECORD, Patient
from spinemets.model.validation import parse_patient
from spinemets.rules import Plan, build_plan, ruleset_version
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
    ruleset_version: str = ""
    """Version of the rule set that produced :attr:`plan` (also inside the plan)."""
    plan: Plan | None = None
    """The ordered, cited management plan (see ``spinemets.rules`` and docs/assessment-schema.md)."""


def assess(patient: Patient | dict[str, Any]) -> Assessment:
    """Validate the patient (a dict is parsed, with clear errors), compute every score and the plan."""
    p = parse_patient(patient)
    scores = score_all(p)
    sins_by_lesion = score_lesions(p)
    return Assessment(
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
        patient=p,
        scores=scores,
        sins_by_lesion=sins_by_lesion,
        ruleset_version=ruleset_version(),
        plan=build_plan(p, scores, sins_by_lesion),
    )


def load_assessment(outputs: Mapping[str, Any]) -> Assessment:
    """An assessment serialised earlier (``model_dump(mode="json")``), read back as it was computed.

    The patient's cross-field checks are not run again (``STORED_RECORD``): one added since the
    assessment was stored would otherwise make it unreadable (its result page and reports failed).
    """
    return Assessment.model_validate(outputs, context={STORED_RECORD: True})
