"""Pain: tumour-related vs mechanical pain and what each implies; analgesia.

References: seed 002 (pain character; mechanical pain is steroid-resistant), Fisher 2010 (SINS
pain item), BMJ NG234 summary (prompt pain relief), seed 000 (neuropathic adjuvants, IV to oral).
"""

from __future__ import annotations

from spinemets.model.enums import PainType, RadicularPain
from spinemets.rules.engine import RuleContext, rule


def _lesion_pain(ctx: RuleContext) -> list[str]:
    """Levels whose SINS pain item is mechanical; not a level operated on, in follow-up without new symptoms
    (``facts.operated_settled``: its lesion data predate the operation)."""
    settled = ctx.facts.operated_settled
    return [
        str(les.level)
        for les in ctx.patient.lesions
        if les.pain is PainType.mechanical and les not in settled
    ]


@rule("pain.mechanical", "pain.tumour-related", "pain.obtain-character")
def pain_character(ctx: RuleContext) -> None:
    p = ctx.patient.pain
    mech_levels = _lesion_pain(ctx)
    if p.type is PainType.mechanical or mech_levels:
        basis = ["pain type mechanical"] if p.type is PainType.mechanical else []
        basis += [f"mechanical pain at {lvl}" for lvl in mech_levels]
        ctx.emit("pain.mechanical", basis)
    elif p.night_pain or p.steroid_responsive:
        basis = []
        if p.night_pain:
            basis.append("night or early-morning pain")
        if p.steroid_responsive:
            basis.append("pain improved on corticosteroids")
        if p.type is not None:
            basis.append(f"pain type {p.type.value}")
        ctx.emit("pain.tumour-related", basis)
    if p.type is None and ctx.facts.painful and not mech_levels:
        ctx.emit("pain.obtain-character", ["pain present, character (mechanical or not) not recorded"])


@rule("pain.analgesia", "pain.neuropathic")
def analgesia(ctx: RuleContext) -> None:
    p = ctx.patient.pain
    if not ctx.facts.painful:
        return
    basis = [f"pain NRS {p.severity_nrs}/10" if p.severity_nrs is not None else "pain present"]
    ctx.emit("pain.analgesia", basis)
    radicular = ctx.patient.neurology.radiculopathy
    if p.neuropathic or radicular in (RadicularPain.unilateral, RadicularPain.bilateral):
        why = (
            "neuropathic pain" if p.neuropathic else f"{radicular.value if radicular else ''} radicular pain"
        )
        ctx.emit("pain.neuropathic", [why])


@rule("pain.iv-to-oral")
def iv_to_oral(ctx: RuleContext) -> None:
    """In the weeks after surgery (treatment date within 30 days of the assessment, or undated)."""
    c = ctx.patient.context
    recent = c.treatment_date is None or (
        ctx.patient.assessment_date is not None
        and (ctx.patient.assessment_date - c.treatment_date).days <= 30
    )
    if ctx.facts.had_surgery and recent:
        ctx.emit("pain.iv-to-oral", [f"treatment received: {ctx.patient.context.treatment_received}"])
