"""What every renderer shows, derived once from an Assessment: facts, scores with basis, plan, refs.

Renderers only lay this out; they never compute a score or decide a recommendation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from spinemets.assessment import Assessment
from spinemets.knowledge.bibliography import Reference
from spinemets.rules.facts import neurological_status
from spinemets.rules.model import Plan, Recommendation, Urgency

DISCLAIMER = (
    "Decision support only: every recommendation shows its basis and sources so that the treating team can "
    "check it; it does not replace clinical judgement."
)
UNDATED = "treatment date not recorded"
"""A follow-up item's due date when the treatment date (its start) is not recorded."""
NOTES_HEADING = "Notes (free text as recorded; not used by the rules)"
UNVERIFIED = "unverified: rests on recalled facts not yet checked in the primary source"


@dataclass(frozen=True)
class ScoreLine:
    name: str
    subject: str | None
    label: str
    meaning: str | None
    items: tuple[str, ...]
    questions: tuple[str, ...]
    citations: tuple[str, ...]
    caveats: tuple[str, ...] = ()
    """The result's warnings (a published ceiling applied, a worse lesion, a primary the paper does
    not list), shown beside the basis as on the web page."""
    recalled: tuple[str, ...] = ()
    """The definition's notes that say a figure is recalled or unverified ([K]): what `spinemets score`
    prints as notes, kept to those that flag an unchecked point table, band or threshold."""
    possible: str | None = None
    """The score's possible totals ('possible 0-18') for a summed score, as on the web page, so that
    a total can be read against its scale (None for grades, whose label names the grade)."""


@dataclass(frozen=True)
class RecView:
    number: int
    rec: Recommendation
    ref_numbers: tuple[int, ...]

    @property
    def cite_marks(self) -> str:
        return "[" + ", ".join(str(n) for n in self.ref_numbers) + "]" if self.ref_numbers else ""


@dataclass(frozen=True)
class View:
    title: str
    facts: tuple[tuple[str, str], ...]
    scores: tuple[ScoreLine, ...]
    sins_lesions: tuple[ScoreLine, ...]
    plan: Plan | None
    groups: tuple[tuple[Urgency, tuple[RecView, ...]], ...]
    references: tuple[tuple[int, Reference], ...]
    versions: str
    urgency: str
    """The plan's overall urgency in words ('emergency', or 'none: no recommendation fired')."""
    urgency_basis: tuple[RecView, ...] = ()
    """The numbered recommendations whose urgency is the plan's: what set the overall urgency."""
    patient_label: str = ""
    """The patient identifier, or 'no patient identifier recorded' (for every page's header)."""
    assessment_date: str = ""
    """The recorded assessment date, or 'not recorded' (for every page's header)."""
    notes: str | None = None
    """The clinician's free-text notes as recorded (never used by the rules)."""


_RECALL = re.compile(r"\[K\]|recalled|unverified", re.IGNORECASE)


def recalled_notes(res) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """The definition's notes that flag a recalled or unverified figure ([K]): shown beside the score in
    every report and on the web page, so a recalled point table or band is never read as checked."""
    return tuple(n for n in res.notes if _RECALL.search(n))


def _score_line(res) -> ScoreLine:  # type: ignore[no-untyped-def]
    items = tuple(i.explain() for i in res.items)
    questions = tuple(f"{k}: {q}" for k, q in res.questions.items())
    meaning = res.band.meaning if res.band_determined and res.band is not None else None
    return ScoreLine(
        name=res.name,
        subject=res.subject,
        label=res.label(),
        meaning=meaning,
        items=items,
        questions=questions,
        citations=tuple(r.short() for r in res.citation),
        caveats=tuple(res.warnings),
        recalled=recalled_notes(res),
        possible=f"possible {res.range[0]}-{res.range[1]}" if res.kind == "additive" else None,
    )


def _patient_label(a: Assessment) -> str:
    return a.patient.patient_id or "no patient identifier recorded"


def _assessment_date(a: Assessment) -> str:
    return a.patient.assessment_date.isoformat() if a.patient.assessment_date else "not recorded"


def patient_notes(a: Assessment) -> str | None:
    """The clinician's free-text notes as recorded, None when there are none."""
    return (a.patient.notes or "").strip() or None


