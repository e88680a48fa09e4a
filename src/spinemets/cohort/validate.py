"""Survival validation of every score in a scored file: how well does each predict death here?

Per score: Kaplan-Meier curves by band (rows whose band is determined), median survival with its
95% confidence interval per band beside the band's published meaning, Harrell's C-index of the
total with a bootstrap 95% CI, time-dependent AUC at 3, 6 and 12 months (scikit-survival), and a
calibration table (observed KM survival at 3, 6 and 12 months per band). Output: ``report.html``
(plots embedded as PNG) and ``summary.json``. A synthetic input is labelled as such everywhere.

C-index orientation comes from each definition's ``survival_direction`` (data on the score, see
:class:`spinemets.scores.engine.SurvivalDirection`): the C-index and the time-dependent AUC are
computed so that 0.5 is chance and above 0.5 means the score ranks survival the way it was published
(a higher Tokuhashi, Bauer or NESMS total longer; a higher Tomita total shorter). Scores that make no
survival claim (SINS, ESCC) get Kaplan-Meier curves by band for description only, and no C-index.

Published expectation per band: where a definition carries ``band_survival`` (bounds on the band's
median survival, e.g. revised Tokuhashi 0-8 "< 6 months"), each band row shows it beside the observed
median and flags the band when the observed 95% CI lies wholly outside the published bounds. Recalled
[K] expectations are marked unverified; bands without a published figure show none.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from spinemets.cohort.run import (
    DEFAULT_DUCKDB_TABLE,
    DUCKDB_METADATA_TABLE,
    META_SYNTHETIC,
    SYNTHETIC_COLUMN,
    FileFormat,
    duckdb_table_name,
    file_format,
    is_score_column,
    parquet_metadata,
)
from spinemets.errors import InvalidInputError
from spinemets.knowledge.bibliography import get_reference
from spinemets.paths import write_output
from spinemets.scores.catalogue import DEFINITIONS_VERSION, SCORES
from spinemets.scores.engine import BandSurvival, ScoreKind, SourceCertainty, SurvivalDirection

HORIZONS_MONTHS = (3.0, 6.0, 12.0)

#: How each direction is stated in the report and the JSON summary.
DIRECTION_TEXT = {
    SurvivalDirection.higher_longer: "a higher total predicts longer survival",
    SurvivalDirection.higher_shorter: "a higher total predicts shorter survival",
    SurvivalDirection.not_prognostic: "no survival claim is published; C-index and AUC are not computed",
}


class ExpectationCheck(StrEnum):
    """Observed band median (95% CI) against the published bounds."""

    consistent = "consistent"
    """The observed CI overlaps the published bounds."""
    outside = "observed CI excludes the published expectation"
    not_estimable = "not estimable"
    """Too few rows in the band for a Kaplan-Meier median."""


def expectation_json(e: BandSurvival) -> dict[str, Any]:
    """A band's published expectation for the summary, with the source and whether it is verified."""
    ref = get_reference(e.citation_id)
    return {
        "statement": e.statement,
        "median_low_months": e.median_low_months,
        "median_high_months": e.median_high_months,
        "certainty": e.certainty.value,
        "unverified": e.certainty is SourceCertainty.K,
        "citation": e.citation_id,
        "source": ref.short(),
        "reference": ref.vancouver(),
    }


def check_expectation(ci_low: float, ci_high: float, e: BandSurvival) -> ExpectationCheck:
    """Outside when the CI of the observed median misses the published bounds.

    An upper limit not reached is inf; a lower limit not reached is passed as the band's longest
    follow-up (all that is known is that the limit lies beyond it).
    """
    lo = -math.inf if e.median_low_months is None else e.median_low_months
    hi = math.inf if e.median_high_months is None else e.median_high_months
    if ci_high < lo or ci_low > hi:
        return ExpectationCheck.outside
    return ExpectationCheck.consistent


# One year is 365.25 days and 12 months; a week is 7 of those days (12 / 52.1775 assumed a
# 365.2425-day year: 7 days and 1 week differed, and a death on day 91.3125 = 3 months fell on
# either side of the 3-month horizon depending on the unit).
_TO_MONTHS = {"days": 12 / 365.25, "weeks": 7 * 12 / 365.25, "months": 1.0, "years": 12.0}


VALUES_SHOWN = 5
"""Distinct refused values of a time or event column named in the message."""


