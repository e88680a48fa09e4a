"""Messy registry files as researchers have them: mapping YAML quirks, Excel exports, odd CSV layouts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spinemets.cohort import run
from spinemets.cohort.mapping import load_mapping
from spinemets.cohort.run import read_csv_bytes, score_file
from spinemets.errors import InvalidInputError
from spinemets.scores import SPECS, score


def test_mapping_codes_and_values_are_read_as_written_not_as_yaml_booleans_or_numbers(
    tmp_path: Path,
) -> None:
    """YAML 1.1 reads ``yes``/``no`` as booleans and ``01``/``010`` as numbers (``010`` = 8); a code table
    ``{ja: yes, nein: no}`` must translate to ``yes``/``no``, not to 1/0, and ``01`` stay ``01``."""
    mp = tmp_path / "m.yaml"
    mp.write_text(
        "spinemets_mapping: 1\n"
        "columns:\n"
        "  pathological_fracture:\n"
        "    from: FRACT\n"
        "    codes: {ja: yes, nein: no, 1: yes, 0: no}\n"
        "  primary:\n"
        "    from: PRIM\n"
        "    codes: {01: breast, 010: prostate, 9: ~}\n",
        encoding="utf-8",
    )
    mapping = load_mapping(mp, SPECS)
    assert mapping.spinemets_mapping == 1
    assert mapping.columns["pathological_fracture"].codes == {
        "ja": "yes",
        "nein": "no",
        "1": "yes",
        "0": "no",
    }
    assert mapping.columns["primary"].codes == {"01": "breast", "010": "prostate", "9": None}
    src = tmp_path / "r.csv"
    src.write_text("FRACT,PRIM\nja,01\nnein,010\n1,9\n0,8\n", encoding="utf-8")
    out = tmp_path / "o.parquet"
    summary = score_file(src, out, mapping=mapping, progress=False)
    scored = pl.read_parquet(out)
    assert scored["pathological_fracture"].to_list() == ["yes", "no", "yes", "no"]
    assert scored["primary"].to_list() == ["breast", "prostate", None, None]
    assert scored["bauer_input_error"].to_list() == [False, False, False, True]
    assert scored["bauer_min"][0] == score("bauer", {"pathological_fracture": "yes", "primary": "breast"}).min
    # only the unlisted code 8 is an error (010 is not octal 8 here)
    err = pl.read_csv(tmp_path / "o.errors.csv", infer_schema=False)
    assert err.select("row", "column", "value").rows() == [("4", "PRIM", "8")]
    assert summary.error_count == 1


def test_a_code_mapped_to_a_value_no_score_accepts_is_refused_when_the_mapping_is_read(
    tmp_path: Path,
) -> None:
    """``C50: brest`` is a typo in the mapping, not in the registry: refused at once, naming the code,
    instead of emptying every score on every C50 row under the spinemets name ``primary``."""
    mp = tmp_path / "m.yaml"
    mp.write_text("columns:\n  primary:\n    from: PRIM\n    codes: {C61: prostate, C50: brest}\n")
    with pytest.raises(InvalidInputError, match=r"mapping\.columns\.primary\.codes\.C50 .*'brest'"):
        load_mapping(mp, SPECS)
    mp.write_text("columns:\n  sins.pain:\n    from: P\n    codes: {'1': mechanical, '2': sore}\n")
    with pytest.raises(InvalidInputError, match=r"codes\.2 .*'sore'"):
        load_mapping(mp, SPECS)
    # a value some score reading the input accepts is fine (KPS 0: the performance grade takes it)
    mp.write_text("columns:\n  kps:\n    from: K\n    codes: {moribund: 0, good: 90, x: null}\n")
    assert load_mapping(mp, SPECS).columns["kps"].codes == {"moribund": "0", "good": "90", "x": None}


def test_the_error_file_names_the_registry_column_and_its_cell_for_mapped_inputs(tmp_path: Path) -> None:
    """A researcher looks the error up in the registry: the column is the registry's (KARNOFSKY, not kps)
    and the value the cell as it is there (a code, with what the mapping made of it)."""
    mp = tmp_path / "m.yaml"
    mp.write_text(
        "columns:\n"
        "  kps:\n    from: KARNOFSKY\n    codes: {dead: 0, good: 90}\n"
        "  sins.level: LEVEL_SINS\n"
        "  level: LEVEL\n"
        "  primary:\n    from: primary\n    codes: {C50: breast, C61: prostate}\n"
    )
    src = tmp_path / "r.csv"
    src.write_text(
        "KARNOFSKY,LEVEL,LEVEL_SINS,primary,ECOG_TEXT\n"
        "dead,T12,,C50,x\n"  # KPS 0: the performance grade takes it, Tokuhashi does not
        "good,X1,,C61,x\n"  # a bad level in the shared column
        "good,T12,Q9,C61,x\n"  # a bad level in the SINS-only column, which wins
    )
    score_file(src, tmp_path / "o.csv", mapping=load_mapping(mp, SPECS), progress=False)
    err = pl.read_csv(tmp_path / "o.errors.csv", infer_schema=False)
    assert err.select("row", "column", "value", "score", "field").rows() == [
        ("1", "KARNOFSKY", "dead (mapped to 0)", "tokuhashi_revised", "tokuhashi_revised.kps"),
        ("1", "KARNOFSKY", "dead (mapped to 0)", "tokuhashi_1990", "tokuhashi_1990.kps"),
        ("2", "LEVEL", "X1", "sins", "sins.level"),
        ("3", "LEVEL_SINS", "Q9", "sins", "sins.level"),
    ]


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


@pytest.mark.parametrize("chunk_bytes", [40, 97, 256, 1 << 20])
def test_quoted_fields_with_line_breaks_are_read_whole_in_every_chunk_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    """A free-text comment typed over several lines (quoted, as Excel and R write it) is one cell, wherever
    the file is cut into byte ranges; error rows count records, not lines."""
    monkeypatch.setattr(run, "_CSV_CHUNK_BYTES", chunk_bytes)
    rows = [["id", "kps", "comment"]]
    for i in range(1, 41):
        comment = f'seen {i}\nsays "better", then\r\nworse' if i % 4 == 1 else f"plain {i}"
        rows.append([str(i), "150" if i in (7, 33) else "70", comment])
    src = tmp_path / "r.csv"
    src.write_text(_csv_text(rows), encoding="utf-8", newline="")
    summary = score_file(src, tmp_path / "o.parquet", progress=False)
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert summary.rows == 40
    assert out["comment"].to_list() == [r[2] for r in rows[1:]]
    err = pl.read_csv(tmp_path / "o.errors.csv", infer_schema=False)
    assert set(err["row"]) == {"7", "33"} and set(err["value"]) == {"150"}
    if chunk_bytes < 1000:
        assert summary.chunks > 3


def test_a_quote_inside_an_unquoted_field_does_not_stop_the_file_from_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "_CSV_CHUNK_BYTES", 30)
    src = tmp_path / "r.csv"
    src.write_text("kps,height\n" + "".join(f"{70 if i != 5 else 7},5'10\"\n" for i in range(1, 21)))
    summary = score_file(src, tmp_path / "o.csv", progress=False)
    assert summary.rows == 20
    assert pl.read_csv(tmp_path / "o.errors.csv")["row"].unique().to_list() == [5]


def test_a_chunk_longer_than_arrows_read_block_keeps_multi_line_fields_whole() -> None:
    """Arrow reads a chunk in blocks of about 1 MiB, cut at any line break unless told fields hold them."""
    header = b"kps,primary,comment\n"
    lines = [
        b'70,breast,"line one\nline ""two"", with a comma"' if i % 3 == 0 else b"80,lung_nsclc,plain"
        for i in range(60_000)
    ]
    table = read_csv_bytes(b"\n".join(lines) + b"\n", header, ("",))
    assert table.num_rows == 60_000
    assert table.column("comment")[0].as_py() == 'line one\nline "two", with a comma'


def test_a_latin1_cell_is_refused_naming_its_line_in_any_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrow says "CSV column #2" (counted from 0) and no row; the refusal names the file's line."""
    monkeypatch.setattr(run, "_CSV_CHUNK_BYTES", 100)
    src = tmp_path / "r.csv"
    src.write_bytes(
        b"kps,primary,note\n" + b"70,breast,ok\n" * 50 + b"80,lung_nsclc,M\xfcller\n" + b"70,x,y\n" * 9
    )
    with pytest.raises(InvalidInputError) as caught:
        score_file(src, tmp_path / "o.csv", progress=False)
    assert caught.value.allowed == "a CSV file encoded in UTF-8"
    assert "line 52 of the file, byte 0xfc" in caught.value.hint and "M\\xfcller" in caught.value.hint
    assert not (tmp_path / "o.csv").exists()


