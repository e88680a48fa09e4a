"""Stream a registry file through every score: CSV or Parquet in and out, locally or on Dask.

The output may also be a DuckDB database (``.duckdb``): the scored rows go into one table (default
``scores``), appended chunk by chunk, with the definitions version and the synthetic flag in the
``spinemets_metadata`` table and the table comment.

The file is cut into chunks (Parquet: record batches or row groups; CSV: byte ranges ending on a
line break), each chunk is scored by :func:`spinemets.cohort.frame.score_chunk`, and the results are
appended to the output in file order, so memory is bounded by the chunk size, not the file size.
The local engine runs the chunks in this process (polars uses every core inside a chunk); the Dask
engine sends one task per chunk to a ``dask.distributed`` cluster and writes what comes back in order.
Both engines share the chunk reader and the scorer, so their outputs are identical.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from spinemets.cohort import DEFAULT_CHUNK_ROWS
from spinemets.cohort.expressions import ERROR_SCHEMA
from spinemets.cohort.fast import FastCache, bool_column
from spinemets.cohort.frame import VERSION_COLUMN, ChunkResult, score_chunk
from spinemets.cohort.mapping import DEFAULT_NULL_VALUES, CohortMapping, accepted_inputs
from spinemets.errors import Interrupted, InvalidInputError
from spinemets.paths import check_outputs, write_output
from spinemets.scores.catalogue import DEFINITIONS_VERSION, SPECS
from spinemets.scores.engine import ScoreSpec

#: Parquet key-value metadata written on every output.
META_VERSION = b"spinemets.definitions_version"
META_SYNTHETIC = b"spinemets.synthetic"
#: Column that marks synthetic rows (written by ``spinemets cohort synth``).
SYNTHETIC_COLUMN = "synthetic"
_CSV_CHUNK_BYTES = 32 * 1024 * 1024
#: Longest quoted field looked for when cutting a CSV file into byte ranges (see ``csv_chunks``).
_QUOTED_FIELD_BYTES = 1024 * 1024


class Engine(StrEnum):
    local = "local"
    dask = "dask"


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    duckdb = "duckdb"
    """Output only: a table in a DuckDB database file."""


#: Table of a DuckDB output that records, per scored table, the definitions version and synthetic flag.
DUCKDB_METADATA_TABLE = "spinemets_metadata"
DEFAULT_DUCKDB_TABLE = "scores"
#: DuckDB's buffer limit while writing: without one, inserted blocks stay in memory until the end
#: (measured: peak memory grew with the rows written); with it, they are flushed to the file.
DUCKDB_MEMORY_LIMIT = "512MB"


def parquet_metadata(path: str | Path) -> dict[bytes, bytes]:
    """The file's key-value metadata (where spinemets keeps its version and synthetic flags)."""
    return dict(pq.read_metadata(path).metadata or {})


def file_format(path: Path, *, allow_duckdb: bool = False) -> FileFormat:
    """The format by extension; DuckDB only where the caller writes (or reads back) a scored table."""
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return FileFormat.parquet
    if suffix in {".csv", ".txt"}:
        return FileFormat.csv
    if allow_duckdb and suffix in {".duckdb", ".ddb"}:
        return FileFormat.duckdb
    allowed = "a .csv, .parquet or .duckdb file" if allow_duckdb else "a .csv or .parquet file"
    raise InvalidInputError("file", str(path), allowed)


def duckdb_table_name(name: str) -> str:
    """A plain SQL identifier (letters, digits, underscore), so it is safe to put in a statement."""
    if (
        not name
        or not (name[0].isalpha() or name[0] == "_")
        or not all(c.isalnum() or c == "_" for c in name)
    ):
        raise InvalidInputError("--table", name, "letters, digits and _ (not starting with a digit)")
    if name.lower() == DUCKDB_METADATA_TABLE:
        raise InvalidInputError("--table", name, f"any name but {DUCKDB_METADATA_TABLE} (spinemets' own)")
    return name


class RunSummary(BaseModel):
    """What a scoring run did; printed on the terminal and written beside the output as JSON."""

    model_config = ConfigDict(frozen=True)
    input: str
    output: str
    errors_file: str
    engine: Engine
    definitions_version: str = DEFINITIONS_VERSION
    synthetic: bool
    scores: tuple[str, ...]
    rows: int
    chunks: int
    seconds: float
    rows_per_second: float
    error_count: int
    """Lines in the error file: one per (row, column, score), so a bad KPS read by three scores is three."""
    invalid_values: int
    """Cells with an invalid value (distinct row and column), however many scores read each."""
    rows_with_errors: int
    errors_by_column: dict[str, int]
    """Per registry column, its cells with an invalid value."""
    scores_not_computed: dict[str, int]
    """Per score, rows left empty because an input it reads was invalid (see the error file)."""
    columns_read: tuple[str, ...] = ()
    """Input columns some score reads: spinemets inputs by name, and registry columns the mapping maps."""
    columns_not_read: tuple[str, ...] = ()
    """Input columns no score reads (in the output as read, unless ``keep`` leaves them out): a misspelt input shows here."""


# ---- chunk specs: small, picklable descriptions a worker can read on its own ----------------------


@dataclass(frozen=True)
class ParquetChunk:
    path: str
    row_groups: tuple[int, ...]
    row_offset: int


@dataclass(frozen=True)
class CsvChunk:
    path: str
    start: int
    end: int
    header: bytes
    null_values: tuple[str, ...]
    delimiter: str = ""
    """The file's field separator (empty: read from the header alone)."""


Chunk = ParquetChunk | CsvChunk


UTF8_CSV = "a CSV file encoded in UTF-8"


def _csv_header(path: Path) -> bytes:
    """The header row, ending in a line break (a file holding only a header may lack one)."""
    with path.open("rb") as fh:
        header = fh.readline()
    if not header.strip():
        raise InvalidInputError("input", str(path), "a CSV file with a header row")
    if b"\r" in header.rstrip(b"\r\n"):  # the first line break is a lone CR: every row would be "header"
        raise InvalidInputError(
            "input",
            str(path),
            "a CSV file whose lines end in LF or CR LF",
            "its lines end in CR alone (classic Mac line ends, as Excel's 'CSV (Macintosh)' writes them); "
            "save it again as 'CSV UTF-8'",
        )
    try:
        header.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(
            "input", str(path), UTF8_CSV, "its header row is not UTF-8; save it again as UTF-8"
        ) from None
    return header if header.endswith(b"\n") else header + b"\n"


