"""Reports of a stored assessment, rendered by :func:`spinemets.render.render` from what was stored.

The stored outputs are re-read as a :class:`spinemets.Assessment` (never recomputed), so a report
shows exactly what the clinician saw when the assessment was saved, under the rules of that time.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from spinemets.service.storage import StoredAssessment

if TYPE_CHECKING:
    from spinemets.render.html import Record

_FALLBACK_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+")


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` value that downloads ``filename`` (RFC 6266, RFC 5987).

    A patient identifier in the name may hold any text: header values are Latin-1 on the wire
    (a non-ASCII name raised UnicodeEncodeError) and a line break would end the header. So control
    and format characters and path separators are dropped, ``filename`` gets an ASCII fallback
    (accents stripped, anything else ``_``) and ``filename*`` the name in UTF-8, percent-encoded.
    """
    name = (
        "".join(
            c for c in filename if not unicodedata.category(c).startswith("C") and c not in '/\\"'
        ).strip()
        or "download"
    )
    fallback = "".join(
        c if c in _FALLBACK_SAFE else "_"
        for c in unicodedata.normalize("NFKD", name)
        if not unicodedata.combining(c)
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def filename(stored: StoredAssessment, label: str, ext: str) -> str:
    """The download name of a stored version; a deleted assessment's says so (``-deleted``)."""
    return f"spinemets-{label}-v{stored.version}{'-deleted' if stored.deleted else ''}.{ext}"


def assessment_of(stored: StoredAssessment) -> Any:
    """The stored outputs as the library's Assessment object."""
    from spinemets.assessment import load_assessment

    return load_assessment(stored.outputs)


def deleted_notice(stored: StoredAssessment) -> str | None:
    """What a report of a deleted assessment says above everything else (None while it is live)."""
    if not stored.deleted:
        return None
    return (
        f"DELETED ASSESSMENT: version {stored.version} of an assessment that has since been deleted, "
        "kept for the record only; do not use it for current care."
    )


def record(stored: StoredAssessment) -> Record:
    """Which stored version a report shows and who saved it (the report's header and metadata)."""
    from spinemets.render.html import Record

    saved = stored.created_at.astimezone(dt.UTC) if stored.created_at.tzinfo else stored.created_at
    return Record(
        assessment_id=stored.id,
        version=stored.version,
        saved=saved.strftime("%Y-%m-%d %H:%M UTC"),
        author=stored.author,
    )


def html(stored: StoredAssessment) -> str:
    """The report as a standalone HTML page."""
    from spinemets.render.html import render_html

    return render_html(assessment_of(stored), notice=deleted_notice(stored), record=record(stored))


def pdf(stored: StoredAssessment) -> bytes:
    """The tumour-board summary as PDF bytes."""
    from spinemets.render.pdf import render_pdf

    return render_pdf(assessment_of(stored), notice=deleted_notice(stored), record=record(stored))
