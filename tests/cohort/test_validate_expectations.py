"""Published survival expectation per band, as numbers, beside the observed Kaplan-Meier median."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from spinemets.cli import app
from spinemets.cohort.run import score_file
from spinemets.cohort.synth import simulated_median, write_synth
from spinemets.cohort.validate import (
    ExpectationCheck,
    check_expectation,
    expectation_json,
    validate_file,
    validate_frame,
)
from spinemets.errors import InvalidInputError
from spinemets.scores.catalogue import SCORES
from spinemets.scores.engine import BandSurvival, SourceCertainty

# (band, lower bound months, upper bound months, certainty), typed from ../shared/reference/scores.md:
# §2a revised Tokuhashi 2005 bands [S: src-nice-tok, NICE CG75 reproduction approved by Tokuhashi]:
#     0-8 "< 6 months", 9-11 ">= 6 months", 12-15 ">= 1 year".
# §2b Tokuhashi 1990 [K]: "<= 5 means <= 3 months", ">= 9 means >= 12 months"; 6-8 has no figure [GAP].
# Tomita mean survival by band is "[K, low confidence] Do not hard-code"; Bauer 1-year survival is [K]
# and not shown (docs/conflicts.md); NESMS per-score survival is [GAP]: none of them carries numbers.
REFERENCE = {
    "tokuhashi_revised": {
        ("under_6_months", None, 6.0, SourceCertainty.S),
        ("over_6_months", 6.0, None, SourceCertainty.S),
        ("over_1_year", 12.0, None, SourceCertainty.S),
    },
    "tokuhashi_1990": {
        # [K] on the sheet, since seen in the paper's abstract and the NICE CG75 evidence table (V)
        ("up_to_3_months", None, 3.0, SourceCertainty.V),
        ("over_12_months", 12.0, None, SourceCertainty.V),
    },
}


def test_band_expectations_equal_the_reference_sheet() -> None:
    stored = {
        k: {(e.band, e.median_low_months, e.median_high_months, e.certainty) for e in d.band_survival}
        for k, d in SCORES.items()
        if d.band_survival
    }
    assert stored == REFERENCE


def test_an_expectation_needs_a_bound_in_order() -> None:
    with pytest.raises(ValueError, match="lower or an upper bound"):
        BandSurvival(band="x", statement="s", certainty=SourceCertainty.S, citation_id="tokuhashi2005")
    with pytest.raises(ValueError, match="above upper bound"):
        BandSurvival(
            band="x",
            median_low_months=12,
            median_high_months=6,
            statement="s",
            certainty=SourceCertainty.S,
            citation_id="tokuhashi2005",
        )


@pytest.mark.parametrize(
    ("ci", "low", "high", "expected"),
    [
        ((2.0, 5.9), None, 6.0, ExpectationCheck.consistent),
        ((5.0, 7.0), None, 6.0, ExpectationCheck.consistent),  # overlaps the bound
        ((6.0, 7.0), None, 6.0, ExpectationCheck.consistent),  # touches it
        ((6.1, 9.0), None, 6.0, ExpectationCheck.outside),
        ((7.0, math.inf), 12.0, None, ExpectationCheck.consistent),  # upper limit not reached
        ((4.0, 11.9), 12.0, None, ExpectationCheck.outside),
        ((math.inf, math.inf), None, 3.0, ExpectationCheck.outside),  # median not reached at all
    ],
)
def test_the_check_flags_a_ci_wholly_outside_the_bounds(
    ci: tuple[float, float], low: float | None, high: float | None, expected: ExpectationCheck
) -> None:
    e = BandSurvival(
        band="b",
        median_low_months=low,
        median_high_months=high,
        statement="s",
        certainty=SourceCertainty.S,
        citation_id="tokuhashi2005",
    )
    assert check_expectation(*ci, e) is expected


@pytest.fixture(scope="module")
def from_expectations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("expect")
    write_synth(6000, d / "s.parquet", seed=21, survival_from="tokuhashi_revised")
    score_file(d / "s.parquet", d / "scored.parquet", progress=False)
    return d / "scored.parquet"


def test_a_cohort_simulated_from_the_expectations_is_consistent_with_them(
    from_expectations: Path, tmp_path: Path
) -> None:
    summary = validate_file(
        from_expectations,
        time="time_months",
        event="event",
        out_dir=tmp_path,
        bootstrap=0,
        scores=["tokuhashi_revised"],
    )
    bands = summary["scores"]["tokuhashi_revised"]["bands"]
    assert len(bands) == 3
    for b in bands:
        e = b["published_expectation"]
        assert b["n"] > 200
        assert b["expectation_check"] == "consistent", b
        lo, hi = b["median_ci"]
        assert lo is not None and lo <= b["median_months"] <= (math.inf if hi is None else hi)
        assert (e["median_low_months"] or 0) <= b["median_months"] <= (e["median_high_months"] or math.inf)
        assert e["certainty"] == "S" and e["unverified"] is False and e["citation"] == "tokuhashi2005"
    # the simulated medians are recovered: 0.6 x 6, 1.5 x 6, 1.5 x 12 months
    medians = [b["median_months"] for b in bands]
    assert medians == pytest.approx([3.6, 9.0, 18.0], rel=0.2)
    html = (tmp_path / "report.html").read_text()
    assert "predicted survival &lt; 6 months (Tokuhashi Y et al. 2005, Spine)" in html
    assert html.count("<td>consistent</td>") == 3

    def reject(constant: str) -> None:
        raise AssertionError(f"summary.json holds {constant}, which is not JSON")

    data = json.loads((tmp_path / "summary.json").read_text(), parse_constant=reject)
    assert data["scores"]["tokuhashi_revised"]["c_index"]["low"] is None  # no bootstrap asked
    assert (
        data["scores"]["tokuhashi_revised"]["bands"][0]["published_expectation"]["median_high_months"] == 6.0
    )


def test_a_band_living_far_longer_than_published_is_flagged(from_expectations: Path, tmp_path: Path) -> None:
    """Everyone in Tokuhashi 0-8 ("< 6 months") made to die at 20-30 months: the CI excludes < 6."""
    df = pl.read_parquet(from_expectations)
    rng = np.random.default_rng(0)
    df = df.with_columns(
        pl.when(pl.col("tokuhashi_revised_band") == "under_6_months")
        .then(pl.Series(rng.uniform(20, 30, df.height)))
        .otherwise(pl.col("time_months"))
        .alias("time_months")
    )
    summary, _ = validate_frame(
        df, time="time_months", event="event", bootstrap=0, scores=["tokuhashi_revised"]
    )
    under = summary["scores"]["tokuhashi_revised"]["bands"][0]
    assert under["band"] == "under_6_months"
    assert under["expectation_check"] == ExpectationCheck.outside.value


def test_recalled_expectations_are_marked_unverified_and_gaps_stay_empty(from_expectations: Path) -> None:
    summary, _ = validate_frame(
        pl.read_parquet(from_expectations),
        time="time_months",
        event="event",
        bootstrap=0,
        scores=["tokuhashi_1990"],
    )
    bands = {b["band"]: b for b in summary["scores"]["tokuhashi_1990"]["bands"]}
    checked = bands["up_to_3_months"]["published_expectation"]
    assert checked["certainty"] == "V" and checked["unverified"] is False
    assert bands["intermediate"]["published_expectation"] is None
    assert "expectation_check" not in bands["intermediate"]
    recalled = BandSurvival(
        band="b",
        median_high_months=3.0,
        statement="s",
        certainty=SourceCertainty.K,
        citation_id="tokuhashi1990",
    )
    assert expectation_json(recalled)["unverified"] is True


def test_simulated_medians_follow_the_documented_rule() -> None:
    def e(lo: float | None, hi: float | None) -> BandSurvival:
        return BandSurvival(
            band="b", median_low_months=lo, median_high_months=hi, statement="s",
            certainty=SourceCertainty.S, citation_id="tokuhashi2005",
        )  # fmt: skip

    assert simulated_median(e(None, 6)) == pytest.approx(3.6)
    assert simulated_median(e(12, None)) == pytest.approx(18.0)
    assert simulated_median(e(6, 12)) == pytest.approx(9.0)


def test_synth_refuses_a_score_without_published_band_survival(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="tokuhashi_revised"):
        write_synth(10, tmp_path / "x.csv", survival_from="sins")
    result = CliRunner().invoke(
        app, ["cohort", "synth", "50", "-o", str(tmp_path / "y.csv"), "--survival-from", "tokuhashi_revised"]
    )
    assert result.exit_code == 0, result.output
    assert "tokuhashi_revised band expectations" in result.output
    assert pl.read_csv(tmp_path / "y.csv").height == 50


def test_recalled_tokuhashi_1990_expectations_are_recovered_from_a_cohort_simulated_from_them(
    tmp_path: Path,
) -> None:
    """Same check for the 1990 bands (<= 3 months simulated at 1.8, >= 12 months at 18); 6-8 has none."""
    write_synth(6000, tmp_path / "s.parquet", seed=4, survival_from="tokuhashi_1990")
    score_file(tmp_path / "s.parquet", tmp_path / "scored.parquet", progress=False)
    summary, _ = validate_frame(
        pl.read_parquet(tmp_path / "scored.parquet"),
        time="time_months",
        event="event",
        bootstrap=0,
        scores=["tokuhashi_1990"],
    )
    bands = {b["band"]: b for b in summary["scores"]["tokuhashi_1990"]["bands"]}
    for key, simulated in (("up_to_3_months", 1.8), ("over_12_months", 18.0)):
        assert bands[key]["n"] > 200
        assert bands[key]["expectation_check"] == "consistent"
        assert bands[key]["median_months"] == pytest.approx(simulated, rel=0.2)
