"""Load and validate the rule set's clinical content (``spinemets/knowledge/rules/*.yaml``).

The clinical words, thresholds and citations live in YAML so a clinician can review them without
reading Python. Everything is validated on load against a closed schema: unknown keys, unknown
bibliography ids, unknown score bands and malformed ids are :class:`KnowledgeBaseError`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spinemets.errors import KnowledgeBaseError
from spinemets.knowledge.bibliography import get_reference
from spinemets.knowledge.histology import histology_table
from spinemets.knowledge.yaml_text import load_yaml
from spinemets.model.enums import Histology
from spinemets.rules.model import Category, Certainty, Kind, Urgency

_ID = re.compile(r"^[a-z][a-z-]*\.[a-z0-9][a-z0-9-]*$")
_PACKAGE = "spinemets.knowledge.rules"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Closed):
    """One source's own statement, shown beside the others when sources differ."""

    source: str
    text: str
    certainty: Certainty
    strength: str | None = None
    citations: tuple[str, ...] = Field(min_length=1)


class RecommendationSpec(_Closed):
    """The reviewable text of one recommendation; ``{name}`` placeholders are filled by the rule."""

    category: Category
    kind: Kind
    urgency: Urgency
    certainty: Certainty
    text: str
    strength: str | None = None
    citations: tuple[str, ...] = Field(min_length=1)
    per_source: tuple[SourceSpec, ...] = ()
    note: str | None = None
    """Reviewer note (why this wording, what is unverified); not shown to users."""


class UnnamedPrimary(_Closed):
    """Sources that disagree on what a score gives a primary its paper does not name: ``may_add`` more
    points at most (Tokuhashi 1990: 'other' is 1 in two sources, 2 in the NICE CG75 table)."""

    column: str
    """The histology table column whose blank marks a primary the score's paper does not name."""
    may_add: int = Field(ge=1)


class ScoreBands(_Closed):
    """A prognostic judgement read from a score's published band(s)."""

    score: str
    bands: tuple[str, ...] = Field(min_length=1)
    certainty: Certainty
    unnamed_primary: UnnamedPrimary | None = None
    """When set and the patient's primary is unnamed, the band settles nothing unless it holds for the
    total with ``may_add`` more points too (the score's own warning says the total may be that much higher)."""


class Prognosis(_Closed):
    """Which score bands establish or exclude a life expectancy of at least 3 months / 1 year."""

    surgery_min_months: int
    combined_min_months: int
    at_least_3_months: tuple[ScoreBands, ...]
    under_3_months: tuple[ScoreBands, ...]
    at_least_1_year: tuple[ScoreBands, ...]
    under_1_year: tuple[ScoreBands, ...]
    terminal: tuple[ScoreBands, ...]


class FollowUpPeriod(_Closed):
    from_month: int = Field(ge=0)
    to_month: int = Field(gt=0)
    every_months: int = Field(gt=0)


class PelvicCriterion(_Closed):
    """One source's criterion for pelvic node dissection in penile cancer (they differ: §12.5)."""

    source: str
    min_positive_nodes: int
    extranodal_extension: bool
    cloquet_node: bool
    pelvic_nodes_on_imaging: bool
    certainty: Certainty
    citations: tuple[str, ...] = Field(min_length=1)


class Settings(_Closed):
    prognosis: Prognosis
    systemic_first_histologies: tuple[Histology, ...]
    patchell_excluded_histologies: tuple[Histology, ...]
    patchell_max_paraplegia_hours: int
    haematological_histologies: tuple[Histology, ...]
    hypervascular_histologies: tuple[Histology, ...]
    bma_first_line_histologies: tuple[Histology, ...]
    tumour_markers: dict[Histology, str]
    en_bloc_max_tomita: int
    biopsy_days_mscc: int
    biopsy_days_no_mscc: int
    reirradiation_min_days: int
    denosumab_hypocalcaemia_crcl: float
    follow_up: tuple[FollowUpPeriod, ...]
    penile_pelvic_lnd: tuple[PelvicCriterion, ...]
    adult_min_age_years: int = Field(ge=0)


class RuleSetFile(_Closed):
    version: str
    description: str
    settings: Settings


class AreaFile(_Closed):
    area: str
    recommendations: dict[str, RecommendationSpec]

    @field_validator("recommendations")
    @classmethod
    def _ids(cls, v: dict[str, RecommendationSpec]) -> dict[str, RecommendationSpec]:
        for key in v:
            if not _ID.match(key):
                raise ValueError(f"recommendation id {key!r} must look like 'area.short-name'")
        return v


class RuleContent(_Closed):
    """The whole validated content: version, settings and every recommendation text by id."""

    version: str
    settings: Settings
    recommendations: dict[str, RecommendationSpec]
    areas: dict[str, str]
    """recommendation id -> file it is defined in (for review messages)."""


def _read(name: str) -> Any:
    text = resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return load_yaml(text)


def _check_citations(where: str, ids: tuple[str, ...]) -> None:
    for ref_id in ids:
        try:
            get_reference(ref_id)
        except KnowledgeBaseError as exc:
            raise KnowledgeBaseError(f"rules/{where}: {exc}") from None


def _check_bands(entries: tuple[ScoreBands, ...]) -> None:
    """Band keys must exist in the score catalogue (scores not yet in the catalogue are skipped)."""
    from spinemets.scores.catalogue import SCORES

    for e in entries:
        if e.unnamed_primary is not None and e.unnamed_primary.column not in histology_table().certainty:
            raise KnowledgeBaseError(
                f"rules/ruleset.yaml: score {e.score}: unnamed_primary column {e.unnamed_primary.column!r} "
                "is not a histology table column"
            )
        defn = SCORES.get(e.score)
        if defn is None:
            continue
        known = {b.key for b in defn.bands}
        for band in e.bands:
            if band not in known:
                raise KnowledgeBaseError(
                    f"rules/ruleset.yaml: score {e.score} has no band {band!r}; bands are {sorted(known)}"
                )


@cache
def load_content() -> RuleContent:
    """Read ``ruleset.yaml`` and every area file; validate; cache (the files are package data)."""
    try:
        ruleset = RuleSetFile.model_validate(_read("ruleset.yaml"))
    except ValidationError as exc:
        raise KnowledgeBaseError(f"rules/ruleset.yaml: {exc}") from exc
    p = ruleset.settings.prognosis
    for group in (p.at_least_3_months, p.under_3_months, p.at_least_1_year, p.under_1_year, p.terminal):
        _check_bands(group)
    for crit in ruleset.settings.penile_pelvic_lnd:
        _check_citations("ruleset.yaml", crit.citations)
    recs: dict[str, RecommendationSpec] = {}
    areas: dict[str, str] = {}
    names = sorted(
        f.name
        for f in resources.files(_PACKAGE).iterdir()
        if f.name.endswith(".yaml") and f.name != "ruleset.yaml"
    )
    for name in names:
        try:
            area = AreaFile.model_validate(_read(name))
        except ValidationError as exc:
            raise KnowledgeBaseError(f"rules/{name}: {exc}") from exc
        for rec_id, spec in area.recommendations.items():
            if rec_id in recs:
                raise KnowledgeBaseError(f"rules/{name}: duplicate recommendation id {rec_id!r}")
            _check_citations(f"{name} {rec_id}", spec.citations)
            for ps in spec.per_source:
                _check_citations(f"{name} {rec_id}", ps.citations)
            recs[rec_id] = spec
            areas[rec_id] = name
    return RuleContent(version=ruleset.version, settings=ruleset.settings, recommendations=recs, areas=areas)
