"""Renderers: turn results into text (rich), JSON, Markdown, HTML and PDF. They never compute."""
