"""``spinemets ask "question"``: guideline-backed answer from the curated evidence base."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class AnswerFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def register(app: typer.Typer) -> None:
    @app.command("ask")
    def ask_cmd(
        question: Annotated[str, typer.Argument(help="Free-text clinical question, in quotes.")],
        fmt: Annotated[
            AnswerFormat, typer.Option("--format", "-f", help="text, json or markdown.")
        ] = AnswerFormat.text,
        k: Annotated[int, typer.Option("--k", "-k", help="Statements to retrieve (1-50).")] = 5,
        hybrid: Annotated[
            bool,
            typer.Option("--hybrid", help="Fuse BM25 with dense retrieval (needs spinemets\\[semantic])."),
        ] = False,
        llm_url: Annotated[
            str | None,
            typer.Option("--llm-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1."),
        ] = None,
        llm_model: Annotated[
            str | None, typer.Option("--llm-model", help="Model name for --llm-url.")
        ] = None,
        llm_api_key: Annotated[
            str | None, typer.Option("--llm-api-key", help="Bearer token, if needed.")
        ] = None,
        cache_dir: Annotated[
            Path | None,
            typer.Option("--cache-dir", help="Where to cache the search index (default ~/.cache/spinemets)."),
        ] = None,
        no_cache: Annotated[bool, typer.Option("--no-cache", help="Build the index in memory only.")] = False,
    ) -> None:
        """Answer a question with cited statements: summary, key considerations, rationale, references."""
        from spinemets.errors import InvalidInputError
        from spinemets.evidence import LLMConfig, ask

        llm = None
        if llm_url or llm_model:
            if not (llm_url and llm_model):
                raise InvalidInputError(
                    "--llm-url/--llm-model", llm_url or llm_model, "both options together"
                )
            llm = LLMConfig(base_url=llm_url, model=llm_model, api_key=llm_api_key)
        if no_cache:
            cache_dir = None
        elif cache_dir is None:
            cache_dir = Path.home() / ".cache" / "spinemets"
        answer = ask(question, k=k, hybrid=hybrid, llm=llm, cache_dir=cache_dir)
        typer.echo(answer.render(fmt.value), nl=False)
