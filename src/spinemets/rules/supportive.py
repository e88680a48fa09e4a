"""Rehabilitation, psychosocial support, early palliative care, bladder and bowel monitoring.

References: seeds 000 and 001 (early rehabilitation, psychosocial support, early palliative care,
urinary retention with reduced perineal sensation); NL-WM 2015 has rehabilitation modules.
"""

from __future__ import annotations

from spinemets.rules.engine import RuleContext, rule


@rule("rehabilitation.early", "supportive.psychosocial", "palliative.early-palliative-care")
def whole_person(ctx: RuleContext) -> None:
    """Once spinal metastases are recorded (distant metastatic disease)."""
    if not ctx.patient.lesions:
        return
    basis = [f"spinal metastases at {', '.join(str(les.level) for les in ctx.patient.lesions)}"]
    if ctx.facts.neuro_deficit.value:
        basis.extend(ctx.facts.neuro_deficit.basis)
    ctx.emit("rehabilitation.early", basis)
    ctx.emit("supportive.psychosocial", basis[:1])
    # early palliative care is for distant metastatic disease (seed 000): not while a solitary lesion without
    # a proven primary may be a primary bone tumour, which the same plan asks to biopsy with a tumour centre,
    # unless metastases are recorded elsewhere (distant disease whatever the lesion proves to be)
    elsewhere = ctx.facts.metastases_outside_spine
    if not ctx.facts.possible_primary_bone_tumour:
        ctx.emit("palliative.early-palliative-care", basis[:1])
    elif elsewhere:
        ctx.emit("palliative.early-palliative-care", [*basis[:1], *elsewhere])


@rule("supportive.bladder-bowel")
def bladder_bowel(ctx: RuleContext) -> None:
    n = ctx.patient.neurology
    why = []
    if n.reduced_perineal_sensation:
        why.append("reduced perineal sensation")
    if n.sphincter_dysfunction:
        why.append("sphincter dysfunction")
    if why:
        ctx.emit("supportive.bladder-bowel", why, why=" and ".join(why))