def _parquet_file(path: str | Path) -> pq.ParquetFile:
    """Open a Parquet file; an empty, truncated or non-Parquet file is a clear error naming it."""
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError("input", str(path), "a Parquet file", str(exc)[:300]) from None


def csv_chunks(path: Path, null_values: tuple[str, ...], chunk_bytes: int | None = None) -> list[CsvChunk]:
    """Byte ranges of ``path`` that start after the header and end on a line break between records.

    A quoted field may hold line breaks (a comment typed over several lines): a range ends only on a
    line break outside quotes, found by the parity of the ``"`` characters before it (a quote inside
    a quoted field is doubled, so the parity says whether a position is inside one). This reads the
    file once more, counting quotes. A file whose quotes do not follow that rule (a stray ``5'10"``
    in an unquoted field) and that leaves no even line break within another ``chunk_bytes`` (at least
    1 MiB, longer than any real field) falls back to the next line break, as if the field closed there.
    """
    chunk_bytes = chunk_bytes or _CSV_CHUNK_BYTES
    header = _csv_header(path)
    delimiter = file_delimiter(path)
    size = path.stat().st_size
    chunks: list[CsvChunk] = []
    start = len(header)
    with path.open("rb") as fh:
        while start < size:
            end = min(start + chunk_bytes, size)
            if end < size:
                end = _record_end(fh, start, end, max(chunk_bytes, _QUOTED_FIELD_BYTES))
            chunks.append(CsvChunk(str(path), start, end, header, null_values, delimiter))
            start = end
    return chunks


def _record_end(fh: Any, start: int, end: int, limit: int) -> int:
    """The first line break at or after ``end`` outside quotes (``start`` is outside quotes)."""
    fh.seek(start)
    odd = _count_quotes(fh, end - start) % 2 == 1
    fh.seek(end)
    first = fh.readline()
    odd ^= first.count(b'"') % 2 == 1
    if not odd:
        return int(fh.tell())
    scanned = len(first)
    while scanned <= limit:
        line = fh.readline()
        if not line:
            return int(fh.tell())
        scanned += len(line)
        odd ^= line.count(b'"') % 2 == 1
        if not odd:
            return int(fh.tell())
    return end + len(first)  # no even line break within ``limit``: quotes not as RFC 4180 has them


def _count_quotes(fh: Any, n: int, block: int = 8 * 1024 * 1024) -> int:
    count = 0
    while n > 0:
        data = fh.read(min(block, n))
        if not data:
            break
        count += data.count(b'"')
        n -= len(data)
    return count


def parquet_chunks(path: Path, chunk_rows: int) -> list[ParquetChunk]:
    """Groups of consecutive row groups of about ``chunk_rows`` rows each."""
    meta = pq.ParquetFile(path).metadata
    chunks: list[ParquetChunk] = []
    group: list[int] = []
    rows = offset = 0
    for i in range(meta.num_row_groups):
        group.append(i)
        rows += meta.row_group(i).num_rows
        if rows >= chunk_rows:
            chunks.append(ParquetChunk(str(path), tuple(group), offset))
            offset += rows
            group, rows = [], 0
    if group:
        chunks.append(ParquetChunk(str(path), tuple(group), offset))
    return chunks


CSV_DELIMITERS = (",", ";", "\t", "|")
"""Field separators recognised in a CSV header row."""


_QUOTED = re.compile(r'"(?:[^"]|"")*"')
#: Bytes after the header row looked at to choose the separator.
_DELIMITER_SAMPLE_BYTES = 64 * 1024
#: A comma between two digits (``3,5``): in a row, the decimal mark of a European locale.
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
_DECIMAL = "decimal comma"


def csv_delimiter(header: bytes, sample: bytes = b"") -> str:
    """The field separator of a CSV file: one of , ; tab |, counted outside quotes.

    Registries exported with a European locale separate fields with ``;`` (the comma being their
    decimal mark); a value such as ``3,5`` is then not a number and is reported in the error file.
    Their column names may hold commas too (``Albumin, g/dL;KPS``, which Excel does not quote), so
    the header alone can be a tie: a separator that splits every complete line of ``sample`` (the
    first rows) into as many fields as the header wins; among those, or if none, the one the header
    holds most (comma if none). When every row's commas sit between digits (``3,5;70`` under
    ``Albumin, g/dL;KPS``: decimal marks) and another separator splits the rows as well, the comma
    is not the separator.
    """

    def counts(line: str) -> dict[str, int] | None:
        if line.count('"') % 2:  # a quoted field goes on past this line: not a whole record
            return None
        bare = _QUOTED.sub("", line)
        return {d: bare.count(d) for d in CSV_DELIMITERS} | {_DECIMAL: len(_DECIMAL_COMMA.findall(bare))}

    head = counts(header.decode("utf-8", errors="replace")) or {d: 0 for d in CSV_DELIMITERS}
    lines = sample.decode("utf-8", errors="replace").split("\n")[:-1][:50]  # complete lines only
    rows = [c for c in map(counts, lines) if c is not None and any(c[d] for d in CSV_DELIMITERS)]
    consistent = [d for d in CSV_DELIMITERS if head[d] and rows and all(r[d] == head[d] for r in rows)]
    if len(consistent) > 1 and "," in consistent and all(r[_DECIMAL] == r[","] for r in rows):
        consistent.remove(",")  # every comma of every row is a decimal mark
    best = max(consistent or CSV_DELIMITERS, key=lambda d: head[d])
    return best if head[best] else ","


def file_delimiter(path: Path) -> str:
    """:func:`csv_delimiter` of a file, from its header row and the first rows after it."""
    header = _csv_header(path)
    with path.open("rb") as fh:
        fh.seek(len(header))
        sample = fh.read(_DELIMITER_SAMPLE_BYTES)
    return csv_delimiter(header, sample)


def _csv_columns(header: bytes, parse: pacsv.ParseOptions | None = None, delimiter: str = "") -> list[str]:
    parse = parse or pacsv.ParseOptions(delimiter=delimiter or csv_delimiter(header))
    # one line: no thread pool (Arrow's CPU pool started by a mere header check has aborted the
    # process when a refusal exited at once: "terminate called without an active exception")
    single = pacsv.ReadOptions(use_threads=False)
    return list(pacsv.read_csv(io.BytesIO(header), read_options=single, parse_options=parse).column_names)


