"""The patient: the facts a spine-oncology team records, with units and controlled vocabularies.

Unknown is ``None``, never a default: a score or rule that needs a missing fact reports the
range it could take and what to obtain, it never assumes. Lists default to empty only where
"none recorded" and "none present" are the same statement (e.g. no lesions entered yet).
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from spinemets.errors import InvalidInputError
from spinemets.model.enums import (
    AlarmSymptom,
    Alignment,
    Ambulatory,
    BoneLesion,
    Collapse,
    EsccGrade,
    Frankel,
    Histology,
    OtherSymptom,
    PainType,
    Posterolateral,
    RadicularPain,
    ReceptorStatus,
    VisceralMetastases,
    VisceralPattern,
)
from spinemets.model.levels import LevelSpan, vertebrae_covered
from spinemets.model.performance import KPS_ECOG_TOLERANCE, kps_contradicts_ecog, kps_values_for_ecog
from spinemets.model.units import (
    HAEMOGLOBIN_PLAUSIBLE_G_DL,
    albumin_range_text,
    check_albumin,
    check_haemoglobin,
)

Count = Annotated[int, Field(ge=0, le=1000)]


STORED_RECORD = "stored_record"
"""Validation context key (``{STORED_RECORD: True}``): the data is the patient of an assessment stored
earlier, read back to show it as it was computed. Its cross-field checks ran when it was assessed; a
check added since (a contradiction the model now refuses) must not make the stored record unreadable,
so the model validators below do not run again. Field types and ranges are still validated."""


def _stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get(STORED_RECORD))


def check_text(field: str, text: str) -> str:
    """``text`` unchanged, or an error when it holds U+0000: no name or note has one (it comes from a
    binary file or a broken export), and PostgreSQL cannot store it, so it would fail when saved."""
    if "\x00" in text:
        raise InvalidInputError(
            field,
            text,
            "text without NUL characters (U+0000)",
            "remove them; did the text come from a binary file?",
        )
    return text


def _takes(annotation: object, kinds: tuple[type, ...]) -> bool:
    """Whether a field's type (``int | None``, ``Annotated[int, ...]``, ``Quantity | float``) takes one of
    ``kinds`` itself."""
    return annotation in kinds or any(_takes(arg, kinds) for arg in typing.get_args(annotation))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False, allow_inf_nan=False)

    _bool_refused: ClassVar[Mapping[str, str]] = {}
    """What each number field must be when given true or false, worked out once per model: the check
    below runs for every field of every request."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._bool_refused = {
            name: "a number, not true or false"
            + (f" ({field.description.rstrip('.')})" if field.description else "")
            for name, field in cls.model_fields.items()
            if _takes(field.annotation, (int, float)) and not _takes(field.annotation, (bool,))
        }

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number_no_nul_in_text(cls, v: object, info: ValidationInfo) -> object:
        # pydantic's lax mode reads true as 1 and false as 0: "age_years": true would be a one-year-old
        # and "ecog": true ECOG 1, facts nobody recorded. A number field takes numbers only; elsewhere
        # (a choice, a date, a nested object) pydantic refuses true/false in the field's own terms.
        if isinstance(v, bool):
            refused = cls._bool_refused.get(info.field_name or "")
            if refused is not None:
                raise InvalidInputError(info.field_name or "", v, refused)
        elif isinstance(v, str) and "\x00" in v and not _stored(info):
            # a stored record keeps its text as saved (SQLite took U+0000 before this check)
            check_text(info.field_name or "", v)
        return v


