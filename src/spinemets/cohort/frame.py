"""Score one in-memory chunk: mapping, every score, error table. Both engines call :func:`score_chunk`.

A chunk is a polars DataFrame of consecutive registry rows; ``row_offset`` is how many rows of the
file precede it, so error rows are numbered over the whole file (1-based, header excluded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from spinemets.cohort.expressions import INVALID_PREFIX, ColumnScorer, empty_errors
from spinemets.cohort.mapping import CohortMapping
from spinemets.errors import InvalidInputError
from spinemets.scores.catalogue import DEFINITIONS_VERSION
from spinemets.scores.engine import ScoreSpec

#: Column carrying the score-definition version on every output row.
VERSION_COLUMN = "spinemets_definitions_version"


@dataclass(frozen=True)
class ChunkResult:
    scored: pl.DataFrame
    errors: pl.DataFrame
    rows: int


def apply_mapping(
    df: pl.DataFrame, mapping: CohortMapping | None, row_offset: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Registry columns -> spinemets inputs; unlisted codes are flagged and reported, never dropped."""
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
            continue
        keys = list(cm.codes)
        values = [None if v is None else str(v) for v in cm.codes.values()]
        text = src.cast(pl.String).str.strip_chars()
        flag = text.is_not_null() & ~text.is_in(keys)
        exprs.append(text.replace_strict(keys, values, default=None, return_dtype=pl.String).alias(target))
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
                    pl.lit("one of the mapped codes: " + ", ".join(keys)).alias("allowed"),
                )
            )
    mapped = df.with_columns(exprs)
    return mapped, (pl.concat(errors) if errors else empty_errors())


def score_chunk(
    df: pl.DataFrame,
    specs: Mapping[str, ScoreSpec],
    mapping: CohortMapping | None = None,
    row_offset: int = 0,
    item_points: bool = False,
) -> ChunkResult:
    """Every score for every row of ``df`` plus the chunk's error table (mapping + score errors)."""
    mapped, map_errors = apply_mapping(df, mapping, row_offset)
    scorer = ColumnScorer(specs, mapped.schema, item_points=item_points)
    scored = scorer.apply(mapped.lazy()).collect()
    score_errors = scorer.error_rows(scored, row_offset)
    flags = [c for c in scored.columns if c.startswith(INVALID_PREFIX) or c in scorer.temp_columns]
    scored = scored.drop(flags).with_columns(pl.lit(DEFINITIONS_VERSION).alias(VERSION_COLUMN))
    errors = pl.concat([map_errors, score_errors]) if map_errors.height else score_errors
    return ChunkResult(scored, errors.sort("row", maintain_order=True), df.height)
