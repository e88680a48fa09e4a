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