class PrimaryTumour(_Model):
    """The primary cancer."""

    histology: Histology | None = Field(None, description="Primary tumour from the controlled list.")
    histology_other: str | None = Field(
        None, max_length=200, description="Free-text primary when histology is 'other'."
    )
    diagnosis_date: dt.date | None = Field(None, description="Date the primary cancer was diagnosed.")
    oestrogen_receptor: ReceptorStatus | None = Field(None, description="Breast: ER status.")
    progesterone_receptor: ReceptorStatus | None = Field(None, description="Breast: PR status.")
    her2: ReceptorStatus | None = Field(None, description="Breast: HER2 status.")
    hormone_dependent: bool | None = Field(
        None,
        description="Breast/prostate: hormone-dependent (hormone receptor positive, castration-sensitive).",
    )
    on_targeted_therapy: bool | None = Field(None, description="Currently on molecular targeted therapy.")
    on_hormonal_therapy: bool | None = Field(None, description="Currently on hormonal therapy.")
    previous_chemotherapy: bool | None = Field(None, description="Any previous cytotoxic chemotherapy.")
    histology_confirmed: bool | None = Field(
        None, description="Tissue diagnosis obtained (biopsy or resection) for the metastatic disease."
    )

    @model_validator(mode="after")
    def _other_needs_text(self, info: ValidationInfo) -> PrimaryTumour:
        if _stored(info):
            return self
        if self.histology is Histology.other and not self.histology_other:
            raise ValueError("histology 'other' needs histology_other (free text naming the primary)")
        return self


class Performance(_Model):
    """Performance status: Karnofsky (10-100 %) or ECOG (0-4); give either or both (death is not assessed)."""

    # KPS 0 and ECOG 5 mean death: no score or rule of spinemets is defined for it (Tokuhashi reads
    # KPS 10-100 and ECOG 0-4), so the model refuses them here, naming the field, rather than letting
    # an assessment fail later under a score's name.
    kps: int | None = Field(
        None,
        ge=10,
        le=100,
        multiple_of=10,
        description="Karnofsky performance status, % from 10 to 100; 0 (death) is not assessed.",
    )
    ecog: int | None = Field(
        None, ge=0, le=4, description="ECOG/WHO performance status, 0-4; 5 (death) is not assessed."
    )

    @model_validator(mode="after")
    def _kps_and_ecog_agree(self, info: ValidationInfo) -> Performance:
        if _stored(info):
            return self
        # Both recorded yet no conversion relates them (KPS 70 beside ECOG 3): each score would read
        # a different patient (Tokuhashi the KPS, the ECOG grade the ECOG). A contradiction to resolve.
        if self.kps is not None and self.ecog is not None and kps_contradicts_ecog(self.kps, self.ecog):
            values = kps_values_for_ecog(self.ecog)
            raise InvalidInputError(
                "performance.ecog",
                self.ecog,
                f"a grade consistent with KPS {self.kps}: ECOG {self.ecog} is KPS "
                f"{values[0] if len(values) == 1 else f'{values[0]}-{values[-1]}'} "
                "under the two common conversions (Oken 1982 and the alternative table, both recalled [K]), "
                f"give or take {KPS_ECOG_TOLERANCE} points (a data-entry guard)",
            )
        return self


class Neurology(_Model):
    """Neurological status at presentation."""

    frankel: Frankel | None = Field(None, description="Frankel grade A-E.")
    asia: Frankel | None = Field(
        None, description="ASIA Impairment Scale grade A-E (substituted for Frankel where Frankel is absent)."
    )
    myelopathy: bool | None = Field(
        None, description="Signs of myelopathy (hyperreflexia, Babinski, sensory level)."
    )
    radiculopathy: RadicularPain | None = Field(
        None, description="Radicular pain or deficit: none, unilateral, bilateral."
    )
    radicular_deficit: bool | None = Field(None, description="Radicular motor or sensory deficit present.")
    sphincter_dysfunction: bool | None = Field(None, description="Bladder or bowel dysfunction.")
    reduced_perineal_sensation: bool | None = Field(None, description="Reduced perineal (saddle) sensation.")
    ambulatory: Ambulatory | None = Field(None, description="Pre-treatment ambulatory status.")
    motor_deficit: bool | None = Field(None, description="Any motor deficit of the limbs.")
    motor_deficit_onset_days: int | None = Field(
        None,
        ge=0,
        le=3650,
        description="Days over which the motor deficit developed (Rades: 1-7, 8-14, >14).",
    )
    deficit_progressive: bool | None = Field(None, description="Neurological deficit is getting worse.")
    deterioration_despite_treatment: bool | None = Field(
        None, description="Neurological deterioration despite radiotherapy and corticosteroids."
    )
    complete_deficit_hours: int | None = Field(
        None,
        ge=0,
        description="Hours since a complete (paraplegic) deficit was established; only with Frankel/ASIA A "
        "when a grade is given.",
    )

    @model_validator(mode="after")
    def _complete_deficit_is_grade_a(self, info: ValidationInfo) -> Neurology:
        if _stored(info):
            return self
        grade = self.frankel or self.asia
        if self.complete_deficit_hours is not None and grade is not None and grade is not Frankel.A:
            raise ValueError(
                f"complete_deficit_hours is for a complete deficit (Frankel/ASIA A); the grade recorded is "
                f"{grade.value}: correct the grade or leave the hours out"
            )
        return self