def _shown(values: pl.Series) -> str:
    distinct = values.unique(maintain_order=True)
    shown = ", ".join(repr(v) for v in distinct.head(VALUES_SHOWN).to_list())
    more = distinct.len() - VALUES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _as_text(col: pl.Series) -> pl.Series | None:
    """Trimmed text with empty cells as missing, or None when the column is not text."""
    if col.dtype in (pl.Categorical, pl.Enum):
        col = col.cast(pl.String)
    if col.dtype != pl.String:
        return None
    text = col.str.strip_chars()
    return text.set(text == "", None)


def survival_time(col: pl.Series, unit: str) -> pl.Series:
    """Follow-up time in months (Float64); missing (null, NaN, empty text) stays null.

    Refused, naming the column and the values: text that is not a number (a decimal comma
    ``3,5``), infinite and negative times. Rows with a missing time are excluded by the caller.
    """
    field = f"--time column {col.name!r}"
    allowed = f"a number of {unit} (0 or more, decimal point, empty for unknown)"
    text = _as_text(col)
    if text is not None:
        num = text.cast(pl.Float64, strict=False)
        bad = text.filter(text.is_not_null() & num.is_null())
        if bad.len():
            comma = bad.str.contains(r"^[+-]?\d*,\d+$").any()
            hint = f"{bad.len():,} rows: {_shown(bad)}"
            if comma:
                hint += "; a decimal comma: write 3.5, not 3,5"
            raise InvalidInputError(field, bad[0], allowed, hint)
    elif col.dtype.is_numeric() or col.dtype == pl.Null:  # an all-empty column: every time missing
        num = col.cast(pl.Float64)
    else:
        raise InvalidInputError(field, str(col.dtype), allowed, "the column is not numbers")
    num = num.fill_nan(None)
    for what, mask in (("infinite", num.is_infinite()), ("negative", num < 0)):
        bad_num = num.filter(mask.fill_null(False))
        if bad_num.len():
            raise InvalidInputError(
                field, bad_num[0], allowed, f"{bad_num.len():,} {what} times: {_shown(bad_num)}"
            )
    return num * _TO_MONTHS[unit]


def scored_keys(columns: list[str], field: str, value: str, source: str) -> list[str]:
    """The scores with a total among ``columns``; none is an error saying to score ``source`` first."""
    present = [k for k in SCORES if f"{k}_total" in columns]
    if not present:
        raise InvalidInputError(
            field,
            value,
            "a file written by `spinemets cohort score` (columns such as tokuhashi_revised_total)",
            f"it has no score columns; score it first: spinemets cohort score {source} -o scored.parquet",
        )
    return present


EVENT_ALLOWED = "0 (censored) or 1 (death), or true/false; empty for unknown"


def survival_event(col: pl.Series) -> pl.Series:
    """The event as 0.0/1.0 (Float64); missing (null, NaN, empty text) stays null.

    Any other value is refused with the values found, never recoded: an R-style status
    (1 = censored, 2 = dead) read as 0/1 would count every censored patient as a death.
    """
    field = f"--event column {col.name!r}"
    recode = "recode it: 1 for death, 0 for censored; for R's coding 1 = censored, 2 = dead, use status - 1"
    text = _as_text(col)
    if text is not None:
        lower = text.str.to_lowercase()
        num = lower.replace_strict({"true": "1", "false": "0"}, default=lower).cast(pl.Float64, strict=False)
        bad = text.filter(text.is_not_null() & num.is_null())
        if bad.len():
            raise InvalidInputError(field, bad[0], EVENT_ALLOWED, f"values found: {_shown(bad)}; {recode}")
    elif col.dtype in (pl.Boolean, pl.Null) or col.dtype.is_numeric():  # Null: every event missing
        num = col.cast(pl.Float64)
    else:
        raise InvalidInputError(field, str(col.dtype), EVENT_ALLOWED, "the column is not numbers")
    num = num.fill_nan(None)
    bad = (num.is_not_null() & ~num.is_in([0.0, 1.0])).fill_null(False)
    if bad.any():
        given = text if text is not None else col
        found = _shown(given.filter(num.is_not_null()).unique().sort())
        raise InvalidInputError(
            field, given.filter(bad)[0], EVENT_ALLOWED, f"values found: {found}; {recode}"
        )
    return num


def _keep(names: Sequence[str], wanted: Mapping[str, str]) -> list[str]:
    """The columns to read; ``wanted`` (option -> column, e.g. ``--time``) must all be in ``names``."""
    for option, column in wanted.items():
        if column not in names:
            others = [c for c in names if not is_score_column(c)]
            raise InvalidInputError(option, column, "a column of the scored file: " + ", ".join(others))
    targets = set(wanted.values())
    return [
        c
        for c in names
        if c in targets or c.endswith(("_total", "_band", "_input_error")) or c == SYNTHETIC_COLUMN
    ]


