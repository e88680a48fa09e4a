"""The shared score engine: published point tables (data) in, explained results out.

A score is a :class:`ScoreDefinition`: items, each with categories worth points, and bands over
the total with their published meaning. Inputs arrive as a mapping of item name -> category, or of
raw values that *derive* a category (``level=T12`` -> location ``junctional``; ``kps=60`` ->
general condition ``moderate``). Derivations are data too (:class:`Lookup`, :class:`Bins`,
:class:`Subscore`), so the cohort path can turn the same tables into column expressions.

Missing data is the headline feature: an unknown item may still take any of its categories, so
the result reports the attainable range ``min..max``, whether the band is already determined, the
missing items and, for each, the question that would settle it.

The single-patient path is hot (a full patient is scored in well under 200 microseconds), so each
definition is compiled once into plain dicts (:func:`compile_definition`) and results are built
with :func:`spinemets.model.trusted.construct` from values the engine has already validated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from spinemets.errors import InvalidInputError
from spinemets.knowledge.bibliography import Reference, get_reference
from spinemets.model.trusted import construct


class ScoreKind(StrEnum):
    """How a definition turns item points into its headline value."""

    additive = "additive"
    """The total is the sum of the item points (SINS, Tokuhashi, Tomita, Bauer, NESMS)."""
    grade = "grade"
    """One ordinal item; the headline is the grade, the total its rank (Bilsky ESCC, Frankel)."""
    conversion = "conversion"
    """One item converted between two published scales (Karnofsky <-> ECOG)."""


class Category(BaseModel):
    """One published category of an item and its points."""

    model_config = ConfigDict(frozen=True)
    key: str
    points: int
    label: str


CategoryTarget = str | tuple[str, ...]
"""A derivation's target: one category key, or several when the raw value alone cannot decide."""


class Lookup(BaseModel):
    """Derive a category by looking a raw value up in a table (e.g. level -> location)."""

    model_config = ConfigDict(frozen=True)
    kind: str = "lookup"
    input: str
    """Name of the raw input, e.g. ``level``."""
    table: Mapping[str, CategoryTarget]
    """raw value -> category key (or several keys when the source leaves it open)."""
    describe: str
    """What the raw value is, for messages: e.g. 'a spinal level C0..S5'."""
    normalise: str = "lower"
    """``lower``, ``upper`` or ``none``: how raw strings are normalised before the lookup."""
    note: str = ""
    """Shown after every derivation through this table (e.g. the conversion convention used)."""
    value_notes: Mapping[str, str] = {}
    """Caveats for particular raw values (e.g. a primary the paper does not list); shown as warnings."""
    listed_as: Mapping[str, str] = {}
    """How the source names a raw value (``lung_sclc`` is listed as 'lung'); shown in the derivation only."""


class Bins(BaseModel):
    """Derive a category from a number by ranges ``[low, high]`` (e.g. KPS 50-70 -> moderate).

    Ranges are closed unless ``right_open`` is set, in which case they are ``[low, high)`` (for
    continuous laboratory values with a published threshold such as albumin >= 3.5 g/dL). Bins are
    tried in order and the first that holds the value decides (here and in the cohort path), so
    closed bins may share an edge (SINS collapse: 0 | 0-50 | 50-100 puts exactly 50 in the second).
    ``factor`` converts the raw unit into the unit of the bins (albumin g/L x 0.1 = g/dL).
    """

    model_config = ConfigDict(frozen=True)
    kind: str = "bins"
    input: str
    bins: tuple[tuple[float, float, CategoryTarget], ...]
    unit: str
    describe: str
    integer: bool = False
    step: float = 0.0
    """When set, the raw value must be a multiple of it (Karnofsky is recorded in steps of 10)."""
    right_open: bool = False
    factor: float = 1.0
    converted_unit: str = ""
    factor_text: str = ""
    """How the conversion is shown, e.g. 'g/L ÷ 10'."""
    note: str = ""
    plausible: tuple[float, float] | None = None
    """Closed range of the value in the bins' unit (after ``factor``) outside which it is refused as
    a data-entry error, e.g. albumin 0.5-7 g/dL: a guard against unit mix-ups, not a clinical threshold."""
    mixup: tuple[float, str, str] | None = None
    """The unit a refused value was probably in: (factor from that unit to the bins' unit, its name, the
    input that takes it), e.g. ``(0.1, "g/L", "albumin_g_l")``; named in the refusal when the value
    is plausible in that unit."""


