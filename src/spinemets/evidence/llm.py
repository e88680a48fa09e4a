"""Optional synthesis of an answer by a language model behind an OpenAI-compatible endpoint.

Nothing here runs unless the caller passes an :class:`LLMConfig` (URL and model are explicit; the
library reads no environment variables). The model is given only the retrieved statements, each
with its id, and must return JSON whose every sentence cites statement ids. Before the answer is
shown each cited id is checked against the retrieved set; a sentence without ids, an id that was not
retrieved, or a malformed reply rejects the synthesis and the extractive answer is kept, with a
notice saying why.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinemets.errors import SpinemetsError
from spinemets.evidence.statements import EvidenceStatement

SYSTEM_PROMPT = (
    "You are a clinical evidence summariser for spinal metastases. Answer ONLY from the numbered "
    "statements given. Do not add facts. Every sentence must cite the ids of the statements it uses. "
    'Reply with JSON only: {"summary": [{"text": str, "ids": [str]}], "key_considerations": [...], '
    '"rationale": [...]}.'
)


class SynthesisError(SpinemetsError):
    """The language model could not be reached or its reply failed validation."""


class LLMConfig(BaseModel):
    """Where and how to call an OpenAI-compatible chat-completions endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    """E.g. ``http://127.0.0.1:8000/v1``; ``/chat/completions`` is appended."""
    model: str
    api_key: str | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    temperature: float = Field(default=0.0, ge=0, le=2)


class LLMSentence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    ids: list[str] = Field(min_length=1)


class LLMReply(BaseModel):
    """The JSON the model must return."""

    model_config = ConfigDict(extra="ignore")

    summary: list[LLMSentence] = Field(min_length=1)
    key_considerations: list[LLMSentence] = []
    rationale: list[LLMSentence] = []


def build_messages(question: str, statements: Sequence[EvidenceStatement]) -> list[dict[str, str]]:
    """Chat messages holding the question and only the retrieved statements."""
    listing = "\n".join(f"[{s.id}] ({s.kind}; certainty {s.certainty}) {s.text}" for s in statements)
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Question: {question}\n\nStatements:\n{listing}"},
    ]


def _post(config: LLMConfig, payload: dict[str, object]) -> dict[str, object]:
    url = config.base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=config.timeout_s) as resp:
            body = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError, OSError) as exc:
        raise SynthesisError(f"LLM endpoint {url} failed: {exc}") from exc
    if not isinstance(body, dict):
        raise SynthesisError(f"LLM endpoint {url} returned {type(body).__name__}, expected an object")
    return body


def _content(body: dict[str, object]) -> str:
    """The assistant text of a chat-completions reply, without a Markdown code fence."""
    try:
        choices = body["choices"]
        if not isinstance(choices, list):
            raise TypeError("choices is not a list")
        content = choices[0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise SynthesisError("LLM reply has no choices[0].message.content") from exc
    if not isinstance(content, str):
        raise SynthesisError("LLM reply content is not text")
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("{") :]
    return text


def synthesise(config: LLMConfig, question: str, statements: Sequence[EvidenceStatement]) -> LLMReply:
    """Ask the model; return its reply only if every sentence cites retrieved statement ids."""
    payload: dict[str, object] = {
        "model": config.model,
        "messages": build_messages(question, statements),
        "temperature": config.temperature,
    }
    text = _content(_post(config, payload))
    try:
        reply = LLMReply.model_validate_json(text)
    except ValidationError as exc:
        raise SynthesisError(f"LLM reply is not the expected JSON: {exc.errors()[0]['msg']}") from exc
    allowed = {s.id for s in statements}
    for part in (reply.summary, reply.key_considerations, reply.rationale):
        for sentence in part:
            unknown = [i for i in sentence.ids if i not in allowed]
            if unknown:
                raise SynthesisError(
                    f"LLM cited statement id(s) {unknown} that were not retrieved "
                    f"(allowed: {sorted(allowed)}); answer rejected"
                )
    return reply
