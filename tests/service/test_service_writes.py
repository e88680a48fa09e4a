"""The write path: one serialisation for create and new versions, and writes that never block the loop.

A write can wait for the database (here: another process holding SQLite's write lock, as a backup
or a second service would). It then waits in a worker thread, so every other request is still
served; a write that finds the lock free runs on the event loop (no thread hop).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import spinemets
from spinemets.model.patient import Patient
from spinemets.service import audit
from spinemets.service.api import assess_and_store, store_result
from spinemets.service.app import create_app
from spinemets.service.settings import load_settings
from spinemets.service.storage import AssessmentStore

from .conftest import LOOPBACK, LOOPBACK_URL, library_outputs

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))
EXAMPLE = json.loads(EXAMPLES[0].read_text())


def test_put_reply_is_byte_for_byte_the_stored_version(open_client: TestClient) -> None:
    # Like create, the PUT reply is spliced from the stored texts; GET serialises from the database.
    first = open_client.post("/api/v1/assessments", json={"patient": EXAMPLE})
    assert first.status_code == 201, first.text
    for example in EXAMPLES:
        patient = json.loads(example.read_text())
        put = open_client.put(first.headers["location"], json={"patient": patient})
        assert put.status_code == 200, put.text
        version = put.json()["version"]
        assert put.headers["etag"] == f'"v{version}"'
        got = open_client.get(f"{first.headers['location']}?version={version}")
        assert got.content == put.content, example.name
        outputs = put.json()["outputs"]
        assert outputs == library_outputs(patient, outputs)


def test_create_and_new_version_store_the_same_texts_the_dict_path_would(store: AssessmentStore) -> None:
    patient = Patient.model_validate(EXAMPLE)
    inputs = patient.model_dump(mode="json", exclude_unset=True)
    first = assess_and_store(store, patient, "dr.a")
    second = store_result(store, inputs, spinemets.assess(patient), "dr.b", assessment_id=first.info.id)
    assert (first.info.version, second.info.version) == (1, 2)
    assert second.info.patient_id == "EX-001" and second.info.author == "dr.b"
    for saved in (first, second):
        outputs = library_outputs(patient, json.loads(saved.outputs_json))
        expected = audit.content_hash(audit.to_json(inputs), audit.to_json(outputs))
        assert audit.content_hash(saved.inputs_json, saved.outputs_json) == expected
        stored = store.get(saved.info.id, saved.info.version)
        assert stored.model_dump(exclude={"inputs", "outputs"}) == saved.info.model_dump()
        assert stored.outputs == json.loads(saved.outputs_json)
    assert audit.verify(store.engine).ok


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = load_settings(data_dir=tmp_path / "data", auth_mode="loopback_open")
    with TestClient(create_app(settings), client=LOOPBACK, base_url=LOOPBACK_URL) as client:
        yield client, Path(str(settings.effective_database_url).removeprefix("sqlite:///"))


def _held_write_lock(db: Path) -> sqlite3.Connection:
    """Another process's view: a connection that takes SQLite's write lock and keeps it."""
    outside = sqlite3.connect(db, isolation_level=None, timeout=1)
    outside.execute("BEGIN IMMEDIATE")
    return outside


WRITES: dict[str, Callable[[TestClient, str], httpx.Response]] = {
    "create": lambda c, loc: c.post("/api/v1/assessments", json={"patient": EXAMPLE}),
    "new version": lambda c, loc: c.put(loc, json={"patient": EXAMPLE}),
    "delete": lambda c, loc: c.delete(loc),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_waiting_for_the_database_does_not_stall_other_requests(
    sqlite_client: tuple[TestClient, Path], write: str
) -> None:
    client, db = sqlite_client
    location = client.post("/api/v1/assessments", json={"patient": EXAMPLE}).headers["location"]
    outside = _held_write_lock(db)
    replies: list[Any] = []
    try:
        writer = threading.Thread(target=lambda: replies.append(WRITES[write](client, location)))
        writer.start()
        time.sleep(0.3)  # the write is now waiting for the lock
        assert writer.is_alive() and not replies
        started = time.monotonic()
        assert client.get("/api/v1/health").status_code == 200
        assert client.get(location).status_code == 200
        assert time.monotonic() - started < 2.0  # served while the write waits (it would wait 30 s)
        assert writer.is_alive()
    finally:
        outside.execute("ROLLBACK")
        outside.close()
    writer.join(30)
    assert [r.status_code for r in replies] == [{"create": 201, "new version": 200, "delete": 204}[write]]


def test_reads_do_not_wait_for_a_write_lock_held_elsewhere(
    client: TestClient, keys: dict[str, str], app_store: AssessmentStore
) -> None:
    # Looking up an API key the app has not seen yet, reading the audit trail and verifying the
    # whole chain only read: none may take SQLite's write lock (or wait 30 s for it) while a
    # writer of another process holds it.
    created = client.post(
        "/api/v1/assessments", json={"patient": EXAMPLE}, headers={"Authorization": keys["write"]}
    )
    location = created.headers["location"]
    outside = _held_write_lock(Path(app_store.url.removeprefix("sqlite:///")))
    try:
        started = time.monotonic()
        assert client.get(location, headers={"Authorization": keys["read"]}).status_code == 200
        trail = client.get(f"{location}/audit", headers={"Authorization": keys["admin"]})
        assert [e["action"] for e in trail.json()] == ["assessment.create"]
        assert (
            client.get("/api/v1/audit/verify", headers={"Authorization": keys["admin"]}).json()["ok"] is True
        )
        assert time.monotonic() - started < 2.0
    finally:
        outside.execute("ROLLBACK")
        outside.close()


def test_a_write_that_finds_the_lock_free_runs_on_the_loop_and_only_a_waiting_one_in_a_thread(
    sqlite_client: tuple[TestClient, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio.to_thread

    client, db = sqlite_client
    hops: list[object] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    location = client.post("/api/v1/assessments", json={"patient": EXAMPLE}).headers["location"]
    assert client.put(location, json={"patient": EXAMPLE}).status_code == 200
    writes_hopped = [h for h in hops if "store" in repr(h) or "delete" in repr(h)]
    assert writes_hopped == []  # both writes ran on the loop
    outside = sqlite3.connect(db, isolation_level=None, timeout=1, check_same_thread=False)
    outside.execute("BEGIN IMMEDIATE")  # another process's write lock, released 0.3 s later
    threading.Timer(0.3, lambda: (outside.execute("ROLLBACK"), outside.close())).start()
    assert client.put(location, json={"patient": EXAMPLE}).status_code == 200  # waited for the lock
    assert any("store" in repr(h) for h in hops)
    rows = client.get(f"{location}/versions").json()
    assert [r["version"] for r in rows][-1] == 3  # nothing half-written by the attempt that gave way
