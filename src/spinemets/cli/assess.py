"""``spinemets assess``: every score (and the plan) for a patient file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Format(StrEnum):
    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command("assess")
    def assess_cmd(
        input: Annotated[Path, typer.Argument(help="Patient JSON file.")],
        fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
    ) -> None:
        """Assess a patient: all scores with their basis, ranges when items are missing."""
        from rich.console import Console

        from spinemets.assessment import assess
        from spinemets.model.validation import load_patient
        from spinemets.render.score_text import score_panel

        result = assess(load_patient(input))
        if fmt is Format.json:
            typer.echo(result.model_dump_json(indent=2))
            return
        console = Console()
        for res in result.scores.values():
            console.print(score_panel(res))
