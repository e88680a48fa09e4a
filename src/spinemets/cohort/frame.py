"""Score one in-memory chunk: mapping, every score, error table. Both engines call :func:`score_chunk`.

A chunk is a polars DataFrame of consecutive registry rows; ``row_offset`` is how many rows of the
file precede it, so error rows are numbered over the whole file (1-based, header excluded).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from spinemets.cohort.expressions import INVALID_PREFIX, ColumnScorer, empty_errors
from spinemets.cohort.fast import FastCache, FastScorer, TooManyStates, bool_column, dictionary_column
from spinemets.cohort.mapping import CohortMapping
from spinemets.errors import InvalidInputError
from spinemets.scores.catalogue import DEFINITIONS_VERSION
from spinemets.scores.engine import WHOLE_FLOAT_LIMIT, ScoreSpec

#: Column carrying the score-definition version on every output row.
VERSION_COLUMN = "spinemets_definitions_version"


@dataclass(frozen=True)
class ChunkResult:
    """A scored chunk: input columns as read, mapped inputs, score columns, version; and its errors."""

    table: pa.Table
    errors: pl.DataFrame
    rows: int

    @property
    def scored(self) -> pl.DataFrame:
        frame = pl.from_arrow(self.table)
        if not isinstance(frame, pl.DataFrame):  # pragma: no cover - a table gives a frame
            raise TypeError("expected a table")
        return frame.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))


#: Arrow field metadata under which polars keeps an Enum's categories (length-prefixed, in order).
POLARS_ENUM_KEY = b"_PL_ENUM_VALUES2"


def _field(name: str, arr: pa.Array, complete: bool) -> pa.Field:
    """A score column's field. A text column that lists every category of its definition (bands,
    possible bands, missing-item sets, grades) is marked as a polars Enum of exactly those: the output
    is typed with its possible values, and polars writes an Enum in about half the time of a
    Categorical."""
    if not (complete and pa.types.is_dictionary(arr.type)):
        return pa.field(name, arr.type)
    return pa.field(
        name, arr.type, metadata={POLARS_ENUM_KEY: _enum_values(tuple(arr.dictionary.to_pylist()))}
    )


@functools.lru_cache(maxsize=4096)
def _enum_values(names: tuple[str, ...]) -> bytes:
    return b"".join(b"%d;%s" % (len(v.encode()), v.encode()) for v in names)


def _to_polars(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    if not isinstance(frame, pl.DataFrame):  # pragma: no cover - a table gives a frame
        raise TypeError("expected a table")
    return frame


def _to_polars_series(arr: pa.Array | pa.ChunkedArray) -> pl.Series:
    s = pl.from_arrow(arr)
    if not isinstance(s, pl.Series):  # pragma: no cover - an array gives a series
        raise TypeError("expected an array")
    return s


def _blank(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Empty or whitespace-only text (``utf8_is_space`` is false for the empty string).

    Built without Python scalars: pyarrow imports pandas to convert one (a third of a second).
    """
    empty = pc.invert(pc.cast(pc.utf8_length(values), pa.bool_()))
    return pc.or_kleene(pc.utf8_is_space(values), empty)


