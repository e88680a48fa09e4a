"""Multidisciplinary discussion and shared decision-making as explicit steps of every plan.

References: seed 000 (MDT essential; shared decision-making), Delank 2011 (interdisciplinary
treatment tailored to prognosis), BMJ NG234 summary (MSCC coordinator and pathways).
"""

from __future__ import annotations

from spinemets.rules.engine import RuleContext, rule


@rule("mdt.tumour-board", "mdt.shared-decision")
def mdt(ctx: RuleContext) -> None:
    p = ctx.patient
    if not (p.lesions or ctx.facts.suspected_mscc.value):
        return
    basis = [f"spinal metastases at {', '.join(str(les.level) for les in p.lesions)}"] if p.lesions else []
    basis.extend(ctx.facts.suspected_mscc.basis if ctx.facts.suspected_mscc.value else [])
    if not ctx.facts.treated or p.context.new_symptoms_since_treatment:
        ctx.emit("mdt.tumour-board", basis)
    ctx.emit("mdt.shared-decision", basis)
