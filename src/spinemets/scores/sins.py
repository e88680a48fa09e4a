"""SINS, the Spinal Instability Neoplastic Score (Spine Oncology Study Group).

Scores one lesion (a vertebral level or span) for neoplastic instability, 0-18; the patient-level
result is the most unstable lesion, with its level named.

References:
    Fisher CG et al. Spine 2010;35(22):E1221-E1229. doi:10.1097/BRS.0b013e3181e16ae2
    Fourney DR et al. J Clin Oncol 2011;29(22):3072-3077. doi:10.1200/JCO.2010.34.3897
"""

from __future__ import annotations

from typing import Any

from spinemets.model.enums import Alignment
from spinemets.model.levels import LEVELS
from spinemets.scores.engine import (
    Band,
    Bins,
    Category,
    Item,
    Lookup,
    ScoreDefinition,
    ScoreSpec,
    SurvivalDirection,
)

#: Level -> SINS location, straight from the published level lists (coccyx is not defined).
LOCATION_BY_LEVEL: dict[str, str] = {
    **dict.fromkeys(["C0", "C1", "C2"], "junctional"),
    **dict.fromkeys(["C3", "C4", "C5", "C6"], "mobile"),
    **dict.fromkeys(["C7", "T1", "T2"], "junctional"),
    **{f"T{i}": "semi_rigid" for i in range(3, 11)},
    **dict.fromkeys(["T11", "T12", "L1"], "junctional"),
    **dict.fromkeys(["L2", "L3", "L4"], "mobile"),
    **dict.fromkeys(["L5", "S1"], "junctional"),
    **dict.fromkeys(["S2", "S3", "S4", "S5"], "rigid"),
}


def _span_table() -> dict[str, str | tuple[str, ...]]:
    """Every single level and contiguous span C0..S5 -> the location(s) its levels fall in.

    The primary paper gives no rule for a span crossing categories (e.g. T10-T11), so such a span
    keeps every category its levels have, and the result shows the range instead of picking one.
    """
    order = [lv for lv in LEVELS if lv in LOCATION_BY_LEVEL]
    table: dict[str, str | tuple[str, ...]] = {}
    for i, a in enumerate(order):
        for b in order[i:]:
            cats = tuple(
                dict.fromkeys(LOCATION_BY_LEVEL[x] for x in order[order.index(a) : order.index(b) + 1])
            )
            key = a if a == b else f"{a}-{b}"
            table[key] = cats[0] if len(cats) == 1 else cats
    table["OCCIPUT"] = "junctional"
    return table


