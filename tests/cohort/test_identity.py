"""The cohort path reproduces the single-patient path exactly, from the same tables.

Random calculator inputs are drawn from each score's own categories, lookup tables and bin edges
(plus invalid values); every row is scored both ways and every output column must agree.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

import polars as pl
import pytest

from spinemets import assess, parse_patient
from spinemets.cohort.frame import score_chunk
from spinemets.cohort.patients import patient_row
from spinemets.scores import SPECS, score
from tests.cohort.helpers import ALL_KEYS, expected_columns, random_inputs, result_columns

N_ROWS = 4000


def _compare(frame: pl.DataFrame, expected: list[dict[str, Any]]) -> list[str]:
    problems = []
    for j, exp in enumerate(expected):
        got = frame.row(j, named=True)
        for col, value in exp.items():
            if got.get(col) != value:
                problems.append(f"row {j} {col}: expected {value!r}, got {got.get(col)!r}")
    return problems


def _random_union_rows(seed: int, n: int) -> list[dict[str, Any]]:
    """Rows over every input of every score (what a registry file holds)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        row: dict[str, Any] = {}
        for key in ALL_KEYS:
            for name, value in random_inputs(rng, SPECS[key], p_missing=0.5).items():
                row.setdefault(name, value)
        rows.append(row)
    return rows


@pytest.mark.parametrize("fast", [True, False], ids=["distinct-value tables", "row-wise expressions"])
def test_cohort_equals_calculator_mode_on_thousands_of_random_rows_as_text(fast: bool) -> None:
    rows = _random_union_rows(20261121, N_ROWS)
    names = sorted({n for r in rows for n in r})
    frame = pl.DataFrame(
        {n: [None if r.get(n) is None else str(r[n]) for r in rows] for n in names},
        schema={n: pl.String for n in names},
    )
    scored = score_chunk(frame, SPECS, fast=fast).scored
    expected = []
    errors = 0
    for r in rows:
        exp: dict[str, Any] = {}
        for key in ALL_KEYS:
            accepted = set(SPECS[key].definition.accepted_inputs())
            cols = expected_columns(key, {k: str(v) for k, v in r.items() if k in accepted})
            errors += bool(cols[f"{key}_input_error"])
            exp.update(cols)
        expected.append(exp)
    assert _compare(scored, expected) == []
    # the sample really exercises the error path and both determined and undetermined bands
    assert errors > 100
    assert scored["tokuhashi_revised_band_determined"].sum() > 100
    assert (~scored["tokuhashi_revised_band_determined"].fill_null(True)).sum() > 100


@pytest.mark.parametrize("fast", [True, False], ids=["distinct-value tables", "row-wise expressions"])
def test_blank_text_is_missing_in_cohort_and_calculator_mode_alike(fast: bool) -> None:
    """Empty and whitespace-only cells are unknown in both paths: a range, never an invalid value."""
    rng = random.Random(5)
    rows = _random_union_rows(20261205, 600)
    for r in rows:
        for name in list(r):
            if r[name] is not None and rng.random() < 0.1:
                r[name] = rng.choice(["", " ", "   ", "\t"])
    names = sorted({n for r in rows for n in r})
    frame = pl.DataFrame(
        {n: [None if r.get(n) is None else str(r[n]) for r in rows] for n in names},
        schema={n: pl.String for n in names},
    )
    result = score_chunk(frame, SPECS, fast=fast)
    expected = []
    for r in rows:
        exp: dict[str, Any] = {}
        for key in ALL_KEYS:
            accepted = set(SPECS[key].definition.accepted_inputs())
            exp.update(expected_columns(key, {k: str(v) for k, v in r.items() if k in accepted}))
        expected.append(exp)
    assert _compare(result.scored, expected) == []
    assert not result.errors.filter(pl.col("value").str.strip_chars() == "").height


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("key", ALL_KEYS)
def test_cohort_equals_calculator_mode_per_score_with_typed_values(key: str, seed: int) -> None:
    """Numbers stay numbers (as in Parquet): int and float columns go through the same bins."""
    rng = random.Random(zlib.crc32(key.encode()) + seed)
    spec = SPECS[key]
    rows = [random_inputs(rng, spec, p_invalid=0.0) for _ in range(400)]
    names = spec.definition.accepted_inputs()
    data: dict[str, list[Any]] = {}
    for n in names:
        values = [r.get(n) for r in rows]
        numeric = all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values)
        if not numeric:
            values = [None if v is None else str(v) for v in values]
            for r in rows:
                if n in r:
                    r[n] = str(r[n])
        data[n] = values
    frame = pl.DataFrame(data, strict=False)
    scored = score_chunk(frame, {key: spec}).scored
    assert _compare(scored, [expected_columns(key, r) for r in rows]) == []


