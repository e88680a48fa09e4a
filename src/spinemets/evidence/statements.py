"""The curated evidence base: a closed schema for statements and a validating loader.

Statements live as reviewable YAML files in :mod:`spinemets.knowledge.evidence` (one file per
area). Each file is a list of entries; every entry is checked on load against
:class:`EvidenceStatement` (unknown keys rejected), ids must be unique across all files, every
source id must exist in the shared bibliography and every cross-link must point to a statement.
Any failure is a :class:`~spinemets.errors.KnowledgeBaseError` that names the file and the entry.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spinemets.errors import KnowledgeBaseError
from spinemets.knowledge.bibliography import load_bibliography
from spinemets.knowledge.yaml_text import load_yaml

EVIDENCE_PACKAGE = "spinemets.knowledge.evidence"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")


class Topic(StrEnum):
    """Closed list of topics; an answer that is not covered names the nearest of these."""

    epidemiology = "epidemiology"
    pathophysiology = "pathophysiology"
    presentation = "presentation"
    alarm_symptoms = "alarm_symptoms"
    neurology = "neurology"
    pain = "pain"
    mscc = "mscc"
    imaging = "imaging"
    stability = "stability"
    prognosis = "prognosis"
    escc = "escc"
    noms = "noms"
    radiotherapy = "radiotherapy"
    sbrt = "sbrt"
    reirradiation = "reirradiation"
    surgery = "surgery"
    augmentation = "augmentation"
    systemic_therapy = "systemic_therapy"
    bone_modifying_agents = "bone_modifying_agents"
    corticosteroids = "corticosteroids"
    radiopharmaceuticals = "radiopharmaceuticals"
    analgesia = "analgesia"
    interventional_pain = "interventional_pain"
    rehabilitation = "rehabilitation"
    nursing = "nursing"
    thromboprophylaxis = "thromboprophylaxis"
    psychosocial = "psychosocial"
    palliative_care = "palliative_care"
    multidisciplinary = "multidisciplinary"
    follow_up = "follow_up"
    recurrence = "recurrence"
    unknown_primary = "unknown_primary"
    biopsy = "biopsy"
    inguinal_lymphadenopathy = "inguinal_lymphadenopathy"
    penile_cancer = "penile_cancer"
    vulvar_cancer = "vulvar_cancer"
    differential_diagnosis = "differential_diagnosis"
    conflicts = "conflicts"

    @property
    def label(self) -> str:
        """Human label, e.g. ``bone modifying agents``."""
        return self.value.replace("_", " ")


class StatementKind(StrEnum):
    """What a statement is; decides where it goes in an answer."""

    recommendation = "recommendation"
    """What a guideline says to do (summary / key considerations)."""
    fact = "fact"
    """A definition, figure or observation (key considerations)."""
    evidence = "evidence"
    """Trial or study results behind a recommendation (rationale)."""
    caveat = "caveat"
    """A conflict between sources, an outdated or unverified claim (rationale, flagged)."""


class Certainty(StrEnum):
    """How the fact was checked, mirroring the tags of the shared fact sheet."""

    V = "V"
    """Verified in a copy of the source."""
    V2 = "V2"
    """Verified in a secondary digest of the source only."""
    S = "S"
    """Seen in a secondary source: a seed page or a public digest (calculator, teaching page)."""
    K = "K"
    """Recalled, not verified: the text must say so."""


class SourceCitation(BaseModel):
    """One source of a statement: a bibliography id plus where in it (section or page)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    section: str | None = None
    page: str | None = None


