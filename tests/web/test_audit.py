"""Automated accessibility audit (axe-core) and Content-Security-Policy check of every clinician page.

Each page is opened in the real headless Chromium against a real uvicorn server, in the state a
clinician sees it (empty form, filled form with live scores, saved result, an answered question,
history with rows, a comparison, the sign-in page). On each:

* axe-core (the engine Deque publishes; carried by the ``axe-playwright-python`` package, so no
  download at test time) runs the WCAG 2.0/2.1/2.2 level A and AA rules and its best-practice
  rules. Any violation of impact *serious* or *critical* fails the test; the axe JSON is saved
  next to the screenshot (``artifacts/screenshots/<name>.axe.json``).
* No ``securitypolicyviolation`` event fired and no console message was logged, including while
  htmx requests were in flight (htmx's own indicator ``<style>`` is turned off by the
  ``htmx-config`` meta tag and the indicator is styled in ``app.css``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import CSP_RECORDER, EXAMPLES, SCREENSHOTS, requires_chromium, screenshot

pytestmark = [pytest.mark.browser, requires_chromium]

#: axe-core rule tags: WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe best practices.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}
NOT_FOUND_LOG = "Failed to load resource: the server responded with a status of 404 (Not Found)"


class Watched:
    """A browser page with its console messages and CSP violations recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.page_errors: list[str] = []
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def csp_violations(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.page.evaluate("window.__cspViolations || []")
        return found

    def assert_clean(self, where: str, expected: tuple[str, ...] = ()) -> None:
        """No CSP violation, no console message (but the ``expected`` ones) and no script error since the last check."""
        assert self.csp_violations() == [], f"{where}: CSP violations"
        assert [m for m in self.console if m not in expected] == [], f"{where}: console messages"
        assert self.page_errors == [], f"{where}: script errors"
        self.console.clear()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1180, "height": 820})
    context.add_init_script(CSP_RECORDER)
    try:
        yield Watched(context.new_page())
    finally:
        context.close()


def audit(w: Watched, name: str, expected_console: tuple[str, ...] = ()) -> list[str]:
    """Screenshot, then axe-core saved as ``<name>.axe.json`` beside it; the failing violations.

    CSP and console are checked at once; axe failures are returned so that one run lists them all.
    """
    from axe_playwright_python.sync_playwright import Axe

    w.assert_clean(name, expected_console)  # before axe runs: its own probing is not the app's doing
    screenshot(w.page, name)
    results = (
        Axe()
        .run(
            w.page,
            options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
        )
        .response
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"{name}.axe.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    failing = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]
    assert results["testEngine"]["name"] == "axe-core"
    assert results["url"] == w.page.url  # axe audited the page we are on
    return [f"{name}: {f}" for f in failing]


def _total(page: Any, key: str) -> Any:
    return page.locator(f'#score-live [data-score="{key}"] .total')


def _fill_breast_patient(page: Any) -> None:
    """The seed breast-cancer patient of ``examples/breast_t12_mechanical.json`` (the core items)."""
    data = json.loads((EXAMPLES / "breast_t12_mechanical.json").read_text())
    page.fill("#f-patient_id", "AXE-" + str(data.get("patient_id", "BREAST")))
    page.fill("#f-lesions-0-level", "T12")
    page.select_option("#f-pain-type", "mechanical")
    page.select_option("#f-primary-histology", "breast")
    page.fill("#f-performance-kps", "70")
    page.select_option("#f-lesions-0-bone_lesion", "lytic")
    page.select_option("#f-lesions-0-collapse", "under_50")
    page.select_option("#f-lesions-0-alignment", "normal")
    page.select_option("#f-lesions-0-posterolateral", "unilateral")


def test_every_page_passes_axe_and_the_csp(live_server: str, watched: Watched) -> None:
    from playwright.sync_api import expect

    page = watched.page
    failing: list[str] = []
    page.goto(live_server + "/assess")
    expect(_total(page, "sins")).to_have_text("0–18")
    failing += audit(watched, "axe-assess-empty")

    _fill_breast_patient(page)
    expect(_total(page, "sins")).to_have_text("11")
    page.get_by_role("button", name="Add a lesion").click()
    expect(page.locator("#f-lesions-1-level")).to_be_visible()
    failing += audit(watched, "axe-assess-filled")

    page.get_by_role("button", name="Remove lesion 2").click()
    expect(page.locator("#lesion-1")).to_have_count(0)
    page.get_by_role("button", name="Save and see the plan").click()
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f-]+\?version=1"))
    page.get_by_text("Basis").first.click()
    failing += audit(watched, "axe-result")

    # A second version, so that there is something to compare.
    page.get_by_role("link", name="Edit as a new version").click()
    page.fill("#f-performance-kps", "40")
    expect(_total(page, "tokuhashi_revised")).to_be_visible()
    page.get_by_role("button", name="Save and see the plan").click()
    page.wait_for_url(re.compile(r"version=2"))
    page.get_by_role("link", name="compare with this one").click()
    expect(page.locator("table.compare tr.changed").first).to_be_visible()
    failing += audit(watched, "axe-compare")

    page.goto(live_server + "/history")
    expect(page.locator("table.history tbody tr", has_text="AXE-EX-001")).to_have_count(1)
    failing += audit(watched, "axe-history")

    page.goto(live_server + "/ask")
    page.fill("#question", "What radiotherapy dose for painful uncomplicated spinal metastases?")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator("#thread article.answer ol.refs li").first).to_be_visible()
    failing += audit(watched, "axe-ask-answer")

    page.goto(live_server + "/auth/login")
    failing += audit(watched, "axe-login")

    page.goto(live_server + "/assessments/no-such-assessment")
    expect(page.locator("h1")).to_have_text("Not found")
    # Chromium reports the page's own 404 status; nothing else may appear.
    failing += audit(watched, "axe-not-found", (f"error: {NOT_FOUND_LOG}",))
    assert failing == [], "axe-core WCAG A/AA violations (serious or critical):\n" + "\n".join(failing)