def _read_duckdb(path: Path, wanted: Mapping[str, str], table: str) -> tuple[pl.DataFrame, bool]:
    """The needed columns of a scored DuckDB table; synthetic when its metadata row says so."""
    import duckdb

    name = duckdb_table_name(table)
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        if name not in tables:
            raise InvalidInputError("--table", table, [t for t in tables if t != DUCKDB_METADATA_TABLE])
        flag = []
        if DUCKDB_METADATA_TABLE in tables:
            flag = con.execute(
                f"SELECT value FROM {DUCKDB_METADATA_TABLE} WHERE table_name = ? AND key = 'synthetic'",
                [name],
            ).fetchall()
        names = [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in _keep(names, wanted))
        df = con.sql(f'SELECT {cols} FROM "{name}"').pl()
    return df, bool(flag) and flag[0][0] == "true"


def _read(
    path: Path, wanted: Mapping[str, str], table: str = DEFAULT_DUCKDB_TABLE
) -> tuple[pl.DataFrame, bool]:
    """Only the columns validation needs (time, event, synthetic flag, score totals and bands)."""
    if not path.exists():
        raise InvalidInputError("scored", str(path), "an existing file written by `spinemets cohort score`")
    fmt = file_format(path, allow_duckdb=True)
    if fmt is FileFormat.duckdb:
        df, synthetic = _read_duckdb(path, wanted, table)
    elif fmt is FileFormat.parquet:
        meta = parquet_metadata(path)
        lf = pl.scan_parquet(path)
        synthetic = meta.get(META_SYNTHETIC) == b"true"
    else:
        # time and event are read as text and parsed by survival_time / survival_event: a type
        # inferred from the first rows would fail on a later cell (integer days, then 2.5)
        lf = pl.scan_csv(
            path, infer_schema_length=10000, schema_overrides=dict.fromkeys(wanted.values(), pl.String)
        )
        synthetic = False
    if fmt is not FileFormat.duckdb:
        df = lf.select(_keep(lf.collect_schema().names(), wanted)).collect()
    if SYNTHETIC_COLUMN in df.columns:  # any synthetic row labels the whole report synthetic
        flags = df[SYNTHETIC_COLUMN].cast(pl.String).str.to_lowercase()
        synthetic = synthetic or bool((flags == "true").any())
    return df, synthetic


NO_COMPARABLE_PAIR = "no comparable pair: no death is followed by a longer time in another row"


def _harrell_c(t: np.ndarray, e: np.ndarray, x: np.ndarray) -> float | None:
    """Harrell's C (lifelines; ``x`` higher = longer predicted survival), None without a comparable pair.

    lifelines raises ZeroDivisionError when no pair is comparable, e.g. the only death is at the
    longest time: C is then undefined, not an error of the input.
    """
    from lifelines.utils import concordance_index

    try:
        return float(concordance_index(t, x, e))
    except ZeroDivisionError:
        return None


def _bootstrap_c(
    t: np.ndarray, e: np.ndarray, x: np.ndarray, reps: int, rng: np.random.Generator
) -> tuple[float, float, int]:
    """Percentile 95% CI over row resamples, and how many resamples had a C (the others are skipped)."""
    stats = []
    n = len(t)
    for _ in range(reps):
        idx = rng.integers(0, n, n)
        c = _harrell_c(t[idx], e[idx], x[idx])
        if c is not None:
            stats.append(c)
    if not stats:
        return float("nan"), float("nan"), 0
    return float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5)), len(stats)


MIN_ROWS_FOR_C = 10
"""Rows with a total below which no C-index, bootstrap or time-dependent AUC is computed."""


def _c_index_unfit(n: int, events: int, distinct_totals: int) -> str | None:
    """Why the C-index is not computed for these rows with a total, or None when it is."""
    if n < MIN_ROWS_FOR_C:
        return f"{n} rows with a complete total, fewer than {MIN_ROWS_FOR_C}"
    if events == 0:
        return "no death among the rows with a complete total"
    if distinct_totals < 2:
        return "every row with a complete total has the same total: nothing to rank"
    return None