class Subscore(BaseModel):
    """Derive a category from another published score's attainable range (NESMS nests modified Bauer).

    The nested score is evaluated on the same inputs; each category is possible when its closed
    range ``[low, high]`` of the nested total overlaps the nested ``min..max``. So with modified
    Bauer 3..4 the category is ``high``; with 1..4 it may be ``high`` or ``low``. A known nested
    total can also be given directly through ``input`` (e.g. ``modified_bauer=3``).
    """

    model_config = ConfigDict(frozen=True)
    kind: str = "subscore"
    input: str
    """Raw input carrying the nested total directly, e.g. ``modified_bauer``."""
    definition: ScoreDefinition
    bins: tuple[tuple[int, int, str], ...]
    describe: str

    @model_validator(mode="after")
    def _nested_has_no_ceiling(self) -> Subscore:
        # The nested range is summed item by item (here and in the cohort path); a ceiling would
        # need capping there too, and no published score nests a capped one.
        if self.definition.ceiling is not None:
            raise ValueError(f"{self.definition.key} has a ceiling and cannot be nested as a Subscore")
        return self


Derivation = Lookup | Bins | Subscore


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


class SurvivalDirection(StrEnum):
    """Which way a score's total ranks survival in its published use (read by cohort validation).

    Validation orients Harrell's C so that 0.5 is chance and above 0.5 means the score ranks
    survival the way it was published; a score that does not claim to predict survival gets no C.
    """

    higher_longer = "higher_longer"
    """A higher total predicts longer survival (Tokuhashi, Bauer, modified Bauer, NESMS)."""
    higher_shorter = "higher_shorter"
    """A higher total predicts shorter survival (Tomita)."""
    not_prognostic = "not_prognostic"
    """The score grades something else (instability, cord compression); no survival claim is made."""


class SourceCertainty(StrEnum):
    """How a published figure was checked (reference-sheet tags): K is recalled and unverified."""

    S = "S"
    V = "V"
    K = "K"


class BandSurvival(BaseModel):
    """A band's published survival expectation as numbers: bounds on the band's median survival.

    ``median_low_months`` / ``median_high_months`` are the published "at least" / "under" bounds
    (either may be open); ``certainty`` K marks a recalled figure shown as unverified.
    """

    model_config = ConfigDict(frozen=True)
    band: str
    median_low_months: float | None = None
    median_high_months: float | None = None
    statement: str
    """The published wording, e.g. 'predicted survival < 6 months'."""
    certainty: SourceCertainty
    citation_id: str

    @model_validator(mode="after")
    def _bounded(self) -> BandSurvival:
        lo, hi = self.median_low_months, self.median_high_months
        if lo is None and hi is None:
            raise ValueError(f"band {self.band}: a survival expectation needs a lower or an upper bound")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"band {self.band}: lower bound {lo} above upper bound {hi}")
        return self


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
    """``patient`` or ``lesion`` (SINS, ESCC: the patient-level result is the worst lesion)."""
    kind: ScoreKind = ScoreKind.additive
    ceiling: int | None = None
    """A published maximum below the sum of the item maxima (NESMS: "a ceiling score of three"):
    sums above it are reported at the ceiling, with the raw sum shown in a warning."""
    survival_direction: SurvivalDirection = SurvivalDirection.not_prognostic
    """How the total ranks survival as published; the default makes no survival claim."""
    band_survival: tuple[BandSurvival, ...] = ()
    """Published survival expectation per band, where the sources give one as a figure."""

    @model_validator(mode="after")
    def _band_survival_names_bands(self) -> ScoreDefinition:
        keys = {b.key for b in self.bands}
        for e in self.band_survival:
            if e.band not in keys:
                raise ValueError(f"{self.key}: band_survival names unknown band {e.band!r}")
        return self

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
        if self.ceiling is not None:
            lo, hi = min(lo, self.ceiling), min(hi, self.ceiling)
        return lo, hi

    def cap(self, lo: int, hi: int) -> tuple[int, int, str | None]:
        """Apply the published ceiling to a sum range; the note says what was capped (or None)."""
        if self.ceiling is None or hi <= self.ceiling:
            return lo, hi, None
        raw = str(lo) if lo == hi else f"{lo}..{hi}"
        note = f"the item points sum to {raw}; {self.name} is reported at its published ceiling of {self.ceiling}"
        return min(lo, self.ceiling), self.ceiling, note

    def band_for(self, total: int) -> Band:
        for b in self.bands:
            if b.low <= total <= b.high:
                return b
        raise ValueError(f"{self.key}: total {total} outside every band")

    def raw_inputs(self) -> dict[str, Item]:
        """Raw input names accepted in calculator mode (besides item keys) -> the item they derive."""
        out: dict[str, Item] = {}
        for i in self.items:
            for d in i.derivations:
                out[d.input] = i
                if isinstance(d, Subscore):
                    for name in d.definition.accepted_inputs():
                        out.setdefault(name, i)
        return out

    def accepted_inputs(self) -> tuple[str, ...]:
        """Every name calculator mode accepts: item keys and derivation inputs (nested ones too)."""
        return tuple(dict.fromkeys([*(i.key for i in self.items), *self.raw_inputs()]))


