"""What a reviewer of a validation paper needs from the report: enough to reproduce every figure."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from spinemets.cohort.validate import _html, validate_file, validate_frame
from spinemets.errors import InvalidInputError


def _tomita(n: int = 12) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "t": [float(i) for i in range(1, n + 1)],
            "e": [1, 0] * (n // 2),
            "tomita_total": [2 + i % 9 for i in range(n)],
            "tomita_band": ["terminal_care"] * n,
        }
    )


def test_the_bootstrap_seed_is_in_the_summary_and_the_report(tmp_path: Path) -> None:
    """The bootstrap CI was reported with its number of resamples but not its seed: the interval
    of a paper's table could not be reproduced from the summary or the report alone."""
    _tomita().write_parquet(tmp_path / "s.parquet")
    summary = validate_file(
        tmp_path / "s.parquet", time="t", event="e", out_dir=tmp_path / "r", bootstrap=20, seed=7
    )
    c = summary["scores"]["tomita"]["c_index"]
    assert (c["bootstrap"], c["seed"]) == (20, 7)
    assert (
        json.loads((tmp_path / "r" / "summary.json").read_text())["scores"]["tomita"]["c_index"]["seed"] == 7
    )
    assert "20 resamples had a C, seed 7" in (tmp_path / "r" / "report.html").read_text()


def test_a_negative_seed_is_refused_as_input_not_an_internal_error() -> None:
    """`--seed -1` reached numpy's generator, which raised ValueError: the command printed
    'internal error ... a bug in spinemets' instead of naming the option (synth already refuses it)."""
    with pytest.raises(InvalidInputError, match="--seed"):
        validate_frame(_tomita(), time="t", event="e", bootstrap=5, seed=-1)


def test_the_report_says_which_unit_the_times_were_read_in() -> None:
    """summary.json had time_unit_in; the report only said 'months', so a file of days read as
    days (or wrongly as months) could not be told from the report."""
    df = _tomita().with_columns(pl.col("t") * 30)
    summary, _ = validate_frame(df, time="t", event="e", unit="days", bootstrap=0)
    assert summary["time_unit_in"] == "days"
    assert "follow-up read in days (column t), converted to months" in _html(summary, {})
