"""Files in, files out: mapping, the error file, streaming by chunks, Parquet metadata, Dask parity."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

import spinemets
from spinemets.cohort.mapping import CohortMapping, load_mapping
from spinemets.cohort.run import (
    ANY_FREE_PORT,
    META_VERSION,
    Engine,
    csv_chunks,
    csv_delimiter,
    parquet_metadata,
    read_chunk,
    score_file,
)
from spinemets.cohort.synth import write_synth
from spinemets.errors import InvalidInputError
from spinemets.scores import DEFINITIONS_VERSION, SPECS, score

REGISTRY_CSV = """id,KARNOFSKY,PRIM,MET_VISC,FRANKEL_GR,LEVEL
1,70,C50,0,E,T12
2,150,C61,1,D,L3
3,60,XX,2,C,T7
4,,99,0,E,
5,80,C34,9,e, t12
"""

MAPPING_YAML = """
spinemets_mapping: 1
columns:
  kps: KARNOFSKY
  primary:
    from: PRIM
    codes: {C50: breast, C61: prostate, C34: lung_nsclc, "99": null}
  visceral_metastases:
    from: MET_VISC
    codes: {"0": none, "1": treatable, "2": untreatable}
  frankel: FRANKEL_GR
  level: LEVEL
"""


@pytest.fixture
def registry(tmp_path: Path) -> tuple[Path, CohortMapping]:
    src = tmp_path / "registry.csv"
    src.write_text(REGISTRY_CSV)
    mp = tmp_path / "mapping.yaml"
    mp.write_text(MAPPING_YAML)
    return src, load_mapping(mp, SPECS)


def test_mapping_translates_codes_and_reports_every_bad_value_per_row(
    tmp_path: Path, registry: tuple[Path, CohortMapping]
) -> None:
    src, mapping = registry
    out = tmp_path / "scored.parquet"
    errors = tmp_path / "errors.csv"
    summary = score_file(src, out, mapping=mapping, errors=errors, progress=False)
    scored = pl.read_parquet(out)
    err = pl.read_csv(errors, infer_schema_length=0)
    assert summary.rows == 5
    # row 1: KPS 70, breast, no visceral, Frankel E -> calculator mode gives the same range
    expected = score(
        "tokuhashi_revised", {"kps": "70", "primary": "breast", "visceral_metastases": "none", "frankel": "E"}
    )
    assert scored["tokuhashi_revised_min"][0] == expected.min
    assert scored["tokuhashi_revised_max"][0] == expected.max
    # row 2: KPS 150 is out of range -> every score that reads kps is empty for that row, reported once
    # each under the registry's column (the file has no column kps)
    kps_errors = err.filter(pl.col("row") == "2")
    assert set(kps_errors["column"]) == {"KARNOFSKY"} and set(kps_errors["value"]) == {"150"}
    assert set(kps_errors["score"]) == {k for k in SPECS if "kps" in SPECS[k].definition.accepted_inputs()}
    assert scored["tokuhashi_revised_total"][1] is None and scored["tokuhashi_revised_input_error"][1]
    assert "Karnofsky" in kps_errors["allowed"][0]
    # row 3: unmapped primary code XX -> a mapping error naming the registry column and the codes allowed
    prim = err.filter((pl.col("row") == "3") & (pl.col("column") == "PRIM"))
    assert prim.height == 1 and prim["value"][0] == "XX" and "C50" in prim["allowed"][0]
    assert scored["tomita_input_error"][2] and scored["tomita_min"][2] is None
    # row 4: code 99 is declared unknown -> missing, not an error: a range, primary named missing
    assert not scored["tokuhashi_revised_input_error"][3]
    assert "primary_site" in scored["tokuhashi_revised_missing"][3]
    assert err.filter(pl.col("row") == "4").height == 0
    # row 5: visceral code 9 is unmapped; lower-case 'e' and ' t12' normalise as in calculator mode
    assert err.filter((pl.col("row") == "5") & (pl.col("column") == "MET_VISC"))["value"].to_list() == ["9"]
    assert scored["sins_min"][4] == score("sins", {"level": " t12"}).min
    # the summary counts what the error file holds
    assert summary.error_count == err.height
    assert summary.rows_with_errors == 3
    assert summary.errors_by_column["PRIM"] == 1
    assert summary.scores_not_computed["tokuhashi_revised"] == 3
    assert summary.scores_not_computed["sins"] == 0


def test_output_carries_the_definitions_version(tmp_path: Path, registry: tuple[Path, CohortMapping]) -> None:
    src, mapping = registry
    out = tmp_path / "scored.parquet"
    score_file(src, out, mapping=mapping, progress=False)
    meta = parquet_metadata(out)
    assert meta[META_VERSION].decode() == DEFINITIONS_VERSION
    assert set(pl.read_parquet(out)["spinemets_definitions_version"]) == {DEFINITIONS_VERSION}
    csv_out = tmp_path / "scored.csv"
    score_file(src, csv_out, mapping=mapping, progress=False)
    assert set(pl.read_csv(csv_out)["spinemets_definitions_version"]) == {DEFINITIONS_VERSION}


def test_mapping_file_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("columns:\n  not_an_input: X\n")
    with pytest.raises(InvalidInputError, match=r"mapping\.columns\.not_an_input"):
        load_mapping(bad, SPECS)
    bad.write_text("columns:\n  kps: {from: X, scale: 2}\n")
    with pytest.raises(InvalidInputError, match="mapping"):
        load_mapping(bad, SPECS)


def test_missing_source_column_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "r.csv"
    src.write_text("a,b\n1,2\n")
    mapping = CohortMapping.model_validate({"columns": {"kps": "KARNOFSKY"}})
    with pytest.raises(InvalidInputError, match="KARNOFSKY"):
        score_file(src, tmp_path / "o.csv", mapping=mapping, progress=False)


def _with_bad_rows(tmp_path: Path, n: int, fmt: str) -> Path:
    path = tmp_path / f"synth.{fmt}"
    df = write_synth(n, path, seed=5)
    bad = df.with_columns(
        pl.when(pl.int_range(pl.len()) == n - 3).then(pl.lit(7)).otherwise(pl.col("kps")).alias("kps")
    )
    if fmt == "parquet":
        bad.write_parquet(path, row_group_size=700)
    else:
        bad.write_csv(path)
    return path


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_streaming_in_small_chunks_equals_one_chunk(tmp_path: Path, fmt: str) -> None:
    n = 5000
    path = _with_bad_rows(tmp_path, n, fmt)
    whole = score_file(path, tmp_path / "whole.parquet", chunk_rows=1_000_000, progress=False)
    if fmt == "csv":
        assert len(csv_chunks(path, ("",), chunk_bytes=20_000)) > 5
    parts = score_file(path, tmp_path / "parts.parquet", chunk_rows=1000, progress=False)
    if fmt == "parquet":
        assert parts.chunks >= 5
    a = pl.read_parquet(tmp_path / "whole.parquet")
    b = pl.read_parquet(tmp_path / "parts.parquet")
    assert a.equals(b)
    # the invalid KPS in the last chunk is reported with its row number over the whole file
    err = pl.read_csv(tmp_path / "parts.errors.csv")
    assert set(err["row"]) == {n - 2}
    assert whole.error_count == parts.error_count > 0


def test_csv_chunks_cover_the_file_exactly(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    write_synth(3000, path, seed=2)
    chunks = csv_chunks(path, ("",), chunk_bytes=10_000)
    assert sum(read_chunk(c).num_rows for c in chunks) == 3000
    assert chunks[0].start == len(chunks[0].header)
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_dask_local_cluster_gives_identical_results(tmp_path: Path, fmt: str) -> None:
    from distributed import Client, LocalCluster

    path = _with_bad_rows(tmp_path, 3000, fmt)
    local = score_file(path, tmp_path / "local.parquet", chunk_rows=1000, progress=False)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=ANY_FREE_PORT
        ) as cluster,
        Client(cluster) as client,
    ):
        remote = score_file(
            path,
            tmp_path / "dask.parquet",
            engine=Engine.dask,
            client=client,
            chunk_rows=1000,
            progress=False,
        )
    assert remote.engine is Engine.dask
    assert pl.read_parquet(tmp_path / "local.parquet").equals(pl.read_parquet(tmp_path / "dask.parquet"))
    assert pl.read_csv(tmp_path / "local.errors.csv").equals(pl.read_csv(tmp_path / "dask.errors.csv"))
    assert local.rows == remote.rows == 3000


def test_score_specific_column_wins_over_the_shared_one_in_parquet(tmp_path: Path) -> None:
    """``sins.pain`` feeds SINS only; the shared ``pain`` column is read where ``sins.pain`` is empty."""
    src = tmp_path / "r.parquet"
    pl.DataFrame(
        {
            "level": ["T12", "L3", "T7"],
            "pain": ["none", "mechanical", "occasional"],
            "sins.pain": ["mechanical", None, "bogus"],
        }
    ).write_parquet(src)
    summary = score_file(src, tmp_path / "o.parquet", progress=False)
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert out["sins_min"][0] == score("sins", {"level": "T12", "pain": "mechanical"}).min
    assert out["sins_min"][1] == score("sins", {"level": "L3", "pain": "mechanical"}).min
    assert out["sins_input_error"][2]
    err = pl.read_csv(tmp_path / "o.errors.csv")
    assert err["column"].to_list() == ["sins.pain"] and err["value"].to_list() == ["bogus"]
    assert summary.scores_not_computed["sins"] == 1


def test_scoring_a_file_never_imports_pandas(tmp_path: Path) -> None:
    """pyarrow imports pandas on its first ``pa.array``/``to_numpy`` (about a third of a second per
    run); the scoring path builds its arrays without them, errors included."""
    import subprocess
    import sys

    write_synth(2000, tmp_path / "in.parquet", seed=3)
    (tmp_path / "bad.csv").write_text("patient_id,kps,primary,level\n1,70,breast,T12\n2,150,zzz,L3\n")
    code = (
        "import sys; from pathlib import Path; from spinemets.cohort.run import score_file\n"
        f"d = Path({str(tmp_path)!r})\n"
        "a = score_file(d / 'in.parquet', d / 'a.parquet', progress=False)\n"
        "b = score_file(d / 'bad.csv', d / 'b.csv', progress=False)\n"
        "assert a.rows == 2000 and b.error_count > 0, (a, b)\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_a_failed_run_keeps_the_previous_output(tmp_path: Path) -> None:
    """The output is written beside the target and moved into place only when complete."""
    src = tmp_path / "in.parquet"
    write_synth(500, src, seed=1)
    out = tmp_path / "scored.parquet"
    score_file(src, out, progress=False)
    before = out.read_bytes()
    with pytest.raises(InvalidInputError) as exc:
        score_file(src, out, keep=["no_such_column"], progress=False)
    assert exc.value.field == "--keep"
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_an_error_while_streaming_keeps_the_previous_output_and_its_own_type(tmp_path: Path) -> None:
    """An error raised by a later chunk reaches the caller unchanged (not wrapped by polars)."""
    import pyarrow as pa

    from spinemets.cohort.run import write_tables

    out = tmp_path / "o.parquet"
    out.write_bytes(b"previous run")

    def chunks() -> Iterator[pa.Table]:
        yield pa.table({"x": [1, 2]})
        raise InvalidInputError("kps", "150", "10 to 100 %")

    with pytest.raises(InvalidInputError) as exc:
        write_tables(chunks(), out, synthetic=False)
    assert exc.value.field == "kps"
    assert out.read_bytes() == b"previous run"
    assert list(tmp_path.iterdir()) == [out]
    write_tables(iter([pa.table({"x": [1]}), pa.table({"x": [2, 3]})]), out, synthetic=True)
    assert pl.read_parquet(out)["x"].to_list() == [1, 2, 3]
    assert parquet_metadata(out)[b"spinemets.synthetic"] == b"true"


def test_score_text_columns_are_typed_with_every_category_of_the_definition(tmp_path: Path) -> None:
    """Bands, grades and missing-item sets list all their possible values, in the definition's
    order, even those no row of this file has (polars reads them as Enum)."""
    src = tmp_path / "in.parquet"
    write_synth(300, src, seed=2)
    out = tmp_path / "o.parquet"
    score_file(src, out, progress=False)
    df = pl.read_parquet(out)
    for key, spec in SPECS.items():
        dtype = df.schema[f"{key}_band"]
        assert isinstance(dtype, pl.Enum)
        assert list(dtype.categories) == [b.key for b in spec.definition.bands]
    missing = df.schema["sins_missing"]
    assert isinstance(missing, pl.Enum) and len(missing.categories) == 2 ** len(
        SPECS["sins"].definition.items
    )
    assert df.schema["spinemets_definitions_version"] == pl.Enum([DEFINITIONS_VERSION])


def test_summary_names_the_columns_read_and_those_no_score_reads(
    tmp_path: Path, registry: tuple[Path, CohortMapping]
) -> None:
    src, mapping = registry
    mapped = score_file(src, tmp_path / "m.parquet", mapping=mapping, progress=False)
    assert mapped.columns_read == ("KARNOFSKY", "PRIM", "MET_VISC", "FRANKEL_GR", "LEVEL")
    assert mapped.columns_not_read == ("id",)
    unmapped = score_file(src, tmp_path / "u.parquet", progress=False)  # registry names, no mapping
    assert unmapped.columns_read == ()
    assert unmapped.columns_not_read == ("id", "KARNOFSKY", "PRIM", "MET_VISC", "FRANKEL_GR", "LEVEL")
    saved = json.loads((tmp_path / "u.summary.json").read_text())
    assert saved["columns_not_read"] == list(unmapped.columns_not_read)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_csv_separated_by_semicolons_tabs_or_bars_scores_as_with_commas(
    tmp_path: Path, registry: tuple[Path, CohortMapping], sep: str
) -> None:
    # Registries exported with a European locale use ';' (the comma is their decimal mark);
    # the separator is read from the header row, and every score comes out as from the comma file.
    src, mapping = registry
    other = tmp_path / "registry-other.csv"
    other.write_text(REGISTRY_CSV.replace(",", sep))
    commas = score_file(src, tmp_path / "a.parquet", mapping=mapping, progress=False)
    separated = score_file(other, tmp_path / "b.parquet", mapping=mapping, progress=False)
    assert separated.columns_read == commas.columns_read and separated.error_count == commas.error_count
    assert pl.read_parquet(tmp_path / "b.parquet").equals(pl.read_parquet(tmp_path / "a.parquet"))
    assert csv_delimiter(b"id,KARNOFSKY\n") == "," and csv_delimiter(b"kps\n") == ","


def test_a_dask_run_starts_its_own_cluster_while_port_8787_is_taken(tmp_path: Path) -> None:
    # dashboard_address=None still bound Dask's HTTP port 8787: with another cluster there (two test
    # runs side by side, a researcher's notebook), distributed warned and, warnings being errors in
    # this suite, the cluster failed to start ("Port 8787 is already in use").
    import socket

    src = tmp_path / "synth.parquet"
    write_synth(300, src, seed=3)
    score_file(src, tmp_path / "local.parquet", progress=False)
    held = socket.socket()
    try:
        held.bind(("127.0.0.1", 8787))
        held.listen()
    except OSError:  # already taken by something else: the condition under test holds anyway
        pass
    try:
        score_file(src, tmp_path / "dask.parquet", engine=Engine.dask, progress=False)
    finally:
        held.close()
    assert pl.read_parquet(tmp_path / "dask.parquet").equals(pl.read_parquet(tmp_path / "local.parquet"))


def test_a_malformed_csv_on_a_dask_worker_process_reaches_the_caller_as_the_same_input_error(
    tmp_path: Path,
) -> None:
    # The error is raised in a worker process and sent back: it must arrive whole (field, value,
    # allowed), as the local engine raises it, so the command line prints the same message.
    from distributed import Client, LocalCluster

    src = tmp_path / "ragged.csv"
    src.write_text("kps,primary\n80,breast\n70,lung,extra\n")
    with pytest.raises(InvalidInputError) as local:
        score_file(src, tmp_path / "local.parquet", progress=False)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=ANY_FREE_PORT
        ) as cluster,
        Client(cluster) as client,
        pytest.raises(InvalidInputError) as remote,
    ):
        score_file(src, tmp_path / "dask.parquet", engine=Engine.dask, client=client, progress=False)
    assert str(remote.value) == str(local.value)
    assert remote.value.field == "input" and remote.value.allowed == "a well-formed CSV file"


def test_implausible_albumin_is_reported_per_row_not_scored(tmp_path: Path) -> None:
    """Albumin 35 in the g/dL column (g/L meant) or 3.5 in the g/L column (g/dL meant) would flip the NESMS
    albumin item; outside the plausible 0.5-7 g/dL (5-70 g/L) it goes to the error file like any bad value."""
    src = tmp_path / "r.csv"
    src.write_text("ALB_GDL,ALB_GL\n3.8,\n35,\n,3.5\n,38\n,350\n7.0,\n")
    mp = tmp_path / "m.yaml"
    mp.write_text("spinemets_mapping: 1\ncolumns:\n  albumin_g_dl: ALB_GDL\n  albumin_g_l: ALB_GL\n")
    summary = score_file(src, tmp_path / "o.parquet", mapping=load_mapping(mp, SPECS), progress=False)
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert out["nesms_input_error"].to_list() == [False, True, True, False, True, False]
    assert out["nesms_min"][1] is None and out["nesms_max"][1] is None
    # the plausible rows score as the calculator does
    assert out["nesms_max"][0] == score("nesms", {"albumin_g_dl": 3.8}).max
    assert out["nesms_max"][3] == score("nesms", {"albumin_g_l": 38}).max
    err = pl.read_csv(tmp_path / "o.errors.csv", infer_schema_length=0).filter(pl.col("score") == "nesms")
    # named by the registry's columns; the field names the spinemets input
    assert err.select("row", "column", "value", "field").rows() == [
        ("2", "ALB_GDL", "35", "nesms.albumin_g_dl"),
        ("3", "ALB_GL", "3.5", "nesms.albumin_g_l"),
        ("5", "ALB_GL", "350", "nesms.albumin_g_l"),
    ]
    assert all("plausible 0.5-7 g/dL (5-70 g/L)" in a for a in err["allowed"])
    assert summary.scores_not_computed["nesms"] == 3


def test_blank_cells_are_missing_alike_in_csv_and_parquet(tmp_path: Path) -> None:
    """A cell of spaces (CSV), an empty string (Parquet, plain or dictionary-encoded) and an empty
    CSV cell all mean unknown: no error row, the score a range with the item missing."""
    import polars as pl

    from spinemets import score

    csv = tmp_path / "in.csv"
    csv.write_text("patient_id,kps,frankel\nP1, ,E\nP2,,E\nP3,\t,E\n")
    frame = pl.DataFrame({"patient_id": ["P1", "P2", "P3"], "kps": [" ", "", None], "frankel": ["E"] * 3})
    frame.write_parquet(tmp_path / "in.parquet")
    frame.with_columns(pl.col("kps").cast(pl.Categorical)).write_parquet(tmp_path / "cat.parquet")
    single = score("tokuhashi_revised", {"kps": " ", "frankel": "E"})
    assert single.missing[0] == "general_condition" and single.total is None
    for src in (csv, tmp_path / "in.parquet", tmp_path / "cat.parquet"):
        out = tmp_path / f"{src.stem}-{src.suffix[1:]}-scored.parquet"
        summary = score_file(src, out, progress=False)
        assert summary.error_count == 0, src
        scored = pl.read_parquet(out)
        assert scored["tokuhashi_revised_input_error"].to_list() == [False] * 3
        assert scored["tokuhashi_revised_min"].to_list() == [single.min] * 3
        assert scored["tokuhashi_revised_max"].to_list() == [single.max] * 3
        assert scored["tokuhashi_revised_missing"].to_list() == [";".join(single.missing)] * 3
    # the input is carried as read
    assert pl.read_parquet(tmp_path / "in-parquet-scored.parquet")["kps"].to_list() == [" ", "", None]


def test_the_error_file_words_a_refused_value_as_calculator_mode_does(tmp_path: Path) -> None:
    """The same-name albumin input once read 'one of normal, low, or normal, low, or a serum albumin ...'."""
    src = tmp_path / "r.csv"
    src.write_text("albumin\n12.2\n")
    score_file(src, tmp_path / "o.parquet", progress=False)
    err = pl.read_csv(tmp_path / "o.errors.csv", infer_schema_length=0).filter(pl.col("score") == "nesms")
    with pytest.raises(InvalidInputError) as single:
        score("nesms", {"albumin": 12.2})
    assert err["allowed"].to_list() == [single.value.allowed]
    assert err["allowed"][0].count("normal, low") == 1


def test_dask_workers_read_a_relative_input_path_from_the_client_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tasks carry the input's path: a relative one was opened in each worker's own working
    # directory (FileNotFoundError, "internal error"), even with the file on shared storage.
    from distributed import Client, LocalCluster

    path = _with_bad_rows(tmp_path, 1500, "csv")
    local = score_file(path, tmp_path / "local.parquet", progress=False)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=ANY_FREE_PORT
        ) as cluster,
        Client(cluster) as client,
    ):
        monkeypatch.chdir(tmp_path)  # the worker process stays where it started
        remote = score_file(
            Path(path.name), tmp_path / "dask.parquet", engine=Engine.dask, client=client, progress=False
        )
    assert remote.rows == local.rows == 1500
    assert pl.read_parquet(tmp_path / "local.parquet").equals(pl.read_parquet(tmp_path / "dask.parquet"))
    assert pl.read_csv(tmp_path / "local.errors.csv").equals(pl.read_csv(tmp_path / "dask.errors.csv"))


def test_a_worker_that_cannot_open_the_input_is_named_with_what_the_path_must_be(tmp_path: Path) -> None:
    from spinemets.cohort.run import CsvChunk, _score_task, versions

    missing = tmp_path / "not-shared.csv"
    chunk = CsvChunk(str(missing), 4, 10, b"kps\n", ("",), ",")
    with pytest.raises(InvalidInputError) as exc:
        _score_task(chunk, {}, None, False, versions())
    message = str(exc.value)
    assert message.startswith(
        f"input must be a file every Dask worker reads under the same path (shared or network storage); "
        f"got '{missing}' (worker "
    ), message
    assert "cannot open it: FileNotFoundError" in message


def test_a_dask_worker_with_another_spinemets_version_refuses_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker processes import spinemets afresh; the client here claims another version, as a
    # client upgraded before its cluster would. A silent mix scored rows by other tables.
    from distributed import Client, LocalCluster

    import spinemets.cohort.run as run_module

    path = _with_bad_rows(tmp_path, 1500, "parquet")
    out = tmp_path / "dask.parquet"
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=ANY_FREE_PORT
        ) as cluster,
        Client(cluster) as client,
    ):
        monkeypatch.setattr(run_module, "versions", lambda: ("9.9.9", "1999.1.1"), raising=False)
        monkeypatch.setattr(run_module, "DEFINITIONS_VERSION", "1999.1.1")
        with pytest.raises(InvalidInputError) as exc:
            score_file(path, out, engine=Engine.dask, client=client, progress=False)
    message = str(exc.value)
    assert message.startswith("Dask worker tcp://127.0.0.1:"), message
    assert (
        f"must be spinemets 9.9.9 with score definitions 1999.1.1, as on the machine that runs the command; "
        f"got 'spinemets {spinemets.__version__}, score definitions {DEFINITIONS_VERSION}' (install the same"
    ) in message
    assert not out.exists() and not (tmp_path / "dask.errors.csv").exists()


def _dask_run_in_thread(
    tmp_path: Path, out: Path, client: object
) -> tuple[threading.Thread, list[BaseException]]:
    """Score a small Parquet file on ``client`` in a daemon thread (a hang fails the test, not the
    suite); ``out`` holds a previous run's bytes, which a failed run must leave as they were."""
    path = _with_bad_rows(tmp_path, 1500, "parquet")
    out.write_bytes(b"previous run")
    raised: list[BaseException] = []

    def go() -> None:
        try:
            score_file(path, out, engine=Engine.dask, client=client, progress=False)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread, raised


