"""Single-patient ``spinemets.assess`` latency (scores + plan), p50/p99 over many varied patients.

Target: p99 under 5 ms in-process. Patients are the shipped examples with facts removed at random
(a fixed seed), so missing-data ranges and "obtain" branches are exercised too.
"""

from __future__ import annotations

import copy
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from spinemets import assess
from spinemets.model.validation import parse_patient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEEP = {"level", "histology_other", "value", "unit"}


def _thin(data: Any, rng: random.Random) -> Any:
    if isinstance(data, dict):
        return {k: _thin(v, rng) for k, v in data.items() if k in KEEP or rng.random() > 0.2}
    if isinstance(data, list):
        return [_thin(v, rng) for v in data]
    return data


def _patients(n: int, seed: int = 20261120) -> list[Any]:
    rng = random.Random(seed)
    base = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]
    return [parse_patient(_thin(copy.deepcopy(rng.choice(base)), rng)) for _ in range(n)]


def main() -> None:
    patients = _patients(2000)
    for p in patients[:50]:  # warm caches (YAML content, bibliography, templates)
        assess(p)
    wall: list[float] = []
    cpu: list[float] = []
    for p in patients:
        w0, c0 = time.perf_counter(), time.thread_time()
        assess(p)
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    for name, times in (("wall-clock", wall), ("thread CPU", cpu)):
        times.sort()
        p50 = statistics.median(times)
        p99 = times[int(len(times) * 0.99) - 1]
        status = "OK" if p99 < 5 else "ABOVE TARGET"
        print(
            f"assess (scores + plan), {len(times)} patients, {name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
            f"max {times[-1]:.2f} ms; target p99 < 5 ms: {status}"
        )
    print("(wall-clock includes time the process waits for a CPU on a busy machine; thread CPU does not)")


if __name__ == "__main__":
    main()
