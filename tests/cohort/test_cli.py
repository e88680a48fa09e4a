"""``spinemets cohort ...`` end to end, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from spinemets.cli import main


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_synth_score_validate_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out, rep = tmp_path / "s.csv", tmp_path / "scored.parquet", tmp_path / "rep"
    assert run(["cohort", "synth", "1500", "-o", str(src), "--seed", "4"]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    assert run(["cohort", "score", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1,500 rows" in err and "SYNTHETIC" in err
    summary = json.loads((tmp_path / "scored.summary.json").read_text())
    assert summary["rows"] == 1500 and summary["synthetic"] is True
    assert pl.read_parquet(out).height == 1500
    code = run(
        [
            "cohort",
            "validate",
            str(out),
            "--time",
            "time_months",
            "--event",
            "event",
            "-o",
            str(rep),
            "--bootstrap",
            "5",
            "--sample",
            "1000",
            "--score",
            "tokuhashi_revised",
        ]
    )
    assert code == 0
    assert "tokuhashi_revised: n=" in capsys.readouterr().out
    assert (rep / "report.html").exists()


def test_score_summary_lines_keep_long_paths_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Piped output (no terminal) must not be re-wrapped at 80 columns: a path broken over two lines
    # cannot be copied back into a command.
    deep = tmp_path / ("registry-exports-" * 4) / "scored-with-a-long-descriptive-name.parquet"
    deep.parent.mkdir(parents=True)
    src = tmp_path / "s.csv"
    assert run(["cohort", "synth", "50", "-o", str(src), "--seed", "1"]) == 0
    capsys.readouterr()
    assert run(["cohort", "score", str(src), "-o", str(deep)]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert any(line.endswith(f"-> {deep}") for line in lines), lines
    assert any("rows/s, engine local) SYNTHETIC DATA" in line for line in lines), lines


def test_bad_engine_and_missing_file_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["cohort", "score", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "input must be an existing" in capsys.readouterr().err
    (tmp_path / "a.csv").write_text("kps\n70\n")
    assert (
        run(["cohort", "score", str(tmp_path / "a.csv"), "-o", str(tmp_path / "o.csv"), "--engine", "spark"])
        == 2
    )
    assert "--engine must be one of local, dask" in capsys.readouterr().err


def test_score_with_option_changes_ecog_derivation(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("ecog\n1\n")
    assert run(["cohort", "score", str(tmp_path / "a.csv"), "-o", str(tmp_path / "o.csv")]) == 0
    default = pl.read_csv(tmp_path / "o.csv")
    assert (
        run(
            [
                "cohort",
                "score",
                str(tmp_path / "a.csv"),
                "-o",
                str(tmp_path / "p.csv"),
                "--option",
                "ecog_convention=alternative",
            ]
        )
        == 0
    )
    alt = pl.read_csv(tmp_path / "p.csv")
    from spinemets.scores import score

    assert default["tokuhashi_revised_max"][0] == score("tokuhashi_revised", {"ecog": "1"}).max
    assert (
        alt["tokuhashi_revised_max"][0]
        == score("tokuhashi_revised", {"ecog": "1", "ecog_convention": "alternative"}).max
    )


def test_inputs_lists_the_column_vocabulary(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["cohort", "inputs", "--json"]) == 0
    names = json.loads(capsys.readouterr().out)
    assert "tokuhashi_revised" in names["kps"]
    assert names["level"] == ["sins"]


def test_keep_limits_the_registry_columns_in_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "s.parquet"
    assert run(["cohort", "synth", "300", "-o", str(src)]) == 0
    out = tmp_path / "o.parquet"
    assert run(["cohort", "score", str(src), "-o", str(out), "--keep", "patient_id"]) == 0
    cols = pl.read_parquet(out).columns
    assert cols[0] == "patient_id" and "kps" not in cols and "tokuhashi_revised_total" in cols
    assert run(["cohort", "score", str(src), "-o", str(out), "--keep", "mrn"]) == 2
    assert "--keep must be a column of the input" in capsys.readouterr().err


def test_score_names_unread_columns_and_warns_when_no_score_reads_any(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A misspelt input (kps_score for kps) is carried through unread: the run says so instead of
    # leaving the researcher to find every Karnofsky-based item missing.
    (tmp_path / "a.csv").write_text("patient_id,kps_score,primary\nA,80,breast\n")
    assert run(["cohort", "score", str(tmp_path / "a.csv"), "-o", str(tmp_path / "a.parquet")]) == 0
    err = capsys.readouterr().err
    assert "columns no score reads: patient_id, kps_score" in err
    assert "no column of the input is read" not in err
    (tmp_path / "b.csv").write_text("KARNOFSKY,PRIM\n80,C50\n")
    assert run(["cohort", "score", str(tmp_path / "b.csv"), "-o", str(tmp_path / "b.parquet")]) == 0
    err = capsys.readouterr().err
    assert "no column of the input is read by any score" in err and "--mapping" in err


def test_an_unknown_score_option_names_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.csv").write_text("kps\n70\n")
    argv = ["cohort", "score", str(tmp_path / "a.csv"), "-o", str(tmp_path / "o.csv"), "--option", "ecog=old"]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --option must be NAME=VALUE with NAME one of ecog_convention, escc_1c")
    assert "got 'ecog=old'" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"kps;prim\xe4r\n80;breast\n", "input must be a CSV file encoded in UTF-8; got"),
        (b"kps;primary;note\n80;breast;r\xe9sum\xe9\n", "input must be a CSV file encoded in UTF-8; got"),
        (b"kps,primary\n80,breast\n70,lung,extra\n", "input must be a well-formed CSV file; got"),
    ],
    ids=["latin-1 header", "latin-1 cell", "ragged row"],
)
def test_a_malformed_csv_is_an_input_error_and_leaves_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    src, out = tmp_path / "registry.csv", tmp_path / "scored.parquet"
    src.write_bytes(content)
    assert run(["cohort", "score", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and "bug in spinemets" not in err
    assert not out.exists()


def test_outputs_that_would_replace_the_registry_or_each_other_are_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "registry.csv"
    registry = "patient_id,kps\nA,80\n"
    src.write_text(registry)
    cases = [
        (["-o", str(src)], "error: --output must be a file other than the input (it would be overwritten)"),
        (
            ["-o", str(tmp_path / "s.csv"), "--errors", str(src)],
            "error: --errors must be a file other than the input",
        ),
        (
            ["-o", str(tmp_path / "s.csv"), "--errors", str(tmp_path / "s.csv")],
            "error: --errors must be a file other than the --output",
        ),
        (["-o", str(tmp_path / "no" / "s.csv")], "error: --output must be a path in an existing folder"),
    ]
    for extra, message in cases:
        assert run(["cohort", "score", str(src), *extra]) == 2
        assert capsys.readouterr().err.startswith(message), extra
    assert src.read_text() == registry  # the registry is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.csv"]  # and nothing was written


def test_synth_and_validate_refuse_unusable_output_paths_before_working(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["cohort", "synth", "20", "-o", str(tmp_path / "no" / "s.csv")]) == 2
    assert capsys.readouterr().err.startswith("error: --output must be a path in an existing folder")
    src, scored = tmp_path / "s.csv", tmp_path / "scored.csv"
    assert run(["cohort", "synth", "20", "-o", str(src)]) == 0
    assert run(["cohort", "score", str(src), "-o", str(scored)]) == 0
    capsys.readouterr()
    argv = ["cohort", "validate", str(scored), "--time", "time_months", "--event", "event", "-o", str(src)]
    assert run(argv) == 2
    assert capsys.readouterr().err.startswith("error: --output must be a folder for the report; got")


def test_validate_refuses_an_r_style_status_and_prints_exclusions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "s.parquet", tmp_path / "scored.parquet"
    assert run(["cohort", "synth", "300", "-o", str(src), "--seed", "2"]) == 0
    assert run(["cohort", "score", str(src), "-o", str(out)]) == 0
    df = pl.read_parquet(out)
    df.with_columns(pl.col("event").cast(pl.Int64) + 1).write_parquet(tmp_path / "r.parquet")
    df.with_columns(
        pl.when(pl.int_range(pl.len()) < 4)
        .then(float("nan"))
        .otherwise(pl.col("time_months"))
        .alias("time_months")
    ).write_parquet(tmp_path / "nan.parquet")
    capsys.readouterr()
    args = ["--time", "time_months", "--event", "event", "--bootstrap", "0", "-o"]
    assert run(["cohort", "validate", str(tmp_path / "r.parquet"), *args, str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --event column 'event' must be 0 (censored) or 1 (death)"), err
    assert run(["cohort", "validate", str(tmp_path / "nan.parquet"), *args, str(tmp_path / "n")]) == 0
    shown = capsys.readouterr().out
    assert "296 rows used; 4 excluded for a missing time or event (time missing in 4, event in 0)" in shown
    # how long the cohort was followed, as the summary has it
    follow_up = json.loads((tmp_path / "n" / "summary.json").read_text())["follow_up"]
    assert "Median follow-up (reverse Kaplan-Meier: Schemper and Smith" in shown
    assert f"{follow_up['censored']:,} rows censored" in shown
    assert run(["cohort", "validate", str(src), *args, str(tmp_path / "raw")]) == 2
    assert "has no score columns" in capsys.readouterr().err


def _write_list_parquet(path: Path) -> None:
    pl.DataFrame({"kps": [[70], [80]], "primary": ["breast", "lung_nsclc"]}).write_parquet(path)


@pytest.mark.parametrize(
    ("files", "extra", "message"),
    [
        (
            {"in.csv": b"kps,kps\n70,80\n"},
            [],
            "error: input {d}/in.csv: column 2 must be a name no other column has; got 'kps'",
        ),
        (
            {"in.csv": b"kps,,\n70,1,2\n"},
            [],
            "error: input {d}/in.csv: column 2 must be a column name; got ''",
        ),
        (
            {"in.parquet": b""},
            [],
            "error: input must be a Parquet file; got '{d}/in.parquet' (Parquet file size is 0 bytes)",
        ),
        ({"in.parquet": _write_list_parquet}, [], "error: input column 'kps' must be one value per cell"),
        (
            {"in.csv": b"kps\n70\n", "m.yaml": b"columns:\n  kps: KARNOFSKY\n  primary: PRIM\xe9\n"},
            ["--mapping", "{d}/m.yaml"],
            "error: mapping must be a YAML file encoded in UTF-8; got '{d}/m.yaml' (byte 0xe9 at offset 41",
        ),
        (
            {"in.csv": b"kps\n70\n", "m.yaml": b"columns:\n  kps: A\n  kps: B\n"},
            ["--mapping", "{d}/m.yaml"],
            "error: mapping {d}/m.yaml must be a mapping that names each key once; got 'kps' "
            "(it appears twice, the second time on line 3)",
        ),
        (
            {"in.csv": b"kps\n70\n"},
            ["--engine", "dask", "--scheduler", "notaurl"],
            "error: --scheduler must be a Dask scheduler address such as tcp://host:8786; got 'notaurl'",
        ),
        (
            {"in.csv": b"kps\n70\n"},
            ["--scheduler", "tcp://127.0.0.1:8786"],
            "error: --scheduler must be given only with --engine dask; got 'tcp://127.0.0.1:8786'",
        ),
        (  # a later format's mapping was read as version 1, its new keys' meaning silently lost
            {"in.csv": b"kps\n70\n", "m.yaml": b"spinemets_mapping: 2\ncolumns:\n  kps: kps\n"},
            ["--mapping", "{d}/m.yaml"],
            "error: mapping.spinemets_mapping must be 1 (the mapping format this version of spinemets reads); "
            "got '2'",
        ),
        (  # the path was printed as 'mapping.'
            {"in.csv": b"kps\n70\n", "m.yaml": b"- kps\n- primary\n"},
            ["--mapping", "{d}/m.yaml"],
            "error: mapping must be a YAML mapping of keys to values (spinemets_mapping, null_values, columns; "
            "docs/cohort.md); got ['kps', 'primary']",
        ),
    ],
    ids=[
        "duplicate column",
        "empty column name",
        "0-byte parquet",
        "list column",
        "latin-1 mapping",
        "duplicate mapping key",
        "scheduler without port",
        "scheduler without --engine dask",
        "later mapping format",
        "mapping that is a list",
    ],
)
def test_ordinary_bad_input_is_exit_2_naming_what_is_wrong(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, object],
    extra: list[str],
    message: str,
) -> None:
    for name, content in files.items():
        if callable(content):
            content(tmp_path / name)
        else:
            (tmp_path / name).write_bytes(content)  # type: ignore[arg-type]
    src = tmp_path / next(n for n in files if n.startswith("in."))
    out = tmp_path / "scored.csv"
    argv = ["cohort", "score", str(src), "-o", str(out), *(a.format(d=tmp_path) for a in extra)]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message.format(d=tmp_path)), err
    assert not out.exists()


def test_a_csv_holding_only_a_header_without_line_break_scores_no_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "scored.parquet"
    src.write_bytes(b"kps,primary")
    assert run(["cohort", "score", str(src), "-o", str(out)]) == 0
    scored = pl.read_parquet(out)
    assert scored.height == 0 and {"kps", "primary", "tokuhashi_revised_total"} <= set(scored.columns)


def test_an_unreachable_scheduler_is_named_after_a_short_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import spinemets.cohort.run as run_module

    monkeypatch.setattr(run_module, "SCHEDULER_TIMEOUT_SECONDS", 1)
    (tmp_path / "in.csv").write_text("kps\n70\n")
    start = time.monotonic()
    argv = ["cohort", "score", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--engine", "dask"]
    assert run([*argv, "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert time.monotonic() - start < 15
    err = capsys.readouterr().err
    assert err.startswith(
        "error: --scheduler must be the address of a running Dask scheduler; got 'tcp://127.0.0.1:1' (no answer within 1 s"
    ), err


def test_a_negative_synth_seed_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["cohort", "synth", "10", "--seed", "-1", "-o", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--seed'" in err and "greater than or equal to 0" in err
    assert not (tmp_path / "x.csv").exists()


def test_a_refused_output_exits_2_every_time_without_aborting(tmp_path: Path) -> None:
    # A refusal used to come after a header check had started Arrow's thread pool; exiting at once
    # then aborted the process ("terminate called without an active exception", exit 134) in 4 of 6
    # runs. Each run is a fresh process, as on the command line.
    import os
    import subprocess
    import sys

    import spinemets

    src = tmp_path / "in.csv"
    assert run(["cohort", "synth", "2000", "-o", str(src)]) == 0
    env = {**os.environ, "PYTHONPATH": str(Path(spinemets.__file__).parents[1])}
    cli = [sys.executable, "-c", "from spinemets.cli import main; main()", "cohort", "score", str(src)]
    for extra in (["-o", str(src)], ["-o", str(tmp_path / "o.csv"), "--errors", str(src)]):
        for _ in range(6):
            done = subprocess.run([*cli, *extra], capture_output=True, text=True, env=env, timeout=120)
            assert done.returncode == 2, done.stderr
            assert done.stderr.startswith("error: --"), done.stderr
            assert "terminate called" not in done.stderr


def test_score_counts_one_invalid_value_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0a44fd9 made the line count read '1 line'; the same sentence still said '1 invalid values in 1 rows'."""
    src = tmp_path / "one.csv"
    src.write_text("kps\n65\n80\n")
    assert run(["cohort", "score", str(src), "-o", str(tmp_path / "out.csv")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "1 invalid value in 1 row ->" in err


@pytest.mark.parametrize(
    ("command", "example"),
    [("score", "scored.errors.csv for -o scored.parquet"), ("lesions", "patients.errors.csv")],
)
def test_help_names_the_default_error_file_as_it_is_written(
    command: str, example: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the file is <output stem>.errors.csv (scored.errors.csv), not <output>.errors.csv
    # (scored.parquet.errors.csv), as the help once said
    monkeypatch.setenv("COLUMNS", "250")
    assert run(["cohort", command, "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert f"(default: <output stem>.errors.csv, e.g. {example})" in help_text


@pytest.mark.parametrize(
    ("address", "hint"),
    [
        ("http://127.0.0.1:8786", "http:// is not a scheduler scheme; use tcp://"),
        ("ucx://127.0.0.1:8786", "ucx:// is not a scheduler scheme; use tcp://"),
        ("tcp://127.0.0.1:99999", "port 99999 is not between 1 and 65535"),
        ("tcp://:8786", "no host before the port"),
    ],
)
def test_a_scheduler_address_dask_cannot_reach_is_refused_before_contact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, hint: str
) -> None:
    (tmp_path / "in.csv").write_text("kps\n70\n")
    argv = ["cohort", "score", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--engine", "dask"]
    assert run([*argv, "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: --scheduler must be a Dask scheduler address such as tcp://host:8786; got '{address}' ({hint})"
    ), err


def _silent_server(reply: bytes) -> tuple[Any, str]:
    """A TCP port that accepts connections and sends ``reply`` (nothing, or bytes Dask cannot read)."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if reply:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return server, f"tcp://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.parametrize(
    ("reply", "hint"),
    [
        (b"", "no answer within 1 s: it accepted the connection but said nothing"),
        (b"HTTP/1.0 400 Bad Request\r\n\r\n" * 4, "what answered is not a Dask scheduler"),
    ],
    ids=["silent", "web server"],
)
def test_a_port_that_is_not_a_dask_scheduler_is_refused_within_the_timeout(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    reply: bytes,
    hint: str,
) -> None:
    # Dask's Client bounds only the connection: a port that accepts and then says nothing made the
    # run wait forever. The run goes on in a thread so that a hang fails the test instead of stopping it.
    import threading

    import spinemets.cohort.run as run_module

    monkeypatch.setattr(run_module, "SCHEDULER_TIMEOUT_SECONDS", 1)
    server, address = _silent_server(reply)
    (tmp_path / "in.csv").write_text("kps\n70\n")
    argv = ["cohort", "score", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv")]
    codes: list[int] = []
    worker = threading.Thread(
        target=lambda: codes.append(run([*argv, "--engine", "dask", "--scheduler", address])), daemon=True
    )
    try:
        worker.start()
        worker.join(timeout=20)
    finally:
        server.close()
    assert codes == [2], "the run did not end within 20 s"
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: --scheduler must be the address of a running Dask scheduler; got '{address}' ({hint}"
    ), err
    assert not (tmp_path / "o.csv").exists()
