"""HTML report from a Jinja2 template shipped in the package (also the source of the PDF)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape

from spinemets.assessment import Assessment
from spinemets.errors import InvalidInputError
from spinemets.render.view import DISCLAIMER, NOTES_HEADING, UNDATED, UNVERIFIED, build_view


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("spinemets.render", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class Record:
    """Where a report's assessment is kept (the service): shown under the title, its version on
    every page's header, its author as the document's author."""

    assessment_id: str
    version: int
    saved: str
    """When the version was saved, e.g. '2026-11-20 14:02 UTC'."""
    author: str

    def line(self) -> str:
        return (
            f"Stored assessment {self.assessment_id}, version {self.version}, "
            f"saved {self.saved} by {self.author}"
        )


PAPERS = ("A4", "letter")


def render_html(
    a: Assessment,
    *,
    for_print: bool = False,
    notice: str | None = None,
    record: Record | None = None,
    paper: str = "A4",
) -> str:
    """A self-contained HTML page; ``for_print`` adds page CSS for the PDF tumour-board summary
    (patient, date, versions and 'decision support only' on every page, 'page x of y');
    ``notice`` is shown above everything (e.g. that a stored assessment was deleted); ``record``
    says which stored version this is and who saved it; ``paper`` is the page size of the PDF
    (A4 or letter)."""
    if paper not in PAPERS:
        raise InvalidInputError("paper", paper, PAPERS)
    template = _env().get_template("assessment.html.j2")
    return template.render(
        v=build_view(a),
        disclaimer=DISCLAIMER,
        notes_heading=NOTES_HEADING,
        undated=UNDATED,
        unverified=UNVERIFIED,
        for_print=for_print,
        paper=paper,
        notice=notice,
        record=record.line() if record else None,
        record_short=f"version {record.version}, saved by {record.author}" if record else None,
        author=record.author if record else None,
    )