Subscore.model_rebuild()
Item.model_rebuild()
ScoreDefinition.model_rebuild()


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
    """A score computed for one subject (a patient or, for SINS and ESCC, a lesion)."""

    model_config = ConfigDict(frozen=True)
    score: str
    name: str
    version: str
    kind: ScoreKind = ScoreKind.additive
    subject: str | None = None
    """What was scored when it is not the whole patient, e.g. the level ``T12``."""
    total: int | None
    """The total (for a grade or conversion: the ordinal rank of the grade, see ``grade``)."""
    grade: str | None = None
    """For grade and conversion scores: the determined grade (``1b``, ``C``, ECOG ``2``)."""
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
    options: dict[str, str] = {}
    """Options that changed how inputs were derived (e.g. ``ecog_convention``), as used."""
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def value_text(self, between: str = "..") -> str:
        """The headline value: ``14``, ``7..13`` while items are missing; a grade as its grade (``1b``,
        ``0..3`` while unknown), never its rank (ESCC 1b is rank 2, which reads as grade 2)."""
        if self.kind is not ScoreKind.additive:
            if self.grade is not None:
                return self.grade
            cats = [c for i in self.items for c in i.possible]
            return between.join((cats[0], cats[-1])) if cats else "?"
        return str(self.total) if self.total is not None else f"{self.min}{between}{self.max}"

    def label(self) -> str:
        """``SINS 14 (unstable)`` or ``SINS 7..13 (band undetermined)``."""
        value = self.value_text()
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


class Option(BaseModel):
    """A documented choice that changes how inputs are derived, never the published table."""

    model_config = ConfigDict(frozen=True)
    name: str
    choices: tuple[str, ...]
    default: str
    describe: str


@dataclass(frozen=True)
class ScoreSpec:
    """A definition plus how a patient maps onto it, and its options (e.g. the ECOG convention)."""

    definition: ScoreDefinition
    from_patient: Callable[[Any], Mapping[str, Any]] | None = None
    """Patient -> raw inputs (unknown facts omitted)."""
    lesion_inputs: Callable[[Any, Any], Mapping[str, Any]] | None = None
    """(lesion, patient) -> raw inputs, for scores whose unit is the lesion."""
    options: tuple[Option, ...] = ()
    build: Callable[[Mapping[str, str]], ScoreDefinition] | None = None
    """Options -> the definition variant (same tables; derivations that depend on the option)."""
    _variants: dict[tuple[tuple[str, str], ...], ScoreSpec] = field(
        default_factory=dict, compare=False, repr=False
    )

    def accepted_inputs(self) -> tuple[str, ...]:
        return self.definition.accepted_inputs()

    @property
    def option_names(self) -> frozenset[str]:
        return frozenset(o.name for o in self.options)

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, str]:
        """Validated options with defaults filled in; an unknown choice is an InvalidInputError."""
        out: dict[str, str] = {}
        for o in self.options:
            raw = given.get(o.name)
            value = o.default if raw is None else str(getattr(raw, "value", raw)).strip().lower()
            if value not in o.choices:
                raise InvalidInputError(f"{self.definition.key}.{o.name}", raw, o.choices, o.describe)
            out[o.name] = value
        return out

    def variant(self, options: Mapping[str, str]) -> ScoreSpec:
        """The spec for these (validated) options; the default options give ``self``."""
        if not self.options or self.build is None:
            return self
        key = tuple(sorted(options.items()))
        if all(options.get(o.name, o.default) == o.default for o in self.options):
            return self
        cached = self._variants.get(key)
        if cached is None:
            cached = ScoreSpec(
                definition=self.build(options),
                from_patient=self.from_patient,
                lesion_inputs=self.lesion_inputs,
                options=self.options,
                build=self.build,
            )
            self._variants[key] = cached
        return cached