class Pain(_Model):
    """Pain at presentation (patient level; a lesion may record its own SINS pain)."""

    type: PainType | None = Field(None, description="mechanical / occasional (non-mechanical) / none.")
    night_pain: bool | None = Field(
        None, description="Pain at night or early morning (tumour-related pattern)."
    )
    steroid_responsive: bool | None = Field(None, description="Pain improved on corticosteroids.")
    severity_nrs: int | None = Field(None, ge=0, le=10, description="Numeric rating scale 0-10.")
    neuropathic: bool | None = Field(
        None, description="Neuropathic character (burning, shooting, radicular)."
    )


class PriorRadiotherapy(_Model):
    dose_gy: float | None = Field(None, gt=0, le=200, description="Total dose, Gy.")
    fractions: int | None = Field(None, ge=1, le=60, description="Number of fractions.")
    date: dt.date | None = Field(None, description="Date of the last fraction.")
    technique: Literal["cebrt", "sbrt", "imrt", "other"] | None = Field(None, description="Technique.")


def collapse_categories(percent: float | None, body_over_50: bool | None) -> tuple[Collapse, ...]:
    """The SINS collapse categories that a measured collapse and the body-involvement fact allow.

    Exactly 50% counts as ``under_50`` (docs/conflicts.md), as in the SINS ``collapse_percent``
    derivation; a test keeps the two in step.
    """
    cats = tuple(Collapse)
    if percent is not None:
        if percent == 0:
            cats = (Collapse.no_collapse_over_50_involved, Collapse.none)
        else:
            cats = (Collapse.under_50,) if percent <= 50 else (Collapse.over_50,)
    if body_over_50 is not None:
        ruled_out = Collapse.none if body_over_50 else Collapse.no_collapse_over_50_involved
        cats = tuple(c for c in cats if c is not ruled_out)
    return cats


