"""The REST API end to end through FastAPI's TestClient: compute+store, versions, errors, auth, security."""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import spinemets
from spinemets.errors import InvalidInputError
from spinemets.model.validation import parse_patient
from spinemets.service import audit
from spinemets.service.app import create_app
from spinemets.service.settings import load_settings

from .conftest import LOOPBACK, LOOPBACK_URL, library_outputs

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "breast_t12_mechanical.json").read_text()
)
PROBLEM = "application/problem+json"

#: RFC 9110 section 15 reason phrases: RFC 9457 section 4.2.1 wants them as the title of an
#: "about:blank" problem (the service said "Not found" and "Invalid input" for every 422).
RFC9110_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["cache-control"] == "no-store"  # an error is no more cacheable than a record
    body = r.json()
    assert body["status"] == status and body["title"]
    if body.get("type", "about:blank") == "about:blank":
        assert body["title"] == RFC9110_PHRASES[status], body
    return body


def test_problem_titles_follow_rfc_9457(open_client: TestClient) -> None:
    missing = _problem(open_client.get("/api/v1/assessments/no-such-id"), 404)
    assert (missing["type"], missing["title"]) == ("about:blank", "Not Found")
    # a typed problem has a title of its own
    invalid = _problem(open_client.post("/api/v1/assessments", json={"patient": {"age_years": -1}}), 422)
    assert (invalid["type"], invalid["title"]) == ("urn:spinemets:problem:invalid-input", "Invalid input")
    media = _problem(
        open_client.post("/api/v1/assessments", content=b"x", headers={"content-type": "text/plain"}), 415
    )
    assert media["title"] == "Unsupported Media Type"


