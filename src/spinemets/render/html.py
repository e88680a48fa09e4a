"""HTML report from a Jinja2 template shipped in the package (also the source of the PDF)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape

from spinemets.assessment import Assessment
from spinemets.render.view import DISCLAIMER, NOTES_HEADING, UNDATED, UNVERIFIED, build_view


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("spinemets.render", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(a: Assessment, *, for_print: bool = False, notice: str | None = None) -> str:
    """A self-contained HTML page; ``for_print`` adds page CSS for the PDF tumour-board summary
    (patient, date, versions and 'decision support only' on every page, 'page x of y');
    ``notice`` is shown above everything (e.g. that a stored assessment was deleted)."""
    template = _env().get_template("assessment.html.j2")
    return template.render(
        v=build_view(a),
        disclaimer=DISCLAIMER,
        notes_heading=NOTES_HEADING,
        undated=UNDATED,
        unverified=UNVERIFIED,
        for_print=for_print,
        notice=notice,
    )
