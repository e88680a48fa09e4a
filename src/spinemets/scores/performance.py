"""Karnofsky <-> ECOG conversion, with the convention named in every output.

Two conversions are in common use and disagree for ECOG 1-3, which changes the Tokuhashi and
OSRI general-condition points; spinemets uses Oken 1982 by default and says so.

References:
    Oken MM et al. Am J Clin Oncol 1982;5(6):649-655. doi:10.1097/00000421-198212000-00014
    Karnofsky DA, Burchenal JH. 1949.
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

CONVENTION_LABEL = {
    EcogConvention.oken1982: "ECOG->KPS per Oken 1982",
    EcogConvention.alternative: "ECOG->KPS per the alternative table",
}


def kps_for_ecog(ecog: int, convention: EcogConvention = EcogConvention.oken1982) -> tuple[int, ...]:
    return ECOG_TO_KPS[convention][ecog]


def ecog_for_kps(kps: int, convention: EcogConvention = EcogConvention.oken1982) -> tuple[int, ...]:
    """The ECOG grades whose KPS values include ``kps`` (can be two under the alternative table)."""
    return tuple(e for e, ks in ECOG_TO_KPS[convention].items() if kps in ks)


def ecog_lookup(
    kps_bins: tuple[tuple[float, float, str], ...], convention: EcogConvention
) -> dict[str, tuple[str, ...]]:
    """An ECOG -> category table derived from a score's KPS bins: the categories its KPS values reach."""
    table: dict[str, tuple[str, ...]] = {}
    for ecog, kpss in ECOG_TO_KPS[convention].items():
        cats = [cat for k in kpss for lo, hi, cat in kps_bins if lo <= k <= hi]
        if cats:
            table[str(ecog)] = tuple(dict.fromkeys(cats))
    return table