def test_a_dask_run_whose_scheduler_has_no_worker_stops_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dask waits forever for a worker: a cluster whose workers were never started, or were all
    # killed mid-run, hung the command. The run goes on in a thread so a hang fails the test.
    from distributed import Client, LocalCluster

    import spinemets.cohort.run as run_module

    monkeypatch.setattr(run_module, "NO_WORKER_SECONDS", 1, raising=False)
    out = tmp_path / "dask.parquet"
    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=ANY_FREE_PORT) as cluster,
        Client(cluster) as client,
    ):
        thread, raised = _dask_run_in_thread(tmp_path, out, client)
        thread.join(timeout=20)
        assert not thread.is_alive(), "the run waited for a worker for 20 s"
    assert len(raised) == 1 and isinstance(raised[0], InvalidInputError), raised
    assert str(raised[0]).startswith(
        f"--scheduler must be a Dask scheduler with at least one worker; got '{cluster.scheduler_address}' "
        "(it has had none for 1 s"
    ), raised[0]
    assert out.read_bytes() == b"previous run" and not (tmp_path / "dask.errors.csv").exists()


try:
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover - the cohort extra is installed for the tests
    WorkerPlugin = object


class _DieOnTask(WorkerPlugin):  # type: ignore[misc, valid-type]
    """A worker plugin that kills its worker process as soon as a task starts (an out-of-memory kill)."""

    def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
        import os

        if finish == "executing":
            os._exit(9)