def patient_facts(a: Assessment) -> tuple[tuple[str, str], ...]:
    """The patient as entered, in the few lines every report and the web result page show."""
    p = a.patient
    out: list[tuple[str, str]] = [("Patient", _patient_label(a)), ("Assessment date", _assessment_date(a))]
    who = ", ".join(x for x in (f"{p.age_years} y" if p.age_years is not None else "", p.sex or "") if x)
    if who:
        out.append(("Age, sex", who))
    h = p.primary.histology
    primary = (
        "not recorded"
        if h is None
        else (p.primary.histology_other or h.value)
        if h.value == "other"
        else h.value
    )
    if p.primary.histology_confirmed is not None:
        primary += " (tissue-confirmed)" if p.primary.histology_confirmed else " (no tissue diagnosis yet)"
    out.append(("Primary", primary))
    perf = []
    if p.performance.kps is not None:
        perf.append(f"KPS {p.performance.kps}%")
    if p.performance.ecog is not None:
        perf.append(f"ECOG {p.performance.ecog}")
    out.append(("Performance", ", ".join(perf) or "not recorded"))
    fr = p.frankel_grade
    n = p.neurology
    neuro = []
    if fr:
        neuro.append(f"{fr[1]} {fr[0].value}")
    for flag, word in (
        (n.motor_deficit, "motor deficit"),
        (n.myelopathy, "myelopathy"),
        (n.sphincter_dysfunction, "sphincter dysfunction"),
        (n.reduced_perineal_sensation, "reduced perineal sensation"),
        (n.radicular_deficit, "radicular deficit"),
    ):
        if flag:
            neuro.append(word)
    if n.radiculopathy is not None and n.radiculopathy.value != "none":
        neuro.append(f"{n.radiculopathy.value} radicular pain")
    # 'no deficit recorded' reads as a normal examination: only where the rules read one (an entry such as
    # 'no radicular pain' alone is not an examination)
    normal = neurological_status(p).value is False
    out.append(("Neurology", ", ".join(neuro) or ("no deficit recorded" if normal else "not recorded")))
    lesions = [
        f"{les.level} (ESCC {les.escc.value if les.escc else '?'}, {les.bone_lesion.value if les.bone_lesion else 'bone quality ?'})"
        for les in p.lesions
    ]
    out.append(("Spinal lesions", "; ".join(lesions) or "none recorded"))
    if p.symptoms:
        out.append(("Alarm symptoms", ", ".join(s.value.replace("_", " ") for s in p.symptoms)))
    if p.nodes.inguinal_lymphadenopathy:
        out.append(("Nodes", "inguinal lymphadenopathy"))
    if p.context.treatment_received and p.context.treatment_received != "none":
        when = f" on {p.context.treatment_date.isoformat()}" if p.context.treatment_date else ""
        out.append(("Treatment received", p.context.treatment_received.replace("_", " ") + when))
    return tuple(out)


def build_view(a: Assessment) -> View:
    plan = a.plan
    numbers: dict[str, int] = {}
    refs: list[tuple[int, Reference]] = []
    if plan is not None:
        for i, ref in enumerate(plan.references, start=1):
            numbers[ref.id] = i
            refs.append((i, ref))
    groups: list[tuple[Urgency, tuple[RecView, ...]]] = []
    if plan is not None:
        counter = 0
        for urgency in Urgency:
            views = []
            for rec in plan.recommendations:
                if rec.urgency is urgency:
                    counter += 1
                    views.append(RecView(counter, rec, tuple(numbers[c.id] for c in rec.citations)))
            if views:
                groups.append((urgency, tuple(views)))
    title = "spinemets assessment" + (f" - {a.patient.patient_id}" if a.patient.patient_id else "")
    versions = (
        f"score definitions {a.definitions_version}; rule set {a.ruleset_version}; schema {a.schema_version}"
    )
    # every lesion's SINS after the scores, named as on the web page: the worst lesion's is also the
    # SINS row above, and two rows both reading 'SINS T12' looked like a duplicate
    sins = (
        tuple(replace(_score_line(r), name=f"{r.name} by lesion") for r in a.sins_by_lesion)
        if len(a.sins_by_lesion) > 1
        else ()
    )
    level = plan.urgency if plan is not None else None
    basis = tuple(rv for urgency, views in groups if urgency is level for rv in views)
    return View(
        title=title,
        facts=patient_facts(a),
        scores=tuple(_score_line(r) for r in a.scores.values()),
        sins_lesions=sins,
        plan=plan,
        groups=tuple(groups),
        references=tuple(refs),
        versions=versions,
        urgency=level.value if level is not None else "none: no recommendation fired",
        urgency_basis=basis,
        patient_label=_patient_label(a),
        assessment_date=_assessment_date(a),
        notes=patient_notes(a),
    )
