"""The clinician pages through the real app (TestClient): assess, live scores, save, result, history."""

from __future__ import annotations

import gzip
import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

import spinemets
from spinemets.render.markdown import render_markdown
from spinemets.service.app import create_app
from spinemets.service.settings import ServiceSettings
from spinemets.web import forms, links


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _score_value(page: str, key: str) -> str:
    match = re.search(rf'data-score="{key}">.*?<strong class="total">([^<]+)</strong>', page, re.S)
    assert match, f"score {key} not on the page"
    return match.group(1)


def _save(client: TestClient, csrf: str, patient: dict[str, Any]) -> str:
    data = {**forms.patient_to_form(patient), "csrf_token": [csrf]}
    response = client.post("/assess", data=data)
    assert response.status_code == 303, response.text[:500]
    return str(response.headers["location"])


def test_assess_page_shows_every_published_item_definition(client: TestClient) -> None:
    page = html.unescape(client.get("/assess").text)
    unlinked = {(s, r.item) for r in links.unlinked_items() for s in r.scores}
    for key, definition in spinemets.SCORES.items():
        for item in definition.items:
            if (key, item.key) in unlinked:
                assert item.label in page
            else:
                assert item.definition in page, f"{key}.{item.key} definition missing"
    for title in ("Presentation and symptoms", "Neurology", "Primary tumour", "Spinal lesions", "Laboratory"):
        assert title in page


def test_assess_page_labels_every_control(client: TestClient) -> None:
    page = client.get("/assess").text
    ids = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', page)
    assert len(ids) > 60
    for ident in ids:
        assert f'for="{ident}"' in page, f"control {ident} has no label"


def test_live_scores_show_the_possible_range_and_missing_items(client: TestClient, csrf: str) -> None:
    page = client.post("/assess/scores", data={"lesions.0.level": "T12", "csrf_token": csrf}).text
    # Fisher 2010: T12 is junctional (3); the five unknown items can add 0..15, so SINS is 3..18.
    assert _score_value(page, "sins") == "3–18"
    assert "5 items missing" in page
    assert "Band not yet decided: stable or potentially unstable or unstable" in _text(page)


