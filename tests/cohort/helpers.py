"""Shared helpers for the cohort tests: random calculator inputs drawn from the score tables themselves."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from spinemets.errors import InvalidInputError
from spinemets.scores import SPECS, score
from spinemets.scores.engine import Bins, Lookup, ScoreResult, ScoreSpec, Subscore

INVALID_TEXT = ("zzz", "", " ", "-1", "999", "7.5", "nan", "1e3")


def _valid_values(spec: ScoreSpec, name: str) -> list[Any]:
    """Values that some table of ``spec`` accepts for input ``name`` (plus boundaries of bins)."""
    out: list[Any] = []

    def walk(defn: Any) -> None:
        for it in defn.items:
            if it.key == name:
                out.extend(c.key for c in it.categories)
                out.extend(c.key.upper() for c in it.categories[:1])
            for d in it.derivations:
                if isinstance(d, Subscore):
                    walk(d.definition)
                    if d.input == name:
                        lo, hi = d.definition.range
                        out.extend([lo, hi, (lo + hi) // 2, hi + 1, f" {lo} "])
                    continue
                if d.input != name:
                    continue
                if isinstance(d, Lookup):
                    out.extend(d.table)
                    out.extend(f" {k} " for k in list(d.table)[:2])
                elif isinstance(d, Bins):
                    for lo, hi, _ in d.bins:
                        f = getattr(d, "factor", 1.0)
                        for v in (lo, hi, (lo + min(hi, lo + 10)) / 2):
                            raw = v / f if f not in (0, 1.0) else v
                            out.append(int(raw) if float(raw).is_integer() else round(raw, 3))

    walk(spec.definition)
    return out


def random_inputs(
    rng: random.Random, spec: ScoreSpec, p_missing: float = 0.35, p_invalid: float = 0.04
) -> dict[str, Any]:
    """Calculator inputs for one score: each accepted input missing, valid or (rarely) invalid."""
    row: dict[str, Any] = {}
    for name in spec.definition.accepted_inputs():
        r = rng.random()
        if r < p_missing:
            continue
        if r < p_missing + p_invalid:
            row[name] = rng.choice(INVALID_TEXT)
            continue
        values = _valid_values(spec, name)
        if values:
            row[name] = rng.choice(values)
    return row


def expected_columns(key: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The single-patient result of ``score(key, inputs)`` in the cohort's column layout."""
    try:
        res = score(key, dict(inputs))
    except InvalidInputError:
        return {f"{key}_input_error": True, f"{key}_total": None, f"{key}_min": None}
    return result_columns(key, res)


def result_columns(key: str, res: ScoreResult) -> dict[str, Any]:
    cols = {
        f"{key}_total": res.total,
        f"{key}_min": res.min,
        f"{key}_max": res.max,
        f"{key}_band": res.band.key if res.band is not None else None,
        f"{key}_band_determined": res.band_determined,
        f"{key}_possible_bands": " | ".join(res.possible_bands),
        f"{key}_missing": ";".join(res.missing),
        f"{key}_input_error": False,
    }
    if res.kind.value != "additive":
        cols[f"{key}_grade"] = res.grade
    return cols


ALL_KEYS = tuple(SPECS)