def read_csv_bytes(data: bytes, header: bytes, null_values: tuple[str, ...], delimiter: str = "") -> pa.Table:
    """Parse CSV text with every column as text (codes like ``01`` keep their zeros).

    Text with quotes is parsed allowing line breaks inside quoted fields (Arrow's reader otherwise
    cuts its blocks at any line break, and a multi-line comment would end the record there).
    """
    parse = pacsv.ParseOptions(delimiter=delimiter or csv_delimiter(header))
    columns = _csv_columns(header, parse)
    if b'"' in data:
        parse = pacsv.ParseOptions(delimiter=parse.delimiter, newlines_in_values=True)
    table = pacsv.read_csv(
        io.BytesIO(header + data),
        parse_options=parse,
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            null_values=list(null_values),
            strings_can_be_null=True,
        ),
    )
    return table


@functools.cache
def _accepted_inputs() -> frozenset[str]:
    return frozenset(accepted_inputs(SPECS))


def _is_input(name: str) -> bool:
    """A column some score reads (``name`` or a score-specific ``score.name``)."""
    inputs = _accepted_inputs()
    return name in inputs or name.split(".", 1)[-1] in inputs


def input_columns(path: Path, fmt: FileFormat) -> list[str]:
    """The input's column names, from the Parquet schema or the CSV header (no rows read).

    Every column needs a name of its own: an empty or repeated name is refused, naming it, since
    the scores read columns by name (which ``kps`` of two would be meant?).
    """
    if fmt is FileFormat.parquet:
        names = list(_parquet_file(path).schema_arrow.names)
    else:
        names = _csv_columns(_csv_header(path), delimiter=file_delimiter(path))
    for i, name in enumerate(names, 1):
        if not name.strip():
            raise InvalidInputError(
                f"input {path}: column {i}",
                name,
                "a column name",
                "the header leaves it empty; name it or remove it",
            )
        first = names.index(name) + 1
        if first < i:
            raise InvalidInputError(
                f"input {path}: column {i}",
                name,
                "a name no other column has",
                f"column {first} has the same name; rename or remove one",
            )
    return names


def check_sources(mapping: CohortMapping, columns: Sequence[str]) -> None:
    """Every column the mapping reads is a column of the file; refused before anything starts.

    Names are matched exactly, so the refusal points at a column whose name differs only in case or
    in spaces around it (``'KARNOFSKY '`` from a spreadsheet), or else the closest names.
    """
    import difflib

    for target, cm in mapping.columns.items():
        if cm.source in columns:
            continue
        key = cm.source.strip().lower()
        alike = [c for c in columns if c.strip().lower() == key]
        if alike:
            hint = "the file has " + ", ".join(repr(c) for c in alike) + " (the name must match exactly)"
        else:
            lowered = {c.strip().lower(): c for c in columns}
            close = [lowered[c] for c in difflib.get_close_matches(key, list(lowered), n=3, cutoff=0.6)]
            shown = ", ".join(repr(c) for c in columns[:10]) + (
                f" ({len(columns)} in all)" if len(columns) > 10 else ""
            )
            hint = (
                "closest: " + ", ".join(repr(c) for c in close) if close else "the file's columns: " + shown
            )
        raise InvalidInputError(
            f"mapping.columns.{target}.from", cm.source, "a column of the input file", hint
        )


SCALAR_CELL = "one value per cell (text, a number or true/false)"


CSV_CELL = "a type a CSV file can hold (text, numbers, true/false, dates and times)"
READABLE = "a type spinemets can read (text, numbers, true/false, dates and times, lists)"


def _holds(t: pa.DataType, test: Callable[[pa.DataType], bool]) -> bool:
    """True when ``t`` or a type nested in it (a list's items, a struct's fields, a map's keys and
    values, a dictionary's values) passes ``test``."""
    if test(t):
        return True
    if pa.types.is_dictionary(t):
        return _holds(t.value_type, test)
    if pa.types.is_map(t):
        return _holds(t.key_type, test) or _holds(t.item_type, test)
    if pa.types.is_struct(t):
        return any(_holds(t.field(i).type, test) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _holds(t.value_type, test)
    return False


def _check_parquet_types(
    path: Path, output: Path, mapping: CohortMapping | None, keep: Sequence[str] | None = None
) -> None:
    """Every column must be one the run can carry to the output; refused before anything starts.

    A column a score reads holds one value per cell. A column carried into a CSV output (every column,
    or those given with ``--keep``) must be one CSV can hold: no lists or structs, no binary, no
    durations (polars' CSV writer refuses them, after the whole file had been scored). Decimals of
    more than 38 digits and intervals cannot be read at all. Each refusal names the column and its
    Arrow type.
    """
    csv_out = file_format(output, allow_duckdb=True) is FileFormat.csv
    for field in _parquet_file(path).schema_arrow:
        t = field.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        where = f"input column {field.name!r}"
        if _holds(t, lambda x: pa.types.is_decimal256(x) or pa.types.is_interval(x)):
            raise InvalidInputError(where, str(t), READABLE, f"convert it or drop the column; in {path}")
        reads = _reads(field.name, mapping)
        nested = pa.types.is_nested(t)
        if nested and reads:
            raise InvalidInputError(where, str(t), SCALAR_CELL, f"a score reads it; in {path}")
        if not csv_out or (keep is not None and field.name not in keep):
            continue
        why = f"a CSV output cannot hold it: write .parquet, or leave it out with --keep; in {path}"
        if nested:
            raise InvalidInputError(where, str(t), SCALAR_CELL, why)
        if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
            raise InvalidInputError(where, str(t), CSV_CELL, why)
        if pa.types.is_duration(t):
            raise InvalidInputError(where, str(t), CSV_CELL, why)


#: How long a ``--scheduler`` may take to answer before the run is refused (Dask's default is 30 s).
SCHEDULER_TIMEOUT_SECONDS = 10
SCHEDULER_ALLOWED = "a Dask scheduler address such as tcp://host:8786"
SCHEDULER_RUNNING = "the address of a running Dask scheduler"
#: Schemes a ``--scheduler`` may use: ``tls://`` needs Dask's TLS settings (``distributed.comm.tls``).
SCHEDULER_SCHEMES = ("tcp", "tls")


def check_scheduler_address(address: str) -> None:
    """Refuse a malformed ``--scheduler`` before any work starts (the address is not contacted).

    Only ``tcp://`` (the scheme of ``dask scheduler``; a bare ``host:port`` means it too) and
    ``tls://``: Dask's other schemes (``inproc``, ``ucx``, ``ws``) cannot reach a separate scheduler
    process here, and ``http://`` is the dashboard, not the scheduler.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in SCHEDULER_SCHEMES:
            raise ValueError(f"{scheme}:// is not a scheduler scheme; use tcp://")
        host, port = parse_host_port(location)
        if not host:
            raise ValueError("no host before the port")
        if not 0 < int(port) < 65536:
            raise ValueError(f"port {port} is not between 1 and 65535")
    except ValueError as exc:
        raise InvalidInputError("--scheduler", address, SCHEDULER_ALLOWED, str(exc)) from None


def probe_scheduler(address: str, timeout: float) -> dict[str, Any]:
    """Ask ``address`` who it is, bounded by ``timeout`` seconds in all (connect, handshake, reply).

    Dask's ``Client`` bounds the connection only: a port where something else listens (a web
    server, a dashboard) accepts the connection and never answers, and the client then waits
    forever; a service that answers with other bytes makes it read a frame "exabytes" long. Either
    is refused here, naming ``--scheduler``, as is the address of a worker instead of the scheduler.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.core import rpc
    from distributed.security import Security

    async def identity() -> dict[str, Any]:
        comm = rpc(address, timeout=timeout, connection_args=Security().get_connection_args("client"))
        try:
            return dict(await asyncio.wait_for(comm.identity(), timeout))
        finally:
            await comm.close_rpc()

    def refuse(hint: str) -> InvalidInputError:
        return InvalidInputError("--scheduler", address, SCHEDULER_RUNNING, hint)

    if address.startswith("tls://") and Security().get_connection_args("client").get("ssl_context") is None:
        raise refuse(
            "tls:// needs Dask's TLS settings (distributed.comm.tls.ca-file, .client.cert, .client.key "
            "in the Dask configuration); none are set"
        )
    with ThreadPoolExecutor(1) as pool:  # a fresh event loop, also under a caller's running one
        try:
            info = pool.submit(asyncio.run, identity()).result()
        except TimeoutError as exc:
            said = str(exc) or "it accepted the connection but said nothing (a web server's port?)"
            raise refuse(f"no answer within {timeout:g} s: {said}") from None
        except OSError as exc:
            raise refuse(f"no answer within {timeout:g} s: {exc}") from None
        except Exception as exc:  # whatever answered is not a Dask scheduler: say so, naming it
            raise refuse(
                f"what answered is not a Dask scheduler: {type(exc).__name__}: {exc}"[:400]
            ) from None
    if info.get("type") != "Scheduler":
        raise refuse(f"it is a Dask {info.get('type', 'service')}, not the scheduler it reports to")
    return info