class Lesion(_Model):
    """One spinal lesion, read on CT (bone quality, collapse, alignment) and MRI (ESCC)."""

    level: LevelSpan = Field(description="Level or span, e.g. T11, T11-T12, C7-T1 (occiput C0 to coccyx Co).")
    bone_lesion: BoneLesion | None = Field(None, description="lytic / mixed / blastic.")
    collapse: Collapse | None = Field(None, description="Vertebral body collapse category (SINS).")
    collapse_percent: float | None = Field(
        None, ge=0, le=100, description="Measured collapse, % of body height (derives the collapse category)."
    )
    body_involvement_over_50: bool | None = Field(
        None, description="More than 50% of the vertebral body involved."
    )
    alignment: Alignment | None = Field(None, description="Radiographic alignment (SINS).")
    deformity_preexisting: bool | None = Field(
        None, description="A kyphosis/scoliosis known to predate the tumour (not 'de novo')."
    )
    posterolateral: Posterolateral | None = Field(None, description="Posterolateral involvement (SINS).")
    pain: PainType | None = Field(
        None, description="SINS pain of this lesion; falls back to the patient's pain."
    )
    escc: EsccGrade | None = Field(None, description="Bilsky ESCC grade at this level.")
    disc_space_involvement: bool | None = Field(
        None, description="Tumour/signal crosses the intervertebral disc."
    )
    paraspinal_mass: bool | None = Field(None, description="Paraspinal soft-tissue mass.")
    prior_radiotherapy: PriorRadiotherapy | None = Field(
        None, description="Previous radiotherapy to this level."
    )
    prior_surgery: bool | None = Field(None, description="Previous surgery at this level.")
    prior_surgery_date: dt.date | None = Field(None, description="Date of previous surgery at this level.")
    progression_after_radiotherapy: bool | None = Field(
        None, description="Pain or deficit recurred/progressed at this level after radiotherapy."
    )
    painful_fracture: bool | None = Field(
        None, description="Painful pathological vertebral compression fracture."
    )

    @property
    def treated_here(self) -> bool:
        """The record names a local treatment of this level (radiotherapy or surgery at it)."""
        return self.prior_radiotherapy is not None or bool(self.prior_surgery)

    @model_validator(mode="after")
    def _collapse_facts_agree(self, info: ValidationInfo) -> Lesion:
        if _stored(info):
            return self
        # The SINS collapse categories exclude each other (Fisher 2010): "none of the above" is no
        # collapse with at most half the body involved. A recorded category that the measured
        # collapse or the body-involvement fact rules out is a contradiction to resolve; SINS reads
        # the category, so "none" beside >50% involvement scored 0 where the definition gives 1.
        if self.collapse is None:
            return self
        allowed = collapse_categories(self.collapse_percent, self.body_involvement_over_50)
        if self.collapse not in allowed:
            facts = []
            if self.collapse_percent is not None:
                facts.append(f"collapse_percent {self.collapse_percent:g}")
            if self.body_involvement_over_50 is not None:
                facts.append(f"body_involvement_over_50 {str(self.body_involvement_over_50).lower()}")
            # named at the field (lesions[i].collapse once the patient re-anchors it), as the other checks
            # are, so the web form points at the control and a FHIR import at the Observation
            raise InvalidInputError(
                "lesions.collapse",
                self.collapse.value,
                f"consistent with {' and '.join(facts)}",
                f"collapse {self.collapse.value} contradicts {' and '.join(facts)}: these fit "
                f"{' or '.join(c.value for c in allowed)} (SINS, Fisher 2010; exactly 50% is under_50); "
                "correct one of them or leave the category out",
            )
        return self


class Burden(_Model):
    """Extent of metastatic disease."""

    extraspinal_bone_metastases: Count | None = Field(
        None, description="Number of extraspinal bone metastases (foci)."
    )
    vertebrae_involved: Count | None = Field(
        None, description="Number of vertebrae with metastases, including the index lesion."
    )
    visceral_metastases: VisceralMetastases | None = Field(
        None,
        description="Major internal organ (lung, liver, kidney, brain) metastases: none / treatable / "
        "untreatable (Tomita).",
    )
    visceral_metastases_removable: bool | None = Field(
        None,
        description="Major-organ metastases removable (Tokuhashi; recorded, never derived from treatable).",
    )
    visceral_pattern: VisceralPattern | None = Field(None, description="Katagiri: nodular or disseminated.")
    brain_metastases: bool | None = Field(None, description="Brain metastases present.")
    pathological_fracture_elsewhere: bool | None = Field(
        None, description="Pathological fracture (Bauer 1995 item)."
    )


class LymphNodes(_Model):
    """Nodal findings relevant to the inguinal lymphadenopathy pathway (seed 000)."""

    inguinal_lymphadenopathy: bool | None = Field(None, description="Enlarged inguinal lymph nodes.")
    inguinal_nodes_positive: Count | None = Field(
        None, description="Number of cytology/histology-positive inguinal nodes."
    )
    bulky_or_fixed: bool | None = Field(None, description="Bulky or fixed inguinal nodes (cN3).")
    extranodal_extension: bool | None = Field(None, description="Extranodal extension in an inguinal node.")
    cloquet_node_positive: bool | None = Field(None, description="Cloquet's node positive.")
    pelvic_nodes_suspicious: bool | None = Field(None, description="Pelvic nodes suspicious on imaging.")


