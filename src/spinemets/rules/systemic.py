"""Systemic treatment: corticosteroids, bone-modifying agents and their safety, radiopharmaceuticals.

References: NICE NG234 1.8.x (dexamethasone 16 mg; stop if MSCC ruled out; not routine without
neurology; haematological malignancy), NL-WM 2015 (no high dose; withhold until biopsy with an
unknown primary), ESMO 2020 and ASCO-CCO 2017 (bone-modifying agents, dental and renal precautions).
"""

from __future__ import annotations

from spinemets.model.enums import Histology, VisceralMetastases
from spinemets.rules.engine import RuleContext, rule


@rule(
    "systemic.dexamethasone-mscc",
    "systemic.withhold-steroids-until-biopsy",
    "systemic.withhold-steroids-until-biopsy-mscc",
    "systemic.dexamethasone-not-routine",
    "systemic.dexamethasone-haematological",
    "systemic.obtain-neurology-for-steroids",
    "systemic.dexamethasone-haematological-mscc",
    "systemic.steroids-given-before-biopsy",
    "systemic.steroids-given-before-biopsy-mscc",
)
def corticosteroids(ctx: RuleContext) -> None:
    f = ctx.facts
    nd = f.neuro_deficit
    asked = nd.value is None and f.suspected_mscc.value and not ctx.patient.context.on_corticosteroids
    haem = f.histology in f.settings.haematological_histologies
    confirmed = ctx.patient.primary.histology_confirmed
    # steroids can make lymphoma (and myeloma) undiagnosable (NL-WM): withheld while such a diagnosis
    # is still open - an unknown primary, or a haematological primary not yet confirmed on tissue
    withhold = f.primary_unknown or (haem and confirmed is False)
    if haem and confirmed and ctx.patient.lesions:  # NICE 1.8.5: confirmed haematological malignancy
        if nd.value:  # NICE 1.8.1 and 1.8.5: as soon as possible, the emergency of any MSCC with signs
            ctx.emit("systemic.dexamethasone-haematological-mscc", [f.histology_label, *nd.basis])
        elif f.needs_treatment_decision:  # not in follow-up of treated, settled disease
            ctx.emit("systemic.dexamethasone-haematological", [f.histology_label, "spinal involvement"])
        if asked:
            ctx.emit("systemic.obtain-neurology-for-steroids", [*f.suspected_mscc.basis, *nd.basis])
        return
    if withhold and (nd.value or ctx.patient.lesions or ctx.patient.symptoms):
        # the biopsy deadline follows the suspicion of MSCC, as in the work-up (NL-WM: 1 day, else 1 week);
        # steroids already running cannot be withheld: the plan says what that means instead
        given = bool(ctx.patient.context.on_corticosteroids)
        if nd.value or f.suspected_mscc.value:
            ctx.emit(
                "systemic.steroids-given-before-biopsy-mscc"
                if given
                else "systemic.withhold-steroids-until-biopsy-mscc",
                [*f.suspected_mscc.basis, f.histology_label, "on corticosteroids" if given else ""],
                days=f.settings.biopsy_days_mscc,
            )
        else:
            ctx.emit(
                "systemic.steroids-given-before-biopsy"
                if given
                else "systemic.withhold-steroids-until-biopsy",
                [
                    f.histology_label,
                    "no tissue diagnosis yet",
                    *nd.basis,
                    "on corticosteroids" if given else "",
                ],
                days=f.settings.biopsy_days_no_mscc,
            )
        if asked:
            ctx.emit("systemic.obtain-neurology-for-steroids", [*f.suspected_mscc.basis, *nd.basis])
        return
    if nd.value:
        ctx.emit("systemic.dexamethasone-mscc", nd.basis)
        return
    if (
        nd.value is False
        and ctx.patient.lesions
        and not ctx.patient.context.on_corticosteroids
        and f.needs_treatment_decision
    ):
        ctx.emit("systemic.dexamethasone-not-routine", [*nd.basis, *f.escc_high.basis])
        return
    if asked:  # the steroid decision turns on the neurological findings (NICE 1.8.1 vs 1.8.7)
        ctx.emit("systemic.obtain-neurology-for-steroids", [*f.suspected_mscc.basis, *nd.basis])