def _reads(name: str, mapping: CohortMapping | None) -> bool:
    """Whether some score reads input column ``name`` (by its own name, or as a mapped registry column)."""
    return _is_input(name) or (mapping is not None and name in mapping.sources)


def _parquet(path: str | Path) -> pq.ParquetFile:
    """Text inputs are read dictionary-encoded: the scorer takes their codes without hashing text.

    Only columns a score reads: an identifier column would make a dictionary as long as the file.
    """
    schema = pq.ParquetFile(path).schema_arrow
    text = [
        f.name
        for f in schema
        if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)) and _is_input(f.name)
    ]
    return pq.ParquetFile(path, read_dictionary=text)


def _needed_columns(
    path: Path, fmt: FileFormat, keep: Sequence[str] | None, mapping: CohortMapping | None
) -> list[str] | None:
    """With ``--keep``, the Parquet columns worth reading: inputs, mapped sources, kept, ``synthetic``.

    None (read everything) for CSV, without ``--keep``, or when a kept name is not a column of the
    file (the run then reports it exactly as before).
    """
    if keep is None or fmt is not FileFormat.parquet:
        return None
    names = pq.ParquetFile(path).schema_arrow.names
    if any(c not in names for c in keep):
        return None
    wanted = set(keep) | (mapping.sources if mapping is not None else set()) | {SYNTHETIC_COLUMN}
    return [c for c in names if c in wanted or _is_input(c)]


def read_chunk(chunk: Chunk) -> pa.Table:
    if isinstance(chunk, ParquetChunk):
        pf = _parquet(chunk.path)
        if not chunk.row_groups:
            return pf.schema_arrow.empty_table()
        return pf.read_row_groups(list(chunk.row_groups))
    with open(chunk.path, "rb") as fh:
        fh.seek(chunk.start)
        data = fh.read(chunk.end - chunk.start)
    try:
        return read_csv_bytes(data, chunk.header, chunk.null_values, chunk.delimiter)
    except pa.ArrowInvalid as exc:  # the file itself is malformed: say so, with the parser's words
        reason = str(exc)
        if "UTF8" in reason or "UTF-8" in reason:
            raise InvalidInputError("input", chunk.path, UTF8_CSV, _not_utf8_where(chunk, data)) from None
        raise InvalidInputError("input", chunk.path, "a well-formed CSV file", reason[:300]) from None


def _not_utf8_where(chunk: CsvChunk, data: bytes) -> str:
    """Where the text stops being UTF-8: the file's line (header = line 1) and the bytes around it.

    Arrow's own words ("In CSV column #2") count columns from 0 and name no row.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = chunk.start + exc.start
        line = data.count(b"\n", 0, exc.start) + 1
        with open(chunk.path, "rb") as fh:
            for block in iter(lambda: fh.read(min(8 << 20, chunk.start - fh.tell())), b""):
                line += block.count(b"\n")
        begin = data.rfind(b"\n", 0, exc.start) + 1
        around = data[max(begin, exc.start - 20) : exc.start + 20].split(b"\n")[0]
        shown = around.decode("utf-8", errors="backslashreplace")
        return (
            f"line {line} of the file, byte 0x{data[exc.start]:02x} at offset {offset} in '{shown}', is not "
            "UTF-8, perhaps Latin-1 or Windows-1252; save it again as UTF-8"
        )
    return "save it again as UTF-8"  # pragma: no cover - Arrow found a byte Python accepts


def _local_frames(
    path: Path,
    fmt: FileFormat,
    chunk_rows: int,
    null_values: tuple[str, ...],
    columns: list[str] | None = None,
) -> Iterator[pa.Table]:
    """Local streaming: Parquet by record batches (independent of the row-group layout), CSV by byte range."""
    if fmt is FileFormat.parquet:
        pf = _parquet(path)
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns):
            yield pa.Table.from_batches([batch])
        return
    for chunk in csv_chunks(path, null_values):
        yield read_chunk(chunk)


def specs_with_options(options: Mapping[str, str] | None = None) -> dict[str, ScoreSpec]:
    """The catalogue with score options applied (e.g. ``ecog_convention``); unknown options are errors."""
    options = dict(options or {})
    known = {o.name for spec in SPECS.values() for o in spec.options}
    for k, v in options.items():
        if k not in known:
            raise InvalidInputError(
                "--option", f"{k}={v}", "NAME=VALUE with NAME one of " + ", ".join(sorted(known))
            )
    out: dict[str, ScoreSpec] = {}
    for key, spec in SPECS.items():
        given = {k: v for k, v in options.items() if k in spec.option_names}
        out[key] = spec.variant(spec.resolve_options(given)) if given else spec
    return out


def versions() -> tuple[str, str]:
    """This process's spinemets version and score definitions version."""
    from spinemets import __version__

    return __version__, DEFINITIONS_VERSION


