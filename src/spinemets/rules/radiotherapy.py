"""Radiotherapy: fractionation, SBRT regimens and risks, postoperative RT, re-irradiation.

The modality (cEBRT vs SBRT vs surgery first) is chosen in :mod:`spinemets.rules.noms`; this
module says how. References: ASTRO 2017/2024, ESMO 2020, NL-WM 2015, SC.24, RTOG 0631,
Sahgal 2013 (VCF after SBRT).
"""

from __future__ import annotations

from spinemets.model.enums import Alignment, BoneLesion, Collapse, PainType
from spinemets.model.patient import Lesion
from spinemets.rules.engine import RuleContext, rule


def _rt_planned(ctx: RuleContext) -> bool:
    """Radiotherapy is on the table: lesions with a known histology, and not a best-supportive-care-only plan."""
    f = ctx.facts
    return (
        bool(ctx.patient.lesions) and not f.tissue_pending and f.life_expectancy_3_months.value is not False
    )


@rule("radiotherapy.fractionation-pain", "radiotherapy.fractionation-mscc")
def fractionation(ctx: RuleContext) -> None:
    """Cord compression gets its schedule whatever the expected survival (NL-WM: 8 Gy x 1 with poor
    condition or survival under 1 year; ASTRO 2024: radiotherapy improves ambulation); the 3-month gate
    is for surgery. Pain alone with short survival is covered by the best-supportive-care item."""
    f = ctx.facts
    if not ctx.patient.lesions or f.tissue_pending or (f.treated and not f.untreated_lesions):
        return
    # after treatment only the new levels are decided; first-course schedules are for levels not
    # irradiated before (those get the re-irradiation items)
    candidates = list(f.untreated_lesions) if f.treated else ctx.patient.lesions
    fresh = [les for les in candidates if les.prior_radiotherapy is None]
    if f.neuro_deficit.value or f.escc_high.value:
        # Surgery first (postoperative RT is its own item), unless the tumour is radiosensitive in a
        # stable spine: NOMS then keeps radiotherapy alone on the table, so its schedule is shown.
        radiotherapy_alone_open = f.radiosensitivity == "sensitive" and not f.unstable.value
        if f.surgical_candidate.value and f.surgical_indications and not radiotherapy_alone_open:
            return
        high = [les for les in candidates if les.escc is not None and f.is_high_grade(les.escc)]
        if not any(les.prior_radiotherapy is None for les in high or candidates):
            return  # the compressing level(s) were irradiated before: radiotherapy.previously-irradiated
        le = f.life_expectancy_1_year
        if le.value is None and f.life_expectancy_3_months.value is False:
            le = f.life_expectancy_3_months
        survival = "; ".join([*le.basis, f.performance_basis])
        ctx.emit("radiotherapy.fractionation-mscc", [*f.suspected_mscc.basis, *le.basis], survival=survival)
    elif f.painful and f.neuro_deficit.value is False and _rt_planned(ctx) and fresh:
        # the four schedules are for uncomplicated metastases (ASTRO 2017/2024); a level the plan sends to
        # surgery (an indication such as instability, a surgical candidate) gets postoperative radiotherapy,
        # its own item, as in the cord-compression branch above; a painful level elsewhere keeps them
        basis = ["painful spinal metastases without neurological deficit"]
        if f.surgical_candidate.value and f.surgical_indications:
            fresh = [les for les in fresh if les not in f.surgical_lesions and _may_hurt(ctx, les)]
            if not fresh:
                return
            basis.append(f"without a surgical indication: {', '.join(str(les.level) for les in fresh)}")
        elif len(fresh) < len(ctx.patient.lesions):
            basis.append(f"not previously irradiated: {', '.join(str(les.level) for les in fresh)}")
        ctx.emit("radiotherapy.fractionation-pain", basis)


def _may_hurt(ctx: RuleContext, les: Lesion) -> bool:
    """The lesion's own pain, else the patient's (as SINS reads it), is not recorded as none."""
    pain = les.pain if les.pain is not None else ctx.patient.pain.type
    return pain is not PainType.none


@rule("radiotherapy.sbrt-regimens", "radiotherapy.sbrt-fracture-risk")
def sbrt(ctx: RuleContext) -> None:
    if (
        not _rt_planned(ctx)
        or not ctx.facts.sbrt_considered
        or (ctx.facts.treated and not ctx.facts.untreated_lesions)
    ):
        return
    f = ctx.facts
    ctx.emit("radiotherapy.sbrt-regimens", [f.radiosensitivity_basis, *f.escc_high.basis])
    factors = []
    for les in ctx.patient.lesions:
        if les.collapse in (Collapse.over_50, Collapse.under_50):
            factors.append(f"baseline fracture at {les.level}")
        if les.bone_lesion is BoneLesion.lytic:
            factors.append(f"lytic lesion at {les.level}")
        if les.alignment in (Alignment.de_novo_deformity, Alignment.subluxation_translation):
            factors.append(f"spinal deformity at {les.level}")
    if factors:
        ctx.emit("radiotherapy.sbrt-fracture-risk", factors, factors=", ".join(factors))


