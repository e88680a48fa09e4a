"""The plan's result types: recommendations with basis and citations, a dated schedule, the plan.

Everything is frozen so that an :class:`~spinemets.assessment.Assessment` can be stored, compared
and serialised the same way by the CLI, the API and the renderers.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from spinemets.knowledge.bibliography import Reference


class Urgency(StrEnum):
    """How fast the team must act: emergency (hours), urgent (days), routine (weeks or planned)."""

    emergency = "emergency"
    urgent = "urgent"
    routine = "routine"

    @property
    def rank(self) -> int:
        return {"emergency": 0, "urgent": 1, "routine": 2}[self.value]


class Category(StrEnum):
    """Clinical area of a recommendation (the order is the display order within one urgency)."""

    urgency = "urgency"
    imaging = "imaging"
    work_up = "work-up"
    differential = "differential"
    stability = "stability"
    surgery = "surgery"
    radiotherapy = "radiotherapy"
    systemic = "systemic"
    pain = "pain"
    supportive = "supportive"
    rehabilitation = "rehabilitation"
    palliative = "palliative"
    mdt = "mdt"
    follow_up = "follow-up"


CATEGORY_ORDER: dict[Category, int] = {c: i for i, c in enumerate(Category)}


class Kind(StrEnum):
    """What the recommendation asks: do something, obtain a missing fact, heed a caution, or know."""

    action = "action"
    obtain = "obtain"
    caution = "caution"
    information = "information"


class Certainty(StrEnum):
    """How the fact was checked (guidelines fact sheet tags): K means recalled and unverified."""

    V = "V"
    V2 = "V2"
    S = "S"
    K = "K"


class SourceStatement(BaseModel):
    """What one named source says, shown side by side when sources differ (e.g. 12 h vs 24 h MRI)."""

    model_config = ConfigDict(frozen=True)
    source: str
    text: str
    certainty: Certainty
    strength: str | None = None
    citations: tuple[Reference, ...]

    @property
    def unverified(self) -> bool:
        return self.certainty is Certainty.K


class Recommendation(BaseModel):
    """One step of the plan, with the facts that made it fire and where it comes from."""

    model_config = ConfigDict(frozen=True)
    id: str
    """Stable identifier, e.g. ``imaging.mri-whole-spine-12h``; never reused for another meaning."""
    category: Category
    kind: Kind
    urgency: Urgency
    text: str
    """The recommendation in one sentence."""
    strength: str | None = None
    """Strength or evidence level as the source grades it (e.g. ``ESMO [I, A]``), when it gives one."""
    certainty: Certainty
    unverified: bool
    """True when the statement, a per-source line or a basis line rests on recalled ([K]) facts."""
    basis: tuple[str, ...]
    """Inputs and scores that made the rule fire, e.g. ``SINS 14 (unstable) at T12``."""
    citations: tuple[Reference, ...]
    per_source: tuple[SourceStatement, ...] = ()
    """Source-specific statements shown side by side (never averaged)."""
    rule: str
    """The rule (module.function) that produced it."""

    def __repr__(self) -> str:
        return f"<Recommendation {self.id} [{self.urgency.value}]>"


class ScheduledItem(BaseModel):
    """One follow-up appointment: when (months after treatment, and a date when one is known) and what."""

    model_config = ConfigDict(frozen=True)
    month: int
    due: dt.date | None
    what: str
    recommendation_id: str


class Plan(BaseModel):
    """The ordered, cited plan for one patient, produced by a versioned rule set."""

    model_config = ConfigDict(frozen=True)
    ruleset_version: str
    urgency: Urgency | None
    """The most urgent recommendation's urgency (None when nothing fired)."""
    recommendations: tuple[Recommendation, ...]
    schedule: tuple[ScheduledItem, ...] = ()
    references: tuple[Reference, ...] = ()
    """Every cited reference once, numbered by order of first citation in the plan."""

    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.recommendations)

    def urgency_basis(self) -> tuple[Recommendation, ...]:
        """The recommendations whose urgency is the plan's: what makes the plan as urgent as it is."""
        return tuple(
            r for r in self.recommendations if self.urgency is not None and r.urgency is self.urgency
        )

    def get(self, rec_id: str) -> Recommendation | None:
        for r in self.recommendations:
            if r.id == rec_id:
                return r
        return None

    def reference_number(self, ref_id: str) -> int:
        """1-based number of a reference in :attr:`references`."""
        for i, ref in enumerate(self.references, start=1):
            if ref.id == ref_id:
                return i
        raise KeyError(ref_id)