def _td_auc(t: np.ndarray, e: np.ndarray, risk: np.ndarray) -> tuple[dict[str, float | None], dict[str, str]]:
    """Cumulative/dynamic AUC at each horizon (months), and why it is None where not estimable.

    Cases at h are the deaths by h, controls the rows still followed after h; the AUC needs both.
    """
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    y = Surv.from_arrays(event=e.astype(bool), time=t)
    out: dict[str, float | None] = {}
    why: dict[str, str] = {}
    for h in HORIZONS_MONTHS:
        key = f"{h:g}m"
        out[key] = None
        if not ((t <= h) & (e == 1)).any():
            why[key] = f"no death by {h:g} months (no cases)"
        elif not t.max() > h:
            why[key] = f"no row followed beyond {h:g} months (longest {t.max():.2f} months; no controls)"
        else:
            try:
                auc, _ = cumulative_dynamic_auc(y, y, risk, [h])
                out[key] = float(auc[0])
            except ValueError as exc:
                why[key] = f"not estimable: {exc}"
    return out, why


def _km_median(kmf: Any) -> tuple[float, float, float]:
    """A fitted Kaplan-Meier curve's median and its 95% CI (lifelines' pointwise log(-log) bounds);
    ``inf`` where not reached."""
    from lifelines.utils import median_survival_times

    lo, hi = (float(v) for v in median_survival_times(kmf.confidence_interval_).iloc[0].to_numpy())
    return float(kmf.median_survival_time_), lo, hi


def _months(value: float) -> float | None:
    """Months as the summary holds them: two decimals, ``None`` where not reached (``inf``)."""
    return None if np.isinf(value) else round(value, 2)


def _km_by_band(
    key: str, t: np.ndarray, e: np.ndarray, bands: np.ndarray, synthetic: bool = False
) -> tuple[list[dict[str, Any]], str]:
    from lifelines import KaplanMeierFitter

    defn = SCORES[key]
    rows: list[dict[str, Any]] = []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    expected = {e.band: e for e in defn.band_survival}
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for band in defn.bands:
        mask = bands == band.key
        n = int(mask.sum())
        row: dict[str, Any] = {
            "band": band.key,
            "label": band.label,
            "published_meaning": band.meaning,
            # points for additive scores; a grade's band bounds are internal codes, not points
            "points": [band.low, band.high] if defn.kind is ScoreKind.additive else None,
            "published_expectation": expectation_json(expected[band.key]) if band.key in expected else None,
            "n": n,
        }
        if band.key in expected:
            row["expectation_check"] = ExpectationCheck.not_estimable.value
        if n >= 2:
            kmf = KaplanMeierFitter(label=f"{band.label} (n={n})").fit(t[mask], e[mask])
            kmf.plot_survival_function(ax=ax, ci_show=False)
            median, lo, hi = _km_median(kmf)
            longest, at_end = float(t[mask].max()), float(kmf.survival_function_.iloc[-1, 0])
            if band.key in expected:
                # A lower limit not reached lies beyond the band's longest follow-up, not at infinity:
                # a band followed 2 months cannot show that its median exceeds 6.
                known_lo = longest if np.isinf(lo) else lo
                row["expectation_check"] = check_expectation(known_lo, hi, expected[band.key]).value
            # Past the band's longest time the KM estimate is undefined unless it has reached 0
            # (lifelines would carry the last value forward).
            survival_at: dict[str, float | None] = {}
            beyond: dict[str, str] = {}
            for h in HORIZONS_MONTHS:
                if h > longest and at_end > 0:
                    survival_at[f"{h:g}m"] = None
                    beyond[f"{h:g}m"] = f"beyond the band's longest follow-up ({longest:.2f} months)"
                else:
                    survival_at[f"{h:g}m"] = round(float(kmf.survival_function_at_times(h).iloc[0]), 4)
            if n < MIN_ROWS_FOR_C:  # the C-index's own floor: a median of a handful of patients
                row["small_band"] = (
                    f"{n} rows, fewer than {MIN_ROWS_FOR_C}: the median and its interval rest on very few "
                    "patients (with a few deaths at once the interval can be a single point)"
                )
            row.update(
                events=int(e[mask].sum()),
                median_months=_months(median),
                median_ci=[_months(lo), _months(hi)],
                longest_follow_up_months=round(longest, 2),
                survival_at=survival_at,
            )
            if beyond:
                row["survival_at_not_estimable"] = beyond
        else:
            row["events"] = int(e[mask].sum())
            row["km_not_estimable"] = (
                f"{n} row{'' if n == 1 else 's'}: a Kaplan-Meier estimate needs at least 2"
            )
        rows.append(row)
    ax.set_xlabel("months")
    ax.set_ylabel("survival")
    # the PNG can leave the report (a slide, a paper draft): it carries the label itself
    ax.set_title(f"{defn.name}: Kaplan-Meier by band" + (" (SYNTHETIC DATA)" if synthetic else ""))
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return rows, base64.b64encode(buf.getvalue()).decode()


