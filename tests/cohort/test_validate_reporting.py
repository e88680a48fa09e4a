"""What a reviewer of a validation paper needs from the report: enough to reproduce every figure."""

from __future__ import annotations

import html
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
    report = _html(summary, {})
    assert "follow-up read in days (column t), converted to months" in report
    assert "event: column e.</p>" in report


@pytest.mark.parametrize("source", ["csv", "parquet"])
def test_a_synthetic_cohort_scored_to_csv_with_keep_is_still_validated_as_synthetic(
    tmp_path: Path, source: str
) -> None:
    """A CSV has no file metadata: `--keep` left the `synthetic` column out of a CSV output, so
    validating it gave a report of simulated survival with no SYNTHETIC label anywhere. A CSV
    output of synthetic data now keeps the flag as a column, whatever --keep says."""
    from spinemets.cohort.run import score_file
    from spinemets.cohort.synth import write_synth

    src = tmp_path / f"synth.{source}"
    write_synth(60, src, seed=2)
    if source == "parquet":  # the flag only in the file's metadata, as after an earlier --keep
        pl.read_parquet(src).drop("synthetic").write_parquet(tmp_path / "flagless.parquet")
        import pyarrow.parquet as pq

        table = pq.read_table(tmp_path / "flagless.parquet")
        pq.write_table(table.replace_schema_metadata({b"spinemets.synthetic": b"true"}), src)
    out = tmp_path / "scored.csv"
    assert score_file(src, out, keep=["patient_id", "time_months", "event"], progress=False).synthetic
    assert pl.read_csv(out)["synthetic"].to_list() == [True] * 60
    summary = validate_file(out, time="time_months", event="event", out_dir=tmp_path / "r", bootstrap=0)
    assert summary["synthetic"] is True
    assert "SYNTHETIC DATA" in (tmp_path / "r" / "report.html").read_text()


def test_rows_left_out_for_an_incomplete_score_are_counted_per_score(tmp_path: Path) -> None:
    """Fourteen rows with a time and an event: 12 with a Tomita total, 2 without (one missing an
    item but with its band already decided, one with an invalid value). C and AUC use the 12, the
    band table the 13 banded rows. The summary gave n and n_band_determined but never said how many
    rows each left out or why, the flow a validation paper reports; it now counts them."""
    df = pl.concat(
        [
            _tomita(12).with_columns(tomita_input_error=pl.lit(False)),
            pl.DataFrame(
                {
                    "t": [3.0, 4.0],
                    "e": [1, 0],
                    "tomita_total": [None, None],
                    "tomita_band": ["terminal_care", None],
                    "tomita_input_error": [False, True],
                },
                schema_overrides={"tomita_total": pl.Int64},
            ),
        ]
    )
    df.write_parquet(tmp_path / "s.parquet")
    summary = validate_file(tmp_path / "s.parquet", time="t", event="e", out_dir=tmp_path / "r", bootstrap=0)
    s = summary["scores"]["tomita"]
    assert (summary["rows_used"], s["n"], s["n_band_determined"]) == (14, 12, 13)
    assert (s["n_without_total"], s["n_input_error"], s["n_band_undetermined"]) == (2, 1, 1)
    report = (tmp_path / "r" / "report.html").read_text()
    assert (
        "2 of the 14 rows with a time and an event have no complete total (1 with an invalid value)" in report
    )
    assert "1 has its band undetermined and is left out of the band table" in report


def test_each_band_row_gives_the_points_it_covers() -> None:
    """The band table named the revised Tokuhashi bands by their meaning only ('< 6 months'): a
    reader could not see that the row is totals 0-8, nor check it against the paper's own table.
    Additive scores now give each band's points (revised Tokuhashi 0-8 / 9-11 / 12-15, Tomita 2-3
    .. 8-10, reference sheet scores.md sections 2a and 3); grades (ESCC, Frankel) have none."""
    n = 12
    df = _tomita(n).with_columns(
        tokuhashi_revised_total=pl.lit(10),
        tokuhashi_revised_band=pl.lit("over_6_months"),
        escc_total=pl.lit(4),
        escc_band=pl.lit("high_grade"),
    )
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=0)
    points = {k: [b.get("points") for b in s["bands"]] for k, s in summary["scores"].items()}
    assert points["tokuhashi_revised"] == [[0, 8], [9, 11], [12, 15]]
    assert points["tomita"] == [[2, 3], [4, 5], [6, 7], [8, 10]]
    assert points["escc"] == [None, None]
    report = _html(summary, {})
    assert "<th>points</th>" in report
    assert "<tr><td>&gt;= 6 months</td><td>9-11</td>" in report
    assert "<tr><td>terminal care</td><td>8-10</td>" in report
    assert "<tr><td>high grade</td><td></td>" in report


def test_a_published_expectation_is_cited_in_the_report_not_by_an_internal_key() -> None:
    """The report printed 'predicted survival < 6 months [tokuhashi2005]': a bibliography key the
    reader cannot resolve (the report has no reference list; only summary.json had the source). It
    now names the source beside the figure and lists the full reference."""
    from spinemets.knowledge.bibliography import get_reference

    df = _tomita().with_columns(
        tokuhashi_revised_total=pl.lit(5), tokuhashi_revised_band=pl.lit("under_6_months")
    )
    summary, _ = validate_frame(df, time="t", event="e", bootstrap=0, scores=["tokuhashi_revised"])
    band = summary["scores"]["tokuhashi_revised"]["bands"][0]
    ref = get_reference("tokuhashi2005")
    assert band["published_expectation"]["reference"] == ref.vancouver()
    report = _html(summary, {})
    assert "predicted survival &lt; 6 months (Tokuhashi Y et al. 2005, Spine)" in report
    assert "[tokuhashi2005]" not in report
    assert html.escape(ref.vancouver()) in report.split("<h2>References</h2>")[1]


def test_the_report_states_the_methods_summary_json_defines() -> None:
    """summary.json defined each figure (log(-log) CI of the median, ties counted 1/2 in C, IPCW
    AUC, complete-case rows); the report, the part a co-author reads, stated none of it."""
    from spinemets.cohort.validate import DEFINITIONS

    summary, _ = validate_frame(_tomita(), time="t", event="e", bootstrap=0)
    report = _html(summary, {})
    methods = report.split("<h2>Methods</h2>")[1]
    for name, text in DEFINITIONS.items():
        assert f"<li><code>{html.escape(name)}</code>: {html.escape(text)}</li>" in methods