def test_the_summary_counts_invalid_cells_not_lines_of_the_error_file(tmp_path: Path) -> None:
    """Two bad KPS cells are two invalid values, though three scores read KPS (six lines in the file)."""
    src = tmp_path / "r.csv"
    src.write_text("kps,frankel\n150,E\n70,E\n7,Q\n")
    summary = score_file(src, tmp_path / "o.csv", progress=False)
    readers = sum("kps" in s.definition.accepted_inputs() for s in SPECS.values())
    frankel_readers = sum("frankel" in s.definition.accepted_inputs() for s in SPECS.values())
    assert summary.error_count == 2 * readers + frankel_readers
    assert summary.invalid_values == 3 and summary.rows_with_errors == 2
    assert summary.errors_by_column == {"frankel": 1, "kps": 2}
    assert json.loads((tmp_path / "o.summary.json").read_text())["invalid_values"] == 3


def test_parquet_columns_a_csv_output_cannot_hold_are_refused_before_scoring(tmp_path: Path) -> None:
    """Binary and duration columns (a scanned form, a pandas timedelta) reached polars' CSV writer only
    after the whole file had been scored, and stopped the run as 'a bug in spinemets'; a 256-bit
    decimal could not be read at all (a Rust panic)."""
    src = tmp_path / "r.parquet"
    base = {"kps": pa.array([70, 80]), "ts": pa.array([1, 2], pa.timestamp("s"))}
    for name, arr in [
        ("scan", pa.array([b"\x00\x01", b"\x02"], pa.binary())),
        ("stay", pa.array([1, 2], pa.duration("s"))),
    ]:
        pq.write_table(pa.table({**base, name: arr}), src)
        with pytest.raises(
            InvalidInputError, match=rf"input column '{name}' must be a type a CSV file can hold"
        ):
            score_file(src, tmp_path / f"{name}.csv", progress=False)
        assert not (tmp_path / f"{name}.csv").exists()
        # Parquet holds it; --keep leaves it out of a CSV
        assert score_file(src, tmp_path / "o.parquet", progress=False).rows == 2
        assert score_file(src, tmp_path / f"{name}.csv", keep=["ts"], progress=False).rows == 2
    pq.write_table(pa.table({**base, "big": pa.array([Decimal("1.5"), None], pa.decimal256(40, 2))}), src)
    with pytest.raises(InvalidInputError, match=r"input column 'big' must be a type spinemets can read"):
        score_file(src, tmp_path / "o.parquet", progress=False)