def test_a_chunk_whose_workers_all_die_stops_the_run_naming_the_cluster(tmp_path: Path) -> None:
    # Dask reruns a lost worker's task elsewhere; once as many workers as allowed died running it,
    # it gives up with KilledWorker, which reached the command line as an "internal error".
    import dask
    from distributed import Client, LocalCluster

    path = _with_bad_rows(tmp_path, 1500, "parquet")
    out = tmp_path / "dask.parquet"
    out.write_bytes(b"previous run")
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=ANY_FREE_PORT
        ) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(_DieOnTask(), name="die-on-task")
        with pytest.raises(InvalidInputError) as exc:
            score_file(path, out, engine=Engine.dask, client=client, progress=False)
    assert str(exc.value).startswith(
        f"--scheduler must be a Dask cluster whose workers outlive the run; got '{cluster.scheduler_address}' "
        "(every worker that ran one chunk died (out of memory?"
    ), exc.value
    assert out.read_bytes() == b"previous run" and not (tmp_path / "dask.errors.csv").exists()


def test_a_dask_run_whose_scheduler_goes_away_stops_naming_it(tmp_path: Path) -> None:
    # The client cancels every task when it loses its scheduler: FutureCancelledError reached the
    # command line as a spinemets "internal error".
    from distributed import Client, LocalCluster

    out = tmp_path / "dask.parquet"
    cluster = LocalCluster(n_workers=0, processes=False, dashboard_address=ANY_FREE_PORT)
    address = cluster.scheduler_address
    with Client(cluster) as client:
        thread, raised = _dask_run_in_thread(tmp_path, out, client)
        thread.join(timeout=1)  # the tasks wait for a worker
        cluster.close()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the run went on waiting after its scheduler stopped"
    assert len(raised) == 1 and isinstance(raised[0], InvalidInputError), raised
    assert str(raised[0]).startswith(
        f"--scheduler must be the address of a running Dask scheduler; got '{address}' (the connection to it "
        "was lost mid-run ("
    ), raised[0]
    assert out.read_bytes() == b"previous run" and not (tmp_path / "dask.errors.csv").exists()


