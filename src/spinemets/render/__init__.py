"""Renderers: turn an Assessment into text (rich), JSON, Markdown, HTML and PDF. They never compute.

``render(assessment, fmt)`` is the one entry point; ``fmt`` is one of :data:`FORMATS`. PDF returns
bytes (WeasyPrint, a tumour-board summary); every other format returns text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spinemets.errors import InvalidInputError

if TYPE_CHECKING:
    from spinemets.assessment import Assessment

FORMATS = ("text", "json", "markdown", "html", "pdf")


def render(assessment: Assessment, fmt: str = "text") -> str | bytes:
    """Render one assessment; an unknown format is an :class:`InvalidInputError`."""
    key = fmt.strip().lower()
    if key == "text":
        from spinemets.render.text import render_text

        return render_text(assessment)
    if key == "json":
        return assessment.model_dump_json(indent=2)
    if key in ("markdown", "md"):
        from spinemets.render.markdown import render_markdown

        return render_markdown(assessment)
    if key == "html":
        from spinemets.render.html import render_html

        return render_html(assessment)
    if key == "pdf":
        from spinemets.render.pdf import render_pdf

        return render_pdf(assessment)
    raise InvalidInputError("format", fmt, FORMATS)


__all__ = ["FORMATS", "render"]