class Quantity(_Model):
    """A measured amount with its unit (the albumin's unit is read by :mod:`spinemets.model.units`)."""

    value: float = Field(ge=0, description="The amount, in the unit given.")
    unit: str = Field(description="The unit of the value, e.g. g/dL or g/L for albumin.")


class Labs(_Model):
    """Laboratory values; albumin accepts g/dL or g/L (stored as given, converted on use).

    Albumin and haemoglobin outside a wide plausible range are refused (see
    :mod:`spinemets.model.units`): a data-entry guard against unit mix-ups, not a clinical threshold.
    """

    albumin: Quantity | float | None = Field(
        None,
        description="Serum albumin, pre-treatment: {value, unit: g/dL|g/L}; a bare number is g/dL. "
        f"Plausible {albumin_range_text()} (a data-entry guard against unit mix-ups).",
    )
    crp_mg_dl: float | None = Field(None, ge=0, description="C-reactive protein, mg/dL.")
    ldh_iu_l: float | None = Field(None, ge=0, description="Lactate dehydrogenase, IU/L.")
    platelets_per_ul: float | None = Field(None, ge=0, description="Platelets, per µL.")
    calcium_mg_dl: float | None = Field(None, ge=0, description="Corrected serum calcium, mg/dL.")
    bilirubin_mg_dl: float | None = Field(None, ge=0, description="Total bilirubin, mg/dL.")
    creatinine_clearance_ml_min: float | None = Field(None, ge=0, description="Creatinine clearance, mL/min.")
    haemoglobin_g_dl: float | None = Field(
        None,
        ge=0,
        description="Haemoglobin, g/dL. Plausible {:g}-{:g} g/dL (a data-entry guard against g/L).".format(
            *HAEMOGLOBIN_PLAUSIBLE_G_DL
        ),
    )
    psa_ng_ml: float | None = Field(None, ge=0, description="PSA, ng/mL.")

    @field_validator("albumin")
    @classmethod
    def _albumin_plausible(cls, v: Quantity | float | None) -> Quantity | float | None:
        if isinstance(v, Quantity):
            check_albumin(v.value, v.unit)
        elif v is not None:
            check_albumin(float(v), None)
        return v

    @field_validator("haemoglobin_g_dl")
    @classmethod
    def _haemoglobin_plausible(cls, v: float | None) -> float | None:
        if v is not None:
            check_haemoglobin(v)
        return v

    def albumin_g_dl(self) -> tuple[float, str] | None:
        """Albumin in g/dL with the conversion shown, e.g. ``(3.5, 'albumin 35 g/L is 3.5 g/dL')``."""
        from spinemets.model.units import albumin_to_g_dl

        if self.albumin is None:
            return None
        if isinstance(self.albumin, Quantity):
            return albumin_to_g_dl(self.albumin.value, self.albumin.unit)
        return albumin_to_g_dl(float(self.albumin), "g/dL")


