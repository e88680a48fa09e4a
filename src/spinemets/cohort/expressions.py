"""Score definitions -> polars expressions: the column-wise twin of :func:`spinemets.scores.engine.evaluate`.

Nothing here holds a table. Every category, point, derivation table, bin and band is read from
the :class:`~spinemets.scores.engine.ScoreDefinition` that the single-patient path uses, and the
resolution order is the engine's: the item's own column (a category key, else its same-name
derivation), then each derivation input in published order, then a nested score
(:class:`~spinemets.scores.engine.Subscore`), else missing (every category possible).

An item resolves to the points range ``lo..hi`` of the categories still possible (``lo == hi``
means determined). A present value that no table accepts makes the item *invalid*: the single
path raises :class:`~spinemets.errors.InvalidInputError` for the whole score, so the cohort path
leaves that score empty for the row and reports the value in the error table instead.

Columns: a score ``s`` reads input ``x`` from column ``s.x`` when present, else from ``x``; so
registries can feed a score-specific value where two scores share an input name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from spinemets.scores.engine import (
    WHOLE_FLOAT_LIMIT,
    Bins,
    Item,
    Lookup,
    ScoreDefinition,
    ScoreKind,
    ScoreSpec,
    Subscore,
    _norm,
)

#: Prefix of the boolean column that flags an input value the mapping could not translate.
INVALID_PREFIX = "__invalid__"
#: Suffixes of the output columns of each score (``<score>_<suffix>``).
OUTPUT_SUFFIXES = (
    "total",
    "min",
    "max",
    "band",
    "band_determined",
    "possible_bands",
    "missing",
    "input_error",
)
_INT = pl.Int32


def _category_keys_text(item: Item) -> str:
    return "one of " + ", ".join(c.key for c in item.categories)


def _refused(column: str, dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
    """Null on every row of ``column``: no value of it is usable (true/false where a number belongs).

    Shaped as the column, not a literal: evaluated over a column's distinct values alone, a literal
    is one row, however many values there are.
    """
    return pl.when(pl.col(column).is_null()).then(pl.lit(None, dtype)).otherwise(pl.lit(None, dtype))


@dataclass(frozen=True)
class ErrorProbe:
    """One way a row can fail: ``flag`` is true where this column's value decided the item and is invalid."""

    score: str
    field: str
    column: str
    allowed: str
    flag: pl.Expr


@dataclass(frozen=True)
class ItemExpr:
    """An item resolved column-wise: points range, invalid flag and (for grades) the single category."""

    key: str
    lo: pl.Expr
    hi: pl.Expr
    invalid: pl.Expr
    category: pl.Expr | None
    stage: int


@dataclass
class _Source:
    stage: int
    present: pl.Expr
    lo: pl.Expr
    hi: pl.Expr
    category: pl.Expr | None
    invalid: pl.Expr
    """Invalid *given that this source was chosen* (the value is present)."""
    probes: list[tuple[str, str, str, pl.Expr]] = field(default_factory=list)
    """(field, column, allowed, invalid-if-chosen) for the error table."""
    column: str | None = None
    """The one frame column this source reads (None for a nested score)."""
    nested: Subscore | None = None
    """The nested score this source evaluates (Subscore derivations without a direct total)."""


