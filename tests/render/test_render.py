"""Renderers and the ``spinemets assess`` command: every format carries the plan, basis and references."""

from __future__ import annotations

import errno
import json
import os
from functools import cache
from pathlib import Path

import pytest

from spinemets import assess
from spinemets.assessment import Assessment
from spinemets.cli import main
from spinemets.errors import InvalidInputError
from spinemets.render import FORMATS, render

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RENAL = EXAMPLES / "renal_t6_mscc_radioresistant.json"
SEED003 = EXAMPLES / "seed003_followup_after_surgery_and_radiotherapy.json"


@cache
def _assessment(path: Path) -> Assessment:
    return assess(json.loads(path.read_text(encoding="utf-8")))


def test_text_report_has_banner_basis_per_source_and_numbered_references() -> None:
    a = _assessment(RENAL)
    text = render(a, "text")
    assert isinstance(text, str)
    assert "overall urgency: EMERGENCY" in text
    assert "surgery.decompression-mscc" in text
    assert "basis: ESCC 2 at T6 (high grade)" in text
    assert a.plan is not None
    n = a.plan.reference_number("patchell2005")
    assert f"[{n}] Patchell RA" in text
    assert f"rule set {a.ruleset_version}" in text


def test_json_is_the_assessment_model_and_round_trips() -> None:
    a = _assessment(RENAL)
    out = render(a, "json")
    assert isinstance(out, str)
    data = json.loads(out)
    assert data["plan"]["ruleset_version"] == a.ruleset_version
    first = data["plan"]["recommendations"][0]
    assert set(first) >= {
        "id",
        "category",
        "kind",
        "urgency",
        "text",
        "basis",
        "citations",
        "per_source",
        "unverified",
    }
    assert Assessment.model_validate_json(out).plan == a.plan


def test_markdown_lists_every_recommendation_and_the_schedule() -> None:
    a = _assessment(SEED003)
    md = render(a, "markdown")
    assert isinstance(md, str)
    assert a.plan is not None
    for rec in a.plan.recommendations:
        assert f"`{rec.id}`" in md
    assert "## Follow-up schedule" in md
    assert "| 3 | 2026-08-12 |" in md


def test_html_escapes_and_shows_sources_side_by_side() -> None:
    a = _assessment(EXAMPLES / "lung_suspected_mscc_triage.json")
    html = render(a, "html")
    assert isinstance(html, str)
    assert 'id="imaging.mri-whole-spine-12h"' in html
    assert "<strong>Dutch guideline (NL-WM 2015)</strong>" in html
    assert "<strong>NICE NG234</strong>" in html
    assert "-&gt; points" in html


@pytest.mark.slow
def test_pdf_is_a_pdf_document() -> None:
    pdf = render(_assessment(SEED003), "pdf")
    assert isinstance(pdf, bytes)
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 5000


def test_unknown_format_names_the_allowed_formats() -> None:
    with pytest.raises(
        InvalidInputError, match="format must be one of text, json, markdown, html, pdf; got 'docx'"
    ):
        render(_assessment(RENAL), "docx")
    assert FORMATS == ("text", "json", "markdown", "html", "pdf")