def test_an_invalid_entry_page_passes_axe(live_server: str, watched: Watched) -> None:
    """The error summary and the field marked invalid (a 422 answer, which Chromium reports)."""
    from playwright.sync_api import expect

    page = watched.page
    page.goto(live_server + "/assess")
    page.fill("#f-performance-kps", "65")
    page.fill("#f-performance-ecog", "7")
    page.locator("#f-performance-ecog").blur()  # the live panel lists both wrong entries
    expect(page.get_by_text("Also to correct:")).to_be_visible()
    assert audit(watched, "axe-assess-live-errors") == []
    page.get_by_role("button", name="Save and see the plan").click()
    expect(page.locator("#error-summary")).to_contain_text("multiple of 10")
    log = "error: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    assert audit(watched, "axe-assess-invalid", (log,)) == []


# --- CSP while htmx requests are in flight ----------------------------------------------------


def test_no_csp_violation_while_live_scores_are_in_flight(live_server: str, watched: Watched) -> None:
    """Hold the live-score request open: htmx marks the panel busy and the app's own indicator shows."""
    from playwright.sync_api import expect

    page = watched.page
    held: list[Any] = []
    page.route("**/assess/scores", lambda route: held.append(route))
    page.goto(live_server + "/assess")
    busy = page.locator("#scores-busy")
    expect(busy).to_have_css("opacity", "0")
    page.fill("#f-lesions-0-level", "T12")
    deadline = 50
    while not held and deadline:
        page.wait_for_timeout(100)
        deadline -= 1
    assert held, "the live-score request was not sent"
    expect(busy).to_have_class(re.compile(r"\bhtmx-request\b"))  # hx-indicator names it
    expect(busy).to_have_css("opacity", "1")
    assert page.evaluate("document.querySelectorAll('style').length") == 0  # nothing injected inline
    watched.assert_clean("live scores in flight")
    held[0].continue_()
    expect(_total(page, "sins")).to_have_text("3–18")
    expect(busy).to_have_css("opacity", "0")
    watched.assert_clean("live scores answered")


def test_the_csp_check_sees_htmx_inline_styles_without_the_config(live_server: str, watched: Watched) -> None:
    """The check can fail: the same page without the htmx-config meta makes htmx inject a <style>,
    which the policy (style-src 'self') blocks and reports. So the meta tag is what keeps it clean."""
    page = watched.page

    def strip_config(route: Any) -> None:
        response = route.fetch()
        html = response.text()
        assert '<meta name="htmx-config"' in html
        html = re.sub(r'<meta name="htmx-config"[^>]*>', "", html)
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "content-length")
        }
        route.fulfill(status=response.status, headers=headers, body=html)

    page.route("**/assess", strip_config)
    page.goto(live_server + "/assess")
    page.wait_for_function("window.__cspViolations.length > 0", timeout=5000)
    directives = {v["directive"] for v in watched.csp_violations()}
    assert directives == {"style-src-elem"}, watched.csp_violations()
    assert any("Content Security Policy" in m for m in watched.console)


# --- keyboard only ----------------------------------------------------------------------------

#: The focused element, the look of its focus ring and the background it sits on.
FOCUS_STYLE = """() => {
  const el = document.activeElement;
  const s = getComputedStyle(el);
  let bg = 'rgba(0, 0, 0, 0)', node = el.parentElement;
  while (node && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
    bg = getComputedStyle(node).backgroundColor; node = node.parentElement;
  }
  return {id: el.id, tag: el.tagName, text: (el.textContent || '').trim().slice(0, 40),
          style: s.outlineStyle,
          width: parseFloat(s.outlineWidth), colour: s.outlineColor, bg: bg};
}"""