# --------------------------------------------------------------------------------------------
# Compilation: each definition once into plain dicts (the hot path never walks pydantic models)


#: Largest magnitude of a whole-number float read as the integer it equals (exact in a double).
WHOLE_FLOAT_LIMIT = 2**53


def _norm(value: Any, how: str) -> str:
    if isinstance(value, str):  # StrEnum members are str and print as their value
        s = str.strip(value)
        return s.lower() if how == "lower" else s.upper() if how == "upper" else s
    if isinstance(value, float) and value.is_integer() and abs(value) <= WHOLE_FLOAT_LIMIT:
        # ECOG 1.0 from a float column is the grade 1 (was "1.0", matching no category); 1.5 stays "1.5"
        return str(int(value))
    s = str(value.value if hasattr(value, "value") else value).strip()
    if how == "lower":
        return s.lower()
    if how == "upper":
        return s.upper()
    return s


def _targets(target: CategoryTarget) -> tuple[str, ...]:
    return (target,) if isinstance(target, str) else tuple(target)


@dataclass(frozen=True, slots=True)
class _CItem:
    key: str
    label: str
    question: str
    points: dict[str, int]
    by_lower: dict[str, str]
    all_categories: tuple[str, ...]
    lo: int
    hi: int
    derivations: tuple[tuple[str, Derivation, Any], ...]
    """(input name, derivation, compiled form) in published order."""
    same_name: Derivation | None
    """A derivation whose input shares the item's name (``visceral_metastases=treatable``)."""
    has_subscore: bool
    cache: dict[tuple[str, type, Any], _Entry]
    """Finished item results keyed by the deciding input (name, type, value): results are frozen,
    so identical inputs share one :class:`ItemResult` (bounded by :data:`_CACHE_LIMIT`)."""


_Entry = tuple["ItemResult", int, int, bool, tuple[str, ...]]
"""(item result, min points, max points, determined, warnings)."""

_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class _Compiled:
    definition: ScoreDefinition
    items: tuple[_CItem, ...]
    accepted: frozenset[str]
    accepted_text: str
    citations: tuple[Reference, ...]
    range: tuple[int, int]
    bands: tuple[Band, ...]


_COMPILED: dict[int, _Compiled] = {}


def clear_item_caches() -> None:
    """Empty every per-item result cache (benchmarks use it to measure the uncached path)."""
    for compiled in _COMPILED.values():
        for ci in compiled.items:
            ci.cache.clear()