FOLLOW_UP_SOURCE = "Schemper M, Smith TL, Control Clin Trials 1996;17:343-346, recalled, unverified"
"""The reverse Kaplan-Meier method's reference (a method, not a clinical fact; not in the fact sheets)."""
FOLLOW_UP_METHOD = (
    "median follow-up by the reverse Kaplan-Meier method (death censors, censoring is the event; "
    f"{FOLLOW_UP_SOURCE}): the time to which "
    "patients would have been followed had none died; null = more than half of the rows died before "
    "being censored, so it is not reached"
)


#: What each figure of the summary is (``summary.json`` carries it as ``definitions``).
DEFINITIONS = {
    "time": "months (the --unit converted: a year is 365.25 days and 12 months, a week 7 days)",
    "c_index": "Harrell's C of the total on rows with a complete total (lifelines concordance_index; tied "
    "totals count 1/2), oriented by the score's survival direction: 0.5 = chance",
    "c_index.low/high": "95% percentile bootstrap interval: rows resampled with replacement --bootstrap times "
    "(each score's generator seeded with --seed); resamples without a comparable pair are skipped "
    "(bootstrap_resamples_used)",
    "time_dependent_auc": "cumulative/dynamic AUC at 3, 6 and 12 months (scikit-survival, inverse probability "
    "of censoring weights): deaths by the horizon against rows followed beyond it, on rows with a total",
    "follow_up": FOLLOW_UP_METHOD + "; on every row with a time and an event",
    "n_without_total": "rows with a time and an event but no complete total (an item missing, or an invalid "
    "value: n_input_error), left out of the C-index and the time-dependent AUC",
    "n_band_undetermined": "rows with a time and an event whose band is not decided by the known items, left "
    "out of the band table",
    "bands[].points": "the totals the band covers, as published (additive scores; null for grades)",
    "bands[].median_months": "Kaplan-Meier median survival of the band's rows (band determined, total or not); "
    "null = not reached",
    "bands[].median_ci": "95% CI of that median from the KM curve's pointwise log(-log) CI (lifelines); null = "
    "not reached within the band's follow-up (longest_follow_up_months)",
    "bands[].small_band": f"present when a band has 2 to {MIN_ROWS_FOR_C - 1} rows (the C-index's floor): its "
    "median and interval rest on very few patients",
    "bands[].survival_at": "Kaplan-Meier survival of the band at 3, 6 and 12 months (observed only: no "
    "predicted probability is published per band)",
    "bands[].expectation_check": "the published expectation is a bound on the band's median survival; "
    "'observed CI excludes the published expectation' when the median's 95% CI lies wholly outside it",
}


def median_follow_up(t: np.ndarray, e: np.ndarray) -> dict[str, Any]:
    """Median follow-up of the cohort (reverse Kaplan-Meier), with its 95% CI and the counts behind it.

    A validation paper reports how long the cohort was followed, not only how long it survived: the
    median of the observed times mixes the two (short because many died early). Reverse KM treats
    each censoring as the event and each death as a censoring.
    """
    from lifelines import KaplanMeierFitter

    censored = (e == 0).astype(int)
    median, lo, hi = _km_median(KaplanMeierFitter().fit(t, censored))
    return {
        "censored": int(censored.sum()),
        "longest_months": round(float(t.max()), 2),
        "median_months": _months(median),
        "median_ci": [_months(lo), _months(hi)],
    }


