"""Markdown report (for notes, e-mail and the README): same content and order as the text report."""

from __future__ import annotations

from spinemets.assessment import Assessment
from spinemets.render.view import DISCLAIMER, NOTES_HEADING, UNDATED, UNVERIFIED, build_view


def _esc(s: str) -> str:
    """Text for a table cell: a pipe would end the cell and a line break the row."""
    return " ".join(s.replace("|", "\\|").split())


def render_markdown(a: Assessment) -> str:
    v = build_view(a)
    lines = [f"# {v.title}", "", f"**Overall urgency: {v.urgency.upper()}**", ""]
    if v.urgency_basis:
        lines += ["Set by:", ""]
        lines += [f"- {rv.number}. {rv.rec.text}" for rv in v.urgency_basis]
        lines.append("")
    lines += ["## Patient", ""]
    lines += ["| Fact | Value |", "| --- | --- |"]
    lines += [f"| {k} | {_esc(val)} |" for k, val in v.facts]
    if v.notes:
        lines += ["", f"## {NOTES_HEADING}", ""]
        lines += [f"> {line}".rstrip() for line in v.notes.splitlines()]
    lines += ["", "## Scores", "", "| Score | Result | Basis |", "| --- | --- | --- |"]
    for s in (*v.scores, *v.sins_lesions):
        basis = "<br>".join(_esc(i) for i in s.items)
        if s.questions:
            basis += "<br>*to settle:* " + _esc("; ".join(s.questions))
        basis += "".join(f"<br>*caveat:* {_esc(c)}" for c in s.caveats)
        basis += "".join(f"<br>*note:* {_esc(n)}" for n in s.recalled)
        if s.citations:
            basis += "<br>" + _esc("; ".join(s.citations))
        name = s.name + (f" {s.subject}" if s.subject else "")
        result = _esc(s.label) + "".join(f"<br>{_esc(x)}" for x in (s.possible, s.meaning) if x)
        lines.append(f"| {name} | {result} | {basis} |")
    lines += ["", "## Plan", ""]
    for urgency, recs in v.groups:
        lines += [f"### {urgency.value.capitalize()}", ""]
        for rv in recs:
            r = rv.rec
            lines.append(f"{rv.number}. **[{r.kind.value}]** {r.text} {rv.cite_marks}")
            meta = f"`{r.id}` - certainty {r.certainty.value}"
            if r.strength:
                meta += f" - strength: {r.strength}"
            lines.append(f"    - {meta}")
            if r.unverified:
                lines.append(f"    - *{UNVERIFIED}*")
            for ps in r.per_source:
                tag = " *(unverified)*" if ps.unverified else ""
                strength = f" ({ps.strength})" if ps.strength else ""
                lines.append(f"    - {ps.source}: {ps.text}{strength}{tag}")
            lines.append(f"    - basis: {'; '.join(r.basis)}")
        lines.append("")
    if v.plan and v.plan.schedule:
        lines += [
            "## Follow-up schedule",
            "",
            "| Months after treatment | Due | What |",
            "| ---: | --- | --- |",
        ]
        for item in v.plan.schedule:
            lines.append(
                f"| {item.month} | {item.due.isoformat() if item.due else UNDATED} | {_esc(item.what)} |"
            )
        lines.append("")
    lines += ["## References", ""]
    for n, ref in v.references:
        flag = " (bibliographic details unverified)" if ref.certainty == "K" else ""
        lines.append(f"{n}. {ref.vancouver()}{flag}")
    lines += ["", f"*{v.versions}.* {DISCLAIMER}", ""]
    return "\n".join(lines)
