"""``spinemets cohort score -o out.duckdb``: the scored rows in a DuckDB table, equal to the Parquet output."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from spinemets.cli import app
from spinemets.cohort.run import DUCKDB_METADATA_TABLE, score_file
from spinemets.cohort.synth import write_synth
from spinemets.cohort.validate import validate_file
from spinemets.errors import Interrupted, InvalidInputError
from spinemets.scores.catalogue import DEFINITIONS_VERSION


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("duck")
    write_synth(3000, d / "s.parquet", seed=9)
    return d / "s.parquet"


def _plain(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))


def _table(db: Path, name: str) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(f'SELECT * FROM "{name}"').pl()


def test_duckdb_table_equals_the_parquet_output_row_for_row(cohort: Path, tmp_path: Path) -> None:
    pq_summary = score_file(cohort, tmp_path / "out.parquet", chunk_rows=1000, progress=False)
    db_summary = score_file(cohort, tmp_path / "out.duckdb", chunk_rows=1000, progress=False)
    assert db_summary.chunks == pq_summary.chunks == 3  # appended chunk by chunk
    assert db_summary.error_count == pq_summary.error_count
    expected = _plain(pl.read_parquet(tmp_path / "out.parquet"))
    got = _table(tmp_path / "out.duckdb", "scores")
    assert got.height == 3000
    assert_frame_equal(got, expected)


def test_definitions_version_and_synthetic_flag_are_stored(cohort: Path, tmp_path: Path) -> None:
    db = tmp_path / "out.duckdb"
    score_file(cohort, db, duckdb_table="registry_scores", progress=False)
    with duckdb.connect(str(db), read_only=True) as con:
        meta = dict(
            con.execute(
                f"SELECT key, value FROM {DUCKDB_METADATA_TABLE} WHERE table_name = 'registry_scores'"
            ).fetchall()
        )
        (comment,) = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'registry_scores'"
        ).fetchone() or (None,)
        versions = con.execute(
            "SELECT DISTINCT spinemets_definitions_version FROM registry_scores"
        ).fetchall()
    assert meta == {"definitions_version": DEFINITIONS_VERSION, "synthetic": "true"}
    assert comment is not None and comment.startswith("SYNTHETIC DATA") and DEFINITIONS_VERSION in comment
    assert versions == [(DEFINITIONS_VERSION,)]


def test_rewriting_replaces_only_its_own_table(cohort: Path, tmp_path: Path) -> None:
    db = tmp_path / "out.duckdb"
    csv_in = tmp_path / "small.csv"
    pl.read_parquet(cohort).head(40).write_csv(csv_in)
    score_file(cohort, db, duckdb_table="full", progress=False)
    score_file(csv_in, db, duckdb_table="small", progress=False)
    score_file(csv_in, db, duckdb_table="small", progress=False)  # again: replaced, not appended
    assert _table(db, "full").height == 3000
    assert _table(db, "small").height == 40
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"SELECT table_name, key FROM {DUCKDB_METADATA_TABLE} ORDER BY 1, 2").fetchall()
    assert rows == [
        ("full", "definitions_version"),
        ("full", "synthetic"),
        ("small", "definitions_version"),
        ("small", "synthetic"),
    ]


def test_validation_reads_the_duckdb_table_like_the_parquet_file(cohort: Path, tmp_path: Path) -> None:
    score_file(cohort, tmp_path / "out.parquet", progress=False)
    score_file(cohort, tmp_path / "out.duckdb", progress=False)
    kw = {"time": "time_months", "event": "event", "bootstrap": 0, "scores": ["tokuhashi_revised", "tomita"]}
    from_pq = validate_file(tmp_path / "out.parquet", out_dir=tmp_path / "a", **kw)
    from_db = validate_file(tmp_path / "out.duckdb", out_dir=tmp_path / "b", **kw)
    assert from_db["synthetic"] is True
    assert from_db["scores"] == from_pq["scores"]
    with pytest.raises(InvalidInputError, match="--table must be one of scores; got 'other'"):
        validate_file(tmp_path / "out.duckdb", out_dir=tmp_path / "c", table="other", **kw)


@pytest.mark.parametrize("name", ["", "1scores", "scores; DROP TABLE x", 'a"b', "spinemets_metadata"])
def test_unsafe_or_reserved_table_names_are_refused(cohort: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInputError, match="--table"):
        score_file(cohort, tmp_path / "out.duckdb", duckdb_table=name, progress=False)
    assert not (tmp_path / "out.duckdb").exists()


def test_cli_writes_a_named_table_and_refuses_table_without_duckdb(cohort: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "cli.duckdb"
    ok = runner.invoke(app, ["cohort", "score", str(cohort), "-o", str(db), "--table", "t1"])
    assert ok.exit_code == 0, ok.output
    assert "(table t1)" in " ".join(ok.output.split())  # rich wraps long lines
    assert _table(db, "t1").height == 3000
    bad = runner.invoke(
        app, ["cohort", "score", str(cohort), "-o", str(tmp_path / "x.parquet"), "--table", "t1"]
    )
    assert isinstance(bad.exception, InvalidInputError)
    assert "--table must be given only with a .duckdb output" in str(bad.exception)
    as_input = runner.invoke(app, ["cohort", "score", str(db), "-o", str(tmp_path / "y.parquet")])
    assert isinstance(as_input.exception, InvalidInputError)
    assert "a .csv or .parquet file" in str(as_input.exception)


def _ctrl_c_at_chunk(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Send this process SIGINT (as Ctrl-C does) when the n-th chunk is scored."""
    import os
    import signal

    import spinemets.cohort.run as run_module

    real = run_module.score_chunk
    calls = [0]

    def score_chunk(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == n:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "score_chunk", score_chunk)


def _stored(db: Path) -> tuple[pl.DataFrame, list[tuple[str, str, str]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        meta = con.execute(f"SELECT * FROM {DUCKDB_METADATA_TABLE} ORDER BY ALL").fetchall()
    return _table(db, "scores"), meta


def test_an_interrupted_run_leaves_the_stored_table_and_metadata_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first.parquet", tmp_path / "second.parquet"
    write_synth(2000, first, seed=1)
    write_synth(6000, second, seed=2)
    db = tmp_path / "out.duckdb"
    score_file(first, db, chunk_rows=1000, progress=False)
    before = _stored(db)
    _ctrl_c_at_chunk(monkeypatch, 4)
    with pytest.raises(Interrupted, match=r"interrupted; .*out\.duckdb left unchanged"):
        score_file(second, db, chunk_rows=1000, progress=False)
    after = _stored(db)
    assert after[0].height == 2000
    assert_frame_equal(after[0], before[0])
    assert after[1] == before[1]


@pytest.mark.parametrize("suffix", [".duckdb", ".parquet"])
def test_ctrl_c_prints_output_left_unchanged_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    src, out = tmp_path / "s.parquet", tmp_path / f"out{suffix}"
    write_synth(6000, src, seed=3)
    runner = CliRunner()
    assert (
        runner.invoke(app, ["cohort", "score", str(src), "-o", str(out), "--chunk-rows", "1000"]).exit_code
        == 0
    )
    before = out.read_bytes()
    _ctrl_c_at_chunk(monkeypatch, 4)
    result = runner.invoke(app, ["cohort", "score", str(src), "-o", str(out), "--chunk-rows", "1000"])
    assert result.exit_code == 130, result.output
    assert f"interrupted; {out} left unchanged" in result.output
    assert "internal error" not in result.output
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []
