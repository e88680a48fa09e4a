"""One row per lesion -> one row per patient: the cohort twin of :func:`~spinemets.scores.worst_lesion`.

Registries often hold one row per lesion: the patient id repeated, the level and imaging findings
of one lesion per row, patient-level facts (KPS, primary, survival) repeated on every row.
``spinemets cohort score`` scores every row; this module folds the scored rows back to one row
per patient, column-wise (one polars ``group_by``, no Python loop over patients):

- **Lesion-level scores** (those whose definition says ``unit_of_scoring == "lesion"``: SINS,
  Bilsky ESCC) follow :func:`~spinemets.scores.worst_lesion` exactly. The lesion shown is the one
  with the highest attainable score (ties: the higher certain minimum, then the earlier row); its
  total, maximum, missing items, grade and item points are the patient's. The patient's worst
  lesion scores at least the highest certain minimum over *all* lesions, so the minimum is raised
  to it and the band is decided on the patient's range from the definition's own bands: a lesion
  certainly ESCC 2 makes the patient high grade while another lesion is still ungraded.
  ``<score>_level`` is the level of the lesion shown; ``<score>_min_level`` the level of the lesion
  whose certain minimum raised the patient's (empty when nothing was raised). A lesion whose input
  was invalid leaves the patient's score empty (``<score>_input_error``), as the single-patient
  path refuses the whole score.
- **Patient-level scores and every other column** must be the same on all rows of a patient; the
  value is carried. Where a patient's rows disagree, the value is left empty (for a score, all its
  columns) and each (patient, column) goes to the error file with the differing values and rows;
  one value is never picked silently. Lesion inputs (the columns lesion scores read, the level
  column and any ``lesion_columns``) are not carried.

The bands come from the score definitions (with the same ``options`` as the scoring run); every
lesion row's band is checked against them first, so a file scored with other options is refused.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from spinemets.cohort.expressions import OUTPUT_SUFFIXES
from spinemets.cohort.frame import VERSION_COLUMN
from spinemets.cohort.run import (
    META_SYNTHETIC,
    META_VERSION,
    SYNTHETIC_COLUMN,
    FileFormat,
    file_format,
    specs_with_options,
    write_summary,
)
from spinemets.errors import InvalidInputError
from spinemets.paths import check_outputs
from spinemets.scores.catalogue import DEFINITIONS_VERSION
from spinemets.scores.engine import ScoreDefinition, ScoreKind, ScoreSpec

#: Column with the number of lesion rows of each patient.
LESION_COUNT = "lesion_count"
#: Default column holding each lesion's level (the SINS input ``level``).
DEFAULT_LEVEL_COLUMN = "level"
#: How a missing value is shown among the differing values of the error file.
MISSING_TEXT = "(missing)"
_ROW = "__lesion_row"
_INT_SUFFIXES = ("_total", "_min", "_max", "_points")
_BOOL_SUFFIXES = ("_band_determined", "_input_error")


class LesionSummary(BaseModel):
    """What an aggregation did; printed on the terminal and written beside the output as JSON."""

    model_config = ConfigDict(frozen=True)
    input: str
    output: str
    errors_file: str
    id_column: str
    level_column: str
    definitions_version: str = DEFINITIONS_VERSION
    synthetic: bool
    rows: int
    """Lesion rows read."""
    patients: int
    max_lesions: int
    lesion_scores: tuple[str, ...]
    patient_scores: tuple[str, ...]
    raised_by_another_lesion: dict[str, int]
    """Per lesion score, patients whose minimum was raised by a lesion other than the one shown."""
    input_errors: dict[str, int]
    """Per lesion score, patients left empty because a lesion's input was invalid."""
    disagreements: int
    """(patient, column) pairs whose rows disagree (one line each in the error file)."""
    patients_with_disagreements: int
    disagreements_by_column: dict[str, int]
    seconds: float


@dataclass(frozen=True)
class LesionAggregate:
    """One row per patient, and the disagreements found on the way (one row per patient and column)."""

    patients: pl.DataFrame
    errors: pl.DataFrame
    lesion_scores: tuple[str, ...]
    patient_scores: tuple[str, ...]


def lesion_score_keys(specs: Mapping[str, ScoreSpec]) -> tuple[str, ...]:
    """Scores whose definition scores a lesion (the patient's result is the worst lesion)."""
    return tuple(k for k, s in specs.items() if s.definition.unit_of_scoring == "lesion")