def compile_definition(defn: ScoreDefinition) -> _Compiled:
    """The compiled (dict-based) form of a definition, built once and cached by identity."""
    found = _COMPILED.get(id(defn))
    if found is not None and found.definition is defn:
        return found
    items = []
    for it in defn.items:
        points = {c.key: c.points for c in it.categories}
        comp: list[tuple[str, Derivation, Any]] = []
        for d in it.derivations:
            if isinstance(d, Lookup):
                table = {_norm(k, d.normalise): _targets(v) for k, v in d.table.items()}
                notes = {_norm(k, d.normalise): v for k, v in d.value_notes.items()}
                listed = {_norm(k, d.normalise): v for k, v in d.listed_as.items()}
                comp.append((d.input, d, (table, notes, listed)))
            elif isinstance(d, Subscore):
                comp.append((d.input, d, compile_definition(d.definition)))
            else:
                comp.append((d.input, d, None))
        same = next((d for d in it.derivations if d.input == it.key), None)
        items.append(
            _CItem(
                key=it.key,
                label=it.label,
                question=it.question,
                points=points,
                by_lower={k.lower(): k for k in points},
                all_categories=tuple(points),
                lo=min(points.values()),
                hi=max(points.values()),
                derivations=tuple(comp),
                same_name=same,
                has_subscore=any(isinstance(d, Subscore) for d in it.derivations),
                cache={},
            )
        )
    accepted = defn.accepted_inputs()
    compiled = _Compiled(
        definition=defn,
        items=tuple(items),
        accepted=frozenset(accepted),
        accepted_text="an input of this score: " + ", ".join(accepted),
        citations=defn.citations,
        range=defn.range,
        bands=defn.bands,
    )
    _COMPILED[id(defn)] = compiled
    return compiled


def _points_text(item: _CItem, cats: tuple[str, ...]) -> str:
    if len(cats) == 1:
        return f"{cats[0]} ({item.points[cats[0]]})"
    pts = [item.points[c] for c in cats]
    return f"{' or '.join(cats)} ({min(pts)}..{max(pts)})"


def _shown(number: float) -> int | float:
    return int(number) if number == int(number) else number


def _derive(
    item: _CItem, d: Derivation, compiled: Any, raw: Any, score_key: str, inputs: Mapping[str, Any]
) -> Resolution:
    """Apply one derivation to a raw value; invalid raw values raise :class:`InvalidInputError`."""
    field_name = f"{score_key}.{d.input}"
    if isinstance(d, Lookup):
        table, notes, listed = compiled
        key = _norm(raw, d.normalise)
        cats = table.get(key)
        if cats is None:
            raise InvalidInputError(field_name, raw, d.describe)
        shown_raw = getattr(raw, "value", raw)
        text = f"{d.input} {shown_raw} -> {_points_text(item, cats)}"
        if key in listed:
            text += f"; listed as '{listed[key]}'"
        if d.note:
            text += f"; {d.note}"
        caveat = notes.get(key)
        if caveat:
            text += f"; {caveat}"
            return Resolution(cats, f"{d.input}={shown_raw}", text, (caveat,))
        return Resolution(cats, f"{d.input}={shown_raw}", text)
    if isinstance(d, Bins):
        if isinstance(raw, bool):
            raise InvalidInputError(field_name, raw, d.describe)
        try:
            number = float(raw)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
            raise InvalidInputError(field_name, raw, d.describe) from None
        if not math.isfinite(number) or (d.integer and number != int(number)) or (d.step and number % d.step):
            raise InvalidInputError(field_name, raw, d.describe)
        value = round(number * d.factor, 6) if d.factor != 1.0 else number
        if d.plausible is not None and not d.plausible[0] <= value <= d.plausible[1]:
            unit = d.converted_unit or d.unit
            hint = f"{_shown(value)} {unit} is outside the plausible {d.plausible[0]:g}-{d.plausible[1]:g} {unit}"
            if d.mixup is not None and d.plausible[0] <= number * d.mixup[0] <= d.plausible[1]:
                factor, other, other_input = d.mixup
                hint += (
                    f"; as {other} it would be {_shown(round(number * factor, 6))} {unit}: was the unit "
                    f"{other}? give {other_input}={_shown(number)}"
                )
            else:
                hint += ": check the value and its unit"
            raise InvalidInputError(
                field_name, raw, d.describe, hint + " (a data-entry guard, not a clinical threshold)"
            )
        for low, high, target in d.bins:
            inside = low <= value < high if d.right_open else low <= value <= high
            if inside:
                cats = _targets(target)
                name = d.input.upper() if len(d.input) <= 4 else d.input
                shown = f"{name} {_shown(number)}{' ' + d.unit if d.unit else ''}"
                if d.factor != 1.0:
                    shown += f" is {_shown(value)} {d.converted_unit} ({d.factor_text})"
                text = f"{shown} -> {_points_text(item, cats)}"
                if d.note:
                    text += f"; {d.note}"
                return Resolution(cats, f"{d.input}={_shown(number)}", text)
        raise InvalidInputError(field_name, raw, d.describe)
    # Subscore given directly as a total
    nested: _Compiled = compiled
    lo, hi = nested.range
    try:
        total = int(raw)
        if isinstance(raw, bool) or total != float(raw) or not lo <= total <= hi:
            raise ValueError
    except (TypeError, ValueError, OverflowError):  # OverflowError: int() of an infinite float
        raise InvalidInputError(field_name, raw, d.describe) from None
    cats = tuple(c for low, high, c in d.bins if low <= total <= high)
    text = f"{nested.definition.name} {total} -> {_points_text(item, cats)}"
    return Resolution(cats, f"{d.input}={total}", text)


