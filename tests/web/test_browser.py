"""End to end in headless Chromium against a real uvicorn server: fill, score live, save, read, download."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.web.conftest import EXAMPLES, SCREENSHOTS, requires_chromium, screenshot

pytestmark = [pytest.mark.browser, requires_chromium]


def _total(page: Any, key: str) -> Any:
    return page.locator(f'#score-live [data-score="{key}"] .total')


def test_breast_t12_mechanical_pain_from_form_to_result(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server + "/")
    expect(page.locator("h1")).to_have_text("Assess a patient")
    # Nothing recorded yet: SINS may still be anything in its published range.
    expect(_total(page, "sins")).to_have_text("0–18")

    page.fill("#f-patient_id", "E2E-BREAST")
    page.fill("#f-lesions-0-level", "T12")
    # Fisher 2010: T12 is junctional (3 points); the other five items are unknown -> 3..18.
    expect(_total(page, "sins")).to_have_text("3–18")

    page.select_option("#f-pain-type", "mechanical")
    page.select_option("#f-primary-histology", "breast")
    page.fill("#f-performance-kps", "70")
    page.select_option("#f-neurology-frankel", "E")
    page.fill("#f-burden-extraspinal_bone_metastases", "2")
    page.fill("#f-burden-vertebrae_involved", "2")
    page.select_option("#f-burden-visceral_metastases", "none")
    page.select_option("#f-lesions-0-bone_lesion", "lytic")
    page.select_option("#f-lesions-0-collapse", "under_50")
    page.select_option("#f-lesions-0-alignment", "normal")
    page.select_option("#f-lesions-0-posterolateral", "unilateral")
    page.select_option("#f-lesions-0-escc", "1b")
    # 3 + mechanical 3 + lytic 2 + normal 0 + <50% collapse 2 + unilateral 1 = 11 (potentially unstable).
    expect(_total(page, "sins")).to_have_text("11")
    expect(page.locator('#score-live [data-score="sins"] .band')).to_contain_text("potentially unstable")
    # Revised Tokuhashi 2005: KPS 70 (1) + 1-2 extraspinal (1) + 2 vertebrae (1) + no organ mets (2)
    # + breast (5) + Frankel E (2) = 12 -> predicted survival >= 1 year.
    expect(_total(page, "tokuhashi_revised")).to_have_text("12")

    # Add a second lesion row with the keyboard, then remove it again.
    page.get_by_role("button", name="Add a lesion").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#f-lesions-1-level")).to_be_focused()
    page.keyboard.type("L3")
    page.select_option("#f-lesions-1-bone_lesion", "lytic")
    expect(page.locator("#score-live")).to_contain_text("SINS by lesion")
    page.get_by_role("button", name="Remove lesion 2").click()
    expect(page.locator("#lesion-1")).to_have_count(0)
    expect(page.locator("#score-live")).not_to_contain_text("SINS by lesion")
    screenshot(page, "assess-breast-t12", full_page=False)

    page.get_by_role("button", name="Save and see the plan").click()
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f-]+\?version=1"))
    expect(page.locator("h1")).to_contain_text("E2E-BREAST")
    expect(page.locator('[data-score="sins"] .total')).to_have_text("11")
    page.get_by_text("Basis").first.click()
    expect(page.locator('[data-score="sins"] .basis')).to_contain_text("level T12 -> junctional (3)")
    screenshot(page, "result-breast-t12")

    with page.expect_download() as info:
        page.get_by_role("link", name="JSON").click()
    assert info.value.suggested_filename.startswith("spinemets-E2E-BREAST-v1")

    page.get_by_role("link", name="History").click()
    page.fill("#q-pid", "E2E-BREAST")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.history tbody tr")).to_have_count(1)
    screenshot(page, "history")
    page.get_by_role("link", name="Reopen in form").click()
    expect(page.locator("#f-lesions-0-level")).to_have_value("T12")
    expect(_total(page, "sins")).to_have_text("11")

    # Six weeks later: performance has fallen; saving adds version 2, version 1 is kept.
    page.fill("#f-performance-kps", "40")
    expect(_total(page, "tokuhashi_revised")).to_have_text("11")  # KPS 40 is 'poor' (0) instead of 1
    page.get_by_role("button", name="Save and see the plan").click()
    page.wait_for_url(re.compile(r"version=2"))
    expect(page.locator(".meta").first).to_contain_text("Version 2 of 2")
    page.get_by_role("link", name="compare with this one").click()
    expect(page.locator("table.compare tr.changed").first).to_be_visible()
    expect(page.locator("table.compare").nth(1)).to_contain_text("Karnofsky performance status")
    screenshot(page, "compare-versions")


def test_invalid_entry_is_explained_next_to_the_field(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server + "/assess")
    page.fill("#f-performance-kps", "65")
    expect(page.locator("#score-live .alert")).to_contain_text("performance.kps must be a multiple of 10")
    page.get_by_role("button", name="Save and see the plan").click()
    err = page.locator("#f-performance-kps-err")
    expect(err).to_contain_text("got 65")
    expect(page.locator("#f-performance-kps")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-summary")).to_be_focused()  # a keyboard user starts at what to correct
    page.locator("#error-summary a").first.click()
    screenshot(page, "assess-invalid-kps")


def test_unknown_primary_with_inguinal_lymphadenopathy(live_server: str, page: Any) -> None:
    """Seed pathway: bone lesion without a known primary and enlarged inguinal nodes -> work-up first."""
    from playwright.sync_api import expect

    import spinemets

    page.goto(live_server + "/assess")
    page.fill("#f-patient_id", "E2E-CUP")
    page.select_option("#f-primary-histology", "unknown_primary")
    page.select_option("#f-nodes-inguinal_lymphadenopathy", "yes")
    page.select_option("#f-context-known_cancer", "no")
    page.check('input[name="symptoms"][value="progressive_lumbar_pain"]')
    page.fill("#f-lesions-0-level", "L4")
    page.select_option("#f-lesions-0-bone_lesion", "lytic")
    expect(page.locator('#score-live [data-score="sins"] .missing')).to_contain_text("4 items missing")
    screenshot(page, "assess-unknown-primary", full_page=False)
    page.get_by_role("button", name="Save and see the plan").click()
    page.wait_for_url(re.compile(r"/assessments/"))
    expect(page.locator("h1")).to_contain_text("E2E-CUP")

    same = {
        "patient_id": "E2E-CUP",
        "primary": {"histology": "unknown_primary"},
        "nodes": {"inguinal_lymphadenopathy": True},
        "context": {"known_cancer": False},
        "symptoms": ["progressive_lumbar_pain"],
        "lesions": [{"level": "L4", "bone_lesion": "lytic"}],
    }
    plan = spinemets.assess(same).plan
    assert plan is not None and plan.urgency is not None
    expect(page.locator(".banner .level")).to_have_text(plan.urgency.value.upper())
    for rec in plan.recommendations:
        expect(page.locator(f'[id="rec-{rec.id}"]')).to_contain_text(rec.text[:60])
    assert any(r.id.startswith("inguinal.") for r in plan.recommendations)
    expect(page.get_by_role("heading", name="Work-up")).to_be_visible()
    screenshot(page, "result-unknown-primary")


def test_delete_by_keyboard_from_the_result_page(live_server: str, page: Any) -> None:
    """A mistaken save is deleted from its result page: the box must be ticked, all by keyboard."""
    from playwright.sync_api import expect

    page.goto(live_server + "/assess")
    page.fill("#f-patient_id", "E2E-DEL")
    page.fill("#f-lesions-0-level", "T8")
    page.get_by_role("button", name="Save and see the plan").click()
    page.wait_for_url(re.compile(r"/assessments/"))
    result_url = page.url
    button = page.get_by_role("button", name="Delete assessment")
    button.click()  # the box is not ticked: the browser keeps the page and deletes nothing
    expect(page).to_have_url(result_url)
    page.get_by_label(re.compile("Yes, delete the assessment of E2E-DEL")).focus()
    page.keyboard.press("Space")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/history\?deleted="))
    expect(page.get_by_role("status")).to_contain_text("Deleted the assessment of E2E-DEL")
    assert "E2E-DEL" not in " ".join(page.locator("table.history tbody").all_inner_texts())
    screenshot(page, "history-after-delete")
    page.get_by_role("link", name="open it").click()
    expect(page.get_by_role("alert").first).to_contain_text("DELETED ASSESSMENT")


def test_first_page_transfer_is_under_100_kb_in_the_browser(live_server: str, page: Any) -> None:
    page.goto(live_server + "/")
    page.wait_for_load_state("load")
    sizes = page.evaluate(
        """() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        return {doc: nav.transferSize, decoded: nav.decodedBodySize,
                assets: res.map(r => [r.name, r.transferSize, r.decodedBodySize])};
    }"""
    )
    total = sizes["doc"] + sum(a[1] for a in sizes["assets"])
    assert {a[0].rsplit("/", 1)[-1] for a in sizes["assets"]} == {"app.css", "app.js", "htmx.min.js"}
    # A fresh browser context has an empty cache: every entry really crossed the network.
    assert sizes["doc"] > 0 and all(a[1] > 0 for a in sizes["assets"]), sizes
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "first-page-weight.json").write_text(json.dumps({"transferred": total, **sizes}, indent=1))
    assert total < 100 * 1024, sizes


def test_keyboard_user_can_skip_to_the_form(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server + "/")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#f-patient_id")).to_be_focused()


def test_pdf_download_of_the_tumour_board_summary(live_server: str, page: Any) -> None:
    page.goto(live_server + "/assess")
    page.fill("#f-patient_id", "E2E-PDF")
    page.fill("#f-lesions-0-level", "T12")
    page.get_by_role("button", name="Save and see the plan").click()
    page.wait_for_url(re.compile(r"/assessments/"))
    with page.expect_download() as info:
        page.get_by_role("link", name="Tumour-board summary (PDF)").click()
    download = info.value
    assert download.suggested_filename == "spinemets-E2E-PDF-v1.pdf"
    path = download.path()
    with open(path, "rb") as fh:
        assert fh.read(5) == b"%PDF-"


def test_ask_a_question_then_a_follow_up(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server + "/ask")
    page.fill(
        "#question", "What radiotherapy dose fractionation for painful uncomplicated spinal metastases?"
    )
    page.get_by_role("button", name="Ask").click()
    answers = page.locator("#thread article.answer")
    expect(answers).to_have_count(1)
    expect(answers.first.locator("ol.refs li").first).to_be_visible()
    expect(page.locator("label[for=question]")).to_have_text("Follow-up question")
    expect(page.locator("#question")).to_have_value("")
    page.fill("#question", "When is surgery indicated for spinal instability?")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(answers).to_have_count(2)
    expect(answers.nth(1).locator("h2")).to_have_text("When is surgery indicated for spinal instability?")
    expect(answers.nth(1).locator("ol.refs li").first).to_be_visible()
    screenshot(page, "ask-follow-up")


def test_enter_in_a_field_saves_and_keeps_the_lesions(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server + "/assess")
    page.fill("#f-patient_id", "E2E-ENTER")
    page.fill("#f-lesions-0-level", "T12")
    page.press("#f-lesions-0-level", "Enter")
    page.wait_for_url(re.compile(r"/assessments/"))
    expect(page.locator('[data-score="sins"] h3 small')).to_have_text("T12")


def test_tablet_portrait_keeps_the_scores_in_view_while_filling_a_lesion(
    live_server: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(live_server + "/assess")
        level = page.locator("#f-lesions-0-level")
        level.scroll_into_view_if_needed()
        level.tap()
        page.keyboard.type("T12")
        expect(_total(page, "sins")).to_have_text("3–18")
        panel = page.locator("aside.panel").bounding_box()
        field = level.bounding_box()
        assert panel is not None and field is not None
        assert panel["y"] + panel["height"] <= 1180 + 1 and panel["y"] < 1180  # on screen
        assert field["y"] + field["height"] <= panel["y"]  # the field being typed in is not hidden
        screenshot(page, "assess-tablet-portrait", full_page=False)
    finally:
        context.close()


def test_keyboard_focus_is_never_hidden_under_the_score_panel_on_a_tablet(
    live_server: str, browser: Any
) -> None:
    """WCAG 2.2 SC 2.4.11 (focus not obscured): below 900 px the score panel sticks to the bottom of
    the screen; tabbing through the form at 768 px hid 58 of 120 focus stops under it."""
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    try:
        page = context.new_page()
        page.goto(live_server + "/assess")
        hidden = []
        for _ in range(120):
            page.keyboard.press("Tab")
            covered = page.evaluate(
                """() => {
                  const e = document.activeElement;
                  if (!e || e.closest('aside')) return null;
                  const r = e.getBoundingClientRect();
                  const t = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                  return t && t.closest('aside') ? (e.id || e.name || e.tagName) : null;
                }"""
            )
            if covered:
                hidden.append(covered)
        assert hidden == []
    finally:
        context.close()


def test_removing_a_lesion_with_the_keyboard_keeps_the_focus_in_the_form(live_server: str, page: Any) -> None:
    """After "Remove lesion 2" (its row, button included, is gone) the focus went to the page top."""
    from playwright.sync_api import expect

    page.goto(live_server + "/assess")
    add = page.get_by_role("button", name="Add a lesion")
    add.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#f-lesions-1-level")).to_be_focused()
    remove = page.get_by_role("button", name="Remove lesion 2")
    remove.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#lesion-1")).to_have_count(0)
    expect(add).to_be_focused()


@pytest.mark.parametrize(("path", "ready"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "redoc h1")])
def test_api_documentation_pages_work_offline(live_server: str, browser: Any, path: str, ready: str) -> None:
    """OpenAPI at /docs (issue 5): Swagger UI and ReDoc came from a CDN, so the page was blank on a
    network without internet. Every request must stay on this server and the page must render. The
    one thing the page would still fetch from elsewhere, ReDoc's own logo, is blocked by the CSP."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1180, "height": 820})
    elsewhere: list[str] = []
    errors: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.route("**/*", only_here)
        page.goto(live_server + path)
        expect(page.locator(ready).first).to_contain_text("spinemets", timeout=15_000)
        if path == "/docs":
            expect(page.locator(".opblock-summary-path").first).to_be_visible()
        screenshot(page, f"api-docs{path.replace('/', '-')}")
        assert elsewhere == []
        assert [e for e in errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e] == []
    finally:
        context.close()


