"""Validation on tiny hand-made cohorts: every figure either computed or left empty with the reason."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from spinemets.cohort.validate import NO_COMPARABLE_PAIR, _html, validate_file, validate_frame


def _tomita(times: list[float], events: list[int], totals: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "t": times,
            "e": events,
            "tomita_total": totals,
            "tomita_band": ["terminal_care"] * len(times),
        }
    )


def test_a_single_death_at_the_longest_time_leaves_c_empty_with_the_reason_not_a_crash() -> None:
    """Harrell's C compares a death with every row followed longer. Twelve rows, times 1..12, the
    only death at t = 12: no row is followed longer, so no pair is comparable and C is undefined
    (0/0). lifelines raises ZeroDivisionError there, which used to abort the whole validation."""
    df = _tomita([float(i) for i in range(1, 13)], [0] * 11 + [1], [2 + i % 9 for i in range(12)])
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=20, scores=["tomita"])
    s = summary["scores"]["tomita"]
    assert s["c_index"] is None
    assert s["c_index_not_computed"] == NO_COMPARABLE_PAIR
    assert NO_COMPARABLE_PAIR in _html(summary, {})


def test_bootstrap_resamples_without_a_comparable_pair_are_skipped_and_counted() -> None:
    """Ten rows, times 1..10, deaths at t = 9 and t = 10 only. The full cohort has one comparable
    pair (the death at 9 against the row at 10), so C is defined. A resample that draws the row at 10
    but not the one at 9 has a death and no comparable pair (about a quarter of resamples): it
    used to crash; now it is skipped, and the summary says how many resamples had a C."""
    df = _tomita([float(i) for i in range(1, 11)], [0] * 8 + [1, 1], [2, 3, 4, 5, 6, 7, 8, 9, 10, 2])
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=200, seed=1, scores=["tomita"])
    c = summary["scores"]["tomita"]["c_index"]
    # the pair (death at 9, total 10) vs (row at 10, total 2): higher Tomita died sooner, concordant
    assert c["estimate"] == 1.0
    assert 0 < c["bootstrap_resamples_used"] < 200
    assert c["bootstrap"] == 200


def test_c_index_not_computed_says_why_for_a_prognostic_score() -> None:
    """Six rows are below the 10-row minimum; twelve rows with no death, or with a single total,
    have nothing to rank. Each used to leave the summary without any `c_index` key and the report
    silent; now C is null and the reason is in the JSON and the report."""
    six = _tomita([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 0, 1, 1, 0, 1], [9, 8, 6, 5, 3, 2])
    no_death = _tomita([float(i) for i in range(1, 13)], [0] * 12, [2 + i % 9 for i in range(12)])
    one_total = _tomita([float(i) for i in range(1, 13)], [1] * 12, [5] * 12)
    for df, why in ((six, "6 rows"), (no_death, "no death"), (one_total, "same total")):
        summary, _ = validate_frame(df, time="t", event="e", bootstrap=10, scores=["tomita"])
        s = summary["scores"]["tomita"]
        assert s["c_index"] is None
        assert why in s["c_index_not_computed"]
        assert "time_dependent_auc" not in s
        assert s["c_index_not_computed"] in _html(summary, {})


def test_time_dependent_auc_says_why_a_horizon_is_not_estimable() -> None:
    """Cumulative/dynamic AUC at h compares the deaths by h (cases) with the rows followed beyond h
    (controls). Here the first death is at 4 months, so at 3 months there is no case; the longest
    follow-up is 11 months, so at 12 months there is no control. At 6 months both exist. The two
    empty horizons used to be a bare null ('n/a') with no reason."""
    times = [4.0, 5.0, 5.5, 6.5, 7.0, 8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 11.0]
    events = [1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0]
    totals = [10, 9, 8, 7, 6, 5, 4, 3, 2, 2, 3, 4]
    summary, _ = validate_frame(_tomita(times, events, totals), time="t", event="e", bootstrap=0)
    s = summary["scores"]["tomita"]
    auc, why = s["time_dependent_auc"], s["time_dependent_auc_not_estimable"]
    assert auc["3m"] is None and "no death by 3 months" in why["3m"]
    assert auc["12m"] is None and "no row followed beyond 12 months" in why["12m"]
    # at 6 months: cases are the deaths at 4 and 5.5 (totals 10, 8), controls every row beyond 6
    # (totals 7..2, 3, 4), all lower: higher Tomita died sooner in every pair, AUC 1
    assert auc["6m"] == 1.0 and "6m" not in why
    report = _html(summary, {})
    assert why["3m"] in report and why["12m"] in report


def test_band_survival_past_the_last_follow_up_is_not_carried_forward() -> None:
    """Six rows in one band, times 1..6, deaths at 1, 3 and 5, the row at 6 censored. By hand:
    S(1) = 5/6, S(3) = 5/6 * 3/4 = 0.625, S(5) = 0.625 * 1/2 = 0.3125, flat to 6. Beyond 6 months
    nobody is followed, so S(12) is unknown: it used to be reported as 0.3125 (lifelines carries
    the last value forward). With the last row a death the curve reaches 0, which stays 0: defined."""
    censored_last = _tomita([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 0, 1, 0, 1, 0], [2, 3, 4, 5, 6, 7])
    summary, _ = validate_frame(censored_last, time="t", event="e", bootstrap=0)
    band = next(b for b in summary["scores"]["tomita"]["bands"] if b["n"])
    assert band["survival_at"] == {"3m": 0.625, "6m": 0.3125, "12m": None}
    assert "longest follow-up (6.00 months)" in band["survival_at_not_estimable"]["12m"]
    assert html.escape(band["survival_at_not_estimable"]["12m"]) in _html(summary, {})

    death_last = _tomita([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 0, 1, 0, 1, 1], [2, 3, 4, 5, 6, 7])
    summary, _ = validate_frame(death_last, time="t", event="e", bootstrap=0)
    band = next(b for b in summary["scores"]["tomita"]["bands"] if b["n"])
    assert band["survival_at"] == {"3m": 0.625, "6m": 0.0, "12m": 0.0}
    assert "survival_at_not_estimable" not in band


def test_a_score_s_bootstrap_ci_does_not_depend_on_which_other_scores_are_validated() -> None:
    """The bootstrap drew from one generator shared by the scores in turn, so Tomita's CI with
    --seed 0 changed when Tokuhashi was validated before it. Each score now draws from its own
    generator seeded with --seed: the same seed gives the same CI however the run is composed."""
    rng = np.random.default_rng(3)
    n = 300
    df = pl.DataFrame(
        {
            "t": rng.exponential(10.0, n),
            "e": rng.integers(0, 2, n),
            "tomita_total": rng.integers(2, 11, n),
            "tomita_band": ["terminal_care"] * n,
            "tokuhashi_revised_total": rng.integers(0, 16, n),
            "tokuhashi_revised_band": ["under_6_months"] * n,
        }
    )
    both, _ = validate_frame(df, time="t", event="e", bootstrap=30, seed=0)
    alone, _ = validate_frame(df, time="t", event="e", bootstrap=30, seed=0, scores=["tomita"])
    assert list(both["scores"]) == ["tokuhashi_revised", "tomita"]
    assert both["scores"]["tomita"]["c_index"] == alone["scores"]["tomita"]["c_index"]


def test_one_synthetic_row_labels_the_report_synthetic(tmp_path: Path) -> None:
    """Only the first row's `synthetic` flag was read: real rows followed by appended synthetic
    ones (first row false) gave a report with no SYNTHETIC label. Any synthetic row labels it."""
    df = _tomita([float(i) for i in range(1, 13)], [1, 0] * 6, [2 + i % 9 for i in range(12)])
    df = df.with_columns(synthetic=pl.Series([False] * 6 + [True] * 6))
    for suffix in ("csv", "parquet"):
        path = tmp_path / f"mixed.{suffix}"
        df.write_csv(path) if suffix == "csv" else df.write_parquet(path)
        summary = validate_file(path, time="t", event="e", out_dir=tmp_path / suffix, bootstrap=0)
        assert summary["synthetic"] is True
        assert "SYNTHETIC DATA" in (tmp_path / suffix / "report.html").read_text()


def test_the_kaplan_meier_plot_of_synthetic_data_says_so_in_its_title(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The report's text was labelled, the PNG was not: a figure copied out of a synthetic report
    (it is a separate image) looked like a real cohort's. Its title now says SYNTHETIC DATA."""
    from matplotlib.axes import Axes

    titles: list[str] = []
    original = Axes.set_title

    def record(self: Axes, label: str, *args: Any, **kwargs: Any) -> Any:
        titles.append(label)
        return original(self, label, *args, **kwargs)

    monkeypatch.setattr(Axes, "set_title", record)
    df = _tomita([float(i) for i in range(1, 13)], [1, 0] * 6, [2 + i % 9 for i in range(12)])
    validate_frame(df, time="t", event="e", bootstrap=0, synthetic=True)
    validate_frame(df, time="t", event="e", bootstrap=0, synthetic=False)
    assert titles == ["Tomita: Kaplan-Meier by band (SYNTHETIC DATA)", "Tomita: Kaplan-Meier by band"]