def score_columns(defn: ScoreDefinition, names: Sequence[str]) -> list[str]:
    """The output columns of one score present in ``names`` (as ``cohort score`` writes them)."""
    key = defn.key
    wanted = [f"{key}_{s}" for s in OUTPUT_SUFFIXES]
    if defn.kind is not ScoreKind.additive:
        wanted.append(f"{key}_grade")
    wanted += [f"{key}_{it.key}_points" for it in defn.items]
    present = set(names)
    return [c for c in wanted if c in present]


def _lesion_inputs(specs: Mapping[str, ScoreSpec], keys: Sequence[str]) -> set[str]:
    """Columns that lesion scores read (``name`` and ``score.name``): they differ between lesions."""
    out: set[str] = set()
    for key in keys:
        for name in specs[key].definition.accepted_inputs():
            out |= {name, f"{key}.{name}"}
    return out


def _bands(defn: ScoreDefinition, lo: pl.Expr, hi: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(band key, determined, possible band labels) of the range ``lo..hi``, from the definition's bands.

    The same rule as the engine: a band is possible when it overlaps the range; the band is known
    when exactly one is possible.
    """
    hits = [(pl.lit(b.high) >= lo) & (pl.lit(b.low) <= hi) for b in defn.bands]
    count = pl.sum_horizontal(*[h.cast(pl.Int32) for h in hits])
    first: Any = None
    for h, b in zip(hits, defn.bands, strict=True):
        first = pl.when(h).then(pl.lit(b.key)) if first is None else first.when(h).then(pl.lit(b.key))
    band = pl.when(count == 1).then(first.otherwise(None))
    possible = pl.concat_str(
        [pl.when(h).then(pl.lit(b.label)) for h, b in zip(hits, defn.bands, strict=True)],
        separator=" | ",
        ignore_nulls=True,
    )
    return band, count == 1, possible


def _check_bands(frame: pl.DataFrame, specs: Mapping[str, ScoreSpec], keys: Sequence[str]) -> None:
    """Every lesion row's band must be the definition's band of its range (same options as scoring)."""
    for key in keys:
        defn = specs[key].definition
        band, _, _ = _bands(defn, pl.col(f"{key}_min"), pl.col(f"{key}_max"))
        bad = frame.filter(
            pl.col(f"{key}_min").is_not_null() & band.ne_missing(pl.col(f"{key}_band").cast(pl.String))
        )
        if bad.height:
            row = bad.row(0, named=True)
            options = [f"{o.name}={o.choices}" for o in specs[key].options]
            raise InvalidInputError(
                f"{key}_band",
                row[f"{key}_band"],
                f"the band of {key} {row[f'{key}_min']}..{row[f'{key}_max']} in '{defn.version}' "
                f"({'; '.join(b.key for b in defn.bands)})",
                f"row {row[_ROW]}: give the --option values the file was scored with "
                f"({', '.join(options) or 'this score has no options'}), or re-score it",
            )


def _lesion_exprs(defn: ScoreDefinition) -> list[pl.Expr]:
    """Group aggregations of one lesion score: the rows of the lesion shown and of the highest minimum.

    ``arg_max`` gives the first maximum in row order, so ties go to the earlier row, as ``max`` does
    in :func:`~spinemets.scores.worst_lesion`; the shown lesion's columns are gathered afterwards.
    """
    key = defn.key
    lo, hi = pl.col(f"{key}_min"), pl.col(f"{key}_max")
    low, high = defn.range
    width = high - low + 1
    worst = ((hi - low) * width + (lo - low)).cast(pl.Int64).fill_null(-1)
    return [
        pl.col(_ROW).get(worst.arg_max()).alias(f"__{key}_best"),
        pl.col(_ROW).get(lo.fill_null(low - 1).arg_max()).alias(f"__{key}_floor_row"),
        lo.max().alias(f"__{key}_floor"),
        pl.col(f"{key}_input_error").fill_null(False).any().alias(f"{key}_input_error"),
    ]


def _gather(
    frame: pl.DataFrame, grouped: pl.DataFrame, key: str, columns: Sequence[str], level: str
) -> pl.DataFrame:
    """The shown lesion's columns (and levels) for every patient, by row number: one gather per column."""
    best = grouped[f"__{key}_best"] - 1
    shown = [frame[c].gather(best).alias(c) for c in columns if c != f"{key}_input_error"]
    shown.append(frame[level].gather(best).alias(f"{key}_level"))
    shown.append(frame[level].gather(grouped[f"__{key}_floor_row"] - 1).alias(f"__{key}_fl"))
    return grouped.with_columns(shown)


def _lesion_finish(defn: ScoreDefinition, columns: Sequence[str]) -> list[pl.Expr]:
    """After grouping: raise the minimum, decide the band on the patient's range; invalid -> empty."""
    key = defn.key
    shown_min, hi, floor = pl.col(f"{key}_min"), pl.col(f"{key}_max"), pl.col(f"__{key}_floor")
    raised = floor > shown_min
    band, determined, possible = _bands(defn, floor, hi)
    error = pl.col(f"{key}_input_error")
    update = {
        f"{key}_min": floor,
        f"{key}_band": band,
        f"{key}_band_determined": determined,
        f"{key}_possible_bands": possible,
    }
    out = []
    for col in [*columns, f"{key}_level"]:
        if col == f"{key}_input_error":
            continue
        value = pl.when(raised).then(update[col]).otherwise(pl.col(col)) if col in update else pl.col(col)
        out.append(pl.when(~error).then(value).alias(col))
    out.append(pl.when(~error & raised).then(pl.col(f"__{key}_fl")).alias(f"{key}_min_level"))
    return out


def aggregate_lesions(
    scored: pl.DataFrame,
    id_column: str,
    *,
    level_column: str = DEFAULT_LEVEL_COLUMN,
    specs: Mapping[str, ScoreSpec] | None = None,
    lesion_columns: Sequence[str] = (),
) -> LesionAggregate:
    """Fold a scored one-row-per-lesion frame to one row per patient (see the module docstring).

    Args:
        scored: rows as written by ``spinemets cohort score`` (score columns typed as it writes them).
        id_column: the patient identifier (rows of one patient need not be adjacent).
        level_column: each lesion's level, reported as ``<score>_level`` for the lesion shown.
        specs: the catalogue with the options used when scoring (default: the catalogue).
        lesion_columns: further columns that differ between lesions (e.g. a lesion id): not carried.
    """
    specs = dict(specs) if specs is not None else specs_with_options()
    names = scored.columns
    for option, col in (("--id", id_column), ("--level", level_column)):
        if col not in names:
            raise InvalidInputError(option, col, "a column of the scored file: " + ", ".join(names))
    for col in lesion_columns:
        if col not in names:
            raise InvalidInputError(
                "--lesion-column", col, "a column of the scored file: " + ", ".join(names)
            )
    lesion_keys = tuple(k for k in lesion_score_keys(specs) if f"{k}_min" in names)
    if not lesion_keys:
        wanted = ", ".join(f"{k}_min" for k in lesion_score_keys(specs))
        raise InvalidInputError(
            "scored",
            "a file without lesion score columns",
            f"a file written by `spinemets cohort score` ({wanted})",
        )
    frame = scored.with_row_index(_ROW, offset=1)
    no_id = frame.filter(pl.col(id_column).is_null())
    if no_id.height:
        raise InvalidInputError(
            id_column,
            None,
            "a patient id on every row",
            f"{no_id.height} rows have none, the first is row {no_id[_ROW][0]}",
        )
    _check_bands(frame, specs, lesion_keys)

    groups: dict[str, list[str]] = {}
    for key in lesion_keys:
        groups[key] = score_columns(specs[key].definition, names)
    patient_keys = tuple(
        k for k in specs if k not in lesion_keys and score_columns(specs[k].definition, names)
    )
    for key in patient_keys:
        groups[key] = score_columns(specs[key].definition, names)
    in_group = {c for cols in groups.values() for c in cols}
    skip = _lesion_inputs(specs, lesion_keys) | {level_column, id_column, *lesion_columns}
    carried = [c for c in names if c not in in_group and c not in skip]
    checked = carried + [c for k in patient_keys for c in groups[k]]

    aggs: list[pl.Expr] = [pl.len().cast(pl.Int32).alias(LESION_COUNT)]
    for key in lesion_keys:
        aggs += _lesion_exprs(specs[key].definition)
    aggs += [pl.col(col).first() for col in checked]
    grouped = frame.group_by(id_column, maintain_order=True).agg(aggs)
    differs = _differs(frame, id_column, checked)
    grouped = grouped.with_columns(
        (pl.col(id_column).is_in(differs[c].implode()) if c in differs else pl.lit(False)).alias(
            f"__dis__{c}"
        )
        for c in checked
    )
    for key in lesion_keys:
        grouped = _gather(frame, grouped, key, groups[key], level_column)

    finish: list[pl.Expr] = []
    for key in lesion_keys:
        finish += _lesion_finish(specs[key].definition, groups[key])
    for col in carried:
        finish.append(pl.when(~pl.col(f"__dis__{col}")).then(pl.col(col)).alias(col))
    for key in patient_keys:
        any_dis = pl.any_horizontal(*[pl.col(f"__dis__{c}") for c in groups[key]])
        finish += [pl.when(~any_dis).then(pl.col(c)).alias(c) for c in groups[key]]
    patients = grouped.with_columns(finish)

    order: list[str] = [id_column, LESION_COUNT]
    placed: set[str] = set()
    for col in names:
        owner = next((k for k, cols in groups.items() if col in cols), None)
        if owner is not None and owner not in placed:
            placed.add(owner)
            order += groups[owner]
            if owner in lesion_keys:
                order += [f"{owner}_level", f"{owner}_min_level"]
        elif owner is None and col in carried:
            order.append(col)
    patients = patients.select(order)
    errors = _disagreements(frame, grouped, id_column, checked)
    return LesionAggregate(patients, errors, lesion_keys, patient_keys)


def _differs(frame: pl.DataFrame, id_column: str, checked: Sequence[str]) -> dict[str, pl.Series]:
    """Per column, the patients whose rows disagree on it (columns without any are left out).

    Rows in patient order are compared with the row before, one column at a time (element-wise, no
    per-group hashing, one column's copy in memory); missing next to present counts as a difference.
    """
    order = frame.select(pl.arg_sort_by([id_column, _ROW])).to_series()
    ids = frame[id_column].gather(order)
    same = ids.eq(ids.shift(1)).fill_null(False)
    out: dict[str, pl.Series] = {}
    for col in checked:
        values = frame[col].gather(order)
        flag = same & values.ne_missing(values.shift(1))
        if flag.any():
            out[col] = ids.filter(flag).unique()
    return out


def _disagreements(
    frame: pl.DataFrame, grouped: pl.DataFrame, id_column: str, checked: Sequence[str]
) -> pl.DataFrame:
    """One row per (patient, column) whose rows disagree: the distinct values and the rows."""
    parts: list[pl.DataFrame] = []
    for col in checked:
        ids = grouped.filter(pl.col(f"__dis__{col}")).select(id_column)
        if not ids.height:
            continue
        part = (
            frame.join(ids, on=id_column, how="semi")
            .group_by(id_column, maintain_order=True)
            .agg(
                pl.col(col)
                .cast(pl.String)
                .fill_null(MISSING_TEXT)
                .unique(maintain_order=True)
                .str.join(" | ")
                .alias("values"),
                pl.col(_ROW).cast(pl.String).str.join(";").alias("rows"),
            )
            .select(pl.col(id_column), pl.lit(col).alias("column"), "values", "rows")
        )
        parts.append(part)
    if parts:
        return pl.concat(parts)
    id_type = frame.schema[id_column]
    return pl.DataFrame(
        schema={id_column: id_type, "column": pl.String, "values": pl.String, "rows": pl.String}
    )


def _typed(df: pl.DataFrame, specs: Mapping[str, ScoreSpec]) -> pl.DataFrame:
    """CSV text -> the types ``cohort score`` writes (integers, booleans) for the score columns."""
    score_cols = {c for s in specs.values() for c in score_columns(s.definition, df.columns)}
    exprs: list[pl.Expr] = []
    for col in sorted(score_cols):
        if df.schema[col] != pl.String:
            continue
        if col.endswith(_INT_SUFFIXES):
            exprs.append(pl.col(col).cast(pl.Int32, strict=False).alias(col))
        elif col.endswith(_BOOL_SUFFIXES):
            text = pl.col(col).str.strip_chars().str.to_lowercase()
            exprs.append(pl.when(text == "true").then(True).when(text == "false").then(False).alias(col))
    typed = df.with_columns(exprs)
    for e in exprs:
        col = e.meta.output_name()
        bad = df.filter(typed[col].is_null() & df[col].is_not_null())
        if bad.height:
            raise InvalidInputError(col, bad[col][0], "a value as `spinemets cohort score` writes it")
    return typed


def read_scored(path: Path, specs: Mapping[str, ScoreSpec]) -> tuple[pl.DataFrame, bool]:
    """A scored CSV or Parquet file (CSV cells as text, so ids like ``007`` keep their zeros)."""
    if not path.exists():
        raise InvalidInputError("scored", str(path), "an existing file written by `spinemets cohort score`")
    synthetic = False
    versions: set[str] = set()
    if file_format(path) is FileFormat.parquet:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).schema_arrow.metadata or {}
        synthetic = meta.get(META_SYNTHETIC) == b"true"
        if META_VERSION in meta:
            versions.add(meta[META_VERSION].decode())
        df = pl.read_parquet(path).with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
    else:
        df = _typed(pl.read_csv(path, infer_schema=False), specs)
    if VERSION_COLUMN in df.columns:
        versions |= {str(v) for v in df[VERSION_COLUMN].drop_nulls().unique().to_list()}
    stale = sorted(versions - {DEFINITIONS_VERSION})
    if stale:
        raise InvalidInputError(
            "scored",
            f"score definitions {stale[0]}",
            f"scored with the current definitions {DEFINITIONS_VERSION}",
            "re-run `spinemets cohort score` on the registry",
        )
    if SYNTHETIC_COLUMN in df.columns and df.height:
        synthetic = synthetic or str(df[SYNTHETIC_COLUMN][0]).lower() == "true"
    return df, synthetic