def _random_patient(rng: random.Random) -> dict[str, Any]:
    """A random one-lesion patient in the JSON shape of examples/ (facts missing at random)."""
    from spinemets.model.enums import Histology

    def maybe(value: Any, p: float = 0.7) -> Any:
        return value if rng.random() < p else None

    lesion = {
        "level": rng.choice(["C1", "C5", "T2", "T7", "T10-T11", "T12", "L1", "L3", "L5-S1", "S3"]),
        "bone_lesion": maybe(rng.choice(["lytic", "mixed", "blastic"])),
        "alignment": maybe(rng.choice(["subluxation_translation", "de_novo_deformity", "normal"])),
        "posterolateral": maybe(rng.choice(["bilateral", "unilateral", "none"])),
        "collapse_percent": maybe(rng.choice([0, 10, 50, 51, 80])),
        "escc": maybe(rng.choice(["0", "1a", "1b", "1c", "2", "3"])),
        "pain": maybe(rng.choice(["mechanical", "occasional", "none"]), 0.3),
    }
    histology = rng.choice([h.value for h in Histology if h.value != "other"])
    albumin = rng.choice(
        [{"value": rng.choice([25, 34.9, 35, 42]), "unit": "g/L"}, rng.choice([2.8, 3.5, 4.1])]
    )
    patient = {
        "primary": {"histology": maybe(histology, 0.9)},
        "performance": {"kps": maybe(rng.choice(range(10, 101, 10))), "ecog": maybe(rng.randint(0, 4), 0.3)},
        "neurology": {
            "frankel": maybe(rng.choice("ABCDE")),
            "asia": maybe(rng.choice("ABCDE"), 0.3),
            "ambulatory": maybe(rng.choice(["independent", "with_assistance", "non_ambulatory"])),
        },
        "pain": {"type": maybe(rng.choice(["mechanical", "occasional", "none"]))},
        "lesions": [{k: v for k, v in lesion.items() if v is not None}],
        "burden": {
            "extraspinal_bone_metastases": maybe(rng.randint(0, 6)),
            "vertebrae_involved": maybe(rng.randint(1, 6)),
            "visceral_metastases": maybe(rng.choice(["none", "treatable", "untreatable"])),
            "visceral_metastases_removable": maybe(rng.random() < 0.5, 0.4),
            "pathological_fracture_elsewhere": maybe(rng.random() < 0.3),
        },
        "labs": {"albumin": maybe(albumin, 0.6)},
    }
    for section in ("performance", "neurology", "burden", "labs", "primary", "pain"):
        patient[section] = {k: v for k, v in patient[section].items() if v is not None}
    return patient


def test_cohort_equals_assess_for_random_one_lesion_patients() -> None:
    rng = random.Random(7)
    patients = []
    while len(patients) < 1500:
        try:
            patients.append(parse_patient(_random_patient(rng)))
        except ValueError:
            continue
    rows = [patient_row(p, SPECS) for p in patients]
    names = sorted({n for r in rows for n in r})
    frame = pl.DataFrame([{n: r.get(n) for n in names} for r in rows], strict=False, infer_schema_length=None)
    scored = score_chunk(frame, SPECS).scored
    expected = []
    for p in patients:
        results = assess(p).scores
        exp: dict[str, Any] = {}
        for key in ALL_KEYS:
            exp.update(result_columns(key, results[key]))
        expected.append(exp)
    assert _compare(scored, expected) == []


def test_calculator_example_from_fisher_2010_band() -> None:
    """SINS T12 mechanical lytic, <50% collapse, unilateral, normal alignment = 3+3+2+0+2+1 = 11."""
    items = {
        "level": "T12",
        "pain": "mechanical",
        "bone_lesion": "lytic",
        "alignment": "normal",
        "vertebral_body_collapse": "under_50",
        "posterolateral_involvement": "unilateral",
    }
    scored = score_chunk(pl.DataFrame([items]), {"sins": SPECS["sins"]}).scored
    assert scored["sins_total"][0] == score("sins", items).total == 11
    assert scored["sins_band"][0] == "potentially_unstable"


@pytest.mark.parametrize("fast", [True, False], ids=["distinct-value tables", "row-wise expressions"])
def test_whole_number_floats_read_as_their_integer_in_both_paths(fast: bool) -> None:
    # a float column (pandas stores an integer column with gaps so) held ECOG 1.0 and ESCC 2.0, which
    # matched no category: "1.0" is not "1". A whole number reads as the integer it equals; 1.5, NaN
    # and infinity stay invalid. Calculator mode and both cohort paths agree row by row.
    values = [1.0, 2.0, None, 0.0, -0.0, 4.0, 1.5, float("nan"), float("inf"), 7.0]
    rows = [{} if v is None else {"ecog": v} for v in values]
    frame = pl.DataFrame({"ecog": values}, schema={"ecog": pl.Float64})
    result = score_chunk(frame, {"performance": SPECS["performance"]}, fast=fast)
    assert _compare(result.scored, [expected_columns("performance", r) for r in rows]) == []
    totals = result.scored["performance_total"].to_list()
    assert totals[:6] == [1, 2, None, 0, 0, 4]
    assert totals[6:] == [None] * 4 and result.scored["performance_input_error"].to_list()[6:] == [True] * 4
    assert score("escc", {"escc": 2.0}).total == score("escc", {"escc": "2"}).total
