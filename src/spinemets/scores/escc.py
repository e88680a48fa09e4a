"""Bilsky ESCC, the epidural spinal cord compression scale (six ordinal grades, axial T2 MRI).

Graded per lesion at the level of worst compression; the patient-level result is the worst
lesion. The six grades are stored as published; the low / high split is a band, and where grade
1c falls is the option ``escc_1c`` (``low`` by default, as it is usually grouped for radiation
decisions; ``high`` to group it with cord compression).

References:
    Bilsky MH et al. J Neurosurg Spine 2010;13(3):324-328. doi:10.3171/2010.3.SPINE09459
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinemets.scores.engine import (
    Band,
    Category,
    Item,
    Lookup,
    Option,
    ScoreDefinition,
    ScoreKind,
    ScoreSpec,
    SurvivalDirection,
)

GRADES: tuple[tuple[str, str], ...] = (
    ("0", "Bone-only disease"),
    ("1a", "Epidural impingement without deformation of the thecal sac"),
    ("1b", "Deformation of the thecal sac without spinal cord abutment"),
    ("1c", "Deformation of the thecal sac with spinal cord abutment, without cord compression"),
    ("2", "Spinal cord compression with CSF visible around the cord"),
    ("3", "Spinal cord compression without CSF visible around the cord"),
)

GROUPING_OPTION = Option(
    name="escc_1c",
    choices=("low", "high"),
    default="low",
    describe="where grade 1c is grouped: low (default, usual for radiation decisions) or high",
)


def definition(grade_1c: str = "low") -> ScoreDefinition:
    """The ESCC scale with grade 1c in the ``grade_1c`` group."""
    top_low = 3 if grade_1c == "low" else 2
    return ScoreDefinition(
        key="escc",
        name="Bilsky ESCC",
        version=f"Bilsky 2010 (1c grouped {grade_1c})",
        description="Epidural spinal cord compression grade 0-3 (six grades) at one lesion; low vs high grade.",
        kind=ScoreKind.grade,
        unit_of_scoring="lesion",
        citation_ids=("bilsky2010",),
        survival_direction=SurvivalDirection.not_prognostic,  # grades cord compression, not survival
        items=(
            Item(
                key="grade",
                label="ESCC grade",
                definition="; ".join(f"{g} {text.lower()}" for g, text in GRADES) + ".",
                question="What is the Bilsky ESCC grade on axial T2 MRI at the level of worst compression?",
                categories=tuple(
                    Category(key=g, points=i, label=f"{g}: {text}") for i, (g, text) in enumerate(GRADES)
                ),
                derivations=(
                    Lookup(
                        input="escc",
                        table={g: g for g, _ in GRADES},
                        describe="an ESCC grade: " + ", ".join(g for g, _ in GRADES),
                    ),
                ),
            ),
        ),
        bands=(
            Band(
                key="low_grade",
                low=0,
                high=top_low,
                label="low grade",
                meaning="Low-grade compression (0-1b"
                + (", 1c" if grade_1c == "low" else "")
                + "): without instability, radiation can be the first treatment.",
            ),
            Band(
                key="high_grade",
                low=top_low + 1,
                high=5,
                label="high grade",
                meaning="High-grade compression ("
                + ("1c, " if grade_1c == "high" else "")
                + "2-3): decompression before radiation unless the tumour is highly radiosensitive.",
            ),
        ),
        notes=(
            "Management of 1c is debated; its grouping is the escc_1c option (shown in the version).",
            "The total is the rank of the grade (0 = grade 0 .. 5 = grade 3); the grade is the result.",
        ),
    )


def lesion_inputs(lesion: Any, patient: Any) -> Mapping[str, Any]:
    return {"grade": lesion.escc} if lesion.escc is not None else {}


DEFINITION = definition()
SPEC = ScoreSpec(
    definition=DEFINITION,
    lesion_inputs=lesion_inputs,
    options=(GROUPING_OPTION,),
    build=lambda o: definition(o["escc_1c"]),
)