def aggregate_file(
    scored: Path,
    output: Path,
    id_column: str,
    *,
    errors: Path | None = None,
    level_column: str = DEFAULT_LEVEL_COLUMN,
    options: Mapping[str, str] | None = None,
    lesion_columns: Sequence[str] = (),
) -> LesionSummary:
    """Read a scored lesion file, write one row per patient, the disagreement file and a summary JSON.

    Args:
        errors: disagreement file (CSV or Parquet); default ``<output stem>.errors.csv`` beside the output.
        options: the score options the file was scored with (e.g. ``{"escc_1c": "high"}``).
    """
    start = time.perf_counter()
    out_fmt = file_format(output)
    errors = errors or output.with_name(output.stem + ".errors.csv")
    err_fmt = file_format(errors)
    check_outputs({"--output": output, "--errors": errors}, scored)
    specs = specs_with_options(options)
    df, synthetic = read_scored(scored, specs)
    result = aggregate_lesions(
        df, id_column, level_column=level_column, specs=specs, lesion_columns=lesion_columns
    )
    patients = result.patients
    if out_fmt is FileFormat.parquet:
        import pyarrow.parquet as pq

        table = patients.to_arrow()
        meta = {
            META_VERSION: DEFINITIONS_VERSION.encode(),
            META_SYNTHETIC: b"true" if synthetic else b"false",
        }
        pq.write_table(table.replace_schema_metadata(meta), output)
    else:
        patients.write_csv(output)
    err = result.errors
    if err_fmt is FileFormat.parquet:
        err.write_parquet(errors)
    else:
        err.write_csv(errors)
    by_col = err.group_by("column", maintain_order=True).len()
    summary = LesionSummary(
        input=str(scored),
        output=str(output),
        errors_file=str(errors),
        id_column=id_column,
        level_column=level_column,
        synthetic=synthetic,
        rows=df.height,
        patients=patients.height,
        max_lesions=int(patients.select(pl.col(LESION_COUNT).max()).item() or 0),
        lesion_scores=result.lesion_scores,
        patient_scores=result.patient_scores,
        raised_by_another_lesion={
            k: int(patients[f"{k}_min_level"].is_not_null().sum()) for k in result.lesion_scores
        },
        input_errors={k: int(patients[f"{k}_input_error"].sum()) for k in result.lesion_scores},
        disagreements=err.height,
        patients_with_disagreements=err[id_column].n_unique() if err.height else 0,
        disagreements_by_column=dict(zip(by_col["column"].to_list(), by_col["len"].to_list(), strict=True)),
        seconds=round(time.perf_counter() - start, 3),
    )
    write_summary(output, summary)
    return summary
