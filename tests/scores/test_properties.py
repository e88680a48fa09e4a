"""Hypothesis properties of the missing-data ranges, for every additive score in the catalogue.

For any complete set of categories and any subset of items removed: the total lies in the published
range, the reported range contains the true total, the range narrows as items are added back, a
determined band is the true band, and bands are monotone in the total.
"""

from __future__ import annotations

import random
from typing import Any

from benchmarks.bench_scores import random_patient
from hypothesis import given, settings
from hypothesis import strategies as st

from spinemets.scores import SCORES, ScoreKind, score, score_all

ADDITIVE = sorted(k for k, d in SCORES.items() if d.kind is ScoreKind.additive)


@st.composite
def complete_case(draw: st.DrawFn) -> tuple[str, dict[str, str], list[str]]:
    """A score, a complete assignment of its categories, and an order in which items are revealed."""
    key = draw(st.sampled_from(sorted(SCORES)))
    defn = SCORES[key]
    items = {i.key: draw(st.sampled_from(i.category_keys)) for i in defn.items}
    order = draw(st.permutations([i.key for i in defn.items]))
    return key, items, list(order)


def _true_total(key: str, items: dict[str, str]) -> int:
    """The published total: the sum of item points, at most the score's published ceiling (NESMS 3)."""
    defn = SCORES[key]
    total = sum(defn.item_map[k].points(v) for k, v in items.items())
    return total if defn.ceiling is None else min(total, defn.ceiling)


@settings(max_examples=300, deadline=None)
@given(complete_case())
def test_range_contains_truth_and_narrows_as_items_are_added(
    case: tuple[str, dict[str, str], list[str]],
) -> None:
    key, items, order = case
    defn = SCORES[key]
    truth = _true_total(key, items)
    lo_pub, hi_pub = defn.range
    assert lo_pub <= truth <= hi_pub
    true_band = defn.band_for(truth)
    prev_lo, prev_hi = lo_pub, hi_pub
    for n in range(len(order) + 1):
        known = {k: items[k] for k in order[:n]}
        r = score(key, known)
        assert lo_pub <= r.min <= truth <= r.max <= hi_pub
        assert prev_lo <= r.min and r.max <= prev_hi  # narrows (never widens) as items are added
        prev_lo, prev_hi = r.min, r.max
        assert set(r.missing) <= set(order[n:])
        assert set(r.questions) == set(r.missing)
        if r.band_determined:
            assert r.band == true_band
        assert true_band.label in r.possible_bands
    assert r.total == truth and r.complete and r.band == true_band


def test_bands_are_monotone_in_the_total() -> None:
    for defn in SCORES.values():
        lo, hi = defn.range
        indices = [defn.bands.index(defn.band_for(t)) for t in range(lo, hi + 1)]
        assert indices == sorted(indices), defn.key


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_random_patients_score_inside_published_ranges(seed: int) -> None:
    patient = random_patient(random.Random(seed))
    for key, r in score_all(patient).items():
        lo, hi = SCORES[key].range
        assert lo <= r.min <= r.max <= hi
        # Complete implies a total; a capped score (NESMS) can also be decided with an item unknown.
        assert r.complete == (not r.missing)
        assert (r.total is not None) == (r.min == r.max)
        if r.complete:
            assert r.total is not None
        if r.total is not None:
            assert r.min == r.max == r.total
        if r.band_determined and r.band is not None:
            assert r.band.low <= r.min and r.max <= r.band.high


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ADDITIVE), st.data())
def test_item_points_stay_within_item_bounds(key: str, data: Any) -> None:
    defn = SCORES[key]
    subset = data.draw(st.lists(st.sampled_from([i.key for i in defn.items]), unique=True))
    items = {k: data.draw(st.sampled_from(defn.item_map[k].category_keys)) for k in subset}
    r = score(key, items)
    for it in r.items:
        pts = [c.points for c in defn.item_map[it.key].categories]
        assert min(pts) <= it.min <= it.max <= max(pts)
        assert (it.points is None) == (it.key in r.missing)
    ceiling = defn.ceiling if defn.ceiling is not None else float("inf")
    assert r.min == min(sum(i.min for i in r.items), ceiling)
    assert r.max == min(sum(i.max for i in r.items), ceiling)


def _complete_patient_dict(rng: random.Random) -> dict[str, Any]:
    """Every fact the scores read, known (one lesion, so lesion-level scores are comparable)."""
    from spinemets.model.enums import Ambulatory, Frankel, Histology, VisceralMetastases

    listed = [h.value for h in Histology if h.value not in ("other",)]
    return {
        "primary": {"histology": rng.choice(listed)},
        "performance": {"kps": rng.choice(range(10, 101, 10))},
        "neurology": {
            "frankel": rng.choice(list(Frankel)).value,
            "ambulatory": rng.choice(list(Ambulatory)).value,
        },
        "pain": {"type": rng.choice(["mechanical", "occasional", "none"])},
        "lesions": [
            {
                "level": rng.choice(["C1", "C4", "T1", "T6", "T12", "L3", "S1", "S3"]),
                "bone_lesion": rng.choice(["lytic", "mixed", "blastic"]),
                "collapse": rng.choice(["over_50", "under_50", "no_collapse_over_50_involved", "none"]),
                "alignment": rng.choice(["subluxation_translation", "de_novo_deformity", "normal"]),
                "posterolateral": rng.choice(["bilateral", "unilateral", "none"]),
                "escc": rng.choice(["0", "1a", "1b", "1c", "2", "3"]),
            }
        ],
        "burden": {
            "extraspinal_bone_metastases": rng.randint(0, 5),
            "vertebrae_involved": rng.randint(1, 5),
            "visceral_metastases": rng.choice(list(VisceralMetastases)).value,
            "pathological_fracture_elsewhere": rng.random() < 0.5,
        },
        "labs": {"albumin": {"value": round(rng.uniform(20, 50), 1), "unit": "g/L"}},
    }


_REMOVABLE = [
    ("primary", "histology"),
    ("performance", "kps"),
    ("neurology", "frankel"),
    ("neurology", "ambulatory"),
    ("pain", "type"),
    ("burden", "extraspinal_bone_metastases"),
    ("burden", "vertebrae_involved"),
    ("burden", "visceral_metastases"),
    ("burden", "pathological_fracture_elsewhere"),
    ("labs", "albumin"),
    ("lesion", "bone_lesion"),
    ("lesion", "collapse"),
    ("lesion", "alignment"),
    ("lesion", "posterolateral"),
    ("lesion", "escc"),
]


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.lists(st.sampled_from(_REMOVABLE), unique=True))
def test_removing_patient_facts_keeps_the_truth_inside_the_range(
    seed: int, removed: list[tuple[str, str]]
) -> None:
    import copy

    import spinemets

    full = _complete_patient_dict(random.Random(seed))
    truth = score_all(spinemets.parse_patient(full))
    partial = copy.deepcopy(full)
    for section, fact in removed:
        holder = partial["lesions"][0] if section == "lesion" else partial[section]
        holder.pop(fact, None)
    ranged = score_all(spinemets.parse_patient(partial))
    for key, true_result in truth.items():
        r = ranged[key]
        if true_result.total is not None:
            assert r.min <= true_result.total <= r.max, key
        else:  # still open with every fact known (e.g. an unlisted primary): the ranges nest
            assert r.min <= true_result.min <= true_result.max <= r.max, key
        if r.band_determined and true_result.band_determined:
            assert r.band == true_result.band, key
