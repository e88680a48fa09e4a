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


def _parse_items(items: list[str], flag: str = "--item") -> dict[str, str]:
    """``NAME=VALUE`` pairs; a repeated name is an error rather than a silent overwrite."""
    parsed: dict[str, str] = {}
    for raw in items:
        if "=" not in raw:
            raise InvalidInputError(flag, raw, f"NAME=VALUE, e.g. {flag} pain=mechanical")
        k, v = raw.split("=", 1)
        k = k.strip()
        if not k or not v.strip():
            raise InvalidInputError(flag, raw, f"NAME=VALUE with both parts, e.g. {flag} pain=mechanical")
        if k in parsed:
            raise InvalidInputError(flag, raw, f"each name once ({k} was already given)")
        parsed[k] = v.strip()
    return parsed


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score_cmd(
        name: Annotated[str | None, typer.Argument(help="Score name, e.g. sins (see --list).")] = None,
        item: Annotated[
            list[str] | None, typer.Option("--item", "-i", help="NAME=VALUE, repeatable.")
        ] = None,
        input: Annotated[Path | None, typer.Option("--input", help="Patient JSON file.")] = None,
        option: Annotated[
            list[str] | None,
            typer.Option(
                "--option",
                "-o",
                help="NAME=VALUE, repeatable: ecog_convention=oken1982|alternative, escc_1c=low|high.",
            ),
        ] = None,
        fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
        list_: Annotated[bool, typer.Option("--list", help="List the available scores.")] = False,
    ) -> None:
        """Compute one score in calculator mode (--item) or for a patient file (--input)."""
        from rich.console import Console

        from spinemets.model.validation import load_patient
        from spinemets.render.score_text import catalogue_table, print_score
        from spinemets.scores import NOT_SUPPORTED, SCORES, score

        if list_:
            if fmt is Format.json:
                listing = {
                    "scores": {k: d.model_dump(mode="json") for k, d in SCORES.items()},
                    "not_supported": NOT_SUPPORTED,
                }
                typer.echo(json.dumps(listing, indent=2))
            else:
                Console().print(catalogue_table(SCORES, NOT_SUPPORTED))
            return
        if name is None:
            raise InvalidInputError("score", None, sorted(SCORES), "give a score name or --list")
        options = _parse_items(option or [], "--option")
        if input and item:
            raise InvalidInputError(
                "--item", item[0], "not combined with --input (score the file, or the items)"
            )
        if input:
            result = score(name, load_patient(input), **options)
        else:
            result = score(name, {**_parse_items(item or []), **options})
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