def test_a_dask_worker_with_an_older_task_signature_is_a_version_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker whose spinemets predates the version check cannot check anything: its task takes
    # other arguments, and the TypeError reached the command line as an "internal error".
    # Simulated by sending the task one argument more than it takes.
    import functools

    from distributed import Client, LocalCluster

    import spinemets.cohort.run as run_module

    path = _with_bad_rows(tmp_path, 1500, "parquet")
    monkeypatch.setattr(run_module, "_score_task", functools.partial(run_module._score_task, "extra"))
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=ANY_FREE_PORT
        ) as cluster,
        Client(cluster) as client,
        pytest.raises(InvalidInputError) as exc,
    ):
        score_file(path, tmp_path / "dask.parquet", engine=Engine.dask, client=client, progress=False)
    message = str(exc.value)
    assert message.startswith("--scheduler must be a Dask cluster whose workers run spinemets "), message
    assert "a worker runs another spinemets version (_score_task() takes" in message
    assert not (tmp_path / "dask.parquet").exists()


@pytest.mark.parametrize("engine", [Engine.local, Engine.dask])
def test_a_synthetic_csv_stays_labelled_when_keep_leaves_out_its_synthetic_column(
    tmp_path: Path, engine: Engine
) -> None:
    # The flag was read from the first chunk after --keep had dropped the column: the scored file of a
    # synthetic cohort said synthetic=false, and the terminal showed no SYNTHETIC DATA label.
    src = tmp_path / "synth.csv"
    write_synth(200, src, seed=1)
    out = tmp_path / "scored.parquet"
    summary = score_file(src, out, keep=["patient_id"], engine=engine, progress=False)
    assert summary.synthetic
    assert parquet_metadata(out)[b"spinemets.synthetic"] == b"true"
    assert "synthetic" not in pl.read_parquet(out).columns