class Context(_Model):
    """Where the patient is in the pathway and what has been done."""

    known_cancer: bool | None = Field(None, description="Known (past or current) cancer.")
    suspected_mscc: bool | None = Field(
        None, description="Clinical suspicion of metastatic spinal cord compression."
    )
    mri_done: bool | None = Field(None, description="Whole-spine MRI with T1 and T2 already available.")
    ct_done: bool | None = Field(
        None, description="CT of the involved levels available (bone quality for SINS)."
    )
    mri_contraindicated: bool | None = Field(
        None, description="MRI contraindicated (device, claustrophobia)."
    )
    staging_done: bool | None = Field(None, description="CT or PET-CT chest/abdomen/pelvis staging done.")
    on_corticosteroids: bool | None = Field(None, description="Currently on corticosteroids.")
    on_bone_modifying_agent: bool | None = Field(None, description="On bisphosphonate or denosumab.")
    dental_check_done: bool | None = Field(
        None, description="Dental examination done before bone-modifying agents."
    )
    fit_for_surgery: bool | None = Field(None, description="Medically operable in the team's judgement.")
    treatment_date: dt.date | None = Field(
        None, description="Date of the index local treatment (for follow-up)."
    )
    treatment_received: (
        Literal["surgery", "radiotherapy", "surgery_and_radiotherapy", "sbrt", "none"] | None
    ) = Field(None, description="Local treatment already given at the index level.")
    new_symptoms_since_treatment: bool | None = Field(
        None, description="New or worse pain, weakness, sensory change or sphincter problems after treatment."
    )


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (29 February -> 28 February in a common year; never before year 1)."""
    year = max(day.year - years, 1)
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


class Patient(_Model):
    """All recorded facts of one patient at one assessment."""

    patient_id: str | None = Field(None, max_length=64, description="Pseudonymous identifier.")
    assessment_date: dt.date | None = Field(None, description="Date of this assessment.")
    age_years: int | None = Field(None, ge=0, le=120, description="Age, years.")
    sex: Literal["female", "male", "other"] | None = Field(None, description="Sex.")
    primary: PrimaryTumour = Field(default_factory=PrimaryTumour, description="The primary cancer.")
    performance: Performance = Field(default_factory=Performance, description="Performance status.")
    neurology: Neurology = Field(default_factory=Neurology, description="Neurological status.")
    pain: Pain = Field(default_factory=Pain, description="Pain.")
    lesions: list[Lesion] = Field(
        default_factory=list, description="Spinal lesions (none entered = empty list)."
    )
    burden: Burden = Field(default_factory=Burden, description="Metastatic burden.")
    nodes: LymphNodes = Field(default_factory=LymphNodes, description="Lymph-node findings.")
    labs: Labs = Field(default_factory=Labs, description="Laboratory values.")
    symptoms: list[AlarmSymptom] = Field(default_factory=list, description="Alarm symptoms present.")
    other_symptoms: list[OtherSymptom] = Field(
        default_factory=list, description="Other findings (differential)."
    )
    context: Context = Field(default_factory=Context, description="Pathway context.")
    notes: str | None = Field(None, max_length=20000, description="Free-text notes (never used by rules).")

    @model_validator(mode="after")
    def _vertebral_count_covers_the_lesions(self, info: ValidationInfo) -> Patient:
        if _stored(info):
            return self
        # A recorded count below the vertebrae the lesions span is a contradiction to resolve,
        # not something a score may quietly correct.
        entered = vertebrae_covered(lesion.level for lesion in self.lesions)
        count = self.burden.vertebrae_involved
        if count is not None and count < entered:
            levels = ", ".join(str(lesion.level) for lesion in self.lesions)
            raise InvalidInputError(
                "burden.vertebrae_involved",
                count,
                f"at least {entered}, the distinct vertebrae covered by the lesions entered ({levels})",
            )
        return self

    @model_validator(mode="after")
    def _events_are_not_after_the_assessment(self, info: ValidationInfo) -> Patient:
        if _stored(info):
            return self
        # A diagnosis, treatment or surgery dated after the assessment (or, without an assessment
        # date, after today) is a typing error; the rules would read a negative interval as "recent".
        today = self.assessment_date or dt.date.today()
        for field, when in self._dated_events():
            if when > today:
                of = f"the assessment date {today}" if self.assessment_date else f"today ({today})"
                raise InvalidInputError(
                    field, when.isoformat(), f"a date on or before {of}", "a past event cannot come after it"
                )
        return self

    @model_validator(mode="after")
    def _events_are_not_before_birth(self, info: ValidationInfo) -> Patient:
        if _stored(info) or self.age_years is None:
            return self
        # Aged N on the assessment date (or today), the patient was born after that date less N + 1
        # years. An event before that (a diagnosis in 1900, a year typed 0001) is a typing error or a
        # placeholder, not a fact; the rules would read an interval of a century from it.
        today = self.assessment_date or dt.date.today()
        earliest = _years_before(today, self.age_years + 1) + dt.timedelta(days=1)
        for field, when in self._dated_events():
            if when < earliest:
                on = f"on {today}" if self.assessment_date else f"today ({today})"
                raise InvalidInputError(
                    field,
                    when.isoformat(),
                    f"a date on or after {earliest} (the earliest birth date an age of {self.age_years} years "
                    f"{on} allows)",
                    "an event in the patient's history cannot come before birth; correct the date or the age",
                )
        return self

    def _dated_events(self) -> list[tuple[str, dt.date]]:
        """The dated events of the history, each with its field path."""
        events: list[tuple[str, dt.date | None]] = [
            ("primary.diagnosis_date", self.primary.diagnosis_date),
            ("context.treatment_date", self.context.treatment_date),
        ]
        for i, lesion in enumerate(self.lesions):
            events.append((f"lesions[{i}].prior_surgery_date", lesion.prior_surgery_date))
            rt = lesion.prior_radiotherapy
            events.append((f"lesions[{i}].prior_radiotherapy.date", rt.date if rt is not None else None))
        return [(field, when) for field, when in events if when is not None]

    @model_validator(mode="after")
    def _brain_counts_as_visceral(self, info: ValidationInfo) -> Patient:
        if _stored(info):
            return self
        # The brain is one of Tokuhashi's major internal organs, and Bauer 1995 counts "visceral or
        # brain metastases" together: "none" beside known brain metastases is a contradiction.
        if self.burden.brain_metastases and self.burden.visceral_metastases is VisceralMetastases.none:
            raise InvalidInputError(
                "burden.visceral_metastases",
                "none",
                "treatable or untreatable when brain_metastases is true (the brain counts among the "
                "major internal organs)",
            )
        return self

    @model_validator(mode="after")
    def _removable_needs_organ_metastases(self, info: ValidationInfo) -> Patient:
        if _stored(info):
            return self
        # Removable describes metastases that exist, and removal is a treatment: "removable" beside
        # "none" or "untreatable" is a contradiction to resolve, not for a score to pick a side.
        removable, visceral = self.burden.visceral_metastases_removable, self.burden.visceral_metastases
        if removable is not None and visceral is VisceralMetastases.none:
            raise InvalidInputError(
                "burden.visceral_metastases_removable",
                removable,
                "no value when visceral_metastases is none (there are no organ metastases to remove)",
            )
        if removable and visceral is VisceralMetastases.untreatable:
            raise InvalidInputError(
                "burden.visceral_metastases_removable",
                removable,
                "false or no value when visceral_metastases is untreatable (removal would treat them)",
            )
        return self

    @model_validator(mode="after")
    def _new_symptoms_follow_a_treatment(self, info: ValidationInfo) -> Patient:
        if _stored(info):
            return self
        # "New or worse symptoms since treatment" beside no local treatment (treatment_received "none") and no
        # lesion recording radiotherapy or surgery: there is no treatment for them to follow. A contradiction to
        # resolve, not for a rule to read as follow-up after treatment.
        c = self.context
        treated_lesion = any(les.treated_here for les in self.lesions)
        if c.new_symptoms_since_treatment and c.treatment_received == "none" and not treated_lesion:
            raise InvalidInputError(
                "context.new_symptoms_since_treatment",
                True,
                "false or no value when treatment_received is 'none' and no lesion records prior radiotherapy "
                "or surgery",
                "there is no treatment for the symptoms to follow: record the symptoms under neurology and pain, "
                "or record the treatment given",
            )
        return self

    @property
    def frankel_grade(self) -> tuple[Frankel, str] | None:
        """Frankel grade, or the ASIA grade substituted one-for-one (with the source named)."""
        if self.neurology.frankel is not None:
            return self.neurology.frankel, "Frankel"
        if self.neurology.asia is not None:
            return self.neurology.asia, "ASIA grade substituted for Frankel"
        return None
