"""Surgery: indications, the eligibility gate, approach, en bloc resection, vertebral augmentation.

References: NL-WM 2015 *Radiotherapie of chirurgie* (indications; >= 3 months; condition permits),
Patchell 2005 (decompression + RT for MSCC), Delank 2011 (dorsal thoracic/lumbar, ventral cervical;
radical resection only for solitary metastasis with favourable prognosis), Tomita 2001, CAFE 2011.
"""

from __future__ import annotations

from spinemets.model.enums import EsccGrade
from spinemets.rules.engine import RuleContext, rule

_LOW_FOR_AUGMENTATION = (EsccGrade.g0, EsccGrade.g1a, EsccGrade.g1b)
_PATCHELL_SETTING = "in the population of the Patchell 2005 trial, which operated within 24 hours"
_IRRADIATED_SETTING = (
    "at a level irradiated before, where the Dutch guideline prefers surgery when re-irradiation cannot reach "
    "an adequate dose"
)


@rule(
    "surgery.decompression-mscc",
    "surgery.paraplegia-over-48h",
    "surgery.obtain-paraplegia-duration",
    "surgery.decompression-irradiated-level",
)
def decompression(ctx: RuleContext) -> None:
    """Patchell 2005: decompression + RT for high-grade ESCC with neurological signs, in its population. At
    a level irradiated before the trial does not apply (it excluded earlier radiotherapy that ruled out
    30 Gy): the surgical question stays an emergency, on NL-WM's ground (surgery when re-irradiation fails)."""
    f = ctx.facts
    if f.decompression_at_irradiated_level and f.surgical_candidate.value is not False:
        levels = ", ".join(str(les.level) for les in f.irradiated_compression)
        ctx.emit(
            "surgery.decompression-irradiated-level",
            [
                *f.escc_high.basis,
                *f.neuro_deficit.basis,
                f.irradiated_compression_basis,
                *f.surgical_candidate.basis,
            ],
            levels=levels,
        )
    if f.escc_high.value and f.established_paraplegia.value and not f.tissue_pending:
        ctx.emit("surgery.paraplegia-over-48h", [*f.escc_high.basis, *f.established_paraplegia.basis])
        return
    if f.escc_high.value and f.established_paraplegia.value is None and not f.tissue_pending:
        ctx.emit("surgery.obtain-paraplegia-duration", [*f.escc_high.basis, *f.established_paraplegia.basis])
    d = f.decompression_indicated
    if d.value and f.surgical_candidate.value:
        ctx.emit("surgery.decompression-mscc", [*d.basis, *f.surgical_candidate.basis])


@rule("surgery.progression-after-radiotherapy")
def after_radiotherapy(ctx: RuleContext) -> None:
    levels = [str(les.level) for les in ctx.patient.lesions if les.progression_after_radiotherapy]
    if levels:
        ctx.emit(
            "surgery.progression-after-radiotherapy",
            [f"progression after radiotherapy at {lvl}" for lvl in levels],
            levels=", ".join(levels),
        )


@rule("surgery.deterioration-despite-treatment")
def deterioration(ctx: RuleContext) -> None:
    if ctx.patient.neurology.deterioration_despite_treatment:
        ctx.emit(
            "surgery.deterioration-despite-treatment",
            ["neurological deterioration despite radiotherapy and corticosteroids"],
        )


@rule(
    "surgery.eligibility",
    "surgery.not-eligible",
    "surgery.obtain-prognosis",
    "surgery.obtain-eligibility-decompression",
)
def eligibility(ctx: RuleContext) -> None:
    """The gate every surgical indication passes: >= 3 months and a condition that permits surgery. When
    the open question decides emergency decompression (Patchell 2005: surgery within 24 hours), asking for
    the missing facts is an emergency too."""
    f = ctx.facts
    if not f.surgical_indications:
        return
    p = f.settings.prognosis
    cand = f.surgical_candidate
    basis = [*f.surgical_indications, *cand.basis]
    if cand.value:
        ctx.emit("surgery.eligibility", basis, months=p.surgery_min_months, combined=p.combined_min_months)
    elif cand.value is False:
        ctx.emit("surgery.not-eligible", basis, months=p.surgery_min_months)
    else:
        what = []
        if f.life_expectancy_3_months.value is None:
            what.append("the prognostic score items still missing (revised Tokuhashi, Tomita)")
        if f.fit_for_surgery.value is None:
            what.append("the team's judgement of fitness for surgery")
        fill = {"what": " and ".join(what), "months": p.surgery_min_months}
        if f.decompression_indicated.value:
            ctx.emit("surgery.obtain-eligibility-decompression", basis, setting=_PATCHELL_SETTING, **fill)
        elif f.decompression_at_irradiated_level:  # surgery.decompression-irradiated-level: decide now
            ctx.emit("surgery.obtain-eligibility-decompression", basis, setting=_IRRADIATED_SETTING, **fill)
        else:
            ctx.emit("surgery.obtain-prognosis", basis, **fill)


@rule("surgery.approach", "surgery.embolisation")
def approach(ctx: RuleContext) -> None:
    f = ctx.facts
    if not f.surgical_indications or f.surgical_candidate.value is False:
        return
    parts = []
    for les in f.surgical_lesions:
        region = les.level.start.region
        if region == "cervical":
            parts.append(f"{les.level} ventral")
        elif region in ("thoracic", "lumbar"):
            parts.append(f"{les.level} dorsal")
    if parts:
        ctx.emit("surgery.approach", [f"lesion {p} (by region)" for p in parts], approaches=", ".join(parts))
    if f.histology in f.settings.hypervascular_histologies:
        ctx.emit("surgery.embolisation", [f.histology_label], histology=f.histology_label)


@rule("surgery.en-bloc")
def en_bloc(ctx: RuleContext) -> None:
    """Solitary spinal metastasis, no other bone or visceral disease, Tomita within the en-bloc band."""
    f = ctx.facts
    b = ctx.patient.burden
    tomita = f.score("tomita")
    if tomita is None or tomita.max > f.settings.en_bloc_max_tomita:
        return
    solitary = (
        len(ctx.patient.lesions) == 1
        and b.vertebrae_involved == 1
        and b.extraspinal_bone_metastases == 0
        and b.visceral_metastases is not None
        and b.visceral_metastases.value == "none"
    )
    # a restriction on surgery already indicated (Delank), never for an unbiopsied lesion
    on_table = f.surgical_indications and not f.tissue_pending
    if solitary and on_table and f.surgical_candidate.value is not False and f.needs_treatment_decision:
        ctx.emit(
            "surgery.en-bloc",
            ["solitary spinal metastasis, no other bone or visceral metastases", tomita.label()],
        )


@rule("surgery.vertebral-augmentation")
def augmentation(ctx: RuleContext) -> None:
    """CAFE population: painful pathological VCF without neurological compromise or epidural compression."""
    f = ctx.facts
    if f.neuro_deficit.value:
        return
    levels = [
        les for les in ctx.patient.lesions if les.painful_fracture and les.escc in _LOW_FOR_AUGMENTATION
    ]
    if levels:
        ctx.emit(
            "surgery.vertebral-augmentation",
            [
                f"painful pathological fracture at {les.level}, ESCC {les.escc.value if les.escc else ''}"
                for les in levels
            ],
        )