@pytest.mark.parametrize("link", ["#error-summary a", "#score-live .alert a"])
def test_following_an_error_link_keeps_the_fields_label_in_view(
    live_server: str, page: Any, link: str
) -> None:
    """The error summary (and the live panel's alert) jump to the field: its label and the allowed
    range must be on screen with it, not scrolled away above the top edge."""
    from playwright.sync_api import expect

    page.goto(live_server + "/assess")
    page.fill("#f-age_years", "158")
    page.get_by_role("button", name="Save and see the plan").click()
    expect(page.locator("#f-age_years-err")).to_contain_text("got 158")
    page.locator(link).first.press("Enter")
    expect(page.locator("#f-age_years")).to_be_focused()
    label = page.locator('label[for="f-age_years"]').bounding_box()
    assert label is not None and label["y"] >= 0, f"label scrolled out of view: {label}"


def test_history_and_result_controls_are_big_enough_to_tap_on_a_tablet(
    live_server: str, browser: Any
) -> None:
    """WCAG 2.5.8 (target size, 24 x 24 CSS px): History's compare tick boxes were 13 px wide (the
    boxes two assessments are compared with, on a ward tablet) and the result page's 'Basis' lines
    23 px high; links inside a sentence (reference numbers) are exempt and not measured. The date
    column broke '2026-11-20' across two lines at 820 px."""
    context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True)
    try:
        page = context.new_page()
        for pid in ("E2E-TAP-LUNG-TRIAGE", "E2E-TAP-LUNG-TRIAGE"):
            page.goto(live_server + "/assess")
            page.fill("#f-patient_id", pid)
            page.fill("#f-assessment_date", "2026-11-20")
            page.fill("#f-lesions-0-level", "T12")
            page.get_by_role("button", name="Save and see the plan").click()
            page.wait_for_url(re.compile(r"/assessments/"))
        # a box with its own clickable <label> (the delete confirmation) is tapped through the label
        small = """(sel) => [...document.querySelectorAll(sel)]
            .filter(e => e.type !== "hidden" && !(e.type === "checkbox" && e.labels.length))
            .map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect()])
            .filter(([, r]) => r.width < 24 || r.height < 24).map(([h, r]) => `${h} ${r.width}x${r.height}`)"""
        assert (
            page.evaluate(small, "main summary, main button, main .actions a, main select, main input") == []
        )
        page.goto(live_server + "/history?patient_id=E2E-TAP-LUNG")
        assert page.locator("table.history tbody tr").count() == 2
        assert page.evaluate(small, "main input, main button, main select") == []
        lines = page.evaluate(
            """() => [...document.querySelectorAll("table.history tbody tr")].map(tr => {
                 const r = document.createRange(); r.selectNodeContents(tr.cells[2]);
                 return [tr.cells[2].textContent, r.getClientRects().length]; })"""
        )
        assert lines == [["2026-11-20", 1], ["2026-11-20", 1]]  # one line each, not '2026-11-' then '20'
        page.locator("table.history input[type=checkbox]").first.tap()
        assert page.locator("table.history input[type=checkbox]").first.is_checked()
    finally:
        context.close()


