"""Triage and imaging: alarm symptoms, the emergency pathway, MRI deadline and protocol.

References: NL-WM 2015 module *Beeldvormend onderzoek* (MRI deadlines 12 h .. 2 weeks); NICE
CG75/NG234 (24 h; contact the MSCC coordinator); seed 000 (alarm list, X-ray cannot exclude).
"""

from __future__ import annotations

from spinemets.model.enums import RadicularPain
from spinemets.rules.engine import RuleContext, rule
from spinemets.rules.facts import NEURO_ALARMS
from spinemets.rules.model import Urgency


def _pain_alarms(ctx: RuleContext) -> list[str]:
    return [
        f"alarm symptom: {s.value.replace('_', ' ')}" for s in ctx.patient.symptoms if s not in NEURO_ALARMS
    ]


def _mri_needed(ctx: RuleContext) -> bool:
    """Imaging is pending: MRI not recorded as done, and a reason to image is present. ESCC grades at every
    lesion stand for the imaging (``facts.escc_imaging``), except on an emergency deadline: grades at the
    known levels do not show that the whole spine was imaged, and the emergency imaging stays."""
    if ctx.patient.context.mri_done:
        return False
    f = ctx.facts
    if not (f.neuro_deficit.value or f.suspected_mscc.value or _pain_alarms(ctx) or f.painful):
        return False
    return f.escc_imaging is None or ctx.spec(_deadline(ctx)[0]).urgency is Urgency.emergency


_WHOLE_SPINE_NOT_SHOWN = (
    "ESCC recorded at every lesion, but whole-spine imaging not recorded as done: the grades show that the "
    "graded levels were imaged, not that the whole spine was"
)


@rule("triage.emergency-pathway", "triage.urgent-pathway")
def pathway(ctx: RuleContext) -> None:
    """Neurological symptoms/signs -> emergency; pain alarms alone -> urgent (NICE CG75 key priorities)."""
    f = ctx.facts
    if f.neuro_deficit.value or f.patient.context.suspected_mscc:
        ctx.emit("triage.emergency-pathway", f.suspected_mscc.basis)
        return
    alarms = _pain_alarms(ctx)
    known = ctx.patient.context.known_cancer
    # NICE's urgent route is for pain in a person with cancer: not when the record says no cancer (and
    # names no primary, which would contradict it)
    no_cancer = known is False and ctx.patient.primary.histology is None
    imaged = ctx.patient.context.mri_done or f.escc_imaging is not None
    if alarms and not imaged and not no_cancer:
        ctx.emit("triage.urgent-pathway", [*alarms, "known cancer not recorded" if known is None else ""])


_CT_INSTEAD = {
    "imaging.mri-whole-spine-12h": ("imaging.ct-now-mri-contraindicated", "Dutch 12 hours, NICE 24 hours"),
    "imaging.mri-whole-spine-24h": ("imaging.ct-now-mri-contraindicated", "24 hours"),
    "imaging.mri-whole-spine-48h": ("imaging.mri-contraindicated", "48 hours"),
    "imaging.mri-whole-spine-1w": ("imaging.mri-contraindicated", "1 week"),
    "imaging.mri-whole-spine-2w": ("imaging.mri-contraindicated", "2 weeks"),
}
"""MRI contraindicated (NICE NG234: CT): the CT item that keeps the deadline the MRI would have had."""


@rule(
    "imaging.mri-whole-spine-12h",
    "imaging.mri-whole-spine-24h",
    "imaging.mri-whole-spine-48h",
    "imaging.mri-whole-spine-1w",
    "imaging.mri-whole-spine-2w",
    "triage.obtain-neurological-exam",
    "imaging.mri-contraindicated",
    "imaging.ct-now-mri-contraindicated",
)
def mri_deadline(ctx: RuleContext) -> None:
    """The Dutch MRI timetable by presentation; asks for the examination when it cannot choose. With
    MRI contraindicated the same deadline applies to CT; lesions without an ESCC grade need CT too."""
    if not _mri_needed(ctx):
        if ctx.patient.context.mri_contraindicated and ctx.facts.lesions_missing_escc:
            ctx.emit("imaging.mri-contraindicated", ["MRI contraindicated", ctx.facts.escc_high.basis[0]])
        _neurology_for_treatment(ctx)
        return
    rec_id, basis = _deadline(ctx)
    if rec_id == "triage.obtain-neurological-exam":
        ctx.emit(rec_id, basis)
        return
    if ctx.facts.escc_imaging is not None:  # kept only on an emergency deadline (_mri_needed)
        basis.append(_WHOLE_SPINE_NOT_SHOWN)
    if ctx.patient.context.mri_contraindicated:
        ct_id, deadline = _CT_INSTEAD[rec_id]
        ctx.emit(
            ct_id, ["MRI contraindicated", f"deadline as for MRI: {deadline}", *basis], deadline=deadline
        )
    else:
        ctx.emit(rec_id, basis)


