"""Triage and imaging: alarm symptoms, the emergency pathway, MRI deadline and protocol.

References: NL-WM 2015 module *Beeldvormend onderzoek* (MRI deadlines 12 h .. 2 weeks); NICE
CG75/NG234 (24 h; contact the MSCC coordinator); seed 000 (alarm list, X-ray cannot exclude).
"""

from __future__ import annotations

from spinemets.model.enums import RadicularPain
from spinemets.rules.engine import RuleContext, rule
from spinemets.rules.facts import NEURO_ALARMS


def _pain_alarms(ctx: RuleContext) -> list[str]:
    return [
        f"alarm symptom: {s.value.replace('_', ' ')}" for s in ctx.patient.symptoms if s not in NEURO_ALARMS
    ]


def _mri_needed(ctx: RuleContext) -> bool:
    """Imaging is pending: MRI not recorded as done, and a reason to image is present."""
    if ctx.patient.context.mri_done:
        return False
    f = ctx.facts
    return bool(f.neuro_deficit.value or f.suspected_mscc.value or _pain_alarms(ctx) or f.painful)


@rule("triage.emergency-pathway", "triage.urgent-pathway")
def pathway(ctx: RuleContext) -> None:
    """Neurological symptoms/signs -> emergency; pain alarms alone -> urgent (NICE CG75 key priorities)."""
    f = ctx.facts
    if f.neuro_deficit.value or f.patient.context.suspected_mscc:
        ctx.emit("triage.emergency-pathway", f.suspected_mscc.basis)
        return
    alarms = _pain_alarms(ctx)
    if alarms and not ctx.patient.context.mri_done:
        ctx.emit("triage.urgent-pathway", alarms)


@rule(
    "imaging.mri-whole-spine-12h",
    "imaging.mri-whole-spine-24h",
    "imaging.mri-whole-spine-48h",
    "imaging.mri-whole-spine-1w",
    "imaging.mri-whole-spine-2w",
    "triage.obtain-neurological-exam",
)
def mri_deadline(ctx: RuleContext) -> None:
    """The Dutch MRI timetable by presentation; asks for the examination when it cannot choose."""
    if not _mri_needed(ctx) or ctx.patient.context.mri_contraindicated:
        return  # no MRI to time: the CT alternative is its own item (mri_contraindicated)
    n = ctx.patient.neurology
    f = ctx.facts
    lhermitte = any(s.value == "lhermitte_sign" for s in ctx.patient.symptoms)
    mri_note = "MRI not recorded as done" if ctx.patient.context.mri_done is None else "no MRI yet"
    if f.neuro_deficit.value or ctx.patient.context.suspected_mscc or lhermitte:
        ctx.emit("imaging.mri-whole-spine-12h", [*f.suspected_mscc.basis, mri_note])
        return
    if n.radiculopathy is RadicularPain.unilateral and n.radicular_deficit:
        days = n.motor_deficit_onset_days
        basis = [f"unilateral radicular deficit, progressive={n.deficit_progressive}", mri_note]
        if n.deficit_progressive and days is not None:
            basis.append(f"deficit developed over {days} days")
            ctx.emit("imaging.mri-whole-spine-24h" if days <= 7 else "imaging.mri-whole-spine-48h", basis)
            return
        ctx.emit(
            "triage.obtain-neurological-exam", [*basis, "onset or progression of the deficit not recorded"]
        )
        return
    if n.radiculopathy is RadicularPain.unilateral:
        ctx.emit("imaging.mri-whole-spine-1w", ["unilateral radicular pain", mri_note])
        return
    if n.radiculopathy is RadicularPain.none and f.neuro_deficit.value is False:
        ctx.emit("imaging.mri-whole-spine-2w", ["local back pain only", *f.neuro_deficit.basis, mri_note])
        return
    ctx.emit(
        "triage.obtain-neurological-exam", ["radicular pain/deficit not recorded", *f.neuro_deficit.basis]
    )


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


@rule("imaging.mri-contraindicated", "imaging.ct-now-mri-contraindicated")
def mri_contraindicated(ctx: RuleContext) -> None:
    """CT instead of MRI (NICE NG234), on the emergency deadline when cord compression is suspected."""
    if not ctx.patient.context.mri_contraindicated:
        return
    f = ctx.facts
    lhermitte = any(s.value == "lhermitte_sign" for s in ctx.patient.symptoms)
    if _mri_needed(ctx) and (f.neuro_deficit.value or ctx.patient.context.suspected_mscc or lhermitte):
        ctx.emit("imaging.ct-now-mri-contraindicated", ["MRI contraindicated", *f.suspected_mscc.basis])
    elif _mri_needed(ctx) or f.lesions_missing_escc:
        ctx.emit("imaging.mri-contraindicated", ["MRI contraindicated"])


@rule("triage.report-worsening")
def report_worsening(ctx: RuleContext) -> None:
    """Safety-net advice whenever spinal disease is suspected or present."""
    if ctx.patient.symptoms or ctx.patient.lesions or ctx.facts.neuro_deficit.value:
        ctx.emit("triage.report-worsening", ["spinal metastases suspected or present"])
