"""Curated evidence statements (YAML, one file per area); loaded by spinemets.evidence.statements."""