def test_a_256_bit_decimal_inside_a_list_or_struct_is_refused_naming_the_column(tmp_path: Path) -> None:
    """Only a top-level 256-bit decimal was refused: inside a list or a struct, a column no score reads
    and a Parquet output could carry, it still stopped the run with a Rust panic."""
    src = tmp_path / "r.parquet"
    big = pa.decimal256(40, 1)
    for name, arr in [
        ("lst", pa.array([[Decimal("1.5")], None], pa.list_(big))),
        ("st", pa.array([{"d": Decimal("1.5")}, None], pa.struct([("d", big)]))),
    ]:
        pq.write_table(pa.table({"kps": pa.array([70, 80]), name: arr}), src)
        with pytest.raises(
            InvalidInputError, match=rf"input column '{name}' must be a type spinemets can read"
        ):
            score_file(src, tmp_path / "o.parquet", progress=False)
        assert not (tmp_path / "o.parquet").exists()


def test_a_semicolon_export_whose_column_names_hold_commas_is_read_with_semicolons(tmp_path: Path) -> None:
    """Excel with a European locale separates by ';' and leaves 'Albumin, g/dL' unquoted: the header holds
    as many commas as semicolons, and the rows (decimal commas in some) settle it."""
    src = tmp_path / "r.csv"
    src.write_bytes(
        "\ufeffKarnofsky, %;primary;Frankel, grade;Albumin, g/dL\r\n"
        "70;breast;E;3,5\r\n80;lung_nsclc;D;3.1\r\n60;prostate;C;\r\n".encode()
    )
    mp = tmp_path / "m.yaml"
    mp.write_text(
        'columns:\n  kps: "Karnofsky, %"\n  frankel: "Frankel, grade"\n  albumin: "Albumin, g/dL"\n'
    )
    summary = score_file(src, tmp_path / "o.parquet", mapping=load_mapping(mp, SPECS), progress=False)
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert out.columns[:4] == ["Karnofsky, %", "primary", "Frankel, grade", "Albumin, g/dL"]
    assert out["kps"].to_list() == ["70", "80", "60"] and out["frankel"].to_list() == ["E", "D", "C"]
    assert summary.errors_by_column == {"Albumin, g/dL": 1}  # the decimal comma, reported as documented
    assert run.csv_delimiter(b"a, b;c, d\n", b"1;2\n3,5;4\n") == ";"
    assert run.csv_delimiter(b"a;b,c\n", b'1;"x,y",2\n') == ","  # quoted commas do not count
    assert run.csv_delimiter(b"a,b\n") == "," and run.csv_delimiter(b"kps\n", b"70\n") == ","