def validate_frame(
    df: pl.DataFrame,
    *,
    time: str,
    event: str,
    unit: str = "months",
    bootstrap: int = 200,
    seed: int = 0,
    scores: Sequence[str] | None = None,
    synthetic: bool = False,
) -> tuple[dict[str, Any], dict[str, str]]:
    """(JSON summary, score -> KM plot PNG as base64) for a scored frame."""
    for col in (time, event):
        if col not in df.columns:
            raise InvalidInputError(
                f"--{'time' if col == time else 'event'}", col, "a column of " + ", ".join(df.columns)
            )
    if unit not in _TO_MONTHS:
        raise InvalidInputError("--unit", unit, sorted(_TO_MONTHS))
    if seed < 0:  # numpy's generator takes only non-negative seeds
        raise InvalidInputError("--seed", seed, "a whole number, 0 or more")
    present = scored_keys(df.columns, "scored file", "no score columns", "FILE")
    keys = list(scores) if scores else present
    for k in keys:
        if f"{k}_total" not in df.columns:
            raise InvalidInputError("--score", k, present)
    t_col, e_col = survival_time(df[time], unit), survival_event(df[event])
    missing_time, missing_event = t_col.null_count(), e_col.null_count()
    base = df.select(
        t_col.alias("__t"),
        e_col.alias("__e"),
        *[
            pl.col(c)
            for k in keys
            for c in (f"{k}_total", f"{k}_band", f"{k}_input_error")
            if c in df.columns
        ],
    ).filter(pl.col("__t").is_not_null() & pl.col("__e").is_not_null())
    if base.height == 0:
        raise InvalidInputError(
            "rows",
            f"{df.height:,} rows, {missing_time:,} without a time, {missing_event:,} without an event",
            f"at least one row with both a time ({time}) and an event ({event})",
        )
    summary: dict[str, Any] = {
        "synthetic": synthetic,
        "definitions_version": DEFINITIONS_VERSION,
        "rows_used": base.height,
        "rows_excluded_missing_time_or_event": df.height - base.height,
        "rows_missing_time": missing_time,
        "rows_missing_event": missing_event,
        "time_unit_in": unit,
        "time_column": time,
        "event_column": event,
        "follow_up": median_follow_up(base["__t"].to_numpy(), base["__e"].to_numpy()),
        "c_index_orientation": "per score, in its published survival direction: 0.5 = chance, "
        "> 0.5 = ranks survival as published",
        "definitions": DEFINITIONS,
        "scores": {},
    }
    plots: dict[str, str] = {}
    for k in keys:
        sub = base.filter(pl.col(f"{k}_total").is_not_null())
        direction = SCORES[k].survival_direction
        s: dict[str, Any] = {
            "name": SCORES[k].name,
            "survival_direction": direction.value,
            "survival_direction_text": DIRECTION_TEXT[direction],
            "n": sub.height,
            "events": int(sub["__e"].sum() or 0),
        }
        banded = base.filter(pl.col(f"{k}_band").is_not_null())
        s["n_band_determined"] = banded.height
        # the flow a validation paper reports: who each analysis leaves out, and why
        s["n_without_total"] = base.height - sub.height
        if f"{k}_input_error" in base.columns:
            s["n_input_error"] = int(base[f"{k}_input_error"].cast(pl.Boolean).sum() or 0)
        s["n_band_undetermined"] = base.height - banded.height
        if banded.height == 0:
            s["bands_not_computed"] = "no row with a time and an event has a determined band"
        else:
            s["bands"], plots[k] = _km_by_band(
                k,
                banded["__t"].to_numpy(),
                banded["__e"].to_numpy(),
                banded[f"{k}_band"].to_numpy(),
                synthetic,
            )
        if direction is SurvivalDirection.not_prognostic:
            s["c_index"] = None
            s["c_index_not_computed"] = f"{SCORES[k].name} makes no published survival claim"
        elif (reason := _c_index_unfit(sub.height, s["events"], sub[f"{k}_total"].n_unique())) is not None:
            s["c_index"] = None
            s["c_index_not_computed"] = reason
        else:
            t, e, total = sub["__t"].to_numpy(), sub["__e"].to_numpy(), sub[f"{k}_total"].to_numpy()
            # x: higher = longer predicted survival (lifelines' convention), whatever the score's direction
            x = total.astype(float) * (1.0 if direction is SurvivalDirection.higher_longer else -1.0)
            c = _harrell_c(t, e, x)
            if c is None:
                s["c_index"] = None
                s["c_index_not_computed"] = NO_COMPARABLE_PAIR
            else:
                lo, hi, used = (
                    _bootstrap_c(t, e, x, bootstrap, np.random.default_rng(seed))
                    if bootstrap
                    else (math.nan, math.nan, 0)
                )
                s["c_index"] = {
                    "estimate": round(c, 4),
                    "low": None if math.isnan(lo) else round(lo, 4),
                    "high": None if math.isnan(hi) else round(hi, 4),
                    "bootstrap": bootstrap,
                    "bootstrap_resamples_used": used,
                    "seed": seed,
                }
                s["time_dependent_auc"], not_estimable = _td_auc(t, e, -x)
                if not_estimable:
                    s["time_dependent_auc_not_estimable"] = not_estimable
        summary["scores"][k] = s
    return summary, plots


def follow_up_text(f: dict[str, Any]) -> str:
    """The summary's ``follow_up`` as one sentence, for the report and the terminal alike."""
    median, (lo, hi) = f["median_months"], f["median_ci"]

    def shown(x: float | None) -> str:
        return "not reached" if x is None else f"{x:.2f}"

    value = (
        "not reached (more than half of the rows died before being censored)"
        if median is None
        else f"{median:.2f} months (95% CI {shown(lo)} to {shown(hi)})"
    )
    return (
        f"Median follow-up (reverse Kaplan-Meier: Schemper and Smith, Control Clin Trials 1996, recalled): "
        f"{value}; {f['censored']:,} rows "
        f"censored (alive at last contact); longest {f['longest_months']:.2f} months."
    )


