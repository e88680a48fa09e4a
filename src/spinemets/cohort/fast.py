"""The fast column-wise path: evaluate each *distinct* value once, then broadcast by integer codes.

A registry column holds few distinct values (KPS deciles, a few dozen primaries, levels C0-S5), so
the generated polars expressions of :mod:`spinemets.cohort.expressions` are evaluated on the
distinct values of each column only, giving each value an *outcome class* (absent, invalid, or a
points range ``lo..hi``). Every item then combines its sources' classes through a small table that
applies the engine's priority order (first present source wins, else every category is possible),
and every score combines its items' ``lo``/``hi`` through band and missing-item tables. Per row
that is a handful of integer gathers and additions, so a million patients take well under a second.

The tables are built from the same expressions (hence the same score definitions) as the row-wise
expression path; the tests assert that both paths and :func:`spinemets.scores.engine.evaluate`
agree on every output column.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from spinemets.cohort.expressions import INVALID_PREFIX, ColumnScorer, _Source
from spinemets.scores.engine import Item, ScoreDefinition, ScoreKind, ScoreSpec

#: Most distinct values a continuous column may have for the per-value path (else row-wise classes).
MAX_DISTINCT = 65_536
#: Largest joint state table an item may need before the chunk falls back to the expression path.
MAX_JOINT_STATES = 1_000_000

State = tuple[bool, bool, int, int, str | None]
"""(present, valid, lo, hi, single category or None) of one source for one value."""
_ABSENT: State = (False, True, 0, 0, None)
_INVALID: State = (True, False, 0, 0, None)


class TooManyStates(Exception):
    """An item's sources have too many joint states for a table; use the expression path."""


#: Columns with up to this many distinct values have their value states remembered between chunks.
_CACHE_MAX_VALUES = 4096


class FastCache:
    """What depends only on the specs, the input schema and the distinct values, never on the rows.

    The chunks of one file share it, so the expressions are generated and evaluated on the distinct
    values once per run instead of once per chunk. A different schema or spec set starts afresh.
    """

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self.plain: ColumnScorer | None = None
        self.sources: dict[tuple[str, str, str, bool], list[_Source]] = {}
        self.states: dict[tuple[Any, ...], dict[Any, State]] = {}

    def bind(self, key: tuple[Any, ...]) -> None:
        if key != self._key:
            self._key = key
            self.plain = None
            self.sources.clear()
            self.states.clear()


@dataclass(frozen=True)
class ItemArrays:
    lo: np.ndarray
    hi: np.ndarray
    invalid: np.ndarray
    category: np.ndarray | None
    categories: tuple[str, ...]