def _neurology_for_treatment(ctx: RuleContext) -> None:
    """Lesions known but no examination (or no radicular finding): steroids, SBRT (ASTRO 2024: no
    neurological signs) and decompression (Patchell: signs) cannot be chosen. With MSCC suspected the
    steroid rule asks, as an emergency."""
    f = ctx.facts
    n = ctx.patient.neurology
    if not ctx.patient.lesions or f.suspected_mscc.value or not f.needs_treatment_decision:
        return
    nd = f.neuro_deficit
    if nd.value is None:
        ctx.emit("triage.obtain-neurological-exam", [*nd.basis, "spinal lesions recorded"])
    elif nd.value is False and n.radiculopathy is None:
        ctx.emit("triage.obtain-neurological-exam", ["radicular pain not recorded", *nd.basis])


def _deadline(ctx: RuleContext) -> tuple[str, list[str]]:
    """Which MRI deadline applies and why, or ``triage.obtain-neurological-exam`` when it cannot be chosen."""
    n = ctx.patient.neurology
    f = ctx.facts
    mri_note = "MRI not recorded as done" if ctx.patient.context.mri_done is None else "no MRI yet"
    # Lhermitte's sign is a neurological alarm symptom, so neuro_deficit already holds it
    if f.neuro_deficit.value or ctx.patient.context.suspected_mscc:
        return "imaging.mri-whole-spine-12h", [*f.suspected_mscc.basis, mri_note]
    if n.radiculopathy is RadicularPain.unilateral and n.radicular_deficit:
        days = n.motor_deficit_onset_days
        basis = [f"unilateral radicular deficit, progressive={n.deficit_progressive}", mri_note]
        if n.deficit_progressive and days is not None:
            basis.append(f"deficit developed over {days} days")
            return ("imaging.mri-whole-spine-24h" if days <= 7 else "imaging.mri-whole-spine-48h"), basis
        return "triage.obtain-neurological-exam", [*basis, "onset or progression of the deficit not recorded"]
    if n.radiculopathy is RadicularPain.unilateral:
        return "imaging.mri-whole-spine-1w", ["unilateral radicular pain", mri_note]
    if n.radiculopathy is RadicularPain.none and f.neuro_deficit.value is False:
        return "imaging.mri-whole-spine-2w", ["local back pain only", *f.neuro_deficit.basis, mri_note]
    return "triage.obtain-neurological-exam", ["radicular pain/deficit not recorded", *f.neuro_deficit.basis]


@rule("imaging.mri-protocol", "imaging.plain-films-cannot-exclude")
def mri_protocol(ctx: RuleContext) -> None:
    """Whole-spine T1+T2 whenever MRI is pending or lesions lack an ESCC grade."""
    pending = _mri_needed(ctx)
    ungraded = bool(ctx.facts.lesions_missing_escc) and not ctx.patient.context.mri_done
    if pending or ungraded:
        basis = ["MRI pending"] if pending else [ctx.facts.escc_high.basis[0]]
        if ctx.patient.context.mri_contraindicated:
            return
        ctx.emit("imaging.mri-protocol", basis)
    if pending:
        ctx.emit(
            "imaging.plain-films-cannot-exclude", ["MRI pending: other imaging cannot exclude metastases"]
        )


@rule("triage.report-worsening")
def report_worsening(ctx: RuleContext) -> None:
    """Safety-net advice whenever spinal disease is suspected or present."""
    if ctx.patient.symptoms or ctx.patient.lesions or ctx.facts.neuro_deficit.value:
        ctx.emit("triage.report-worsening", ["spinal metastases suspected or present"])


@rule("triage.adult-rule-set")
def adult_rule_set(ctx: RuleContext) -> None:
    """The rule set is for adults (ruleset.yaml description; NICE CG75): a younger patient's plan says so."""
    age = ctx.patient.age_years
    limit = ctx.facts.settings.adult_min_age_years
    if age is not None and age < limit:
        ctx.emit("triage.adult-rule-set", [f"age {age} years (under {limit})"], age=age)
