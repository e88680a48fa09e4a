"""Unit conversions, each returning the converted value and a sentence that shows the factor."""

from __future__ import annotations

from spinemets.errors import InvalidInputError

ALBUMIN_UNITS = ("g/dL", "g/L")


def albumin_to_g_dl(value: float, unit: str) -> tuple[float, str]:
    """Albumin in g/dL: g/L is divided by 10 (1 g/dL = 10 g/L)."""
    u = unit.strip().replace(" ", "")
    if u.lower() == "g/dl":
        return value, f"albumin {value:g} g/dL"
    if u.lower() == "g/l":
        converted = round(value / 10.0, 4)
        return converted, f"albumin {value:g} g/L is {converted:g} g/dL (g/L ÷ 10)"
    raise InvalidInputError("labs.albumin.unit", unit, ALBUMIN_UNITS)
