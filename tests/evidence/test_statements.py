"""The curated evidence base: size, coverage of topics, and the loader's validation errors."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from spinemets.errors import KnowledgeBaseError
from spinemets.evidence.statements import (
    Certainty,
    Topic,
    load_statements,
    read_statement_files,
    validate_statements,
)
from spinemets.knowledge.bibliography import load_bibliography

GOOD = """
- id: test-one
  topics: [imaging]
  kind: fact
  certainty: V
  sources: [{id: nl-wm-2015, section: Beeldvormend onderzoek}]
  text: MRI of the whole spine is the first choice.
  last_reviewed: 2026-11-21
"""


def test_at_least_300_statements_with_unique_ids() -> None:
    statements = load_statements()
    assert len(statements) >= 300
    assert len({s.id for s in statements}) == len(statements)


def test_every_topic_has_statements() -> None:
    used = {t for s in load_statements() for t in s.topics}
    assert set(Topic) - used == set()


def test_every_source_id_is_in_the_bibliography() -> None:
    bib = load_bibliography()
    for s in load_statements():
        for src in s.sources:
            assert src.id in bib, (s.id, src.id)


def test_every_seed_is_cited() -> None:
    cited = {src.id for s in load_statements() for src in s.sources}
    assert {"seed-000", "seed-001", "seed-002", "seed-003", "delank2011"} <= cited


def test_recalled_facts_say_they_are_unverified() -> None:
    for s in load_statements():
        if s.certainty is Certainty.K:
            assert "unverified" in s.text.lower(), s.id


def test_penile_cancer_facts_stay_in_the_inguinal_branch() -> None:
    """guidelines.md 12.6: penile-cancer figures must not leak into generic spinal advice."""
    for s in load_statements():
        if re.search(r"\bpenile\b", s.text, re.I):
            assert {Topic.penile_cancer, Topic.inguinal_lymphadenopathy, Topic.conflicts} & set(s.topics), (
                s.id
            )


def test_every_statement_was_reviewed_since_the_evidence_base_began() -> None:
    dates = {s.last_reviewed for s in load_statements()}
    assert min(dates) >= dt.date(2026, 11, 21) and max(dates) <= dt.date.today()


def test_valid_file_parses() -> None:
    (st,) = validate_statements({"t.yaml": GOOD})
    assert st.id == "test-one" and st.sources[0].section == "Beeldvormend onderzoek"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("  kind: fact", "  kind: fact\n  colour: red"),
            r"t\.yaml entry 0 \('test-one'\).*colour",
        ),
        (
            lambda t: t.replace("MRI of the whole spine is the first choice.", "'   '"),
            r"test-one.*text must not be empty",
        ),
        (
            lambda t: t.replace("id: nl-wm-2015", "id: no-such-ref"),
            r"test-one.*unknown source id 'no-such-ref'",
        ),
        (lambda t: t.replace("certainty: V", "certainty: K"), r"test-one.*unverified"),
        (lambda t: t.replace("topics: [imaging]", "topics: [astrology]"), r"test-one.*topics"),
        (lambda t: t.replace("topics: [imaging]", "topics: []"), r"test-one.*topics"),
        (lambda t: t.replace("id: test-one", "id: Test One"), r"entry 0.*slug"),
        (lambda t: t + "  see_also: [nowhere]\n", r"see_also 'nowhere'"),
        (lambda t: t.replace("  last_reviewed: 2026-11-21\n", ""), r"test-one.*last_reviewed"),
        (lambda t: "{not: a list}", r"expected a list"),
        (lambda t: "- [unclosed", r"not valid YAML"),
    ],
)
def test_loader_rejects_bad_entries(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KnowledgeBaseError, match=message):
        validate_statements({"t.yaml": edit(GOOD)})


def test_duplicate_id_across_files_names_both_files() -> None:
    with pytest.raises(KnowledgeBaseError, match=r"b\.yaml.*'test-one'.*duplicate id.*a\.yaml"):
        validate_statements({"a.yaml": GOOD, "b.yaml": GOOD})


def test_packaged_files_are_one_per_area() -> None:
    names = set(read_statement_files())
    assert {"imaging.yaml", "radiotherapy.yaml", "surgery.yaml", "inguinal.yaml", "conflicts.yaml"} <= names


def test_every_statement_is_found_by_its_own_text() -> None:
    """No statement is unreachable: searching its own text ranks it in the top 3."""
    from spinemets.evidence.retrieval import search

    for s in load_statements():
        assert s.id in [h.statement_id for h in search(s.text, 3).hits], s.id