def test_a_band_without_deaths_reads_not_reached_for_its_median_and_both_ci_limits() -> None:
    """Four rows in one band, no death: the KM curve stays at 1, so the median and both limits of
    its CI are not reached (null in the JSON). The report printed the lower limit as '?'."""
    df = _tomita([2.0, 4.0, 6.0, 8.0], [0, 0, 0, 0], [8, 9, 10, 8])
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=0)
    band = next(b for b in summary["scores"]["tomita"]["bands"] if b["n"])
    assert (band["median_months"], band["median_ci"]) == (None, [None, None])
    report = _html(summary, {})
    assert "not reached (not reached-not reached)" in report and "?" not in report.split("<body>")[1]


def test_the_same_follow_up_in_days_weeks_months_or_years_is_the_same_number_of_months() -> None:
    """One year = 365.25 days = 12 months, one week = 7 days: 91.3125 days, 13.044642857 weeks
    (91.3125 / 7) and 0.25 years are all exactly 3 months, so they must fall on the same side of
    the 3-month horizon. Weeks were converted with a 365.2425-day year (12 / 52.1775)."""
    from spinemets.cohort.validate import survival_time

    months = {
        unit: survival_time(pl.Series("t", [v]), unit)[0]
        for unit, v in (("days", 91.3125), ("weeks", 91.3125 / 7), ("months", 3.0), ("years", 0.25))
    }
    assert months == pytest.approx(dict.fromkeys(months, 3.0), rel=1e-12)


