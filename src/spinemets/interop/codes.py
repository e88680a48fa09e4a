"""Code systems of the FHIR mapping: which standard code (LOINC, SNOMED CT, ICD-10, ATC) means which
patient-model field, and the local code system for the facts no standard code covers.

One source of truth: the local observation codes are *derived* from the patient model (one code per
scalar field, named by its path, e.g. ``neurology.frankel``), minus the fields that a standard code or
another resource type already carries. ``docs/fhir.md`` documents every table here, and a test checks
that it lists every code.

Every standard code below was checked against published FHIR material (HL7 mCODE profiles and public
implementation guides) before it was added; a concept with no code we could confirm uses the local
system instead of a guessed code.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel

from spinemets.model import enums
from spinemets.model.patient import (
    Burden,
    Context,
    Labs,
    Lesion,
    LymphNodes,
    Neurology,
    Pain,
    Performance,
    PrimaryTumour,
)

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"

BASE = "https://spinemets.org/fhir"
LOCAL = f"{BASE}/CodeSystem/spinemets"
"""Local code system: observation codes (model field paths) and their coded answers (enum values)."""
PRIMARY_SYSTEM = f"{BASE}/CodeSystem/primary-tumour"
"""Local code system of the primary tumours (the values of :class:`~spinemets.model.enums.Histology`)."""
LEVEL_SYSTEM = f"{BASE}/CodeSystem/spinal-level"
"""Local code system of spinal levels and spans (``T12``, ``T11-T12``), used in ``bodySite``."""
SCORE_SYSTEM = f"{BASE}/CodeSystem/score"
"""Local code system of the scores (catalogue keys) and their bands (``<score>.<band>``)."""
RECOMMENDATION_SYSTEM = f"{BASE}/CodeSystem/recommendation"
EXT = f"{BASE}/StructureDefinition"
EXT_RT_DOSE = f"{EXT}/radiotherapy-dose"
EXT_RT_FRACTIONS = f"{EXT}/radiotherapy-fractions"
EXT_RT_TECHNIQUE = f"{EXT}/radiotherapy-technique"
EXT_CITATION = f"{EXT}/citation"
EXT_SCORE_TOTAL = f"{EXT}/score-total"
EXT_SCORE_RANGE = f"{EXT}/score-attainable-range"
EXT_SCORE_MISSING = f"{EXT}/score-missing-item"
EXT_BASIS = f"{EXT}/basis"
EXT_URGENCY = f"{EXT}/urgency"
EXT_RULESET = f"{EXT}/ruleset-version"
EXT_SCORE_RESULT = f"{EXT}/score-result"
"""A RiskAssessment the plan rests on (R4 RequestGroup.reasonReference cannot point at one)."""

Kind = Literal["bool", "enum", "int", "float", "date", "quantity_albumin", "receptor"]


@dataclass(frozen=True)
class FieldSpec:
    """A patient-model field that an Observation can carry, and the FHIR value type it needs."""

    path: str
    """Model path, e.g. ``neurology.frankel``; lesion fields start with ``lesion.``."""
    kind: Kind
    enum: tuple[str, ...] = ()
    unit: tuple[str, ...] = ()
    """Accepted UCUM codes for a quantity; the first is the canonical one."""
    description: str = ""

    @property
    def is_lesion(self) -> bool:
        return self.path.startswith("lesion.")


# --- standard observation codes -------------------------------------------------------------------
# LOINC code -> (model path, kind, accepted UCUM units). Units are the model's; no silent conversion.
LOINC_FIELDS: dict[str, tuple[str, Kind, tuple[str, ...], str]] = {
    "89247-1": ("performance.ecog", "int", ("{score}", "1"), "ECOG Performance Status score"),
    "89243-0": ("performance.kps", "int", ("{score}", "%", "1"), "Karnofsky Performance Status score"),
    "72514-3": (
        "pain.severity_nrs",
        "int",
        ("{score}", "1"),
        "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    ),
    "1751-7": (
        "labs.albumin",
        "quantity_albumin",
        ("g/dL", "g/L"),
        "Albumin [Mass/volume] in Serum or Plasma",
    ),
    "1988-5": ("labs.crp_mg_dl", "float", ("mg/dL",), "C reactive protein [Mass/volume] in Serum or Plasma"),
    "2532-0": (
        "labs.ldh_iu_l",
        "float",
        ("U/L", "[IU]/L"),
        "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma",
    ),
    "777-3": ("labs.platelets_per_ul", "float", ("/uL",), "Platelets [#/volume] in Blood by Automated count"),
    "1975-2": (
        "labs.bilirubin_mg_dl",
        "float",
        ("mg/dL",),
        "Bilirubin.total [Mass/volume] in Serum or Plasma",
    ),
    "718-7": ("labs.haemoglobin_g_dl", "float", ("g/dL",), "Hemoglobin [Mass/volume] in Blood"),
    "2857-1": (
        "labs.psa_ng_ml",
        "float",
        ("ng/mL",),
        "Prostate specific Ag [Mass/volume] in Serum or Plasma",
    ),
    "85337-4": (
        "primary.oestrogen_receptor",
        "receptor",
        (),
        "Estrogen receptor Ag [Presence] in Breast cancer specimen by Immune stain",
    ),
    "85339-0": (
        "primary.progesterone_receptor",
        "receptor",
        (),
        "Progesterone receptor Ag [Presence] in Breast cancer specimen by Immune stain",
    ),
    "85319-2": (
        "primary.her2",
        "receptor",
        (),
        "HER2 [Presence] in Breast cancer specimen by Immune stain",
    ),
}

# Counts per µL arrive in several UCUM spellings; the factor turns each into the model's unit (/uL).
PLATELET_UNITS: dict[str, float] = {"/uL": 1.0, "10*3/uL": 1000.0, "10*9/L": 1000.0, "/mm3": 1.0}

# Coded answers for receptor status: LOINC answer list (LA) and SNOMED CT qualifiers.
RECEPTOR_ANSWERS: dict[tuple[str, str], enums.ReceptorStatus] = {
    (LOINC, "LA6576-8"): enums.ReceptorStatus.positive,
    (LOINC, "LA6577-6"): enums.ReceptorStatus.negative,
    (SNOMED, "10828004"): enums.ReceptorStatus.positive,
    (SNOMED, "260385009"): enums.ReceptorStatus.negative,
}

# --- conditions --------------------------------------------------------------------------------------
# SNOMED CT disorder -> primary tumour (each code confirmed in published FHIR material).
SNOMED_PRIMARY: dict[str, tuple[enums.Histology, str]] = {
    "254837009": (enums.Histology.breast, "Malignant neoplasm of breast"),
    "399068003": (enums.Histology.prostate, "Malignant tumor of prostate"),
    "254637007": (enums.Histology.lung_nsclc, "Non-small cell lung cancer"),
    "254632001": (enums.Histology.lung_sclc, "Small cell carcinoma of lung"),
    "363406005": (enums.Histology.colorectal, "Malignant tumor of colon"),
    "363349007": (enums.Histology.stomach, "Malignant tumor of stomach"),
    "363354003": (enums.Histology.cervix, "Malignant tumor of cervix"),
    "372244006": (enums.Histology.melanoma, "Malignant melanoma"),
    "109989006": (enums.Histology.myeloma, "Multiple myeloma"),
    "118600007": (enums.Histology.lymphoma, "Malignant lymphoma"),
}

# ICD-10 (WHO and -CM share these categories) -> primary tumour, matched on the code's prefix.
# Categories that do not name one model entry are absent on purpose: C34 (lung) does not say small
# cell or non-small cell, C40/C41 (bone) does not say osteosarcoma, C62 (testis) does not say germ
# cell; such a Condition is reported as unmapped and must be coded more precisely.
ICD10_PRIMARY: dict[str, enums.Histology] = {
    **{f"C{n:02d}": enums.Histology.head_and_neck for n in (*range(0, 15), 30, 31, 32)},
    "C15": enums.Histology.oesophagus,
    "C16": enums.Histology.stomach,
    "C18": enums.Histology.colorectal,
    "C19": enums.Histology.colorectal,
    "C20": enums.Histology.rectum,
    "C21": enums.Histology.anal,
    "C22": enums.Histology.liver,
    "C23": enums.Histology.gallbladder,
    "C25": enums.Histology.pancreas,
    "C43": enums.Histology.melanoma,
    "C49": enums.Histology.sarcoma,
    "C50": enums.Histology.breast,
    "C51": enums.Histology.vulvar,
    "C53": enums.Histology.cervix,
    "C54": enums.Histology.uterus,
    "C55": enums.Histology.uterus,
    "C56": enums.Histology.ovary,
    "C60": enums.Histology.penile,
    "C61": enums.Histology.prostate,
    "C64": enums.Histology.kidney,
    "C67": enums.Histology.bladder,
    "C73": enums.Histology.thyroid,
    "C7A": enums.Histology.neuroendocrine,
    "C80": enums.Histology.unknown_primary,
    **{f"C{n}": enums.Histology.lymphoma for n in range(81, 87)},
    "C90.0": enums.Histology.myeloma,
    "C90.2": enums.Histology.plasmacytoma,
    "C90.3": enums.Histology.plasmacytoma,
}

# Secondary (metastatic) disease conditions: they confirm a known cancer and, for the brain, a model fact.
SNOMED_SECONDARY: dict[str, tuple[str, str]] = {
    "94602001": ("", "Secondary malignant neoplasm of vertebral column"),
}
ICD10_SECONDARY: dict[str, str] = {
    "C79.3": "burden.brain_metastases",  # secondary malignant neoplasm of brain and cerebral meninges
    "C79.5": "",  # secondary malignant neoplasm of bone and bone marrow
}

# --- procedures -----------------------------------------------------------------------------------------
PROCEDURE_RADIOTHERAPY = "radiotherapy"
PROCEDURE_CHEMOTHERAPY = "chemotherapy"
PROCEDURE_SPINAL_SURGERY = "spinal-surgery"
SNOMED_PROCEDURES: dict[str, tuple[str, str]] = {
    "108290001": (PROCEDURE_RADIOTHERAPY, "Radiation oncology AND/OR radiotherapy"),
    "367336001": (PROCEDURE_CHEMOTHERAPY, "Chemotherapy"),
}
LOCAL_PROCEDURES: dict[str, str] = {
    PROCEDURE_SPINAL_SURGERY: "Surgery on the spine at the level given in bodySite (decompression, fixation)",
}

# --- medications (ATC classes, matched on the code's prefix) -----------------------------------------------
# Model path -> ATC prefixes. Cytotoxic chemotherapy is L01A-L01D and the platinum compounds (L01XA);
# antibodies (L01F) and other L01X agents are not chemotherapy and are reported as unmapped.
ATC_CLASSES: dict[str, tuple[str, ...]] = {
    "context.on_corticosteroids": ("H02AB",),
    "context.on_bone_modifying_agent": ("M05BA", "M05BB", "M05BX04"),
    "primary.on_hormonal_therapy": ("L02",),
    "primary.on_targeted_therapy": ("L01E", "L01XE"),
    "primary.previous_chemotherapy": ("L01A", "L01B", "L01C", "L01D", "L01XA"),
}
ATC_LABELS: dict[str, str] = {
    "H02AB": "glucocorticoids",
    "M05BA": "bisphosphonates",
    "M05BB": "bisphosphonates, combinations",
    "M05BX04": "denosumab",
    "L02": "endocrine therapy",
    "L01E": "protein kinase inhibitors",
    "L01XE": "protein kinase inhibitors (ATC before 2022)",
    "L01A": "alkylating agents",
    "L01B": "antimetabolites",
    "L01C": "plant alkaloids and other natural products",
    "L01D": "cytotoxic antibiotics",
    "L01XA": "platinum compounds",
}

# Fields set by a Condition (the primary tumour), so they get no local observation code. Treatment
# summaries (previous chemotherapy, on corticosteroids, prior surgery...) have a local code *and* may
# come from Procedure / MedicationStatement resources; both must then agree.
_FROM_OTHER_RESOURCES = {"primary.histology", "primary.histology_other", "primary.diagnosis_date"}
_SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("primary", PrimaryTumour),
    ("performance", Performance),
    ("neurology", Neurology),
    ("pain", Pain),
    ("lesion", Lesion),
    ("burden", Burden),
    ("nodes", LymphNodes),
    ("labs", Labs),
    ("context", Context),
)
# Units of the model's numeric fields, read from their names (``_mg_dl`` is mg/dL, ...).
_SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_mg_dl", "mg/dL"),
    ("_g_dl", "g/dL"),
    ("_ml_min", "mL/min"),
    ("_iu_l", "U/L"),
    ("_ng_ml", "ng/mL"),
    ("_per_ul", "/uL"),
    ("_days", "d"),
    ("_hours", "h"),
    ("_percent", "%"),
    ("_gy", "Gy"),
)


def _kind_of(annotation: Any) -> tuple[Kind, tuple[str, ...]] | None:
    """The FHIR value kind of a scalar model annotation (``None`` for text and nested models)."""
    args: list[Any] = [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) != 1:
        return None
    first = args[0]
    if typing.get_origin(first) is typing.Annotated:
        first = typing.get_args(first)[0]
    if typing.get_origin(first) is Literal:
        return "enum", tuple(str(v) for v in typing.get_args(first))
    if isinstance(first, type):
        if issubclass(first, Enum):
            return "enum", tuple(str(m.value) for m in first)
        if first is bool:
            return "bool", ()
        if first is int:
            return "int", ()
        if first is float:
            return "float", ()
        if first.__name__ == "date":
            return "date", ()
    return None


@cache
def local_fields() -> dict[str, FieldSpec]:
    """Local observation code -> field, derived from the patient model (see the module docstring)."""
    standard = {path for path, *_ in LOINC_FIELDS.values()}
    out: dict[str, FieldSpec] = {}
    for section, model in _SECTIONS:
        for name, field in model.model_fields.items():
            path = f"{section}.{name}"
            if path in standard or path in _FROM_OTHER_RESOURCES:
                continue
            kind = _kind_of(field.annotation)
            if kind is None:
                continue
            unit = next((u for suffix, u in _SUFFIX_UNITS if name.endswith(suffix)), "")
            out[path] = FieldSpec(
                path=path,
                kind=kind[0],
                enum=kind[1],
                unit=(unit,) if unit else (),
                description=(field.description or "").rstrip("."),
            )
    out["age_years"] = FieldSpec(
        path="age_years",
        kind="int",
        unit=("a",),
        description="Age, years (when Patient.birthDate is not sent)",
    )
    for name, enum_type in (("symptoms", enums.AlarmSymptom), ("other_symptoms", enums.OtherSymptom)):
        out[name] = FieldSpec(
            path=name,
            kind="enum",
            enum=tuple(m.value for m in enum_type),
            description=f"One {name.replace('_', ' ')[:-1]} present (one Observation per finding)",
        )
    return out


@cache
def standard_fields() -> dict[str, FieldSpec]:
    """LOINC code -> field."""
    return {
        code: FieldSpec(path=path, kind=kind, unit=units, description=display)
        for code, (path, kind, units, display) in LOINC_FIELDS.items()
    }


def code_system_resource() -> dict[str, Any]:
    """The local CodeSystem as a FHIR R4 resource (JSON), generated from the tables above.

    Each code is one concept (CodeSystem csd-1: "all the codes SHALL be unique"): an answer shared by
    several questions (Frankel and ASIA grades ``A``-``E``, ``none``) is listed once, its definition
    naming the questions it answers, rather than nested under each of them.
    """
    concepts: list[dict[str, Any]] = []
    answers: dict[str, list[str]] = {}
    for code, spec in local_fields().items():
        concepts.append({"code": code, "display": spec.description or code})
        for value in spec.enum:
            answers.setdefault(value, []).append(code)
    for code, text in LOCAL_PROCEDURES.items():
        concepts.append({"code": code, "display": text})
    for value, questions in answers.items():
        concepts.append(
            {
                "code": value,
                "display": value.replace("_", " "),
                "definition": f"An answer (valueCodeableConcept) to {', '.join(questions)}",
            }
        )
    return {
        "resourceType": "CodeSystem",
        "id": "spinemets",
        "url": LOCAL,
        "name": "SpinemetsLocalCodes",
        "title": "spinemets local codes for spinal-metastasis facts without a standard code",
        "status": "active",
        "experimental": False,
        "content": "complete",
        "caseSensitive": True,
        "concept": concepts,
    }


__all__ = [
    "ATC",
    "ICD10",
    "ICD10_CM",
    "LEVEL_SYSTEM",
    "LOCAL",
    "LOINC",
    "PRIMARY_SYSTEM",
    "SCORE_SYSTEM",
    "SNOMED",
    "UCUM",
    "FieldSpec",
    "code_system_resource",
    "local_fields",
    "standard_fields",
]
