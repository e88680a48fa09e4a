"""Guideline-backed question answering over a curated, reviewable evidence base.

    ask("How to diagnose recurrence after surgery and radiation?") -> Answer

Statements (``spinemets/knowledge/evidence/*.yaml``) are retrieved with BM25 plus a medical
abbreviation/synonym layer (optionally fused with dense retrieval), and composed extractively into
a summary, key considerations, rationale and numbered references; every sentence carries the ids
of the statements it comes from. Heavy libraries (bm25s, numpy, the embedding model) load on first
use only.
"""

from spinemets.evidence.answer import Answer, AnswerReference, AnswerSentence
from spinemets.evidence.llm import LLMConfig, SynthesisError
from spinemets.evidence.qa import ask
from spinemets.evidence.statements import EvidenceStatement, Topic, load_statements

__all__ = [
    "Answer",
    "AnswerReference",
    "AnswerSentence",
    "EvidenceStatement",
    "LLMConfig",
    "SynthesisError",
    "Topic",
    "ask",
    "load_statements",
]
