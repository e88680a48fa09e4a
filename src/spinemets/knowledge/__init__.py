"""Curated clinical knowledge kept as reviewable data: bibliography, histology table, evidence."""