def _hex(rgb: str) -> str:
    r, g, b = (int(float(x)) for x in re.findall(r"[\d.]+", rgb)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _assert_focus_ring(focus: dict[str, Any]) -> None:
    """A solid outline at least 2 px wide, 3:1 against what surrounds it (WCAG 2.4.7, 1.4.11)."""
    from tests.web.test_accessibility import contrast

    where = f"{focus['tag']}#{focus['id']} {focus['text']!r}"
    assert focus["style"] != "none" and focus["width"] >= 2, f"{where}: no focus outline {focus}"
    ratio = contrast(_hex(focus["colour"]), _hex(focus["bg"]))
    assert ratio >= 3, f"{where}: focus outline {focus['colour']} on {focus['bg']} is {ratio:.2f}:1"


def tab_to(page: Any, target: str, *, limit: int = 120) -> int:
    """Press Tab until the element with id ``target`` has the focus; every stop shows a focus ring."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_STYLE)
        _assert_focus_ring(focus)
        if focus["id"] == target:
            return presses
    raise AssertionError(f"#{target} not reached with {limit} presses of Tab")


def tab_to_button(page: Any, name: str, *, limit: int = 200) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_STYLE)
        _assert_focus_ring(focus)
        if focus["tag"] in ("BUTTON", "A", "SUMMARY") and focus["text"] == name:
            return
    raise AssertionError(f"{name!r} not reached with {limit} presses of Tab")


def test_keyboard_only_from_empty_form_to_the_result(live_server: str, watched: Watched) -> None:
    """Tab, typing, Space and Enter only: no click, no fill; every focus stop shows a visible ring."""
    from playwright.sync_api import expect

    page = watched.page
    kb = page.keyboard
    page.goto(live_server + "/assess")
    kb.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    _assert_focus_ring(page.evaluate(FOCUS_STYLE))
    kb.press("Enter")  # skip to the content
    tab_to(page, "f-patient_id")
    kb.type("KBD-ONLY")
    tab_to(page, "f-pain-type")
    kb.type("mech")  # a closed select picks the option whose label starts with what is typed
    expect(page.locator("#f-pain-type")).to_have_value("mechanical")
    tab_to(page, "f-primary-histology")
    kb.type("breast")
    expect(page.locator("#f-primary-histology")).to_have_value("breast")
    tab_to(page, "f-lesions-0-level")
    kb.type("T12")
    tab_to(page, "f-lesions-0-bone_lesion")
    kb.type("lytic")
    tab_to(page, "f-lesions-0-collapse")
    kb.press("ArrowDown")  # first choice after 'not recorded'
    collapse = page.locator("#f-lesions-0-collapse").input_value()
    assert collapse != ""
    tab_to(page, "f-performance-kps")
    kb.type("70")
    # SINS (Fisher 2010) has six items; four are recorded, alignment and posterolateral are not.
    missing = page.locator('#score-live [data-score="sins"] .missing')
    expect(missing).to_contain_text("2 items missing")
    expect(missing).to_contain_text("alignment")
    tab_to_button(page, "Save and see the plan")
    kb.press("Enter")
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f-]+\?version=1"))
    expect(page.locator("h1")).to_contain_text("KBD-ONLY")

    # On the result: open the basis of the first score with Space, read it.
    tab_to_button(page, "Basis and 2 items to obtain")  # alignment, posterolateral
    kb.press("Space")
    expect(page.locator('[data-score="sins"] details')).to_have_attribute("open", "")
    expect(page.locator('[data-score="sins"] .basis')).to_contain_text("level T12 -> junctional (3)")
    screenshot(page, "keyboard-result", full_page=False)
    watched.assert_clean("keyboard flow")


# --- tablet -----------------------------------------------------------------------------------


def test_tablet_portrait_768_has_no_horizontal_scroll(live_server: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True)
    context.add_init_script(CSP_RECORDER)
    try:
        w = Watched(context.new_page())
        page = w.page
        failing: list[str] = []

        def check(name: str) -> None:
            width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{name}: page is {width[0]} px wide in a {width[1]} px viewport"
            failing.extend(audit(w, f"tablet-768-{name}"))

        page.goto(live_server + "/assess")
        check("assess")
        page.fill("#f-patient_id", "TABLET-768")
        page.fill("#f-lesions-0-level", "T12")
        page.select_option("#f-primary-histology", "lung_nsclc")
        expect(_total(page, "sins")).to_have_text("3–18")
        page.get_by_role("button", name="Save and see the plan").click()
        page.wait_for_url(re.compile(r"/assessments/"))
        check("result")
        page.goto(live_server + "/history")
        check("history")
        page.goto(live_server + "/ask")
        page.fill("#question", "When is surgery indicated for spinal instability?")
        page.get_by_role("button", name="Ask").click()
        expect(page.locator("#thread article.answer")).to_have_count(1)
        check("ask")
        page.goto(live_server + "/auth/login")
        check("login")
        assert failing == [], "axe-core violations at 768 px:\n" + "\n".join(failing)
    finally:
        context.close()
