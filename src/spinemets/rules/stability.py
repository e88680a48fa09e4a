"""Stability (the M of NOMS): SINS bands decide surgical consultation and stabilisation.

Ranges are respected: a lesion whose SINS could still be stable or unstable is reported as
undetermined, with the items to obtain, never placed in a band. References: Fisher 2010 and
Fourney 2011 (SINS 7-18 -> surgical consultation), Bilsky 2006 / Laufer 2013 (NOMS), NL-WM 2015
(surgery for instability; SINS caveat), BMJ NG234 summary (immobilisation).
"""

from __future__ import annotations

from spinemets.model.enums import PainType
from spinemets.rules.engine import RuleContext, rule


@rule("stability.obtain-lesions")
def lesions_recorded(ctx: RuleContext) -> None:
    """After MRI, or with a known diagnosis of spinal metastases, the lesions must be entered."""
    if not ctx.patient.lesions and ctx.patient.context.mri_done:
        ctx.emit("stability.obtain-lesions", ["MRI done but no spinal lesion recorded"])


@rule(
    "stability.surgical-consultation",
    "stability.stabilise",
    "stability.stable",
    "stability.obtain-sins-items",
)
def sins_bands(ctx: RuleContext) -> None:
    every = ctx.facts.sins_by_lesion
    if not every:
        return
    # a level operated on, in follow-up without new symptoms, is not sent back to the surgeon (facts)
    results = ctx.facts.sins_in_play
    at_least_7 = [r for r in results if r.min >= 7]
    unstable = [r for r in results if r.band_determined and r.band is not None and r.band.key == "unstable"]
    undetermined = [r for r in results if not r.band_determined and r.max >= 7]
    if at_least_7:
        # SOSG asks for it before planned radiotherapy; after a course it is before any further one. When the
        # record names the treated levels (radiotherapy or surgery at a lesion), a level without either has had
        # no radiotherapy: its first course is still to come, in follow-up or with new symptoms alike
        irradiated = {str(les.level) for les in ctx.patient.lesions if les.prior_radiotherapy is not None}
        new_levels = {str(les.level) for les in ctx.facts.levels_without_treatment}
        given = all(
            r.subject in irradiated or (ctx.facts.had_radiotherapy and r.subject not in new_levels)
            for r in at_least_7
        )
        basis = [f"{r.label()} at {r.subject}" for r in at_least_7]
        if given:
            basis.append("radiotherapy already given")
        radiotherapy = "any further radiotherapy" if given else "radiotherapy starts"
        ctx.emit("stability.surgical-consultation", basis, radiotherapy=radiotherapy)
    if unstable and ctx.facts.surgical_candidate.value is not False:  # else surgery.not-eligible says why
        levels = ", ".join(str(r.subject) for r in unstable)
        ctx.emit("stability.stabilise", [f"{r.label()} at {r.subject}" for r in unstable], levels=levels)
    if undetermined:
        items = sorted({q for r in undetermined for q in r.questions.values()})
        ranges = "; ".join(f"{r.label()} at {r.subject}" for r in undetermined)
        ctx.emit(
            "stability.obtain-sins-items",
            [f"{r.label()} at {r.subject}; missing: {', '.join(r.missing)}" for r in undetermined],
            ranges=ranges,
            items="; ".join(items),
        )
    # "all scored lesions are stable" speaks of the operated levels too
    if all(r.band_determined and r.band is not None and r.band.key == "stable" for r in every):
        ctx.emit("stability.stable", [f"{r.label()} at {r.subject}" for r in every])


@rule("stability.immobilise")
def immobilise(ctx: RuleContext) -> None:
    """NICE NG234: neurological symptoms/signs suggesting instability -> immobilise, expert advice 24 h."""
    f = ctx.facts
    if not f.neuro_deficit.value:
        return
    signs = [f"{r.label()} at {r.subject}" for r in f.sins_by_lesion if r.min >= 7]
    if ctx.patient.pain.type is PainType.mechanical:
        signs.append("mechanical pain")
    if signs:
        ctx.emit("stability.immobilise", [*f.neuro_deficit.basis, *signs])
