"""Which key families a backup keeps (the `backup` flag of qcl.store.keys, read by qcl.backup.state).

.venv/bin/pytest tests/unit/test_backup_families.py
"""

from __future__ import annotations

import pytest

from qcl.backup.state import backed_up
from qcl.store import keys
from qcl.store.keys import FAMILIES


@pytest.mark.parametrize(
    "family",
    [keys.API_KEY_RECORD, keys.TASK, keys.TASK_STEP, keys.JOB, keys.JOBS_READY, keys.QUOTA, keys.ORACLE_RESULT,
     keys.ORACLE_NEXT_SEQUENCE, keys.ORACLE_RUN, keys.API_ORACLE_RESULT, keys.WF_REVISION, keys.WF_EXECUTION],
    ids=lambda family: family.pattern,
)  # fmt: skip
def test_state_a_restored_stack_needs_is_kept(family: keys.KeyFamily) -> None:
    assert family.backup


@pytest.mark.parametrize(
    "family",
    [keys.API_ANSWER, keys.RATE_LIMIT, keys.JOBS_TPM, keys.SHARD_NODE, keys.SHARD_SEEN, keys.API_STREAM_ENTRY,
     keys.WF_LEASE, keys.ANALYZER_DONE, keys.INGEST_SEEN],
    ids=lambda family: family.pattern,
)  # fmt: skip
def test_caches_heartbeats_leases_and_redelivery_guards_are_left_out(family: keys.KeyFamily) -> None:
    assert not family.backup


def test_no_token_bucket_is_kept() -> None:
    # A bucket left alone refills: the stores' scan does not even read one.
    assert [family.pattern for family in FAMILIES if family.kind == "bucket" and family.backup] == []


@pytest.mark.parametrize(
    ("key", "kept"),
    [
        ("task:3f9c", "task:{task_id}"),
        ("task:3f9c:outcome", "task:{task_id}:{step}"),
        ("api:oracle:results", "api:oracle:results"),
        ("api:answers:ab12", None),
        ("a-key-no-family-registers", None),
    ],
)
def test_a_key_is_kept_under_its_family_or_not_at_all(key: str, kept: str | None) -> None:
    assert backed_up(key) == kept
