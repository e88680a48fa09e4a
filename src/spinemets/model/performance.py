"""Karnofsky <-> ECOG conversion tables, in the model layer so that the patient model can check a
recorded pair and the scores convert with the same table (one copy).

References:
    Oken MM et al. Am J Clin Oncol 1982;5(6):649-655. doi:10.1097/00000421-198212000-00014
"""

from __future__ import annotations

from enum import StrEnum


class EcogConvention(StrEnum):
    oken1982 = "oken1982"
    """ECOG 0 = KPS 90-100, 1 = 70-80, 2 = 50-60, 3 = 30-40, 4 = 10-20, 5 = 0 (Oken 1982; trial protocols)."""
    alternative = "alternative"
    """ECOG 0 = KPS 100, 1 = 80-90, 2 = 60-70, 3 = 40-50, 4 = 10-30, 5 = 0 (the other common table)."""


#: ECOG grade -> the KPS values (deciles) it corresponds to, per convention.
ECOG_TO_KPS: dict[EcogConvention, dict[int, tuple[int, ...]]] = {
    EcogConvention.oken1982: {0: (90, 100), 1: (70, 80), 2: (50, 60), 3: (30, 40), 4: (10, 20), 5: (0,)},
    EcogConvention.alternative: {0: (100,), 1: (80, 90), 2: (60, 70), 3: (40, 50), 4: (10, 20, 30), 5: (0,)},
}

KPS_ECOG_TOLERANCE = 10
"""How far (KPS points) a recorded KPS may lie from every KPS value of the recorded ECOG grade, under
either conversion, before the pair is refused as contradictory: one decile, since the two may be
rated by different people. A data-entry guard, not a published rule."""


def kps_values_for_ecog(ecog: int) -> tuple[int, ...]:
    """Every KPS value the ECOG grade corresponds to under either conversion, sorted."""
    return tuple(sorted({k for table in ECOG_TO_KPS.values() for k in table[ecog]}))


def kps_contradicts_ecog(kps: int, ecog: int) -> bool:
    """True when KPS and ECOG cannot describe the same patient under either conversion (with the
    one-decile tolerance of :data:`KPS_ECOG_TOLERANCE`; dead, KPS 0 and ECOG 5, only with each other,
    though the patient model refuses both as no assessment applies to them)."""
    if kps == 0 or ecog == 5:
        return (kps == 0) != (ecog == 5)
    return all(abs(kps - k) > KPS_ECOG_TOLERANCE for k in kps_values_for_ecog(ecog))