def test_live_scores_of_the_breast_example(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    data = {**forms.patient_to_form(breast_patient), "csrf_token": [csrf]}
    page = client.post("/assess/scores", data=data).text
    # Fisher 2010 points at T12: junctional 3 + mechanical 3 + lytic 2 + normal alignment 0
    # + <50% collapse 2 + unilateral posterolateral 1 = 11, potentially unstable (7-12).
    assert _score_value(page, "sins") == "11"
    assert "potentially unstable" in page
    expected = spinemets.assess(breast_patient).scores["tokuhashi_revised"]
    assert _score_value(page, "tokuhashi_revised") == str(expected.total)


def test_live_scores_list_every_wrong_entry_not_only_the_first(client: TestClient, csrf: str) -> None:
    """A clinician correcting the form saw one error at a time in the live panel (the save listed all):
    with KPS 65 (not a decile) and ECOG 7 (0-5) both entered, the panel links to both controls."""
    data = {"performance.kps": "65", "performance.ecog": "7", "csrf_token": csrf}
    page = html.unescape(client.post("/assess/scores", data=data).text)
    assert "Scores wait for a valid entry." in page
    assert 'href="#f-performance-kps"' in page and 'href="#f-performance-ecog"' in page
    assert "Also to correct:" in page
    # one wrong entry: no second list
    one = html.unescape(
        client.post("/assess/scores", data={"performance.kps": "65", "csrf_token": csrf}).text
    )
    assert "Also to correct:" not in one and 'href="#f-performance-kps"' in one


def test_invalid_value_is_shown_next_to_its_field(client: TestClient, csrf: str) -> None:
    response = client.post("/assess", data={"performance.kps": "65", "csrf_token": csrf})
    assert response.status_code == 422
    page = response.text
    assert 'aria-invalid="true"' in page
    err = re.search(r'<p class="err" id="f-performance-kps-err">([^<]+)</p>', page)
    assert err and "65" in err.group(1) and "multiple of 10" in err.group(1)
    assert 'value="65"' in page  # what was typed is kept


def test_invalid_level_names_the_value_and_the_allowed_levels(client: TestClient, csrf: str) -> None:
    response = client.post("/assess", data={"lesions.0.level": "T13", "csrf_token": csrf})
    assert response.status_code == 422
    err = re.search(r'id="f-lesions-0-level-err">([^<]+)<', html.unescape(response.text))
    assert err and "T13" in err.group(1) and "occiput (C0)" in err.group(1)


def test_save_then_result_history_json_and_reopen(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    location = _save(client, csrf, breast_patient)
    assert location.startswith("/assessments/")
    page = client.get(location).text
    assert "EX-001" in page and _score_value(page, "sins") == "11"
    assert "Version 1 of 1" in page
    ident = location.split("/")[2].split("?")[0]
    record = client.get(f"/assessments/{ident}/report.json").json()
    assert record["inputs"]["lesions"][0]["level"] == "T12"
    assert record["outputs"]["scores"]["sins"]["total"] == 11
    assert record["author"] == "local"
    history = client.get("/history", params={"patient_id": "EX-001"}).text
    assert ident in history
    reopened = client.get("/assess", params={"from": ident}).text
    assert "<option selected>breast</option>" in reopened
    assert f'name="assessment_id" value="{ident}"' in reopened
    assert 'name="expected_version" value="1"' in reopened
    data = {**forms.patient_to_form({**breast_patient, "performance": {"kps": 50}}), "csrf_token": [csrf]}
    data["assessment_id"] = [ident]
    data["expected_version"] = ["1"]
    second = client.post("/assess", data=data)
    assert second.status_code == 303 and second.headers["location"].endswith("version=2")
    assert "Version 2 of 2" in client.get(second.headers["location"]).text


def _edit_form(page: str) -> dict[str, list[str]]:
    """The hidden edit-mode fields of a rendered Assess page."""
    found = dict(re.findall(r'name="(assessment_id|expected_version)" value="([^"]*)"', page))
    return {k: [v] for k, v in found.items()}


def test_a_refused_edit_stays_an_edit_of_the_same_assessment(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    # A correction after a refused save must add a version, not start a second record.
    ident = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    opened = _edit_form(client.get("/assess", params={"from": ident}).text)
    assert opened == {"assessment_id": [ident], "expected_version": ["1"]}
    bad = {
        **forms.patient_to_form({**breast_patient, "performance": {"kps": 65}}),
        "csrf_token": [csrf],
        **opened,
    }
    refused = client.post("/assess", data=bad)
    assert refused.status_code == 422 and _edit_form(refused.text) == opened
    assert "saving adds version 2" in refused.text
    fixed = {**bad, "performance.kps": ["60"]}
    saved = client.post("/assess", data=fixed)
    assert saved.status_code == 303 and saved.headers["location"] == f"/assessments/{ident}?version=2"
    assert len(client.get("/api/v1/assessments").json()["items"]) == 1  # one record, two versions


def test_a_save_over_a_newer_version_is_refused_and_keeps_the_entries(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    # Two clinicians open version 1; the second save must not silently replace the first one's.
    ident = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    opened = _edit_form(client.get("/assess", params={"from": ident}).text)
    first = {
        **forms.patient_to_form({**breast_patient, "performance": {"kps": 50}}),
        "csrf_token": [csrf],
        **opened,
    }
    assert client.post("/assess", data=first).status_code == 303
    second = {
        **forms.patient_to_form({**breast_patient, "performance": {"kps": 90}}),
        "csrf_token": [csrf],
        **opened,
    }
    refused = client.post("/assess", data=second)
    assert refused.status_code == 409
    text = html.unescape(refused.text)
    assert "Not saved" in text and "opened it (version 1; it is now at version 2)" in text
    assert 'value="90"' in refused.text  # what was typed is kept
    assert "opened at version 1; it has changed since (now version 2), so saving will be refused" in text
    versions = client.get(f"/api/v1/assessments/{ident}/versions").json()
    assert [v["version"] for v in versions] == [1, 2]


def test_reopening_an_older_version_says_which_version_saving_adds(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    ident = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    for kps in (50, 40):
        form = {
            **forms.patient_to_form({**breast_patient, "performance": {"kps": kps}}),
            "csrf_token": [csrf],
        }
        latest = _edit_form(client.get("/assess", params={"from": ident}).text)
        assert client.post("/assess", data={**form, **latest}).status_code == 303
    old = client.get("/assess", params={"from": ident, "version": 1}).text
    assert "opened at version 3 with the entries of version 1; saving adds version 4" in old
    assert _edit_form(old)["expected_version"] == ["3"]


def test_history_filters_by_patient_and_date(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    _save(client, csrf, breast_patient)
    _save(client, csrf, {**breast_patient, "patient_id": "EX-002", "assessment_date": "2026-10-01"})
    both = client.get("/history").text
    assert "EX-001" in both and "EX-002" in both
    only_one = client.get("/history", params={"patient_id": "EX-002"}).text
    assert "EX-002" in only_one and "EX-001" not in only_one
    # a search box: any part of the identifier, any case ('ex-00' and '002' found nothing before)
    assert all(p in client.get("/history", params={"patient_id": "ex-00"}).text for p in ("EX-001", "EX-002"))
    part = client.get("/history", params={"patient_id": "002"}).text
    assert "EX-002" in part and "EX-001" not in part
    assert "EX-00" not in client.get("/history", params={"patient_id": "EX_00"}).text  # '_' is literal
    by_date = client.get("/history", params={"date_from": "2026-11-01", "date_to": "2026-11-30"}).text
    assert "EX-001" in by_date and "EX-002" not in by_date
    bad = client.get("/history", params={"date_from": "21/11/2026"})
    assert (
        bad.status_code == 422
        and "date_from must be a date written YYYY-MM-DD; got &#39;21/11/2026&#39;" in bad.text
    )


def test_compare_two_assessments_of_the_same_patient(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    first = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    later = {**breast_patient, "assessment_date": "2026-12-20", "performance": {"kps": 40}}
    second = _save(client, csrf, later).split("/")[2].split("?")[0]
    page = client.get("/history/compare", params=[("ids", second), ("ids", first)])
    assert page.status_code == 200
    text = _text(page.text)
    assert text.index("2026-11-20") < text.index("2026-12-20")  # older first, whatever the tick order
    assert "Karnofsky performance status, % from 10 to 100; 0 (death) is not assessed 70 40" in text
    before = spinemets.assess(breast_patient).scores["tokuhashi_revised"].label()
    after = spinemets.assess(later).scores["tokuhashi_revised"].label()
    assert before != after and f"{before} {after}" in text
    other = _save(client, csrf, {**breast_patient, "patient_id": "EX-999"}).split("/")[2].split("?")[0]
    refused = client.get("/history/compare", params=[("ids", first), ("ids", other)])
    assert refused.status_code == 422 and "same patient" in refused.text


def test_lesion_rows_are_added_after_the_last_and_removed_with_a_rescore(
    client: TestClient, csrf: str
) -> None:
    form = {
        "lesions.0.level": "T12",
        "lesions.4.level": "L3",
        "lesions.4.bone_lesion": "lytic",
        "csrf_token": csrf,
    }
    row = client.post("/assess/lesion", data=form).text
    assert 'id="lesion-5"' in row and 'name="lesions.5.level"' in row and "data-autofocus" in row
    removed = client.post("/assess/lesion/4/remove", data=form).text
    assert '<div id="lesion-4" hx-swap-oob="delete"></div>' in removed
    assert "L3" not in removed and "T12" in removed


def test_forms_without_the_csrf_token_are_refused(client: TestClient) -> None:
    client.get("/assess")
    assert client.post("/assess", data={"performance.kps": "70"}).status_code == 403


def test_unknown_assessment_gives_an_html_not_found_page(client: TestClient) -> None:
    response = client.get("/assessments/no-such-id")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no-such-id" in response.text


def test_pages_need_a_login_when_auth_is_required(tmp_path: Any) -> None:
    app = create_app(ServiceSettings(data_dir=tmp_path, auth_mode="required"))
    with TestClient(app, follow_redirects=False) as c:
        page = c.get("/history")
        assert page.status_code == 303 and page.headers["location"] == "/auth/login?next=/history"
        partial = c.get("/ask", headers={"HX-Request": "true"})
        assert partial.status_code == 401 and partial.headers["hx-redirect"] == "/auth/login?next=/ask"


def test_static_files_keep_the_htmx_licence_and_are_compressed(client: TestClient) -> None:
    js = client.get("/static/htmx.min.js", headers={"Accept-Encoding": "identity"})
    assert js.status_code == 200 and js.content.startswith(b"/*! htmx 2.")
    assert b"Zero-Clause BSD" in js.content[:300]
    packed = client.get("/static/htmx.min.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert client.get("/static/secrets.txt").status_code == 404


def test_first_page_weighs_under_100_kb(client: TestClient) -> None:
    """Document plus every stylesheet and script it loads, as sent to a browser accepting gzip."""
    headers = {"Accept-Encoding": "gzip"}
    page = client.get("/", headers=headers)
    assert page.status_code == 200
    sent = int(page.headers["content-length"])
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/static/app.css", "/static/app.js", "/static/htmx.min.js"]
    for asset in assets:
        sent += int(client.get(asset, headers=headers).headers["content-length"])
    assert sent < 100 * 1024, f"first page is {sent} bytes"


def test_gzip_encoding_is_real(client: TestClient) -> None:
    raw = client.get("/", headers={"Accept-Encoding": "identity"}).content
    sent = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert sent.content == raw  # httpx decodes; the bytes on the wire are fewer
    assert int(sent.headers["content-length"]) < len(raw) / 3
    assert len(gzip.compress(raw)) < len(raw) / 3


def test_result_page_shows_the_plan_grouped_with_numbered_references(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    from spinemets.rules.model import CATEGORY_ORDER

    page = client.get(_save(client, csrf, breast_patient)).text
    plan = spinemets.assess(breast_patient).plan
    assert plan is not None and plan.urgency is not None
    banner = re.search(r'<div class="banner (\w+)" role="(\w+)">\s*<p class="level">([^<]+)</p>', page)
    assert banner and banner.group(1) == plan.urgency.value and banner.group(3) == plan.urgency.value.upper()
    text = _text(page)
    for rec in plan.recommendations:
        assert f'id="rec-{rec.id}"' in page
        assert html.unescape(rec.text) in text
    headings = re.findall(r'<h3 id="h-cat-\d+">([^<]+)</h3>', page)
    titles = {"mdt": "Multidisciplinary team (MDT)"}  # 'Mdt' is no clinician's word
    expected = [
        titles.get(c.value, c.value.capitalize())
        for c in sorted({r.category for r in plan.recommendations}, key=lambda c: CATEGORY_ORDER[c])
    ]
    assert headings == expected and "Multidisciplinary team (MDT)" in headings
    cited = set(re.findall(r'href="#ref-(\d+)"', page))
    listed = re.findall(r'<li id="ref-(\d+)">', page)
    assert listed == [str(i) for i in range(1, len(plan.references) + 1)]
    assert cited and cited <= set(listed)
    for number, ref in enumerate(plan.references, start=1):
        assert html.escape(ref.vancouver(), quote=False) in page.split(f'<li id="ref-{number}">')[1]


def test_result_page_shows_the_follow_up_schedule(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    treated = {
        **breast_patient,
        "context": {
            **breast_patient["context"],
            "treatment_received": "radiotherapy",
            "treatment_date": "2026-10-01",
        },
    }
    page = client.get(_save(client, csrf, treated)).text
    plan = spinemets.assess(treated).plan
    assert plan is not None and plan.schedule
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", page)
    # 'Month 3' beside a date reads as March; the reports' heading says what the number counts
    assert '<th scope="col">Months after treatment</th>' in page
    assert [(int(m), d) for m, d, _ in rows] == [(s.month, str(s.due)) for s in plan.schedule]


def test_pdf_tumour_board_summary_downloads(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    ident = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    response = client.get(f"/assessments/{ident}/report.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert 'filename="spinemets-EX-001-v1.pdf"' in response.headers["content-disposition"]


def test_ask_answers_with_references_and_keeps_the_thread(client: TestClient, csrf: str) -> None:
    from spinemets.evidence import ask

    question = "What radiotherapy dose fractionation for painful uncomplicated spinal metastases?"
    expected = ask(question, k=5)
    assert expected.covered and expected.references
    full = client.post("/ask", data={"question": question, "csrf_token": csrf})
    assert full.status_code == 200
    text = _text(full.text)
    assert expected.summary[0].text in text
    for ref in expected.references:
        assert f'-ref-{ref.number}" value="{ref.number}">' in full.text
    partial = client.post(
        "/ask", data={"question": question, "csrf_token": csrf}, headers={"HX-Request": "true"}
    )
    assert "<html" not in partial.text  # just the answer, appended to the thread by htmx
    assert partial.text.count('<article class="answer"') == 1
    assert 'id="question-field" hx-swap-oob="true"' in partial.text and "Follow-up question" in partial.text


def test_ask_without_a_question_says_what_to_type(client: TestClient, csrf: str) -> None:
    response = client.post("/ask", data={"question": "  ", "csrf_token": csrf})
    assert response.status_code == 422
    assert "question must be a question in words" in html.unescape(response.text)


@pytest.mark.parametrize(("question", "length"), [("x", "1"), ("why " * 500 + "?", "2,001")])
def test_ask_takes_the_api_question_lengths(
    client: TestClient, csrf: str, question: str, length: str
) -> None:
    # The API's AskIn takes 3-2,000 characters; the page took anything (180,000 characters kept the
    # server busy for 20 s) and a single letter.
    response = client.post("/ask", data={"question": question, "csrf_token": csrf})
    assert response.status_code == 422
    text = html.unescape(response.text)
    assert "of 3 to 2,000 characters" in text and f"this one has {length})" in text


def test_urgency_banner_names_the_recommendations_that_set_it(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    page = client.get(_save(client, csrf, breast_patient)).text
    banner = page.split('<div class="banner', 1)[1].split("</div>", 1)[0]
    assessment = spinemets.assess(breast_patient)
    setting = [r.text for r in assessment.plan.urgency_basis()]
    assert setting == [
        r.text for r in assessment.plan.recommendations if r.urgency == assessment.plan.urgency
    ]
    assert assessment.plan.urgency.value == "urgent" and setting
    assert f"Set by {len(setting)} recommendation" in banner
    assert all(html.escape(t, quote=False) in banner or t in html.unescape(banner) for t in setting)


def test_ask_outside_the_evidence_base_says_so(client: TestClient, csrf: str) -> None:
    from spinemets.evidence import ask

    question = "best recipe for sourdough bread"
    expected = ask(question, k=5)
    assert not expected.covered
    page = html.unescape(client.post("/ask", data={"question": question, "csrf_token": csrf}).text)
    assert (expected.notice or "does not cover") in page


def test_lesion_buttons_work_without_javascript(client: TestClient, csrf: str) -> None:
    """The add/remove buttons are submit buttons: without htmx the form comes back with the rows changed."""
    base = {"lesions.0.level": "T12", "lesions.0.bone_lesion": "lytic", "csrf_token": csrf}
    added = client.post("/assess", data={**base, "action": "add_lesion"})
    assert added.status_code == 200
    assert 'name="lesions.1.level"' in added.text and 'value="T12"' in added.text
    two = {**base, "lesions.1.level": "L3"}
    removed = client.post("/assess", data={**two, "action": "remove_lesion:0"})
    assert removed.status_code == 200
    assert 'name="lesions.0.level"' not in removed.text and 'value="L3"' in removed.text
    assert client.get("/history").text.count("<tbody>") == 0  # nothing was saved


def test_the_first_submit_button_of_the_form_is_save(client: TestClient) -> None:
    """Enter in a text field 'clicks' the form's first submit button; it must not remove a lesion."""
    page = client.get("/assess").text
    form = page[page.index('<form id="assess-form"') :]
    first = re.search(r"<button type=\"submit\"([^>]*)>([^<]+)</button>", form)
    assert first and first.group(2) == "Save" and "name=" not in first.group(1)


def test_a_deleted_assessment_stays_readable_but_cannot_get_a_new_version(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    location = _save(client, csrf, breast_patient)
    ident = location.split("/")[2].split("?")[0]
    store = client.app.state.store  # type: ignore[attr-defined]
    store.delete(ident, author="test")
    page = client.get(location).text
    assert "<b>deleted</b>" in page and "Edit as a new version" not in page
    assert 'role="alert"><b>DELETED ASSESSMENT: version 1' in page
    pdf = client.get(f"/assessments/{ident}/report.pdf")
    assert pdf.status_code == 200 and "-deleted.pdf" in pdf.headers["Content-Disposition"]
    record = client.get(f"/assessments/{ident}/report.json")
    assert record.json()["deleted"] is True and "-deleted.json" in record.headers["Content-Disposition"]
    assert ident not in client.get("/history").text
    data = {**forms.patient_to_form(breast_patient), "csrf_token": [csrf], "assessment_id": [ident]}
    data["expected_version"] = ["1"]
    refused = client.post("/assess", data=data)
    assert refused.status_code == 409
    assert ident in html.unescape(refused.text) and "has not been deleted" in refused.text
    opened = client.get("/assess", params={"from": ident})  # not even opened for editing
    assert opened.status_code == 409 and "has not been deleted" in opened.text


def test_result_page_shows_the_patient_as_entered_and_the_notes(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    # the reports open with the patient's facts and the clinician's notes; the result page showed
    # neither, so a clinician reading it could not see what the plan was computed from
    patient = {**breast_patient, "notes": "Discussed at MDT <b>Tuesday</b>"}
    page = client.get(_save(client, csrf, patient)).text
    text = _text(page)
    assert "Primary breast (tissue-confirmed)" in text and "Performance KPS 70%" in text
    assert "Spinal lesions T12 (ESCC 1b, lytic); L3 (ESCC 0, blastic)" in text
    assert "Discussed at MDT &lt;b&gt;Tuesday&lt;/b&gt;" in page  # escaped, shown as typed


def test_delete_from_the_result_page_needs_confirmation_and_keeps_the_record(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    # The API could soft-delete (DELETE /api/v1/assessments/{id}); a clinician in the web app could not
    # remove an assessment saved by mistake.
    location = _save(client, csrf, breast_patient)
    ident = location.split("/")[2].split("?")[0]
    page = client.get(location).text
    assert f'action="/assessments/{ident}/delete"' in page
    unconfirmed = client.post(f"/assessments/{ident}/delete", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 422 and "tick the box to confirm" in unconfirmed.text
    assert ident in client.get("/history").text  # nothing happened
    no_token = client.post(f"/assessments/{ident}/delete", data={"confirm": "yes"})
    assert no_token.status_code == 403 and ident in client.get("/history").text
    done = client.post(f"/assessments/{ident}/delete", data={"csrf_token": csrf, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == f"/history?deleted={ident}"
    history = client.get(done.headers["location"]).text
    assert "Deleted the assessment of EX-001" in _text(history)
    assert f'<a href="/assessments/{ident}">open it</a>' in history  # the one link to it left
    assert f"/assessments/{ident}?" not in history and f"c-{ident}" not in history  # not listed
    record = client.get(f"/assessments/{ident}").text
    assert 'role="alert"><b>DELETED ASSESSMENT: version 1' in record and "h-delete" not in record
    store = client.app.state.store  # type: ignore[attr-defined]
    assert [v.version for v in store.versions(ident)] == [1]  # nothing erased
    from spinemets.service import audit

    actions = [(e.action, e.object_id) for e in audit.entries(store.engine)]
    assert actions[-1] == ("assessment.delete", ident)
    again = client.post(f"/assessments/{ident}/delete", data={"csrf_token": csrf, "confirm": "yes"})
    assert again.status_code == 409 and "has not been deleted" in again.text
    unknown = client.post("/assessments/no-such-id/delete", data={"csrf_token": csrf, "confirm": "yes"})
    assert unknown.status_code == 404
    # a notice only for an assessment that is deleted, never for any id put in the address
    other = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    assert "Deleted the assessment" not in client.get(f"/history?deleted={other}").text
    assert "Deleted the assessment" not in client.get("/history?deleted=no-such-id").text


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("performance.kps", "inf", "performance.kps must be a valid integer"),
        ("performance.kps", "nan", "performance.kps must be a valid integer"),
        ("age_years", "1e400", "age_years must be a valid integer"),
        ("age_years", "-inf", "age_years must be a valid integer"),
    ],
)
def test_a_number_that_is_not_finite_is_shown_next_to_its_field(
    client: TestClient, csrf: str, field: str, typed: str, message: str
) -> None:
    """int(float('inf')) raised OverflowError (a 500) before the validator could name the value."""
    saved = client.post("/assess", data={field: typed, "csrf_token": csrf})
    assert saved.status_code == 422
    err = re.search(rf'id="f-{field.replace(".", "-")}-err">([^<]+)<', html.unescape(saved.text))
    assert err and message in err.group(1) and repr(typed) in err.group(1)
    assert f'value="{typed}"' in saved.text  # what was typed is kept
    live = client.post("/assess/scores", data={field: typed, "csrf_token": csrf})
    assert live.status_code == 200 and message in html.unescape(live.text)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("version=99999999999999999999999", "version must be a version number from 1 to 1000000"),
        ("version=0", "version must be a version number from 1 to 1000000"),
        ("version=abc", "version must be a valid integer"),
    ],
)
@pytest.mark.parametrize("page", ["", "/report.pdf", "/report.json"])
def test_a_version_out_of_range_is_an_html_error_naming_it(
    client: TestClient, csrf: str, breast_patient: dict[str, Any], page: str, query: str, message: str
) -> None:
    ident = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    response = client.get(f"/assessments/{ident}{page}?{query}")
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert message in html.unescape(response.text)
    reopen = client.get(f"/assess?from={ident}&{query}")
    assert reopen.status_code == 422 and message in html.unescape(reopen.text)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (":\u00b2", "ids must be an assessment id, optionally followed by :version (digits 0-9)"),
        (":99999999999999999999999", "version must be a version number from 1 to 1000000"),
    ],
)
def test_compare_names_a_version_that_is_not_a_number_in_range(
    client: TestClient, csrf: str, breast_patient: dict[str, Any], ref: str, message: str
) -> None:
    first = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    response = client.get("/history/compare", params=[("ids", first + ref), ("ids", first)])
    assert response.status_code == 422 and message in html.unescape(response.text)


@pytest.mark.parametrize(
    ("patient_id", "fallback", "utf8"),
    [
        ("ŁÓDŹ-7", "spinemets-_ODZ-7-v1", "spinemets-%C5%81%C3%93D%C5%B9-7-v1"),
        ("A\r\nSet-Cookie: x=1", "spinemets-ASet-Cookie__x_1-v1", "spinemets-ASet-Cookie%3A%20x%3D1-v1"),
        ('Ö"/\\\u202e1', "spinemets-O1-v1", "spinemets-%C3%961-v1"),
    ],
)
@pytest.mark.parametrize("suffix", ["pdf", "json"])
def test_downloads_name_any_patient_identifier_safely(
    client: TestClient,
    breast_patient: dict[str, Any],
    patient_id: str,
    fallback: str,
    utf8: str,
    suffix: str,
) -> None:
    """RFC 6266/5987: an ASCII fallback and the UTF-8 name; no control character reaches the header
    (a non-ASCII identifier was a 500, a line break dropped the connection)."""
    made = client.post("/api/v1/assessments", json={"patient": {**breast_patient, "patient_id": patient_id}})
    assert made.status_code == 201
    response = client.get(f"/assessments/{made.json()['id']}/report.{suffix}")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"{fallback}.{suffix}\"; filename*=UTF-8''{utf8}.{suffix}"
    )


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("foo", "bar", "foo must be a field of the Assess form; got 'bar'"),
        ("lesions.x.level", "T12", "lesions.x.level must be a lesion field named lesions.<row number"),
        ("lesions.-1.level", "T12", "lesions.-1.level must be a lesion field named lesions.<row number"),
        ("lesions.0.levle", "T12", "lesions.0.levle must be a lesion field named lesions.<row number"),
        ("performance.kps.value", "70", "performance.kps.value must be a field of the Assess form"),
    ],
)
def test_a_field_the_form_does_not_have_is_refused_not_dropped(
    client: TestClient, csrf: str, field: str, value: str, allowed: str
) -> None:
    """It was saved as {} (303), the lesion silently gone."""
    data = {"patient_id": "EX-KEEP", "performance.kps": "70", field: value, "csrf_token": csrf}
    response = client.post("/assess", data=data)
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert allowed in page and "nothing is silently dropped" in page
    assert 'value="EX-KEEP"' in page and 'value="70"' in response.text  # what was entered is kept
    assert client.get("/history").text.count("EX-KEEP") == 0  # nothing stored
    # the live score panel says the same instead of scoring a form the save would refuse
    live = client.post("/assess/scores", data=data)
    assert live.status_code == 200 and allowed in html.unescape(live.text)


def test_every_control_of_the_page_is_a_known_field(client: TestClient, csrf: str) -> None:
    """The refusal above must not catch a field the page itself sends (every control, lesion rows)."""
    page = client.get("/assess").text
    names = set(re.findall(r'<(?:input|select|textarea|button)\b[^>]*\bname="([^"]+)"', page))
    assert {"csrf_token", "performance.kps", "lesions.0.level"} <= names
    names |= {"lesions.3.level", "action"}
    assert forms.unknown_field({n: [""] for n in names}) is None


def test_a_quantity_error_marks_its_control_and_the_summary_links_to_it(
    client: TestClient, csrf: str
) -> None:
    # albumin {value, unit} is one control: the error path labs.albumin.value must find it
    # (the summary linked to #f-labs-albumin-Quantity-value, which no element has).
    page = client.post(
        "/assess", data={"csrf_token": csrf, "labs.albumin.value": "-3", "labs.albumin.unit": "g/L"}
    )
    assert page.status_code == 422
    links = re.findall(r'href="#(f-[^"]+)"', page.text)
    assert set(links) == {"f-labs-albumin"} and 'id="f-labs-albumin"' in page.text
    assert 'id="f-labs-albumin-err"' in page.text and 'aria-invalid="true"' in page.text
    assert 'value="-3"' in page.text  # what was typed is kept


def test_ask_shows_the_certainty_of_each_reference(client: TestClient, csrf: str) -> None:
    """guidelines.md 'How to read the tags': V2 and K references are marked in HTML as in text and Markdown."""
    from spinemets.evidence import ask

    question = "Sorensen trial of high-dose dexamethasone"
    expected = ask(question, k=5)
    page = client.post("/ask", data={"question": question, "csrf_token": csrf}).text
    for ref in expected.references:
        if ref.certainty in ("K", "V2"):
            item = page.split(f'-ref-{ref.number}" value="{ref.number}">', 1)[1].split("</li>", 1)[0]
            assert f"(certainty {ref.certainty}" in item


def test_an_overlong_version_number_is_refused_not_a_server_error(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    ident = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    data = {**forms.patient_to_form(breast_patient), "csrf_token": [csrf]}
    data.update({"assessment_id": [ident], "expected_version": ["9" * 5000]})
    response = client.post("/assess", data=data)
    assert response.status_code == 422 and "expected_version" in html.unescape(response.text)


def test_an_assessment_stored_before_a_newer_model_check_still_opens(
    client: TestClient, breast_patient: dict[str, Any]
) -> None:
    """A patient the model accepted when the assessment was stored, and refuses since (here collapse
    'none' beside more than half the body involved, a contradiction refused from rule set 2026.12.2), is a
    record of what was computed: its result page, PDF and comparison open instead of failing with a 500."""
    patient = {**breast_patient, "lesions": [{"level": "T12", "collapse": "none"}]}
    outputs = spinemets.assess(patient).model_dump(mode="json")
    outputs["patient"]["lesions"][0]["body_involvement_over_50"] = True  # as stored before the check
    with pytest.raises(spinemets.InvalidInputError, match="collapse none contradicts"):
        spinemets.parse_patient(outputs["patient"])  # a new assessment of it is refused, as intended
    store = client.app.state.store  # type: ignore[attr-defined]
    first, second = (
        store.create(patient, outputs, author="test", patient_id="old-1", ruleset_version="2026.12.0")
        for _ in range(2)
    )
    page = client.get(f"/assessments/{first.id}")
    assert page.status_code == 200 and "SINS" in page.text
    assert client.get(f"/assessments/{first.id}/report.pdf").status_code == 200
    compare = client.get("/history/compare", params={"ids": [first.id, second.id]})
    assert compare.status_code == 200 and "exactly two" not in compare.text


def test_scores_on_the_page_flag_recalled_figures_as_the_reports_do(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    """Tomita's points and bands are recalled [K]: the reports print the definition's note beside the score
    ('note: ...'), and so do the live scores and the stored result page (they showed Tomita bare)."""
    note = "note: " + next(n for n in spinemets.SCORES["tomita"].notes if "[K]" in n)

    def tomita(page: str) -> str:
        match = re.search(r'data-score="tomita">(.*?)</(?:section|article)>', page, re.S)
        assert match, "Tomita not on the page"
        return html.unescape(match.group(1))

    live = client.post("/assess/scores", data={**forms.patient_to_form(breast_patient), "csrf_token": [csrf]})
    assert note in tomita(live.text)
    assert note in tomita(client.get(_save(client, csrf, breast_patient)).text)
    assert note.removeprefix("note: ") in render_markdown(spinemets.assess(breast_patient))


@pytest.mark.parametrize(
    ("control", "allowed", "attributes"),
    [
        ("f-age_years", "0–120", 'min="0" max="120"'),
        ("f-performance-kps", "10–100 in steps of 10", 'step="10" min="10" max="100"'),
        ("f-lesions-0-prior_radiotherapy-dose_gy", "over 0, up to 200", 'min="0" max="200"'),
        ("f-labs-albumin", "plausible 0.5-7 g/dL (5-70 g/L)", ""),
    ],
)
def test_number_fields_show_the_allowed_range_before_anything_is_typed(
    client: TestClient, control: str, allowed: str, attributes: str
) -> None:
    """The model's limits (age 0-120, KPS in tens) are on the page, not only in the error after a save."""
    page = html.unescape(client.get("/assess").text)
    tag = re.search(rf'<input id="{control}"[^>]*>', page)
    assert tag is not None
    assert f'aria-describedby="{control}-allowed' in tag.group(0)
    assert attributes in tag.group(0)
    assert f'<p class="allowed" id="{control}-allowed">Allowed: {allowed}</p>' in page


def test_a_number_field_without_an_upper_limit_shows_no_range(client: TestClient) -> None:
    """``0 or more`` under every laboratory value would say nothing a clinician needs."""
    page = client.get("/assess").text
    assert 'id="f-labs-crp_mg_dl-allowed"' not in page
    assert re.search(r'<input id="f-labs-crp_mg_dl"[^>]* min="0"', page)


def test_a_refused_save_lists_every_wrong_entry_at_once(client: TestClient, csrf: str) -> None:
    """Three typing slips give three errors on the first save, each next to its field, not one per attempt."""
    data = {
        "age_years": "158",
        "performance.kps": "75",
        "lesions.0.level": "T13",
        "pain.severity_nrs": "7",
        "csrf_token": csrf,
    }
    response = client.post("/assess", data=data)
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert "Please correct 3 entries" in page
    for control, typed in [
        ("f-age_years", "158"),
        ("f-performance-kps", "75"),
        ("f-lesions-0-level", "'T13'"),
    ]:
        err = re.search(rf'<p class="err" id="{control}-err">([^<]+)</p>', page)
        assert err and f"got {typed}" in err.group(1), control
        assert f'href="#{control}"' in page  # linked from the summary
    assert page.count('aria-invalid="true"') == 3
    assert 'value="7"' in page  # the valid entry is kept too


def test_a_too_broad_question_names_the_nearest_topics_once(client: TestClient, csrf: str) -> None:
    from spinemets.evidence import ask

    expected = ask("What dose?", k=5)
    assert not expected.covered and expected.nearest_topics and expected.notice
    page = html.unescape(client.post("/ask", data={"question": "What dose?", "csrf_token": csrf}).text)
    assert expected.notice in page
    assert _text(page).count("Nearest topics") == 1


def test_a_short_follow_up_is_read_with_the_previous_question_and_says_so(
    client: TestClient, csrf: str
) -> None:
    """Issue 5 asks for follow-up questions on the Ask page: 'What dose?' after a dexamethasone
    question was answered without it ('too broad'); it is read with the previous question's subject,
    and the answer names the question it followed up. A question complete on its own is not."""
    first = "Should a patient with MSCC get dexamethasone?"
    partial = client.post(
        "/ask", data={"question": first, "csrf_token": csrf}, headers={"HX-Request": "true"}
    ).text
    assert 'aria-describedby="question-hint"' in partial
    assert f'name="previous" value="{first}"' in html.unescape(partial)  # the thread's subject travels on
    assert "read with the previous question" in _text(partial)
    follow = html.unescape(
        client.post(
            "/ask",
            data={"question": "What dose?", "previous": first, "csrf_token": csrf},
            headers={"HX-Request": "true"},
        ).text
    )
    assert f"Read as a follow-up of: “{first}”" in follow
    assert "16 mg" in _text(follow) and "too broad for one answer" not in follow
    assert f'name="previous" value="What dose? ({first})"' in follow  # a third question keeps the subject
    alone = html.unescape(
        client.post(
            "/ask",
            data={
                "question": "What radiotherapy dose fractionation for painful uncomplicated spinal metastases?",
                "previous": first,
                "csrf_token": csrf,
            },
            headers={"HX-Request": "true"},
        ).text
    )
    from spinemets.evidence import ask

    standalone = ask("What radiotherapy dose fractionation for painful uncomplicated spinal metastases?", k=5)
    assert "Read as a follow-up" not in alone and standalone.summary[0].text in alone


def test_a_tampered_previous_field_is_ignored_not_blamed_on_the_question(
    client: TestClient, csrf: str
) -> None:
    """The hidden 'previous' field comes from the browser: one outside the question length limits
    (too short as well as too long) is dropped and the question answered on its own; it was read
    only when too long, so 'ab' refused the user's own valid question with a length error."""
    expected = html.unescape(client.post("/ask", data={"question": "What dose?", "csrf_token": csrf}).text)
    for previous in ("ab", "x" * 2001):
        page = client.post("/ask", data={"question": "What dose?", "previous": previous, "csrf_token": csrf})
        assert page.status_code == 200, _text(page.text)
        assert html.unescape(page.text) == expected  # answered alone, no hidden field carried on


def _score_range(page: str, key: str) -> str:
    match = re.search(rf'data-score="{key}">.*?<span class="range">possible ([^<]+)</span>', page, re.S)
    assert match, f"score {key} has no range on the page"
    return match.group(1)


def test_a_grade_is_shown_as_its_grade_not_its_rank(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    """Bilsky ESCC 1b at T12 was headed '2 possible 0–5' (its rank among 0, 1a, 1b, 1c, 2, 3), which a
    clinician reads as grade 2, high-grade cord compression; Frankel E was '4 possible 0–4'. The
    page shows the grade and the grades' range, as the reports' labels do (Bilsky 2010; Frankel 1969)."""
    for page in (
        client.post(
            "/assess/scores", data={**forms.patient_to_form(breast_patient), "csrf_token": [csrf]}
        ).text,
        client.get(_save(client, csrf, breast_patient)).text,
    ):
        assert (_score_value(page, "escc"), _score_range(page, "escc")) == ("1b", "0–3")
        assert (_score_value(page, "frankel"), _score_range(page, "frankel")) == ("E", "A–E")
        assert (_score_value(page, "performance"), _score_range(page, "performance")) == ("1", "0–5")
        assert (_score_value(page, "sins"), _score_range(page, "sins")) == ("11", "0–18")
    unknown = client.post("/assess/scores", data={"lesions.0.level": "T12", "csrf_token": csrf}).text
    assert _score_value(unknown, "escc") == "0–3" and _score_value(unknown, "frankel") == "A–E"


def test_compare_names_facts_as_the_form_does_and_marks_an_urgency_change_in_words(
    client: TestClient, csrf: str, breast_patient: dict[str, Any]
) -> None:
    """The changed facts were JSON paths ('lesions[0].escc', 'labs.albumin.value', 'True'), the first
    lesion numbered 0 where the form says Lesion 1; a changed urgency (urgent -> emergency) was marked
    by a yellow background alone, where every changed score also says 'changed'."""
    first = _save(client, csrf, breast_patient).split("/")[2].split("?")[0]
    lesions = [{**breast_patient["lesions"][0], "escc": "3"}, breast_patient["lesions"][1]]
    neurology = {**breast_patient["neurology"], "frankel": "C", "motor_deficit": True}
    labs = {"albumin": {"value": 30, "unit": "g/L"}}
    later = {**breast_patient, "lesions": lesions, "neurology": neurology, "labs": labs}
    assert spinemets.assess(later).plan.urgency != spinemets.assess(breast_patient).plan.urgency  # type: ignore[union-attr]
    second = _save(client, csrf, later).split("/")[2].split("?")[0]
    page = client.get("/history/compare", params=[("ids", first), ("ids", second)]).text
    text = _text(page)
    assert "Lesion 1: Bilsky ESCC grade at this level 1b 3" in text
    assert "Any motor deficit of the limbs no yes" in text
    assert "Serum albumin, pre-treatment 38 g/L 30 g/L" in text
    assert "lesions[0]" not in text and "True" not in text and "labs.albumin" not in text
    urgency = re.search(r'<tr class="changed"><th scope="row">Urgency of the plan(.*?)</th>', page)
    assert urgency and "changed" in urgency.group(1)  # in words, not only the row's colour (WCAG 1.4.1)


def test_sins_collapse_options_keep_their_percent_and_say_none_of_the_above(client: TestClient) -> None:
    """The collapse options read 'over 50', 'under 50', 'no collapse over 50 involved' and 'none'; in
    SINS (Fisher 2010, defined beside the control) 'none' is none of the above, so a lesion without
    collapse but with over 50% of the body involved, entered as 'none', lost its 1 point."""
    page = client.get("/assess").text
    select = re.search(r'<select id="f-lesions-0-collapse".*?</select>', page, re.S)
    assert select
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>', select.group(0)))
    assert options == {
        "": "not recorded",
        "over_50": "over 50% collapse",
        "under_50": "under 50% collapse",
        "no_collapse_over_50_involved": "no collapse, over 50% of the body involved",
        "none": "none of the above",
    }


def test_without_javascript_the_score_panel_can_be_brought_up_to_date(client: TestClient, csrf: str) -> None:
    """Without JavaScript the panel kept the scores of the form as first drawn ('No item recorded yet'
    beside a filled form) and nothing but a save updated it; a no-script button redraws the form with
    the scores of what is entered, saving nothing."""
    page = client.get("/assess").text
    button = re.search(r"<noscript>.*?</noscript>", page, re.S)
    assert button and 'form="assess-form" name="action" value="rescore"' in button.group(0)
    data = {"lesions.0.level": "T12", "pain.type": "mechanical", "csrf_token": csrf, "action": "rescore"}
    redrawn = client.post("/assess", data=data)
    assert redrawn.status_code == 200
    assert _score_value(redrawn.text, "sins") == "6–18"  # junctional 3 + mechanical 3, four items unknown
    assert 'value="T12"' in redrawn.text and "Please correct" not in redrawn.text
    assert client.get("/history").text.count("<tbody>") == 0  # nothing was saved


def test_result_cards_say_how_many_items_are_still_to_obtain(client: TestClient, csrf: str) -> None:
    """A score with missing items showed a closed 'Basis' line, the same as a complete one: what is
    missing and the question that settles it were found only by opening every card."""
    patient = {"patient_id": "EX-MISSING", "lesions": [{"level": "T12", "bone_lesion": "lytic"}]}
    page = client.get(_save(client, csrf, patient)).text
    sins = spinemets.assess(patient).scores["sins"]
    card = page.split('data-score="sins"')[1].split("</article>")[0]
    assert f"<summary>Basis and {len(sins.missing)} items to obtain</summary>" in card
    assert all(html.escape(q, quote=False) in card for q in sins.questions.values())
    escc = page.split('data-score="escc"')[1].split("</article>")[0]
    assert "<summary>Basis and 1 item to obtain</summary>" in escc  # the grade is not recorded
    full = {**patient, "lesions": [{"level": "T12", "escc": "1a"}]}
    assert (
        "<summary>Basis</summary>" in client.get(_save(client, csrf, full)).text.split('data-score="escc"')[1]
    )


def test_neurology_never_entered_is_not_shown_as_a_normal_examination(client: TestClient, csrf: str) -> None:
    """The patient facts (result page and reports) read 'Neurology: no deficit recorded' for a patient
    whose neurology was never entered, which a tumour board reads as a normal examination; the rules
    themselves tell 'neurological status not recorded' from 'recorded without deficit'."""
    blank = _text(
        client.get(_save(client, csrf, {"patient_id": "EX-NEURO", "lesions": [{"level": "L1"}]})).text
    )
    assert "Neurology not recorded" in blank and "no deficit recorded" not in blank
    examined = {"patient_id": "EX-NEURO", "neurology": {"motor_deficit": False}, "lesions": [{"level": "L1"}]}
    assert "Neurology no deficit recorded" in _text(client.get(_save(client, csrf, examined)).text)


def test_an_assessment_date_not_recorded_is_not_shown_as_recorded(client: TestClient, csrf: str) -> None:
    """Without a date on the form the record is filed under the day it was saved: the result page headed
    it with that day while its patient facts said 'Assessment date not recorded', and History listed it
    as 'Assessed' that day."""
    page = _text(client.get(_save(client, csrf, {"patient_id": "EX-NODATE"})).text)
    assert re.search(r"Result: EX-NODATE assessment date not recorded \(saved \d{4}-\d\d-\d\d\)", page)
    history = _text(client.get("/history", params={"patient_id": "EX-NODATE"}).text)
    assert re.search(r"EX-NODATE \d{4}-\d\d-\d\d saved; not recorded", history)
    dated = _text(
        client.get(_save(client, csrf, {"patient_id": "EX-DATED", "assessment_date": "2026-11-20"})).text
    )
    assert "Result: EX-DATED 2026-11-20 Version" in dated