DEFINITION = ScoreDefinition(
    key="sins",
    name="SINS",
    version="Fisher 2010",
    description="Spinal Instability Neoplastic Score: neoplastic spinal instability of one lesion, 0-18.",
    unit_of_scoring="lesion",
    citation_ids=("fisher2010", "fourney2011"),
    survival_direction=SurvivalDirection.not_prognostic,  # grades instability, not survival
    items=(
        Item(
            key="location",
            label="Location",
            definition="Junctional occiput-C2, C7-T2, T11-L1, L5-S1 (3); mobile C3-C6, L2-L4 (2); "
            "semi-rigid T3-T10 (1); rigid S2-S5 (0).",
            question="At which vertebral level is the lesion?",
            categories=(
                Category(key="junctional", points=3, label="Junctional (occiput-C2, C7-T2, T11-L1, L5-S1)"),
                Category(key="mobile", points=2, label="Mobile spine (C3-C6, L2-L4)"),
                Category(key="semi_rigid", points=1, label="Semi-rigid (T3-T10)"),
                Category(key="rigid", points=0, label="Rigid (S2-S5)"),
            ),
            derivations=(
                Lookup(
                    input="level",
                    table=_span_table(),
                    normalise="upper",
                    describe="a spinal level or span from occiput (C0) to S5, e.g. T12 or T11-T12 "
                    "(SINS does not define the coccyx)",
                ),
            ),
        ),
        Item(
            key="pain",
            label="Pain",
            definition="Mechanical pain: relief with recumbency and/or pain with movement or loading of the "
            "spine (3); occasional pain but not mechanical (1); pain-free lesion (0).",
            question="Is the pain mechanical (relieved lying down, worse with movement or loading), "
            "occasional non-mechanical, or absent?",
            categories=(
                Category(key="mechanical", points=3, label="Yes: mechanical pain"),
                Category(key="occasional", points=1, label="No: occasional pain, not mechanical"),
                Category(key="none", points=0, label="Pain-free lesion"),
            ),
        ),
        Item(
            key="bone_lesion",
            label="Bone lesion",
            definition="Lytic (2); mixed lytic/blastic (1); blastic (0). Read on CT.",
            question="Is the lesion lytic, mixed or blastic on CT?",
            categories=(
                Category(key="lytic", points=2, label="Lytic"),
                Category(key="mixed", points=1, label="Mixed (lytic/blastic)"),
                Category(key="blastic", points=0, label="Blastic"),
            ),
        ),
        Item(
            key="alignment",
            label="Radiographic spinal alignment",
            definition="Subluxation/translation present (4); de novo deformity, kyphosis or scoliosis (2); "
            "normal alignment (0). A pre-existing deformity is not de novo.",
            question="Is there subluxation/translation, a de novo kyphosis/scoliosis, or normal alignment?",
            categories=(
                Category(key="subluxation_translation", points=4, label="Subluxation/translation present"),
                Category(key="de_novo_deformity", points=2, label="De novo deformity (kyphosis/scoliosis)"),
                Category(key="normal", points=0, label="Normal alignment"),
            ),
            derivations=(
                Lookup(
                    input="alignment_finding",
                    table={
                        "subluxation_translation": "subluxation_translation",
                        "de_novo_deformity": "de_novo_deformity",
                        "preexisting_deformity": "normal",
                        "normal": "normal",
                    },
                    describe="what the images show: subluxation_translation, de_novo_deformity, "
                    "preexisting_deformity (a kyphosis/scoliosis that predates the tumour) or normal",
                    value_notes={
                        "preexisting_deformity": "alignment: the kyphosis/scoliosis was recorded as predating "
                        "the tumour, so it is not a de novo deformity and scores as normal alignment (0)"
                    },
                ),
            ),
        ),
        Item(
            key="vertebral_body_collapse",
            label="Vertebral body collapse",
            definition=">50% collapse (3); <50% collapse (2); no collapse with >50% of the body involved (1); "
            "none of the above (0). Exactly 50% is scored as <50% (see docs/conflicts.md).",
            question="How much has the vertebral body collapsed (>50%, <50%, none), and is >50% of the body "
            "involved?",
            categories=(
                Category(key="over_50", points=3, label=">50% collapse"),
                Category(key="under_50", points=2, label="<50% collapse"),
                Category(
                    key="no_collapse_over_50_involved",
                    points=1,
                    label="No collapse with >50% of the body involved",
                ),
                Category(key="none", points=0, label="None of the above"),
            ),
            derivations=(
                Bins(
                    input="collapse_percent",
                    unit="%",
                    describe="a collapse of 0-100 % of vertebral body height",
                    # Tried in order, first match: 0 -> the first bin, (0, 50] -> <50%, (50, 100] -> >50%.
                    # Closed bins sharing their edges leave no gap (0.0000005 or 50.0000005 was refused).
                    bins=(
                        (0.0, 0.0, ("no_collapse_over_50_involved", "none")),
                        (0.0, 50.0, "under_50"),
                        (50.0, 100.0, "over_50"),
                    ),
                ),
            ),
        ),
        Item(
            key="posterolateral_involvement",
            label="Posterolateral involvement",
            definition="Facet, pedicle or costovertebral joint fracture or replacement with tumour: bilateral (3); "
            "unilateral (1); none of the above (0).",
            question="Are the posterolateral elements (facet, pedicle, costovertebral joint) involved on one side, "
            "both sides, or neither?",
            categories=(
                Category(key="bilateral", points=3, label="Bilateral"),
                Category(key="unilateral", points=1, label="Unilateral"),
                Category(key="none", points=0, label="None of the above"),
            ),
        ),
    ),
    bands=(
        Band(key="stable", low=0, high=6, label="stable", meaning="Stable."),
        Band(
            key="potentially_unstable",
            low=7,
            high=12,
            label="potentially unstable",
            meaning="Indeterminate (possible impending) instability; surgical consultation recommended (7-18).",
        ),
        Band(
            key="unstable",
            low=13,
            high=18,
            label="unstable",
            meaning="Unstable; surgical consultation recommended (7-18).",
        ),
    ),
    notes=(
        "SINS scores a lesion; the patient-level result is the most unstable lesion (as in published cohorts).",
        "Bone quality, collapse and alignment are read on CT; inter-observer kappa for bone lesion is 0.244 "
        "(Fourney 2011).",
        "The Dutch guideline (2015) did not adopt SINS for clinical use; it has since been widely validated.",
    ),
)


def lesion_inputs(lesion: Any, patient: Any) -> dict[str, Any]:
    """Raw SINS inputs of one lesion (unknown facts left out); pain falls back to the patient's."""
    raw: dict[str, Any] = {}
    if lesion.level.end.name != "Co":  # SINS does not define the coccyx: location stays missing
        raw["level"] = str(lesion.level)
    pain = lesion.pain if lesion.pain is not None else patient.pain.type
    if pain is not None:
        raw["pain"] = pain
    if lesion.bone_lesion is not None:
        raw["bone_lesion"] = lesion.bone_lesion
    if lesion.alignment is Alignment.de_novo_deformity and lesion.deformity_preexisting:
        raw["alignment_finding"] = "preexisting_deformity"  # not de novo (Fisher 2010): scores 0, with a note
    elif lesion.alignment is not None:
        raw["alignment"] = lesion.alignment
    if lesion.posterolateral is not None:
        raw["posterolateral_involvement"] = lesion.posterolateral
    if lesion.collapse is not None:
        raw["vertebral_body_collapse"] = lesion.collapse
    elif lesion.collapse_percent is not None:
        if lesion.collapse_percent == 0 and lesion.body_involvement_over_50 is not None:
            raw["vertebral_body_collapse"] = (
                "no_collapse_over_50_involved" if lesion.body_involvement_over_50 else "none"
            )
        else:
            raw["collapse_percent"] = lesion.collapse_percent
    return raw


SPEC = ScoreSpec(definition=DEFINITION, lesion_inputs=lesion_inputs)