def test_registry_codes_match_ignoring_case_and_spaces_as_calculator_mode_compares_text(
    tmp_path: Path,
) -> None:
    """``c50``, ``C50 `` and ``C50`` are one code; ``Ja``/``JA``/``ja`` one answer. Two codes that differ
    only in case but mean different things cannot be told apart, so such a mapping is refused."""
    mp = tmp_path / "m.yaml"
    mp.write_text(
        "columns:\n"
        "  primary:\n    from: PRIM\n    codes: {C50: breast, c50: breast, C61: prostate}\n"
        "  pathological_fracture:\n    from: FRACT\n    codes: {ja: yes, nein: no}\n"
    )
    src = tmp_path / "r.csv"
    src.write_text("PRIM,FRACT\nc50,Ja\n C61 ,NEIN\nC50,jA\nC34,ja\n")
    score_file(src, tmp_path / "o.parquet", mapping=load_mapping(mp, SPECS), progress=False)
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert out["primary"].to_list() == ["breast", "prostate", "breast", None]
    assert out["pathological_fracture"].to_list() == ["yes", "no", "yes", "yes"]
    err = pl.read_csv(tmp_path / "o.errors.csv", infer_schema=False)
    assert err.select("row", "column", "value", "allowed").rows() == [
        ("4", "PRIM", "C34", "one of the mapped codes: C50, c50, C61")
    ]
    mp.write_text("columns:\n  frankel:\n    from: F\n    codes: {a: A, A: B}\n")
    with pytest.raises(InvalidInputError, match=r"codes 'a' and 'A' differ only in case"):
        load_mapping(mp, SPECS)
    # codes that differ only in spaces around them are one code too: the last no longer silently wins
    mp.write_text('columns:\n  primary:\n    from: P\n    codes: {"C50 ": breast, C50: prostate}\n')
    with pytest.raises(InvalidInputError, match=r"codes 'C50 ' and 'C50' differ only in case or spaces"):
        load_mapping(mp, SPECS)


def test_codes_of_a_float_column_match_their_whole_numbers(tmp_path: Path) -> None:
    """pandas stores an integer column with gaps as floats: code 1 arrives as 1.0 and must match ``1``;
    1.5 and NaN are no code and are reported."""
    src = tmp_path / "r.parquet"
    pl.DataFrame(
        {"VISC": [0.0, 1.0, None, 2.0, 1.5, float("nan")], "ECOG": [1.0, 2.0, None, 0.0, 3.0, 1.0]}
    ).write_parquet(src)
    mp = tmp_path / "m.yaml"
    mp.write_text(
        "columns:\n"
        "  visceral_metastases:\n    from: VISC\n    codes: {0: none, 1: treatable, 2: untreatable}\n"
        "  ecog:\n    from: ECOG\n    codes: {0: 0, 1: 1, 2: 2, 3: 3, 4: 4}\n"
    )
    score_file(src, tmp_path / "o.parquet", mapping=load_mapping(mp, SPECS), progress=False)
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert out["visceral_metastases"].to_list() == ["none", "treatable", None, "untreatable", None, None]
    assert out["ecog"].to_list() == ["1", "2", None, "0", "3", "1"]
    assert out["performance_total"].to_list() == [1, 2, None, 0, 3, 1]
    err = pl.read_csv(tmp_path / "o.errors.csv", infer_schema=False)
    assert err.select("row", "column", "value").rows() == [("5", "VISC", "1.5"), ("6", "VISC", "NaN")]