def _subscore(item: _CItem, d: Subscore, nested: _Compiled, inputs: Mapping[str, Any]) -> Resolution | None:
    """Resolve an item from a nested score evaluated on the same inputs (None: nothing given)."""
    sub_inputs = {k: v for k, v in inputs.items() if k in nested.accepted and v is not None}
    if not sub_inputs:
        return None
    lo = hi = 0
    warnings: list[str] = []
    missing: list[str] = []
    for ci in nested.items:
        res = _resolve(ci, nested.definition.key, sub_inputs)
        pts = [ci.points[c] for c in res.possible]
        i_lo, i_hi = min(pts), max(pts)
        lo += i_lo
        hi += i_hi
        if i_lo != i_hi:
            missing.append(ci.key)
        warnings.extend(res.warnings)
    cats = tuple(c for low, high, c in d.bins if high >= lo and low <= hi)
    name = nested.definition.name
    if lo == hi:
        text = f"{name} {lo} -> {_points_text(item, cats)}"
    else:
        text = f"{name} {lo}..{hi} (missing: {', '.join(missing)}) -> {_points_text(item, cats)}"
    return Resolution(cats, f"{name} items", text, tuple(warnings))


def _resolve(item: _CItem, score_key: str, inputs: Mapping[str, Any]) -> Resolution:
    """Resolve one item: direct category, same-name derivation, derivations in order, or missing."""
    raw = inputs.get(item.key)
    if raw is not None:
        value = _norm(raw, "lower")
        cat = item.by_lower.get(value)
        if cat is not None:
            return Resolution((cat,), f"{item.key}={cat}", None)
        if item.same_name is not None:
            for _name, d, comp in item.derivations:
                if d is item.same_name:
                    return _derive(item, d, comp, raw, score_key, inputs)
        raise InvalidInputError(f"{score_key}.{item.key}", raw, item.all_categories)
    for name, d, comp in item.derivations:
        raw = inputs.get(name)
        if raw is not None:
            return _derive(item, d, comp, raw, score_key, inputs)
    for _name, d, comp in item.derivations:
        if isinstance(d, Subscore):
            res = _subscore(item, d, comp, inputs)
            if res is not None:
                return res
    return Resolution(item.all_categories)


