"""NOMS: neurologic (ESCC, myelopathy), oncologic (radiosensitivity), mechanical (SINS), systemic.

Decision table (Bilsky 2006; Laufer 2013): radiosensitive -> cEBRT whatever the compression;
radioresistant + low-grade ESCC -> SBRT; radioresistant + high-grade ESCC -> separation surgery +
SBRT if the patient tolerates surgery, else cEBRT; instability is handled in ``stability``;
highly chemosensitive tumours in a stable spine -> systemic treatment first (NL-WM).
"""

from __future__ import annotations

from spinemets.rules.engine import RuleContext, rule

_CAUDA_ONLY = "high-grade compression only at L2 or below (cauda equina)"
"""Basis line of ``facts.cauda_compression_only`` (the L2 cut-off: below the conus in most adults)."""


@rule("noms.summary")
def summary(ctx: RuleContext) -> None:
    f = ctx.facts
    if not ctx.patient.lesions:
        return
    myel = ctx.patient.neurology.myelopathy
    n = f"{'; '.join(f.escc_high.basis)}; myelopathy {'yes' if myel else 'no' if myel is False else 'not recorded'}"
    sins = f.sins
    m = f"{sins.label()} at {sins.subject}" if sins is not None else "SINS not available"
    s = f"{f.performance_basis}; {'; '.join(f.life_expectancy_3_months.basis)}; {f.fit_for_surgery.basis[0]}"
    basis = [n, f.escc_imaging or "", f.radiosensitivity_basis, m, f.operated_sins_basis or "", s]
    ctx.emit("noms.summary", basis, n=n, o=f.radiosensitivity_basis, m=m, s=s)


@rule("noms.obtain-escc")
def obtain_escc(ctx: RuleContext) -> None:
    missing = ctx.facts.lesions_missing_escc
    if missing and not ctx.facts.escc_high.value:
        levels = ", ".join(str(les.level) for les in missing)
        ctx.emit("noms.obtain-escc", [f"ESCC not recorded at {levels}"], levels=levels)


@rule("noms.obtain-histology")
def obtain_histology(ctx: RuleContext) -> None:
    """Also while the named histology awaits its tissue diagnosis: NL-WM takes tissue before any treatment,
    so the radiosensitivity of a suspected tumour type does not yet choose the treatment."""
    f = ctx.facts
    if not ctx.patient.lesions:
        return
    if f.radiosensitivity is None:
        ctx.emit("noms.obtain-histology", [f.radiosensitivity_basis], why=f.radiosensitivity_basis)
    elif f.tissue_pending:
        why = f"{f.histology_label} not yet confirmed on tissue"
        ctx.emit("noms.obtain-histology", [why, "no tissue diagnosis yet"], why=why)


@rule(
    "noms.cebrt",
    "noms.sbrt",
    "noms.separation-surgery",
    "noms.separation-surgery-undecided",
    "noms.cebrt-not-operable",
    "noms.systemic-first",
    "noms.cebrt-or-decompression",
    "noms.cebrt-or-surgery-cauda",
    "noms.cebrt-poor-condition",
)
def neurologic_oncologic(ctx: RuleContext) -> None:
    f = ctx.facts
    if not ctx.patient.lesions or f.life_expectancy_3_months.value is False or not f.needs_treatment_decision:
        return
    if f.tissue_pending:  # NL-WM: tissue before any treatment starts (work-up items); noms.obtain-histology
        return
    progressed = any(
        les.prior_radiotherapy and les.progression_after_radiotherapy for les in ctx.patient.lesions
    )
    # an irradiated level that progressed: re-irradiation or surgery (their rules), whether the course is
    # recorded in context or at the lesion; a new, untreated level is decided here
    if progressed or (f.had_radiotherapy and not f.untreated_lesions):
        return
    o = f.radiosensitivity_basis
    if f.systemic_first and f.unstable.value is not True:
        ctx.emit("noms.systemic-first", [o, *f.unstable.basis])
        if not (f.escc_high.value or f.neuro_deficit.value):
            return
    if f.radiosensitivity == "sensitive":
        if f.decompression_indicated.value and f.surgical_candidate.value and f.unstable.value is not True:
            # NOMS (cEBRT whatever the compression) and Patchell (decompression) both apply: show both
            ctx.emit("noms.cebrt-or-decompression", [o, *f.decompression_indicated.basis])
        elif _cauda_surgery_open(ctx):
            # Patchell excluded cauda equina compression; ASTRO 2024's conditional surgery + RT covers it
            ctx.emit(
                "noms.cebrt-or-surgery-cauda",
                [
                    o,
                    *f.escc_high.basis,
                    _CAUDA_ONLY,
                    *f.neuro_deficit.basis,
                    *f.surgical_candidate.basis,
                ],
            )
        else:
            ctx.emit("noms.cebrt", [o, *f.escc_high.basis])
    elif f.radiosensitivity == "resistant":
        if f.escc_high.value is False and f.no_neurological_signs:  # ASTRO 2024: SBRT without signs
            # with surgery indicated (instability) and not ruled out, stabilisation comes first and
            # radiotherapy.postoperative says what follows; ASTRO selects SBRT for good performance status
            if f.sbrt_considered:
                ctx.emit("noms.sbrt", [o, *f.escc_high.basis, *f.neuro_deficit.basis, f.performance_basis])
            elif not f.surgery_not_ruled_out and f.poor_general_condition.value:
                basis = [o, *f.escc_high.basis, *f.neuro_deficit.basis, *f.poor_general_condition.basis]
                ctx.emit("noms.cebrt-poor-condition", basis)
        elif f.escc_high.value and not f.established_paraplegia.value:  # else surgery.paraplegia-over-48h
            cand = f.surgical_candidate
            basis = [o, *f.escc_high.basis, *cand.basis]
            if cand.value:
                if f.cauda_compression_only:  # below L2 there is no cord to name, only the cauda equina
                    cauda = [o, *f.escc_high.basis, _CAUDA_ONLY, *cand.basis]
                    ctx.emit("noms.separation-surgery", cauda, neural="thecal sac holding the cauda equina")
                else:
                    ctx.emit("noms.separation-surgery", basis, neural="cord")
            elif cand.value is False:
                ctx.emit("noms.cebrt-not-operable", basis)
            else:
                ctx.emit("noms.separation-surgery-undecided", basis)


def _cauda_surgery_open(ctx: RuleContext) -> bool:
    """Radiosensitive (not a tumour Patchell excluded as such) cauda equina compression with neurological
    signs, in a stable spine of a surgical candidate, without paraplegia beyond 48 hours."""
    f = ctx.facts
    return bool(
        f.cauda_compression_only
        and f.neuro_deficit.value
        and f.surgical_candidate.value
        and f.unstable.value is not True
        and f.histology not in f.settings.patchell_excluded_histologies
        and not f.tissue_pending
        and f.established_paraplegia.value is False
    )


@rule("noms.best-supportive-care")
def best_supportive_care(ctx: RuleContext) -> None:
    le = ctx.facts.life_expectancy_3_months
    if le.value is False:
        ctx.emit("noms.best-supportive-care", le.basis)