def _blank_as_null(col: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """``col`` with blank text as null, or None when it holds no blank text (or is not text)."""
    t = col.type
    if pa.types.is_dictionary(t) and (
        pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
    ):
        chunks, changed = [], False
        for chunk in col.chunks:
            blank_values = _blank(chunk.dictionary)
            if not pc.any(blank_values).as_py():
                chunks.append(chunk)
                continue
            rows = pc.take(blank_values, chunk.indices)
            indices = pc.if_else(rows, pa.nulls(len(chunk), chunk.indices.type), chunk.indices)
            chunks.append(pa.DictionaryArray.from_arrays(indices, chunk.dictionary))
            changed = True
        return pa.chunked_array(chunks, t) if changed else None
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return None
    blank = _blank(col)
    if not pc.any(blank).as_py():
        return None
    return pc.if_else(blank, pa.nulls(len(col), t), col)


def blanks_as_missing(
    table: pa.Table, specs: Mapping[str, ScoreSpec], mapping: CohortMapping | None
) -> pa.Table:
    """Empty and whitespace-only text in the columns the scores or the mapping read becomes missing.

    As in calculator mode (``spinemets.score`` with ``kps=" "``): a blank cell means unknown, so the
    score becomes a range with the item missing, never an invalid value. The same for CSV (a cell
    of spaces) and Parquet (an empty string).
    """
    read = {name for spec in specs.values() for name in spec.definition.accepted_inputs()}
    sources = mapping.sources if mapping is not None else frozenset()
    for i, name in enumerate(table.column_names):
        if name in sources or name in read or name.split(".", 1)[-1] in read:
            fixed = _blank_as_null(table.column(i))
            if fixed is not None:
                table = table.set_column(i, table.schema.field(i).with_type(fixed.type), fixed)
    return table


#: Prefix of the column holding a mapped input's registry cell as read (error path only).
RAW_PREFIX = "__raw__"


def _float_spelling(code: str) -> bool:
    """True for a code written as a float prints (``1.0``, ``1e20``), not as an integer (``1``)."""
    try:
        float(code)
    except ValueError:
        return False
    return not code.strip().lstrip("+-").isdigit()


def apply_mapping(
    df: pl.DataFrame, mapping: CohortMapping | None, row_offset: int, raw: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Registry columns -> spinemets inputs; unlisted codes are flagged and reported, never dropped.

    ``raw``: also keep each mapped input's registry cell as read (``__raw__<input>``), for the error table.
    """
    if mapping is None or not mapping.columns:
        return df, empty_errors()
    exprs: list[pl.Expr] = []
    errors: list[pl.DataFrame] = []
    indexed = None
    for target, cm in mapping.columns.items():
        if cm.source not in df.columns:
            raise InvalidInputError(
                f"mapping.columns.{target}.from",
                cm.source,
                "a column of the input file: " + ", ".join(df.columns),
            )
        src = pl.col(cm.source)
        if cm.codes is None:
            exprs.append(src.alias(target))
            if raw:
                exprs.append(src.cast(pl.String).alias(RAW_PREFIX + target))
            continue
        table = {k.lower(): None if v is None else str(v) for k, v in cm.codes.items()}
        keys, values = list(table), list(table.values())
        as_text = src.cast(pl.String)
        if df.schema[cm.source].is_float():  # code 1 stored as 1.0 (an integer column with gaps, from pandas)
            whole = src.is_finite() & (src == src.floor()) & (src.abs() <= WHOLE_FLOAT_LIMIT)
            integer = src.cast(pl.Int64, strict=False).cast(pl.String)
            # a code written as a float prints (1.0, as pandas shows it) still matches it, as the CSV
            # text 1.0 does; looked up only when the table has such a code (it costs a second lookup)
            float_keys = [k for k in keys if _float_spelling(k)]
            if float_keys:
                whole = whole & ~as_text.str.to_lowercase().is_in(float_keys)
            as_text = pl.when(whole).then(integer).otherwise(as_text)
        text = as_text.str.strip_chars().str.to_lowercase()  # as calculator mode compares text
        flag = text.is_not_null() & ~text.is_in(keys)
        translated = text.replace_strict(keys, values, default=None, return_dtype=pl.String)
        exprs.append(translated.alias(target))
        if raw:  # the registry's code, and what the mapping made of it
            exprs.append(
                pl.format("{} (mapped to {})", src.cast(pl.String), translated).alias(RAW_PREFIX + target)
            )
        exprs.append(flag.alias(INVALID_PREFIX + target))
        if indexed is None:
            indexed = df.with_row_index("__row", offset=row_offset + 1)
        bad = indexed.filter(flag)
        if bad.height:
            errors.append(
                bad.select(
                    pl.col("__row").cast(pl.Int64).alias("row"),
                    pl.lit(cm.source).alias("column"),
                    src.cast(pl.String).alias("value"),
                    pl.lit("").alias("score"),
                    pl.lit(f"mapping.{target}").alias("field"),
                    pl.lit("one of the mapped codes: " + ", ".join(cm.codes)).alias("allowed"),
                )
            )
    mapped = df.with_columns(exprs)
    return mapped, (pl.concat(errors) if errors else empty_errors())


def score_chunk(
    df: pl.DataFrame | pa.Table,
    specs: Mapping[str, ScoreSpec],
    mapping: CohortMapping | None = None,
    row_offset: int = 0,
    item_points: bool = False,
    fast: bool = True,
    cache: FastCache | None = None,
) -> ChunkResult:
    """Every score for every row of ``df`` plus the chunk's error table (mapping + score errors).

    ``fast`` uses the distinct-value tables of :mod:`spinemets.cohort.fast`; otherwise (or when an
    item has too many joint states) the row-wise expressions of :mod:`spinemets.cohort.expressions`.
    The error table always comes from the expressions, run on the rows that have an invalid value.
    ``cache`` (one per run) lets the chunks of a file share the tables built from distinct values.
    Input columns are passed through exactly as read.
    """
    if isinstance(df, pl.DataFrame):
        df = df.to_arrow()
    passed_through = df  # the output carries the input exactly as read
    arrow_in = blanks_as_missing(df, specs, mapping)
    sources = mapping.sources if mapping else frozenset()
    # dictionary-encoded text the mapping does not read stays in Arrow (the scorer codes it there)
    skip = (
        [f.name for f in arrow_in.schema if pa.types.is_dictionary(f.type) and f.name not in sources]
        if fast
        else []
    )
    frame = _to_polars(arrow_in.drop_columns(skip))
    mapped, map_errors = apply_mapping(frame, mapping, row_offset)
    scores: dict[str, pa.Array] | None = None
    scores_are_fast = False
    if fast:
        try:
            untouched = frozenset(arrow_in.column_names) - frozenset(mapping.columns if mapping else ())
            scores = FastScorer(specs, mapped, item_points, arrow_in, untouched, cache).columns()
            scores_are_fast = True
        except TooManyStates:
            scores = None
    if scores is None:
        if skip:
            mapped, _ = apply_mapping(_to_polars(arrow_in), mapping, row_offset)
        scorer = ColumnScorer(specs, mapped.schema, item_points=item_points)
        names = [c for k in specs for c in scorer.output_columns(k)]
        out = scorer.apply(mapped.lazy()).select(names).collect().to_arrow()
        scores = {n: out.column(n).combine_chunks() for n in names}
    flags = [f"{k}_input_error" for k in specs]
    score_errors = empty_errors()
    if flags:
        any_error = np.zeros(arrow_in.num_rows, dtype=bool)
        for f in flags:
            any_error |= _to_polars_series(scores[f]).fill_null(False).to_numpy()
        if any_error.any():
            rows = pl.Series("__row", np.flatnonzero(any_error) + row_offset + 1, dtype=pl.Int64)
            subset = _to_polars(arrow_in.filter(bool_column(any_error, (None, 0))))
            sub_mapped, _ = apply_mapping(subset, mapping, row_offset, raw=True)
            sub_mapped = sub_mapped.with_columns(rows)
            registry = {
                t: (cm.source, RAW_PREFIX + t) for t, cm in (mapping.columns if mapping else {}).items()
            }
            scorer = ColumnScorer(specs, sub_mapped.schema, registry=registry)
            score_errors = scorer.error_rows(scorer.apply(sub_mapped.lazy()).collect(), row_offset)
    table = passed_through
    new_inputs = [c for c in (mapping.columns if mapping else {}) if c in mapped.columns]
    for name in new_inputs:
        col = mapped[name].to_arrow()
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, col)
        else:
            table = table.append_column(name, col)
    complete = fast and scores_are_fast  # fast-path text columns list every category, in order
    for name, arr in scores.items():
        table = table.append_column(_field(name, arr, complete), arr)
    no_nulls = np.zeros(frame.height, dtype=bool)
    version = dictionary_column(np.zeros(frame.height, dtype=np.int8), [DEFINITIONS_VERSION], no_nulls)
    table = table.append_column(_field(VERSION_COLUMN, version, True), version)
    errors = pl.concat([map_errors, score_errors]) if map_errors.height else score_errors
    return ChunkResult(table, errors.sort("row", maintain_order=True), frame.height)
