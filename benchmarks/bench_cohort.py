"""Cohort scoring benchmark: 1,000,000 SYNTHETIC patients, every score, Parquet in and out.

Prints rows/s, wall time and peak memory (each run in its own process, peak RSS read from
``resource``; the 1M case three times, ``SPINEMETS_BENCH_RUNS``, and the median), and the ratio against the single-patient path called row by row on a sample
(extrapolated to the same number of rows). Set ``SPINEMETS_BENCH_10M=1`` to also stream
10,000,000 rows and print the peak memory of that run.

Targets on a 2-core machine: >= 1,000,000 rows/s end to end, >= 100x row by row, < 2 GiB peak
for 10,000,000 rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from spinemets.cohort.run import score_file
src, out = Path(sys.argv[1]), Path(sys.argv[2])
keep = sys.argv[3].split(",") if len(sys.argv) > 3 else None
start, cpu_start = time.perf_counter(), time.process_time()
s = score_file(src, out, progress=False, keep=keep)
wall, run_cpu = time.perf_counter() - start, time.process_time() - cpu_start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rows": s.rows, "wall": wall, "peak_mib": usage.ru_maxrss / 1024, "chunks": s.chunks,
                  "errors": s.error_count, "cpu": usage.ru_utime + usage.ru_stime, "run_cpu": run_cpu}))
"""


#: Timed runs of the 1M case (separate processes); the median is the figure (shared, noisy machines).
RUNS = int(os.environ.get("SPINEMETS_BENCH_RUNS", "3"))


def _write_synthetic(path: Path, rows: int, batch: int = 1_000_000) -> None:
    """Write ``rows`` synthetic patients in batches (never the whole cohort in memory)."""
    import pyarrow.parquet as pq

    from spinemets.cohort.run import META_SYNTHETIC
    from spinemets.cohort.synth import synth_frame

    writer = None
    done = 0
    seed = 0
    while done < rows:
        n = min(batch, rows - done)
        table = synth_frame(n, seed=seed).to_arrow()
        if writer is None:
            schema = table.schema.with_metadata({META_SYNTHETIC: b"true"})
            writer = pq.ParquetWriter(path, schema, compression="snappy")
        writer.write_table(table.cast(schema), row_group_size=250_000)
        done += n
        seed += 1
    if writer is not None:
        writer.close()


def _write_synthetic_in_child(path: Path, rows: int) -> None:
    """The input is written by a separate process: the harness itself stays small, so the timed
    children run beside an idle parent rather than one holding a million-row frame."""
    code = (
        "import sys; from pathlib import Path; from benchmarks.bench_cohort import _write_synthetic; "
        "_write_synthetic(Path(sys.argv[1]), int(sys.argv[2]))"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code, str(path), str(rows)], check=True, cwd=root)


def _score_in_child(src: Path, out: Path, keep: str | None = None) -> dict[str, float]:
    args = [sys.executable, "-c", _CHILD, str(src), str(out), *([keep] if keep else [])]
    proc = subprocess.run(args, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _row_by_row_seconds_per_row(src: Path, sample: int = 2000) -> float:
    """Seconds per row for ``spinemets.score`` on every score, row by row (calculator mode)."""
    import polars as pl

    from spinemets.scores import SPECS, score

    df = pl.read_parquet(src, n_rows=sample)
    accepted = {k: set(s.definition.accepted_inputs()) for k, s in SPECS.items()}
    rows = df.to_dicts()
    start = time.perf_counter()
    for row in rows:
        for key, names in accepted.items():
            score(key, {k: v for k, v in row.items() if k in names and v is not None})
    return (time.perf_counter() - start) / len(rows)


def _report(label: str, r: dict[str, float]) -> None:
    print(
        f"{label}: {int(r['rows']):,} rows in {r['wall']:.2f} s = {r['rows'] / r['wall']:,.0f} rows/s "
        f"end to end (Parquet in and out, {int(r['chunks'])} chunks); peak memory {r['peak_mib']:,.0f} MiB; "
        f"{r['cpu']:.2f} CPU-s in the scoring process (incl. imports) = {r['rows'] / r['cpu']:,.0f} rows per CPU-second; "
        f"score_file alone {r['run_cpu']:.2f} CPU-s (process_time, all threads) = "
        f"{r['run_cpu'] / r['rows'] * 1e6:.2f} CPU-s per million rows"
    )


def main() -> None:
    from spinemets.scores import SPECS

    print(f"SYNTHETIC data; {len(SPECS)} scores: {', '.join(SPECS)}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src = d / "synthetic_1m.parquet"
        _write_synthetic_in_child(src, 1_000_000)
        runs = [_score_in_child(src, d / "scored_1m.parquet") for _ in range(RUNS)]
        for i, run in enumerate(runs, start=1):
            _report(f"1M run {i}/{RUNS}", run)
        r = sorted(runs, key=lambda x: x["wall"])[len(runs) // 2]
        print(f"1M median of {RUNS} runs: {r['rows'] / r['wall']:,.0f} rows/s end to end ({r['wall']:.2f} s)")
        lean = _score_in_child(src, d / "scored_1m_lean.parquet", keep="patient_id")
        _report("1M, output = patient_id + scores (--keep patient_id)", lean)
        # Like the 1M case, the row-by-row figure is the median of RUNS passes over the sample.
        per_row = sorted(_row_by_row_seconds_per_row(src) for _ in range(RUNS))[RUNS // 2]
        extrapolated = per_row * r["rows"]
        print(
            f"row by row (spinemets.score per score, 2,000-row sample, median of {RUNS} passes): "
            f"{per_row * 1e6:,.0f} us/row, "
            f"{extrapolated:,.0f} s extrapolated to {int(r['rows']):,} rows; "
            f"cohort path (median run) is {extrapolated / r['wall']:,.0f}x faster"
        )
        if os.environ.get("SPINEMETS_BENCH_10M") == "1":
            big = d / "synthetic_10m.parquet"
            _write_synthetic_in_child(big, 10_000_000)
            src.unlink()
            r10 = _score_in_child(big, d / "scored_10m.parquet")
            _report("10M (streaming)", r10)
            print(f"10M peak memory {r10['peak_mib'] / 1024:.2f} GiB (target < 2 GiB)")
        else:
            print("(10M streaming run skipped; set SPINEMETS_BENCH_10M=1)")


if __name__ == "__main__":
    main()
