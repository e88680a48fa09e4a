"""Original Tokuhashi score (1990): the same six items as 2005, each 0-2, total 0-12.

Only the primary-site table and the bands differ from the revised score (:mod:`.tokuhashi`),
whose five other items are reused so that a table lives once. The point table and bands agree with
the paper's abstract and first page, the NICE CG75 evidence table and other secondary sources, except
for unnamed ("other") primaries, where they disagree (docs/conflicts.md); the full text was not seen.

References:
    Tokuhashi Y et al. Spine 1990;15(11):1110-1113. doi:10.1097/00007632-199011010-00005
"""

from __future__ import annotations

from spinemets.scores.common import histology_lookup
from spinemets.scores.engine import (
    Band,
    BandSurvival,
    Category,
    Item,
    Lookup,
    ScoreDefinition,
    ScoreSpec,
    SourceCertainty,
    SurvivalDirection,
)
from spinemets.scores.performance import ECOG_OPTION, EcogConvention
from spinemets.scores.tokuhashi import (
    EXTRASPINAL,
    MAJOR_ORGANS,
    PALSY,
    VERTEBRAL,
    from_patient,
    general_condition,
)

PRIMARY_SITE_1990 = (
    Category(key="lung_stomach", points=0, label="Lung, stomach"),
    Category(
        key="kidney_liver_uterus_other_unidentified",
        points=1,
        label="Kidney, liver, uterus, other, unidentified",
    ),
    Category(key="thyroid_prostate_breast_rectum", points=2, label="Thyroid, prostate, breast, rectum"),
)


def primary_lookup_1990() -> Lookup:
    """Histology -> 1990 primary-site category; unlisted primaries take the published 'other' (1), flagged."""
    by_points = {c.points: c.key for c in PRIMARY_SITE_1990}
    return histology_lookup(
        lambda row: None if row.tokuhashi_1990 is None else by_points[row.tokuhashi_1990],
        unlisted=by_points[1],
        unlisted_note="{primary} is not named in Tokuhashi 1990; 'other' scores 1 here, but the NICE CG75 "
        "evidence table lists 'others' at 2, so the total may be 1 point higher (docs/conflicts.md)",
    )


def definition(convention: EcogConvention = EcogConvention.oken1982) -> ScoreDefinition:
    return ScoreDefinition(
        key="tokuhashi_1990",
        name="Tokuhashi 1990",
        version="Tokuhashi 1990 (T12)",
        description="Original Tokuhashi score: preoperative prognosis of metastatic spine tumours, 0-12.",
        citation_ids=("tokuhashi1990",),
        items=(
            general_condition(convention),
            EXTRASPINAL,
            VERTEBRAL,
            MAJOR_ORGANS,
            Item(
                key="primary_site",
                label="Primary site of the cancer",
                definition="Lung, stomach (0); kidney, liver, uterus, other, unidentified (1); thyroid, prostate, "
                "breast, rectum (2).",
                question="What is the primary tumour?",
                categories=PRIMARY_SITE_1990,
                derivations=(primary_lookup_1990(),),
            ),
            PALSY,
        ),
        bands=(
            Band(
                key="up_to_3_months",
                low=0,
                high=5,
                label="<= 3 months",
                meaning="Expected survival <= 3 months: palliative treatment (the paper's abstract; NICE CG75 "
                "evidence table).",
            ),
            Band(
                key="intermediate",
                low=6,
                high=8,
                label="intermediate",
                meaning="Between the two published statements. Only a secondary source (NICE CG75 evidence "
                "table) gives a figure for 6-8: average survival <= 12 months.",
            ),
            Band(
                key="over_12_months",
                low=9,
                high=12,
                label=">= 12 months",
                meaning="Expected survival >= 12 months: excisional surgery (the paper's abstract; NICE CG75 "
                "evidence table).",
            ),
        ),
        survival_direction=SurvivalDirection.higher_longer,
        band_survival=(  # seen in the abstract and the NICE CG75 evidence table [V]; 6-8: average only
            BandSurvival(
                band="up_to_3_months",
                median_high_months=3.0,
                statement="expected survival <= 3 months",
                certainty=SourceCertainty.V,
                citation_id="tokuhashi1990",
            ),
            BandSurvival(
                band="over_12_months",
                median_low_months=12.0,
                statement="expected survival >= 12 months",
                certainty=SourceCertainty.V,
                citation_id="tokuhashi1990",
            ),
        ),
        notes=(
            "The 1990 point table and bands were checked against the abstract and secondary sources (not the "
            "full text); many papers call this version T12 and the 2005 revision T15.",
        ),
    )


DEFINITION = definition()
SPEC = ScoreSpec(
    definition=DEFINITION,
    from_patient=from_patient,
    options=(ECOG_OPTION,),
    build=lambda o: definition(EcogConvention(o["ecog_convention"])),
)
