"""Optional LLM synthesis against a local fake OpenAI-compatible server (127.0.0.1, no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from spinemets.evidence import LLMConfig, ask
from spinemets.evidence.answer import Synthesis
from spinemets.evidence.llm import SynthesisError, synthesise
from spinemets.evidence.statements import statements_by_id

QUESTION = "What dose of dexamethasone for MSCC with neurological deficit?"


class FakeLLM:
    """Serves /v1/chat/completions with a reply built from the request; records every request."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.reply = lambda ids: {"summary": [{"text": "Give 16 mg dexamethasone.", "ids": ids[:1]}]}
        self.raw: str | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                prompt = body["messages"][-1]["content"]
                ids = [line[1 : line.index("]")] for line in prompt.splitlines() if line.startswith("[")]
                content = fake.raw if fake.raw is not None else json.dumps(fake.reply(ids))
                out = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": content}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    yield fake
    fake.close()


def test_llm_answer_uses_only_retrieved_statements(fake_llm: FakeLLM) -> None:
    fake_llm.reply = lambda ids: {
        "summary": [{"text": "Offer 16 mg dexamethasone as soon as possible.", "ids": ids[:1]}],
        "key_considerations": [{"text": "High doses add harm without benefit.", "ids": ids[1:3]}],
    }
    a = ask(QUESTION, llm=LLMConfig(base_url=fake_llm.url, model="fake-1"))
    assert a.synthesis is Synthesis.llm
    assert a.summary[0].text == "Offer 16 mg dexamethasone as soon as possible."
    (request,) = fake_llm.requests
    assert request["model"] == "fake-1" and request["temperature"] == 0.0
    prompt = request["messages"][-1]["content"]
    retrieved = {h.statement_id for h in a.retrieved}
    sent = {line[1 : line.index("]")] for line in prompt.splitlines() if line.startswith("[")}
    assert sent == retrieved
    others = set(statements_by_id()) - retrieved
    assert not any(f"[{o}]" in prompt for o in others)
    assert set(a.cited_statement_ids) <= retrieved
    numbers = {r.number for r in a.references}
    assert all(set(s.reference_numbers) <= numbers for s in a.sentences)


def test_llm_citing_an_unretrieved_statement_is_rejected(fake_llm: FakeLLM) -> None:
    fake_llm.reply = lambda ids: {"summary": [{"text": "Invented claim.", "ids": ["surg-patchell-walking"]}]}
    baseline = ask(QUESTION)
    a = ask(QUESTION, llm=LLMConfig(base_url=fake_llm.url, model="fake-1"))
    assert "surg-patchell-walking" not in {h.statement_id for h in a.retrieved}
    assert a.synthesis is Synthesis.extractive
    assert a.summary == baseline.summary
    assert "surg-patchell-walking" in (a.notice or "") and "not retrieved" in (a.notice or "")


@pytest.mark.parametrize(
    "raw",
    [
        "not json at all",
        json.dumps({"summary": []}),
        json.dumps({"summary": [{"text": "No ids.", "ids": []}]}),
        json.dumps({"summary": [{"text": "", "ids": ["x"]}]}),
    ],
)
def test_malformed_llm_reply_keeps_the_extractive_answer(fake_llm: FakeLLM, raw: str) -> None:
    fake_llm.raw = raw
    a = ask(QUESTION, llm=LLMConfig(base_url=fake_llm.url, model="fake-1"))
    assert a.synthesis is Synthesis.extractive
    assert "LLM synthesis not used" in (a.notice or "")


def test_fenced_json_reply_is_accepted(fake_llm: FakeLLM) -> None:
    fake_llm.raw = None
    fake_llm.reply = lambda ids: {"summary": [{"text": "Fenced.", "ids": ids[:1]}]}
    inner = json.dumps(fake_llm.reply(["ster-nice-16mg-neuro"]))
    fake_llm.raw = f"```json\n{inner}\n```"
    statements = [statements_by_id()["ster-nice-16mg-neuro"]]
    reply = synthesise(LLMConfig(base_url=fake_llm.url, model="m"), QUESTION, statements)
    assert reply.summary[0].ids == ["ster-nice-16mg-neuro"]


def test_api_key_is_sent_as_bearer_token(fake_llm: FakeLLM) -> None:
    ask(QUESTION, llm=LLMConfig(base_url=fake_llm.url + "/", model="m", api_key="secret-token"))
    assert fake_llm.headers[0]["Authorization"] == "Bearer secret-token"


def test_unreachable_endpoint_keeps_the_extractive_answer() -> None:
    fake = FakeLLM()
    url = fake.url
    fake.close()
    a = ask(QUESTION, llm=LLMConfig(base_url=url, model="m", timeout_s=2))
    assert a.synthesis is Synthesis.extractive
    assert "failed" in (a.notice or "")
    with pytest.raises(SynthesisError, match="failed"):
        synthesise(LLMConfig(base_url=url, model="m", timeout_s=2), QUESTION, [])


def test_not_covered_question_never_calls_the_model(fake_llm: FakeLLM) -> None:
    a = ask("How do I bake a chocolate cake?", llm=LLMConfig(base_url=fake_llm.url, model="m"))
    assert not a.covered and fake_llm.requests == []


def test_config_is_explicit_and_closed() -> None:
    with pytest.raises(ValueError, match="extra"):
        LLMConfig(base_url="http://127.0.0.1:1/v1", model="m", temperature=0, colour="red")  # type: ignore[call-arg]