@rule("radiotherapy.postoperative")
def postoperative(ctx: RuleContext) -> None:
    """After surgery without radiotherapy yet, or whenever the plan includes surgery for a lesion."""
    f = ctx.facts
    c = ctx.patient.context
    if c.treatment_received == "surgery":
        basis = ["surgery done, no radiotherapy recorded"]
        today = ctx.patient.assessment_date
        if c.treatment_date is None:
            basis.append("date of surgery not recorded")
        elif today is not None:
            basis.append(
                f"surgery on {c.treatment_date}, {(today - c.treatment_date).days} days before this assessment"
            )
        else:
            basis.append(f"surgery on {c.treatment_date}")
        ctx.emit("radiotherapy.postoperative", basis)
    elif f.surgical_indications and f.surgical_candidate.value and (not f.treated or f.untreated_lesions):
        ctx.emit("radiotherapy.postoperative", list(f.surgical_indications))


@rule("radiotherapy.reirradiation", "radiotherapy.reirradiation-too-early")
def reirradiation(ctx: RuleContext) -> None:
    recurrent = [
        les
        for les in ctx.patient.lesions
        if les.prior_radiotherapy is not None and les.progression_after_radiotherapy
    ]
    if not recurrent:
        return
    today = ctx.patient.assessment_date
    min_days = ctx.facts.settings.reirradiation_min_days
    deficit = ctx.facts.neuro_deficit.value  # ASTRO's month is about pain; a deficit is not made to wait
    early = [
        les
        for les in recurrent
        if not deficit
        and today is not None
        and les.prior_radiotherapy
        and les.prior_radiotherapy.date
        and (today - les.prior_radiotherapy.date).days < min_days
    ]
    if early:
        lv = ", ".join(str(les.level) for les in early)
        ctx.emit(
            "radiotherapy.reirradiation-too-early",
            [f"last radiotherapy at {lv} under {min_days} days ago"],
            levels=lv,
            days=min_days,
        )
    due = [les for les in recurrent if les not in early]  # ASTRO 2017: more than 1 month after EBRT
    if not due:
        return
    basis = []
    for les in due:
        rt = les.prior_radiotherapy
        if rt is None:
            continue
        dose = f"{rt.dose_gy:g} Gy/{rt.fractions}" if rt.dose_gy and rt.fractions else "dose not recorded"
        basis.append(f"prior radiotherapy at {les.level} ({dose}), pain or deficit recurred")
        if not deficit and (rt.date is None or today is None):  # ASTRO 2017's month cannot be checked
            missing = "date of the last fraction" if rt.date is None else "assessment date"
            basis.append(
                f"{missing} not recorded at {les.level}: whether more than {min_days} days have passed "
                "since radiotherapy (ASTRO 2017) is not checked"
            )
    ctx.emit("radiotherapy.reirradiation", basis, levels=", ".join(str(les.level) for les in due))


def _prior_rt(les: Lesion) -> str:
    rt = les.prior_radiotherapy
    if rt is None:
        return ""
    dose = f"{rt.dose_gy:g} Gy/{rt.fractions}" if rt.dose_gy and rt.fractions else "dose not recorded"
    when = rt.date.isoformat() if rt.date else "date not recorded"
    return f"prior radiotherapy at {les.level} ({dose}, {when})"


@rule("radiotherapy.previously-irradiated")
def previously_irradiated(ctx: RuleContext) -> None:
    """A level irradiated before, to be treated now without recorded progression there (progression has
    its own re-irradiation item): the first-course schedules do not apply (ASTRO 2024; NL-WM)."""
    f = ctx.facts
    if f.tissue_pending or not f.needs_treatment_decision:
        return
    if not (f.painful or f.neuro_deficit.value or f.escc_high.value):
        return
    # the levels in play: the high-grade ones when compression is graded, else every level
    high = [les for les in ctx.patient.lesions if les.escc is not None and f.is_high_grade(les.escc)]
    levels = [
        les
        for les in (high or ctx.patient.lesions)
        if les.prior_radiotherapy is not None and not les.progression_after_radiotherapy
    ]
    if levels:
        ctx.emit(
            "radiotherapy.previously-irradiated",
            [_prior_rt(les) for les in levels],
            levels=", ".join(str(les.level) for les in levels),
        )


@rule("radiotherapy.pain-flare-prophylaxis")
def pain_flare(ctx: RuleContext) -> None:
    """Not while a tissue diagnosis is pending: steroids can mask lymphoma (NL-WM)."""
    f = ctx.facts
    new = not f.treated or bool(f.untreated_lesions)
    if _rt_planned(ctx) and new and f.painful and f.radiosensitivity is not None:
        ctx.emit("radiotherapy.pain-flare-prophylaxis", ["radiotherapy planned for painful metastases"])
