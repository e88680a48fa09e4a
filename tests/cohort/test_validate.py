"""Survival validation on synthetic cohorts whose properties are known by construction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from spinemets.cohort.run import score_file
from spinemets.cohort.synth import write_synth
from spinemets.cohort.validate import validate_file, validate_frame
from spinemets.errors import InvalidInputError


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("val")
    write_synth(4000, d / "s.parquet", seed=11)
    score_file(d / "s.parquet", d / "scored.parquet", progress=False)
    return d / "scored.parquet"


def test_tokuhashi_predicts_synthetic_survival_built_from_its_facts(scored: Path, tmp_path: Path) -> None:
    """The generator's hazard rises with low KPS, visceral metastases and rapid primaries (docs/cohort.md),
    which the revised Tokuhashi rewards, so its C must exceed 0.5 and its band medians must be ordered."""
    summary = validate_file(
        scored,
        time="time_months",
        event="event",
        out_dir=tmp_path,
        bootstrap=30,
        scores=["tokuhashi_revised"],
    )
    s = summary["scores"]["tokuhashi_revised"]
    assert s["c_index"]["low"] > 0.55
    assert s["c_index"]["low"] <= s["c_index"]["estimate"] <= s["c_index"]["high"]
    medians = {b["band"]: b["median_months"] for b in s["bands"]}
    assert medians["under_6_months"] < medians["over_6_months"]
    assert medians["over_6_months"] < (medians["over_1_year"] or float("inf"))
    assert all(v is None or 0.5 < v < 1 for v in s["time_dependent_auc"].values())
    assert summary["synthetic"] is True


def test_a_score_unrelated_to_survival_has_c_near_one_half(scored: Path) -> None:
    df = pl.read_parquet(scored).filter(pl.col("tokuhashi_revised_total").is_not_null())
    rng = np.random.default_rng(3)
    shuffled = df.with_columns(
        pl.Series("tokuhashi_revised_total", rng.permutation(df["tokuhashi_revised_total"].to_numpy()))
    )
    summary, _ = validate_frame(
        shuffled, time="time_months", event="event", bootstrap=50, scores=["tokuhashi_revised"]
    )
    c = summary["scores"]["tokuhashi_revised"]["c_index"]
    assert c["low"] < 0.5 < c["high"]


def test_report_and_json_are_written_and_labelled_synthetic(scored: Path, tmp_path: Path) -> None:
    validate_file(
        scored, time="time_months", event="event", out_dir=tmp_path, bootstrap=10, scores=["sins", "bauer"]
    )
    html = (tmp_path / "report.html").read_text()
    data = json.loads((tmp_path / "summary.json").read_text())
    assert html.count("SYNTHETIC DATA") >= 3  # title, banner, every score section
    assert "data:image/png;base64," in html
    assert set(data["scores"]) == {"sins", "bauer"}
    assert data["definitions_version"]


def test_time_unit_is_converted(scored: Path) -> None:
    df = pl.read_parquet(scored).with_columns((pl.col("time_months") * 365.25 / 12).alias("days"))
    in_days, _ = validate_frame(df, time="days", event="event", unit="days", bootstrap=0, scores=["bauer"])
    in_months, _ = validate_frame(df, time="time_months", event="event", bootstrap=0, scores=["bauer"])
    a = in_days["scores"]["bauer"]["bands"]
    b = in_months["scores"]["bauer"]["bands"]
    assert [x.get("median_months") for x in a] == pytest.approx([x.get("median_months") for x in b], abs=0.01)


def test_bad_columns_and_units_are_clear_errors(scored: Path) -> None:
    df = pl.read_parquet(scored)
    with pytest.raises(InvalidInputError, match="os_days"):
        validate_frame(df, time="os_days", event="event")
    with pytest.raises(InvalidInputError, match="fortnights"):
        validate_frame(df, time="time_months", event="event", unit="fortnights")
    # from the file: the message lists the file's own columns (where time and event would be), not
    # only the few columns validation reads, and no score column
    with pytest.raises(InvalidInputError) as wrong:
        validate_file(scored, time="time_months", event="death", out_dir=Path("unused"))
    message = str(wrong.value)
    assert message.startswith("--event must be a column of the scored file: ") and "got 'death'" in message
    assert "time_months" in message and "kps" in message and "sins_total" not in message


def _small(scored: Path) -> pl.DataFrame:
    return pl.read_parquet(scored).head(400)


def test_an_r_style_status_column_is_refused_naming_the_values_found(scored: Path) -> None:
    # Surv(time, status) with 1 = censored, 2 = dead: read as 0/1 every censored row would be a death
    df = _small(scored).with_columns(status=pl.col("event").cast(pl.Int64) + 1)
    with pytest.raises(
        InvalidInputError, match=r"--event column 'status' must be 0 \(censored\) or 1 \(death\)"
    ) as exc:
        validate_frame(df, time="time_months", event="status", bootstrap=0)
    assert "got 2" in str(exc.value) and "values found: 1, 2" in str(exc.value)
    assert "status - 1" in str(exc.value)


@pytest.mark.parametrize(
    ("values", "found"),
    [([0.0, 0.5, 1.0], "0.5"), (["0", "1", "dead"], "'dead'"), ([0, 1, -1], "-1")],
)
def test_event_values_other_than_0_and_1_are_refused(scored: Path, values: list[object], found: str) -> None:
    df = _small(scored).head(3).with_columns(pl.Series("event", values))
    with pytest.raises(InvalidInputError, match="--event column 'event'") as exc:
        validate_frame(df, time="time_months", event="event", bootstrap=0)
    assert f"got {found}" in str(exc.value)


def test_boolean_and_text_events_are_read_as_0_1(scored: Path) -> None:
    df = _small(scored)
    as_int, _ = validate_frame(df, time="time_months", event="event", bootstrap=0, scores=["bauer"])
    as_bool, _ = validate_frame(
        df.with_columns(pl.col("event") == 1),
        time="time_months",
        event="event",
        bootstrap=0,
        scores=["bauer"],
    )
    as_text, _ = validate_frame(
        df.with_columns(pl.col("event").cast(pl.String), pl.col("time_months").cast(pl.String)),
        time="time_months",
        event="event",
        bootstrap=0,
        scores=["bauer"],
    )
    assert as_int["scores"] == as_bool["scores"] == as_text["scores"]
    assert as_int["rows_used"] == 400


def test_a_time_with_decimal_commas_is_refused_not_dropped(scored: Path) -> None:
    df = _small(scored).with_columns(
        pl.col("time_months").cast(pl.String).str.replace(r"\.", ",").alias("time_months")
    )
    with pytest.raises(
        InvalidInputError, match="--time column 'time_months' must be a number of months"
    ) as exc:
        validate_frame(df, time="time_months", event="event", bootstrap=0)
    assert "decimal comma" in str(exc.value)


@pytest.mark.parametrize(("bad", "what"), [(float("inf"), "infinite"), (-2.0, "negative")])
def test_infinite_and_negative_times_are_refused(scored: Path, bad: float, what: str) -> None:
    df = _small(scored).with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(bad).otherwise(pl.col("time_months")).alias("time_months")
    )
    with pytest.raises(InvalidInputError, match=f"--time column 'time_months'.*3 {what} times"):
        validate_frame(df, time="time_months", event="event", bootstrap=0)


def test_missing_times_and_events_are_excluded_and_counted(scored: Path, tmp_path: Path) -> None:
    # NaN (pandas' missing float), null and empty text are all missing: excluded and counted, not refused
    row = pl.int_range(pl.len())
    df = _small(scored).with_columns(
        pl.when(row < 3)
        .then(float("nan"))
        .when(row < 5)
        .then(None)
        .otherwise(pl.col("time_months"))
        .alias("time_months"),
        pl.when(row >= 396).then(None).otherwise(pl.col("event")).alias("event"),
    )
    summary, _ = validate_frame(df, time="time_months", event="event", bootstrap=0, scores=["bauer"])
    assert summary["rows_used"] == 391
    assert summary["rows_excluded_missing_time_or_event"] == 9
    assert (summary["rows_missing_time"], summary["rows_missing_event"]) == (5, 4)


def test_a_file_that_was_never_scored_is_refused_naming_it(tmp_path: Path) -> None:
    raw = tmp_path / "raw.parquet"
    write_synth(200, raw, seed=2)
    with pytest.raises(
        InvalidInputError, match="scored must be a file written by `spinemets cohort score`"
    ) as exc:
        validate_file(raw, time="time_months", event="event", out_dir=tmp_path / "rep", bootstrap=0)
    assert str(raw) in str(exc.value)
    assert not (tmp_path / "rep").exists()


def test_no_row_with_both_time_and_event_is_an_error(scored: Path) -> None:
    df = _small(scored).with_columns(pl.lit(None, pl.Float64).alias("time_months"))
    with pytest.raises(InvalidInputError, match="at least one row with both a time"):
        validate_frame(df, time="time_months", event="event", bootstrap=0)


@pytest.mark.parametrize("column", ["time_months", "event"])
def test_an_all_empty_column_is_missing_not_the_wrong_type(scored: Path, column: str) -> None:
    """A Parquet column holding only nulls has no type of its own (polars Null): every value missing."""
    df = _small(scored).with_columns(pl.lit(None).alias(column))
    assert df[column].dtype == pl.Null
    with pytest.raises(InvalidInputError, match="at least one row with both a time"):
        validate_frame(df, time="time_months", event="event", bootstrap=0)