def _tokuhashi_band(times: list[float], events: list[int]) -> pl.DataFrame:
    n = len(times)
    return pl.DataFrame(
        {
            "t": times,
            "e": events,
            "tokuhashi_revised_total": [5] * n,
            "tokuhashi_revised_band": ["under_6_months"] * n,
        }
    )


def test_a_band_followed_too_briefly_is_not_flagged_against_its_expectation() -> None:
    """Twenty rows of the revised Tokuhashi 0-8 band ('< 6 months'), followed 0.5 to 2 months,
    one death: the KM curve and its lower CI stay above 0.5, so neither the median nor its lower CI
    limit is reached within 2 months. Nothing here says the median exceeds 6 months, yet 'not
    reached' was read as infinity and the band flagged as excluding '< 6 months'. The lower limit
    is only known to lie beyond 2 months: consistent. The same band followed to 9 months with no
    more deaths is flagged: its lower limit lies beyond 9 > 6."""
    times = [0.5 + 1.5 * i / 19 for i in range(20)]
    events = [1] + [0] * 19
    summary, _ = validate_frame(_tokuhashi_band(times, events), time="t", event="e", bootstrap=0)
    band = summary["scores"]["tokuhashi_revised"]["bands"][0]
    assert (band["median_months"], band["median_ci"]) == (None, [None, None])
    assert band["longest_follow_up_months"] == 2.0
    assert band["expectation_check"] == "consistent"

    longer = [*times[:-1], 9.0]
    summary, _ = validate_frame(_tokuhashi_band(longer, events), time="t", event="e", bootstrap=0)
    band = summary["scores"]["tokuhashi_revised"]["bands"][0]
    assert band["median_ci"] == [None, None]
    assert band["expectation_check"] == "observed CI excludes the published expectation"


