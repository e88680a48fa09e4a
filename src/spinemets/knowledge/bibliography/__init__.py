"""The shared bibliography: every score, rule and evidence statement cites an entry here.

Entries live in YAML files in this package (one file per area, e.g. ``scores.yaml``,
``guidelines.yaml``, ``evidence.yaml``) so that each area can be reviewed on its own; they are
merged on load and checked: unknown keys, missing fields and duplicate ids are errors.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from spinemets.errors import KnowledgeBaseError
from spinemets.knowledge.yaml_text import load_yaml

Certainty = Literal["S", "V", "V2", "K"]
Kind = Literal["article", "guideline", "trial", "review", "book", "web", "seed"]


class Reference(BaseModel):
    """One bibliography entry, citable by its ``id``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    authors: str
    year: int
    title: str
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    url: str | None = None
    section: str | None = None
    kind: Kind = "article"
    certainty: Certainty = "S"
    """How sure the bibliographic details are: S/V seen in a source, V2 via a secondary digest,
    K recalled (to be checked against the primary document)."""

    @field_validator("id")
    @classmethod
    def _id_slug(cls, v: str) -> str:
        if not v or any(c.isspace() for c in v):
            raise ValueError("id must be a non-empty slug without spaces")
        return v

    def short(self) -> str:
        """`Fisher CG et al. 2010, Spine` style label for tight spaces."""
        first = self.authors.split(",")[0].strip()
        et_al = " et al." if "," in self.authors else ""
        where = f", {self.journal}" if self.journal else ""
        return f"{first}{et_al} {self.year}{where}"

    def vancouver(self) -> str:
        """A full citation string (authors. title. journal year;volume(issue):pages. doi)."""
        parts = [f"{self.authors.rstrip('.')}.", f"{self.title.rstrip('.')}."]
        src = self.journal or ""
        if src:
            loc = f"{src} {self.year}"
            if self.volume:
                loc += f";{self.volume}"
                if self.issue:
                    loc += f"({self.issue})"
            if self.pages:
                loc += f":{self.pages}"
            parts.append(loc + ".")
        else:
            parts.append(f"{self.year}.")
        if self.section:
            parts.append(f"Section: {self.section}.")
        if self.doi:
            parts.append(f"doi:{self.doi}")
        elif self.url:
            parts.append(self.url)
        return " ".join(parts)

    @property
    def link(self) -> str | None:
        if self.doi:
            return f"https://doi.org/{self.doi}"
        return self.url


@cache
def load_bibliography() -> dict[str, Reference]:
    """All entries of every ``*.yaml`` file in this package, keyed by id (cached)."""
    entries: dict[str, Reference] = {}
    files = sorted(
        (f for f in resources.files(__package__).iterdir() if f.name.endswith(".yaml")),
        key=lambda f: f.name,
    )
    for f in files:
        raw = load_yaml(f.read_text(encoding="utf-8")) or []
        if not isinstance(raw, list):
            raise KnowledgeBaseError(f"bibliography/{f.name}: expected a list of entries")
        for i, item in enumerate(raw):
            try:
                ref = Reference.model_validate(item)
            except ValidationError as exc:
                raise KnowledgeBaseError(f"bibliography/{f.name} entry {i}: {exc}") from exc
            if ref.id in entries:
                raise KnowledgeBaseError(f"bibliography/{f.name}: duplicate id {ref.id!r}")
            entries[ref.id] = ref
    return entries


def get_reference(ref_id: str) -> Reference:
    """The entry with this id; an unknown id is a :class:`KnowledgeBaseError`."""
    bib = load_bibliography()
    try:
        return bib[ref_id]
    except KeyError:
        raise KnowledgeBaseError(f"unknown bibliography id {ref_id!r}") from None
