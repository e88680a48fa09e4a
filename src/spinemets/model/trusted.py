"""Models built from values the engines made and checked themselves, without pydantic's validation.

The single-patient hot path builds hundreds of frozen result objects (score results and their
items, recommendations) from data that was validated once, when the score tables and the rule texts
were loaded. Validating them again on every build dominated ``assess()``; :func:`construct` skips
it. Only for values whose types the caller guarantees; anything from a user goes through the models.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def construct(cls: type[M], values: dict[str, Any]) -> M:
    """A ``cls`` holding ``values`` (every field given, already valid), as ``cls.model_construct``
    would build it, without its per-field default handling (measured the larger cost)."""
    m = cls.__new__(cls)
    object.__setattr__(m, "__dict__", values)
    object.__setattr__(m, "__pydantic_fields_set__", set(values))
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", None)
    return m
