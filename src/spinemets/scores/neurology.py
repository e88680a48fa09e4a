"""Frankel grade (with the ASIA Impairment Scale substituted one-for-one), as a graded score.

Scores that grade palsy by Frankel (Tokuhashi) accept an ASIA grade too; the substitution is shown
in the derivation text, because strictly AIS E describes a patient whose earlier deficits have
recovered while Frankel E is any neurologically normal patient (docs/conflicts.md).

References:
    Frankel HL et al. Paraplegia 1969;7(3):179-192.
    American Spinal Injury Association. ISNCSCI, revised 2019.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinemets.scores.engine import (
    Band,
    Category,
    Item,
    Lookup,
    ScoreDefinition,
    ScoreKind,
    ScoreSpec,
    SurvivalDirection,
)

GRADES = ("A", "B", "C", "D", "E")

ASIA_SUBSTITUTION = (
    "ASIA grade substituted one-for-one for Frankel (AIS E strictly means recovered deficits; "
    "a never-impaired patient is Frankel E)"
)

FRANKEL_MEANING: dict[str, str] = {
    "A": "Complete: no motor or sensory function below the level.",
    "B": "Sensory only: some sensation preserved below the level, no motor function.",
    "C": "Motor useless: some motor function preserved below the level, of no practical use.",
    "D": "Motor useful: useful motor function below the level.",
    "E": "Normal motor and sensory function (reflexes may be abnormal).",
}


def frankel_lookup(table: Mapping[str, str]) -> Lookup:
    """A ``frankel=A..E`` derivation onto a score's own palsy categories."""
    return Lookup(input="frankel", table=dict(table), normalise="upper", describe="a Frankel grade A-E")


def asia_lookup(table: Mapping[str, str]) -> Lookup:
    """An ``asia=A..E`` derivation: the same table, with the substitution named in the derivation."""
    return Lookup(
        input="asia",
        table=dict(table),
        normalise="upper",
        describe="an ASIA Impairment Scale grade A-E",
        note=ASIA_SUBSTITUTION,
    )


DEFINITION = ScoreDefinition(
    key="frankel",
    name="Frankel",
    version="Frankel 1969 (ASIA substituted one-for-one)",
    description="Frankel grade A-E of the neurological deficit (ASIA grade accepted, substitution shown).",
    kind=ScoreKind.grade,
    citation_ids=("frankel1969", "isncsci2019"),
    survival_direction=SurvivalDirection.higher_longer,  # rank A=0..E=4; Tokuhashi palsy points rise A/B->E
    items=(
        Item(
            key="grade",
            label="Frankel grade",
            definition="A complete; B sensory only; C motor useless; D motor useful; E normal.",
            question="What is the Frankel (or ASIA) grade on examination?",
            categories=tuple(
                Category(key=g, points=i, label=f"Frankel {g}: {FRANKEL_MEANING[g]}")
                for i, g in enumerate(GRADES)
            ),
            derivations=(frankel_lookup({g: g for g in GRADES}), asia_lookup({g: g for g in GRADES})),
        ),
    ),
    bands=tuple(
        Band(key=g.lower(), low=i, high=i, label=f"Frankel {g}", meaning=FRANKEL_MEANING[g])
        for i, g in enumerate(GRADES)
    ),
    notes=(
        "The rank (A=0 .. E=4) is the total; the grade itself is the result.",
        "The grade wording is recalled from Frankel 1969 [K], not checked against the paper.",
    ),
)


def from_patient(patient: Any) -> Mapping[str, Any]:
    if patient.neurology.frankel is not None:
        return {"frankel": patient.neurology.frankel}
    if patient.neurology.asia is not None:
        return {"asia": patient.neurology.asia}
    return {}


SPEC = ScoreSpec(definition=DEFINITION, from_patient=from_patient)
