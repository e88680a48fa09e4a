"""Clinical facts the rules share, derived once per patient, each with the basis that supports it.

Every fact is three-valued where the record can be incomplete: ``True``, ``False`` or ``None``
(unknown). A rule that needs an unknown fact asks for it; it never treats ``None`` as ``False``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from itertools import pairwise

from spinemets.knowledge.histology import histology_row, histology_table
from spinemets.model.enums import (
    AlarmSymptom,
    EsccGrade,
    Frankel,
    Histology,
    PainType,
    RadicularPain,
    VisceralMetastases,
)
from spinemets.model.levels import LEVELS
from spinemets.model.patient import Lesion, Patient
from spinemets.rules.content import RuleContent, ScoreBands
from spinemets.scores.engine import ScoreResult

#: Alarm symptoms that are neurological (NICE CG75/NG234: contact immediately; NL-WM: MRI within 12 h).
NEURO_ALARMS = frozenset(
    {
        AlarmSymptom.limb_weakness,
        AlarmSymptom.difficulty_controlling_limbs,
        AlarmSymptom.unsteady_gait,
        AlarmSymptom.numbness_or_tingling,
        AlarmSymptom.sphincter_dysfunction,
        AlarmSymptom.lhermitte_sign,
    }
)
_ESCC_ORDER = {g: i for i, g in enumerate(EsccGrade)}
_L2 = LEVELS.index("L2")
_ESCC_1C_DEBATED = (
    "ESCC 1c (cord abutted, not compressed) is counted as low grade, as it is usually grouped for radiation "
    "decisions; whether surgery or SRS suits 1c is debated (see the ESCC score)"
)
#: Ends every basis line that rests on a recalled (K) fact; a recommendation with such a line is unverified.
RECALLED = "recalled, unverified]"


@dataclass(frozen=True)
class Judgement:
    """A three-valued fact and the inputs that settled (or failed to settle) it."""

    value: bool | None
    basis: tuple[str, ...]


def neurological_status(patient: Patient) -> Judgement:
    """Neurological symptoms or signs suggesting cord or cauda equina compression (True, with what was found),
    an examination recorded without deficit (False), or neither (None). Read by the rules and the reports."""
    n = patient.neurology
    found: list[str] = []
    if n.motor_deficit:
        found.append("motor deficit")
    if n.myelopathy:
        found.append("myelopathy")
    if n.sphincter_dysfunction:
        found.append("sphincter dysfunction")
    if n.reduced_perineal_sensation:
        found.append("reduced perineal sensation")
    if n.radiculopathy is RadicularPain.bilateral:
        found.append("bilateral radicular pain")
    grade = patient.frankel_grade
    if grade is not None and grade[0] is not Frankel.E:
        found.append(f"{grade[1]} {grade[0].value}")
    found.extend(f"alarm symptom: {s.value.replace('_', ' ')}" for s in patient.symptoms if s in NEURO_ALARMS)
    if found:
        return Judgement(True, tuple(found))
    known_normal = (n.motor_deficit is False and n.sphincter_dysfunction is not True) or (
        grade is not None and grade[0] is Frankel.E
    )
    if known_normal:
        return Judgement(False, ("neurological examination recorded without deficit",))
    return Judgement(None, ("neurological status not recorded",))


class Facts:
    """Derived facts for one patient and its scores (computed lazily, at most once each)."""

    def __init__(
        self,
        patient: Patient,
        scores: Mapping[str, ScoreResult],
        sins_by_lesion: tuple[ScoreResult, ...],
        content: RuleContent,
    ) -> None:
        self.patient = patient
        self.scores = scores
        self.sins_by_lesion = sins_by_lesion
        self.content = content
        self.settings = content.settings

    # --- scores -------------------------------------------------------------------------------
    def score(self, key: str) -> ScoreResult | None:
        """A score by catalogue key, or None when the catalogue does not (yet) provide it."""
        return self.scores.get(key)

    def score_label(self, key: str) -> str | None:
        res = self.score(key)
        return res.label() if res is not None else None

    def band_in(self, entries: tuple[ScoreBands, ...]) -> tuple[bool, str | None]:
        """Whether any listed score has a *determined* band among those listed (and which). A band that an
        unnamed primary's disputed points could move (``unnamed_doubt``) settles nothing."""
        for e in entries:
            res = self._listed_band(e)
            if res is not None and self.unnamed_doubt(e, res) is None:
                flag = f" [band meaning {RECALLED}" if e.certainty.value == "K" else ""
                return True, res.label() + flag
        return False, None

    def _listed_band(self, entry: ScoreBands) -> ScoreResult | None:
        """The score's result when its band is determined and one of ``entry``'s bands, else None."""
        res = self.score(entry.score)
        if res is None or not res.band_determined or res.band is None or res.band.key not in entry.bands:
            return None
        return res

    def unnamed_doubt(self, entry: ScoreBands, res: ScoreResult) -> str | None:
        """Why ``res``'s band cannot settle ``entry``, or None: the primary is one the score's paper does not
        name, and with the points another source gives such primaries (``unnamed_primary.may_add`` more) the
        total falls in another band (docs/conflicts.md, Tokuhashi 1990 'other': 1 or 2)."""
        u, h = entry.unnamed_primary, self.histology
        if u is None or h is None or res.band is None or getattr(histology_row(h), u.column) is not None:
            return None
        from spinemets.scores.catalogue import SCORES

        defn = SCORES.get(entry.score)
        if defn is None:
            return None
        top = min(res.max + u.may_add, res.range[1])
        band = next((b for b in defn.bands if b.low <= top <= b.high), None)
        if band is None or band.key == res.band.key:
            return None
        points = f"{u.may_add} point{'s' if u.may_add > 1 else ''}"
        return (
            f"{res.label()} does not settle it: {h.value} is not named in {res.name}, and another source scores "
            f"such primaries {points} higher, giving {top} ({band.label})"
        )

    def band_doubts(self, *groups: tuple[ScoreBands, ...]) -> list[str]:
        """Every ``unnamed_doubt`` among the entries of ``groups`` whose band would otherwise have counted."""
        out: list[str] = []
        for entries in groups:
            for e in entries:
                res = self._listed_band(e)
                doubt = None if res is None else self.unnamed_doubt(e, res)
                if doubt is not None and doubt not in out:
                    out.append(doubt)
        return out

    # --- histology ----------------------------------------------------------------------------
    @cached_property
    def histology(self) -> Histology | None:
        return self.patient.primary.histology

    @cached_property
    def histology_label(self) -> str:
        h = self.histology
        if h is None:
            return "histology not recorded"
        if h is Histology.other:
            return f"histology other ({self.patient.primary.histology_other})"
        return f"histology {h.value}"

    @cached_property
    def primary_unknown(self) -> bool:
        """Primary explicitly unknown (cancer of unknown primary), as opposed to not recorded."""
        return self.histology is Histology.unknown_primary

    @cached_property
    def tissue_pending(self) -> bool:
        """No tissue diagnosis yet: unknown primary, or histology_confirmed recorded as False."""
        return self.primary_unknown or self.patient.primary.histology_confirmed is False

    @cached_property
    def radiosensitivity(self) -> str | None:
        """'sensitive' / 'resistant' from the histology table; None when unknown or not tabulated."""
        h = self.histology
        if h is None or h is Histology.unknown_primary:
            return None
        return histology_row(h).noms_radiosensitivity

    @cached_property
    def radiosensitivity_basis(self) -> str:
        rs = self.radiosensitivity
        if rs is None:
            return f"{self.histology_label}: radiosensitivity not established"
        word = "radiosensitive" if rs == "sensitive" else "radioresistant"
        if self.tissue_pending:  # a suspected tumour type: NOMS waits for the tissue (noms.obtain-histology)
            word += " if confirmed on tissue (not yet)"
        recalled = histology_table().certainty["noms_radiosensitivity"] == "K"
        flag = f" [classification {RECALLED}" if recalled else ""
        return f"{self.histology_label} = {word} (histology table, NOMS column){flag}"

    @cached_property
    def systemic_first(self) -> bool:
        return self.histology in self.settings.systemic_first_histologies

    # --- neurology ----------------------------------------------------------------------------
    @cached_property
    def neuro_deficit(self) -> Judgement:
        """Neurological symptoms or signs suggesting cord or cauda equina compression."""
        return neurological_status(self.patient)

    @cached_property
    def established_paraplegia(self) -> Judgement:
        """A complete deficit for longer than Patchell 2005 admitted (paraplegia > 48 h excluded)."""
        hours = self.patient.neurology.complete_deficit_hours
        limit = self.settings.patchell_max_paraplegia_hours
        if hours is None:
            grade = self.patient.frankel_grade
            if grade is not None and grade[0] is Frankel.A:
                return Judgement(
                    None, (f"{grade[1]} A: how long the complete deficit has lasted is not recorded",)
                )
            return Judgement(False, ("no complete deficit recorded",))
        if hours > limit:
            return Judgement(True, (f"complete deficit for {hours} h (more than {limit} h)",))
        return Judgement(False, (f"complete deficit for {hours} h (at most {limit} h)",))

    @cached_property
    def decompression_indicated(self) -> Judgement:
        """Patchell 2005 population: high-grade ESCC with neurological signs, a tissue diagnosis outside the
        excluded radiosensitive tumours, no paraplegia beyond 48 h and no earlier radiotherapy at the level
        (operability is judged separately)."""
        found = self._patchell_population
        if found.value and self.irradiated_compression:  # Patchell excluded radiotherapy that ruled out 30 Gy
            return Judgement(False, (self.irradiated_compression_basis,))
        return found

    @cached_property
    def _patchell_population(self) -> Judgement:
        """:attr:`decompression_indicated` before the question of earlier radiotherapy at the level."""
        esc, nd = self.escc_high, self.neuro_deficit
        if not (esc.value and nd.value) or self.tissue_pending:
            return Judgement(False, ())
        if self.histology is None:  # Patchell admitted tissue-proven cancer of a type it did not exclude
            return Judgement(
                None, (f"{self.histology_label}: Patchell 2005 eligibility needs the tumour type",)
            )
        if self.histology in self.settings.patchell_excluded_histologies:
            return Judgement(
                False, (f"{self.histology_label}: excluded from Patchell 2005 as radiosensitive",)
            )
        if self.established_paraplegia.value:
            return Judgement(False, self.established_paraplegia.basis)
        high = [les for les in self.patient.lesions if les.escc is not None and self.is_high_grade(les.escc)]
        if high and all(les.level.start.index >= _L2 for les in high):  # below the conus in most adults
            levels = ", ".join(str(les.level) for les in high)
            return Judgement(
                False, (f"high-grade ESCC only at {levels}: cauda equina, which Patchell 2005 excluded",)
            )
        spans = sorted((les.level.start.index, les.level.end.index) for les in high)
        separate = any(nxt[0] > prev[1] + 1 for prev, nxt in pairwise(spans))
        if separate:  # Patchell admitted a single area: one level or contiguous levels
            levels = ", ".join(str(les.level) for les in high)
            return Judgement(
                False,
                (f"high-grade ESCC at separate levels ({levels}): Patchell 2005 admitted a single area",),
            )
        if self.established_paraplegia.value is None:
            return Judgement(None, self.established_paraplegia.basis)
        return Judgement(
            True, (*esc.basis, *nd.basis, f"{self.histology_label}: not excluded by Patchell 2005")
        )

    @cached_property
    def irradiated_compression(self) -> tuple[Lesion, ...]:
        """High-grade compressing lesions irradiated before: radiotherapy recorded at the lesion, or a course
        recorded for the patient (``treatment_received``) and the lesion not told apart as a new level
        (``levels_without_treatment``, as the first-course radiotherapy items read it)."""
        new = self.levels_without_treatment
        return tuple(
            les
            for les in self.patient.lesions
            if les.escc is not None
            and self.is_high_grade(les.escc)
            and (les.prior_radiotherapy is not None or (self.had_radiotherapy and les not in new))
        )

    @cached_property
    def irradiated_compression_basis(self) -> str:
        def dose(les: Lesion) -> str:
            rt = les.prior_radiotherapy
            if rt is None:
                treatment = self.patient.context.treatment_received
                return f"{les.level} (treatment received: {treatment}, recorded for the patient)"
            if rt.dose_gy and rt.fractions:
                return f"{les.level} ({rt.dose_gy:g} Gy/{rt.fractions})"
            return f"{les.level} (dose not recorded)"

        levels = ", ".join(dose(les) for les in self.irradiated_compression)
        return (
            f"radiotherapy given before at the compressing level {levels}: Patchell 2005 excluded earlier "
            "radiotherapy that ruled out a further 30 Gy"
        )

    @cached_property
    def decompression_at_irradiated_level(self) -> bool:
        """Patchell's population in every other respect (high-grade ESCC with neurological signs, a tumour
        type it admitted, no paraplegia beyond 48 h, one area of the cord), but at a level irradiated before."""
        return bool(self._patchell_population.value and self.irradiated_compression)

    @cached_property
    def cauda_compression_only(self) -> bool:
        """High-grade ESCC recorded, and only at L2 or below (cauda equina in most adults)."""
        high = [les for les in self.patient.lesions if les.escc is not None and self.is_high_grade(les.escc)]
        return bool(high) and all(les.level.start.index >= _L2 for les in high)

    @cached_property
    def no_neurological_signs(self) -> bool:
        """A recorded examination without neurological symptoms or signs, radicular pain recorded as none
        (NICE counts it as neurological): ASTRO 2024's SBRT selection, NICE's urgent (not immediate) route."""
        none = self.patient.neurology.radiculopathy is RadicularPain.none
        return self.neuro_deficit.value is False and none

    @cached_property
    def suspected_mscc(self) -> Judgement:
        """Clinical suspicion of MSCC: recorded suspicion, neuro deficit, or high-grade ESCC on MRI."""
        if self.patient.context.suspected_mscc:
            return Judgement(True, ("clinical suspicion of MSCC recorded",))
        nd = self.neuro_deficit
        if nd.value:
            return Judgement(True, nd.basis)
        if self.escc_high.value:
            return Judgement(True, self.escc_high.basis)
        if nd.value is False and self.patient.context.suspected_mscc is False:
            return Judgement(False, ("no suspicion of MSCC recorded", *nd.basis))
        return Judgement(nd.value, nd.basis)

    # --- lesions: ESCC and SINS -----------------------------------------------------------------
    def is_high_grade(self, grade: EsccGrade) -> bool:
        """High grade per the ESCC score's own bands (where 1c falls is that score's option)."""
        return _ESCC_ORDER[grade] >= _escc_high_rank()

    @cached_property
    def lesions_missing_escc(self) -> tuple[Lesion, ...]:
        return tuple(les for les in self.patient.lesions if les.escc is None)

    @cached_property
    def worst_escc(self) -> tuple[Lesion, EsccGrade] | None:
        graded = [(les, les.escc) for les in self.patient.lesions if les.escc is not None]
        if not graded:
            return None
        return max(graded, key=lambda pair: _ESCC_ORDER[pair[1]])

    @cached_property
    def escc_imaging(self) -> str | None:
        """Whole-spine MRI not recorded as done (``mri_done`` unset), yet an ESCC grade at every recorded lesion:
        the grade is read on axial MRI (Bilsky 2010), or on CT myelography when MRI is contraindicated, so that
        imaging is taken as done. The basis line that says so, or None."""
        p = self.patient
        if p.context.mri_done is not None or not p.lesions or self.lesions_missing_escc:
            return None
        grades = ", ".join(f"{les.level} {les.escc.value}" for les in p.lesions if les.escc is not None)
        how = (
            "CT myelography, MRI being contraindicated"
            if p.context.mri_contraindicated
            else "MRI or CT myelography"
        )
        return (
            f"ESCC recorded at every lesion ({grades}), MRI not recorded as done: the imaging that grades it "
            f"({how}) is taken as done at the graded levels"
        )

    @cached_property
    def escc_high(self) -> Judgement:
        """High-grade ESCC anywhere: True if any lesion is high grade; None if some are ungraded."""
        worst = self.worst_escc
        if worst is not None and self.is_high_grade(worst[1]):
            return Judgement(True, (f"ESCC {worst[1].value} at {worst[0].level} (high grade)",))
        if not self.patient.lesions:
            return Judgement(None, ("no spinal lesion recorded",))
        if self.lesions_missing_escc:
            levels = ", ".join(str(les.level) for les in self.lesions_missing_escc)
            return Judgement(None, (f"ESCC grade not recorded at {levels}",))
        if worst is None:
            return Judgement(None, ("ESCC grade not recorded",))
        low = f"worst ESCC {worst[1].value} at {worst[0].level} (low grade)"
        if worst[1] is EsccGrade.g1c:  # guidelines.md 4.2 [V]: surgery vs SRS at 1c is controversial
            return Judgement(False, (low, _ESCC_1C_DEBATED))
        return Judgement(False, (low,))

    def sins_for(self, lesion: Lesion) -> ScoreResult | None:
        for res in self.sins_by_lesion:
            if res.subject == str(lesion.level):
                return res
        return None

    @cached_property
    def operated_settled(self) -> tuple[Lesion, ...]:
        """Levels with recorded prior surgery, in follow-up of a treated patient with no new symptoms (recorded
        as none) and no progression: their SINS is read from lesion data the operating surgeon has already
        acted on, so it asks for no new surgical consultation (SOSG: SINS 7-18 -> consultation before
        radiotherapy) and no new stabilisation. With new symptoms, progression or an untreated patient, every
        level counts as before."""
        c = self.patient.context
        if not self.treated or c.new_symptoms_since_treatment is not False:
            return ()
        if any(les.progression_after_radiotherapy for les in self.patient.lesions):
            return ()
        return tuple(les for les in self.patient.lesions if les.prior_surgery)

    @cached_property
    def sins_in_play(self) -> tuple[ScoreResult, ...]:
        """Per-lesion SINS that can call for a surgeon now: every lesion's, less the operated, settled levels."""
        operated = {str(les.level) for les in self.operated_settled}
        return tuple(r for r in self.sins_by_lesion if r.subject not in operated)

    @cached_property
    def operated_sins_basis(self) -> str | None:
        """What the plan says of an operated, settled level whose SINS could be 7 or more (None if none)."""
        lines = []
        for les in self.operated_settled:
            res = self.sins_for(les)
            if res is not None and res.max >= 7:
                when = f" on {les.prior_surgery_date}" if les.prior_surgery_date else ""
                lines.append(f"{res.label()} at {les.level} (surgery there{when})")
        if not lines:
            return None
        return (
            f"{'; '.join(lines)}: read from the recorded lesion data, in follow-up without new symptoms; a level "
            "already operated on gets no new surgical consultation or stabilisation for it"
        )

    @cached_property
    def sins(self) -> ScoreResult | None:
        """The most unstable lesion's SINS (``scores['sins']``), None without lesions."""
        if not self.patient.lesions:
            return None
        return self.score("sins")

    @cached_property
    def unstable(self) -> Judgement:
        """SINS 13-18 at any lesion (True), every lesion determined below that (False), else None; levels
        operated on and settled (``operated_settled``) are left out."""
        if not self.sins_by_lesion:
            return Judgement(None, ("no spinal lesion recorded",))
        results = self.sins_in_play
        if not results:
            operated = "a level operated on before, in follow-up without new symptoms"
            return Judgement(
                False, tuple(f"{r.label()} at {r.subject}: {operated}" for r in self.sins_by_lesion)
            )
        certain = [r for r in results if r.band_determined and r.band and r.band.key == "unstable"]
        if certain:
            return Judgement(True, tuple(f"{r.label()} at {r.subject}" for r in certain))
        unsure = [r for r in results if not r.band_determined and "unstable" in r.possible_bands]
        if unsure:
            return Judgement(None, tuple(f"{r.label()} at {r.subject}" for r in unsure))
        return Judgement(False, tuple(f"{r.label()} at {r.subject}" for r in results))

    @cached_property
    def painful(self) -> bool:
        p = self.patient.pain
        return bool(
            (p.type is not None and p.type is not PainType.none)
            or (p.severity_nrs or 0) > 0
            or any(s not in NEURO_ALARMS for s in self.patient.symptoms)
            or p.night_pain
        )

    # --- prognosis and fitness ----------------------------------------------------------------
    @cached_property
    def life_expectancy_3_months(self) -> Judgement:
        """At least 3 months expected (surgery gate), from the prognostic score bands in ruleset.yaml."""
        p = self.settings.prognosis
        hit, label = self.band_in(p.under_3_months)
        if hit:
            return Judgement(False, (f"{label}: expected survival under {p.surgery_min_months} months",))
        hit, label = self.band_in(p.terminal)
        if hit:
            return Judgement(False, (f"{label}: terminal-care band",))
        hit, label = self.band_in(p.at_least_3_months)
        if hit:
            return Judgement(True, (f"{label}: expected survival at least {p.surgery_min_months} months",))
        shown = [lab for key in _PROGNOSTIC if (lab := self.score_label(key))]
        why = "; ".join(shown) if shown else "no prognostic score available"
        doubts = self.band_doubts(p.under_3_months, p.terminal, p.at_least_3_months)
        return Judgement(None, (f"life expectancy not settled by the scores ({why})", *doubts))

    @cached_property
    def life_expectancy_1_year(self) -> Judgement:
        p = self.settings.prognosis
        hit, label = self.band_in(p.at_least_1_year)
        if hit:
            return Judgement(True, (f"{label}: expected survival at least 1 year",))
        hit, label = self.band_in(p.under_1_year)
        if hit:
            return Judgement(False, (f"{label}: expected survival under 1 year",))
        doubts = self.band_doubts(p.at_least_1_year, p.under_1_year)
        return Judgement(None, ("expected survival of 1 year not settled by the scores", *doubts))

    @cached_property
    def fit_for_surgery(self) -> Judgement:
        f = self.patient.context.fit_for_surgery
        if f is None:
            return Judgement(None, ("fitness for surgery not recorded",))
        return Judgement(
            f, ("fit for surgery (team judgement)" if f else "not fit for surgery (team judgement)",)
        )

    @cached_property
    def surgical_candidate(self) -> Judgement:
        """Life expectancy of at least 3 months and fit for surgery (NL-WM; Patchell eligibility)."""
        le, fit = self.life_expectancy_3_months, self.fit_for_surgery
        if le.value is False or fit.value is False:
            return Judgement(False, le.basis + fit.basis)
        if le.value and fit.value:
            return Judgement(True, le.basis + fit.basis)
        return Judgement(None, le.basis + fit.basis)

    @cached_property
    def possible_primary_bone_tumour(self) -> bool:
        """A solitary spinal lesion without a proven primary (no known cancer, or tissue pending): it may be a
        primary bone tumour rather than a metastasis (differential.primary-bone-tumour)."""
        p = self.patient
        solitary = (
            len(p.lesions) == 1
            and p.burden.vertebrae_involved in (None, 1)
            and not p.burden.extraspinal_bone_metastases
        )
        # a tissue-confirmed primary is a proven one, whatever known_cancer says (the two contradict)
        proven = p.primary.histology_confirmed is True and not self.primary_unknown
        no_known_cancer = (p.context.known_cancer is False and not proven) or self.tissue_pending
        return solitary and no_known_cancer

    @cached_property
    def metastases_outside_spine(self) -> tuple[str, ...]:
        """Metastatic disease recorded outside the spine: organ or brain metastases, or inguinal nodes positive
        on cytology or histology. Distant disease, whatever a solitary spinal lesion proves to be."""
        b, nodes = self.patient.burden, self.patient.nodes
        found = []
        if b.visceral_metastases is not None and b.visceral_metastases is not VisceralMetastases.none:
            found.append(f"visceral metastases ({b.visceral_metastases.value})")
        if b.brain_metastases:
            found.append("brain metastases")
        if nodes.inguinal_nodes_positive:
            found.append(f"{nodes.inguinal_nodes_positive} positive inguinal node(s)")
        return tuple(found)

    @cached_property
    def poor_general_condition(self) -> Judgement:
        """Performance status in the 'poor' general-condition band of Tokuhashi 2005 (KPS 10-40%), as the
        revised Tokuhashi score derived it (an ECOG grade by the convention used); None when not settled."""
        res = self.score("tokuhashi_revised")
        item = next((i for i in res.items if i.key == "general_condition"), None) if res else None
        if item is None or item.category is None:
            return Judgement(None, ("general condition (Tokuhashi 2005 KPS bands) not settled",))
        how = item.derivation or item.category
        return Judgement(item.category == "poor", (f"general condition: {how} (Tokuhashi 2005 KPS bands)",))

    @cached_property
    def performance_basis(self) -> str:
        perf = self.patient.performance
        parts = []
        if perf.kps is not None:
            parts.append(f"KPS {perf.kps}%")
        if perf.ecog is not None:
            parts.append(f"ECOG {perf.ecog}")
        return ", ".join(parts) if parts else "performance status not recorded"

    # --- treatment history --------------------------------------------------------------------
    @cached_property
    def treated(self) -> bool:
        t = self.patient.context.treatment_received
        return t is not None and t != "none"

    @cached_property
    def needs_treatment_decision(self) -> bool:
        """Untreated, or treated but with new symptoms or progression (then the index level is re-decided)."""
        if not self.treated:
            return True
        return bool(
            self.patient.context.new_symptoms_since_treatment
            or any(les.progression_after_radiotherapy for les in self.patient.lesions)
        )

    @cached_property
    def untreated_lesions(self) -> tuple[Lesion, ...]:
        """In a treated patient who needs a new decision (new symptoms, progression) and whose record says,
        lesion by lesion, which level was treated (prior radiotherapy or surgery at a level): the lesions
        without either, i.e. new levels to decide on. Empty when no lesion records its own treatment (the
        index level cannot then be told apart) or in follow-up without new symptoms."""
        if not self.treated or not self.needs_treatment_decision:
            return ()
        return self.levels_without_treatment

    @cached_property
    def levels_without_treatment(self) -> tuple[Lesion, ...]:
        """When some lesion records its own treatment, the lesions that record none (new levels); empty
        when none does (the treated level cannot then be told apart)."""
        lesions = self.patient.lesions
        if not any(les.treated_here for les in lesions):
            return ()
        return tuple(les for les in lesions if not les.treated_here)

    @cached_property
    def had_surgery(self) -> bool:
        return self.patient.context.treatment_received in ("surgery", "surgery_and_radiotherapy")

    @cached_property
    def had_radiotherapy(self) -> bool:
        return self.patient.context.treatment_received in ("radiotherapy", "surgery_and_radiotherapy", "sbrt")

    @cached_property
    def surgery_not_ruled_out(self) -> bool:
        """An accepted surgical indication in a patient not recorded as ineligible (``surgical_candidate`` True
        or still open): the spine goes to the surgeon first (NOMS M), so definitive radiotherapy chosen as an
        alternative to surgery (ASTRO 2024 SBRT: 'not having surgery') is not what the plan offers."""
        return bool(self.surgical_indications) and self.surgical_candidate.value is not False

    @cached_property
    def sbrt_considered(self) -> bool:
        """ASTRO 2024 selects SBRT for a radioresistant tumour with low-grade compression, no neurological
        signs, no surgery planned (or still open: ``surgery_not_ruled_out``) and good performance status
        (not the Tokuhashi 'poor' band). One test for noms.sbrt and the SBRT regimens, which must agree."""
        return (
            self.radiosensitivity == "resistant"
            and self.escc_high.value is False
            and self.no_neurological_signs
            and not self.surgery_not_ruled_out
            and not self.poor_general_condition.value
        )

    @cached_property
    def surgical_indications(self) -> tuple[str, ...]:
        """The accepted indications for surgery present in this patient (NL-WM, NOMS, Patchell)."""
        found: list[str] = []
        if self.unstable.value:
            found.append("spinal instability: " + "; ".join(self.unstable.basis))
        # cord decompression (NOMS, Patchell) has no neurological aim after paraplegia beyond 48 h
        cord = self.escc_high.value and not self.established_paraplegia.value
        if cord and self.radiosensitivity == "resistant":
            found.append(f"{self.escc_high.basis[0]} with {self.radiosensitivity_basis}")
        elif self.decompression_indicated.value:
            found.append(f"{self.escc_high.basis[0]} with neurological signs (Patchell 2005 population)")
        elif self.decompression_at_irradiated_level:  # NL-WM: surgery if re-irradiation cannot reach a dose
            found.append(
                f"{self.escc_high.basis[0]} with neurological signs at a level irradiated before (NL-WM: surgery "
                "when re-irradiation cannot reach an adequate dose)"
            )
        for les in self.patient.lesions:
            if les.progression_after_radiotherapy:
                found.append(f"progression after radiotherapy at {les.level}")
        if self.patient.neurology.deterioration_despite_treatment:
            found.append("neurological deterioration despite radiotherapy and corticosteroids")
        return tuple(found)

    @cached_property
    def surgical_lesions(self) -> tuple[Lesion, ...]:
        """The lesions a surgical indication names: unstable (SINS 13-18), high-grade compression when cord
        surgery is indicated (or in question at a level irradiated before), progression after radiotherapy.
        A patient-level indication alone (deterioration despite treatment) names the high-grade lesions, else
        every lesion."""
        lesions = self.patient.lesions
        unstable = {
            r.subject for r in self.sins_in_play if r.band_determined and r.band and r.band.key == "unstable"
        }
        cord = bool(self.escc_high.value) and not self.established_paraplegia.value
        cord = cord and (
            self.radiosensitivity == "resistant"
            or bool(self.decompression_indicated.value)
            or self.decompression_at_irradiated_level
        )
        high = [les for les in lesions if les.escc is not None and self.is_high_grade(les.escc)]
        named = tuple(
            les
            for les in lesions
            if str(les.level) in unstable or (cord and les in high) or les.progression_after_radiotherapy
        )
        return named or tuple(high) or tuple(lesions)


@cache
def _escc_high_rank() -> int:
    """Lowest grade rank (0 = grade 0 .. 5 = grade 3) in the catalogue ESCC score's high-grade band."""
    from spinemets.scores.catalogue import SCORES

    defn = SCORES.get("escc")
    if defn is not None:
        for band in defn.bands:
            if band.key == "high_grade":
                return band.low
    return _ESCC_ORDER[EsccGrade.g2]  # Bilsky 2010: grades 2 and 3 are high grade


_PROGNOSTIC = ("tokuhashi_revised", "tokuhashi_1990", "tomita", "bauer_modified", "nesms", "katagiri_new")