def _deciding_input(ci: _CItem, inputs: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The (name, raw value) that decides the item, as :func:`_resolve` would pick it."""
    raw = inputs.get(ci.key)
    if raw is not None:
        return ci.key, raw
    for name, _d, _comp in ci.derivations:
        raw = inputs.get(name)
        if raw is not None:
            return name, raw
    return None


def _entry(ci: _CItem, res: Resolution) -> _Entry:
    possible = res.possible
    if len(possible) == 1:
        i_lo = i_hi = ci.points[possible[0]]
    else:
        pts = [ci.points[c] for c in possible]
        i_lo, i_hi = min(pts), max(pts)
    determined = i_lo == i_hi
    result = construct(
        ItemResult,
        {
            "key": ci.key,
            "label": ci.label,
            "category": possible[0] if len(possible) == 1 else None,
            "possible": possible,
            "points": i_lo if determined else None,
            "min": i_lo,
            "max": i_hi,
            "input": res.input,
            "derivation": res.derivation,
            "question": None if determined else ci.question,
        },
    )
    return result, i_lo, i_hi, determined, res.warnings


def _item_entry(ci: _CItem, score_key: str, inputs: Mapping[str, Any]) -> _Entry:
    """The finished result of one item, from the cache when the deciding input was seen before."""
    deciding = _deciding_input(ci, inputs)
    if deciding is None:
        if ci.has_subscore:
            return _entry(ci, _resolve(ci, score_key, inputs))
        cache_key: tuple[str, type, Any] = ("", type(None), None)
    else:
        name, raw = deciding
        try:
            cache_key = (name, type(raw), raw)
            hit = ci.cache.get(cache_key)
        except TypeError:  # unhashable raw value: resolve (and fail) without the cache
            return _entry(ci, _resolve(ci, score_key, inputs))
        if hit is not None:
            return hit
    hit = ci.cache.get(cache_key)
    if hit is not None:
        return hit
    made = _entry(ci, _resolve(ci, score_key, inputs))
    if len(ci.cache) < _CACHE_LIMIT:
        ci.cache[cache_key] = made
    return made


def _blank(value: Any) -> bool:
    """Empty or whitespace-only text: unknown, exactly like a value not given (and a blank cohort cell)."""
    return isinstance(value, str) and not value.strip()


def resolve_item(spec: ScoreSpec, item: Item, inputs: Mapping[str, Any]) -> Resolution:
    """Resolve one item of ``spec`` from calculator inputs (public for the cohort and web paths)."""
    compiled = compile_definition(spec.definition)
    citem = next(ci for ci in compiled.items if ci.key == item.key)
    return _resolve(citem, spec.definition.key, inputs)


def evaluate(
    spec: ScoreSpec | ScoreDefinition,
    inputs: Mapping[str, Any],
    subject: str | None = None,
    options: Mapping[str, str] | None = None,
) -> ScoreResult:
    """Score ``inputs`` (item categories or raw values) against a spec or definition."""
    defn = spec.definition if isinstance(spec, ScoreSpec) else spec
    compiled = compile_definition(defn)
    accepted = compiled.accepted
    for k in inputs:
        if k not in accepted:
            raise InvalidInputError(f"{defn.key}.{k}", inputs[k], compiled.accepted_text)
    if any(_blank(v) for v in inputs.values()):  # an empty answer is no answer: the item is missing
        inputs = {k: v for k, v in inputs.items() if not _blank(v)}
    items: list[ItemResult] = []
    lo = hi = 0
    missing: list[str] = []
    questions: dict[str, str] = {}
    warnings: list[str] = []
    key = defn.key
    for ci in compiled.items:
        entry = _item_entry(ci, key, inputs)
        result, i_lo, i_hi, determined, item_warnings = entry
        lo += i_lo
        hi += i_hi
        if not determined:
            missing.append(ci.key)
            questions[ci.key] = ci.question
        if item_warnings:
            warnings.extend(item_warnings)
        items.append(result)
    lo, hi, capped = defn.cap(lo, hi)
    if capped:
        warnings.append(capped)
    return _result(compiled, items, lo, hi, missing, questions, warnings, subject, options or {})


def _result(
    compiled: _Compiled,
    items: list[ItemResult],
    lo: int,
    hi: int,
    missing: list[str],
    questions: dict[str, str],
    warnings: list[str],
    subject: str | None,
    options: Mapping[str, str],
) -> ScoreResult:
    defn = compiled.definition
    bands = [b for b in compiled.bands if b.high >= lo and b.low <= hi]
    determined = len(bands) == 1
    complete = not missing
    grade = None
    if defn.kind is not ScoreKind.additive and complete and items:
        grade = items[0].category
    return construct(
        ScoreResult,
        {
            "score": defn.key,
            "name": defn.name,
            "version": defn.version,
            "kind": defn.kind,
            "subject": subject,
            "total": lo if lo == hi else None,
            "grade": grade,
            "min": lo,
            "max": hi,
            "range": compiled.range,
            "band": bands[0] if determined else None,
            "band_determined": determined,
            "possible_bands": tuple(b.label for b in bands),
            "complete": complete,
            "missing": tuple(missing),
            "questions": questions,
            "items": tuple(items),
            "citation": compiled.citations,
            "options": dict(options),
            "warnings": tuple(dict.fromkeys(warnings)) if warnings else (),
            "notes": defn.notes,
        },
    )