class FastScorer:
    """Scores a chunk by distinct-value tables. ``frame`` must already hold mapped input columns."""

    def __init__(
        self,
        specs: Mapping[str, ScoreSpec],
        frame: pl.DataFrame,
        item_points: bool = False,
        arrow: pa.Table | None = None,
        untouched: frozenset[str] = frozenset(),
        cache: FastCache | None = None,
    ) -> None:
        """``arrow``: the chunk as read; its dictionary-encoded columns named in ``untouched`` (not
        replaced by the mapping) give their codes for free. ``cache``: shared by the chunks of a run."""
        self.arrow = arrow
        self.untouched = untouched
        # dictionary-encoded Arrow columns the frame leaves out: known as text, coded from Arrow
        self.arrow_only: dict[str, pl.DataType] = {}
        if arrow is not None:
            for name in arrow.column_names:
                if name not in frame.columns and pa.types.is_dictionary(arrow.schema.field(name).type):
                    self.arrow_only[name] = pl.String()
        self.specs = dict(specs)
        self.item_points = item_points
        planner = ColumnScorer(self.specs, {**frame.schema, **self.arrow_only})
        if planner.prepare and self.arrow_only:
            raise TooManyStates("score-specific override columns: decode every column first")
        self.frame = frame.with_columns(planner.prepare) if planner.prepare else frame
        schema = {c: t for c, t in self.frame.schema.items() if not c.startswith(INVALID_PREFIX)}
        schema.update(self.arrow_only)
        self.cache = cache if cache is not None else FastCache()
        self.cache.bind(
            (
                tuple((c, str(t)) for c, t in schema.items()),
                tuple(id(spec) for spec in self.specs.values()),
                tuple(self.specs),
            )
        )
        if self.cache.plain is None:
            self.cache.plain = ColumnScorer(self.specs, schema, inline=True)
            self.cache.plain.schema.update(schema)
        self.plain = self.cache.plain
        self.temp_columns = planner.temp_columns
        self.n = frame.height
        self._codes: dict[str, tuple[np.ndarray, pl.Series]] = {}
        self._cardinality: dict[str, bool] = {}
        self._distinct: dict[str, pl.Series] = {}
        self._items: dict[tuple[Any, ...], ItemArrays] = {}

    # ---- coding ------------------------------------------------------------------------------------

    def codes(self, column: str) -> tuple[np.ndarray, pl.Series]:
        """Per row: 0 = null, i+1 = ``values[i]``, len(values)+1 = flagged invalid by the mapping."""
        found = self._codes.get(column)
        if found is not None:
            return found
        dictionary = self._arrow_dictionary(column)
        s = self.frame[column] if dictionary is None else pl.Series(dtype=pl.String)
        if dictionary is None and s.null_count() < len(s):
            dictionary = _int_codes(s) if s.dtype.is_integer() else None
        if dictionary is not None:
            codes, values = dictionary
            k = len(values)
        else:
            values = self._unique(column)
            k = len(values)
        if dictionary is not None:
            pass
        elif s.dtype.is_integer() and k and int(values.max()) - int(values.min()) < 1_000_000:  # type: ignore[arg-type]
            base = int(values.min())  # type: ignore[arg-type]
            lut = np.zeros(int(values.max()) - base + 2, dtype=np.int32)  # type: ignore[arg-type]
            lut[values.to_numpy() - base + 1] = np.arange(1, k + 1, dtype=np.int32)
            codes = np.take(lut, s.fill_null(base - 1).to_numpy() - base + 1)
        elif s.dtype == pl.String:
            phys = s.cast(pl.Enum(values.to_list())).to_physical().cast(pl.Int32) + 1
            codes = phys.fill_null(0).to_numpy().astype(np.int32, copy=False)
        else:
            phys = s.replace_strict(values, pl.int_range(1, k + 1, eager=True, dtype=pl.Int32), default=None)
            codes = phys.fill_null(0).to_numpy().astype(np.int32, copy=False)
        flag = INVALID_PREFIX + column
        if flag in self.frame.columns:
            codes = np.where(self.frame[flag].fill_null(False).to_numpy(), k + 1, codes).astype(np.int32)
        # native-width codes: every source of this column gathers with them (np.take is fastest so)
        self._codes[column] = (codes.astype(np.intp, copy=False), values)
        return self._codes[column]

    def _arrow_dictionary(self, column: str) -> tuple[np.ndarray, pl.Series] | None:
        """Codes straight from a dictionary-encoded Arrow column (Parquet dictionary pages)."""
        if self.arrow is None or column not in self.untouched or column not in self.arrow.column_names:
            return None
        col = self.arrow.column(column)
        if not pa.types.is_dictionary(col.type):
            return None
        arr = col.unify_dictionaries().combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        if not isinstance(arr, pa.DictionaryArray):  # pragma: no cover - guarded by the type check
            return None
        idx = _filled_ints(arr.indices, -1)  # nulls -> -1 -> code 0
        codes = idx.astype(np.int32) + np.int32(1)
        values = pl.Series(column, arr.dictionary.cast(pa.string()).to_pylist(), dtype=pl.String)
        return codes, values

    def _value_states(self, src: _Source, values: pl.Series) -> list[State]:
        """State of each distinct value of the source's column, from the generated expressions."""
        if len(values) == 0:
            return []
        column = src.column or ""
        cat_expr = src.category if src.category is not None else pl.lit(None, pl.String)
        small = pl.DataFrame({column: values}).select(
            src.lo.alias("lo"), src.hi.alias("hi"), cat_expr.cast(pl.String).alias("cat")
        )
        out: list[State] = []
        for lo, hi, cat in small.iter_rows():
            out.append(_INVALID if lo is None else (True, True, int(lo), int(hi), cat))
        return out

    # ---- items -------------------------------------------------------------------------------------

    def _source_classes(
        self, score_key: str, item: Item, src: _Source, grade: bool
    ) -> tuple[np.ndarray, list[State]]:
        """(class per row, state per class) of one source."""
        if src.nested is not None:
            return self._nested_classes(score_key, item, src)
        if (
            src.column not in self.arrow_only
            and self.frame.schema[src.column or ""].is_float()
            and self._many_values(src.column or "")
        ):
            return self._dense_classes(item, src)
        codes, values = self.codes(src.column or "")
        states_by_value = self._memo_states(score_key, item, src, values)
        states: list[State] = [_ABSENT]
        index: dict[State, int] = {_ABSENT: 0}
        lut = np.zeros(len(values) + 2, dtype=np.uint8 if len(values) < 250 else np.int32)
        for i, st in enumerate([*states_by_value, _INVALID], start=1):
            if st not in index:
                index[st] = len(states)
                states.append(st)
            lut[i] = index[st]
        return np.take(lut, codes), states

    def _memo_states(self, score_key: str, item: Item, src: _Source, values: pl.Series) -> list[State]:
        """:meth:`_value_states`, evaluating only values no earlier chunk of the run has shown.

        Chunks list their distinct values in different orders (Parquet dictionaries follow first
        appearance), so the memo is per value. Floats are keyed with their sign so -0.0 and 0.0 stay
        apart; NaN never matches itself and is simply evaluated again.
        """
        if len(values) > _CACHE_MAX_VALUES:
            return self._value_states(src, values)
        memo = self.cache.states.setdefault((score_key, item.key, id(src), values.dtype), {})
        if len(memo) > 8 * _CACHE_MAX_VALUES:  # values that keep changing (fine-grained floats): start over
            memo.clear()
        floats = values.dtype.is_float()
        keys: list[Any] = [(v, math.copysign(1.0, v)) if floats else v for v in values.to_list()]
        out: list[State | None] = [memo.get(k) for k in keys]
        todo = [i for i, st in enumerate(out) if st is None]
        if todo:
            fresh = self._value_states(src, values.gather(todo))
            for i, st in zip(todo, fresh, strict=True):
                out[i] = memo[keys[i]] = st
        return [st for st in out if st is not None]

    def _dense_classes(self, item: Item, src: _Source) -> tuple[np.ndarray, list[State]]:
        """Continuous columns (many distinct values): evaluate row-wise, classes by (lo, hi, category)."""
        column = src.column or ""
        cats = [c.key for c in item.categories]
        cat_expr = src.category if src.category is not None else pl.lit(None, pl.String)
        pts = [c.points for c in item.categories]
        pmin, width, ncat = min(pts), max(pts) - min(pts) + 1, len(cats) + 1
        states: list[State] = [_ABSENT, _INVALID]
        for lo, hi, ci in itertools.product(range(width), range(width), range(ncat)):
            states.append((True, True, lo + pmin, hi + pmin, cats[ci - 1] if ci else None))
        cat_id = cat_expr.cast(pl.String).replace_strict(
            cats, list(range(1, ncat)), default=0, return_dtype=pl.Int32
        )
        dense = 2 + ((src.lo.cast(pl.Int32) - pmin) * width + (src.hi.cast(pl.Int32) - pmin)) * ncat + cat_id
        cls_expr = (
            pl.when(pl.col(column).is_null())
            .then(pl.lit(0, pl.Int32))
            .when(src.lo.is_null())
            .then(pl.lit(1, pl.Int32))
            .otherwise(dense)
        )
        cls = self.frame.select(cls_expr.alias("c"))["c"].to_numpy()
        flag = INVALID_PREFIX + column
        if flag in self.frame.columns:
            cls = np.where(self.frame[flag].fill_null(False).to_numpy(), 1, cls).astype(np.int32)
        return cls, states

    def _many_values(self, column: str) -> bool:
        """True when a continuous column has too many distinct values for a per-value table."""
        found = self._cardinality.get(column)
        if found is None:
            s = self.frame[column]
            distinct = len(self._unique(column)) + (1 if s.null_count() else 0)  # as n_unique counts
            found = self._cardinality[column] = distinct > MAX_DISTINCT
        return found

    def _unique(self, column: str) -> pl.Series:
        """Distinct non-null values of a frame column, hashed once per chunk (cardinality and codes)."""
        found = self._distinct.get(column)
        if found is None:
            found = self._distinct[column] = self.frame[column].drop_nulls().unique()
        return found

    def _present(self, column: str) -> np.ndarray:
        if column in self.arrow_only:
            return self.codes(column)[0] > 0
        present = self.frame[column].is_not_null().to_numpy()
        flag = INVALID_PREFIX + column
        if flag in self.frame.columns:
            present = present | self.frame[flag].fill_null(False).to_numpy()
        return present

    def _nested_classes(self, score_key: str, item: Item, src: _Source) -> tuple[np.ndarray, list[State]]:
        d = src.nested
        if d is None:  # pragma: no cover - guarded by the caller
            raise TooManyStates("not a nested source")
        defn: ScoreDefinition = d.definition
        cols = [
            c for name in defn.accepted_inputs() if (c := self.plain.column_for(score_key, name)) is not None
        ]
        present = np.zeros(self.n, dtype=bool)
        for c in dict.fromkeys(cols):
            present |= self._present(c)
        arrays = [self.item(score_key, defn.key, it, False) for it in defn.items]
        nlo, nhi, ninv = _totals(arrays, self.n)
        rmin, rmax = defn.range
        width = rmax - rmin + 1
        states: list[State] = [_ABSENT]
        for inv in (False, True):
            for lo, hi in itertools.product(range(rmin, rmax + 1), repeat=2):
                if inv:
                    states.append(_INVALID)
                    continue
                cats = [c for low, high, c in d.bins if high >= lo and low <= hi]
                if not cats:
                    states.append(_ABSENT)
                    continue
                pts = [item.points(c) for c in cats]
                states.append((True, True, min(pts), max(pts), cats[0] if len(cats) == 1 else None))
        cls = 1 + ninv.astype(np.int32) * width * width + (np.clip(nlo, rmin, rmax) - rmin) * width
        cls = cls + (np.clip(nhi, rmin, rmax) - rmin)
        return np.where(present, cls, 0).astype(np.int32), states

    def item(self, score_key: str, field_key: str, item: Item, grade: bool) -> ItemArrays:
        """Per-row ``lo``, ``hi``, ``invalid`` (and category index for grades) of one item."""
        skey = (score_key, field_key, item.key, grade)
        sources = self.cache.sources.get(skey)
        if sources is None:
            sources = self.cache.sources[skey] = self.plain._sources(score_key, field_key, item, grade)
        pts = [c.points for c in item.categories]
        cats = tuple(c.key for c in item.categories)
        default: State = (True, True, min(pts), max(pts), cats[0] if len(cats) == 1 else None)
        if not sources:
            return ItemArrays(
                np.full(self.n, min(pts), np.int32),
                np.full(self.n, max(pts), np.int32),
                np.zeros(self.n, bool),
                np.full(self.n, cats.index(default[4]) if default[4] else -1, np.int32) if grade else None,
                cats,
            )
        # An item shared by several scores (Tokuhashi 2005/1990, Bauer / modified Bauer / NESMS) reading
        # the same columns the same way is computed once per chunk.
        memo_key = (id(item), grade, tuple((s.stage, s.column, id(s.nested)) for s in sources))
        found = self._items.get(memo_key)
        if found is not None:
            return found
        found = self._items[memo_key] = self._item_arrays(score_key, item, grade, sources, pts, cats, default)
        return found

    def _item_arrays(
        self,
        score_key: str,
        item: Item,
        grade: bool,
        sources: list[_Source],
        pts: list[int],
        cats: tuple[str, ...],
        default: State,
    ) -> ItemArrays:
        per_source = [self._source_classes(score_key, item, s, grade) for s in sources]
        sizes = [len(states) for _, states in per_source]
        total = int(np.prod(sizes))
        if total > MAX_JOINT_STATES:
            raise TooManyStates(f"{score_key}.{item.key}: {total} joint states")
        dtype: type[np.integer[Any]] = np.uint8 if total <= 256 else np.uint16 if total <= 65536 else np.int64
        joint: np.ndarray[Any, Any] = np.zeros(self.n, dtype=dtype)
        for cls, states in per_source:
            joint *= len(states)
            joint += cls.astype(dtype, copy=False)
        lo_t = np.empty(total, np.int16)
        hi_t = np.empty(total, np.int16)
        inv_t = np.zeros(total, bool)
        cat_t = np.full(total, -1, np.int32)
        for j, combo in enumerate(itertools.product(*[states for _, states in per_source])):
            chosen = next((st for st in combo if st[0]), default)
            _, valid, lo, hi, cat = chosen
            if not valid:
                lo, hi = min(pts), min(pts)
            lo_t[j], hi_t[j], inv_t[j] = lo, hi, not valid
            if grade and cat is not None and valid:
                cat_t[j] = cats.index(cat)
        # np.take with a native index is about twice as fast as fancy indexing with a narrow one
        at = joint.astype(np.intp)
        return ItemArrays(
            np.take(lo_t, at),
            np.take(hi_t, at),
            np.take(inv_t, at),
            np.take(cat_t, at) if grade else None,
            cats,
        )

    # ---- scores ------------------------------------------------------------------------------------

    def score_columns(self, key: str) -> dict[str, pa.Array]:
        defn = self.specs[key].definition
        grade = defn.kind is not ScoreKind.additive
        if len(defn.items) > 16:
            raise TooManyStates(f"{key}: {len(defn.items)} items")
        items = [self.item(key, key, it, grade and i == 0) for i, it in enumerate(defn.items)]
        lo, hi, err = _totals(items, self.n)
        if defn.ceiling is not None:
            np.minimum(lo, defn.ceiling, out=lo)
            np.minimum(hi, defn.ceiling, out=hi)
        rmin, rmax = defn.range
        width = rmax - rmin + 1
        tables = _range_tables(defn)
        pair = (np.clip(lo, rmin, rmax) - rmin) * width + (np.clip(hi, rmin, rmax) - rmin)
        band_idx = np.take(tables.band, pair)
        mask_code = np.zeros(self.n, np.int32)
        for i, a in enumerate(items):
            mask_code |= (a.lo != a.hi).astype(np.int32) << i
        complete = lo == hi
        err_valid = _validity(err)  # shared by the columns that are null exactly when an input is invalid
        cols: dict[str, pa.Array] = {
            f"{key}_total": _int32(lo, _validity(err | ~complete)),
            f"{key}_min": _int32(lo, err_valid),
            f"{key}_max": _int32(hi, err_valid),
            f"{key}_band": dictionary_column(band_idx, [b.key for b in defn.bands], err | (band_idx < 0)),
            f"{key}_band_determined": bool_column(np.take(tables.determined, pair), err_valid),
            f"{key}_possible_bands": dictionary_column(
                np.take(tables.possible, pair), tables.possible_names, err, err_valid
            ),
            f"{key}_missing": dictionary_column(mask_code, tables.missing_names, err, err_valid),
            f"{key}_input_error": bool_column(err, (None, 0)),
        }
        if grade and items and items[0].category is not None:
            cat = items[0].category
            cols[f"{key}_grade"] = dictionary_column(
                cat, list(items[0].categories), err | ~complete | (cat < 0)
            )
        if self.item_points:
            for arrays, it in zip(items, defn.items, strict=True):
                cols[f"{key}_{it.key}_points"] = _int32(arrays.lo, _validity(err | (arrays.lo != arrays.hi)))
        return cols

    def columns(self) -> dict[str, pa.Array]:
        """Every score's output columns, as Arrow arrays (strings dictionary-encoded)."""
        out: dict[str, pa.Array] = {}
        for key in self.specs:
            out.update(self.score_columns(key))
        return out


