"""Markdown report (for notes, e-mail and the README): same content and order as the text report."""

from __future__ import annotations

from spinemets.assessment import Assessment
from spinemets.render.view import DISCLAIMER, UNVERIFIED, build_view


def _esc(s: str) -> str:
    return s.replace("|", "\\|")


def render_markdown(a: Assessment) -> str:
    v = build_view(a)
    level = v.plan.urgency.value if v.plan and v.plan.urgency else "none"
    lines = [f"# {v.title}", "", f"**Overall urgency: {level.upper()}**", "", "## Patient", ""]
    lines += ["| Fact | Value |", "| --- | --- |"]
    lines += [f"| {k} | {_esc(val)} |" for k, val in v.facts]
    lines += ["", "## Scores", "", "| Score | Result | Basis |", "| --- | --- | --- |"]
    for s in (*v.scores, *v.sins_lesions):
        basis = "<br>".join(_esc(i) for i in s.items)
        if s.questions:
            basis += "<br>*to settle:* " + _esc("; ".join(s.questions))
        basis += "".join(f"<br>*caveat:* {_esc(c)}" for c in s.caveats)
        name = s.name + (f" {s.subject}" if s.subject else "")
        lines.append(f"| {name} | {_esc(s.label)} | {basis} |")
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
        lines += ["## Follow-up schedule", "", "| Month | Due | What |", "| ---: | --- | --- |"]
        for item in v.plan.schedule:
            lines.append(f"| {item.month} | {item.due.isoformat() if item.due else '-'} | {item.what} |")
        lines.append("")
    lines += ["## References", ""]
    for n, ref in v.references:
        flag = " (bibliographic details unverified)" if ref.certainty == "K" else ""
        lines.append(f"{n}. {ref.vancouver()}{flag}")
    lines += ["", f"*{v.versions}.* {DISCLAIMER}", ""]
    return "\n".join(lines)