class EvidenceStatement(BaseModel):
    """One curated statement in the project's own words, with its sources and grading."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    topics: tuple[Topic, ...] = Field(min_length=1)
    kind: StatementKind
    text: str
    sources: tuple[SourceCitation, ...] = ()
    """Where the facts are; only a recalled (``K``) statement that no retrieved source is known to hold may
    have none (it must not borrow a source for a figure that source is not known to give)."""
    certainty: Certainty
    level: str | None = None
    """Evidence level or recommendation strength exactly as the source grades it."""
    keywords: tuple[str, ...] = ()
    """Extra search terms a clinician might use that the text does not contain."""
    see_also: tuple[str, ...] = ()
    """Ids of statements that qualify this one (conflicts, caveats); pulled into answers."""
    only_when: tuple[str, ...] = ()
    """Concept tokens (:data:`spinemets.evidence.text.CONCEPTS`) of which a question must name at least
    one for this statement to be retrieved: for a statement true of a narrow situation only (an
    established complete cord lesion) that would mislead in the common one (a new deficit)."""
    last_reviewed: dt.date

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("id must be a lowercase slug of letters, digits and hyphens")
        return v

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("text must not be empty")
        return v

    @field_validator("only_when")
    @classmethod
    def _known_concepts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from spinemets.evidence.text import CONCEPTS

        unknown = [c for c in v if c not in CONCEPTS]
        if unknown:
            raise ValueError(f"only_when names unknown concept tokens {unknown}; see spinemets.evidence.text")
        return v

    @model_validator(mode="after")
    def _unverified_said(self) -> EvidenceStatement:
        if self.certainty is Certainty.K and "unverified" not in self.text.lower():
            raise ValueError("certainty K (recalled) statements must say 'unverified' in their text")
        if not self.sources and self.certainty is not Certainty.K:
            raise ValueError("sources: only a recalled (certainty K) statement may have no source")
        return self

    @property
    def source_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.sources)


def _entry_label(item: object, index: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return f"entry {index} ({item['id']!r})"
    return f"entry {index}"


def parse_statements(name: str, text: str) -> list[EvidenceStatement]:
    """Validate one YAML document of statements; ``name`` is used in error messages."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"evidence/{name}: not valid YAML: {exc}") from exc
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise KnowledgeBaseError(f"evidence/{name}: expected a list of statements, got {type(raw).__name__}")
    out: list[EvidenceStatement] = []
    for i, item in enumerate(raw):
        try:
            out.append(EvidenceStatement.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<entry>'}: {err['msg']}" for err in exc.errors()
            )
            raise KnowledgeBaseError(f"evidence/{name} {_entry_label(item, i)}: {problems}") from exc
    return out


def validate_statements(files: dict[str, str]) -> tuple[EvidenceStatement, ...]:
    """Parse and cross-check several files (name -> YAML text): ids, sources and links."""
    bib = load_bibliography()
    seen: dict[str, str] = {}
    statements: list[EvidenceStatement] = []
    for name in sorted(files):
        for i, st in enumerate(parse_statements(name, files[name])):
            where = f"evidence/{name} entry {i} ({st.id!r})"
            if st.id in seen:
                raise KnowledgeBaseError(f"{where}: duplicate id, already defined in evidence/{seen[st.id]}")
            for src in st.sources:
                if src.id not in bib:
                    raise KnowledgeBaseError(
                        f"{where}: unknown source id {src.id!r}; add it to knowledge/bibliography/evidence.yaml"
                    )
            seen[st.id] = name
            statements.append(st)
    for st in statements:
        for other in st.see_also:
            if other not in seen or other == st.id:
                raise KnowledgeBaseError(
                    f"evidence/{seen[st.id]} ({st.id!r}): see_also {other!r} is not another statement id"
                )
    return tuple(statements)


def read_statement_files() -> dict[str, str]:
    """Raw text of every packaged ``*.yaml`` statement file, keyed by file name."""
    root = resources.files(EVIDENCE_PACKAGE)
    return {f.name: f.read_text(encoding="utf-8") for f in root.iterdir() if f.name.endswith(".yaml")}


_loaded: tuple[EvidenceStatement, ...] | None = None
_by_id: dict[str, EvidenceStatement] | None = None


def load_statements() -> tuple[EvidenceStatement, ...]:
    """Every packaged statement, validated (kept for the process)."""
    global _loaded
    if _loaded is None:
        _loaded = validate_statements(read_statement_files())
    return _loaded


def prime_statements(statements: tuple[EvidenceStatement, ...]) -> None:
    """Use statements already validated from the same files (the index cache, keyed by their hash)."""
    global _loaded, _by_id
    if _loaded is None:
        _loaded, _by_id = statements, None


def statements_by_id() -> dict[str, EvidenceStatement]:
    """Lookup of :func:`load_statements` by id."""
    global _by_id
    if _by_id is None:
        _by_id = {s.id: s for s in load_statements()}
    return _by_id