def _score_task(
    chunk: Chunk,
    options: Mapping[str, str],
    mapping: CohortMapping | None,
    item_points: bool,
    client_versions: tuple[str, str],
) -> ChunkResult:
    """One Dask task: read a chunk and score it (row numbers are fixed up by the driver).

    A worker whose spinemets or score definitions differ from the client's refuses the task: its
    rows would be scored by other tables than the rest, and the output's metadata would name the
    client's version for all of them. Checked in every task, so a worker that joins mid-run is
    checked too.

    The task carries the input's path, not its rows (the mapping and options travel as data): a
    worker that cannot open the path (no shared storage there, or mounted elsewhere) is named.
    """
    own = versions()
    if own != client_versions:
        raise InvalidInputError(
            f"Dask worker {_worker_name()}",
            f"spinemets {own[0]}, score definitions {own[1]}",
            _client_versions_text(client_versions),
            f"{SAME_VERSION_EVERYWHERE}; a mix would score some rows by other tables",
        )
    try:
        table = read_chunk(chunk)
    except OSError as exc:  # FileNotFoundError, PermissionError, a stale network mount
        raise InvalidInputError(
            "input",
            chunk.path,
            "a file every Dask worker reads under the same path (shared or network storage)",
            f"worker {_worker_name()} cannot open it: {type(exc).__name__}: {exc}"[:400],
        ) from None
    return score_chunk(table, specs_with_options(options), mapping, 0, item_points)


SAME_VERSION_EVERYWHERE = "install the same spinemets version on the scheduler and every worker"


def _client_versions_text(client: tuple[str, str]) -> str:
    """What a Dask worker must run: the versions of the machine that runs the command."""
    return (
        f"spinemets {client[0]} with score definitions {client[1]}, as on the machine that runs the command"
    )


def _worker_name() -> str:
    """The Dask worker running this task, with its host name (the one to fix), else this host."""
    import socket

    from distributed import get_worker

    try:
        address = get_worker().address
    except ValueError:  # not inside a worker
        return socket.gethostname()
    return f"{address} on host {socket.gethostname()}"


# ---- writers -----------------------------------------------------------------------------------------


def write_tables(
    tables: Iterator[pa.Table], path: Path, synthetic: bool, duckdb_table: str = DEFAULT_DUCKDB_TABLE
) -> None:
    """Write scored chunks, in order, to a CSV or Parquet file or a DuckDB table.

    CSV and Parquet stream through polars' sink (``register_io_source``): encoding, parallel inside
    polars, overlaps the scoring of the next chunk, and memory stays bounded by a few chunks. Parquet
    carries the definitions version and the synthetic flag as key-value metadata (no column
    statistics: on the ~100 score columns they cost a quarter of the write and never prune). The file
    is written beside ``path`` and moved into place only when complete, so a failed run leaves neither
    a truncated output nor a lost previous one. An error raised while producing the chunks reaches
    the caller as raised.
    """
    first = next(tables, None)
    if first is None:
        raise ValueError("write_tables needs at least one table (an empty one gives the columns)")
    if file_format(path, allow_duckdb=True) is FileFormat.duckdb:
        _write_duckdb(itertools.chain([first], tables), path, synthetic, duckdb_table_name(duckdb_table))
        return
    from polars.io.plugins import register_io_source

    head = _to_frame(first)
    schema = head.schema
    failure: list[BaseException] = []
    interrupted = _CtrlCHeld()

    def frames() -> Iterator[pl.DataFrame]:
        yield head
        try:
            for table in tables:
                if interrupted():
                    raise KeyboardInterrupt
                frame = _to_frame(table)
                yield frame if frame.schema == schema else frame.cast(schema)
        except BaseException as exc:  # polars would wrap it; keep it for the caller
            failure.append(exc)
            raise

    def source(
        with_columns: list[str] | None, predicate: Any, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        for frame in frames():
            yield frame if with_columns is None else frame.select(with_columns)

    # The file is written in a hidden folder of its own beside ``path``: when a chunk fails, polars
    # may still be opening the file on one of its threads after the error reached us, so a file
    # removed at once could appear again (7% of failed runs under load); removing the folder means
    # a late open fails instead of leaving a file behind.
    workdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    partial = workdir / path.name
    lazy = register_io_source(source, schema=schema, explain_name="spinemets scored chunks")
    with interrupted:  # a Ctrl-C stops the sink at the next chunk
        try:
            if file_format(path) is FileFormat.csv:
                lazy.sink_csv(partial)
            else:
                meta = {
                    META_VERSION.decode(): DEFINITIONS_VERSION,
                    META_SYNTHETIC.decode(): "true" if synthetic else "false",
                }
                lazy.sink_parquet(partial, compression="snappy", statistics=False, metadata=meta)
            if interrupted():  # after the last chunk: the file is complete, but the run was stopped
                raise KeyboardInterrupt
        except BaseException:
            _remove_folder(workdir)
            if failure:
                raise failure[0] from None
            raise
        partial.replace(path)
        workdir.rmdir()


def _remove_folder(folder: Path, attempts: int = 100) -> None:
    """Remove ``folder`` and what is in it, again while a late writer re-creates a file in it (until
    the folder itself is gone, nothing can be written there)."""
    for _ in range(attempts):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.01)


def _to_frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    if not isinstance(frame, pl.DataFrame):  # pragma: no cover - a table gives a frame
        raise TypeError("expected a table")
    return frame


