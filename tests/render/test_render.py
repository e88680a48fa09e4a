"""Renderers and the ``spinemets assess`` command: every format carries the plan, basis and references."""

from __future__ import annotations

import json
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
