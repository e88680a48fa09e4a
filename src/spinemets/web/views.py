"""Arrange library results for the pages: ordering, grouping and side-by-side rows, nothing clinical.

These helpers only re-shape what the library returned (a plan's recommendations by category, two
stored assessments side by side); every number and recommendation comes from the library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from spinemets.assessment import Assessment
from spinemets.scores import SCORES, ScoreResult
from spinemets.scores.engine import ScoreKind
from spinemets.web.forms import FieldSpec, lesion_fields, patient_fields


@dataclass(frozen=True)
class Group:
    """Recommendations of one category, in the plan's order."""

    category: str
    recommendations: tuple[Any, ...]

    @property
    def title(self) -> str:
        """The heading: 'Work-up', 'Follow-up', and 'Multidisciplinary team (MDT)', not 'Mdt'."""
        return _CATEGORY_TITLES.get(self.category, self.category.capitalize())


_CATEGORY_TITLES = {"mdt": "Multidisciplinary team (MDT)"}


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
    Frankel ``E``, ``0–3`` while unknown), never its rank (:meth:`ScoreResult.value_text`)."""
    return result.value_text("–")


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


@cache
def _specs() -> tuple[dict[str, FieldSpec], dict[str, FieldSpec]]:
    return {f.name: f for f in patient_fields()}, {f.name: f for f in lesion_fields()}


def _fact(path: str, value: Any) -> tuple[str, str]:
    """A recorded fact as the Assess form names and shows it: (label, value).

    ``lesions[0].escc`` is 'Lesion 1: Bilsky ESCC grade at this level' (the form numbers rows from 1),
    a yes/no fact reads yes or no, a choice reads as its option on the form, albumin as '38 g/L'.
    """
    patient, lesion = _specs()
    row = _LESION_PATH.match(path)
    spec = lesion.get(row.group(2)) if row else patient.get(path)
    name = spec.label if spec is not None else (row.group(2) if row else path)
    label = f"Lesion {int(row.group(1)) + 1}: {name}" if row else name
    options = dict(spec.choices) if spec is not None and spec.kind in ("choice", "multi") else {}
    if spec is not None and spec.kind == "quantity":  # a bare number is g/dL, as the model documents
        amount, unit = (
            (value.get("value"), value.get("unit")) if isinstance(value, Mapping) else (value, "g/dL")
        )
        shown = f"{amount:g} {unit or ''}".strip() if isinstance(amount, (int, float)) else str(value)
    elif isinstance(value, bool):
        shown = "yes" if value else "no"
    elif isinstance(value, list):
        shown = ", ".join(options.get(str(v), str(v)) for v in value)
    else:
        shown = options.get(str(value), str(value))
    return label, shown


_LESION_PATH = re.compile(r"^lesions\[(\d+)\]\.(.+)$")


def _flat(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and set(value) == {"value", "unit"}:
        out[prefix] = value  # a quantity (albumin): one fact, value and unit together
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _flat(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            _flat(v, f"{prefix}[{i}]", out)
    elif value is not None and value != []:
        out[prefix] = value


def compare_inputs(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[InputRow, ...]:
    """Recorded facts that differ between two assessments' inputs, named and shown as on the Assess
    form ('—' where not recorded); a JSON path (``lesions[0].escc``, 0-based) is not a clinician's word."""
    b: dict[str, Any] = {}
    a: dict[str, Any] = {}
    _flat(before, "", b)
    _flat(after, "", a)
    rows = []
    for key in dict.fromkeys([*b, *a]):
        old, new = (_fact(key, d[key]) if key in d else None for d in (b, a))
        if old != new:
            label = (new or old or (key, ""))[0]
            rows.append(InputRow(label, old[1] if old else "—", new[1] if new else "—"))
    return tuple(rows)
