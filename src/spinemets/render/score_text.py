"""Terminal rendering of score results with rich: total or range, band, items with their basis."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from spinemets.knowledge.bibliography import Reference
from spinemets.scores.engine import (
    Bins,
    Derivation,
    Option,
    ScoreDefinition,
    ScoreKind,
    ScoreResult,
    Subscore,
)


def cited(refs: Iterable[Reference]) -> str:
    """References on one line, separated by semicolons (a reference's closing period dropped: '192.;')."""
    return "; ".join(r.vancouver().removesuffix(".") for r in refs)


def score_panel(result: ScoreResult) -> Panel:
    """One score as a panel: headline, item table (input -> points), missing questions, citation."""
    table = Table(show_header=True, header_style="bold", expand=True, box=None)
    table.add_column("Item")
    table.add_column("Basis")
    table.add_column("Points" if result.kind is ScoreKind.additive else "Rank", justify="right")
    for item in result.items:
        pts = str(item.points) if item.points is not None else f"{item.min}..{item.max}"
        basis = item.derivation or (item.input or "missing")
        table.add_row(item.label, basis, pts)
    parts: list[Text | Table] = []
    headline = Text(result.label(), style="bold")
    if result.band_determined and result.band is not None:
        headline.append(f"\n{result.band.meaning}", style="")
    parts.append(headline)
    parts.append(table)
    if result.missing:
        ask = Text("To settle it, obtain:\n", style="yellow")
        for key in result.missing:
            ask.append(f"  - {key}: {result.questions[key]}\n")
        parts.append(ask)
    for w in result.warnings:
        parts.append(Text(f"caveat: {w}", style="magenta"))
    for n in result.notes:  # the definition's own caveats, e.g. which facts are recalled [K]
        parts.append(Text(f"note: {n}", style="dim"))
    if result.options:
        shown = ", ".join(f"{k}={v}" for k, v in result.options.items())
        parts.append(Text(f"options: {shown}", style="cyan"))
    cites = cited(result.citation)
    parts.append(Text(f"{result.version}. {cites}", style="dim"))
    title = result.name + (f" at {result.subject}" if result.subject else "")
    return Panel(Group(*parts), title=title, title_align="left")


def print_score(result: ScoreResult, console: Console | None = None) -> None:
    (console or Console()).print(score_panel(result))


def catalogue_table(
    definitions: dict[str, ScoreDefinition], not_supported: dict[str, str] | None = None
) -> Table:
    """The catalogue: key, description, range (or kind), source; then the scores not supported and why."""
    table = Table(title="spinemets scores", show_lines=False)
    table.add_column("Name")
    table.add_column("Score")
    table.add_column("Range", justify="right")
    table.add_column("Source")
    for key, d in definitions.items():
        lo, hi = d.range
        span = (
            f"{lo}-{hi}"
            if d.kind is ScoreKind.additive
            else f"{d.kind.value}: {d.items[0].category_keys[0]}" + (f"..{d.items[0].category_keys[-1]}")
        )
        table.add_row(key, d.description, span, "; ".join(r.short() for r in d.citations))
    for key, why in (not_supported or {}).items():
        table.add_row(key, Text(f"not supported: {why}", style="dim"), "-", "")
    return table


def _derivation_text(d: Derivation) -> str:
    if isinstance(d, Bins):
        unit = f" ({d.unit})" if d.unit else ""
        return f"`{d.input}`{unit}: {d.describe}"
    if isinstance(d, Subscore):
        return f"`{d.input}` or the {d.definition.name} items: {d.describe}"
    return f"`{d.input}`: {d.describe if len(d.describe) < 90 else d.describe.split(':')[0]}"


def catalogue_markdown(
    definitions: dict[str, ScoreDefinition],
    not_supported: dict[str, str],
    options: dict[str, tuple[Option, ...]] | None = None,
) -> str:
    """docs/scores.md: every score's items, points, raw inputs, bands and citations, from the data."""
    lines = [
        "# Score catalogue",
        "",
        "Generated from `spinemets.SCORES` by `spinemets.render.score_text.catalogue_markdown` (a test keeps "
        "this file in sync). Conflicts between sources and how each was settled: [conflicts.md](conflicts.md).",
        "",
    ]
    for key, d in definitions.items():
        lo, hi = d.range
        lines += [f"## `{key}`: {d.name} ({d.version})", "", d.description, ""]
        lines += [f"- Kind: {d.kind.value}; unit of scoring: {d.unit_of_scoring}; range {lo}-{hi}."]
        if d.ceiling is not None:
            lines += [
                f"- Published ceiling {d.ceiling}: a higher sum of item points is reported as {d.ceiling}."
            ]
        for o in (options or {}).get(key, ()):
            lines.append(
                f"- Option `{o.name}`: {' / '.join(o.choices)} (default `{o.default}`): {o.describe}."
            )
        lines += [f"- Cites: {cited(d.citations)}", ""]
        lines += ["| Item | Category | Points |", "|---|---|---|"]
        for item in d.items:
            for i, c in enumerate(item.categories):
                lines.append(f"| {f'`{item.key}`' if i == 0 else ''} | `{c.key}`: {c.label} | {c.points} |")
        raw = [(item.key, dv) for item in d.items for dv in item.derivations]
        if raw:
            lines += ["", "Raw inputs accepted in calculator mode:", ""]
            lines += [f"- {item_key} <- {_derivation_text(dv)}" for item_key, dv in raw]
        lines += ["", "| Band | Totals | Meaning |", "|---|---|---|"]
        for b in d.bands:
            lines.append(f"| {b.label} | {b.low}-{b.high} | {b.meaning} |")
        if d.notes:
            lines += ["", *[f"- {n}" for n in d.notes]]
        lines.append("")
    lines += ["## Not supported", ""]
    lines += [f"- `{key}`: {why}" for key, why in not_supported.items()]
    lines.append("")
    return "\n".join(lines)
