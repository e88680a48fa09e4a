"""Arrange library results for the pages: ordering, grouping and side-by-side rows, nothing clinical.

These helpers only re-shape what the library returned (a plan's recommendations by category, two
stored assessments side by side); every number and recommendation comes from the library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spinemets.assessment import Assessment
from spinemets.scores import SCORES, ScoreResult
from spinemets.scores.engine import ScoreKind


@dataclass(frozen=True)
class Group:
    """Recommendations of one category, in the plan's order."""

    category: str
    recommendations: tuple[Any, ...]


def plan_groups(plan: Any) -> tuple[Group, ...]:
    """The plan's recommendations grouped by category, categories in the rule engine's display order."""
    if plan is None:
        return ()
    from spinemets.rules.model import CATEGORY_ORDER

    groups: dict[Any, list[Any]] = {}
    for rec in plan.recommendations:
        groups.setdefault(rec.category, []).append(rec)
    ordered = sorted(groups, key=lambda c: CATEGORY_ORDER.get(c, len(CATEGORY_ORDER)))
    return tuple(Group(str(c.value if hasattr(c, "value") else c), tuple(groups[c])) for c in ordered)


def score_value(result: ScoreResult) -> str:
    """``14`` when complete, ``7–13`` while items are missing; a grade as its grade (Bilsky ``1b``,
    Frankel ``E``, ``0–3`` while unknown), never its rank: ESCC 1b is rank 2, which reads as grade 2."""
    if result.kind != ScoreKind.additive:
        if result.grade is not None:
            return result.grade
        grades = [c for i in result.items for c in i.possible]
        return f"{grades[0]}–{grades[-1]}" if grades else "?"
    return str(result.total) if result.total is not None else f"{result.min}–{result.max}"


def score_range(result: ScoreResult) -> str:
    """The published range (``0–18``); for a grade its first and last grade (``0–3``, ``A–E``), not
    the ranks 0–5 and 0–4 that ``range`` holds for a grade."""
    if result.kind != ScoreKind.additive and result.score in SCORES:
        grades = SCORES[result.score].items[0].category_keys
        return f"{grades[0]}–{grades[-1]}"
    return f"{result.range[0]}–{result.range[1]}"


def missing_items(result: ScoreResult) -> tuple[tuple[str, str], ...]:
    """(item label, question that settles it) for every missing item."""
    labels = {i.key: i.label for i in result.items}
    return tuple((labels.get(k, k), result.questions.get(k, "")) for k in result.missing)


@dataclass(frozen=True)
class ScoreRow:
    """One score of two assessments, side by side."""

    name: str
    before: str
    after: str
    changed: bool


@dataclass(frozen=True)
class InputRow:
    """One recorded fact of two assessments, side by side."""

    field: str
    before: str
    after: str


def _label(result: ScoreResult | None) -> str:
    return result.label() if result is not None else "not scored"


def compare_scores(before: Assessment, after: Assessment) -> tuple[ScoreRow, ...]:
    """Every score present in either assessment, in catalogue order of the later one."""
    keys = list(dict.fromkeys([*after.scores, *before.scores]))
    rows = []
    for key in keys:
        b, a = before.scores.get(key), after.scores.get(key)
        name = (a or b).name if (a or b) is not None else key  # type: ignore[union-attr]
        rows.append(ScoreRow(name, _label(b), _label(a), _label(b) != _label(a)))
    return tuple(rows)


def _flat(value: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flat(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            _flat(v, f"{prefix}[{i}]", out)
    elif isinstance(value, list):
        out[prefix] = ", ".join(str(v) for v in value)
    elif value is not None:
        out[prefix] = str(value)


def compare_inputs(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[InputRow, ...]:
    """Recorded facts that differ between two assessments' inputs ('—' where not recorded)."""
    b: dict[str, str] = {}
    a: dict[str, str] = {}
    _flat(before, "", b)
    _flat(after, "", a)
    keys = list(dict.fromkeys([*b, *a]))
    return tuple(InputRow(k, b.get(k, "—"), a.get(k, "—")) for k in keys if b.get(k) != a.get(k))
