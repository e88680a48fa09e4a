"""Reports of a stored assessment, rendered by :mod:`spinemets.render` from what was stored.

The stored outputs are re-read as a :class:`spinemets.Assessment` (never recomputed), so a report
shows exactly what the clinician saw when the assessment was saved, under the rules of that time.
"""

from __future__ import annotations

import importlib
from typing import Any

from spinemets.errors import MissingExtraError
from spinemets.service.storage import StoredAssessment


def assessment_of(stored: StoredAssessment) -> Any:
    """The stored outputs as the library's Assessment object."""
    from spinemets.assessment import Assessment

    return Assessment.model_validate(stored.outputs)


def _renderer(fmt: str) -> Any:
    try:
        module = importlib.import_module(f"spinemets.render.{fmt}")
    except ImportError:
        raise MissingExtraError(f"{fmt.upper()} report", "report") from None
    for name in (f"render_{fmt}", "render"):
        fn = getattr(module, name, None)
        if callable(fn):
            return fn
    raise MissingExtraError(f"{fmt.upper()} report", "report")


def html(stored: StoredAssessment) -> str:
    """The report as a standalone HTML page."""
    return str(_renderer("html")(assessment_of(stored)))


def pdf(stored: StoredAssessment) -> bytes:
    """The tumour-board summary as PDF bytes."""
    return bytes(_renderer("pdf")(assessment_of(stored)))