def _write_duckdb(tables: Iterator[pa.Table], path: Path, synthetic: bool, table_name: str) -> None:
    """Register each chunk (Arrow, no copy) and INSERT it; the first chunk (re)creates the table.

    DuckDB reads dictionary-encoded Arrow columns as their values (VARCHAR), so chunks whose
    dictionaries differ append to the same columns. Other tables of the database are left alone.
    Everything (table, rows, metadata, comment) is one transaction: a failed or interrupted run
    rolls back and leaves the previous table and its metadata as they were. A Ctrl-C is taken
    between chunks (the insert running finishes first) and re-raised as KeyboardInterrupt.
    """
    try:
        import duckdb
    except ImportError:  # pragma: no cover - depends on the installed extras
        from spinemets.errors import MissingExtraError

        raise MissingExtraError("cohort score -o .duckdb", "cohort") from None
    name = f'"{table_name}"'
    db = duckdb.connect(str(path))
    try:
        db.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        db.begin()
        with _CtrlCHeld() as interrupted:
            _insert_duckdb(db, tables, synthetic, table_name, name, interrupted)
            db.commit()
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            db.rollback()
        raise
    finally:
        db.close()


class _CtrlCHeld:
    """Hold back Ctrl-C inside a ``with`` block; calling the object says whether one came.

    For steps that must not be cut mid-way: a DuckDB statement (DuckDB turns a signal inside a
    statement into a generic RuntimeError, "Query interrupted") and polars' sink (which keeps
    re-raising a Ctrl-C as it unwinds). The writers check between chunks and raise
    KeyboardInterrupt themselves. Only the main thread may set a signal handler; elsewhere Ctrl-C
    behaves as usual.
    """

    def __init__(self) -> None:
        self._seen = False
        self._previous: Any = None
        self._active = False

    def __call__(self) -> bool:
        return self._seen

    def _note(self, signum: int, frame: Any) -> None:
        self._seen = True

    def __enter__(self) -> _CtrlCHeld:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)
            self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._active:
            signal.signal(signal.SIGINT, self._previous)
            self._active = False


def _insert_duckdb(
    db: Any,
    tables: Iterator[pa.Table],
    synthetic: bool,
    table_name: str,
    name: str,
    interrupted: Callable[[], bool],
) -> None:
    """Every statement of a DuckDB write, run inside the caller's transaction."""
    for i, table in enumerate(tables):
        if interrupted():
            raise KeyboardInterrupt
        db.register("__spinemets_chunk", table)
        if i == 0:
            db.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM __spinemets_chunk")
        else:
            db.execute(f"INSERT INTO {name} BY NAME SELECT * FROM __spinemets_chunk")
        db.unregister("__spinemets_chunk")
    meta = DUCKDB_METADATA_TABLE
    db.execute(f"CREATE TABLE IF NOT EXISTS {meta} (table_name VARCHAR, key VARCHAR, value VARCHAR)")
    db.execute(f"DELETE FROM {meta} WHERE table_name = ?", [table_name])
    db.executemany(
        f"INSERT INTO {meta} VALUES (?, ?, ?)",
        [
            [table_name, "definitions_version", DEFINITIONS_VERSION],
            [table_name, "synthetic", "true" if synthetic else "false"],
        ],
    )
    label = "SYNTHETIC DATA, not patients; " if synthetic else ""
    comment = f"{label}scored by spinemets, score definitions {DEFINITIONS_VERSION}".replace("'", "")
    db.execute(f"COMMENT ON TABLE {name} IS '{comment}'")
    if interrupted():
        raise KeyboardInterrupt


def is_score_column(name: str) -> bool:
    """A column `cohort score` adds (a score's total, band, range, ... or the definitions version)."""
    return name == VERSION_COLUMN or any(name.startswith(f"{k}_") for k in SPECS)


def _is_synthetic(path: Path, fmt: FileFormat, first: pa.Table | None) -> bool:
    if fmt is FileFormat.parquet and parquet_metadata(path).get(META_SYNTHETIC) == b"true":
        return True
    if first is not None and SYNTHETIC_COLUMN in first.column_names and first.num_rows:
        return str(first.column(SYNTHETIC_COLUMN)[0].as_py()).lower() == "true"
    return False


