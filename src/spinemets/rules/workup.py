"""Work-up of an unknown primary, and the inguinal lymphadenopathy pathway (seed 000's question).

Penile-cancer specifics (node dissection, pelvic criteria, neoadjuvant chemotherapy, survival) fire
only in the penile branch: seed 000 mixes them into generic advice (guidelines.md §12.6).
References: NL-WM 2015 *Diagnostiek bij onduidelijke origine*, Rougraff 1993, EAU-ASCO 2023,
Lughezzani 2014, ESGO 2023, seed 000.
"""

from __future__ import annotations

from spinemets.model.enums import Histology, OtherSymptom
from spinemets.rules.engine import RuleContext, rule


@rule("work-up.obtain-histology")
def histology_recorded(ctx: RuleContext) -> None:
    if ctx.patient.primary.histology is None and (ctx.patient.lesions or ctx.facts.suspected_mscc.value):
        ctx.emit("work-up.obtain-histology", ["primary histology not recorded"])


@rule(
    "work-up.staging",
    "work-up.staging-mscc",
    "work-up.biopsy",
    "work-up.biopsy-mscc",
    "work-up.laboratory-screen",
)
def unknown_primary(ctx: RuleContext) -> None:
    """Staging looks for a lesion more accessible than the spine, so it comes before the biopsy and keeps its
    deadline: with suspected MSCC the tissue is due within 1 day (NL-WM), and staging with it."""
    f = ctx.facts
    if not f.tissue_pending:
        return
    basis = [f.histology_label, "no tissue diagnosis yet"]
    mscc = bool(f.suspected_mscc.value)
    days = f.settings.biopsy_days_mscc if mscc else f.settings.biopsy_days_no_mscc
    if not ctx.patient.context.staging_done:
        if mscc:
            ctx.emit(
                "work-up.staging-mscc",
                [*basis, *f.suspected_mscc.basis, f"tissue due within {days} day(s)"],
                days=days,
            )
        else:
            ctx.emit("work-up.staging", basis)
    target = "e.g. an inguinal node" if ctx.patient.nodes.inguinal_lymphadenopathy else "found on staging"
    ctx.emit(
        "work-up.biopsy-mscc" if mscc else "work-up.biopsy",
        [*basis, "suspected MSCC: within 1 day" if mscc else "no MSCC suspected: within 1 week"],
        days=days,
        target=target,
    )
    extra = (
        "; PSA (men)"
        if ctx.patient.sex == "male"
        else "; mammography (women)"
        if ctx.patient.sex == "female"
        else ""
    )
    ctx.emit("work-up.laboratory-screen", basis, extra=extra)


@rule("work-up.decompression-progressive-deficit", "work-up.progressive-deficit-steroids-withheld")
def unknown_primary_deficit(ctx: RuleContext) -> None:
    """NL-WM's decompression is for a deficit progressing despite corticosteroids; while they are
    withheld for the biopsy, a progressing deficit meets a gap in the sources, said as such."""
    f = ctx.facts
    n = ctx.patient.neurology
    if not f.tissue_pending:
        return
    if n.deterioration_despite_treatment or (
        n.deficit_progressive and ctx.patient.context.on_corticosteroids
    ):
        ctx.emit(
            "work-up.decompression-progressive-deficit",
            [f.histology_label, "progressive deficit despite corticosteroids", *f.surgical_candidate.basis],
        )
    elif n.deficit_progressive and ctx.patient.context.on_corticosteroids is not True:
        # the basis says what was recorded: "not on corticosteroids" only when entered as such
        steroids = (
            "not on corticosteroids"
            if ctx.patient.context.on_corticosteroids is False
            else "corticosteroids not recorded"
        )
        ctx.emit(
            "work-up.progressive-deficit-steroids-withheld",
            [
                f.histology_label,
                "progressive deficit",
                f"{steroids} (the plan withholds them until the biopsy)",
            ],
        )


@rule("inguinal.ultrasound-fna", "inguinal.pet-ct", "inguinal.node-biopsy", "inguinal.antibiotics")
def inguinal_nodes(ctx: RuleContext) -> None:
    nodes = ctx.patient.nodes
    if not nodes.inguinal_lymphadenopathy:
        return
    basis = ["inguinal lymphadenopathy"]
    if nodes.inguinal_nodes_positive is None:
        ctx.emit("inguinal.ultrasound-fna", [*basis, "node cytology not recorded"])
    if not ctx.patient.context.staging_done:
        ctx.emit("inguinal.pet-ct", basis)
    if ctx.facts.tissue_pending or ctx.patient.primary.histology is None:
        ctx.emit("inguinal.node-biopsy", [*basis, ctx.facts.histology_label])
    if OtherSymptom.overlying_cellulitis in ctx.patient.other_symptoms:
        ctx.emit("inguinal.antibiotics", [*basis, "overlying cellulitis suspected"])


@rule(
    "inguinal.penile-lymphadenectomy",
    "inguinal.penile-pelvic-dissection",
    "inguinal.penile-obtain-node-pathology",
    "inguinal.penile-neoadjuvant",
    "inguinal.penile-prognosis",
)
def penile_branch(ctx: RuleContext) -> None:
    p = ctx.patient
    if p.primary.histology is not Histology.penile:
        return
    nodes = p.nodes
    if p.lesions:
        ctx.emit("inguinal.penile-prognosis", ["penile cancer", f"spinal metastases at {p.lesions[0].level}"])
    positive = nodes.inguinal_nodes_positive
    if nodes.bulky_or_fixed:
        ctx.emit("inguinal.penile-neoadjuvant", ["penile cancer", "bulky or fixed inguinal nodes (cN3)"])
    if not (nodes.inguinal_lymphadenopathy or positive):
        return
    if positive:
        ctx.emit(
            "inguinal.penile-lymphadenectomy", ["penile cancer", f"{positive} positive inguinal node(s)"]
        )
    if positive is None and nodes.extranodal_extension is None:
        ctx.emit(
            "inguinal.penile-obtain-node-pathology", ["penile cancer", "inguinal node pathology not recorded"]
        )
        return
    met: list[str] = []
    for crit in ctx.facts.settings.penile_pelvic_lnd:
        reasons = []
        if positive is not None and positive >= crit.min_positive_nodes:
            reasons.append(f"{positive} positive nodes >= {crit.min_positive_nodes}")
        if crit.extranodal_extension and nodes.extranodal_extension:
            reasons.append("extranodal extension")
        if crit.cloquet_node and nodes.cloquet_node_positive:
            reasons.append("Cloquet node positive")
        if crit.pelvic_nodes_on_imaging and nodes.pelvic_nodes_suspicious:
            reasons.append("pelvic nodes suspicious on imaging")
        tag = " (unverified)" if crit.certainty.value == "K" else ""
        verdict = ", ".join(reasons) if reasons else "not met"
        met.append(f"{crit.source}{tag}: {verdict}")
    if any(not m.endswith(": not met") for m in met):
        ctx.emit("inguinal.penile-pelvic-dissection", met, met="; ".join(met))


@rule("inguinal.vulvar-groin")
def vulvar_branch(ctx: RuleContext) -> None:
    if ctx.patient.primary.histology is Histology.vulvar and ctx.patient.nodes.inguinal_lymphadenopathy:
        ctx.emit("inguinal.vulvar-groin", ["vulvar cancer", "inguinal lymphadenopathy"])