@dataclass(frozen=True)
class RangeTables:
    """Per (min, max) pair of a score's range: the band decided, whether it is, the possible bands'
    text; and the text of every set of undetermined items. Depend on the definition only."""

    band: np.ndarray
    determined: np.ndarray
    possible: np.ndarray
    possible_names: list[str]
    missing_names: list[str]


_RANGE_TABLES: dict[int, tuple[ScoreDefinition, RangeTables]] = {}


def _range_tables(defn: ScoreDefinition) -> RangeTables:
    """Built once per definition (kept beside it: definitions are not hashable)."""
    found = _RANGE_TABLES.get(id(defn))
    if found is None or found[0] is not defn:
        found = _RANGE_TABLES[id(defn)] = (defn, _build_range_tables(defn))
    return found[1]


def _build_range_tables(defn: ScoreDefinition) -> RangeTables:
    rmin, rmax = defn.range
    width = rmax - rmin + 1
    band_t = np.full(width * width, -1, np.int32)
    det_t = np.zeros(width * width, bool)
    poss_t = np.zeros(width * width, np.int32)
    poss_names: dict[str, int] = {}
    for a, b in itertools.product(range(rmin, rmax + 1), repeat=2):
        hits = [i for i, band in enumerate(defn.bands) if band.high >= a and band.low <= b]
        j = (a - rmin) * width + (b - rmin)
        det_t[j] = len(hits) == 1
        band_t[j] = hits[0] if len(hits) == 1 else -1
        text = " | ".join(defn.bands[i].label for i in hits)
        poss_t[j] = poss_names.setdefault(text, len(poss_names))
    missing = [
        ";".join(it.key for i, it in enumerate(defn.items) if m >> i & 1) for m in range(1 << len(defn.items))
    ]
    return RangeTables(band_t, det_t, poss_t, list(poss_names), missing)


