"""Follow-up after treatment and recurrence (seed 003's question), with a dated schedule.

The MRI interval table lives once, in ``ruleset.yaml`` (follow_up). References: seed 003 (schedule,
markers, PET-CT, 2.8x recurrence after prior RT; not traced to a primary guideline), Sahgal 2013
(fractures after SBRT peak in the first 4 months), ESMO 2020 (no routine bone turnover markers).
"""

from __future__ import annotations

import calendar
import datetime as dt

from spinemets.rules.engine import RuleContext, rule


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day of the month ``months`` later (clamped to the month's last day)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def follow_up_months(ctx: RuleContext) -> list[int]:
    months: list[int] = []
    for period in ctx.facts.settings.follow_up:
        months.extend(
            range(period.from_month + period.every_months, period.to_month + 1, period.every_months)
        )
    return sorted(set(months))


@rule("follow-up.mri-schedule", "follow-up.ct-myelography", "follow-up.obtain-treatment-date")
def schedule(ctx: RuleContext) -> None:
    if not ctx.facts.treated:
        return
    c = ctx.patient.context
    basis = [f"treatment received: {c.treatment_received}"]
    start = c.treatment_date
    months = follow_up_months(ctx)
    # with MRI contraindicated the schedule is the same, the imaging CT myelography (its own item says why)
    imaging = "CT myelography" if c.mri_contraindicated else "contrast-enhanced MRI"
    today = ctx.patient.assessment_date
    dated = ""
    if start is not None:
        basis.append(f"treatment date {start.isoformat()}")
        dues = [add_months(start, m) for m in months]
        # visits dated before this assessment are history, not plan: the text points at the next one
        past = [d for d in dues if today is not None and d < today]
        upcoming = [d for d in dues if d not in past]
        if not past:
            dated = f" (first on {dues[0].isoformat()}, see schedule)"
        elif upcoming:
            basis.append(f"{len(past)} of the {len(dues)} visits fall before the assessment date {today}")
            dated = f" (next on {upcoming[0].isoformat()}, see schedule)"
        else:
            basis.append(
                f"every visit of the table ({months[-1]} months) falls before the assessment date {today}"
            )
            dated = " (every visit of the table is past: continue yearly)"
    ctx.emit("follow-up.mri-schedule", basis, dated=dated, imaging=imaging)
    for month in months:
        due = add_months(start, month) if start is not None else None
        before = due is not None and today is not None and due < today
        what = f"{imaging} of the whole spine; clinical review" + (
            " (due before this assessment)" if before else ""
        )
        ctx.add_visit(month, due, what, "follow-up.mri-schedule")
    if c.mri_contraindicated:
        ctx.emit("follow-up.ct-myelography", [*basis, "MRI contraindicated"])
    if start is None:
        ctx.emit("follow-up.obtain-treatment-date", [*basis, "treatment date not recorded"])


@rule("follow-up.tumour-markers", "follow-up.pet-ct", "follow-up.red-flags")
def surveillance(ctx: RuleContext) -> None:
    f = ctx.facts
    if not f.treated:
        return
    basis = [f"treatment received: {ctx.patient.context.treatment_received}"]
    marker = f.settings.tumour_markers.get(f.histology) if f.histology is not None else None
    if marker is not None:
        ctx.emit("follow-up.tumour-markers", [*basis, f.histology_label], marker=marker)
    ctx.emit("follow-up.pet-ct", basis)
    ctx.emit("follow-up.red-flags", basis)


_SBRT_FRACTURE_MONTHS = 4
"""Sahgal 2013 [V]: vertebral compression fractures after spine SBRT, 65% within the first 4 months."""


@rule("follow-up.sbrt-fracture-window")
def sbrt_window(ctx: RuleContext) -> None:
    c = ctx.patient.context
    sbrt_levels = [
        str(les.level)
        for les in ctx.patient.lesions
        if les.prior_radiotherapy is not None and les.prior_radiotherapy.technique == "sbrt"
    ]
    if not (c.treatment_received == "sbrt" or sbrt_levels):
        return
    # Sahgal 2013: 65% of the fractures within 4 months (median 2.46); a window long past is no plan item
    today = ctx.patient.assessment_date
    dates = [c.treatment_date] if c.treatment_received == "sbrt" else []
    dates += [
        les.prior_radiotherapy.date
        for les in ctx.patient.lesions
        if les.prior_radiotherapy is not None and les.prior_radiotherapy.technique == "sbrt"
    ]
    known = [d for d in dates if d is not None]
    if (
        today is not None
        and known
        and len(known) == len(dates)
        and all(add_months(d, _SBRT_FRACTURE_MONTHS) < today for d in known)
    ):
        return
    basis = ["SBRT given"] + [f"SBRT at {lvl}" for lvl in sbrt_levels]
    ctx.emit("follow-up.sbrt-fracture-window", basis)


@rule("follow-up.recurrence-risk-after-prior-rt")
def recurrence_risk(ctx: RuleContext) -> None:
    """Surgery for tumour that progressed after earlier radiotherapy (done, or indicated now)."""
    f = ctx.facts
    basis = []
    for les in ctx.patient.lesions:
        rt = les.prior_radiotherapy
        if rt is None:
            continue
        operated_after_rt = (
            les.prior_surgery and rt.date and les.prior_surgery_date and rt.date < les.prior_surgery_date
        )
        if operated_after_rt:
            basis.append(
                f"surgery at {les.level} on {les.prior_surgery_date} after radiotherapy ended {rt.date}"
            )
        elif les.progression_after_radiotherapy and f.surgical_candidate.value is not False:
            basis.append(f"surgery considered at {les.level} for progression after radiotherapy")
    if basis:
        ctx.emit("follow-up.recurrence-risk-after-prior-rt", basis)


_CT_INSTEAD_OF_MRI = (
    "whole-spine CT because MRI is contraindicated, with CT myelography where compression must be shown "
    "(NICE NG234: myelography only rarely, at a spinal centre)"
)
"""NICE NG234 [V2]: CT when MRI is contraindicated, myelography rarely and only at a spinal centre; seed 003
[S]: CT myelography for follow-up when MRI is contraindicated (``follow-up.ct-myelography``)."""


@rule("follow-up.new-symptoms", "follow-up.new-pain-urgent")
def new_symptoms(ctx: RuleContext) -> None:
    """Neurological symptoms (or none recorded) -> emergency; a normal examination -> urgent (NICE CG75)."""
    if not ctx.patient.context.new_symptoms_since_treatment:
        return
    nd = ctx.facts.neuro_deficit
    basis = ["new or worse symptoms since treatment", *nd.basis]
    if ctx.patient.context.treatment_received == "none":  # refused by the model unless a lesion records one
        done = [str(les.level) for les in ctx.patient.lesions if les.treated_here]
        basis.insert(
            1, f"treatment_received 'none': read as after the treatment recorded at {', '.join(done)}"
        )
    if ctx.facts.no_neurological_signs:
        basis.append("no radicular pain")
        ctx.emit("follow-up.new-pain-urgent", basis)
    elif ctx.patient.context.mri_contraindicated:
        # the imaging the schedule uses (seed 003), on NICE NG234's terms for an MRI contraindication
        ctx.emit("follow-up.new-symptoms", [*basis, "MRI contraindicated"], imaging=_CT_INSTEAD_OF_MRI)
    else:
        ctx.emit("follow-up.new-symptoms", basis, imaging="whole-spine MRI")