def test_cli_assess_json_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    main(["assess", str(SEED003), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert any(r["id"] == "follow-up.mri-schedule" for r in data["plan"]["recommendations"])


def test_cli_assess_writes_markdown_file(tmp_path: Path) -> None:
    out = tmp_path / "plan.md"
    main(["assess", str(RENAL), "-f", "markdown", "-o", str(out)])
    assert "surgery.decompression-mscc" in out.read_text(encoding="utf-8")


def test_cli_pdf_needs_an_output_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["assess", str(RENAL), "-f", "pdf"])
    assert exc.value.code == 2
    assert "--output must be a file path" in capsys.readouterr().err


def test_cli_assess_never_writes_over_its_input_or_into_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patient = tmp_path / "patient.json"
    patient.write_text(RENAL.read_text(encoding="utf-8"), encoding="utf-8")
    cases = [
        ([str(patient), "-f", "json", "-o", str(patient)], "--output must be a file other than the input"),
        (
            [str(patient), "-f", "pdf", "-o", str(tmp_path / "no" / "s.pdf")],
            "--output must be a path in an existing folder",
        ),
        ([str(patient), "-f", "html", "-o", str(tmp_path)], "--output must be a file path"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            main(["assess", *argv])
        assert exc.value.code == 2 and capsys.readouterr().err.startswith(f"error: {message}"), argv
    assert patient.read_text(encoding="utf-8") == RENAL.read_text(encoding="utf-8")


def test_cli_reads_a_fhir_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from spinemets.interop.fhir import patient_to_bundle

    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(patient_to_bundle(_assessment(RENAL).patient)), encoding="utf-8")
    main(["assess", "--fhir", str(bundle), "-f", "json"])
    data = json.loads(capsys.readouterr().out)
    assert any(r["id"] == "noms.separation-surgery" for r in data["plan"]["recommendations"])


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_reports_show_each_scores_caveats(fmt: str) -> None:
    """The example's NESMS items add up to 4 (modified Bauer high 2, ambulation 1, albumin 1); the
    score is reported at its published ceiling of 3 (Ghori 2015, "a ceiling score of three"), which
    only the result's warning explains. The web page showed it; the reports dropped every warning."""
    a = _assessment(EXAMPLES / "breast_t12_mechanical.json")
    assert a.scores["nesms"].total == 3 and a.scores["nesms"].warnings
    out = render(a, fmt)
    assert isinstance(out, str)
    assert "the item points sum to 4" in out  # the caveat's opening (the text report wraps the rest)


def _pages(html: str) -> list[str]:
    """The text of every page as WeasyPrint lays the PDF out, margin boxes (header, footer) included."""
    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes

    def texts(box: boxes.Box) -> list[str]:
        if isinstance(box, boxes.TextBox):
            return [box.text]
        return [t for child in getattr(box, "children", ()) or () for t in texts(child)]

    return [" ".join(texts(page._page_box)) for page in HTML(string=html).render().pages]


def _overflowing(html: str) -> list[str]:
    """Text laid out beyond the right edge of its page (cut off in the PDF)."""
    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes

    out: list[str] = []

    def walk(box: boxes.Box, width: float) -> None:
        if isinstance(box, boxes.TextBox) and box.position_x + box.width > width + 0.5:
            out.append(box.text)
        for child in getattr(box, "children", ()) or ():
            walk(child, width)

    for page in HTML(string=html).render().pages:
        walk(page._page_box, page.width)
    return out


def _patient(path: Path, **changes: object) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    return data


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_reports_say_what_set_the_overall_urgency_at_the_top(fmt: str) -> None:
    """The banner said EMERGENCY; what made it so came pages later in the plan (the PDF's first
    page held the banner, the patient and half the scores). Now the recommendations that set the
    urgency follow the banner, numbered as in the plan."""
    a = _assessment(RENAL)
    assert a.plan is not None and a.plan.urgency is not None
    setting = a.plan.urgency_basis()
    out = render(a, fmt)
    assert isinstance(out, str)
    flat = " ".join(out.replace("│", " ").split())
    head = flat.split("Patient")[0]
    assert "set by" in head.lower()
    for rec in setting:
        assert " ".join(rec.text.split()[:6]) in head, rec.id


@pytest.mark.slow
def test_pdf_first_page_has_the_urgency_and_what_set_it() -> None:
    from spinemets.render.html import render_html

    a = _assessment(RENAL)
    assert a.plan is not None
    first = _pages(render_html(a, for_print=True))[0]
    assert "Overall urgency: EMERGENCY" in first and "Set by" in first
    assert "Treat as an oncological emergency" in first


@pytest.mark.slow
def test_pdf_every_page_names_patient_date_versions_and_decision_support() -> None:
    """Only the last page carried the versions and the disclaimer; the footer put the title in CSS
    with HTML escaping, so O'Brien & Co read 'O&#39;Brien &amp; Co' on every page."""
    from spinemets.render.html import render_html

    a = assess(_patient(RENAL, patient_id="O'Brien & Co"))
    pages = _pages(render_html(a, for_print=True))
    assert len(pages) > 2
    for n, page in enumerate(pages, start=1):
        assert "Patient: O'Brien & Co" in page and "&#39;" not in page and "&amp;" not in page
        assert "assessment date 2026-11-20" in page
        assert (
            f"rule set {a.ruleset_version}" in page and f"score definitions {a.definitions_version}" in page
        )
        assert "Decision support only" in page
        assert f"page {n} of {len(pages)}" in page


@pytest.mark.slow
def test_pdf_of_a_patient_without_identifier_or_date_says_so_on_every_page() -> None:
    from spinemets.render.html import render_html

    data = _patient(SEED003)
    data.pop("patient_id", None)
    data.pop("assessment_date", None)
    pages = _pages(render_html(assess(data), for_print=True))
    assert all("Patient: no patient identifier recorded" in p for p in pages)
    assert all("assessment date not recorded" in p for p in pages)


@pytest.mark.slow
def test_pdf_tables_repeat_their_header_row_on_every_page() -> None:
    """The scores table runs over a page; its header row was a plain first row, so the next page
    showed bare cells without 'Score | Result | Basis'."""
    from spinemets.render.html import render_html

    pages = _pages(render_html(_assessment(RENAL), for_print=True))
    score_pages = [p for p in pages if "possible 0-" in p]
    assert len(score_pages) >= 2
    for page in score_pages:
        assert "Score Result Basis (item: input -> points)" in page


@pytest.mark.slow
def test_pdf_keeps_long_unbroken_text_on_the_page() -> None:
    """A long identifier or free-text primary without spaces ran off the right edge (cut off)."""
    from spinemets.render.html import render_html

    primary = {"histology": "other", "histology_other": "A" * 150, "histology_confirmed": True}
    a = assess(_patient(RENAL, patient_id="ID-" + "X" * 60, primary=primary))
    assert _overflowing(render_html(a, for_print=True)) == []


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_reports_show_each_scores_scale_meaning_and_source(fmt: str) -> None:
    """The HTML/PDF showed the band's meaning and the score's sources; text and Markdown dropped
    both; no format showed the scale a total is read against (the web page says 'possible 0-18')."""
    a = _assessment(RENAL)
    sins = a.scores["sins"]
    assert sins.band is not None
    out = render(a, fmt)
    assert isinstance(out, str)
    flat = " ".join(out.replace("│", " ").split())
    assert "possible 0-18" in flat
    assert " ".join(sins.band.meaning.split()[: 1 if fmt == "text" else 4]) in flat  # text wraps columns
    assert "Fisher CG et al. 2010" in flat


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_reports_show_the_clinicians_notes(fmt: str) -> None:
    """Free-text notes are stored with the patient but no report showed them."""
    notes = "Patient declines surgery | prefers radiotherapy.\nSecond line: family meeting on Friday."
    out = render(assess(_patient(RENAL, notes=notes)), fmt)
    assert isinstance(out, str)
    flat = " ".join(out.replace("│", " ").split())
    assert "Notes (free text as recorded; not used by the rules)" in flat
    assert "prefers radiotherapy." in flat and "family meeting on Friday." in flat


def test_markdown_table_cells_stay_on_one_line() -> None:
    """A line break in a free-text fact ended the Markdown table row mid-cell."""
    primary = {"histology": "other", "histology_other": "clear cell\nvariant", "histology_confirmed": True}
    md = render(assess(_patient(RENAL, primary=primary)), "markdown")
    assert isinstance(md, str)
    assert "| Primary | clear cell variant (tissue-confirmed) |" in md


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_reports_state_a_missing_identifier_and_date(fmt: str) -> None:
    data = _patient(SEED003)
    data.pop("patient_id", None)
    data.pop("assessment_date", None)
    out = render(assess(data), fmt)
    assert isinstance(out, str)
    assert "no patient identifier recorded" in out
    flat = " ".join(out.replace("│", " ").replace("|", " ").replace("<td>", " ").split())
    assert "Assessment date not recorded" in flat.replace("</th>", "")


def test_html_citation_marks_link_to_their_reference() -> None:
    a = _assessment(RENAL)
    assert a.plan is not None
    html = render(a, "html")
    assert isinstance(html, str)
    n = a.plan.reference_number("patchell2005")
    assert f'href="#ref-{n}"' in html and f'<li id="ref-{n}" value="{n}">Patchell RA' in html


def test_html_banner_prints_without_background_graphics() -> None:
    """Browsers print without backgrounds by default: the banner's white text vanished on white paper."""
    html = render(_assessment(RENAL), "html")
    assert isinstance(html, str)
    assert ".banner, .notice { print-color-adjust: exact;" in html
    assert "border" in html.split(".banner {", 1)[1].split("}", 1)[0]  # and not by colour alone


@pytest.mark.slow
def test_pdf_of_a_stored_version_names_it_and_a_deleted_one_says_so_on_every_page() -> None:
    """The service's PDF said neither which stored version it was nor who saved it; a deleted
    version's notice stood on the first page only."""
    from spinemets.render.html import Record, render_html

    record = Record(assessment_id="a1b2c3", version=3, saved="2026-11-20 14:02 UTC", author="dr-smith")
    html = render_html(_assessment(RENAL), for_print=True, record=record, notice="DELETED ASSESSMENT: v3")
    assert '<meta name="author" content="dr-smith">' in html
    pages = _pages(html)
    assert "Stored assessment a1b2c3, version 3, saved 2026-11-20 14:02 UTC by dr-smith" in pages[0]
    for page in pages:
        assert "version 3, saved by dr-smith" in page
        assert "DELETED ASSESSMENT - record only" in page


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_schedule_says_from_when_months_count_and_why_a_date_is_missing(fmt: str) -> None:
    """The schedule read 'Month 3 | Due -': neither from when the months count nor why no date."""
    context = json.loads(SEED003.read_text(encoding="utf-8"))["context"]
    del context["treatment_date"]
    a = assess(_patient(SEED003, context=context))
    assert a.plan is not None and a.plan.schedule and a.plan.schedule[0].due is None
    out = render(a, fmt)
    assert isinstance(out, str)
    assert "Months after treatment" in out and "treatment date not recorded" in out


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_sins_of_each_lesion_is_named_apart_from_the_worst_lesions_sins(fmt: str) -> None:
    """With two lesions the scores listed 'SINS T12' twice (the worst lesion, then each lesion)."""
    a = _assessment(EXAMPLES / "breast_t12_mechanical.json")
    assert [r.subject for r in a.sins_by_lesion] == ["T12", "L3"]
    out = render(a, fmt)
    assert isinstance(out, str)
    assert "SINS by lesion T12" in out and "SINS by lesion L3" in out


@pytest.mark.slow
def test_cli_pdf_on_letter_paper_keeps_every_page_whole(tmp_path: Path) -> None:
    """The PDF was A4 only: printed at actual size on US letter its footer fell off the page."""
    from weasyprint import HTML

    from spinemets.render.html import render_html

    out = tmp_path / "board.pdf"
    main(["assess", str(RENAL), "-f", "pdf", "--paper", "letter", "-o", str(out)])
    assert out.read_bytes().startswith(b"%PDF-")
    html = render_html(_assessment(RENAL), for_print=True, paper="letter")
    pages = HTML(string=html).render().pages
    assert {(round(p.width), round(p.height)) for p in pages} == {(816, 1056)}  # 8.5 x 11 in at 96 px
    texts = _pages(html)
    assert all(f"page {n} of {len(texts)}" in t for n, t in enumerate(texts, start=1))
    assert _overflowing(html) == []
    with pytest.raises(InvalidInputError, match="paper must be one of A4, letter"):
        render_html(_assessment(RENAL), paper="A3")


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_cli_paper_size_is_refused_for_a_format_without_pages(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--paper letter beside -f json (or any format but pdf) was silently dropped: the user asked for a page
    size the output does not have."""
    with pytest.raises(SystemExit) as exc:
        main(["assess", str(RENAL), "-f", fmt, "--paper", "letter", "-o", str(tmp_path / f"out.{fmt}")])
    assert exc.value.code != 0
    assert "--paper must be given only with -f pdf" in capsys.readouterr().err
    assert not (tmp_path / f"out.{fmt}").exists()


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_reports_mark_scores_resting_on_recalled_figures(fmt: str) -> None:
    """Tomita's points and bands are recalled [K] (the definition's note, printed by `spinemets
    score`); the reports showed Tomita 3 with nothing to say so. Notes not about recall stay out."""
    a = _assessment(RENAL)
    assert any("[K]" in n for n in a.scores["tomita"].notes)
    out = render(a, fmt)
    assert isinstance(out, str)
    flat = " ".join(out.replace("│", " ").split())
    plain = flat.replace("*", "").replace("<em>", "").replace("</em>", "")
    assert "note: Point values and bands recalled" in plain  # the text report wraps the rest
    assert "Treatable vs untreatable visceral metastases" not in flat


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_cli_assess_names_an_output_it_cannot_write_and_keeps_what_was_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # a name longer than the file system allows (as an unwritable place or a full disk): the write failed as
    # "internal error: OSError", and a file already at the path was opened for writing (emptied) first
    too_long = tmp_path / ("a" * 300 + f".{fmt}")
    with pytest.raises(SystemExit) as exc:
        main(["assess", str(RENAL), "-f", fmt, "-o", str(too_long)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith(
        "error: --output must be a file spinemets can write; got '"
    ), err
    assert err.rstrip().endswith("(File name too long)") and "internal error" not in err, err
    # the earlier report stays whole when the new one cannot be written in full
    earlier = tmp_path / f"board.{fmt}"
    earlier.write_text("the earlier report", encoding="utf-8")

    def full_disk(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)  # the new report, written beside it, is never moved over it
    with pytest.raises(SystemExit) as exc:
        main(["assess", str(RENAL), "-f", fmt, "-o", str(earlier)])
    assert exc.value.code == 2 and "--output must be a file spinemets can write" in capsys.readouterr().err
    assert earlier.read_text(encoding="utf-8") == "the earlier report"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"board.{fmt}"]  # nothing half-written left behind


def test_cli_assess_writes_a_file_whose_name_is_as_long_as_the_file_system_allows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 250 characters fit (255 bytes on ext4, xfs, btrfs), but the report was first written to
    # ".<name>.partial", 259 characters: refused, and the clean-up's own check failed as an internal error
    longest = tmp_path / ("a" * 245 + ".html")
    main(["assess", str(RENAL), "-f", "html", "-o", str(longest)])
    assert longest.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir()] == [longest.name]


@pytest.mark.parametrize(
    ("neurology", "shown"),
    [
        ({"reduced_perineal_sensation": True}, "reduced perineal sensation"),
        ({"radicular_deficit": True}, "radicular deficit"),
        ({"radiculopathy": "none"}, "not recorded"),
        ({"ambulatory": "independent"}, "not recorded"),
        ({"motor_deficit": False}, "no deficit recorded"),
        ({"frankel": "E"}, "Frankel E"),
    ],
)
def test_patient_facts_read_the_neurology_as_the_rules_do(neurology: dict[str, object], shown: str) -> None:
    """'Neurology: no deficit recorded' stood beside an emergency plan for reduced perineal sensation (a
    cauda equina sign the line did not list), and for a record whose only neurological entry was 'no
    radicular pain', which the rules read as 'neurological status not recorded' and ask for."""
    from spinemets.render.view import patient_facts

    a = assess({"lesions": [{"level": "L4", "escc": "2"}], "neurology": neurology})
    assert dict(patient_facts(a))["Neurology"] == shown
