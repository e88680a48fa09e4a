"""Reports of a stored assessment, rendered by :func:`spinemets.render.render` from what was stored.

The stored outputs are re-read as a :class:`spinemets.Assessment` (never recomputed), so a report
shows exactly what the clinician saw when the assessment was saved, under the rules of that time.
"""

from __future__ import annotations

from typing import Any

from spinemets.service.storage import StoredAssessment


def assessment_of(stored: StoredAssessment) -> Any:
    """The stored outputs as the library's Assessment object."""
    from spinemets.assessment import Assessment

    return Assessment.model_validate(stored.outputs)


def html(stored: StoredAssessment) -> str:
    """The report as a standalone HTML page."""
    from spinemets.render import render

    return str(render(assessment_of(stored), "html"))


def pdf(stored: StoredAssessment) -> bytes:
    """The tumour-board summary as PDF bytes."""
    from spinemets.render import render

    out = render(assessment_of(stored), "pdf")
    return out if isinstance(out, bytes) else out.encode()
