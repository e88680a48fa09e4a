"""The hash-chained audit log detects tampering, even by someone who can drop the guard triggers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text
from typer.testing import CliRunner

from spinemets.cli import app as cli_app
from spinemets.service import audit
from spinemets.service.storage import AssessmentStore, no_wait


def _unguard(store: AssessmentStore) -> None:
    """What an attacker with database rights would do first: remove the append-only triggers."""
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            for name in ("audit_log_no_update", "audit_log_no_delete", "assessment_versions_no_update"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
            conn.execute(text("DROP TRIGGER assessment_versions_append_only ON assessment_versions"))


def _fill(store: AssessmentStore, n: int = 4) -> list[str]:
    ids = []
    for i in range(n):
        a = store.create(
            {"patient_id": f"P{i}"}, {"total": i}, author="dr.a", patient_id=f"P{i}", ruleset_version="r"
        )
        ids.append(a.id)
    return ids


def test_clean_log_verifies(store: AssessmentStore) -> None:
    _fill(store)
    report = audit.verify(store.engine)
    assert report == audit.VerifyReport(ok=True, entries=4, versions_checked=4, problems=())


def test_edited_entry_is_detected(store: AssessmentStore) -> None:
    ids = _fill(store)
    _unguard(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone.else' WHERE seq = 2"))
    report = audit.verify(store.engine)
    assert not report.ok
    assert report.problems == (
        "entry 2: content does not match its hash (entry was edited)",
        # and what the edited entry now claims no longer matches the record it describes
        f"assessment {ids[1]} v1: stored author 'dr.a' does not match the audit log",
        f"assessment {ids[1]}: created by 'dr.a' in the database, by 'someone.else' in the audit log",
    )


def test_edited_entry_with_recomputed_hash_breaks_the_next_link(store: AssessmentStore) -> None:
    _fill(store)
    _unguard(store)
    with store.engine.begin() as conn:
        r = conn.execute(text("SELECT * FROM audit_log WHERE seq = 2")).one()
        forged = audit.entry_hash(
            r.seq, r.at, "someone.else", r.action, r.object_type, r.object_id, r.details, r.prev_hash
        )
        conn.execute(
            text("UPDATE audit_log SET actor = 'someone.else', hash = :h WHERE seq = 2"), {"h": forged}
        )
    report = audit.verify(store.engine)
    assert not report.ok
    assert any("entry 3: previous-hash link broken" in p for p in report.problems)


def test_removed_entry_is_detected(store: AssessmentStore) -> None:
    _fill(store)
    _unguard(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    problems = audit.verify(store.engine).problems
    assert "entry 2 is missing (next entry found is 3)" in problems
    assert any("has no audit entry" in p for p in problems)


def test_truncated_tail_is_detected_by_the_chain_head(store: AssessmentStore) -> None:
    _fill(store)
    _unguard(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    problems = audit.verify(store.engine).problems
    assert any("chain head says entry 4 is the last but the log ends at 3" in p for p in problems)


def test_edited_assessment_content_is_detected(store: AssessmentStore) -> None:
    ids = _fill(store)
    _unguard(store)
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE assessment_versions SET outputs = :o WHERE assessment_id = :i"),
            {"o": '{"total": 99}', "i": ids[1]},
        )
    report = audit.verify(store.engine)
    assert report.problems == (f"assessment {ids[1]} v1: stored content does not match the audit log",)


def test_a_deleted_assessment_made_live_again_is_detected(store: AssessmentStore) -> None:
    # The assessments head row is updated by design (new versions, deletes), so no trigger guards
    # it: anyone who can write to the database could bring a deleted record back into every list.
    ids = _fill(store, 2)
    store.delete(ids[0], author="dr.a")
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE assessments SET deleted = :f, deleted_at = NULL, deleted_by = NULL WHERE id = :i"),
            {"f": False, "i": ids[0]},
        )
    assert audit.verify(store.engine).problems == (
        f"assessment {ids[0]}: shown as not deleted, but the audit log records its deletion by dr.a",
    )


def test_a_deletion_without_an_audit_entry_is_detected(store: AssessmentStore) -> None:
    ids = _fill(store, 2)
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE assessments SET deleted = :t, deleted_by = 'dr.a' WHERE id = :i"),
            {"t": True, "i": ids[1]},
        )
    assert audit.verify(store.engine).problems == (
        f"assessment {ids[1]}: marked deleted by 'dr.a', but the audit log records no deletion",
    )


def test_an_assessment_moved_back_to_an_older_version_is_detected(store: AssessmentStore) -> None:
    # Rewinding latest_version silently shows the superseded version as the current one.
    ids = _fill(store, 1)
    store.new_version(ids[0], {"patient_id": "P0"}, {"total": 5}, author="dr.b")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE assessments SET latest_version = 1 WHERE id = :i"), {"i": ids[0]})
    assert audit.verify(store.engine).problems == (
        f"assessment {ids[0]}: shows version 1 as the latest, but the audit log's latest is version 2",
    )


def test_a_changed_creator_of_an_assessment_is_detected(store: AssessmentStore) -> None:
    ids = _fill(store, 1)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE assessments SET created_by = 'dr.z' WHERE id = :i"), {"i": ids[0]})
    assert audit.verify(store.engine).problems == (
        f"assessment {ids[0]}: created by 'dr.z' in the database, by 'dr.a' in the audit log",
    )


def test_an_assessment_missing_from_the_audit_log_is_detected(store: AssessmentStore) -> None:
    _fill(store, 1)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO assessments (id, patient_id, assessment_date, created_at, created_by, "
                "latest_version, deleted) VALUES ('forged', 'P7', '2026-01-01', '2026-01-01', 'dr.a', 1, :f)"
            ),
            {"f": False},
        )
    assert audit.verify(store.engine).problems == ("assessment forged has no audit entry",)


@pytest.mark.parametrize(("column", "value"), [("author", "dr.z"), ("ruleset_version", "rules 0")])
def test_an_edited_author_or_rule_set_of_a_version_is_detected(
    store: AssessmentStore, column: str, value: str
) -> None:
    # Who saved a version and under which rules are shown on every report: they are part of the record.
    ids = _fill(store, 2)
    _unguard(store)
    with store.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE assessment_versions SET {column} = :v WHERE assessment_id = :i"),
            {"v": value, "i": ids[1]},
        )
    assert audit.verify(store.engine).problems == (
        f"assessment {ids[1]} v1: stored {column} {value!r} does not match the audit log",
    )


def test_cli_audit_verify_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINEMETS_DATA_DIR", str(tmp_path))
    store = AssessmentStore(f"sqlite:///{tmp_path / 'spinemets.db'}")
    _fill(store, 2)
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "audit log OK: 2 entries, 2 stored versions checked" in ok.output
    _unguard(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET action = 'assessment.read' WHERE seq = 1"))
    store.close()
    bad = runner.invoke(cli_app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "TAMPERING DETECTED" in bad.output and "entry 1: content does not match its hash" in bad.output


def test_audit_verify_exit_code_reaches_the_shell(tmp_path: Path) -> None:
    # Through the real entry point (``spinemets audit verify``), not CliRunner: a scheduled integrity
    # check reads the process exit code, which must be 1 on tampering.
    store = AssessmentStore(f"sqlite:///{tmp_path / 'spinemets.db'}")
    _fill(store, 1)
    _unguard(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET action = 'assessment.read' WHERE seq = 1"))
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINEMETS_")}
    env["SPINEMETS_DATA_DIR"] = str(tmp_path)
    cmd = [sys.executable, "-c", "from spinemets.cli import main; main()", "audit", "verify"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "TAMPERING DETECTED" in done.stdout + done.stderr


def test_verify_reads_one_snapshot_while_writes_go_on(store: AssessmentStore) -> None:
    # An integrity check runs on a live database. Writes committed while it reads must neither
    # raise a false alarm (a head beyond the entries read, a version without its entry) nor wait
    # for the check: here a create commits between verify's scan of the entries and its read of
    # the chain head, on a second store (another worker), without waiting for any lock.
    _fill(store, 2)
    other = AssessmentStore(store.url, run_migrations=False)
    written: list[str] = []

    def write_between(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "audit_head" in statement and not written:
            with no_wait():  # a check holding the write lock would make this raise StoreBusyError
                written.append(other.create({}, {}, author="dr.b", patient_id="P9", ruleset_version="r").id)

    event.listen(store.engine, "before_cursor_execute", write_between)
    try:
        report = audit.verify(store.engine)
    finally:
        event.remove(store.engine, "before_cursor_execute", write_between)
        other.close()
    assert written, "the concurrent create did not run"
    assert report == audit.VerifyReport(ok=True, entries=2, versions_checked=2, problems=())
    assert audit.verify(store.engine) == audit.VerifyReport(
        ok=True, entries=3, versions_checked=3, problems=()
    )


@settings(max_examples=200, deadline=None)
@given(
    at=st.text(),
    actor=st.text(),
    action=st.text(),
    object_type=st.text(),
    object_id=st.text(),
    details=st.dictionaries(st.text(), st.one_of(st.integers(), st.text(), st.none())),
    prev_hash=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    seq=st.integers(min_value=1, max_value=2**31 - 1),
)
def test_entry_text_finished_after_the_previous_hash_is_the_canonical_text(
    at: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict,
    prev_hash: str,
    seq: int,
) -> None:
    # The database finishes an entry's text with the head's hash and number (AuditedWrite); the
    # result must be the very text entry_hash hashes, whatever the other fields hold.
    text = audit.canonical(details)
    start = audit.entry_text_before_prev_hash(at, actor, action, object_type, object_id, text)
    fields = audit._entry_fields(seq, at, actor, action, object_type, object_id, text, prev_hash)
    assert audit.finish_entry_text(start, prev_hash, seq) == audit.canonical(fields)
