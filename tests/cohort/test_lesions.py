"""One row per lesion -> one row per patient: the cohort result equals ``worst_lesion`` of the single path.

Every lesion is scored with :func:`spinemets.score` (calculator mode) and the patient's result is
:func:`spinemets.scores.worst_lesion` of those; the cohort path scores the long table column-wise
(``score_chunk``) and folds it with :func:`spinemets.cohort.lesions.aggregate_lesions`.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinemets.cli import main
from spinemets.cohort.frame import score_chunk
from spinemets.cohort.lesions import aggregate_file, aggregate_lesions, lesion_score_keys
from spinemets.cohort.run import specs_with_options
from spinemets.errors import InvalidInputError
from spinemets.scores import SPECS, ScoreResult, score, worst_lesion
from tests.cohort.helpers import _valid_values, expected_columns, random_inputs, result_columns

LESION_KEYS = lesion_score_keys(SPECS)
PATIENT_KEYS = tuple(k for k in SPECS if k not in LESION_KEYS)
PATIENT_SPEC = SPECS["tokuhashi_revised"]
"""Patient-level inputs are drawn from revised Tokuhashi's (KPS, primary, metastases, palsy...)."""


def _column(key: str, name: str) -> str:
    # ESCC's item is called ``grade``, which Frankel reads too: a long table feeds ESCC through the
    # score-specific column so that the (patient-level) Frankel grade is not fed a lesion's grade.
    return f"{key}.{name}" if name == "grade" else name


def _inputs(key: str) -> st.SearchStrategy[dict[str, Any]]:
    spec = SPECS[key]
    values = {n: _valid_values(spec, n) for n in spec.definition.accepted_inputs()}
    return st.fixed_dictionaries(
        {}, optional={_column(key, n): st.sampled_from(v).map(str) for n, v in values.items() if v}
    )


_lesion = st.fixed_dictionaries({k: _inputs(k) for k in LESION_KEYS})
_patient = st.tuples(
    st.fixed_dictionaries(
        {},
        optional={
            n: st.sampled_from(v).map(str)
            for n in PATIENT_SPEC.definition.accepted_inputs()
            if (v := _valid_values(PATIENT_SPEC, n))
        },
    ),
    st.lists(_lesion, min_size=1, max_size=4),
)


def _long_frame(patients: list[tuple[dict[str, Any], list[dict[str, dict[str, Any]]]]]) -> pl.DataFrame:
    """Rows interleaved across patients (a patient's rows need not be adjacent), all text as in CSV."""
    queues = [
        [
            {
                "pid": f"p{i}",
                "level": None,
                **facts,
                **{c: v for inputs in lesion.values() for c, v in inputs.items()},
            }
            for lesion in les
        ]
        for i, (facts, les) in enumerate(patients)
    ]
    rows: list[dict[str, Any]] = []
    while any(queues):
        for q in queues:
            if q:
                rows.append(q.pop(0))
    names = sorted({n for r in rows for n in r})
    return pl.DataFrame({n: [r.get(n) for r in rows] for n in names}, schema=dict.fromkeys(names, pl.String))


def _single_lesion(key: str, inputs: Mapping[str, Any], level: str | None) -> ScoreResult:
    raw = {k.removeprefix(f"{key}."): v for k, v in inputs.items()}
    return score(key, raw).model_copy(update={"subject": level})