def _progress(total: int, enabled: bool) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A rich progress bar on a terminal (rows done / total rows); silent otherwise."""
    if not (enabled and sys.stderr.isatty()):
        return (lambda n: None), (lambda: None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("scoring"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} rows"),
        TimeRemainingColumn(),
        transient=True,
    )
    task = bar.add_task("score", total=total or None)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop


def _count_rows(path: Path, fmt: FileFormat) -> int:
    if fmt is FileFormat.parquet:
        return int(pq.ParquetFile(path).metadata.num_rows)
    return 0


def score_file(
    input: Path,
    output: Path,
    *,
    mapping: CohortMapping | None = None,
    errors: Path | None = None,
    engine: Engine = Engine.local,
    scheduler: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    item_points: bool = False,
    options: Mapping[str, str] | None = None,
    keep: Sequence[str] | None = None,
    progress: bool = True,
    client: Any = None,
    duckdb_table: str = DEFAULT_DUCKDB_TABLE,
) -> RunSummary:
    """Score every row of ``input`` with every score and write ``output``, the error file and a summary.

    Args:
        mapping: registry column/code mapping (None: columns are already named as spinemets inputs).
        errors: error file (CSV or Parquet); default ``<output stem>.errors.csv`` beside the output.
        engine: ``local`` (this process) or ``dask`` (``scheduler`` address, or a LocalCluster).
        chunk_rows: rows per chunk (Parquet); CSV chunks are about 32 MiB of text.
        options: score options, e.g. ``{"ecog_convention": "alternative"}``.
        keep: input columns to carry into the output (default: all); e.g. only the patient id, so
            the scored file holds no more of the registry than needed.
        client: an existing ``dask.distributed.Client`` (tests), instead of ``scheduler``.
        duckdb_table: with a ``.duckdb`` output, the table written (replaced if it exists).
    """
    if not input.exists():
        raise InvalidInputError("input", str(input), "an existing .csv or .parquet file")
    # Every refusal that needs no rows comes first, before a reader or thread pool starts.
    fmt = file_format(input)
    if file_format(output, allow_duckdb=True) is FileFormat.duckdb:
        duckdb_table_name(duckdb_table)
    errors = errors or output.with_name(output.stem + ".errors.csv")
    file_format(errors)
    check_outputs({"--output": output, "--errors": errors}, input)
    if scheduler is not None and engine is not Engine.dask:
        # the run would score here and say so only at the end
        raise InvalidInputError("--scheduler", scheduler, "given only with --engine dask")
    if engine is Engine.dask and scheduler and client is None:
        check_scheduler_address(scheduler)
    columns = input_columns(input, fmt)
    if mapping is not None:
        check_sources(mapping, columns)
    if fmt is FileFormat.parquet:
        _check_parquet_types(input, output, mapping, keep)
    use_specs = specs_with_options(options)
    null_values = mapping.null_values if mapping is not None else DEFAULT_NULL_VALUES
    start = time.perf_counter()
    advance, stop = _progress(_count_rows(input, fmt), progress)
    sink = _ErrorSink(errors)
    counts = {"rows": 0, "chunks": 0}
    not_computed = dict.fromkeys(use_specs, 0)
    results = (
        _run_dask(
            input, fmt, chunk_rows, null_values, dict(options or {}), mapping, item_points, scheduler, client
        )
        if engine is Engine.dask
        else _run_local(
            input,
            fmt,
            chunk_rows,
            null_values,
            use_specs,
            mapping,
            item_points,
            _needed_columns(input, fmt, keep, mapping),
        )
    )

    # Read from the first chunk as it came, before ``keep``: a synthetic file stays labelled when its
    # ``synthetic`` column is left out. A CSV has no file metadata, so there the flag travels as the
    # column itself, kept (or added) in every chunk.
    synthetic: bool | None = None
    csv_out = file_format(output, allow_duckdb=True) is FileFormat.csv

    def tables() -> Generator[pa.Table, None, None]:
        """The scored chunks in file order, counting rows and gathering errors on the way."""
        nonlocal synthetic
        for res in results:
            table = res.table
            if synthetic is None:
                synthetic = _is_synthetic(input, fmt, table.slice(0, 1))
            if keep is not None:
                absent = [c for c in keep if c not in table.column_names]
                if absent:
                    raise InvalidInputError(
                        "--keep", absent[0], "a column of the input: " + ", ".join(table.column_names)
                    )
                flag = synthetic and csv_out
                kept = set(keep) | ({SYNTHETIC_COLUMN} if flag else set())
                table = table.select([c for c in table.column_names if c in kept or is_score_column(c)])
                if flag and SYNTHETIC_COLUMN not in table.column_names:
                    n = table.num_rows  # built from numpy: pa.repeat(True, n) imports pandas
                    table = table.add_column(0, SYNTHETIC_COLUMN, bool_column(np.ones(n, bool), (None, 0)))
            if res.errors.height:
                sink.add(res.errors.with_columns(pl.col("row") + counts["rows"]))
            for k in not_computed:
                not_computed[k] += int(pc.sum(res.table.column(f"{k}_input_error")).as_py() or 0)
            counts["rows"] += res.rows
            counts["chunks"] += 1
            advance(res.rows)
            yield table

    scored = tables()
    try:
        first = next(scored, None)
        if first is None:  # no rows: write the columns only
            first = score_chunk(read_chunk(_first_chunk(input, fmt, null_values)), use_specs, mapping).table
        if synthetic is None:  # no rows
            synthetic = _is_synthetic(input, fmt, first)
        write_tables(itertools.chain([first], scored), output, synthetic, duckdb_table)
        sink.finish()
    except KeyboardInterrupt:  # every writer leaves the output as it was: say so
        sink.discard()
        raise Interrupted(str(output)) from None
    except BaseException:
        sink.discard()
        raise
    finally:
        stop()
        scored.close()
    rows, chunks = counts["rows"], counts["chunks"]
    seconds = time.perf_counter() - start
    summary = RunSummary(
        input=str(input),
        output=str(output),
        errors_file=str(errors),
        engine=engine,
        synthetic=synthetic,
        scores=tuple(use_specs),
        rows=rows,
        chunks=chunks,
        seconds=round(seconds, 3),
        rows_per_second=round(rows / seconds, 1) if seconds > 0 else 0.0,
        error_count=sink.lines,
        invalid_values=sink.cells,
        rows_with_errors=sink.rows,
        errors_by_column=dict(sorted(sink.by_column.items())),
        scores_not_computed=not_computed,
        columns_read=tuple(c for c in columns if _reads(c, mapping)),
        columns_not_read=tuple(c for c in columns if c != SYNTHETIC_COLUMN and not _reads(c, mapping)),
    )
    write_summary(output, summary)
    return summary


def write_summary(output: Path, summary: BaseModel) -> None:
    """A run's summary beside its output (``<output stem>.summary.json``), written whole or not at all."""
    text = json.dumps(summary.model_dump(mode="json"), indent=2)
    write_output("--output", output.with_name(output.stem + ".summary.json"), text)


class _ErrorSink:
    """The error file, written chunk by chunk as the run goes (memory stays bounded when every row has
    an error) beside its path and moved into place when the run completes; counted on the way.

    Chunks hold disjoint rows, so distinct rows and cells add up over chunks.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        self.parquet = file_format(path) is FileFormat.parquet
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._fh: Any = None
        self.lines = self.rows = self.cells = 0
        self.by_column: dict[str, int] = {}

    def add(self, errors: pl.DataFrame) -> None:
        self.lines += errors.height
        self.rows += errors["row"].n_unique()
        cells = errors.unique(["row", "column"])
        self.cells += cells.height
        for column, n in cells.group_by("column").len().iter_rows():
            self.by_column[column] = self.by_column.get(column, 0) + n
        self._write(errors)

    def _write(self, errors: pl.DataFrame) -> None:
        if self.parquet:
            table = errors.to_arrow()
            if self._writer is None:
                self._schema = table.schema
                self._writer = pq.ParquetWriter(self.partial, table.schema)
            self._writer.write_table(table.cast(self._schema))
            return
        header = self._fh is None
        if self._fh is None:
            self._fh = open(self.partial, "wb")  # noqa: SIM115 - closed in finish or discard
        errors.write_csv(self._fh, include_header=header)

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def finish(self) -> None:
        if self._writer is None and self._fh is None:  # no error: the file holds the columns only
            self._write(pl.DataFrame(schema=ERROR_SCHEMA))
        self._close()
        self.partial.replace(self.path)

    def discard(self) -> None:
        self._close()
        self.partial.unlink(missing_ok=True)


def _first_chunk(path: Path, fmt: FileFormat, null_values: tuple[str, ...]) -> Chunk:
    if fmt is FileFormat.parquet:
        return ParquetChunk(str(path), (), 0)
    header = _csv_header(path)
    return CsvChunk(str(path), len(header), len(header), header, null_values, file_delimiter(path))


def _run_local(
    path: Path,
    fmt: FileFormat,
    chunk_rows: int,
    null_values: tuple[str, ...],
    specs: Mapping[str, ScoreSpec],
    mapping: CohortMapping | None,
    item_points: bool,
    columns: list[str] | None = None,
) -> Iterator[ChunkResult]:
    cache = FastCache()
    yield from _prefetched(
        score_chunk(frame, specs, mapping, 0, item_points, cache=cache)
        for frame in _prefetched(_local_frames(path, fmt, chunk_rows, null_values, columns))
    )


def _prefetched(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Run ``items`` one step ahead in a thread, so reading, scoring and writing overlap on two cores.

    Arrow, polars and numpy release the GIL in their kernels, which is where the time goes.
    """
    import queue
    import threading

    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(("item", item))
            q.put(("done", None))
        except BaseException as exc:  # handed to the consumer, re-raised there
            q.put(("error", exc))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        # closed by garbage collection on its own worker (a run stopped inside polars' sink): that
        # thread ends on its own once it sees ``stop``; it cannot join itself
        while thread.is_alive() and thread is not threading.current_thread():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


