"""Survival direction per score: the C-index is read the way each score was published."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from spinemets.cohort.run import score_file
from spinemets.cohort.synth import write_synth
from spinemets.cohort.validate import validate_file, validate_frame
from spinemets.scores.catalogue import SCORES
from spinemets.scores.engine import SurvivalDirection

# Typed from ../shared/reference/scores.md (not read from the modules):
# - revised Tokuhashi §2a: 0-8 < 6 months .. 12-15 >= 1 year [S: NICE CG75 reproduction] -> higher longer
# - Tokuhashi 1990 §2b: <= 5 -> <= 3 months, >= 9 -> >= 12 months [K] -> higher longer
# - Tomita §3: 2-3 long-term local control .. 8-10 terminal care [K] -> higher shorter
# - Bauer §4: one point per positive factor [K]; modified Bauer 0-1 supportive .. 3-4 local control [S]
# - NESMS §5: odds of 1-year death vs NESMS 3 are 7.04 at 2 and 31.30 at 1 [S: Schoenfeld 2021, online 2020] -> higher longer
# - SINS §1 grades instability, ESCC §6 grades cord compression: no survival claim
# - ECOG §9: a worse grade earns fewer Tokuhashi general-condition points (§2a) -> higher shorter
# - Frankel §9: Tokuhashi palsy points rise from A/B (0) to E (2) -> the rank A=0..E=4 reads higher longer
EXPECTED_DIRECTION = {
    "tokuhashi_revised": SurvivalDirection.higher_longer,
    "tokuhashi_1990": SurvivalDirection.higher_longer,
    "tomita": SurvivalDirection.higher_shorter,
    "bauer": SurvivalDirection.higher_longer,
    "bauer_modified": SurvivalDirection.higher_longer,
    "nesms": SurvivalDirection.higher_longer,
    "sins": SurvivalDirection.not_prognostic,
    "escc": SurvivalDirection.not_prognostic,
    "performance": SurvivalDirection.higher_shorter,
    "frankel": SurvivalDirection.higher_longer,
}


def test_every_catalogue_score_declares_the_published_direction() -> None:
    assert {k: d.survival_direction for k, d in SCORES.items()} == EXPECTED_DIRECTION


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("direction")
    write_synth(4000, d / "s.parquet", seed=5)
    score_file(d / "s.parquet", d / "scored.parquet", progress=False)
    return d / "scored.parquet"


def test_tomita_c_index_is_above_one_half_when_higher_totals_die_sooner(scored: Path, tmp_path: Path) -> None:
    """The generator's hazard rises with rapid growth and visceral metastases (docs/cohort.md), which
    raise the Tomita total: read in Tomita's published direction, C must exceed 0.5."""
    summary = validate_file(
        scored, time="time_months", event="event", out_dir=tmp_path, bootstrap=20, scores=["tomita"]
    )
    s = summary["scores"]["tomita"]
    assert s["survival_direction"] == "higher_shorter"
    assert s["c_index"]["low"] > 0.55
    assert all(v is None or v > 0.5 for v in s["time_dependent_auc"].values())
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["scores"]["tomita"]["survival_direction_text"] == "a higher total predicts shorter survival"
    assert "a higher total predicts shorter survival" in (tmp_path / "report.html").read_text()


def test_reversing_a_score_reverses_its_c_index(scored: Path) -> None:
    """Tomita read against a negated copy: same ranking, opposite declared direction, so C + C' = 1."""
    df = pl.read_parquet(scored)
    as_tomita, _ = validate_frame(df, time="time_months", event="event", bootstrap=0, scores=["tomita"])
    flipped = df.with_columns((10 - pl.col("tomita_total")).alias("tokuhashi_revised_total"))
    as_longer, _ = validate_frame(
        flipped, time="time_months", event="event", bootstrap=0, scores=["tokuhashi_revised"]
    )
    c1 = as_tomita["scores"]["tomita"]["c_index"]["estimate"]
    c2 = as_longer["scores"]["tokuhashi_revised"]["c_index"]["estimate"]
    assert c1 == pytest.approx(c2, abs=1e-4)


def test_scores_without_a_survival_claim_get_no_c_index_but_keep_their_km_curves(scored: Path) -> None:
    summary, plots = validate_frame(
        pl.read_parquet(scored), time="time_months", event="event", bootstrap=0, scores=["sins", "escc"]
    )
    for key in ("sins", "escc"):
        s = summary["scores"][key]
        assert s["c_index"] is None
        assert "no published survival claim" in s["c_index_not_computed"]
        assert "time_dependent_auc" not in s
        assert s["survival_direction"] == "not_prognostic"
    assert "sins" in plots and summary["scores"]["sins"]["bands"]