def test_a_failed_write_leaves_no_partial_file_even_when_a_late_writer_recreates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After a chunk fails, polars may still open the output on one of its threads: the partial file
    # removed at once appeared again in 7% of failed runs under load (and the test above flaked).
    # The file is written in a folder of its own, removed until it is gone.
    import shutil

    import pyarrow as pa

    import spinemets.cohort.run as run_module

    real = shutil.rmtree
    late: list[Path] = []

    def rmtree_then_a_late_write(folder: Path, ignore_errors: bool = False) -> None:
        real(folder, ignore_errors=True)
        if not late:  # the late open: the folder and the file are back once
            folder.mkdir()
            (folder / "o.parquet").write_bytes(b"late")
            late.append(folder)

    monkeypatch.setattr(run_module.shutil, "rmtree", rmtree_then_a_late_write)
    out = tmp_path / "o.parquet"
    out.write_bytes(b"previous run")

    def chunks() -> Iterator[pa.Table]:
        yield pa.table({"x": [1, 2]})
        raise InvalidInputError("kps", "150", "10 to 100 %")

    with pytest.raises(InvalidInputError):
        run_module.write_tables(chunks(), out, synthetic=False)
    assert late and list(tmp_path.iterdir()) == [out] and out.read_bytes() == b"previous run"
