"""Colour contrast of the stylesheet (WCAG 2.1 AA: 4.5:1 for text) and page landmarks."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from fastapi.testclient import TestClient

CSS = resources.files("spinemets.web").joinpath("static", "app.css").read_text(encoding="utf-8")
VARS = dict(re.findall(r"--([a-z]+):(#[0-9a-fA-F]{3,6})", CSS.split("}", 1)[0]))


def _rgb(colour: str) -> tuple[float, float, float]:
    colour = VARS.get(colour.removeprefix("--"), colour).lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return r, g, b


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_helper_matches_the_wcag_extremes() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)  # the classic just-failing grey


# (foreground, background, where it is used)
PAIRS = [
    ("--ink", "--bg", "body text"),
    ("--muted", "--bg", "hints and metadata"),
    ("--muted", "--soft", "score range in the live panel"),
    ("--accent", "--bg", "links and secondary buttons"),
    ("#fff", "--accent", "header, primary buttons"),
    ("#fff", "--emergency", "emergency banner and tag"),
    ("#fff", "--urgent", "urgent banner and tag"),
    ("#fff", "--routine", "routine banner and tag"),
    ("--routine", "#fff", "'all items recorded' in a score card"),
    ("--err", "--bg", "error messages"),
    ("--ink", "#fdecee", "error summary box"),
    ("#6b4500", "#fff4d6", "warnings"),
    ("#2f2f2f", "#eef3f8", "inline score definitions"),
    ("--ink", "#e6e6e6", "kind tags"),
]


@pytest.mark.parametrize(("fg", "bg", "where"), PAIRS, ids=[p[2] for p in PAIRS])
def test_text_colours_meet_wcag_aa(fg: str, bg: str, where: str) -> None:
    assert contrast(fg, bg) >= 4.5, f"{where}: {fg} on {bg} is {contrast(fg, bg):.2f}:1"


def test_every_colour_pair_is_in_the_stylesheet() -> None:
    """The pairs above must be real: each literal colour occurs in app.css."""
    for fg, bg, _ in PAIRS:
        for colour in (fg, bg):
            if colour.startswith("--"):
                assert colour[2:] in VARS
            else:
                assert colour in CSS


@pytest.mark.parametrize("path", ["/assess", "/history", "/ask"])
def test_pages_have_landmarks_a_language_and_one_h1(client: TestClient, path: str) -> None:
    page = client.get(path).text
    assert '<html lang="en">' in page
    assert page.count("<h1") == 1
    assert '<main id="main">' in page and '<nav aria-label="Main">' in page
    assert 'href="#main"' in page  # skip link
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
