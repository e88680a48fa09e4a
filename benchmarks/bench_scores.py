"""Scoring latency, in-process: calculator mode (one score from items) and a full patient (every score).

10,000 random but valid patients (seeded) are built first; the timed part is scoring only. Prints
p50 / p99 per call in microseconds. Target: a full patient's scores under 200 microseconds p50.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from spinemets.model import Patient
from spinemets.model.enums import (
    Alignment,
    Ambulatory,
    BoneLesion,
    Collapse,
    EsccGrade,
    Frankel,
    Histology,
    PainType,
    Posterolateral,
    VisceralMetastases,
)
from spinemets.model.levels import LEVELS
from spinemets.scores import score, score_all
from spinemets.scores.engine import clear_item_caches

N = 10_000
SEED = 20261121


def _maybe(rng: random.Random, value: Any, p_missing: float = 0.15) -> Any:
    return None if rng.random() < p_missing else value


def random_patient(rng: random.Random) -> Patient:
    """A valid patient with 1-3 lesions and about 15% of each fact missing."""
    spinal = [lv for lv in LEVELS if lv not in ("C0", "Co")]
    lesions = []
    for _ in range(rng.randint(1, 3)):
        lesions.append(
            {
                "level": rng.choice(spinal),
                "bone_lesion": _maybe(rng, rng.choice(list(BoneLesion)).value),
                "collapse": _maybe(rng, rng.choice(list(Collapse)).value),
                "alignment": _maybe(rng, rng.choice(list(Alignment)).value),
                "posterolateral": _maybe(rng, rng.choice(list(Posterolateral)).value),
                "escc": _maybe(rng, rng.choice(list(EsccGrade)).value),
            }
        )
    histology = rng.choice([h for h in Histology if h is not Histology.other]).value
    data = {
        "primary": {"histology": _maybe(rng, histology)},
        "performance": {"kps": _maybe(rng, rng.choice(range(10, 101, 10)))},
        "neurology": {
            "frankel": _maybe(rng, rng.choice(list(Frankel)).value),
            "ambulatory": _maybe(rng, rng.choice(list(Ambulatory)).value),
        },
        "pain": {"type": _maybe(rng, rng.choice(list(PainType)).value)},
        "lesions": lesions,
        "burden": {
            "extraspinal_bone_metastases": _maybe(rng, rng.randint(0, 6)),
            "vertebrae_involved": _maybe(rng, rng.randint(len(lesions), 6)),
            "visceral_metastases": _maybe(rng, rng.choice(list(VisceralMetastases)).value),
            "pathological_fracture_elsewhere": _maybe(rng, rng.random() < 0.3),
        },
        "labs": {"albumin": _maybe(rng, {"value": round(rng.uniform(20, 50), 1), "unit": "g/L"})},
    }
    return Patient.model_validate(data)


def random_items(rng: random.Random) -> dict[str, Any]:
    """Calculator-mode SINS items, raw level included."""
    return {
        "level": rng.choice([lv for lv in LEVELS if lv != "Co"]),
        "pain": rng.choice(list(PainType)).value,
        "bone_lesion": rng.choice(list(BoneLesion)).value,
        "alignment": rng.choice(list(Alignment)).value,
        "vertebral_body_collapse": rng.choice(list(Collapse)).value,
        "posterolateral_involvement": rng.choice(list(Posterolateral)).value,
    }


def _time(fn: Callable[[Any], Any], cases: list[Any]) -> list[float]:
    for case in cases[:200]:  # warm caches (compiled tables)
        fn(case)
    gc.collect()
    gc.freeze()  # the 10,000 pre-built inputs are not garbage; keep full collections from rescanning them
    out: list[float] = []
    clock = time.perf_counter_ns
    for case in cases:
        t0 = clock()
        fn(case)
        out.append((clock() - t0) / 1000.0)
    return out


def _report(label: str, samples: list[float]) -> float:
    q = statistics.quantiles(samples, n=100)
    p50, p99 = statistics.median(samples), q[98]
    print(f"{label:<44} p50 {p50:8.1f} us   p99 {p99:8.1f} us   (n={len(samples)})")
    return p50


def main() -> None:
    rng = random.Random(SEED)
    patients = [random_patient(rng) for _ in range(N)]
    items = [random_items(rng) for _ in range(N)]
    tok = [
        {
            "kps": rng.choice(range(10, 101, 10)),
            "extraspinal_bone_metastases": rng.randint(0, 5),
            "vertebral_body_metastases": rng.randint(1, 5),
            "visceral_metastases": rng.choice(list(VisceralMetastases)).value,
            "primary": rng.choice(list(Histology)).value,
            "frankel": rng.choice(list(Frankel)).value,
        }
        for _ in range(N)
    ]
    _report("calculator: sins (6 items, level raw)", _time(lambda c: score("sins", c), items))
    _report("calculator: tokuhashi_revised (raw values)", _time(lambda c: score("tokuhashi_revised", c), tok))
    p50 = _report("full patient: score_all (10 scores)", _time(score_all, patients))

    def uncached(p: Patient) -> None:
        clear_item_caches()
        score_all(p)

    _report("full patient, item caches cleared per call", _time(uncached, patients[:2000]))
    verdict = "meets" if p50 < 200 else "MISSES"
    print(f"full-patient p50 {p50:.1f} us {verdict} the 200 us target")


if __name__ == "__main__":
    main()
