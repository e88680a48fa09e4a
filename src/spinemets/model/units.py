"""Unit conversions and plausibility limits of the laboratory values with units.

A conversion returns the converted value and a sentence that shows the factor. A plausibility
limit is a **data-entry guard**, not a clinical threshold and not taken from a guideline: it is set
wide, so that no value a laboratory could report for a living patient is refused, and it catches the
unit mix-ups that would otherwise flip a score item silently (albumin 35 sent as g/dL instead of
g/L reads as a high-normal 35 g/dL; 3.5 sent as g/L reads as 0.35 g/dL).
"""

from __future__ import annotations

from spinemets.errors import InvalidInputError

ALBUMIN_UNITS = ("g/dL", "g/L")

ALBUMIN_PLAUSIBLE_G_DL = (0.5, 7.0)
"""Plausible serum albumin, g/dL (closed; 5-70 g/L): a data-entry guard against g/dL-g/L mix-ups."""

HAEMOGLOBIN_PLAUSIBLE_G_DL = (1.0, 30.0)
"""Plausible haemoglobin, g/dL (closed; 10-300 g/L): a data-entry guard that refuses g/L sent as g/dL."""


def albumin_range_text() -> str:
    """The plausible albumin range in both units, for messages and field descriptions."""
    lo, hi = ALBUMIN_PLAUSIBLE_G_DL
    return f"{lo:g}-{hi:g} g/dL ({lo * 10:g}-{hi * 10:g} g/L)"


def albumin_unit(unit: str) -> str | None:
    """The canonical albumin unit of ``unit`` (spaces and case ignored), or None when it is neither."""
    u = unit.strip().replace(" ", "").lower()
    return {"g/dl": "g/dL", "g/l": "g/L"}.get(u)


def albumin_to_g_dl(value: float, unit: str) -> tuple[float, str]:
    """Albumin in g/dL: g/L is divided by 10 (1 g/dL = 10 g/L)."""
    key = albumin_unit(unit)
    if key == "g/dL":
        return value, f"albumin {value:g} g/dL"
    if key == "g/L":
        converted = round(value / 10.0, 4)
        return converted, f"albumin {value:g} g/L is {converted:g} g/dL (g/L ÷ 10)"
    raise InvalidInputError("labs.albumin.unit", unit, ALBUMIN_UNITS)


def check_albumin(value: float, unit: str | None, field: str = "labs.albumin") -> float:
    """Albumin in g/dL, or an error when the unit is unknown or the value is not a possible serum albumin.

    ``unit`` None is a bare number, which the patient model documents as g/dL. Outside
    :data:`ALBUMIN_PLAUSIBLE_G_DL` the message names the value and unit, the plausible range in both
    units and, where the number fits the other unit, the probable mix-up.
    """
    key = albumin_unit(unit) if unit is not None else "g/dL"
    if key is None:
        raise InvalidInputError(f"{field}.unit", unit, ALBUMIN_UNITS, "serum albumin in g/dL or g/L")
    g_dl = albumin_to_g_dl(value, key)[0]
    lo, hi = ALBUMIN_PLAUSIBLE_G_DL
    if lo <= g_dl <= hi:
        return g_dl
    given = f"{value:g} {key}" if unit is not None else value
    why = (
        f"{value:g} {key}"
        + (f" ({g_dl:g} g/dL)" if key == "g/L" else "")
        + " is not a possible serum albumin"
    )
    other = "g/L" if key == "g/dL" else "g/dL"
    as_other = albumin_to_g_dl(value, other)[0]
    if lo <= as_other <= hi:
        why += (
            f"; as {other} it would be {as_other:g} g/dL: was the unit {other}? "
            f'send {{"value": {value:g}, "unit": "{other}"}}'
        )
    else:
        why += " in either unit: check the value"
    if unit is None:
        why = "a number without a unit is read as g/dL; " + why
    raise _refused(field, given, f"a plausible serum albumin, {albumin_range_text()}", why)


def check_haemoglobin(value: float, field: str = "labs.haemoglobin_g_dl") -> float:
    """Haemoglobin in g/dL, or an error naming the probable g/L mix-up when it is not a possible value."""
    lo, hi = HAEMOGLOBIN_PLAUSIBLE_G_DL
    if lo <= value <= hi:
        return value
    why = f"{value:g} g/dL is not a possible haemoglobin"
    if lo <= value / 10 <= hi:
        why += f"; as g/L it would be {value / 10:g} g/dL: was it g/L? divide by 10"
    allowed = f"a plausible haemoglobin, {lo:g}-{hi:g} g/dL ({lo * 10:g}-{hi * 10:g} g/L), in g/dL"
    raise _refused(field, value, allowed, why)


def _refused(field: str, value: object, allowed: str, why: str) -> InvalidInputError:
    return InvalidInputError(
        field,
        value,
        allowed,
        why + "; the range is a data-entry guard against unit mix-ups, not a clinical threshold",
    )
