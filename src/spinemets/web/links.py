"""Which score items each form control feeds, found by asking the library, not by a second table.

For every control, a patient with only that fact recorded is scored and compared with a patient
without it: the score items that gain an input are the ones the control feeds. The page then
shows those items' published definitions (from :data:`spinemets.SCORES`) next to the control.
Adding a score to the catalogue therefore updates the form with no change here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from spinemets.errors import InvalidInputError
from spinemets.model.validation import parse_patient
from spinemets.scores import SCORES, score_all, score_lesions
from spinemets.web.forms import LESIONS, FieldSpec, lesion_fields, patient_fields

#: A level used to probe lesion controls; any valid level works, the result is compared with a
#: lesion at the same level and nothing else recorded.
_PROBE_LEVEL = "T7"


@dataclass(frozen=True)
class ItemRef:
    """A published score item and what it means; scores sharing an identical item are listed together."""

    scores: tuple[str, ...]
    score_names: tuple[str, ...]
    item: str
    label: str
    definition: str


def _probe_values(spec: FieldSpec) -> list[Any]:
    """Valid example values of a control (every choice, both booleans, a mid-range number)."""
    if spec.kind == "bool":
        return [True, False]
    if spec.kind == "choice":
        return [v for v, _ in spec.choices]
    if spec.kind == "multi":
        return [[v] for v, _ in spec.choices]
    if spec.kind in ("int", "float"):
        return [0, 1, 2, 3, 50]
    if spec.kind == "quantity":
        return [{"value": 3.5, "unit": spec.choices[0][0]}]
    if spec.kind == "date":
        return [dt.date(2020, 1, 1).isoformat()]
    if spec.kind == "level":
        return [_PROBE_LEVEL]
    return ["probe"]


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _fed(patient: dict[str, Any]) -> set[tuple[str, str]]:
    """(score, item) pairs that have an input for this patient; invalid probes feed nothing."""
    try:
        p = parse_patient(patient)
        results = [*score_all(p).values(), *score_lesions(p)]
    except InvalidInputError:
        return set()
    return {(r.score, i.key) for r in results for i in r.items if i.input is not None}


def _refs(pairs: set[tuple[str, str]]) -> tuple[ItemRef, ...]:
    """Items in catalogue order; an item published word for word in several scores is shown once."""
    merged: dict[tuple[str, str, str], tuple[list[str], list[str]]] = {}
    for key, definition in SCORES.items():
        for item in definition.items:
            if (key, item.key) in pairs:
                keys, names = merged.setdefault((item.key, item.label, item.definition), ([], []))
                keys.append(key)
                names.append(definition.name)
    return tuple(
        ItemRef(tuple(keys), tuple(names), item, label, text)
        for (item, label, text), (keys, names) in merged.items()
    )


def _links(
    specs: tuple[FieldSpec, ...], base: dict[str, Any], lesion: bool
) -> dict[str, tuple[ItemRef, ...]]:
    baseline = _fed(base)
    out: dict[str, tuple[ItemRef, ...]] = {}
    for spec in specs:
        gained: set[tuple[str, str]] = set()
        for value in _probe_values(spec):
            if lesion:
                row: dict[str, Any] = {"level": _PROBE_LEVEL}
                _put(row, spec.name, value)
                probe: dict[str, Any] = {LESIONS: [row]}
                if spec.name == "level":
                    probe = {LESIONS: [{"level": value}]}
            else:
                probe = {LESIONS: [{"level": _PROBE_LEVEL}]}
                _put(probe, spec.name, value)
            gained |= _fed(probe) - baseline
        if gained:
            out[spec.name] = _refs(gained)
    return out


@cache
def patient_links() -> dict[str, tuple[ItemRef, ...]]:
    """Patient-level control name -> the score items it feeds."""
    return _links(patient_fields(), {LESIONS: [{"level": _PROBE_LEVEL}]}, lesion=False)


@cache
def lesion_links() -> dict[str, tuple[ItemRef, ...]]:
    """Lesion control name (relative to the row) -> the score items it feeds."""
    links = _links(
        tuple(s for s in lesion_fields() if s.name != "level"), {LESIONS: [{"level": _PROBE_LEVEL}]}, True
    )
    level = next(s for s in lesion_fields() if s.name == "level")
    links.update(_links((level,), {}, lesion=True))
    return links


def first_mentions(
    names: Iterable[str], table: Mapping[str, tuple[ItemRef, ...]]
) -> dict[str, tuple[tuple[ItemRef, ...], tuple[ItemRef, ...]]]:
    """For controls shown together: (items defined here, items already defined above) per control.

    A definition is printed at the first control of a group that feeds it; later controls name
    the item and point up, so a section never repeats the same published text.
    """
    seen: set[ItemRef] = set()
    out: dict[str, tuple[tuple[ItemRef, ...], tuple[ItemRef, ...]]] = {}
    for name in names:
        refs = table.get(name, ())
        if refs:
            out[name] = (tuple(r for r in refs if r not in seen), tuple(r for r in refs if r in seen))
            seen.update(refs)
    return out


def unlinked_items() -> tuple[ItemRef, ...]:
    """Score items no control feeds (shown on the page so that no published item is hidden)."""
    fed = {
        (score, r.item)
        for refs in (*patient_links().values(), *lesion_links().values())
        for r in refs
        for score in r.scores
    }
    every = {(k, i.key) for k, d in SCORES.items() for i in d.items}
    return _refs(every - fed)
