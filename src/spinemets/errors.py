"""The one exception hierarchy of spinemets.

    SpinemetsError
    ├── InvalidInputError      bad user input: names the field, the value and what is allowed
    │   └── UnknownScoreError  a score name that is not in the catalogue
    ├── KnowledgeBaseError     a curated data file (bibliography, tables, evidence) is malformed
    └── MissingExtraError      an optional dependency group is not installed

    KeyboardInterrupt
    └── Interrupted            Ctrl-C during a run that writes a file: names the output left unchanged

Clinical caveats are not exceptions: a result carries them as text beside its basis
(``ScoreResult.warnings``, e.g. an input outside the score's derivation cohort).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable


class SpinemetsError(Exception):
    """Base class of every error spinemets raises on purpose."""


VALUE_SHOWN_CHARS = 200
"""Longest echo of a refused value in a message (the value itself stays on the error)."""


class InvalidInputError(SpinemetsError, ValueError):
    """Input that cannot be used; the message names field, value and what is allowed."""

    def __init__(self, field: str, value: object, allowed: str | Iterable[str], hint: str = "") -> None:
        self.field = field
        self.value = value
        if not isinstance(allowed, str):
            allowed = "one of " + ", ".join(str(a) for a in allowed)
        self.allowed = allowed
        self.hint = hint
        shown = repr(value)
        if len(shown) > VALUE_SHOWN_CHARS:  # a whole resource or record: the start says which
            shown = shown[: VALUE_SHOWN_CHARS - 3] + "..."
        message = f"{field} must be {allowed}; got {shown}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[InvalidInputError], tuple[str, object, str, str]]:
        # rebuilt from its parts when pickled (a Dask worker's error reaches the client whole)
        return (type(self), (self.field, self.value, self.allowed, self.hint))


def not_utf8(exc: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8, for a message (e.g. a Latin-1 export with accented names)."""
    byte = exc.object[exc.start : exc.start + 1].hex()
    return f"byte 0x{byte} at offset {exc.start} is not UTF-8, perhaps Latin-1 or Windows-1252"


def json_too_big(exc: BaseException) -> str | None:
    """What a JSON document must be when the parser gave up on its size rather than its syntax (nested
    too deeply for the recursion limit, an integer longer than Python converts), or None for any other
    error. One wording for a request body and for a file."""
    if isinstance(exc, RecursionError):
        return (
            f"JSON nested less deeply than the parser allows (about {sys.getrecursionlimit()} levels; "
            "a patient needs fewer than 10)"
        )
    if isinstance(exc, ValueError) and "digits" in str(exc):
        return f"numbers of at most {sys.get_int_max_str_digits()} digits"
    return None


class UnknownScoreError(InvalidInputError):
    """A score name that is not in :data:`spinemets.SCORES`."""


class KnowledgeBaseError(SpinemetsError):
    """A curated data file failed validation on load (unknown key, duplicate id, bad reference)."""


class MissingExtraError(SpinemetsError, ImportError):
    """An optional feature was used without its extra installed."""

    def __init__(self, feature: str, extra: str) -> None:
        self.feature, self.extra = feature, extra
        super().__init__(f"{feature} needs the '{extra}' extra: pip install 'spinemets[{extra}]'")

    def __reduce__(self) -> tuple[type[MissingExtraError], tuple[str, str]]:
        return (type(self), (self.feature, self.extra))


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run before its output was complete; the output is as it was before the run.

    Still a :class:`KeyboardInterrupt` (a notebook or script stops as on any Ctrl-C); the command line
    prints the message and exits 130.
    """

    def __init__(self, output: str) -> None:
        self.output = output
        super().__init__(f"interrupted; {output} left unchanged")

    def __reduce__(self) -> tuple[type[Interrupted], tuple[str]]:
        return (type(self), (self.output,))
