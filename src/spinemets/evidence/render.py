"""Plain-text, Markdown and JSON renderings of an :class:`~spinemets.evidence.answer.Answer`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from spinemets.errors import InvalidInputError

if TYPE_CHECKING:
    from spinemets.evidence.answer import Answer, AnswerSentence

FORMATS = ("text", "markdown", "json")

_CERTAINTY_NOTE = {
    "V": "",
    "V2": "secondary digest",
    "S": "secondary source",
    "K": "unverified recall",
}

_HEADINGS = (
    ("summary", "Summary"),
    ("key_considerations", "Key considerations"),
    ("rationale", "Rationale"),
)


def reference_certainty(certainty: str) -> str:
    """The note after a reference whose bibliographic details are not plainly seen in a source (``V2``,
    ``K``), e.g. `` (certainty K)``; empty for ``S`` and ``V``. Every format prints the same note."""
    return f" (certainty {certainty})" if certainty not in ("S", "V") else ""


def _tail(s: AnswerSentence, markdown: bool) -> str:
    refs = ",".join(str(n) for n in s.reference_numbers)
    ids = ", ".join(s.statement_ids)
    extras = [x for x in (s.level, _CERTAINTY_NOTE.get(str(s.certainty or "V"), "")) if x]
    grade = f" ({'; '.join(extras)})" if extras else ""
    cites = f" [{refs}]" if refs else " [no source]"
    if markdown:
        return f"{grade}{cites} <sub>{ids}</sub>"
    return f"{grade}{cites} {{{ids}}}"


def to_text(answer: Answer) -> str:
    follow = [f"Read as a follow-up of: {answer.follow_up_of}"] if answer.follow_up_of else []
    lines = [f"Question: {answer.question}", *follow, ""]
    if not answer.covered:
        lines.append(answer.notice or "Not covered.")
        return "\n".join(lines) + "\n"
    for attr, heading in _HEADINGS:
        sentences = getattr(answer, attr)
        if not sentences:
            continue
        lines.append(heading)
        lines.extend(f"  - {s.text}{_tail(s, False)}" for s in sentences)
        lines.append("")
    lines.append("References")
    for r in answer.references:
        where = f" [used: {'; '.join(r.locators)}]" if r.locators else ""
        link = f" {r.link}" if r.link and r.link not in r.citation else ""
        lines.append(f"  {r.number}. {r.citation}{link}{where}{reference_certainty(r.certainty)}")
    if answer.notice:
        lines += ["", f"Note: {answer.notice}"]
    lines += ["", f"Retrieval: {answer.method}; synthesis: {answer.synthesis}."]
    return "\n".join(lines) + "\n"


def to_markdown(answer: Answer) -> str:
    lines = [f"### {answer.question}", ""]
    if answer.follow_up_of:
        lines += [f"*Read as a follow-up of: {answer.follow_up_of}*", ""]
    if not answer.covered:
        lines.append(f"> {answer.notice or 'Not covered.'}")
        return "\n".join(lines) + "\n"
    for attr, heading in _HEADINGS:
        sentences = getattr(answer, attr)
        if not sentences:
            continue
        lines += [f"**{heading}**", ""]
        lines.extend(f"- {s.text}{_tail(s, True)}" for s in sentences)
        lines.append("")
    lines += ["**References**", ""]
    for r in answer.references:
        where = f" *Used: {'; '.join(r.locators)}.*" if r.locators else ""
        link = f" <{r.link}>" if r.link and r.link not in r.citation else ""
        lines.append(f"{r.number}. {r.citation}{link}{where}{reference_certainty(r.certainty)}")
    if answer.notice:
        lines += ["", f"> {answer.notice}"]
    return "\n".join(lines) + "\n"


def render(answer: Answer, fmt: str = "text") -> str:
    """Render in one of :data:`FORMATS`."""
    if fmt == "text":
        return to_text(answer)
    if fmt == "markdown":
        return to_markdown(answer)
    if fmt == "json":
        return answer.model_dump_json(indent=2)
    raise InvalidInputError("format", fmt, FORMATS)
