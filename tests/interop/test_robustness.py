"""Whatever arrives, the mapping answers with a result or an InvalidInputError, never another exception."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinemets.errors import InvalidInputError
from spinemets.interop.fhir import map_bundle
from tests.interop.conftest import load_fixture

BREAST = load_fixture("breast_t12_mechanical.bundle.json")
CUP = load_fixture("unknown_primary_inguinal.bundle.json")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
# Values that look like FHIR but are wrong in a realistic way.
near_misses = st.sampled_from(
    [
        "2021-13-45",
        "1960",
        "T13",
        "L6-L1",
        "",
        "g/L",
        "mg/dL",
        "entered-in-error",
        "not-done",
        "C34.1",
        "LA15174-5",
        -1,
        0,
        101,
        7.5,
    ]
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_changed_element_gives_a_patient_or_a_clear_error(data: st.DataObject) -> None:
    doc = data.draw(st.sampled_from([BREAST, CUP]))
    path = data.draw(st.sampled_from(_paths(doc)))
    value = data.draw(json_values | near_misses)
    changed = _replace(doc, path, value)
    for strict in (True, False):
        try:
            map_bundle(changed, strict=strict)
        except InvalidInputError as exc:
            assert exc.field and exc.allowed


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(body=json_values)
def test_assess_endpoint_never_fails_with_a_server_error(client: TestClient, body: Any) -> None:
    response = client.post("/fhir/$assess", json=body)
    assert response.status_code in (200, 422)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_changed_hook_request_gets_cards_or_a_4xx(data: st.DataObject) -> None:
    from tests.interop.conftest import make_app
    from tests.interop.test_cds_hooks import patient_view_request

    body = patient_view_request(BREAST, "EX-001")
    path = data.draw(st.sampled_from(_paths(body)))
    changed = _replace(body, path, data.draw(json_values | near_misses))
    client = TestClient(make_app((), cds_hooks_require_jwt=False))
    response = client.post("/cds-services/spinemets-patient-view", json=changed)
    assert response.status_code in (200, 400, 412), response.text
