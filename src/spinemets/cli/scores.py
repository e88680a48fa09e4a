"""``spinemets score``, ``spinemets assess`` and ``spinemets schema``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from spinemets.errors import InvalidInputError


class Format(StrEnum):
    text = "text"
    json = "json"


def _parse_items(items: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for raw in items:
        if "=" not in raw:
            raise InvalidInputError("--item", raw, "NAME=VALUE, e.g. --item pain=mechanical")
        k, v = raw.split("=", 1)
        parsed[k.strip()] = v.strip()
    return parsed


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score_cmd(
        name: Annotated[str | None, typer.Argument(help="Score name, e.g. sins (see --list).")] = None,
        item: Annotated[
            list[str] | None, typer.Option("--item", "-i", help="NAME=VALUE, repeatable.")
        ] = None,
        input: Annotated[Path | None, typer.Option("--input", help="Patient JSON file.")] = None,
        fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
        list_: Annotated[bool, typer.Option("--list", help="List the available scores.")] = False,
    ) -> None:
        """Compute one score in calculator mode (--item) or for a patient file (--input)."""
        from rich.console import Console

        from spinemets.model.validation import load_patient
        from spinemets.render.score_text import catalogue_table, print_score
        from spinemets.scores import SCORES, score

        if list_:
            if fmt is Format.json:
                typer.echo(json.dumps({k: d.model_dump(mode="json") for k, d in SCORES.items()}, indent=2))
            else:
                Console().print(catalogue_table(SCORES))
            return
        if name is None:
            raise InvalidInputError("score", None, sorted(SCORES), "give a score name or --list")
        result = score(name, load_patient(input)) if input else score(name, _parse_items(item or []))
        if fmt is Format.json:
            typer.echo(result.model_dump_json(indent=2))
        else:
            print_score(result)

    @app.command("schema")
    def schema_cmd(
        what: Annotated[str, typer.Argument(help="patient")] = "patient",
    ) -> None:
        """Print the JSON Schema of the patient model."""
        from spinemets.model.patient import Patient

        if what != "patient":
            raise InvalidInputError("schema", what, ["patient"])
        typer.echo(json.dumps(Patient.model_json_schema(), indent=2))
