"""Karnofsky <-> ECOG conversion, with the convention named in every output.

Two conversions are in common use and disagree for ECOG 0-4 at the edges, which changes the
Tokuhashi general-condition points for ECOG 1 and 2; spinemets uses the Oken 1982 table by
default, offers the other as the option ``ecog_convention="alternative"``, and names the one used
in every derivation (see docs/conflicts.md).

References:
    Oken MM et al. Am J Clin Oncol 1982;5(6):649-655. doi:10.1097/00000421-198212000-00014
    Karnofsky DA, Burchenal JH. In: Evaluation of Chemotherapeutic Agents. 1949:191-205.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinemets.model.performance import ECOG_TO_KPS, EcogConvention
from spinemets.scores.engine import (
    Band,
    Bins,
    Category,
    Item,
    Option,
    ScoreDefinition,
    ScoreKind,
    ScoreSpec,
    SurvivalDirection,
)

CONVENTION_LABEL = {
    EcogConvention.oken1982: "ECOG->KPS per Oken 1982 (ECOG 0=KPS 90-100, 1=70-80, 2=50-60, 3=30-40, 4=10-20)",
    EcogConvention.alternative: "ECOG->KPS per the alternative table (ECOG 0=KPS 100, 1=80-90, 2=60-70, "
    "3=40-50, 4=10-30)",
}

ECOG_OPTION = Option(
    name="ecog_convention",
    choices=tuple(c.value for c in EcogConvention),
    default=EcogConvention.oken1982.value,
    describe="the KPS<->ECOG conversion: oken1982 (default) or alternative (docs/conflicts.md)",
)

#: ECOG grades with their published meaning (Oken 1982).
ECOG_MEANING: dict[int, str] = {
    0: "Fully active, able to carry on all pre-disease performance without restriction.",
    1: "Restricted in physically strenuous activity but ambulatory and able to carry out light work.",
    2: "Ambulatory and capable of all self-care but unable to work; up and about more than 50% of waking hours.",
    3: "Capable of only limited self-care; confined to bed or chair more than 50% of waking hours.",
    4: "Completely disabled; cannot carry on any self-care; totally confined to bed or chair.",
    5: "Dead.",
}


def kps_for_ecog(ecog: int, convention: EcogConvention = EcogConvention.oken1982) -> tuple[int, ...]:
    return ECOG_TO_KPS[convention][ecog]


def ecog_for_kps(kps: int, convention: EcogConvention = EcogConvention.oken1982) -> tuple[int, ...]:
    """The ECOG grades whose KPS values include ``kps``."""
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


def _kps_range(values: tuple[int, ...]) -> str:
    return f"KPS {values[0]}" if len(values) == 1 else f"KPS {values[0]}-{values[-1]}"


def definition(convention: EcogConvention = EcogConvention.oken1982) -> ScoreDefinition:
    """ECOG grade as a conversion score: given ``ecog`` directly, or ``kps`` converted by ``convention``."""
    table = ECOG_TO_KPS[convention]
    kps_bins = tuple((float(min(ks)), float(max(ks)), str(e)) for e, ks in table.items())
    return ScoreDefinition(
        key="performance",
        name="ECOG",
        version=f"Oken 1982; KPS conversion: {convention.value}",
        description="Performance status: ECOG grade with its KPS equivalent (convention named).",
        kind=ScoreKind.conversion,
        citation_ids=("oken1982", "karnofsky1949"),
        survival_direction=SurvivalDirection.higher_shorter,  # worse status: fewer Tokuhashi points (§2a)
        items=(
            Item(
                key="ecog",
                label="ECOG performance status",
                definition="ECOG/WHO grade 0-5; a Karnofsky value is converted with the named convention.",
                question="What is the ECOG grade or the Karnofsky performance status?",
                categories=tuple(
                    Category(key=str(e), points=e, label=f"ECOG {e} ({_kps_range(ks)})")
                    for e, ks in table.items()
                ),
                derivations=(
                    Bins(
                        input="kps",
                        bins=kps_bins,
                        unit="%",
                        integer=True,
                        step=10,
                        describe="a Karnofsky score from 0 to 100 % in steps of 10",
                        note=CONVENTION_LABEL[convention],
                    ),
                ),
            ),
        ),
        bands=tuple(
            Band(
                key=f"ecog_{e}",
                low=e,
                high=e,
                label=f"ECOG {e} = {_kps_range(ks)}",
                meaning=f"{ECOG_MEANING[e]} Equivalent {_kps_range(ks)} ({CONVENTION_LABEL[convention]}).",
            )
            for e, ks in table.items()
        ),
        notes=(
            "Two KPS<->ECOG conversions are in common use; the one used is named (docs/conflicts.md). Both "
            "tables are recalled [K], not checked against Oken 1982.",
        ),
    )


def from_patient(patient: Any) -> Mapping[str, Any]:
    if patient.performance.ecog is not None:
        return {"ecog": str(patient.performance.ecog)}
    if patient.performance.kps is not None:
        return {"kps": patient.performance.kps}
    return {}


DEFINITION = definition()
SPEC = ScoreSpec(
    definition=DEFINITION,
    from_patient=from_patient,
    options=(ECOG_OPTION,),
    build=lambda o: definition(EcogConvention(o["ecog_convention"])),
)
