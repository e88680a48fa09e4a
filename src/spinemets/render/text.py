"""Terminal report with rich: urgency banner, patient facts, scores with basis, plan, schedule, refs."""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from spinemets.assessment import Assessment
from spinemets.render.view import DISCLAIMER, NOTES_HEADING, UNDATED, UNVERIFIED, build_view

_STYLE = {"emergency": "bold white on red", "urgent": "bold black on yellow", "routine": "bold white on blue"}


def renderables(a: Assessment) -> list[RenderableType]:
    """The report as rich renderables (printed by the CLI, exported to plain text by render_text)."""
    v = build_view(a)
    out: list[RenderableType] = []
    banner = Text(
        f" {v.title}  |  overall urgency: {v.urgency.upper()} ", style=_STYLE.get(v.urgency, "bold")
    )
    out.append(banner)
    if v.urgency_basis:
        setting = Text("\n".join(f"{rv.number}. {rv.rec.text}" for rv in v.urgency_basis))
        title = f"Overall urgency {v.urgency.upper()} - set by"
        out.append(Panel(setting, title=title, title_align="left"))
    facts = Table(show_header=False, box=None, padding=(0, 1))
    facts.add_column(style="bold")
    facts.add_column()
    for k, val in v.facts:
        facts.add_row(k, val)
    out.append(Panel(facts, title="Patient", title_align="left"))
    if v.notes:
        out.append(Panel(Text(v.notes), title=NOTES_HEADING, title_align="left"))
    scores = Table(show_header=True, header_style="bold", box=None, expand=True)
    scores.add_column("Score", ratio=2)
    scores.add_column("Result", ratio=3)
    scores.add_column("Basis (item: input -> points)", ratio=6)
    for s in (*v.scores, *v.sins_lesions):
        basis = "\n".join(s.items)
        if s.questions:
            basis += "\nto settle: " + "; ".join(s.questions)
        basis += "".join(f"\ncaveat: {c}" for c in s.caveats)
        basis += "".join(f"\nnote: {n}" for n in s.recalled)
        if s.citations:
            basis += "\n" + "; ".join(s.citations)
        result = s.label + "".join(f"\n{x}" for x in (s.possible, s.meaning) if x)
        scores.add_row(s.name + (f" {s.subject}" if s.subject else ""), result, basis)
    out.append(Panel(scores, title="Scores", title_align="left"))
    for urgency, recs in v.groups:
        parts: list[RenderableType] = []
        for rv in recs:
            r = rv.rec
            head = Text(f"{rv.number}. ", style="bold")
            head.append(f"[{r.kind.value}] ", style="magenta" if r.kind.value == "obtain" else "cyan")
            head.append(r.text)
            head.append(f" {rv.cite_marks}", style="dim")
            parts.append(head)
            meta = Text(f"   id {r.id}", style="dim")
            if r.strength:
                meta.append(f" | strength: {r.strength}", style="dim")
            meta.append(f" | certainty {r.certainty.value}", style="dim")
            parts.append(meta)
            if r.unverified:
                parts.append(Text(f"   ({UNVERIFIED})", style="yellow"))
            for ps in r.per_source:
                line = Text(f"   - {ps.source}: {ps.text}")
                if ps.strength:
                    line.append(f" ({ps.strength})")
                if ps.unverified:
                    line.append(" [unverified]", style="yellow")
                parts.append(line)
            parts.append(Text("   basis: " + "; ".join(r.basis), style="green"))
        out.append(Panel(Group(*parts), title=f"Plan - {urgency.value}", title_align="left", style=""))
    if v.plan and v.plan.schedule:
        sched = Table(show_header=True, header_style="bold", box=None)
        sched.add_column("Months after treatment", justify="right")
        sched.add_column("Due")
        sched.add_column("What")
        for item in v.plan.schedule:
            sched.add_row(str(item.month), item.due.isoformat() if item.due else UNDATED, item.what)
        out.append(Panel(sched, title="Follow-up schedule", title_align="left"))
    refs = Text()
    for n, ref in v.references:
        refs.append(f"[{n}] {ref.vancouver()}")
        if ref.certainty == "K":
            refs.append(" (bibliographic details unverified)")
        refs.append("\n")
    out.append(Panel(refs, title="References", title_align="left"))
    out.append(Text(f"{v.versions}\n{DISCLAIMER}", style="dim"))
    return out


def print_assessment(a: Assessment, console: Console | None = None) -> None:
    console = console or Console()
    for item in renderables(a):
        console.print(item)


def render_text(a: Assessment, width: int = 110) -> str:
    """Plain text (no colour codes) of the terminal report."""
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    print_assessment(a, console)
    return console.export_text(styles=False)