ANY_FREE_PORT = ":0"
"""Where a LocalCluster's scheduler serves HTTP: a port the system picks. ``dashboard_address=None``
still binds port 8787 and warns when something else holds it (another cluster, another run): the run
printed the warning, and in the test suite, where warnings are errors, the cluster did not start."""

#: How long a Dask run waits while its scheduler has no worker (none started, or all lost) before
#: it stops; a worker that is lost while others remain is not waited for (Dask reruns its tasks).
NO_WORKER_SECONDS = 60


def _result(client: Any, future: Any) -> ChunkResult:
    """A task's result; refused, naming ``--scheduler``, once the scheduler has had no worker for
    :data:`NO_WORKER_SECONDS` (Dask itself would wait for one forever)."""
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    address = client.scheduler.address
    alone_since: float | None = None
    while True:
        try:
            return future.result(timeout=1)
        except TimeoutError:
            pass
        except (FutureCancelledError, OSError) as exc:  # the scheduler went away (or restarted) mid-run
            raise _scheduler_lost(address, exc) from None
        except TypeError as exc:
            if "_score_task()" not in str(exc):
                raise
            # a worker whose spinemets predates the version check takes other task arguments
            raise InvalidInputError(
                "--scheduler",
                address,
                f"a Dask cluster whose workers run {_client_versions_text(versions())}",
                f"a worker runs another spinemets version ({exc}); {SAME_VERSION_EVERYWHERE}",
            ) from None
        except KilledWorker as exc:
            raise InvalidInputError(
                "--scheduler",
                address,
                "a Dask cluster whose workers outlive the run",
                "every worker that ran one chunk died (out of memory? lower --chunk-rows or give the "
                f"workers more memory; their logs say why); the output is left as it was: {exc}"[:600],
            ) from None
        try:
            workers = len(client.nthreads())
        except Exception as exc:
            if client.status == "running" and not isinstance(exc, OSError):
                raise
            # reconnecting or closed: the scheduler is gone (Dask's own errors then vary)
            raise _scheduler_lost(address, exc) from None
        if workers:
            alone_since = None
            continue
        alone_since = alone_since or time.monotonic()
        if time.monotonic() - alone_since >= NO_WORKER_SECONDS:
            raise InvalidInputError(
                "--scheduler",
                address,
                "a Dask scheduler with at least one worker",
                f"it has had none for {NO_WORKER_SECONDS} s (none started, or every one was lost "
                "mid-run); start `dask worker` on the cluster's machines; the output is left as it was",
            )


def _scheduler_lost(address: str, exc: BaseException) -> InvalidInputError:
    """The scheduler stopped, restarted or was cut off mid-run (Dask cancels the tasks or the
    connection closes)."""
    said = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
    return InvalidInputError(
        "--scheduler",
        address,
        SCHEDULER_RUNNING,
        f"the connection to it was lost mid-run ({said}"[:400] + "); the output is left as it was",
    )


def _run_dask(
    path: Path,
    fmt: FileFormat,
    chunk_rows: int,
    null_values: tuple[str, ...],
    options: Mapping[str, str],
    mapping: CohortMapping | None,
    item_points: bool,
    scheduler: str | None,
    client: Any,
) -> Iterator[ChunkResult]:
    """One task per chunk on a dask.distributed cluster; results come back and are written in file order.

    Workers read the file themselves, so on a real cluster the path must be visible to every worker
    (shared or network storage) and spinemets must be installed on the workers. The path is made
    absolute here: a relative one would be read from each worker's own working directory.
    """
    path = path.absolute()
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - depends on the installed extras
        from spinemets.errors import MissingExtraError

        raise MissingExtraError("cohort --engine dask", "cohort") from None
    chunks: list[Chunk] = (
        list(parquet_chunks(path, chunk_rows))
        if fmt is FileFormat.parquet
        else list(csv_chunks(path, null_values))
    )
    own_cluster = None
    own_client = None
    if client is None:
        if scheduler:
            probe_scheduler(scheduler, SCHEDULER_TIMEOUT_SECONDS)
            try:
                own_client = Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_SECONDS}s")
            except (OSError, TimeoutError) as exc:
                raise InvalidInputError(
                    "--scheduler",
                    scheduler,
                    SCHEDULER_RUNNING,
                    f"no answer within {SCHEDULER_TIMEOUT_SECONDS} s: {exc}",
                ) from None
        else:
            own_cluster = LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=ANY_FREE_PORT
            )
            own_client = Client(own_cluster)
        client = own_client
    try:
        mine = versions()
        window = max(2, 2 * len(client.scheduler_info().get("workers", {})) or 2)
        pending: list[Any] = []
        queue = iter(chunks)
        for chunk in queue:
            pending.append(client.submit(_score_task, chunk, options, mapping, item_points, mine, pure=False))
            if len(pending) >= window:
                yield _result(client, pending.pop(0))
        for fut in pending:
            yield _result(client, fut)
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