def test_a_report_of_a_sample_says_it_is_a_sample(tmp_path: Path) -> None:
    """--sample 20 of a 40-row file: summary.json had sampled_rows, but the report only said
    '20 rows used', nothing about the 40 in the file, so its figures read as the whole cohort's."""
    df = _tomita([float(i) for i in range(1, 41)], [1, 0] * 20, [2 + i % 9 for i in range(40)])
    df.write_parquet(tmp_path / "s.parquet")
    summary = validate_file(
        tmp_path / "s.parquet", time="t", event="e", out_dir=tmp_path / "r", bootstrap=0, sample=20
    )
    assert (summary["sampled_rows"], summary["rows_in_file"], summary["rows_used"]) == (20, 40, 20)
    assert "sample of 20 of the file's 40 rows" in (tmp_path / "r" / "report.html").read_text()


def test_bands_too_small_for_kaplan_meier_say_so_with_their_deaths() -> None:
    """A band with one patient has no KM curve; its row showed n = 1 and blank deaths and median.
    It now gives its deaths and the reason. A cohort with a single banded row used to get no band
    table at all, and one with no banded row no word about it."""
    df = pl.DataFrame(
        {
            "t": [1.0, 2.0, 3.0],
            "e": [1, 1, 0],
            "tomita_total": [9, 8, 2],
            "tomita_band": ["terminal_care", "terminal_care", "long_term_control"],
        }
    )
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=0)
    bands = {b["band"]: b for b in summary["scores"]["tomita"]["bands"]}
    # S(1) = 1/2: lifelines' median is the first t with S <= 0.5 (R's survfit would say 1.5)
    assert bands["terminal_care"]["median_months"] == 1.0
    one = bands["long_term_control"]
    assert (one["n"], one["events"], one["km_not_estimable"]) == (
        1,
        0,
        "1 row: a Kaplan-Meier estimate needs at least 2",
    )
    assert "median_ci" not in one
    assert one["km_not_estimable"] in _html(summary, {})

    summary, _ = validate_frame(df.head(1), time="t", event="e", bootstrap=0)
    assert [b["n"] for b in summary["scores"]["tomita"]["bands"]] == [0, 0, 0, 1]

    unbanded = df.with_columns(pl.lit(None, pl.String).alias("tomita_band"))
    summary, _ = validate_frame(unbanded, time="t", event="e", bootstrap=0)
    reason = summary["scores"]["tomita"]["bands_not_computed"]
    assert reason == "no row with a time and an event has a determined band"
    assert reason in _html(summary, {})


def test_the_summary_says_what_its_interval_and_auc_are() -> None:
    """c_index 'low'/'high' gave no level or method and time_dependent_auc no definition: the
    summary now carries a definition of each figure."""
    df = _tomita([float(i) for i in range(1, 13)], [1, 0] * 6, [2 + i % 9 for i in range(12)])
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=0)
    d = summary["definitions"]
    assert "95% percentile bootstrap" in d["c_index.low/high"] and "rows resampled" in d["c_index.low/high"]
    assert "deaths by the horizon against rows followed beyond it" in d["time_dependent_auc"]
    assert "bound on the band's median" in d["bands[].expectation_check"]


def test_a_csv_whose_first_rows_hold_whole_numbers_of_days_reads_a_later_decimal(tmp_path: Path) -> None:
    """The CSV types were inferred from the first 10,000 rows: whole days there and '2.5' on row
    10,050 stopped the run with a polars parsing error reported as a bug in spinemets. Time and
    event are now read as text and parsed by the same rules as any text column."""
    n = 10_050
    times = [str(1 + i % 30) for i in range(n)]
    times[-1] = "2.5"
    df = pl.DataFrame(
        {
            "t": times,
            "e": ["1", "0"] * (n // 2),
            "tomita_total": [5] * n,
            "tomita_band": ["middle_term_control"] * n,
        }
    )
    df.write_csv(tmp_path / "late.csv")
    summary = validate_file(
        tmp_path / "late.csv", time="t", event="e", unit="days", out_dir=tmp_path / "r", bootstrap=0
    )
    assert summary["rows_used"] == n


def test_a_missing_bootstrap_ci_says_whether_it_was_not_asked_or_not_estimable() -> None:
    """Ten rows, times 1..10, deaths at 9 and 10 only (as above) with --bootstrap 1 and a seed
    whose single resample misses the row at 9: 'no bootstrap CI' read the same as --bootstrap 0."""
    df = _tomita([float(i) for i in range(1, 11)], [0] * 8 + [1, 1], [2, 3, 4, 5, 6, 7, 8, 9, 10, 2])
    reports = {}
    for seed in range(50):
        summary, _ = validate_frame(df, time="t", event="e", bootstrap=1, seed=seed, scores=["tomita"])
        if summary["scores"]["tomita"]["c_index"]["bootstrap_resamples_used"] == 0:
            reports["none"] = _html(summary, {})
            break
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=0, scores=["tomita"])
    reports["zero"] = _html(summary, {})
    assert "none of the 1 resamples had a comparable pair" in reports["none"]
    assert "no bootstrap CI: --bootstrap 0" in reports["zero"]


