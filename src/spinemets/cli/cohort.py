"""``spinemets cohort score|lesions|validate|synth|inputs``: registry-scale scoring and survival validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from spinemets.cohort import DEFAULT_CHUNK_ROWS
from spinemets.errors import Interrupted, InvalidInputError

COLUMNS_SHOWN = 20
"""Unread input columns named on the terminal (all of them are in the summary JSON)."""


def _options(raw: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw or []:
        if "=" not in item:
            raise InvalidInputError("--option", item, "NAME=VALUE, e.g. --option ecog_convention=alternative")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _count(n: int, noun: str) -> str:
    """'1 row', '2 rows', '1,500 rows'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def register(app: typer.Typer) -> None:
    cohort = typer.Typer(
        name="cohort",
        help="Score registries (CSV/Parquet, local or Dask) and validate scores against survival.",
        no_args_is_help=True,
    )

    @cohort.command("score")
    def score_cmd(
        input: Annotated[Path, typer.Argument(help="Registry file, .csv or .parquet.")],
        output: Annotated[
            Path, typer.Option("--output", "-o", help="Scored file: .csv, .parquet or .duckdb (a table).")
        ],
        mapping: Annotated[
            Path | None, typer.Option("--mapping", help="Column/code mapping YAML (docs/cohort.md).")
        ] = None,
        errors: Annotated[
            Path | None,
            typer.Option(
                "--errors",
                help="Error file (default: <output stem>.errors.csv, e.g. scored.errors.csv for -o scored.parquet).",
            ),
        ] = None,
        engine: Annotated[str, typer.Option("--engine", help="local or dask.")] = "local",
        scheduler: Annotated[
            str | None, typer.Option("--scheduler", help="Dask scheduler, e.g. tcp://host:8786.")
        ] = None,
        chunk_rows: Annotated[
            int, typer.Option("--chunk-rows", min=1000, help="Rows per chunk.")
        ] = DEFAULT_CHUNK_ROWS,
        item_points: Annotated[
            bool, typer.Option("--item-points", help="Also write one points column per item.")
        ] = False,
        option: Annotated[
            list[str] | None, typer.Option("--option", help="Score option NAME=VALUE, repeatable.")
        ] = None,
        keep: Annotated[
            list[str] | None,
            typer.Option("--keep", help="Input column to carry into the output (repeatable; default all)."),
        ] = None,
        table: Annotated[
            str | None,
            typer.Option("--table", help="With a .duckdb output: the table to (re)write (default scores)."),
        ] = None,
    ) -> None:
        """Compute every score for every row; unknown codes and out-of-range values go to the error file."""
        from rich.console import Console

        from spinemets.cohort.mapping import load_mapping
        from spinemets.cohort.run import (
            DEFAULT_DUCKDB_TABLE,
            Engine,
            FileFormat,
            file_format,
            score_file,
            specs_with_options,
        )

        if engine not in {e.value for e in Engine}:
            raise InvalidInputError("--engine", engine, [e.value for e in Engine])
        if table is not None and file_format(output, allow_duckdb=True) is not FileFormat.duckdb:
            raise InvalidInputError("--table", table, "given only with a .duckdb output (-o scores.duckdb)")
        specs = specs_with_options(_options(option))
        loaded = load_mapping(mapping, specs) if mapping is not None else None
        try:
            summary = score_file(
                input,
                output,
                mapping=loaded,
                errors=errors,
                engine=Engine(engine),
                scheduler=scheduler,
                chunk_rows=chunk_rows,
                item_points=item_points,
                options=_options(option),
                keep=keep,
                duckdb_table=table or DEFAULT_DUCKDB_TABLE,
            )
        except KeyboardInterrupt as exc:  # Typer would turn it into a silent exit 130
            # Interrupted: stopped while writing, the output as it was; otherwise before or after
            typer.echo(str(exc) if isinstance(exc, Interrupted) else "interrupted", err=True)
            raise typer.Exit(130) from None
        console = Console(stderr=True, soft_wrap=True)  # piped: paths stay on one line
        label = " [bold red]SYNTHETIC DATA[/]" if summary.synthetic else ""
        console.print(
            f"scored {summary.rows:,} rows x {len(summary.scores)} scores in {summary.seconds:.2f} s "
            f"({summary.rows_per_second:,.0f} rows/s, engine {summary.engine.value}){label}"
        )
        where = (
            f" (table {table or DEFAULT_DUCKDB_TABLE})"
            if file_format(output, allow_duckdb=True) is FileFormat.duckdb
            else ""
        )
        console.print(f"definitions version {summary.definitions_version} -> {summary.output}{where}")
        if summary.error_count:
            console.print(
                f"[yellow]{_count(summary.invalid_values, 'invalid value')} in "
                f"{_count(summary.rows_with_errors, 'row')}[/] -> {summary.errors_file} "
                f"({_count(summary.error_count, 'line')}: one per score that reads the value)"
            )
            for col, n in summary.errors_by_column.items():
                console.print(f"  {col}: {n:,}")
        else:
            console.print(f"no invalid values (error file {summary.errors_file} is empty)")
        if not summary.columns_read:
            console.print(
                "[bold yellow]no column of the input is read by any score[/]: every score lacks all its "
                "items. Name the columns as `spinemets cohort inputs` lists them, or map them (--mapping)."
            )
        if summary.columns_not_read:
            shown = ", ".join(summary.columns_not_read[:COLUMNS_SHOWN])
            more = len(summary.columns_not_read) - COLUMNS_SHOWN
            console.print(
                f"columns no score reads: {shown}"
                + (f" and {more} more (see the summary file)" if more > 0 else "")
            )

    @cohort.command("validate")
    def validate_cmd(
        scored: Annotated[Path, typer.Argument(help="A file written by `spinemets cohort score`.")],
        time: Annotated[str, typer.Option("--time", help="Column with follow-up time.")],
        event: Annotated[str, typer.Option("--event", help="Column with the event (1 death, 0 censored).")],
        unit: Annotated[
            str, typer.Option("--unit", help="Unit of --time: days, weeks, months, years.")
        ] = "months",
        out: Annotated[Path, typer.Option("--output", "-o", help="Report directory.")] = Path("validation"),
        bootstrap: Annotated[
            int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for C.")
        ] = 200,
        seed: Annotated[
            int, typer.Option("--seed", min=0, help="Random seed of the bootstrap and --sample (0 or more).")
        ] = 0,
        sample: Annotated[
            int | None, typer.Option("--sample", min=10, help="Validate a random sample of N rows.")
        ] = None,
        score: Annotated[
            list[str] | None, typer.Option("--score", help="Only these scores (repeatable).")
        ] = None,
        table: Annotated[
            str, typer.Option("--table", help="When SCORED is a .duckdb database: the table to read.")
        ] = "scores",
    ) -> None:
        """Kaplan-Meier by band, medians with CI, Harrell's C with bootstrap CI, time-dependent AUC, HTML."""
        from spinemets.cohort.validate import follow_up_text, validate_file

        summary = validate_file(
            scored,
            time=time,
            event=event,
            unit=unit,
            out_dir=out,
            bootstrap=bootstrap,
            seed=seed,
            scores=score,
            sample=sample,
            table=table,
        )
        typer.echo(f"report: {out / 'report.html'}  summary: {out / 'summary.json'}")
        excluded = summary["rows_excluded_missing_time_or_event"]
        typer.echo(
            f"{summary['rows_used']:,} rows used"
            + (
                f" (a seeded sample of {summary['sampled_rows']:,} of the file's {summary['rows_in_file']:,} rows)"
                if summary["sampled_rows"]
                else ""
            )
            + (
                f"; {excluded:,} excluded for a missing time or event (time missing in "
                f"{summary['rows_missing_time']:,}, event in {summary['rows_missing_event']:,})"
                if excluded
                else ""
            )
        )
        typer.echo(follow_up_text(summary["follow_up"]))
        if summary["synthetic"]:
            typer.echo(
                "SYNTHETIC DATA: these figures reflect the generator's assumptions, not real patients."
            )
        for key, s in summary["scores"].items():
            c = s.get("c_index")
            if c is not None:
                ci = f" ({c['low']:.3f}-{c['high']:.3f})" if c["low"] is not None else ""
                typer.echo(f"  {key}: n={s['n']}, C={c['estimate']:.3f}{ci} [{s['survival_direction']}]")
            elif s["survival_direction"] != "not_prognostic" and s.get("c_index_not_computed"):
                typer.echo(f"  {key}: n={s['n']}, C not computed: {s['c_index_not_computed']}")

    @cohort.command("synth")
    def synth_cmd(
        n: Annotated[int, typer.Argument(min=1, help="Number of synthetic patients.")],
        output: Annotated[Path, typer.Option("--output", "-o", help=".csv or .parquet")],
        seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed (0 or more).")] = 0,
        survival_from: Annotated[
            str | None,
            typer.Option(
                "--survival-from",
                help="Simulate survival from this score's published band expectations (e.g. tokuhashi_revised).",
            ),
        ] = None,
    ) -> None:
        """Write a SYNTHETIC cohort (inputs for every score, survival from documented assumptions)."""
        from spinemets.cohort.synth import write_synth

        write_synth(n, output, seed=seed, survival_from=survival_from)
        how = f"; survival from the {survival_from} band expectations" if survival_from else ""
        typer.echo(f"wrote {n:,} SYNTHETIC patients to {output} (not real data; see docs/cohort.md){how}")

    @cohort.command("lesions")
    def lesions_cmd(
        scored: Annotated[
            Path, typer.Argument(help="A one-row-per-lesion file scored by `spinemets cohort score`.")
        ],
        id_column: Annotated[str, typer.Option("--id", help="Column with the patient identifier.")],
        output: Annotated[
            Path, typer.Option("--output", "-o", help="One row per patient: .csv or .parquet.")
        ],
        level: Annotated[str, typer.Option("--level", help="Column with each lesion's level.")] = "level",
        errors: Annotated[
            Path | None,
            typer.Option(
                "--errors",
                help="Disagreement file (default: <output stem>.errors.csv, e.g. patients.errors.csv).",
            ),
        ] = None,
        lesion_column: Annotated[
            list[str] | None,
            typer.Option("--lesion-column", help="Another column that differs by lesion (repeatable)."),
        ] = None,
        option: Annotated[
            list[str] | None, typer.Option("--option", help="Score option used when scoring, NAME=VALUE.")
        ] = None,
    ) -> None:
        """One row per patient: lesion scores from the worst lesion, patient-level values checked."""
        from spinemets.cohort.lesions import aggregate_file

        s = aggregate_file(
            scored,
            output,
            id_column,
            errors=errors,
            level_column=level,
            options=_options(option),
            lesion_columns=lesion_column or (),
        )
        label = " SYNTHETIC DATA" if s.synthetic else ""
        typer.echo(
            f"{s.rows:,} lesion rows -> {s.patients:,} patients (up to {s.max_lesions} lesions){label}"
        )
        for key in s.lesion_scores:
            typer.echo(
                f"  {key}: worst lesion shown; minimum raised by another lesion for "
                f"{s.raised_by_another_lesion[key]:,}; invalid input {s.input_errors[key]:,}"
            )
        typer.echo(f"definitions version {s.definitions_version} -> {s.output}")
        if s.disagreements:
            typer.echo(
                f"{s.disagreements:,} disagreeing values in {s.patients_with_disagreements:,} patients "
                f"(left empty) -> {s.errors_file}"
            )
        else:
            typer.echo(f"patient-level values agree on every row (error file {s.errors_file} is empty)")

    @cohort.command("inputs")
    def inputs_cmd(
        as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    ) -> None:
        """The column names a registry file may use (map yours onto these), and which scores read them."""
        from spinemets.cohort.mapping import accepted_inputs
        from spinemets.scores import SPECS

        names = accepted_inputs(SPECS)
        if as_json:
            typer.echo(json.dumps(names, indent=2))
            return
        for name, scores in names.items():
            typer.echo(f"{name:32s} {', '.join(scores)}")

    app.add_typer(cohort)