@rule("systemic.stop-steroids")
def stop_steroids(ctx: RuleContext) -> None:
    """NICE 1.8.2: started before imaging, MRI then shows no cord compression and no deficit."""
    f = ctx.facts
    c = ctx.patient.context
    if c.on_corticosteroids and c.mri_done and f.escc_high.value is False and f.neuro_deficit.value is False:
        if f.histology in f.settings.haematological_histologies:
            return
        ctx.emit("systemic.stop-steroids", ["on corticosteroids", *f.escc_high.basis, *f.neuro_deficit.basis])


@rule(
    "systemic.bone-modifying-agent",
    "systemic.bma-obtain-life-expectancy",
    "systemic.bma-obtain-castration-status",
    "systemic.bma-hormone-sensitive-prostate",
)
def bone_modifying_agent(ctx: RuleContext) -> None:
    """ESMO 2020 [I, A] names castration-resistant prostate cancer, not prostate cancer as such: a prostate
    primary gets the first-line item only when recorded as not hormone-dependent (as radium-223 reads it)."""
    f = ctx.facts
    if not ctx.patient.lesions or ctx.patient.context.on_bone_modifying_agent or f.histology is None:
        return
    if f.tissue_pending or f.histology is Histology.lymphoma:
        return
    hormone_dependent = ctx.patient.primary.hormone_dependent
    if f.histology is Histology.prostate and hormone_dependent is not False:
        if hormone_dependent is None:
            ctx.emit(
                "systemic.bma-obtain-castration-status",
                [f.histology_label, "hormone dependence (castration resistance) not recorded"],
            )
        else:
            ctx.emit(
                "systemic.bma-hormone-sensitive-prostate",
                [f.histology_label, "hormone-dependent (not castration-resistant)"],
            )
        return
    if f.histology in f.settings.bma_first_line_histologies:
        ctx.emit(
            "systemic.bone-modifying-agent",
            [
                f.histology_label,
                "castration-resistant (not hormone-dependent)" if f.histology is Histology.prostate else "",
                "bone metastases present",
            ],
            strength="ESMO [I, A]"
            + ("; ASCO strong, high evidence" if f.histology is Histology.breast else ""),
        )
        return
    le = f.life_expectancy_3_months
    if le.value:
        ctx.emit("systemic.bone-modifying-agent", [f.histology_label, *le.basis], strength="ESMO [I, B]")
    elif le.value is None:
        ctx.emit("systemic.bma-obtain-life-expectancy", [f.histology_label, *le.basis])


def _bma_in_plan(ctx: RuleContext) -> bool:
    if ctx.patient.context.on_bone_modifying_agent:
        return True
    return any(rec.id == "systemic.bone-modifying-agent" for _, _, rec in ctx.emitted)


@rule(
    "systemic.bma-safety",
    "systemic.obtain-dental-check",
    "systemic.obtain-renal-function",
    "systemic.low-clearance",
)
def bma_safety(ctx: RuleContext) -> None:
    if not _bma_in_plan(ctx):
        return
    c = ctx.patient.context
    basis = ["on a bone-modifying agent" if c.on_bone_modifying_agent else "bone-modifying agent recommended"]
    ctx.emit("systemic.bma-safety", basis)
    if not c.on_bone_modifying_agent and c.dental_check_done is not True:
        ctx.emit("systemic.obtain-dental-check", [*basis, "dental check not recorded"])
    crcl = ctx.patient.labs.creatinine_clearance_ml_min
    limit = ctx.facts.settings.denosumab_hypocalcaemia_crcl
    if crcl is None:
        ctx.emit("systemic.obtain-renal-function", [*basis, "creatinine clearance not recorded"])
    elif crcl < limit:
        ctx.emit(
            "systemic.low-clearance", [*basis, f"creatinine clearance {crcl:g} mL/min"], crcl=f"{limit:g}"
        )


@rule("systemic.radiopharmaceutical")
def radiopharmaceutical(ctx: RuleContext) -> None:
    """Radium-223: prostate cancer that is castration-resistant (hormone_dependent False), no visceral disease."""
    p = ctx.patient
    if (
        p.primary.histology is Histology.prostate
        and p.primary.hormone_dependent is False
        and p.burden.visceral_metastases is VisceralMetastases.none
        and ctx.facts.painful
    ):
        ctx.emit(
            "systemic.radiopharmaceutical",
            [
                "prostate cancer, not hormone-dependent (castration-resistant)",
                "no visceral metastases",
                "symptomatic",
            ],
        )
