"""``spinemets ask`` end to end, and the on-disk index cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinemets.evidence.retrieval import LexicalIndex, load_or_build_index
from spinemets.evidence.statements import load_statements
from tests.conftest import run_cli as run

QUESTION = "How to diagnose recurrence of spinal metastasis after surgery and radiation?"


def test_ask_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "ask", QUESTION, "--cache-dir", str(tmp_path))
    assert code == 0
    assert out.startswith("Question: How to diagnose recurrence")
    assert "Summary" in out and "References" in out and "{fu-mri-gold-standard}" in out


def test_ask_json_round_trips(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "ask", QUESTION, "--format", "json", "--k", "3", "--cache-dir", str(tmp_path))
    payload = json.loads(out)
    assert code == 0 and payload["covered"] is True
    assert len([h for h in payload["retrieved"] if h["via"] == "bm25"]) <= 3


def test_ask_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", QUESTION, "-f", "markdown", "--no-cache")
    assert code == 0 and out.startswith("### ") and "**Key considerations**" in out


def test_ask_not_covered(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "How do I bake a chocolate cake?", "--no-cache")
    assert code == 0 and "not covered" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("ask", "MRI", "--k", "0", "--no-cache"), "k must be an integer from 1 to 50"),
        (("ask", "MRI", "--llm-url", "http://127.0.0.1:9/v1", "--no-cache"), "both options together"),
    ],
)
def test_ask_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_cache_is_written_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = load_or_build_index(tmp_path)
    (cache_file,) = tmp_path.glob("evidence-index-*.json")

    def fail(*args: object, **kwargs: object) -> LexicalIndex:
        raise AssertionError("index rebuilt although the cache is fresh")

    monkeypatch.setattr(LexicalIndex, "build", fail)
    cached = load_or_build_index(tmp_path)
    assert [s.id for s in cached.statements] == [s.id for s in built.statements]
    q = "dexamethasone dose in MSCC"
    assert cached.search(q, 5).hits == built.search(q, 5).hits
    assert cache_file.exists()


def test_corrupt_or_stale_cache_is_rebuilt(tmp_path: Path) -> None:
    load_or_build_index(tmp_path)
    (cache_file,) = tmp_path.glob("evidence-index-*.json")
    cache_file.write_text("{broken")
    stale = tmp_path / "evidence-index-0000.json"
    stale.write_text("{}")
    index = load_or_build_index(tmp_path)
    assert len(index.statements) == len(load_statements())
    assert json.loads(cache_file.read_text())["index"]["postings"]
    assert not stale.exists()


def test_unwritable_cache_dir_still_answers(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    index = load_or_build_index(blocker / "cache")
    assert index.search("SINS", 3).hits