def _points_text(points: list[int] | None) -> str:
    """A band's points as the papers print them: ``0-8``, or ``2`` for a one-value band."""
    if points is None:
        return ""
    low, high = points
    return f"{low}" if low == high else f"{low}-{high}"


def _left_out_text(s: dict[str, Any], rows_used: int) -> str:
    """Which rows of a score each analysis leaves out: the complete-case flow of a validation paper."""
    n, bad, undetermined = s["n_without_total"], s.get("n_input_error"), s["n_band_undetermined"]
    why = f" ({bad:,} with an invalid value)" if bad else ""
    return (
        f"{n:,} of the {rows_used:,} rows with a time and an event "
        f"{'has' if n == 1 else 'have'} no complete total{why} and "
        f"{'is' if n == 1 else 'are'} left out of the C-index and the time-dependent AUC; "
        f"{undetermined:,} {'has its' if undetermined == 1 else 'have their'} band undetermined and "
        f"{'is' if undetermined == 1 else 'are'} left out of the band table."
    )


def _html(summary: dict[str, Any], plots: dict[str, str]) -> str:
    esc = html.escape
    banner = (
        '<p class="synthetic"><strong>SYNTHETIC DATA.</strong> Generated by spinemets; survival was simulated '
        "from documented assumptions (docs/cohort.md). These figures say nothing about real patients.</p>"
        if summary["synthetic"]
        else ""
    )

    def expectation_cells(b: dict[str, Any]) -> str:
        e = b.get("published_expectation")
        if e is None:
            return "<td>none published</td><td></td>"
        flag = " (recalled, unverified [K])" if e["unverified"] else ""
        text = f"{e['statement']}{flag} ({e['source']})"
        check = b.get("expectation_check", "")
        style = " class='outside'" if check == ExpectationCheck.outside.value else ""
        return f"<td>{esc(text)}</td><td{style}>{esc(check)}</td>"

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>spinemets cohort validation</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .5em}.synthetic{background:#fee;padding:.5em;border:2px solid #c00}"
        ".outside{background:#fdd;font-weight:bold}"
        "</style></head><body>",
        f"<h1>Score validation{' (SYNTHETIC DATA)' if summary['synthetic'] else ''}</h1>",
        banner,
        f"<p>Score definitions {esc(summary['definitions_version'])}; {summary['rows_used']:,} rows used, "
        f"{summary['rows_excluded_missing_time_or_event']:,} excluded for a missing time or event "
        f"(time missing in {summary['rows_missing_time']:,}, event in {summary['rows_missing_event']:,}). "
        f"C-index orientation: {esc(summary['c_index_orientation'])}. Time: follow-up read in "
        f"{esc(summary['time_unit_in'])} (column {esc(summary['time_column'])}), converted to months "
        f"(a year is 365.25 days and 12 months, a week 7 days); event: column {esc(summary['event_column'])}.</p>",
        f"<p>{esc(follow_up_text(summary['follow_up']))}</p>",
    ]
    if summary.get("sampled_rows"):  # set by validate_file; every figure below is of the sample
        parts.append(
            f"<p><strong>Sample:</strong> a seeded random sample of {summary['sampled_rows']:,} of the file's "
            f"{summary['rows_in_file']:,} rows (--sample); every figure below is computed on the sample.</p>"
        )
    for k, s in summary["scores"].items():
        parts.append(f"<h2>{esc(s['name'])}</h2>{banner}")
        parts.append(
            f"<p>n with a total: {s['n']:,} ({s['events']:,} events); band determined: {s['n_band_determined']:,}</p>"
        )
        parts.append(f"<p>{esc(_left_out_text(s, summary['rows_used']))}</p>")
        parts.append(f"<p>Survival direction: {esc(s['survival_direction_text'])}.</p>")
        c = s.get("c_index")
        if c:
            parts.append(
                f"<p>Harrell's C {c['estimate']:.3f} ("
                + (
                    f"95% percentile bootstrap CI {c['low']:.3f}-{c['high']:.3f}, "
                    f"{c['bootstrap_resamples_used']} of {c['bootstrap']} resamples had a C, seed {c['seed']}"
                    if c["low"] is not None
                    else "no bootstrap CI: --bootstrap 0"
                    if not c["bootstrap"]
                    else f"no bootstrap CI: none of the {c['bootstrap']} resamples had a comparable pair"
                )
                + ")</p>"
            )
            why = s.get("time_dependent_auc_not_estimable", {})
            auc = ", ".join(
                f"{h}: {f'n/a ({why[h]})' if v is None else f'{v:.3f}'}"
                for h, v in s["time_dependent_auc"].items()
            )
            parts.append(f"<p>Time-dependent AUC: {esc(auc)}</p>")
        elif s.get("c_index_not_computed"):
            parts.append(
                f"<p>Harrell's C and time-dependent AUC not computed: {esc(s['c_index_not_computed'])}.</p>"
            )
        if s.get("bands_not_computed"):
            parts.append(f"<p>Kaplan-Meier by band not computed: {esc(s['bands_not_computed'])}.</p>")
        if "bands" in s:
            parts.append(
                "<table><tr><th>band</th><th>points</th><th>n</th><th>events</th><th>median months (95% CI)</th>"
                "<th>published expectation</th><th>observed vs expected</th>"
                "<th>KM survival 3 / 6 / 12 m</th><th>published meaning</th></tr>"
            )
            for b in s["bands"]:
                med = b.get("median_months")
                ci = b.get("median_ci") or [None, None]
                med_text = "not reached" if med is None else f"{med}"
                ci_text = f" ({ci[0] if ci[0] is not None else 'not reached'}-{ci[1] if ci[1] is not None else 'not reached'})"
                surv = b.get("survival_at", {})
                why = b.get("survival_at_not_estimable", {})
                surv_text = " / ".join(
                    f"n/a ({why[h]})" if surv[h] is None else f"{surv[h]:.2f}" for h in surv
                )
                parts.append(
                    f"<tr><td>{esc(b['label'])}</td><td>{_points_text(b.get('points'))}</td><td>{b['n']:,}</td><td>{b.get('events', '')}</td>"
                    f"<td>{esc(med_text + ci_text) if 'median_ci' in b else esc(b['km_not_estimable'])}"
                    + (f"<br><em>{esc(b['small_band'])}</em>" if "small_band" in b else "")
                    + f"</td>{expectation_cells(b)}"
                    f"<td>{esc(surv_text)}</td>"
                    f"<td>{esc(b['published_meaning'])}</td></tr>"
                )
            parts.append("</table>")
        if k in plots:
            parts.append(
                f"<p><img alt='Kaplan-Meier curves of {esc(s['name'])} by band' src='data:image/png;base64,{plots[k]}'></p>"
            )
    # the definitions summary.json carries, so the report states its own methods
    parts.append("<h2>Methods</h2><ul>")
    parts.extend(
        f"<li><code>{esc(name)}</code>: {esc(text)}</li>" for name, text in summary["definitions"].items()
    )
    parts.append("</ul>")
    cited = {
        b["published_expectation"]["reference"]
        for s in summary["scores"].values()
        for b in s.get("bands", [])
        if b.get("published_expectation")
    }
    if cited:
        parts.append("<h2>References</h2><ul>")
        parts.extend(f"<li>{esc(r)}</li>" for r in sorted(cited))
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def validate_file(
    scored: Path,
    *,
    time: str,
    event: str,
    unit: str = "months",
    out_dir: Path,
    bootstrap: int = 200,
    seed: int = 0,
    scores: Sequence[str] | None = None,
    sample: int | None = None,
    table: str = DEFAULT_DUCKDB_TABLE,
) -> dict[str, Any]:
    """Validate a scored file; writes ``report.html`` and ``summary.json`` into ``out_dir``.

    ``sample``: validate a random sample of that many rows (seeded), e.g. to bound bootstrap time.
    ``table``: the table to read when ``scored`` is a DuckDB database.
    """
    if out_dir.exists() and not out_dir.is_dir():  # found now, not after the bootstrap
        raise InvalidInputError("--output", str(out_dir), "a folder for the report", "it is a file")
    df, synthetic = _read(scored, {"--time": time, "--event": event}, table)
    scored_keys(df.columns, "scored", str(scored), str(scored))
    rows_in_file = df.height
    if sample is not None and sample < df.height:
        df = df.sample(n=sample, seed=seed)
    summary, plots = validate_frame(
        df,
        time=time,
        event=event,
        unit=unit,
        bootstrap=bootstrap,
        seed=seed,
        scores=scores,
        synthetic=synthetic,
    )
    summary["rows_in_file"] = rows_in_file
    summary["sampled_rows"] = sample if sample is not None and sample < rows_in_file else None
    out_dir.mkdir(parents=True, exist_ok=True)
    write_output("--output", out_dir / "summary.json", json.dumps(summary, indent=2))
    write_output("--output", out_dir / "report.html", _html(summary, plots))
    return summary
