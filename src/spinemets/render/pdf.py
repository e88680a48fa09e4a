"""PDF tumour-board summary: the HTML report laid out for A4 (or US letter) by WeasyPrint."""

from __future__ import annotations

from spinemets.assessment import Assessment
from spinemets.errors import MissingExtraError
from spinemets.render.html import Record, render_html


def render_pdf(
    a: Assessment, *, notice: str | None = None, record: Record | None = None, paper: str = "A4"
) -> bytes:
    try:
        from weasyprint import HTML
    except ImportError as exc:  # WeasyPrint needs system libraries (pango)
        raise MissingExtraError("PDF output", "pdf") from exc
    pdf = HTML(string=render_html(a, for_print=True, notice=notice, record=record, paper=paper)).write_pdf()
    if pdf is None:
        raise MissingExtraError("PDF output", "pdf")
    return bytes(pdf)
