"""``spinemets assess``: every score and the cited management plan for one patient.

spinemets assess patient.json --format text|json|markdown|html|pdf [-o FILE]
spinemets assess --fhir bundle.json --format pdf -o board.pdf
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Paper(StrEnum):
    a4 = "A4"
    letter = "letter"


class Format(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"
    pdf = "pdf"


def register(app: typer.Typer) -> None:
    @app.command("assess")
    def assess_cmd(
        input: Annotated[
            Path | None, typer.Argument(help="Patient JSON file (spinemets patient model).")
        ] = None,
        fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write to this file instead of standard output.")
        ] = None,
        paper: Annotated[
            Paper | None,
            typer.Option(
                "--paper", help="Page size of PDF output: A4 (the default) or letter.", case_sensitive=False
            ),
        ] = None,
        fhir: Annotated[
            Path | None, typer.Option("--fhir", help="Read the patient from a FHIR R4 Bundle (JSON) instead.")
        ] = None,
    ) -> None:
        """Assess a patient: scores with their basis, and the ordered, cited management plan."""
        from spinemets.assessment import assess
        from spinemets.errors import InvalidInputError
        from spinemets.model.validation import load_patient
        from spinemets.render import render

        if output is not None:
            from spinemets.paths import check_outputs

            check_outputs({"--output": output}, input or fhir)
        if input is not None and fhir is not None:
            raise InvalidInputError(
                "input", str(input), "either a patient JSON file or --fhir bundle.json, not both"
            )
        if fhir is not None:
            from spinemets.interop.fhir import bundle_to_patient
            from spinemets.model.validation import load_json_file

            patient = bundle_to_patient(load_json_file(fhir, "--fhir", "a readable FHIR R4 Bundle in JSON"))
        elif input is not None:
            patient = load_patient(input)
        else:
            raise InvalidInputError("input", None, "a patient JSON file or --fhir bundle.json")
        result = assess(patient)
        if fmt is Format.pdf and output is None:
            raise InvalidInputError("--output", None, "a file path for PDF output (-o summary.pdf)")
        if paper is not None and fmt is not Format.pdf:  # a page size only a PDF has: not silently dropped
            raise InvalidInputError(
                "--paper", paper.value, "given only with -f pdf (the other formats have no pages)"
            )
        if output is None and fmt is Format.text:
            from spinemets.render.text import print_assessment

            print_assessment(result)
            return
        if fmt is Format.pdf:
            from spinemets.render.pdf import render_pdf

            rendered: str | bytes = render_pdf(result, paper=(paper or Paper.a4).value)
        else:
            rendered = render(result, fmt.value)
        if output is None:
            typer.echo(rendered)
            return
        from spinemets.paths import write_output

        write_output("--output", output, rendered)
        typer.echo(f"wrote {fmt.value} to {output}", err=True)