def test_the_terminal_says_why_a_prognostic_score_has_no_c(tmp_path: Path) -> None:
    """The terminal listed only the scores with a C: a prognostic score without one vanished."""
    from typer.testing import CliRunner

    from spinemets.cli import app

    _tomita([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 0, 1, 1, 0, 1], [9, 8, 6, 5, 3, 2]).write_csv(
        tmp_path / "t.csv"
    )
    args = [
        "cohort",
        "validate",
        str(tmp_path / "t.csv"),
        "--time",
        "t",
        "--event",
        "e",
        "-o",
        str(tmp_path / "r"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "tomita: n=6, C not computed: 6 rows with a complete total, fewer than 10" in result.output


def test_median_follow_up_is_the_reverse_kaplan_meier_median_worked_by_hand() -> None:
    """A validation paper reports how long its cohort was followed (reverse Kaplan-Meier: censoring is
    the event, death censors). Times 1..5 months, deaths at 1 and 3, alive at 2, 4 and 5. Reverse KM:
    t=1 a censoring (no step); t=2 one of 4 at risk -> 3/4; t=3 censored; t=4 one of 2 -> 3/8 <= 1/2,
    so the median follow-up is 4 months (the plain median of the times, 3, mixes in the early deaths)."""
    df = _tomita([1.0, 2.0, 3.0, 4.0, 5.0], [1, 0, 1, 0, 0], [9, 8, 6, 5, 3])
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=0, scores=["tomita"])
    f = summary["follow_up"]
    assert f["median_months"] == 4.0 and f["censored"] == 3 and f["longest_months"] == 5.0
    assert "reverse Kaplan-Meier" in summary["definitions"]["follow_up"]
    assert "Median follow-up (reverse Kaplan-Meier" in _html(summary, {})
    assert "4.00 months" in _html(summary, {})


def test_median_follow_up_not_reached_when_most_rows_died_says_so() -> None:
    """Every row died: no censoring ever happens, the reverse KM never falls, the median follow-up is
    not reached (null), and the report says why instead of printing a number."""
    df = _tomita([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], [9, 8, 6, 5])
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=0, scores=["tomita"])
    assert summary["follow_up"]["median_months"] is None and summary["follow_up"]["censored"] == 0
    assert "not reached (more than half of the rows died" in _html(summary, {})


def test_a_band_of_a_handful_of_rows_is_flagged_beside_its_median() -> None:
    """Two rows dying at the same time give a median of 1.0 with the interval 1.0-1.0: right by the
    method, but it reads as precise. A band under the C-index's 10-row floor says it rests on very few
    patients, in summary.json and beside the median in the report; a band of 12 rows does not."""
    few = _tomita([1.0, 1.0, 2.0], [1, 1, 0], [9, 8, 6])
    summary, _ = validate_frame(few, time="t", event="e", bootstrap=0, scores=["tomita"])
    band = next(b for b in summary["scores"]["tomita"]["bands"] if b["band"] == "terminal_care")
    assert band["n"] == 3 and band["small_band"].startswith("3 rows, fewer than 10")
    assert "rest on very few patients" in _html(summary, {})
    twelve = _tomita([float(i) for i in range(1, 13)], [1, 0] * 6, [2 + i % 9 for i in range(12)])
    summary, _ = validate_frame(twelve, time="t", event="e", bootstrap=0, scores=["tomita"])
    band = next(b for b in summary["scores"]["tomita"]["bands"] if b["band"] == "terminal_care")
    assert band["n"] == 12 and "small_band" not in band
