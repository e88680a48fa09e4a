"""Differential diagnosis flags: infection, benign fracture, primary bone tumour, degenerative disease.

References: seed 001 (disc-space involvement points to infection; listed differentials), Uetani
2004 (benign vs malignant compression fracture on MRI; myeloma may look benign).
"""

from __future__ import annotations

from spinemets.model.enums import Collapse, OtherSymptom
from spinemets.rules.engine import RuleContext, rule


@rule("differential.infection")
def infection(ctx: RuleContext) -> None:
    disc = [str(les.level) for les in ctx.patient.lesions if les.disc_space_involvement]
    fever = OtherSymptom.fever in ctx.patient.other_symptoms
    if not (disc or fever):
        return
    basis = [f"disc-space involvement at {lvl}" for lvl in disc]
    if fever:
        basis.append("fever")
    crp = ctx.patient.labs.crp_mg_dl
    if crp is not None:
        basis.append(f"CRP {crp:g} mg/dL")
    why = "Disc-space involvement" if disc else "Fever"
    if disc and fever:
        why = "Disc-space involvement with fever"
    ctx.emit("differential.infection", basis, why=why)


@rule("differential.fracture-benign-vs-malignant", "differential.myeloma-benign-looking")
def trauma(ctx: RuleContext) -> None:
    if OtherSymptom.recent_trauma not in ctx.patient.other_symptoms:
        return
    collapsed = [
        str(les.level) for les in ctx.patient.lesions if les.collapse in (Collapse.over_50, Collapse.under_50)
    ]
    if collapsed:
        basis = ["recent trauma", *(f"collapse at {lvl}" for lvl in collapsed)]
        ctx.emit("differential.fracture-benign-vs-malignant", basis)
        if ctx.facts.histology is None or ctx.facts.tissue_pending:
            ctx.emit("differential.myeloma-benign-looking", [*basis, ctx.facts.histology_label])


@rule("differential.primary-bone-tumour")
def primary_bone_tumour(ctx: RuleContext) -> None:
    p = ctx.patient
    if ctx.facts.possible_primary_bone_tumour:
        ctx.emit(
            "differential.primary-bone-tumour",
            [f"solitary lesion at {p.lesions[0].level}", ctx.facts.histology_label],
        )


@rule("differential.degenerative")
def degenerative(ctx: RuleContext) -> None:
    p = ctx.patient
    if p.context.mri_done and not p.lesions and ctx.facts.painful:
        ctx.emit("differential.degenerative", ["MRI done, no spinal lesion recorded", "back pain"])
