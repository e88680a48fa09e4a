"""The small rule engine: registered rules read the facts and emit recommendations from the YAML texts.

A rule is a plain function ``rule(ctx) -> None`` decorated with :func:`rule`, which names the
recommendation ids it may emit (checked at emit time, so a typo is an error, not a silent miss).
The engine runs every rule in registration order (module order in :mod:`spinemets.rules`, then
definition order) and sorts the output by urgency, clinical area and rule order: the same patient
always gives the same plan.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from spinemets.errors import KnowledgeBaseError
from spinemets.knowledge.bibliography import Reference, get_reference
from spinemets.model.patient import Patient
from spinemets.model.trusted import construct
from spinemets.rules.content import RecommendationSpec, load_content
from spinemets.rules.facts import RECALLED, Facts
from spinemets.rules.model import (
    CATEGORY_ORDER,
    Plan,
    Recommendation,
    ScheduledItem,
    SourceStatement,
)
from spinemets.scores.engine import ScoreResult

RuleFunc = Callable[["RuleContext"], None]

#: Rule modules in run order (one per clinical area); the order breaks ties in the plan.
AREAS = (
    "triage",
    "pain",
    "stability",
    "noms",
    "surgery",
    "radiotherapy",
    "systemic",
    "supportive",
    "workup",
    "differential",
    "followup",
    "mdt",
)


@dataclass(frozen=True)
class Rule:
    """One registered rule: its function and the recommendation ids it may emit."""

    name: str
    func: RuleFunc
    emits: tuple[str, ...]
    order: tuple[int, int]
    """(area position in :data:`AREAS`, definition position in its module)."""


_REGISTRY: list[Rule] = []


def rule(*emits: str) -> Callable[[RuleFunc], RuleFunc]:
    """Register a rule that may emit the given recommendation ids (texts in knowledge/rules/*.yaml)."""

    def decorate(func: RuleFunc) -> RuleFunc:
        area = func.__module__.rsplit(".", 1)[-1]
        if area not in AREAS:
            raise KnowledgeBaseError(f"rule module {area!r} is not listed in rules.engine.AREAS")
        order = (AREAS.index(area), len(_REGISTRY))
        _REGISTRY.append(Rule(name=f"{area}.{func.__name__}", func=func, emits=tuple(emits), order=order))
        return func

    return decorate


_ORDERED: list[tuple[Rule, ...]] = []
""":func:`registry`'s answer, kept while no rule is added (rules only register at import)."""


def registry() -> tuple[Rule, ...]:
    """Every rule of every area module, in run order (imports the area modules on first use)."""
    if _ORDERED and len(_ORDERED[0]) == len(_REGISTRY):
        return _ORDERED[0]
    for area in AREAS:
        importlib.import_module(f"spinemets.rules.{area}")
    _ORDERED[:] = [tuple(sorted(_REGISTRY, key=lambda r: r.order))]
    return _ORDERED[0]


def _refs(ids: Iterable[str]) -> tuple[Reference, ...]:
    return tuple(get_reference(i) for i in ids)


@dataclass(frozen=True)
class _Cited:
    """What a recommendation's text fixes whatever the patient: its references, each source's
    references, and whether any of its statements is recalled rather than seen in the source (K)."""

    citations: tuple[Reference, ...]
    per_source: tuple[tuple[Reference, ...], ...]
    unverified: bool


_CITED: dict[int, tuple[RecommendationSpec, _Cited]] = {}
"""Resolved once per text object (the spec is kept beside its id, so a reused id never matches)."""


def _cited(spec: RecommendationSpec) -> _Cited:
    hit = _CITED.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    ids = dict.fromkeys([*spec.citations, *(c for ps in spec.per_source for c in ps.citations)])
    cited = _Cited(
        citations=_refs(ids),
        per_source=tuple(_refs(ps.citations) for ps in spec.per_source),
        unverified=spec.certainty.value == "K" or any(ps.certainty.value == "K" for ps in spec.per_source),
    )
    _CITED[id(spec)] = (spec, cited)
    return cited


@dataclass
class RuleContext:
    """What a rule sees: the patient, the scores, the shared facts; and how it emits."""

    facts: Facts
    current: Rule | None = None
    emitted: list[tuple[tuple[int, int], int, Recommendation]] = field(default_factory=list)
    schedule: list[ScheduledItem] = field(default_factory=list)

    @property
    def patient(self) -> Patient:
        return self.facts.patient

    def spec(self, rec_id: str) -> RecommendationSpec:
        try:
            return self.facts.content.recommendations[rec_id]
        except KeyError:
            raise KnowledgeBaseError(f"recommendation {rec_id!r} has no text in knowledge/rules") from None

    def emit(self, rec_id: str, basis: Iterable[str], **fill: object) -> Recommendation:
        """Add one recommendation: text from YAML with ``{placeholders}`` filled, plus its basis."""
        if self.current is None or rec_id not in self.current.emits:
            owner = self.current.name if self.current else "no rule"
            raise KnowledgeBaseError(f"{owner} emitted {rec_id!r} which it does not declare")
        spec = self.spec(rec_id)
        cited = _cited(spec)
        facts = tuple(dict.fromkeys(b for b in basis if b))
        if not all(isinstance(b, str) for b in facts):  # built without validation below
            raise KnowledgeBaseError(
                f"{self.current.name} gave {rec_id!r} a basis that is not text: {facts!r}"
            )
        try:
            text = spec.text.format(**fill)
            strength = spec.strength.format(**fill) if spec.strength else None
            per_source = tuple(
                construct(
                    SourceStatement,
                    {
                        "source": ps.source,
                        "text": ps.text.format(**fill),
                        "certainty": ps.certainty,
                        "strength": ps.strength,
                        "citations": refs,
                    },
                )
                for ps, refs in zip(spec.per_source, cited.per_source, strict=True)
            )
        except (KeyError, IndexError) as exc:
            raise KnowledgeBaseError(
                f"{rec_id}: text placeholder {exc} not filled by {self.current.name}"
            ) from None
        rec = construct(
            Recommendation,
            {
                "id": rec_id,
                "category": spec.category,
                "kind": spec.kind,
                "urgency": spec.urgency,
                "text": text,
                "strength": strength,
                "certainty": spec.certainty,
                "unverified": cited.unverified or any(RECALLED in b for b in facts),
                "basis": facts,
                "citations": cited.citations,
                "per_source": per_source,
                "rule": self.current.name,
            },
        )
        self.emitted.append((self.current.order, len(self.emitted), rec))
        return rec

    def add_visit(self, month: int, due: dt.date | None, what: str, rec_id: str) -> None:
        self.schedule.append(ScheduledItem(month=month, due=due, what=what, recommendation_id=rec_id))


def build_plan(
    patient: Patient,
    scores: Mapping[str, ScoreResult],
    sins_by_lesion: tuple[ScoreResult, ...] = (),
) -> Plan:
    """Run every rule on one assessed patient and return the ordered, cited plan."""
    content = load_content()
    ctx = RuleContext(facts=Facts(patient, scores, sins_by_lesion, content))
    for r in registry():
        ctx.current = r
        r.func(ctx)
    ctx.current = None
    ordered = sorted(
        ctx.emitted,
        key=lambda t: (t[2].urgency.rank, CATEGORY_ORDER[t[2].category], t[0], t[1]),
    )
    recs: list[Recommendation] = []
    seen: set[str] = set()
    for _, _, rec in ordered:
        if rec.id in seen:
            continue
        seen.add(rec.id)
        recs.append(rec)
    references: dict[str, Reference] = {}
    for rec in recs:
        for ref in rec.citations:
            references.setdefault(ref.id, ref)
    return Plan(
        ruleset_version=content.version,
        urgency=recs[0].urgency if recs else None,
        recommendations=tuple(recs),
        schedule=tuple(sorted(ctx.schedule, key=lambda s: (s.month, s.what))),
        references=tuple(references.values()),
    )