def test_codes_written_as_pandas_shows_them_still_match_a_float_column(tmp_path: Path) -> None:
    """A mapping written from what pandas prints (``{1.0: breast}``) matched a float column's 1.0 before
    1.0 was read as code ``1``; it then reported every row as an unlisted code, while the same codes
    still matched the CSV text "1.0". Both spellings match, in both formats."""
    pl.DataFrame({"PRIM": [1.0, 2.0, None, 3.0]}).write_parquet(tmp_path / "r.parquet")
    (tmp_path / "r.csv").write_text("PRIM\n1.0\n2.0\n\n3.0\n")
    mp = tmp_path / "m.yaml"
    mp.write_text("columns:\n  primary:\n    from: PRIM\n    codes: {1.0: breast, 2: prostate}\n")
    mapping = load_mapping(mp, SPECS)
    for name, expected in [
        ("r.parquet", ["breast", "prostate", None, None]),
        ("r.csv", ["breast", None, None]),
    ]:
        summary = score_file(tmp_path / name, tmp_path / "o.parquet", mapping=mapping, progress=False)
        assert pl.read_parquet(tmp_path / "o.parquet")["primary"].to_list()[: len(expected)] == expected
        err = pl.read_csv(tmp_path / "o.errors.csv", infer_schema=False)
        # 3.0 is no code; in the CSV "2.0" is text, compared as written
        assert err.select("column", "value").rows() == (
            [("PRIM", "3.0")] if name == "r.parquet" else [("PRIM", "2.0"), ("PRIM", "3.0")]
        ), name
        assert summary.invalid_values == err.height


def test_a_csv_whose_lines_end_in_cr_alone_is_refused_not_scored_as_empty(tmp_path: Path) -> None:
    """Excel's 'CSV (Macintosh)' ends lines in CR alone: the whole file was taken for the header row and
    the run reported 0 rows and no invalid values, exit 0."""
    src = tmp_path / "r.csv"
    src.write_bytes(b"kps,primary\r70,breast\r150,lung_nsclc\r")
    with pytest.raises(InvalidInputError, match="lines end in CR alone"):
        score_file(src, tmp_path / "o.csv", progress=False)
    assert not (tmp_path / "o.csv").exists()
    src.write_bytes(b"kps,primary\r\n70,breast\r\n150,lung_nsclc\r\n")  # CR LF, as Windows has it
    assert score_file(src, tmp_path / "o.csv", progress=False).rows == 2


def test_a_mapped_column_missing_from_the_file_is_refused_pointing_at_the_near_miss(tmp_path: Path) -> None:
    """A spreadsheet header 'KARNOFSKY ' (a trailing space) looked like 'KARNOFSKY' in a list of every
    column; a file of thousands of columns listed them all."""
    src = tmp_path / "r.csv"
    src.write_text(
        "ID,KARNOFSKY ,Primary_Site,"
        + ",".join(f"x{i}" for i in range(3000))
        + "\n1,70,C50"
        + ",0" * 3000
        + "\n"
    )
    mp = tmp_path / "m.yaml"
    for target, source, hint in [
        ("kps", "KARNOFSKY", "the file has 'KARNOFSKY ' (the name must match exactly)"),
        ("primary", "PRIM_SITE", "closest: 'Primary_Site'"),
        ("frankel", "FRANKEL", "the file's columns: 'ID', 'KARNOFSKY ', 'Primary_Site', 'x0'"),
    ]:
        mp.write_text(f"columns:\n  {target}: {source}\n")
        with pytest.raises(InvalidInputError) as caught:
            score_file(src, tmp_path / "o.csv", mapping=load_mapping(mp, SPECS), progress=False)
        assert caught.value.field == f"mapping.columns.{target}.from" and caught.value.value == source
        assert caught.value.hint.startswith(hint) and len(str(caught.value)) < 400