class ColumnScorer:
    """Builds the expressions of a set of score specs for a frame with a known schema.

    Args:
        specs: score key -> spec (default: the whole catalogue).
        schema: column name -> polars dtype of the input frame (input columns may be absent).
        item_points: also output ``<score>_<item>_points`` (null when the item is undetermined).
    """

    def __init__(
        self,
        specs: Mapping[str, ScoreSpec],
        schema: Mapping[str, pl.DataType],
        item_points: bool = False,
        inline: bool = False,
        registry: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.registry = dict(registry or {})
        """Mapped input -> (the registry column it was read from, a frame column with that cell as read):
        the error table names the registry's column and value, not the spinemets input."""
        self.inline = inline
        """Build plain expressions (no temporary columns): used to evaluate distinct values."""
        self.specs = dict(specs)
        self.schema = dict(schema)
        self.item_points = item_points
        self.prepare: list[pl.Expr] = []
        """Temporary columns joining ``score.input`` with ``input`` (the score-specific one wins)."""
        self.temp_columns: list[str] = []
        self._labels: dict[str, tuple[pl.Expr, str, str]] = {}
        self._stages: dict[int, dict[str, pl.Expr]] = {}
        self._merge_overrides()

    def _reg(self, name: str, expr: pl.Expr, stage: int) -> pl.Expr:
        """Materialise ``expr`` once as temporary column ``name`` in ``stage`` (shared sub-results)."""
        if self.inline:
            return expr
        self._stages.setdefault(stage, {})[name] = expr.alias(name)
        return pl.col(name)

    def _merge_overrides(self) -> None:
        for key, spec in self.specs.items():
            for name in spec.definition.accepted_inputs():
                specific = f"{key}.{name}"
                if specific not in self.schema or name not in self.schema:
                    continue
                temp = f"__in__{specific}"
                a, b = pl.col(specific), pl.col(name)
                dtype = self.schema[specific]
                if dtype != self.schema[name]:
                    a, b, dtype = a.cast(pl.String), b.cast(pl.String), pl.String()
                pa_ = self._present(specific)
                self.prepare.append(pl.when(pa_).then(a).otherwise(b).alias(temp))
                self._labels[temp] = (pa_, specific, name)
                fa, fb = self._flag(specific), self._flag(name)
                self.temp_columns.append(temp)
                if fa is not None or fb is not None:
                    fa = fa if fa is not None else pl.lit(False)
                    fb = fb if fb is not None else pl.lit(False)
                    self.prepare.append(pl.when(pa_).then(fa).otherwise(fb).alias(INVALID_PREFIX + temp))
                    self.temp_columns.append(INVALID_PREFIX + temp)
                    self.schema[INVALID_PREFIX + temp] = pl.Boolean()
                self.schema[temp] = dtype

    def column_label(self, column: str) -> tuple[pl.Expr, pl.Expr]:
        """The registry-facing name and value of a column: a mapped input names the registry column
        and its cell as read; a temporary, the column actually read."""
        override = self._labels.get(column)
        if override is not None:
            present, specific, name = override
            a, b = self.column_label(specific), self.column_label(name)
            return (
                pl.when(present).then(a[0]).otherwise(b[0]),
                pl.when(present).then(a[1]).otherwise(b[1]),
            )
        label, raw = self.registry.get(column, (column, column))
        return pl.lit(label), pl.col(raw).cast(pl.String)

    # ---- columns -------------------------------------------------------------------------------

    def column_for(self, score_key: str, name: str) -> str | None:
        """The frame column carrying input ``name`` of score ``score_key``, if any."""
        for candidate in (f"__in__{score_key}.{name}", f"{score_key}.{name}", name):
            if candidate in self.schema:
                return candidate
        return None

    def _flag(self, column: str) -> pl.Expr | None:
        name = INVALID_PREFIX + column
        return pl.col(name) if name in self.schema else None

    def _present(self, column: str) -> pl.Expr:
        flag = self._flag(column)
        base = pl.col(column).is_not_null()
        return base if flag is None else base | flag

    def _as_text(self, column: str, how: str) -> pl.Expr:
        """The value as the engine's ``_norm`` sees it: ``str(value).strip()`` then lower/upper."""
        dtype = self.schema[column]
        e = pl.col(column)
        if dtype == pl.Boolean:
            # str(True) == "True"
            e = pl.when(e).then(pl.lit("True")).otherwise(pl.lit("False"))
        elif dtype.is_float():
            # as the engine: a whole number (1.0) reads as the integer it equals ("1"), others as str()
            whole = (e == e.floor()) & (e.abs() <= WHOLE_FLOAT_LIMIT)
            e = (
                pl.when(whole)
                .then(e.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(e.cast(pl.String))
            )
        elif dtype != pl.String:
            e = e.cast(pl.String)
        e = e.str.strip_chars()
        if how == "lower":
            e = e.str.to_lowercase()
        elif how == "upper":
            e = e.str.to_uppercase()
        return self._reg(f"__txt__{how}__{column}", e, 0)

    def _as_number(self, column: str) -> pl.Expr:
        """``float(value)`` for the engine's Bins: booleans are invalid, text is parsed after stripping."""
        dtype = self.schema[column]
        e = pl.col(column)
        if dtype == pl.Boolean:
            return _refused(column, pl.Float64)
        if dtype.is_numeric():
            return e.cast(pl.Float64)
        return self._reg(
            f"__num__{column}", e.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False), 0
        )

    def _masked(self, column: str, expr: pl.Expr) -> pl.Expr:
        flag = self._flag(column)
        return expr if flag is None else pl.when(flag).then(None).otherwise(expr)

    # ---- derivations -----------------------------------------------------------------------------

    @staticmethod
    def _range_of(item: Item, targets: Iterable[str]) -> tuple[int, int]:
        pts = [item.points(c) for c in targets]
        return min(pts), max(pts)

    def _lookup(
        self, item: Item, d: Lookup, column: str, grade: bool
    ) -> tuple[pl.Expr, pl.Expr, pl.Expr | None]:
        table: dict[str, tuple[str, ...]] = {}
        for k, v in d.table.items():
            table[_norm(k, d.normalise)] = (v,) if isinstance(v, str) else tuple(v)
        keys = list(table)
        text = self._as_text(column, d.normalise)
        los = [self._range_of(item, table[k])[0] for k in keys]
        his = [self._range_of(item, table[k])[1] for k in keys]
        lo = text.replace_strict(keys, los, default=None, return_dtype=_INT)
        hi = text.replace_strict(keys, his, default=None, return_dtype=_INT)
        cat = None
        if grade:
            cats = [table[k][0] if len(table[k]) == 1 else None for k in keys]
            cat = text.replace_strict(keys, cats, default=None, return_dtype=pl.String)
        return self._masked(column, lo), self._masked(column, hi), cat

    def _bins(self, item: Item, d: Bins, column: str, grade: bool) -> tuple[pl.Expr, pl.Expr, pl.Expr | None]:
        number = self._as_number(column)
        ok = number.is_not_null() & number.is_not_nan()
        if d.integer:
            ok = ok & (number == number.floor())
        step = getattr(d, "step", 0.0)
        if step:
            ok = ok & ((number % step) == 0)
        factor = getattr(d, "factor", 1.0)
        value = (number * factor).round(6) if factor != 1.0 else number
        plausible = getattr(d, "plausible", None)
        if plausible is not None:  # outside: invalid, reported in the error file like any bad value
            ok = ok & (value >= plausible[0]) & (value <= plausible[1])
        right_open = getattr(d, "right_open", False)
        lo_chain: Any = None
        hi_chain: Any = None
        cat_chain: Any = None
        for low, high, target in d.bins:
            cats = (target,) if isinstance(target, str) else tuple(target)
            p_lo, p_hi = self._range_of(item, cats)
            inside = (value >= low) & ((value < high) if right_open else (value <= high))
            cond = ok & inside
            single = cats[0] if len(cats) == 1 else None
            if lo_chain is None:
                lo_chain = pl.when(cond).then(pl.lit(p_lo, _INT))
                hi_chain = pl.when(cond).then(pl.lit(p_hi, _INT))
                cat_chain = pl.when(cond).then(pl.lit(single, pl.String))
            else:
                lo_chain = lo_chain.when(cond).then(pl.lit(p_lo, _INT))
                hi_chain = hi_chain.when(cond).then(pl.lit(p_hi, _INT))
                cat_chain = cat_chain.when(cond).then(pl.lit(single, pl.String))
        lo = lo_chain.otherwise(pl.lit(None, _INT))
        hi = hi_chain.otherwise(pl.lit(None, _INT))
        cat = cat_chain.otherwise(pl.lit(None, pl.String)) if grade else None
        return self._masked(column, lo), self._masked(column, hi), cat

    def _overlap(
        self, item: Item, bins: tuple[tuple[int, int, str], ...], nlo: pl.Expr, nhi: pl.Expr, grade: bool
    ) -> tuple[pl.Expr, pl.Expr, pl.Expr | None]:
        """Categories whose nested-total range overlaps ``nlo..nhi`` -> their points range."""
        hits = [((pl.lit(high) >= nlo) & (pl.lit(low) <= nhi), c) for low, high, c in bins]
        lo = pl.min_horizontal(*[pl.when(h).then(pl.lit(item.points(c), _INT)) for h, c in hits])
        hi = pl.max_horizontal(*[pl.when(h).then(pl.lit(item.points(c), _INT)) for h, c in hits])
        cat = None
        if grade:
            count = pl.sum_horizontal(*[h.cast(_INT) for h, _ in hits])
            first: Any = None
            for h, c in hits:
                first = pl.when(h).then(pl.lit(c)) if first is None else first.when(h).then(pl.lit(c))
            cat = pl.when(count == 1).then(first.otherwise(None))
        return lo, hi, cat

    def _subscore_total(
        self, item: Item, d: Subscore, column: str, grade: bool
    ) -> tuple[pl.Expr, pl.Expr, pl.Expr | None]:
        """A nested total given directly: an integer inside the nested score's range."""
        dtype = self.schema[column]
        e = pl.col(column)
        if dtype == pl.Boolean:
            total = _refused(column, pl.Int64)
        elif dtype.is_integer():
            total = e.cast(pl.Int64)
        elif dtype.is_float():
            total = pl.when(e == e.floor()).then(e).cast(pl.Int64, strict=False)
        else:
            total = e.cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
        nlo, nhi = d.definition.range
        total = pl.when((total >= nlo) & (total <= nhi)).then(total)
        hits = [((total >= low) & (total <= high), c) for low, high, c in d.bins]
        lo = pl.min_horizontal(*[pl.when(h).then(pl.lit(item.points(c), _INT)) for h, c in hits])
        hi = pl.max_horizontal(*[pl.when(h).then(pl.lit(item.points(c), _INT)) for h, c in hits])
        cat = None
        if grade:
            first: Any = None
            for h, c in hits:
                first = pl.when(h).then(pl.lit(c)) if first is None else first.when(h).then(pl.lit(c))
            cat = first.otherwise(None)
        return self._masked(column, lo), self._masked(column, hi), cat

    def _derive(
        self, item: Item, d: Any, column: str, grade: bool, name: str
    ) -> tuple[pl.Expr, pl.Expr, pl.Expr | None]:
        """One derivation of one column, materialised as ``name``__lo/__hi(/__cat) in stage 1."""
        if isinstance(d, Lookup):
            lo, hi, cat = self._lookup(item, d, column, grade)
        elif isinstance(d, Bins):
            lo, hi, cat = self._bins(item, d, column, grade)
        elif isinstance(d, Subscore):
            lo, hi, cat = self._subscore_total(item, d, column, grade)
        else:
            raise TypeError(f"derivation kind {type(d).__name__} has no column-wise form")
        return (
            self._reg(name + "__lo", lo, 1),
            self._reg(name + "__hi", hi, 1),
            None if cat is None else self._reg(name + "__cat", cat, 1),
        )

    # ---- items -----------------------------------------------------------------------------------

    def _sources(self, score_key: str, field_key: str, item: Item, grade: bool) -> list[_Source]:
        """The ways this item can be resolved from the frame, in the engine's priority order."""
        sources: list[_Source] = []
        base = f"__s__{score_key}__{field_key}__{item.key}"
        same = next((d for d in item.derivations if d.input == item.key), None)
        col = self.column_for(score_key, item.key)
        if col is not None:
            text = self._as_text(col, "lower")
            keys = [c.key.lower() for c in item.categories]
            pts = [c.points for c in item.categories]
            d_lo = self._reg(
                base + "__direct",
                self._masked(col, text.replace_strict(keys, pts, default=None, return_dtype=_INT)),
                1,
            )
            d_cat = None
            if grade:
                d_cat = self._reg(
                    base + "__direct_cat",
                    text.replace_strict(
                        keys, [c.key for c in item.categories], default=None, return_dtype=pl.String
                    ),
                    1,
                )
            if same is not None:
                s_lo, s_hi, s_cat = self._derive(item, same, col, grade, base + "__same")
                lo = pl.coalesce(d_lo, s_lo)
                hi = pl.coalesce(d_lo, s_hi)
                cat = pl.when(d_lo.is_not_null()).then(d_cat).otherwise(s_cat) if grade else None
                allowed = same.describe  # as calculator mode words it (it names the categories where needed)
            else:
                lo, hi, cat = d_lo, d_lo, d_cat
                allowed = _category_keys_text(item)
            inv = lo.is_null()
            sources.append(
                _Source(
                    1,
                    self._present(col),
                    lo,
                    hi,
                    cat,
                    inv,
                    [(f"{field_key}.{item.key}", col, allowed, inv)],
                    col,
                )
            )
        for n, d in enumerate(item.derivations):
            dcol = self.column_for(score_key, d.input)
            if dcol is None:
                continue
            lo, hi, cat = self._derive(item, d, dcol, grade, f"{base}__d{n}")
            inv = lo.is_null()
            sources.append(
                _Source(
                    1,
                    self._present(dcol),
                    lo,
                    hi,
                    cat,
                    inv,
                    [(f"{field_key}.{d.input}", dcol, d.describe, inv)],
                    dcol,
                )
            )
        for n, d in enumerate(item.derivations):
            if isinstance(d, Subscore):
                nested = self._nested(score_key, d.definition)
                if nested is None:
                    continue
                present, nlo, nhi, ninv, nprobes, stage = nested
                lo, hi, cat = self._overlap(item, d.bins, nlo, nhi, grade)
                lo = self._reg(f"{base}__sub{n}__lo", pl.when(ninv).then(None).otherwise(lo), stage + 1)
                hi = self._reg(f"{base}__sub{n}__hi", pl.when(ninv).then(None).otherwise(hi), stage + 1)
                if cat is not None:
                    cat = self._reg(f"{base}__sub{n}__cat", cat, stage + 1)
                sources.append(_Source(stage + 1, present, lo, hi, cat, ninv, nprobes, None, d))
        return sources

    def _nested(
        self, score_key: str, defn: ScoreDefinition
    ) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr, list[tuple[str, str, str, pl.Expr]], int] | None:
        """A nested score on the outer score's columns: (present, lo, hi, invalid, probes, stage)."""
        cols = [c for name in defn.accepted_inputs() if (c := self.column_for(score_key, name)) is not None]
        if not cols:
            return None
        present = pl.any_horizontal(*[self._present(c) for c in dict.fromkeys(cols)])
        items = [self.item(score_key, defn.key, it, False) for it in defn.items]
        lo = pl.sum_horizontal(*[i.lo for i in items])
        hi = pl.sum_horizontal(*[i.hi for i in items])
        inv = pl.any_horizontal(*[i.invalid for i in items])
        probes = [p for it in defn.items for p in self._item_probes(score_key, defn.key, it)]
        return present, lo, hi, inv, probes, max(i.stage for i in items)

    def _chosen_chain(
        self, sources: list[_Source], pick: Callable[[_Source], pl.Expr], default: pl.Expr
    ) -> pl.Expr:
        chain: Any = None
        for s in sources:
            chain = pl.when(s.present).then(pick(s)) if chain is None else chain.when(s.present).then(pick(s))
        return default if chain is None else chain.otherwise(default)

    def item(self, score_key: str, field_key: str, item: Item, grade: bool) -> ItemExpr:
        """The column-wise resolution of one item (``field_key`` names the score in messages)."""
        sources = self._sources(score_key, field_key, item, grade)
        stage = max([1, *(s.stage for s in sources)]) + 1
        base = f"__i__{score_key}__{field_key}__{item.key}"
        pts = [c.points for c in item.categories]
        lo = self._reg(
            base + "__lo", self._chosen_chain(sources, lambda s: s.lo, pl.lit(min(pts), _INT)), stage
        )
        hi = self._reg(
            base + "__hi", self._chosen_chain(sources, lambda s: s.hi, pl.lit(max(pts), _INT)), stage
        )
        invalid = self._reg(
            base + "__inv",
            self._chosen_chain(sources, lambda s: s.invalid, pl.lit(False)).fill_null(False),
            stage,
        )
        cat = None
        if grade:
            only = item.categories[0].key if len(item.categories) == 1 else None
            cat = self._reg(
                base + "__cat",
                self._chosen_chain(
                    sources,
                    lambda s: s.category if s.category is not None else pl.lit(None, pl.String),
                    pl.lit(only, pl.String),
                ),
                stage,
            )
        return ItemExpr(item.key, lo, hi, invalid, cat, stage)

    def _item_probes(self, score_key: str, field_key: str, item: Item) -> list[tuple[str, str, str, pl.Expr]]:
        """Per source: (field, column, allowed, flag) where the flag means 'chosen and invalid'."""
        out: list[tuple[str, str, str, pl.Expr]] = []
        sources = self._sources(score_key, field_key, item, False)
        earlier: pl.Expr = pl.lit(False)
        for s in sources:
            chosen = s.present & ~earlier
            for fld, col, allowed, inv in s.probes:
                out.append((fld, col, allowed, chosen & inv))
            earlier = earlier | s.present
        return out

    # ---- scores ----------------------------------------------------------------------------------

    def score_exprs(self, key: str) -> list[pl.Expr]:
        """The output columns of one score (its item columns are registered as temporaries)."""
        defn = self.specs[key].definition
        grade = defn.kind is not ScoreKind.additive
        items = [self.item(key, key, it, grade and idx == 0) for idx, it in enumerate(defn.items)]
        los = [i.lo for i in items]
        his = [i.hi for i in items]
        grade_cat = items[0].category if grade and items else None
        err = pl.any_horizontal(*[i.invalid for i in items])
        lo = pl.sum_horizontal(*los).cast(_INT)
        hi = pl.sum_horizontal(*his).cast(_INT)
        if defn.ceiling is not None:
            lo = pl.min_horizontal(lo, pl.lit(defn.ceiling, _INT))
            hi = pl.min_horizontal(hi, pl.lit(defn.ceiling, _INT))
        ok = ~err

        def when_ok(e: pl.Expr) -> pl.Expr:
            return pl.when(ok).then(e)

        hits = [(pl.lit(b.high) >= lo) & (pl.lit(b.low) <= hi) for b in defn.bands]
        count = pl.sum_horizontal(*[h.cast(_INT) for h in hits]) if hits else pl.lit(0, _INT)
        first: Any = None
        for h, b in zip(hits, defn.bands, strict=True):
            first = pl.when(h).then(pl.lit(b.key)) if first is None else first.when(h).then(pl.lit(b.key))
        band = (
            pl.when(count == 1).then(first.otherwise(None)) if first is not None else pl.lit(None, pl.String)
        )
        possible = pl.concat_str(
            [pl.when(h).then(pl.lit(b.label)) for h, b in zip(hits, defn.bands, strict=True)],
            separator=" | ",
            ignore_nulls=True,
        )
        missing = pl.concat_str(
            [
                pl.when(lo_i != hi_i).then(pl.lit(it.key))
                for lo_i, hi_i, it in zip(los, his, defn.items, strict=True)
            ],
            separator=";",
            ignore_nulls=True,
        )
        outputs = [
            when_ok(pl.when(lo == hi).then(lo)).alias(f"{key}_total"),
            when_ok(lo).alias(f"{key}_min"),
            when_ok(hi).alias(f"{key}_max"),
            when_ok(band).alias(f"{key}_band"),
            when_ok(count == 1).alias(f"{key}_band_determined"),
            when_ok(possible).alias(f"{key}_possible_bands"),
            when_ok(missing).alias(f"{key}_missing"),
            err.alias(f"{key}_input_error"),
        ]
        if grade_cat is not None:
            outputs.append(when_ok(pl.when(lo == hi).then(grade_cat)).alias(f"{key}_grade"))
        if self.item_points:
            for lo_i, hi_i, it in zip(los, his, defn.items, strict=True):
                outputs.append(when_ok(pl.when(lo_i == hi_i).then(lo_i)).alias(f"{key}_{it.key}_points"))
        return outputs

    def probes(self, key: str) -> list[ErrorProbe]:
        """Every (column, allowed) check of one score, as flags for the error table."""
        defn = self.specs[key].definition
        out: list[ErrorProbe] = []
        for it in defn.items:
            for fld, col, allowed, flag in self._item_probes(key, key, it):
                mflag = self._flag(col)
                if mflag is not None:
                    flag = flag & ~mflag  # the mapping already reported this value
                out.append(ErrorProbe(key, fld, col, allowed, flag.fill_null(False)))
        return out

    def output_columns(self, key: str) -> list[str]:
        defn = self.specs[key].definition
        cols = [f"{key}_{s}" for s in OUTPUT_SUFFIXES]
        if defn.kind is not ScoreKind.additive:
            cols.append(f"{key}_grade")
        if self.item_points:
            cols += [f"{key}_{it.key}_points" for it in defn.items]
        return cols

    def apply(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        """Append every score's output columns to ``lf``; temporaries are listed in :attr:`temp_columns`."""
        outputs = [e for key in self.specs for e in self.score_exprs(key)]
        lf = lf.with_columns(self.prepare)
        for stage in sorted(self._stages):
            exprs = list(self._stages[stage].values())
            self.temp_columns += [e.meta.output_name() for e in exprs]
            lf = lf.with_columns(exprs)
        return lf.with_columns(outputs)

    def error_rows(self, df: pl.DataFrame, row_offset: int) -> pl.DataFrame:
        """The error table of a scored chunk: one row per (row, score, field) with an invalid value.

        ``row`` is 1-based over the whole file (``row_offset`` rows precede this chunk).
        """
        flags = [f"{k}_input_error" for k in self.specs]
        numbered = df if "__row" in df.columns else df.with_row_index("__row", offset=row_offset + 1)
        bad = numbered.filter(pl.any_horizontal(*flags))
        if bad.height == 0:
            return empty_errors()
        parts: list[pl.DataFrame] = []
        for key in self.specs:
            sub = bad.filter(pl.col(f"{key}_input_error"))
            if sub.height == 0:
                continue
            for p in self.probes(key):
                hit = sub.filter(p.flag)
                if hit.height:
                    label, value = self.column_label(p.column)
                    parts.append(
                        hit.select(
                            pl.col("__row").cast(pl.Int64).alias("row"),
                            label.alias("column"),
                            value.alias("value"),
                            pl.lit(p.score).alias("score"),
                            pl.lit(p.field).alias("field"),
                            pl.lit(p.allowed).alias("allowed"),
                        )
                    )
        if not parts:
            return empty_errors()
        return pl.concat(parts).unique(maintain_order=True)


ERROR_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "column": pl.String(),
    "value": pl.String(),
    "score": pl.String(),
    "field": pl.String(),
    "allowed": pl.String(),
}


def empty_errors() -> pl.DataFrame:
    return pl.DataFrame(schema=ERROR_SCHEMA)