def _totals(items: list[ItemArrays], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum of item ``lo`` and ``hi``, and any item invalid, accumulated in place."""
    lo = np.zeros(n, np.int32)
    hi = np.zeros(n, np.int32)
    err = np.zeros(n, bool)
    for a in items:
        lo += a.lo
        hi += a.hi
        err |= a.invalid
    return lo, hi, err


def dictionary_column(
    indices: np.ndarray, names: list[str], mask: np.ndarray, valid: Validity | None = None
) -> pa.Array:
    """Dictionary-encoded strings: no per-row string is ever built (and Parquet keeps the dictionary)."""
    dtype = np.int8 if len(names) < 128 else np.int16 if len(names) < 32768 else np.int32
    idx = indices.astype(dtype)
    np.putmask(idx, mask, 0)
    bitmap, nulls = valid if valid is not None else _validity(mask)
    return pa.DictionaryArray.from_buffers(
        pa.dictionary(pa.from_numpy_dtype(idx.dtype), pa.string()),
        len(idx),
        [bitmap, pa.py_buffer(idx)],
        _dictionary(tuple(names)),
        nulls,
    )


@functools.lru_cache(maxsize=1024)
def _dictionary(names: tuple[str, ...]) -> pa.Array:
    # built by polars: ``pa.array`` imports pandas, a third of a second the scoring path never needs
    return pl.Series(list(names) or [""], dtype=pl.String).to_arrow().cast(pa.string())


def _filled_ints(arr: pa.Array, fill: int) -> np.ndarray:
    """An Arrow integer array as numpy with nulls replaced by ``fill``, read from its buffers.

    pyarrow's own ``fill_null``/``to_numpy`` import pandas on first use (a third of a second per run).
    """
    t = arr.type
    dtype = np.dtype(f"{'i' if pa.types.is_signed_integer(t) else 'u'}{t.bit_width // 8}")
    if len(arr) == 0:
        return np.zeros(0, dtype)
    values = np.frombuffer(arr.buffers()[1], dtype=dtype, count=arr.offset + len(arr))[arr.offset :]
    if arr.null_count == 0:
        return values
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    valid = np.unpackbits(bits, bitorder="little", count=arr.offset + len(arr))[arr.offset :].astype(bool)
    return np.where(valid, values.astype(np.int64), np.int64(fill))


Validity = tuple[pa.Buffer | None, int]
"""Arrow validity bitmap (None when nothing is null) and null count."""


def _validity(mask: np.ndarray) -> Validity:
    """Validity bitmap of a null mask, built once with numpy (pyarrow's ``mask=`` is several times slower)."""
    nulls = int(np.count_nonzero(mask))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(~mask, bitorder="little")), nulls


def _int32(values: np.ndarray, valid: Validity) -> pa.Array:
    data = np.ascontiguousarray(values, dtype=np.int32)
    return pa.Array.from_buffers(pa.int32(), len(data), [valid[0], pa.py_buffer(data)], valid[1])


def bool_column(values: np.ndarray, valid: Validity) -> pa.Array:
    data = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [valid[0], pa.py_buffer(data)], valid[1])


def _int_codes(s: pl.Series) -> tuple[np.ndarray, pl.Series] | None:
    """Integer column -> (codes, sorted distinct values) by one scatter and one gather, no hashing."""
    lo, hi = int(s.min()), int(s.max())  # type: ignore[arg-type]
    if hi - lo >= 1_000_000 or (lo == 0 and not s.dtype.is_signed_integer()):
        return None
    filled = s.fill_null(lo - 1).to_numpy() - (lo - 1)  # 0 = null, v - lo + 1 otherwise
    seen = np.zeros(hi - lo + 2, dtype=bool)
    seen[filled] = True
    seen[0] = False
    present = np.flatnonzero(seen)
    lut = np.zeros(hi - lo + 2, dtype=np.int32)
    lut[present] = np.arange(1, len(present) + 1, dtype=np.int32)
    values = pl.Series(s.name, present + (lo - 1), dtype=s.dtype)
    return np.take(lut, filled), values