def test_the_result_page_reflows_at_320_px(live_server: str, browser: Any) -> None:
    """WCAG 1.4.10 (reflow; a desktop zoomed to 400%): the score cards kept a 20rem minimum width and a
    guideline URL in the references did not break, so the whole result page scrolled sideways
    (469 px wide at 320)."""
    context = browser.new_context(viewport={"width": 320, "height": 800})
    try:
        page = context.new_page()
        page.goto(live_server + "/assess")
        patient = json.loads((EXAMPLES / "renal_t6_mscc_radioresistant.json").read_text())
        page.fill("#f-patient_id", "E2E-REFLOW")
        page.fill("#f-lesions-0-level", patient["lesions"][0]["level"])
        page.select_option("#f-lesions-0-escc", patient["lesions"][0]["escc"])
        page.select_option("#f-neurology-motor_deficit", "yes")
        page.select_option("#f-context-suspected_mscc", "yes")
        page.get_by_role("button", name="Save and see the plan").click()
        page.wait_for_url(re.compile(r"/assessments/"))
        assert "richtlijnendatabase.nl" in page.locator("#h-refs + ol").inner_text()  # the long URL is there
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
    finally:
        context.close()


def test_scrolling_the_page_over_a_number_field_does_not_change_it(live_server: str, page: Any) -> None:
    """Chromium steps a focused number field on a mouse wheel: KPS 70 (step 10) became 60 while the
    clinician scrolled on, with nothing to show it, changing Tokuhashi and the ECOG conversion. The
    wheel now scrolls the page; the arrow keys still step the value on purpose."""
    from playwright.sync_api import expect

    page.goto(live_server + "/assess")
    kps = page.locator("#f-performance-kps")
    kps.fill("70")
    box = kps.bounding_box()
    assert box is not None
    before = page.evaluate("scrollY")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 120)
    page.wait_for_timeout(300)  # the wheel is handled (or not) at once; nothing to wait for otherwise
    expect(kps).to_have_value("70")
    assert page.evaluate("scrollY") > before  # the page scrolled instead
    kps.focus()
    page.keyboard.press("ArrowUp")
    expect(kps).to_have_value("80")


def test_leaving_the_form_with_unsaved_entries_asks_first(live_server: str, page: Any) -> None:
    """A tap on History or Ask in the top bar left a half-entered patient without a word, and Back
    restored only some fields (not those with autocomplete=off, nor an added lesion row). The browser
    now asks before leaving; saving does not ask."""
    from playwright.sync_api import expect

    asked: list[str] = []

    def stay(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # 'stay on the page'

    page.goto(live_server + "/assess")
    page.get_by_role("link", name="History").click()  # nothing entered: no question
    page.wait_for_url(re.compile(r"/history$"))
    page.goto(live_server + "/assess")
    page.fill("#f-patient_id", "E2E-UNSAVED")
    page.fill("#f-lesions-0-level", "T12")
    page.on("dialog", stay)
    page.get_by_role("link", name="History").click()
    expect(page.locator("#f-patient_id")).to_have_value("E2E-UNSAVED")
    assert asked == ["beforeunload"] and page.url.endswith("/assess")
    page.get_by_role("button", name="Save and see the plan").click()
    page.wait_for_url(re.compile(r"/assessments/"))
    assert asked == ["beforeunload"]  # saving did not ask
    page.remove_listener("dialog", stay)
