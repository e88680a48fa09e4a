"""A synthetic cohort for demos, tests and benchmarks. SYNTHETIC: not patients, not evidence.

Every row carries ``synthetic = true`` and the Parquet file says so in its metadata; reports built
on it say so on every page. The facts are drawn from simple distributions and survival is simulated
from a stated linear predictor (docs/cohort.md, "Synthetic data"), so any C-index measured on this
data reflects these assumptions, not the published scores' real performance.

Facts that feed the survival model are generated with explicit distributions; every other input a
catalogue score accepts is drawn uniformly from that score's own categories or derivation tables,
so a new score in the catalogue is exercised without editing this module.

``survival_from=SCORE`` replaces the survival model for the rows whose band of SCORE is determined
and carries a published expectation (``band_survival``): their survival is exponential with the
median :func:`simulated_median` picks inside the published bounds. Validation of that score on such a
cohort should then find every band's observed median consistent with its expectation (a check of the
validation code, not of the score).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from spinemets.errors import InvalidInputError
from spinemets.knowledge.histology import histology_table
from spinemets.model.enums import Histology
from spinemets.model.levels import LEVELS
from spinemets.scores.engine import BandSurvival, Bins, Item, Lookup, ScoreDefinition, ScoreSpec, Subscore
from spinemets.scores.performance import ECOG_TO_KPS, EcogConvention

#: Share of each generated input that is set missing (at random), to exercise ranges.
MISSING_RATE = 0.08
#: Baseline median survival (months) of the reference patient (KPS >= 80, no adverse fact).
BASELINE_MEDIAN_MONTHS = 24.0
#: Follow-up: administrative censoring uniform on [FOLLOW_UP_MIN, FOLLOW_UP_MAX] months.
FOLLOW_UP_MIN, FOLLOW_UP_MAX = 3.0, 36.0

# Synthetic log hazard ratios (assumptions of this generator, not published estimates).
LOG_HR_PER_10_KPS_BELOW_80 = 0.25
REMOVABLE_SHARE_OF_TREATABLE = 0.5
"""Share of treatable organ metastases recorded as removable (Tokuhashi), an assumption."""
LOG_HR_VISCERAL = {"none": 0.0, "treatable": 0.3, "untreatable": 0.8}
LOG_HR_GROWTH = {"slow": 0.0, "moderate": 0.5, "rapid": 1.0, None: 0.5}
LOG_HR_FRANKEL = {"A": 0.5, "B": 0.5, "C": 0.25, "D": 0.25, "E": 0.0}
LOG_HR_EXTRASPINAL = ((0, 0.0), (1, 0.15), (3, 0.35))
LOG_HR_VERTEBRAE = ((1, 0.0), (2, 0.1), (3, 0.25))

#: With ``survival_from``: the simulated median of a band bounded on one side only.
MEDIAN_UNDER_UPPER_BOUND = 0.6
"""An "under U months" band is simulated with median 0.6 x U (< 6 months -> 3.6 months)."""
MEDIAN_OVER_LOWER_BOUND = 1.5
""">= L months -> median 1.5 x L (>= 6 months -> 9; >= 12 months -> 18); both bounds -> the midpoint."""

_KPS = np.arange(10, 101, 10)
_KPS_P = np.array([1, 2, 4, 7, 10, 14, 18, 20, 15, 9], dtype=float)
_PRIMARY_WEIGHTS = {
    "breast": 16, "lung_nsclc": 16, "prostate": 12, "kidney": 7, "myeloma": 6, "colorectal": 5,
    "lung_sclc": 3, "thyroid": 3, "unknown_primary": 5, "liver": 2, "stomach": 2, "oesophagus": 2,
    "pancreas": 2, "bladder": 2, "uterus": 2, "lymphoma": 3, "melanoma": 2, "sarcoma": 2,
    "head_and_neck": 2, "cervix": 1, "ovary": 1, "rectum": 2,
}  # fmt: skip
_FRANKEL = ("A", "B", "C", "D", "E")
_FRANKEL_P = np.array([3, 4, 8, 15, 70], dtype=float)


def _choice(
    rng: np.random.Generator, values: list[str] | tuple[str, ...], n: int, p: np.ndarray | None = None
) -> np.ndarray:
    idx = rng.choice(len(values), size=n, p=None if p is None else p / p.sum())
    return np.asarray(values, dtype=object)[idx]


def _level_pool() -> tuple[list[str], np.ndarray]:
    levels = [lv for lv in LEVELS if lv not in {"C0", "Co"}]
    weights = np.array(
        [1.0 if lv[0] == "C" else 3.0 if lv[0] == "T" else 2.5 if lv[0] == "L" else 0.5 for lv in levels]
    )
    return levels, weights


def _generic(rng: np.random.Generator, item: Item, source: Lookup | Bins | None, n: int) -> np.ndarray:
    """Uniform over an item's categories (direct) or over a derivation's table or bins."""
    if source is None:
        return _choice(rng, [c.key for c in item.categories], n)
    if isinstance(source, Lookup):
        return _choice(rng, list(source.table), n)
    p_lo, p_hi = source.plausible or (-np.inf, np.inf)
    lows = np.array([max(lo, p_lo) for lo, _, _ in source.bins], dtype=float)
    highs = np.array([min(hi, lo + 20, p_hi) for lo, hi, _ in source.bins], dtype=float)
    pick = rng.integers(0, len(lows), size=n)
    values = rng.uniform(lows[pick], highs[pick])
    # measured values are recorded to one decimal (labs) or whole numbers (counts, percentages)
    values = np.floor(values) if source.integer else np.round(values, 1)
    return values / source.factor if getattr(source, "factor", 1.0) not in (0, 1.0) else values


def _walk(defn: ScoreDefinition) -> list[tuple[Item, Lookup | Bins | None, str]]:
    """(item, the source to generate, input name) for each item; nested scores are walked too."""
    out: list[tuple[Item, Lookup | Bins | None, str]] = []
    for it in defn.items:
        plain = [d for d in it.derivations if not isinstance(d, Subscore)]
        if plain:
            out.append((it, plain[0], plain[0].input))
        elif not any(isinstance(d, Subscore) for d in it.derivations):
            out.append((it, None, it.key))
        for d in it.derivations:
            if isinstance(d, Subscore):
                out += _walk(d.definition)
    return out


def simulated_median(e: BandSurvival) -> float:
    """The median survival (months) simulated for a band with this published expectation."""
    lo, hi = e.median_low_months, e.median_high_months
    if lo is not None and hi is not None:
        return (lo + hi) / 2
    if hi is not None:
        return hi * MEDIAN_UNDER_UPPER_BOUND
    if lo is None:  # pragma: no cover - BandSurvival requires a bound
        raise ValueError(f"band {e.band} has no bound")
    return lo * MEDIAN_OVER_LOWER_BOUND


def _band_expectation_times(
    frame: pl.DataFrame, key: str, specs: Mapping[str, ScoreSpec], rng: np.random.Generator
) -> np.ndarray:
    """Survival times drawn from the band expectations of ``key`` (NaN where none applies)."""
    from spinemets.cohort.frame import score_chunk

    defn = specs[key].definition
    bands = score_chunk(frame, {key: specs[key]}).scored[f"{key}_band"].to_numpy()
    medians = np.full(frame.height, np.nan)
    for e in defn.band_survival:
        medians[bands == e.band] = simulated_median(e)
    draws = rng.exponential(1.0, size=frame.height) * medians / math.log(2)
    return np.asarray(draws)


def synth_frame(
    n: int, seed: int = 0, specs: Mapping[str, ScoreSpec] | None = None, survival_from: str | None = None
) -> pl.DataFrame:
    """``n`` synthetic patients: inputs for every catalogue score, ``time_months`` and ``event``.

    ``survival_from``: a score key whose published band expectations drive survival (module docstring).
    """
    from spinemets.scores.catalogue import SPECS

    specs = SPECS if specs is None else specs
    if survival_from is not None:
        with_expectations = sorted(k for k, s in specs.items() if s.definition.band_survival)
        if survival_from not in with_expectations:
            raise InvalidInputError("--survival-from", survival_from, with_expectations)
    rng = np.random.default_rng(seed)
    kps = rng.choice(_KPS, size=n, p=_KPS_P / _KPS_P.sum())
    prim_names = list(_PRIMARY_WEIGHTS)
    primary = _choice(rng, prim_names, n, np.array(list(_PRIMARY_WEIGHTS.values()), dtype=float))
    visceral = _choice(rng, ["none", "treatable", "untreatable"], n, np.array([50.0, 20.0, 30.0]))
    # Tokuhashi's removable is recorded, not derived (untreatable cannot be removable)
    removable = np.random.default_rng((seed, 1)).random(n) < REMOVABLE_SHARE_OF_TREATABLE
    organs = np.where(
        visceral == "none",
        "none",
        np.where((visceral == "treatable") & removable, "removable", "unremovable"),
    ).astype(object)
    frankel = _choice(rng, _FRANKEL, n, _FRANKEL_P)
    extraspinal = np.minimum(rng.geometric(0.45, size=n) - 1, 30)
    vertebrae = np.minimum(rng.geometric(0.4, size=n), 20)
    levels, lw = _level_pool()
    level = _choice(rng, levels, n, lw)
    ecog_by_kps = {k: e for e, ks in ECOG_TO_KPS[EcogConvention.oken1982].items() for k in ks}
    ecog = np.array([ecog_by_kps[int(k)] for k in _KPS])[((kps // 10) - 1).astype(int)]

    table = histology_table().rows
    growth = {h.value: table[Histology(h.value)].tomita_growth for h in Histology}
    lp = (
        LOG_HR_PER_10_KPS_BELOW_80 * np.maximum(0, 80 - kps) / 10
        + np.vectorize(LOG_HR_VISCERAL.__getitem__)(visceral)
        + np.vectorize(lambda p: LOG_HR_GROWTH[growth.get(p)])(primary)
        + np.vectorize(LOG_HR_FRANKEL.__getitem__)(frankel)
        + np.select(
            [extraspinal >= t for t, _ in reversed(LOG_HR_EXTRASPINAL)],
            [h for _, h in reversed(LOG_HR_EXTRASPINAL)],
        )
        + np.select(
            [vertebrae >= t for t, _ in reversed(LOG_HR_VERTEBRAE)],
            [h for _, h in reversed(LOG_HR_VERTEBRAE)],
        )
    )
    rate = math.log(2) / BASELINE_MEDIAN_MONTHS * np.exp(lp)
    true_time = rng.exponential(1.0 / rate)
    censor = rng.uniform(FOLLOW_UP_MIN, FOLLOW_UP_MAX, size=n)
    cols: dict[str, np.ndarray] = {
        "kps": kps.astype(float),
        "ecog": ecog.astype(float),
        "primary": primary,
        "visceral_metastases": visceral,
        "major_organ_metastases": organs,
        "frankel": frankel,
        "extraspinal_bone_metastases": extraspinal.astype(float),
        "vertebral_body_metastases": vertebrae.astype(float),
        "level": level,
    }
    for spec in specs.values():
        for item, source, name in _walk(spec.definition):
            if name not in cols:
                cols[name] = _generic(rng, item, source, n)
    frame: dict[str, pl.Series] = {
        "patient_id": pl.Series([f"SYN{i:08d}" for i in range(n)])
        if n <= 2_000_000
        else pl.arange(0, n, eager=True).cast(pl.String),
        "synthetic": pl.Series([True] * n, dtype=pl.Boolean),
    }
    for name, values in cols.items():
        mask = rng.random(n) < MISSING_RATE
        if name == "ecog":
            mask = rng.random(n) < 0.9  # ECOG recorded for a tenth of patients, beside KPS
        if values.dtype == object:
            frame[name] = pl.Series(name, values, dtype=pl.String).set(pl.Series(mask), None)
        else:
            series = pl.Series(name, values)
            if name in {"kps", "ecog", "extraspinal_bone_metastases", "vertebral_body_metastases"}:
                series = series.cast(pl.Int64)
            frame[name] = series.set(pl.Series(mask), None)
    if survival_from is not None:
        banded = _band_expectation_times(pl.DataFrame(frame), survival_from, specs, rng)
        true_time = np.where(np.isnan(banded), true_time, banded)
    frame["time_months"] = pl.Series(np.round(np.minimum(true_time, censor), 2))
    frame["event"] = pl.Series((true_time <= censor).astype(np.int8))
    return pl.DataFrame(frame)


def write_synth(n: int, path: str | Path, seed: int = 0, survival_from: str | None = None) -> pl.DataFrame:
    """Write a synthetic cohort (CSV or Parquet, by extension); Parquet metadata marks it synthetic."""
    from pathlib import Path

    import pyarrow.parquet as pq

    from spinemets.cohort.run import META_SYNTHETIC, FileFormat, file_format
    from spinemets.paths import check_outputs

    p = Path(path)
    fmt = file_format(p)
    check_outputs({"--output": p})
    if seed < 0:  # numpy's generator takes only non-negative seeds
        raise InvalidInputError("--seed", seed, "a whole number, 0 or more")
    df = synth_frame(n, seed, survival_from=survival_from)
    if fmt is FileFormat.parquet:
        table = df.to_arrow()
        table = table.replace_schema_metadata({META_SYNTHETIC: b"true"})
        pq.write_table(table, p, row_group_size=250_000, compression="snappy")
    else:
        df.write_csv(p)
    return df
