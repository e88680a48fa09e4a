"""The shared score engine: published point tables (data) in, explained results out.

A score is a :class:`ScoreDefinition`: items, each with categories worth points, and bands over
the total with their published meaning. Inputs arrive as a mapping of item name -> category, or of
raw values that *derive* a category (``level=T12`` -> location ``junctional``; ``kps=60`` ->
general condition ``moderate``). Derivations are data too (:class:`Lookup`, :class:`Bins`), so the
cohort path can turn the same tables into column expressions.

Missing data is the headline feature: an unknown item may still take any of its categories, so
the result reports the attainable range ``min..max``, whether the band is already determined, the
missing items and, for each, the question that would settle it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from spinemets.errors import InvalidInputError
from spinemets.knowledge.bibliography import Reference, get_reference


class Category(BaseModel):
    """One published category of an item and its points."""

    model_config = ConfigDict(frozen=True)
    key: str
    points: int
    label: str


class Lookup(BaseModel):
    """Derive a category by looking a raw value up in a table (e.g. level -> location)."""

    model_config = ConfigDict(frozen=True)
    input: str
    """Name of the raw input, e.g. ``level``."""
    table: Mapping[str, str | tuple[str, ...]]
    """raw value -> category key (or several keys when the source leaves it open)."""
    describe: str
    """What the raw value is, for messages: e.g. 'a spinal level C0..S5'."""
    normalise: str = "lower"
    """``lower``, ``upper`` or ``none``: how raw strings are normalised before the lookup."""
    note: str = ""
    value_notes: Mapping[str, str] = {}
    """Caveats for particular raw values (e.g. a primary the paper does not list); shown as warnings."""


class Bins(BaseModel):
    """Derive a category from a number by closed ranges ``[low, high]`` (e.g. KPS 50-70 -> moderate)."""

    model_config = ConfigDict(frozen=True)
    input: str
    bins: tuple[tuple[float, float, str | tuple[str, ...]], ...]
    """Closed ranges ``(low, high, category)``; a tuple of categories when the value alone cannot decide."""
    unit: str
    describe: str
    integer: bool = False


Derivation = Lookup | Bins


class Item(BaseModel):
    """One item of a published score."""

    model_config = ConfigDict(frozen=True)
    key: str
    label: str
    definition: str
    question: str
    """The question that settles the item when it is missing."""
    categories: tuple[Category, ...]
    derivations: tuple[Derivation, ...] = ()

    @property
    def category_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.categories)

    def points(self, key: str) -> int:
        for c in self.categories:
            if c.key == key:
                return c.points
        raise KeyError(key)

    def category(self, key: str) -> Category:
        for c in self.categories:
            if c.key == key:
                return c
        raise KeyError(key)


class Band(BaseModel):
    """A band of totals with its published meaning."""

    model_config = ConfigDict(frozen=True)
    key: str
    low: int
    high: int
    label: str
    meaning: str


class ScoreDefinition(BaseModel):
    """A published score as data."""

    model_config = ConfigDict(frozen=True)
    key: str
    name: str
    version: str
    description: str
    items: tuple[Item, ...]
    bands: tuple[Band, ...]
    citation_ids: tuple[str, ...]
    notes: tuple[str, ...] = ()
    unit_of_scoring: str = "patient"
    kind: str = "additive"
    """``additive`` (total = sum of item points) or ``grade`` (one item; bands by ordinal rank)."""

    @property
    def citations(self) -> tuple[Reference, ...]:
        return tuple(get_reference(i) for i in self.citation_ids)

    @property
    def item_map(self) -> dict[str, Item]:
        return {i.key: i for i in self.items}

    @property
    def range(self) -> tuple[int, int]:
        lo = sum(min(c.points for c in i.categories) for i in self.items)
        hi = sum(max(c.points for c in i.categories) for i in self.items)
        return lo, hi

    def band_for(self, total: int) -> Band:
        for b in self.bands:
            if b.low <= total <= b.high:
                return b
        raise ValueError(f"{self.key}: total {total} outside every band")

    def raw_inputs(self) -> dict[str, Item]:
        """Raw input names accepted in calculator mode (besides item keys) -> the item they derive."""
        return {d.input: i for i in self.items for d in i.derivations}


class ItemResult(BaseModel):
    """How one item was scored: the input, the derivation and the points (or the possible range)."""

    model_config = ConfigDict(frozen=True)
    key: str
    label: str
    category: str | None
    """The category, when a single one is determined."""
    possible: tuple[str, ...]
    points: int | None
    min: int
    max: int
    input: str | None = None
    derivation: str | None = None
    question: str | None = None

    def explain(self) -> str:
        if self.points is not None:
            how = self.derivation or f"{self.category}"
            return f"{self.label}: {how} -> {self.points}"
        if self.input is not None:
            return f"{self.label}: {self.derivation or self.input} -> {self.min}..{self.max} (undetermined)"
        return f"{self.label}: missing -> {self.min}..{self.max}"


class ScoreResult(BaseModel):
    """A score computed for one subject (a patient or, for SINS, a lesion)."""

    model_config = ConfigDict(frozen=True)
    score: str
    name: str
    version: str
    subject: str | None = None
    """What was scored when it is not the whole patient, e.g. the level ``T12``."""
    total: int | None
    min: int
    max: int
    range: tuple[int, int]
    """The published range of the score."""
    band: Band | None
    band_determined: bool
    possible_bands: tuple[str, ...]
    complete: bool
    missing: tuple[str, ...]
    questions: dict[str, str]
    items: tuple[ItemResult, ...]
    citation: tuple[Reference, ...]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def label(self) -> str:
        """``SINS 14 (unstable)`` or ``SINS 7..13 (band undetermined)``."""
        value = str(self.total) if self.total is not None else f"{self.min}..{self.max}"
        if self.band_determined and self.band is not None:
            return f"{self.name} {value} ({self.band.label})"
        return f"{self.name} {value} (band undetermined: {' or '.join(self.possible_bands)})"

    def __repr__(self) -> str:
        where = f" {self.subject}" if self.subject else ""
        return f"<ScoreResult {self.score}{where}: {self.label()}>"


@dataclass(frozen=True)
class Resolution:
    """What is known about one item: the categories still possible and how that was established."""

    possible: tuple[str, ...]
    input: str | None = None
    derivation: str | None = None
    warnings: tuple[str, ...] = ()


#: A hook that resolves an item from the whole raw input when a table cannot (e.g. NESMS's
#: modified-Bauer sub-score). Returns ``None`` when it has nothing to say.
Resolver = Callable[[Mapping[str, Any]], Resolution | None]


@dataclass(frozen=True)
class ScoreSpec:
    """A definition plus its optional special resolvers and patient extractor."""

    definition: ScoreDefinition
    resolvers: Mapping[str, Resolver] = field(default_factory=dict)
    from_patient: Callable[[Any], Mapping[str, Any]] | None = None
    """Patient -> raw inputs (unknown facts omitted)."""
    extra_inputs: tuple[str, ...] = ()
    """Raw inputs read by the resolvers (e.g. the modified-Bauer items that NESMS nests)."""

    def accepted_inputs(self) -> tuple[str, ...]:
        """Every name calculator mode accepts: item keys, derivation inputs, resolver inputs."""
        d = self.definition
        return tuple(dict.fromkeys([*(i.key for i in d.items), *d.raw_inputs(), *self.extra_inputs]))


def _norm(value: Any, how: str) -> str:
    s = str(value.value if hasattr(value, "value") else value).strip()
    if how == "lower":
        return s.lower()
    if how == "upper":
        return s.upper()
    return s


def derive(item: Item, d: Derivation, raw: Any, score_key: str) -> Resolution:
    """Apply one derivation to a raw value; invalid raw values raise :class:`InvalidInputError`."""
    field_name = f"{score_key}.{d.input}"
    if isinstance(d, Lookup):
        key = _norm(raw, d.normalise)
        table = {(_norm(k, d.normalise)): v for k, v in d.table.items()}
        if key not in table:
            raise InvalidInputError(field_name, raw, d.describe)
        target = table[key]
        cats = (target,) if isinstance(target, str) else tuple(target)
        pts = [item.points(c) for c in cats]
        if len(cats) == 1:
            text = f"{d.input} {raw} -> {cats[0]} ({pts[0]})"
        else:
            text = f"{d.input} {raw} -> {' or '.join(cats)} ({min(pts)}..{max(pts)})"
        if d.note:
            text += f"; {d.note}"
        caveat = {_norm(k, d.normalise): v for k, v in d.value_notes.items()}.get(key)
        warnings: tuple[str, ...] = ()
        if caveat:
            text += f"; {caveat}"
            warnings = (caveat,)
        return Resolution(cats, input=f"{d.input}={raw}", derivation=text, warnings=warnings)
    # Bins
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise InvalidInputError(field_name, raw, d.describe) from None
    if d.integer and number != int(number):
        raise InvalidInputError(field_name, raw, d.describe)
    for low, high, target in d.bins:
        if low <= number <= high:
            shown = int(number) if number == int(number) else number
            cats = (target,) if isinstance(target, str) else tuple(target)
            pts = [item.points(c) for c in cats]
            name = d.input.upper() if len(d.input) <= 4 else d.input
            got = (
                f"{cats[0]} ({pts[0]})" if len(cats) == 1 else f"{' or '.join(cats)} ({min(pts)}..{max(pts)})"
            )
            return Resolution(
                cats,
                input=f"{d.input}={shown}",
                derivation=f"{name} {shown}{' ' + d.unit if d.unit else ''} -> {got}",
            )
    raise InvalidInputError(field_name, raw, d.describe)


def resolve_item(spec: ScoreSpec, item: Item, inputs: Mapping[str, Any]) -> Resolution:
    """Resolve one item from calculator inputs: direct category, derivation, resolver, or missing."""
    key = spec.definition.key
    if item.key in inputs and inputs[item.key] is not None:
        raw = inputs[item.key]
        value = _norm(raw, "lower")
        if value in item.category_keys:
            return Resolution((value,), input=f"{item.key}={value}", derivation=None)
        same_name = [d for d in item.derivations if d.input == item.key]
        if same_name:
            return derive(item, same_name[0], raw, key)
        raise InvalidInputError(f"{key}.{item.key}", raw, item.category_keys)
    for d in item.derivations:
        if d.input in inputs and inputs[d.input] is not None:
            return derive(item, d, inputs[d.input], key)
    resolver = spec.resolvers.get(item.key)
    if resolver is not None:
        res = resolver(inputs)
        if res is not None:
            return res
    return Resolution(item.category_keys)


def evaluate(spec: ScoreSpec, inputs: Mapping[str, Any], subject: str | None = None) -> ScoreResult:
    """Score ``inputs`` (item categories or raw values) against ``spec``; see module docstring."""
    defn = spec.definition
    known = spec.accepted_inputs()
    unknown = [k for k in inputs if k not in known]
    if unknown:
        raise InvalidInputError(
            f"{defn.key}.{unknown[0]}", inputs[unknown[0]], "an input of this score: " + ", ".join(known)
        )
    items: list[ItemResult] = []
    lo = hi = 0
    missing: list[str] = []
    questions: dict[str, str] = {}
    warnings: list[str] = []
    for item in defn.items:
        res = resolve_item(spec, item, inputs)
        pts = [item.points(c) for c in res.possible]
        i_lo, i_hi = min(pts), max(pts)
        lo += i_lo
        hi += i_hi
        determined = len(res.possible) == 1 or i_lo == i_hi
        if not determined:
            missing.append(item.key)
            questions[item.key] = item.question
        warnings.extend(res.warnings)
        items.append(
            ItemResult(
                key=item.key,
                label=item.label,
                category=res.possible[0] if len(res.possible) == 1 else None,
                possible=res.possible,
                points=i_lo if determined else None,
                min=i_lo,
                max=i_hi,
                input=res.input,
                derivation=res.derivation,
                question=None if determined else item.question,
            )
        )
    return _result(defn, items, lo, hi, missing, questions, warnings, subject)


def _result(
    defn: ScoreDefinition,
    items: list[ItemResult],
    lo: int,
    hi: int,
    missing: list[str],
    questions: dict[str, str],
    warnings: list[str],
    subject: str | None,
) -> ScoreResult:
    bands = [b for b in defn.bands if b.high >= lo and b.low <= hi]
    determined = len(bands) == 1
    complete = not missing
    return ScoreResult(
        score=defn.key,
        name=defn.name,
        version=defn.version,
        subject=subject,
        total=lo if complete else None,
        min=lo,
        max=hi,
        range=defn.range,
        band=bands[0] if determined else None,
        band_determined=determined,
        possible_bands=tuple(b.label for b in bands),
        complete=complete,
        missing=tuple(missing),
        questions=questions,
        items=tuple(items),
        citation=defn.citations,
        warnings=tuple(dict.fromkeys(warnings)),
        notes=defn.notes,
    )