def test_create_stores_what_the_library_computes(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/assessments", json={"patient": EXAMPLE}, headers={"Authorization": keys["write"]}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/api/v1/assessments/{body['id']}"
    expected = spinemets.assess(EXAMPLE).model_dump(mode="json")
    assert body["outputs"]["scores"] == expected["scores"]
    assert body["inputs"] == EXAMPLE
    assert body["patient_id"] == "EX-001" and body["assessment_date"] == "2026-11-20"
    assert body["author"].startswith("key:") and "definitions" in body["ruleset_version"]
    got = client.get(f"/api/v1/assessments/{body['id']}", headers={"Authorization": keys["read"]})
    assert got.json() == body


def test_what_the_app_loaded_at_startup_is_left_out_of_full_collections(tmp_path: Path) -> None:
    """Models, rule set and routes live as long as the worker: a full collection used to walk them
    all (some 130,000 objects, a 57-61 ms pause every ~2,000 creates in a worker, measured with
    ``gc.callbacks``); the app freezes them once started and unfreezes on shutdown, so an app made
    and closed (a test, a reload) leaves nothing the collector cannot reach."""
    assert gc.get_freeze_count() == 0
    settings = load_settings(data_dir=tmp_path / "data", auth_mode="loopback_open")
    with TestClient(create_app(settings), client=LOOPBACK, base_url=LOOPBACK_URL) as c:
        assert c.post("/api/v1/assessments", json={"patient": EXAMPLE}).status_code == 201
        gc.collect()
        assert gc.get_freeze_count() > 100_000  # still out of the collector's reach while serving
    assert gc.get_freeze_count() == 0


def test_create_reply_is_byte_for_byte_the_stored_version(open_client: TestClient) -> None:
    # The create reply is spliced from the stored JSON texts; reading the version back serialises
    # the AssessmentOut model from the database, so the two must be the same bytes.
    for example in sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json")):
        patient = json.loads(example.read_text())
        created = open_client.post("/api/v1/assessments", json={"patient": patient})
        assert created.status_code == 201, created.text
        got = open_client.get(created.headers["location"])
        assert got.content == created.content, example.name
        outputs = created.json()["outputs"]
        assert outputs == library_outputs(patient, outputs)


def test_create_answers_with_the_etag_a_put_needs(open_client: TestClient) -> None:
    created = open_client.post("/api/v1/assessments", json={"patient": EXAMPLE})
    assert created.status_code == 201 and created.headers["etag"] == '"v1"'
    minimal = open_client.post(
        "/api/v1/assessments", json={"patient": EXAMPLE}, headers={"Prefer": "return=minimal"}
    )
    assert minimal.headers["etag"] == '"v1"'
    changed = {**EXAMPLE, "performance": {"kps": 50}}
    put = open_client.put(
        created.headers["location"], json={"patient": changed}, headers={"If-Match": created.headers["etag"]}
    )
    assert put.status_code == 200 and put.headers["etag"] == '"v2"'
    stale = open_client.put(
        created.headers["location"], json={"patient": EXAMPLE}, headers={"If-Match": created.headers["etag"]}
    )
    _problem(stale, 412)


def test_prefer_return_minimal_replies_with_the_summary(open_client: TestClient) -> None:
    r = open_client.post(
        "/api/v1/assessments", json={"patient": EXAMPLE}, headers={"Prefer": "return=minimal"}
    )
    assert r.status_code == 201 and r.headers["preference-applied"] == "return=minimal"
    body = r.json()
    assert "outputs" not in body and body["patient_id"] == "EX-001"
    stored = open_client.get(r.headers["location"]).json()
    assert stored["outputs"]["scores"] == spinemets.assess(EXAMPLE).model_dump(mode="json")["scores"]


def test_put_adds_a_version_and_the_old_one_stays(open_client: TestClient) -> None:
    first = open_client.post("/api/v1/assessments", json={"patient": EXAMPLE}).json()
    changed = {**EXAMPLE, "performance": {"kps": 40}}
    second = open_client.put(f"/api/v1/assessments/{first['id']}", json={"patient": changed}).json()
    assert second["version"] == 2 and second["inputs"]["performance"] == {"kps": 40}
    old = open_client.get(f"/api/v1/assessments/{first['id']}", params={"version": 1}).json()
    assert old["inputs"]["performance"] == {"kps": 70} and old["outputs"] == first["outputs"]
    versions = open_client.get(f"/api/v1/assessments/{first['id']}/versions").json()
    assert [v["version"] for v in versions] == [1, 2]


def test_if_match_refuses_to_supersede_a_version_someone_else_stored(open_client: TestClient) -> None:
    first = open_client.post("/api/v1/assessments", json={"patient": EXAMPLE}).json()
    url = f"/api/v1/assessments/{first['id']}"
    etag = open_client.get(url).headers["etag"]
    assert etag == '"v1"'
    mine = {**EXAMPLE, "performance": {"kps": 60}}
    theirs = {**EXAMPLE, "performance": {"kps": 50}}
    ok = open_client.put(url, json={"patient": theirs}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.headers["etag"] == '"v2"'
    body = _problem(open_client.put(url, json={"patient": mine}, headers={"If-Match": etag}), 412)
    assert (
        body["errors"][0]["field"] == "expected_version"
        and "the latest version, 2" in body["errors"][0]["allowed"]
    )
    assert open_client.get(url).json()["inputs"]["performance"] == {"kps": 50}
    _problem(open_client.put(url, json={"patient": mine}, headers={"If-Match": "yesterday"}), 422)


def test_list_search_and_soft_delete(open_client: TestClient) -> None:
    ids = []
    for pid, day in (("A", "2026-01-05"), ("A", "2026-02-05"), ("B", "2026-02-05")):
        patient = {**EXAMPLE, "patient_id": pid, "assessment_date": day}
        ids.append(open_client.post("/api/v1/assessments", json={"patient": patient}).json()["id"])
    listed = open_client.get("/api/v1/assessments", params={"patient_id": "A"}).json()
    assert [i["id"] for i in listed["items"]] == [ids[1], ids[0]]
    assert "inputs" not in listed["items"][0]
    feb = open_client.get(
        "/api/v1/assessments", params={"date_from": "2026-02-01", "date_to": "2026-02-28"}
    ).json()
    assert {i["id"] for i in feb["items"]} == {ids[1], ids[2]}
    assert open_client.delete(f"/api/v1/assessments/{ids[0]}").status_code == 204
    assert [
        i["id"] for i in open_client.get("/api/v1/assessments", params={"patient_id": "A"}).json()["items"]
    ] == [ids[1]]
    _problem(open_client.get(f"/api/v1/assessments/{ids[0]}"), 410)
    assert open_client.get(f"/api/v1/assessments/{ids[0]}", params={"version": 1}).json()["deleted"] is True
    _problem(open_client.delete(f"/api/v1/assessments/{ids[0]}"), 410)
    assert len(open_client.get(f"/api/v1/assessments/{ids[0]}/versions").json()) == 1
    actions = [e["action"] for e in open_client.get(f"/api/v1/assessments/{ids[0]}/audit").json()]
    assert actions == ["assessment.create", "assessment.delete"]
    assert open_client.get("/api/v1/audit/verify").json()["ok"] is True


def test_a_deleted_assessments_versions_stay_readable_for_the_record(
    client: TestClient, keys: dict[str, str]
) -> None:
    """docs/service.md: deleting hides an assessment from lists; its versions stay readable through
    /versions. The assessment itself answers 410; each version, named, is served marked deleted."""
    write, read = {"Authorization": keys["write"]}, {"Authorization": keys["read"]}
    created = client.post("/api/v1/assessments", json={"patient": EXAMPLE}, headers=write).json()
    base = f"/api/v1/assessments/{created['id']}"
    second = {**EXAMPLE, "performance": {"kps": 50}}
    assert client.put(base, json={"patient": second}, headers=write).status_code == 200
    assert client.delete(base, headers=write).status_code == 204
    gone = _problem(client.get(base, headers=read), 410)
    assert "?version=n (version 2 is the last)" in gone["errors"][0]["allowed"]
    _problem(client.get(f"{base}/report", params={"format": "json"}, headers=read), 410)
    versions = client.get(f"{base}/versions", headers=read).json()
    assert [(v["version"], v["deleted"]) for v in versions] == [(1, True), (2, True)]
    for summary in versions:
        got = client.get(summary["links"]["self"], headers=read)
        assert got.status_code == 200, got.text
        body = got.json()
        assert (body["version"], body["deleted"]) == (summary["version"], True)
        assert (
            got.headers["Spinemets-Deleted"] == "true" and got.headers["ETag"] == f'"v{summary["version"]}"'
        )
        report = client.get(summary["links"]["report_json"], headers=read)
        assert report.status_code == 200 and report.headers["Spinemets-Deleted"] == "true"
        assert report.json() == body["outputs"]
    assert body["inputs"]["performance"] == {"kps": 50}
    html_report = client.get(versions[0]["links"]["report_html"], headers=read)
    assert html_report.status_code == 200 and html_report.headers["Spinemets-Deleted"] == "true"
    # the page itself says so above everything, so a printed or saved copy cannot pass for a live one
    assert 'role="alert">DELETED ASSESSMENT: version 1' in html_report.text
    live_html = client.get(f"/api/v1/assessments/{ids_live(client, write)}/report", headers=read).text
    assert "DELETED ASSESSMENT" not in live_html
    # still no change to a deleted assessment, and a live one carries no mark
    _problem(client.put(base, json={"patient": EXAMPLE}, headers=write), 410)
    live = client.post("/api/v1/assessments", json={"patient": EXAMPLE}, headers=write).json()
    got = client.get(f"/api/v1/assessments/{live['id']}", params={"version": 1}, headers=read)
    assert got.json()["deleted"] is False and "Spinemets-Deleted" not in got.headers


def ids_live(client: TestClient, write: dict[str, str]) -> str:
    return str(client.post("/api/v1/assessments", json={"patient": EXAMPLE}, headers=write).json()["id"])


def _library_error(data: dict) -> Exception:
    try:
        parse_patient(data)
    except InvalidInputError as exc:
        return exc
    raise AssertionError(f"{data} was accepted")


def test_invalid_patient_is_a_problem_naming_path_value_and_allowed(open_client: TestClient) -> None:
    bad = {**EXAMPLE, "lesions": [{"level": "T12", "escc": "4"}]}
    body = _problem(open_client.post("/api/v1/assessments", json={"patient": bad}), 422)
    err = body["errors"][0]
    assert err["field"] == "patient.lesions[0].escc" and err["value"] == "4"
    assert err["allowed"].startswith("one of 0, 1a, 1b, 1c, 2, 3")
    body = _problem(
        open_client.post("/api/v1/assessments", json={"patient": {"performance": {"kps": 75}}}), 422
    )
    # the API describes a patient's fields as the library does: with what the field is and its unit
    assert body["errors"] == [
        {
            "field": "patient.performance.kps",
            "value": 75,
            "allowed": "a multiple of 10 (Karnofsky performance status, % from 10 to 100; 0 (death) is not assessed)",
        }
    ]
    assert body["errors"][0]["allowed"] in str(_library_error({"performance": {"kps": 75}}))
    body = _problem(
        open_client.post("/api/v1/assessments", json={"patient": {"lesions": [{"level": "T44"}]}}), 422
    )
    assert body["errors"][0]["field"] == "patient.lesions[0].level"
    assert body["errors"][0]["allowed"].startswith("a level from occiput (C0) to coccyx (Co)")
    body = _problem(open_client.post("/api/v1/assessments", json={"patient": {"shoe_size": 9}}), 422)
    assert body["errors"][0]["field"] == "patient.shoe_size"
    body = _problem(open_client.post("/api/v1/assessments", json={"patient": {"kps": 80}}), 422)
    assert body["errors"][0]["field"] == "patient.kps"
    assert body["errors"][0]["allowed"].startswith("a known field (")
    assert body["errors"][0]["allowed"].endswith("did you mean patient.performance.kps?)")
    body = _problem(
        open_client.post(
            "/api/v1/assessments", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
    )
    assert body["errors"] == [
        {
            "field": "body",
            "value": "(not JSON)",
            "allowed": "a JSON document (Expecting property name enclosed in double quotes)",
        }
    ]


def test_implausible_albumin_is_a_problem_naming_value_unit_range_and_mix_up(open_client: TestClient) -> None:
    """Albumin 35 g/dL (g/L meant) scored as normal before; now refused with the unit mix-up named."""
    bad = {**EXAMPLE, "labs": {"albumin": {"value": 35, "unit": "g/dL"}}}
    body = _problem(open_client.post("/api/v1/assessments", json={"patient": bad}), 422)
    (err,) = body["errors"]
    assert err["field"] == "patient.labs.albumin" and err["value"] == "35 g/dL"
    assert err["allowed"].startswith("a plausible serum albumin, 0.5-7 g/dL (5-70 g/L) (35 g/dL is not")
    assert 'was the unit g/L? send {"value": 35, "unit": "g/L"}' in err["allowed"]
    bare = {**EXAMPLE, "labs": {"albumin": 35}}
    body = _problem(open_client.post("/api/v1/assessments", json={"patient": bare}), 422)
    assert "a number without a unit is read as g/dL" in body["errors"][0]["allowed"]


def test_unknown_ids_are_404_problems(open_client: TestClient) -> None:
    body = _problem(open_client.get("/api/v1/assessments/nope"), 404)
    assert body["errors"][0] == {
        "field": "assessment_id",
        "value": "nope",
        "allowed": "the id of a stored assessment",
    }
    _problem(open_client.get("/api/v1/no/such/route"), 404)
    _problem(open_client.post("/api/v1/scores/nope", json={"items": {}}), 404)


def test_scores_catalogue_has_definitions_and_resolved_citations(open_client: TestClient) -> None:
    scores = open_client.get("/api/v1/scores").json()
    assert {s["definition"]["key"] for s in scores} == set(spinemets.SCORES)
    for s in scores:
        assert [c["id"] for c in s["citations"]] == list(s["definition"]["citation_ids"])
        assert all(item["definition"] for item in s["definition"]["items"])
    one = open_client.get("/api/v1/scores/sins").json()
    assert one["definition"]["name"] == "SINS"


def test_compute_one_score_matches_the_library(open_client: TestClient) -> None:
    items = {"level": "T12", "pain": "mechanical", "bone_lesion": "lytic"}
    r = open_client.post("/api/v1/scores/sins", json={"items": items})
    assert r.status_code == 200, r.text
    assert r.json() == spinemets.score("sins", items).model_dump(mode="json")
    by_patient = open_client.post("/api/v1/scores/tokuhashi_revised", json={"patient": EXAMPLE}).json()
    assert by_patient == spinemets.score("tokuhashi_revised", spinemets.parse_patient(EXAMPLE)).model_dump(
        mode="json"
    )
    _problem(open_client.post("/api/v1/scores/sins", json={}), 422)
    body = _problem(open_client.post("/api/v1/scores/sins", json={"items": {"pain": "severe"}}), 422)
    assert body["errors"][0]["field"].endswith("pain") and "mechanical" in body["errors"][0]["allowed"]


def test_reports_render_the_stored_assessment(open_client: TestClient) -> None:
    from spinemets.assessment import Assessment
    from spinemets.render.html import Record, render_html

    created = open_client.post("/api/v1/assessments", json={"patient": EXAMPLE}).json()
    r = open_client.get(created["links"]["report_json"])
    assert r.status_code == 200 and r.json() == created["outputs"]
    html = open_client.get(created["links"]["report_html"])
    assert html.headers["content-type"].startswith("text/html")
    saved = dt.datetime.fromisoformat(created["created_at"]).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    record = Record(assessment_id=created["id"], version=1, saved=saved, author=created["author"])
    assert html.text == render_html(Assessment.model_validate(created["outputs"]), record=record)
    # which stored version it is and who saved it (the page said neither)
    assert f"Stored assessment {created['id']}, version 1, saved {saved} by {created['author']}" in html.text
    assert f'<meta name="author" content="{created["author"]}">' in html.text
    assert "script-src" not in html.headers["content-security-policy"]
    assert "default-src 'none'" in html.headers["content-security-policy"]
    pdf = open_client.get(created["links"]["report_pdf"])
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert "attachment" in pdf.headers["content-disposition"]
    _problem(open_client.get(f"/api/v1/assessments/{created['id']}/report", params={"format": "docx"}), 422)


# authentication and scopes -----------------------------------------------------------------------


def test_api_requires_credentials_by_default(client: TestClient) -> None:
    body = _problem(client.get("/api/v1/assessments"), 401)
    assert "API key" in body["detail"]
    assert client.get("/api/v1/health").status_code == 200
    _problem(client.get("/api/v1/assessments", headers={"Authorization": "Bearer smk_nope_nope"}), 401)


def test_scopes_read_write_admin(client: TestClient, keys: dict[str, str]) -> None:
    post = {"patient": EXAMPLE}
    _problem(client.post("/api/v1/assessments", json=post, headers={"Authorization": keys["read"]}), 403)
    created = client.post("/api/v1/assessments", json=post, headers={"X-API-Key": keys["write"].split()[1]})
    assert created.status_code == 201
    assert client.get("/api/v1/assessments", headers={"Authorization": keys["read"]}).status_code == 200
    _problem(client.get("/api/v1/audit/verify", headers={"Authorization": keys["write"]}), 403)
    assert client.get("/api/v1/audit/verify", headers={"Authorization": keys["admin"]}).json()["ok"] is True


def test_api_keys_are_stored_hashed_and_revocable(client: TestClient, app_store) -> None:
    from sqlalchemy import text

    from spinemets.service import auth

    authn = auth.Authenticator(app_store.engine)
    key, info = authn.create_api_key("ehr", "read", created_by="test")
    with app_store.engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_keys WHERE key_id = :k"), {"k": info.key_id}).one()
    assert key.split("_", 2)[2] not in json.dumps([str(v) for v in stored])
    assert client.get("/api/v1/scores", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    authn.revoke_api_key(info.key_id, revoked_by="test")
    app_state_auth = client.app.state.authenticator  # type: ignore[attr-defined]
    app_state_auth._cache.clear()
    _problem(client.get("/api/v1/scores", headers={"Authorization": f"Bearer {key}"}), 401)


def test_open_mode_is_refused_off_loopback(tmp_path: Path) -> None:

    with pytest.raises(InvalidInputError, match="only allowed on a loopback host"):
        load_settings(data_dir=tmp_path, auth_mode="loopback_open", host="0.0.0.0")
    app = create_app(load_settings(data_dir=tmp_path, auth_mode="loopback_open"))
    with TestClient(app, client=("192.0.2.7", 4000), base_url=LOOPBACK_URL) as remote:
        _problem(remote.get("/api/v1/assessments"), 401)
    with TestClient(app, client=LOOPBACK, base_url=LOOPBACK_URL) as local:
        assert local.get("/api/v1/assessments").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/assessments"),
        ("POST", "/api/v1/assessments"),
        ("DELETE", "/api/v1/assessments/{id}"),
        ("GET", "/assess"),
        ("GET", "/history"),
        ("GET", "/cds-services"),
        ("POST", "/fhir/$assess"),
    ],
)
def test_open_mode_refuses_a_host_that_is_not_loopback(
    open_client: TestClient, method: str, path: str
) -> None:
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 reaches the
    service from loopback with Host (and a matching Origin) evil.example; it must get nothing."""
    made = open_client.post("/api/v1/assessments", json={"patient": EXAMPLE})
    assert made.status_code == 201
    forged = {"Host": "evil.example:8766", "Origin": "http://evil.example:8766"}
    r = open_client.request(
        method,
        path.format(id=made.json()["id"]),
        json={"patient": EXAMPLE} if method == "POST" else None,
        headers=forged,
    )
    body = _problem(r, 400)
    assert body["errors"] == [
        {
            "field": "Host",
            "value": "evil.example:8766",
            "allowed": "one of 127.0.0.1, [::1], localhost (with any port)",
        }
    ]
    assert "Host must be one of 127.0.0.1, [::1], localhost" in body["detail"]
    assert r.headers["cache-control"] == "no-store"
    assert "set-cookie" not in r.headers
    listed = open_client.get("/api/v1/assessments").json()["items"]
    assert [i["id"] for i in listed] == [made.json()["id"]]  # nothing created or deleted


@pytest.mark.parametrize("host", ["127.0.0.1:8766", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.1"])
def test_open_mode_answers_to_loopback_names_with_any_port(open_client: TestClient, host: str) -> None:
    assert open_client.get("/api/v1/assessments", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["127.0.0.2", "127.0.0.1.evil.example", "localhost:80:80", "localhost:x", "[::1]x", ""]
)
def test_open_mode_refuses_other_names_and_malformed_hosts(open_client: TestClient, host: str) -> None:
    _problem(open_client.get("/api/v1/assessments", headers={"Host": host}), 400)


def test_allowed_hosts_setting_limits_the_names_in_required_mode(
    tmp_path: Path, app_store: object, keys: dict[str, str]
) -> None:
    read = {"Authorization": keys["read"]}
    anywhere = create_app(load_settings(data_dir=tmp_path / "a"), store=app_store)  # type: ignore[arg-type]
    with TestClient(anywhere, client=LOOPBACK, base_url="http://spinemets.internal:8443") as c:
        assert c.get("/api/v1/assessments", headers=read).status_code == 200  # behind a proxy: any name
    # entries are compared as the Host check reads a header: lower case, port ignored
    settings = load_settings(data_dir=tmp_path / "b", allowed_hosts=["SpineMets.Example.org:8443"])
    limited = create_app(settings, store=app_store)  # type: ignore[arg-type]
    with TestClient(limited, client=LOOPBACK, base_url="https://spinemets.example.org") as c:
        assert c.get("/api/v1/assessments", headers=read).status_code == 200
        body = _problem(c.get("/api/v1/assessments", headers={**read, "Host": "other.example"}), 400)
        assert body["errors"][0]["allowed"] == "one of spinemets.example.org (with any port)"
    open_settings = load_settings(
        data_dir=tmp_path / "c", auth_mode="loopback_open", allowed_hosts=["spinemets.localhost"]
    )
    with TestClient(create_app(open_settings), client=LOOPBACK, base_url="http://spinemets.localhost") as c:
        assert c.get("/api/v1/assessments").status_code == 200
        assert c.get("/api/v1/assessments", headers={"Host": "localhost:8000"}).status_code == 200
    # bound to another loopback address (127.0.0.0/8 is allowed): that address answers too
    bound = load_settings(data_dir=tmp_path / "e", host="127.0.0.2", auth_mode="loopback_open")
    assert "127.0.0.2" in (bound.accepted_hosts or ())
    with pytest.raises(InvalidInputError, match="allowed_hosts"):
        load_settings(data_dir=tmp_path / "d", allowed_hosts=["spine.example.org:https"])


def test_web_login_session_with_csrf(client: TestClient) -> None:
    authn = client.app.state.authenticator  # type: ignore[attr-defined]
    authn.create_user("dr.lee", "correct horse battery", "write", created_by="test")
    page = client.get("/auth/login")
    token = client.cookies.get("spinemets_csrf")
    assert page.status_code == 200 and token and f'value="{token}"' in page.text
    form = {"username": "dr.lee", "password": "correct horse battery", "next": "/api/v1/assessments"}
    _problem(client.post("/auth/login", data=form), 403)  # no CSRF token
    bad = client.post("/auth/login", data={**form, "password": "wrong password!", "csrf_token": token})
    assert bad.status_code == 401 and "not right" in bad.text
    ok = client.post("/auth/login", data={**form, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/api/v1/assessments"
    store = client.app.state.store  # type: ignore[attr-defined]
    logins = [e for e in audit.entries(store.engine) if e.action == "user.login"]
    assert [(e.actor, e.object_id) for e in logins] == [("user:dr.lee", "dr.lee")]  # not the wrong password
    assert client.get("/api/v1/assessments").status_code == 200
    created = client.post("/api/v1/assessments", json={"patient": EXAMPLE})
    assert created.json()["author"] == "user:dr.lee"
    evil = client.post(
        "/auth/login", data={**form, "csrf_token": token, "next": "//evil.example"}, follow_redirects=False
    )
    assert evil.headers["location"] == "/"
    client.post("/auth/logout", headers={"X-CSRF-Token": token})
    _problem(client.get("/api/v1/assessments"), 401)


def test_repeated_wrong_passwords_lock_the_login(client: TestClient) -> None:
    authn = client.app.state.authenticator  # type: ignore[attr-defined]
    authn.create_user("dr.ng", "correct horse battery", "read", created_by="test")
    client.get("/auth/login")
    token = client.cookies.get("spinemets_csrf")
    form = {"username": "dr.ng", "csrf_token": token}
    statuses = [
        client.post("/auth/login", data={**form, "password": f"guess {i} wrong"}).status_code
        for i in range(6)
    ]
    assert statuses == [401, 401, 401, 401, 401, 429]
    locked = client.post(
        "/auth/login", data={**form, "password": "correct horse battery"}, follow_redirects=False
    )
    assert locked.status_code == 429 and "wait five minutes" in locked.text


# security middleware -----------------------------------------------------------------------------


def test_security_headers_on_pages_api_and_errors(open_client: TestClient) -> None:
    for r in (
        open_client.get("/api/v1/health"),
        open_client.get("/api/v1/assessments/x"),
        open_client.get("/auth/login"),
    ):
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "script-src 'self';" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"


def test_cross_site_form_and_foreign_origin_json_are_refused(open_client: TestClient) -> None:
    # A form (urlencoded or text/plain) can be posted cross-site without a preflight: the API takes
    # JSON only and says so (415, naming the media type), so such a post stores nothing.
    before = open_client.get("/api/v1/assessments").json()
    form = _problem(open_client.post("/api/v1/assessments", data={"patient": "x"}), 415)
    assert form["errors"] == [
        {"field": "Content-Type", "value": "application/x-www-form-urlencoded", "allowed": "application/json"}
    ]
    _problem(
        open_client.post("/api/v1/assessments", content=b"{}", headers={"content-type": "text/plain"}), 415
    )
    _problem(
        open_client.post(
            "/api/v1/assessments", data={"patient": "x"}, headers={"Origin": "https://evil.example"}
        ),
        403,
    )
    assert open_client.get("/api/v1/assessments").json() == before
    _problem(
        open_client.post(
            "/api/v1/assessments", json={"patient": EXAMPLE}, headers={"Origin": "https://evil.example"}
        ),
        403,
    )
    same = open_client.post(
        "/api/v1/assessments", json={"patient": EXAMPLE}, headers={"Origin": LOOPBACK_URL}
    )
    assert same.status_code == 201


def test_request_size_limit(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path, auth_mode="loopback_open", max_request_bytes=4096))
    with TestClient(app, client=LOOPBACK, base_url=LOOPBACK_URL) as c:
        big = {"patient": {**EXAMPLE, "notes": "x" * 5000}}
        body = _problem(c.post("/api/v1/assessments", json=big), 413)
        assert "4096 bytes" in body["detail"]
        chunked = c.post(
            "/api/v1/assessments",
            content=iter([b'{"patient": {"notes": "', b"x" * 5000, b'"}}']),
            headers={"content-type": "application/json"},
        )
        assert "4096 bytes" in _problem(chunked, 413)["detail"]
        assert c.post("/api/v1/assessments", json={"patient": EXAMPLE}).status_code == 201


def test_logs_hold_no_patient_data(open_client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = {**EXAMPLE, "patient_id": "PID-7Q3X9", "notes": "lives at 12 Secret Lane"}
    created = open_client.post("/api/v1/assessments", json={"patient": secret}).json()
    open_client.get("/api/v1/assessments", params={"patient_id": "PID-7Q3X9"})
    open_client.get(f"/api/v1/assessments/{created['id']}")
    bad = {**secret, "performance": {"kps": 75}}
    open_client.post("/api/v1/assessments", json={"patient": bad})
    assert any("POST /api/v1/assessments 201" in m for m in caplog.messages)
    server_side = [
        r.getMessage() for r in caplog.records if not r.name.startswith("httpx")
    ]  # not the test client
    text = "\n".join(server_side)
    assert "PID-7Q3X9" not in text and "Secret Lane" not in text


def test_unexpected_error_is_a_bare_500_problem_and_logs_no_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(load_settings(data_dir=tmp_path, auth_mode="loopback_open"))

    def boom() -> None:
        raise ValueError("patient PID-BOOM-42 has no albumin")

    app.add_api_route("/api/v1/boom", boom)
    caplog.set_level(logging.INFO)
    with TestClient(app, client=LOOPBACK, base_url=LOOPBACK_URL) as c:
        body = _problem(c.get("/api/v1/boom"), 500)
    assert "PID-BOOM-42" not in json.dumps(body)
    assert any("unhandled ValueError on GET /api/v1/boom" in r.getMessage() for r in caplog.records)
    assert all("PID-BOOM-42" not in r.getMessage() and not r.exc_info for r in caplog.records)


def test_https_deployment_gets_hsts_and_secure_cookies(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, public_base_url="https://spinemets.hospital.example")
    with TestClient(create_app(settings), client=LOOPBACK, base_url=LOOPBACK_URL) as c:
        r = c.get("/auth/login")
    assert r.headers["strict-transport-security"] == "max-age=31536000"
    assert "Secure" in r.headers["set-cookie"]


def test_a_database_that_is_not_available_is_a_503_to_retry_and_logs_no_statement(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    app = create_app(load_settings(data_dir=tmp_path, auth_mode="loopback_open"))

    def down() -> None:
        raise OperationalError(
            "SELECT * FROM assessments WHERE patient_id = ?", ("PID-DB-77",), ConnectionRefusedError()
        )

    app.add_api_route("/api/v1/down", down)
    caplog.set_level(logging.INFO)
    with TestClient(app, client=LOOPBACK, base_url=LOOPBACK_URL) as c:
        reply = c.get("/api/v1/down")
    body = _problem(reply, 503)
    assert body["detail"] == "the database is not available; try again shortly"
    assert reply.headers["retry-after"] == "5"
    assert any(
        "database unavailable (ConnectionRefusedError) on GET /api/v1/down" in r.getMessage()
        for r in caplog.records
    )
    assert all("PID-DB-77" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("performance", b'{"items": {"kps": "inf"}}', "performance.kps"),
        ("performance", b'{"items": {"kps": 1e400}}', "performance.kps"),
        ("tomita", b'{"items": {"bone_metastases_count": 1e400}}', "tomita.bone_metastases_count"),
        (
            "tomita",
            b'{"items": {"bone_metastases_count": 1' + b"0" * 400 + b"}}",
            "tomita.bone_metastases_count",
        ),
        ("nesms", b'{"items": {"modified_bauer": -1e400}}', "nesms.modified_bauer"),
    ],
)
def test_a_score_item_that_is_not_a_finite_number_is_a_422_naming_it(
    open_client: TestClient, name: str, body: bytes, field: str
) -> None:
    r = open_client.post(f"/api/v1/scores/{name}", content=body, headers={"content-type": "application/json"})
    problem = _problem(r, 422)
    assert problem["errors"][0]["field"] == field and problem["detail"].startswith(f"{field} must be ")


def test_a_version_beyond_the_limit_is_a_422_naming_it(open_client: TestClient) -> None:
    made = open_client.post("/api/v1/assessments", json={"patient": EXAMPLE}).json()
    for path in (f"/api/v1/assessments/{made['id']}", f"/api/v1/assessments/{made['id']}/report"):
        problem = _problem(open_client.get(path, params={"version": "99999999999999999999999"}), 422)
        assert problem["errors"][0]["field"] == "version"


BODY_ERRORS = [
    pytest.param(b'{"patient": {"patient_id": "\xff"}}', "body must be JSON encoded as UTF-8", id="not-utf8"),
    pytest.param(
        b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "body must be JSON nested less deeply than the parser allows",
        id="too-deep",
    ),
    pytest.param(
        b'{"items": {"kps": ' + b"9" * 4301 + b"}}",
        "body must be numbers of at most 4300 digits",
        id="too-many-digits",
    ),
]
JSON_ROUTES = [
    "/api/v1/assessments",
    "/api/v1/scores/performance",
    "/fhir/$assess",
    "/cds-services/spinemets-patient-view",
]


@pytest.mark.parametrize(("raw", "message"), BODY_ERRORS)
@pytest.mark.parametrize("path", JSON_ROUTES)
def test_a_body_the_parser_refuses_is_named(
    open_client: TestClient, path: str, raw: bytes, message: str
) -> None:
    """Not 'There was an error parsing the body': what is wrong with it."""
    r = open_client.post(path, content=raw, headers={"content-type": "application/json"})
    problem = _problem(r, 422)
    assert problem["detail"].startswith(message), problem
    assert problem["errors"][0]["field"] == "body"


def test_fhir_assess_needs_an_api_key_with_the_read_scope(client: TestClient, keys: dict[str, str]) -> None:
    """docs/fhir.md: `POST /fhir/$assess` needs a read-scope API key, as the REST API does; the
    code system and the CDS Hooks discovery need none."""
    from spinemets.interop.fhir import patient_to_bundle

    bundle = patient_to_bundle(parse_patient(EXAMPLE))
    body = _problem(client.post("/fhir/$assess", json=bundle), 401)
    assert "API key" in body["detail"]
    ok = client.post("/fhir/$assess", json=bundle, headers={"Authorization": keys["read"]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["resourceType"] == "Bundle"
    assert client.get("/fhir/CodeSystem/spinemets").status_code == 200
    assert client.get("/cds-services").status_code == 200


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/assessments", "application/json"),
        ("/api/v1/scores/performance", "application/json"),
        ("/fhir/$assess", "application/fhir+json or application/json"),
    ],
)
@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_json_sent_as_another_content_type_is_a_415_naming_the_type(
    client: TestClient, keys: dict[str, str], path: str, allowed: str, content_type: str | None
) -> None:
    headers = {"Authorization": keys["write"]} | ({"content-type": content_type} if content_type else {})
    r = client.post(path, content=b'{"items": {"kps": 80}}', headers=headers)
    problem = _problem(r, 415)
    assert problem["detail"] == f"Content-Type must be {allowed}; got {content_type or '(none)'!r}"
    assert problem["errors"] == [
        {"field": "Content-Type", "value": content_type or "(none)", "allowed": allowed}
    ]


def test_a_union_field_is_one_error_at_the_field_the_caller_wrote(open_client: TestClient) -> None:
    # albumin is {value, unit} or a bare number: pydantic reports each member under its type's name
    # (labs.albumin.Quantity.value and labs.albumin.float); the caller wrote labs.albumin.value.
    patient = {**EXAMPLE, "labs": {"albumin": {"value": -3, "unit": "g/L"}}}
    body = _problem(open_client.post("/api/v1/assessments", json={"patient": patient}), 422)
    assert [e["field"] for e in body["errors"]] == ["patient.labs.albumin.value"]
    assert "Quantity" not in body["detail"] and "float" not in body["detail"]
    # members failing alike are one error listing what the field takes
    items = _problem(open_client.post("/api/v1/scores/sins", json={"items": {"level": ["T12"]}}), 422)
    assert [e["field"] for e in items["errors"]] == ["items.level"]
    assert "a valid string or a valid integer" in items["errors"][0]["allowed"]


def test_length_limits_read_as_sentences(open_client: TestClient) -> None:
    body = _problem(
        open_client.post("/api/v1/assessments", json={"patient": {**EXAMPLE, "patient_id": "x" * 65}}), 422
    )
    assert "patient.patient_id must be text of at most 64 characters" in body["detail"]


def test_errors_inside_one_union_member_stay_separate_at_their_fields(open_client: TestClient) -> None:
    # {"value": "abc", "unit": 5}: both are Quantity's own errors, not alternatives of the union
    patient = {**EXAMPLE, "labs": {"albumin": {"value": "abc", "unit": 5}}}
    body = _problem(open_client.post("/api/v1/assessments", json={"patient": patient}), 422)
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["patient.labs.albumin.value", "patient.labs.albumin.unit"]
    assert " or " not in body["errors"][0]["allowed"]


def _log_in_with_read_scope(client: TestClient) -> str:
    """Create a web user with read scope, log the client in as it; the CSRF token for its forms."""
    authn = client.app.state.authenticator  # type: ignore[attr-defined]
    authn.create_user("dr.read", "correct horse battery", "read", created_by="test")
    client.get("/auth/login")
    token = str(client.cookies.get("spinemets_csrf"))
    login = {"username": "dr.read", "password": "correct horse battery", "next": "/", "csrf_token": token}
    assert client.post("/auth/login", data=login, follow_redirects=False).status_code == 303
    return token


def test_a_read_only_web_user_cannot_save_an_assessment(client: TestClient) -> None:
    # The API refuses a read-scope caller (403); the web form saved for it all the same.
    from spinemets.web import forms

    token = _log_in_with_read_scope(client)
    form = {**forms.patient_to_form(EXAMPLE), "csrf_token": [token]}
    refused = client.post("/assess", data=form, follow_redirects=False)
    assert refused.status_code == 403
    assert "may read but not save assessments (scope read)" in refused.text
    assert 'value="EX-001"' in refused.text  # the entries are kept
    assert client.get("/api/v1/assessments").json()["items"] == []


def test_a_read_only_web_user_cannot_delete_an_assessment(client: TestClient, keys: dict[str, str]) -> None:
    # as saving: the API refuses DELETE to a read-scope key, so the web page must too
    created = client.post(
        "/api/v1/assessments", json={"patient": EXAMPLE}, headers={"Authorization": keys["write"]}
    )
    ident = created.json()["id"]
    token = _log_in_with_read_scope(client)
    page = client.get(f"/assessments/{ident}")
    assert page.status_code == 200 and "/delete" not in page.text  # not offered
    refused = client.post(
        f"/assessments/{ident}/delete", data={"csrf_token": token, "confirm": "yes"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert "may read but not change assessments (scope read)" in refused.text
    assert client.app.state.store.get(ident).deleted is False  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/fhir/$assess", "/cds-services/spinemets-patient-view"])
def test_the_fhir_and_cds_interfaces_name_the_media_type_too(open_client: TestClient, path: str) -> None:
    # JSON-only like /api/: a text body got "missing or wrong CSRF token: reload the page"
    body = _problem(open_client.post(path, content=b"{}", headers={"content-type": "text/plain"}), 415)
    assert body["errors"] == [{"field": "Content-Type", "value": "text/plain", "allowed": "application/json"}]


def test_ask_answers_and_reads_a_too_broad_follow_up_with_the_previous_question(
    open_client: TestClient,
) -> None:
    first = "Should a patient with MSCC get dexamethasone?"
    answer = open_client.post("/api/v1/ask", json={"question": first})
    assert answer.status_code == 200 and answer.json()["covered"] and answer.json()["follow_up_of"] is None
    follow = open_client.post("/api/v1/ask", json={"question": "What dose?", "previous": first})
    assert follow.status_code == 200
    assert follow.json()["covered"] and follow.json()["follow_up_of"] == first
    alone = open_client.post("/api/v1/ask", json={"question": "What dose?"}).json()
    assert not alone["covered"] and "too broad" in alone["notice"]
    _problem(open_client.post("/api/v1/ask", json={"question": "What dose?", "previous": ""}), 422)