def test_a_code_mapped_to_blank_text_is_declared_unknown_like_null(tmp_path: Path) -> None:
    """``X: ""`` passed the mapping check (calculator mode reads a blank answer as missing) but every X row
    was then reported invalid: a blank target is unknown, as ``null`` is."""
    mp = tmp_path / "m.yaml"
    mp.write_text('columns:\n  primary:\n    from: P\n    codes: {C50: breast, X: "", Y: " ", Z: null}\n')
    mapping = load_mapping(mp, SPECS)
    assert mapping.columns["primary"].codes == {"C50": "breast", "X": None, "Y": None, "Z": None}
    src = tmp_path / "r.csv"
    src.write_text("P\nC50\nX\nY\nZ\n")
    summary = score_file(src, tmp_path / "o.parquet", mapping=mapping, progress=False)
    assert summary.error_count == 0
    assert (
        pl.read_parquet(tmp_path / "o.parquet")["tomita_missing"].to_list()[1:]
        == ["primary_growth;visceral_metastases;bone_metastases"] * 3
    )


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_the_error_file_is_written_as_the_chunks_stream_not_held_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """A registry whose every row has an error (a KPS column in the wrong unit) held every error line in
    memory until the end: 1,000,000 such rows peaked at 2.3 GB against 0.5 GB for clean ones. The lines
    are now written chunk by chunk (beside the file, moved into place when the run completes)."""
    src = tmp_path / "r.parquet"
    n = 5000
    pl.DataFrame({"kps": [7] * n, "frankel": ["E"] * n}).write_parquet(src, row_group_size=1000)
    errors = tmp_path / f"e.{suffix}"
    partial = tmp_path / f".e.{suffix}.partial"
    seen: list[int] = []
    real = run.write_tables

    def watching(tables: Iterator[pa.Table], *args: object) -> None:
        def each() -> Iterator[pa.Table]:
            for t in tables:
                seen.append(partial.stat().st_size if partial.exists() else 0)
                yield t

        real(each(), *args)  # type: ignore[arg-type]

    monkeypatch.setattr(run, "write_tables", watching)
    summary = score_file(src, tmp_path / "o.parquet", errors=errors, chunk_rows=1000, progress=False)
    assert summary.chunks == 5 and len(seen) == 5
    assert seen[1] > 0 and seen[1] < seen[-1]  # the earlier chunks' lines were already on disk
    assert not partial.exists()
    err = pl.read_parquet(errors) if suffix == "parquet" else pl.read_csv(errors)
    readers = sum("kps" in s.definition.accepted_inputs() for s in SPECS.values())
    assert err.height == summary.error_count == readers * n
    assert err["row"].to_list() == sorted(err["row"].to_list()) and err["row"].n_unique() == n
    assert summary.invalid_values == n and summary.errors_by_column == {"kps": n}


def test_a_semicolon_export_with_a_decimal_comma_in_every_row_is_read_with_semicolons(tmp_path: Path) -> None:
    """'Albumin, g/dL;KPS' with every albumin written '3,5' (the locale's decimal mark): each row holds
    as many commas as semicolons, as the header does, so both split it alike. The comma, sitting between
    digits in every row, is the decimal mark: the file was read with commas and its mapping refused."""
    src = tmp_path / "r.csv"
    src.write_bytes(b"Albumin, g/dL;Karnofsky\r\n3,5;70\r\n2,9;80\r\n4,0;60\r\n")
    mp = tmp_path / "m.yaml"
    mp.write_text('columns:\n  kps: Karnofsky\n  albumin: "Albumin, g/dL"\n')
    summary = score_file(src, tmp_path / "o.parquet", mapping=load_mapping(mp, SPECS), progress=False)
    assert pl.read_parquet(tmp_path / "o.parquet")["kps"].to_list() == ["70", "80", "60"]
    assert summary.errors_by_column == {"Albumin, g/dL": 3}  # decimal commas, reported as documented
    assert run.csv_delimiter(b"Albumin, g/dL\tKPS\n", b"3,5\t70\n2,9\t80\n") == "\t"
    # a comma between digits in a comma file is still a separator when nothing else splits the rows
    assert run.csv_delimiter(b"kps,ecog\n", b"70,1\n80,2\n") == ","
    assert run.csv_delimiter(b"a;b,c\n", b'1;"x,y",2\n') == ","  # not a decimal mark: stays a tie


@pytest.mark.parametrize("column", ["kps", "modified_bauer"])
def test_a_true_false_column_where_a_number_belongs_is_flagged_per_row_not_a_crash(
    tmp_path: Path, column: str
) -> None:
    """A Parquet boolean column read as a number (a registry's 0/1 stored as true/false) stopped the run as
    'internal error: zip() argument 2 is shorter than argument 1': its values were all refused with one
    literal, which polars evaluated as one row for the two distinct values."""
    src = tmp_path / "r.parquet"
    pl.DataFrame({column: [True, False, None], "primary": ["breast", "breast", "breast"]}).write_parquet(src)
    summary = score_file(src, tmp_path / "o.parquet", progress=False)
    assert summary.rows == 3
    errors = list(csv.DictReader(io.StringIO((tmp_path / "o.errors.csv").read_text(encoding="utf-8"))))
    flagged = {(e["row"], e["value"]) for e in errors if e["column"] == column}
    assert flagged == {("1", "true"), ("2", "false")}, errors
    # as in calculator mode, where true is not a number either
    with pytest.raises(InvalidInputError):
        score("nesms" if column == "modified_bauer" else "tokuhashi_revised", {column: True})