def _expected_worst(key: str, lesions: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The single path's patient result of a lesion score, in the cohort's columns."""
    try:
        results = tuple(_single_lesion(key, lesion[key], lesion["sins"].get("level")) for lesion in lesions)
    except InvalidInputError:  # the single path refuses the whole score
        return {f"{key}_input_error": True, f"{key}_total": None, f"{key}_min": None, f"{key}_level": None}
    shown = worst_lesion(results)
    assert shown is not None
    # when another lesion's certain minimum raised the patient's, worst_lesion says which (level first)
    note = next((w for w in shown.warnings if "so the patient's worst lesion scores at least" in w), None)
    raised_by = note.split(" is certainly ")[0] if note is not None else None
    return {
        **result_columns(key, shown),
        f"{key}_level": shown.subject,
        f"{key}_min_level": None if raised_by == "None" else raised_by,
    }


Patients = list[tuple[dict[str, Any], list[dict[str, dict[str, Any]]]]]


def _compare(patients: Patients) -> Counter[str]:
    """Assert every aggregated column against the single path; count the cases exercised."""
    seen: Counter[str] = Counter()
    result = aggregate_lesions(score_chunk(_long_frame(patients), SPECS).scored, "pid")
    got = {r["pid"]: r for r in result.patients.iter_rows(named=True)}
    assert list(got) == [f"p{i}" for i in range(len(patients))]
    assert result.errors.height == 0  # patient-level facts are the same on every row
    for i, (facts, lesions) in enumerate(patients):
        row = got[f"p{i}"]
        assert row["lesion_count"] == len(lesions)
        for key in LESION_KEYS:
            expected = _expected_worst(key, lesions)
            for col, value in expected.items():
                assert row[col] == value, (f"p{i}", col, lesions)
            seen[f"{key} raised"] += row[f"{key}_min_level"] is not None
            seen[f"{key} invalid"] += expected[f"{key}_input_error"]
        for key in PATIENT_KEYS:
            accepted = set(SPECS[key].definition.accepted_inputs())
            for col, value in expected_columns(
                key, {k: v for k, v in facts.items() if k in accepted}
            ).items():
                assert row[col] == value, (f"p{i}", col)
        for name, value in facts.items():
            assert row[name] == value
        seen["several lesions"] += len(lesions) > 1
    return seen


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_patient, min_size=1, max_size=6))
def test_every_aggregated_column_equals_worst_lesion_of_the_single_path(patients: Patients) -> None:
    _compare(patients)


def test_worst_lesion_identity_on_a_large_seeded_sample_covers_raised_minimums_and_invalid_input() -> None:
    rng = random.Random(20261122)

    def lesion() -> dict[str, dict[str, Any]]:
        return {
            k: {_column(k, n): str(v) for n, v in random_inputs(rng, SPECS[k], p_missing=0.5).items()}
            for k in LESION_KEYS
        }

    patients = [
        (
            {n: str(v) for n, v in random_inputs(rng, PATIENT_SPEC, p_invalid=0.0).items()},
            [lesion() for _ in range(rng.randint(1, 5))],
        )
        for _ in range(600)
    ]
    seen = _compare(patients)
    assert seen["several lesions"] > 400
    for key in LESION_KEYS:
        assert seen[f"{key} raised"] > 20, seen
        assert seen[f"{key} invalid"] > 10, seen


def test_a_lesion_certainly_escc_2_makes_the_patient_high_grade_while_another_is_ungraded() -> None:
    """The worked case of the ``worst_lesion`` docstring (Bilsky 2010: grades 2-3 are high grade)."""
    frame = pl.DataFrame(
        {"pid": ["a", "a", "b"], "level": ["T12", "L3", "T12"], "escc": [None, "2", None]},
        schema=dict.fromkeys(["pid", "level", "escc"], pl.String),
    )
    got = aggregate_lesions(score_chunk(frame, SPECS).scored, "pid").patients
    a, b = got.row(0, named=True), got.row(1, named=True)
    single = worst_lesion(
        (
            score("escc", {}).model_copy(update={"subject": "T12"}),
            score("escc", {"grade": "2"}).model_copy(update={"subject": "L3"}),
        )
    )
    assert single is not None and single.band is not None
    assert (single.subject, single.min, single.max, single.band.key) == ("T12", 4, 5, "high_grade")
    assert a["escc_level"] == "T12" and a["escc_min_level"] == "L3"
    assert (a["escc_min"], a["escc_max"], a["escc_total"], a["escc_grade"]) == (4, 5, None, None)
    assert a["escc_band"] == "high_grade" and a["escc_band_determined"] is True
    assert a["escc_possible_bands"] == "high grade" and a["escc_missing"] == "grade"
    # the same ungraded lesion alone leaves the band open
    assert b["escc_band"] is None and b["escc_band_determined"] is False
    assert b["escc_possible_bands"] == "low grade | high grade" and b["escc_min_level"] is None


def _write_scored(tmp_path: Path, rows: dict[str, list[Any]]) -> Path:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows, pl.String))
    path = tmp_path / "scored.parquet"
    score_chunk(frame, SPECS).scored.write_parquet(path)
    return path


def test_disagreeing_patient_level_values_are_reported_and_left_empty(tmp_path: Path) -> None:
    scored = _write_scored(
        tmp_path,
        {
            "pid": ["x", "x", "x", "y", "y"],
            "level": ["T4", "T5", "L1", "C3", "C4"],
            "kps": ["90", "70", "90", "60", "60"],
            "primary": ["breast", "breast", None, "kidney", "kidney"],
            "time_months": ["12", "12", "12", "5", "5"],
        },
    )
    out = tmp_path / "patients.csv"
    summary = aggregate_file(scored, out, "pid")
    patients = pl.read_csv(out, infer_schema=False)
    x, y = patients.row(0, named=True), patients.row(1, named=True)
    errors = pl.read_csv(tmp_path / "patients.errors.csv", infer_schema=False)
    by_col = {r["column"]: r for r in errors.iter_rows(named=True) if r["pid"] == "x"}
    assert by_col["kps"]["values"] == "90 | 70" and by_col["kps"]["rows"] == "1;2;3"
    assert by_col["primary"]["values"] == "breast | (missing)"
    assert "tokuhashi_revised_max" in by_col and any(c.startswith("tomita_") for c in by_col)
    # only the facts that differ and the scores that read them are reported
    readers = tuple(
        f"{k}_" for k in PATIENT_KEYS if {"kps", "primary"} & set(SPECS[k].definition.accepted_inputs())
    )
    assert all(c in {"kps", "primary"} or c.startswith(readers) for c in by_col)
    assert set(errors["pid"]) == {"x"}
    # nothing picked: the disagreeing facts and every column of the scores they feed are empty
    assert x["kps"] is None and x["primary"] is None and x["time_months"] == "12"
    assert x["tokuhashi_revised_min"] is None and x["tokuhashi_revised_band"] is None
    assert x["tomita_min"] is None
    # the other patient is carried whole, with the same values as the single path
    tok = score("tokuhashi_revised", {"kps": "60", "primary": "kidney"})
    assert y["kps"] == "60" and int(y["tokuhashi_revised_min"]) == tok.min
    assert summary.disagreements == errors.height and summary.patients_with_disagreements == 1
    assert summary.disagreements_by_column["kps"] == 1 and summary.patients == 2 and summary.rows == 5
    assert json.loads((tmp_path / "patients.summary.json").read_text())["disagreements"] == errors.height


def test_an_invalid_lesion_input_leaves_the_patients_lesion_score_empty() -> None:
    frame = pl.DataFrame(
        {"pid": ["a", "a"], "level": ["T4", "T5"], "pain": ["mechanical", "severe"]},
        schema=dict.fromkeys(["pid", "level", "pain"], pl.String),
    )
    with pytest.raises(InvalidInputError, match=r"sins\.pain"):
        score("sins", {"level": "T5", "pain": "severe"})
    row = aggregate_lesions(score_chunk(frame, SPECS).scored, "pid").patients.row(0, named=True)
    assert row["sins_input_error"] is True
    assert row["sins_min"] is None and row["sins_band"] is None and row["sins_level"] is None
    assert row["escc_input_error"] is False and row["escc_min"] == 0


def test_a_file_scored_with_other_options_is_refused_and_accepted_with_them() -> None:
    frame = pl.DataFrame(
        {"pid": ["a", "b", "b"], "level": ["T4", "T4", "T5"], "escc": ["1c", "1c", None]},
        schema=dict.fromkeys(["pid", "level", "escc"], pl.String),
    )
    high = specs_with_options({"escc_1c": "high"})
    scored = score_chunk(frame, high).scored
    with pytest.raises(InvalidInputError, match="escc_1c"):
        aggregate_lesions(scored, "pid")
    a, b = aggregate_lesions(scored, "pid", specs=high).patients.iter_rows(named=True)
    single = score("escc", {"grade": "1c"}, escc_1c="high").band
    assert single is not None and a["escc_band"] == single.key == "high_grade"
    # a certain 1c (rank 3) and an ungraded lesion: range 3..5, all high grade when 1c is grouped high
    # (the bands of the option's variant; with the default grouping 3..5 would straddle both bands)
    assert (b["escc_min"], b["escc_max"], b["escc_level"], b["escc_min_level"]) == (3, 5, "T5", "T4")
    assert b["escc_band"] == "high_grade" and b["escc_band_determined"] is True


def test_a_file_scored_with_other_definitions_or_altered_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scored.csv"
    frame = pl.DataFrame({"pid": ["a"], "level": ["T4"]}, schema={"pid": pl.String, "level": pl.String})
    scored = score_chunk(frame, SPECS).scored
    scored.with_columns(pl.lit("1999.1.1").alias("spinemets_definitions_version")).write_csv(path)
    with pytest.raises(InvalidInputError, match=r"current definitions.*1999\.1\.1"):
        aggregate_file(path, tmp_path / "out.csv", "pid")
    scored.with_columns(pl.lit("many").alias("sins_max")).write_csv(path)
    with pytest.raises(
        InvalidInputError, match="sins_max must be a value as `spinemets cohort score` writes it"
    ):
        aggregate_file(path, tmp_path / "out.csv", "pid")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"id_column": "patient"}, "--id must be a column of the scored file"),
        ({"id_column": "pid", "level_column": "vertebra"}, "--level must be a column"),
        ({"id_column": "pid", "lesion_columns": ["lesion_no"]}, "--lesion-column must be a column"),
    ],
)
def test_unknown_columns_are_one_line_errors(kwargs: dict[str, Any], match: str) -> None:
    frame = pl.DataFrame({"pid": ["a"], "level": ["T4"]}, schema={"pid": pl.String, "level": pl.String})
    with pytest.raises(InvalidInputError, match=match):
        aggregate_lesions(score_chunk(frame, SPECS).scored, **kwargs)


def test_rows_without_a_patient_id_are_refused() -> None:
    frame = pl.DataFrame(
        {"pid": ["a", None], "level": ["T4", "T5"]}, schema={"pid": pl.String, "level": pl.String}
    )
    with pytest.raises(InvalidInputError, match=r"a patient id on every row.*row 2"):
        aggregate_lesions(score_chunk(frame, SPECS).scored, "pid")


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


LONG_CSV = """patient,level,pain,bone_lesion,alignment,escc,kps,primary,visceral_metastases,lesion_no
007,T12,mechanical,lytic,,,60,breast,none,1
007,L3,,,,2,60,breast,none,2
012,C5,none,blastic,normal,0,80,lung_nsclc,untreatable,1
031,T4,,,,1a,90,prostate,none,1
031,T5,mechanical,mixed,,,70,prostate,none,2
"""


def test_cli_score_then_lesions_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, scored, out = tmp_path / "lesions.csv", tmp_path / "scored.csv", tmp_path / "patients.csv"
    src.write_text(LONG_CSV)
    assert run(["cohort", "score", str(src), "-o", str(scored)]) == 0
    capsys.readouterr()
    code = run(
        ["cohort", "lesions", str(scored), "--id", "patient", "-o", str(out), "--lesion-column", "lesion_no"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "5 lesion rows -> 3 patients (up to 2 lesions)" in printed
    assert "1 disagreeing" not in printed and "disagreeing values in 1 patients" in printed
    got = {r["patient"]: r for r in pl.read_csv(out, infer_schema=False).iter_rows(named=True)}
    assert list(got) == ["007", "012", "031"]  # ids as written, zeros kept
    raw = [
        dict(zip(LONG_CSV.splitlines()[0].split(","), line.split(","), strict=True))
        for line in LONG_CSV.splitlines()[1:]
    ]
    for pid, row in got.items():
        lesions = [r for r in raw if r["patient"] == pid]
        assert int(row["lesion_count"]) == len(lesions)
        for key in LESION_KEYS:
            accepted = set(SPECS[key].definition.accepted_inputs())
            shown = worst_lesion(
                tuple(
                    score(key, {k: v for k, v in r.items() if k in accepted and v}).model_copy(
                        update={"subject": r["level"]}
                    )
                    for r in lesions
                )
            )
            assert shown is not None
            assert row[f"{key}_level"] == shown.subject
            assert int(row[f"{key}_min"]) == shown.min and int(row[f"{key}_max"]) == shown.max
            assert row[f"{key}_band"] == (shown.band.key if shown.band else None)
            assert (row[f"{key}_possible_bands"] or "") == " | ".join(shown.possible_bands)
    assert got["007"]["escc_band"] == "high_grade" and got["007"]["escc_min_level"] == "L3"
    assert "lesion_no" not in got["007"] and got["012"]["kps"] == "80"
    errors = pl.read_csv(tmp_path / "patients.errors.csv", infer_schema=False)
    assert ("031", "kps", "90 | 70", "4;5") in errors.select("patient", "column", "values", "rows").rows()
    assert got["031"]["kps"] is None and got["031"]["tokuhashi_revised_min"] is None
    assert run(["cohort", "lesions", str(scored), "--id", "pid", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --id must be a column of the scored file") and len(err.splitlines()) == 1
