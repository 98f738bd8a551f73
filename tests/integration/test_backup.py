"""Backup and restore (qcl.backup) on both stores, through the CLI, and to Cloud Storage (a real emulator process).

Every refusal leaves the target as it was: no key written, no file, no staging folder.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qcl.backup.archive import MAGIC, BackupError, seal, unseal
from qcl.backup.state import collect, restore
from qcl.bus.emulator import free_port
from qcl.cli import app
from qcl.store.base import Entry, Store
from qcl.store.keys import API_ANSWER, API_KEYS_INDEX, RATE_LIMIT, TASK, TASK_STEP
from qcl.store.memory import MemoryStore
from tests.backends import missing, unique, wait_for

KEY = base64.b64encode(bytes(range(32))).decode()


def _stack_state(store: Store, state_dir: Path) -> None:
    store.put(TASK.key(task_id="t1"), '{"kind": "oracle"}', ttl_s=3600)
    store.put(TASK_STEP.key(task_id="t1", step="outcome"), '{"result": 1}')
    store.list_push(API_KEYS_INDEX.key(), "ab12cd34", max_len=10)
    store.put(API_ANSWER.key(digest="d1"), "a cached answer")  # a cache: not kept
    store.take_tokens(RATE_LIMIT.key(bucket="ip:127.0.0.1"), capacity=5, refill_per_s=1)  # not kept
    (state_dir / "oracle" / "n4" / "node-0").mkdir(parents=True)
    (state_dir / "oracle" / "n4" / "node-0" / "key.json").write_text('{"seed": "..."}')
    (state_dir / "admin.key").write_text("qcl_ab12cd34_secret\n")
    (state_dir / "admin.key").chmod(0o600)
    (state_dir / "models").mkdir()
    (state_dir / "models" / "weights.bin").write_bytes(b"rebuildable")  # not kept


def _snapshot(store: Store, state_dir: Path) -> tuple[dict[str, Any], list[str]]:
    keys = {entry.key: entry.value for entry in store.scan()}
    files = sorted(str(p.relative_to(state_dir)) for p in state_dir.rglob("*")) if state_dir.exists() else []
    return keys, files


def test_backup_wipe_restore_brings_back_the_kept_keys_and_files(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "s1"
    source.mkdir()
    _stack_state(store, source)
    records = unseal(seal(collect(store, source), bytes(range(32)), source="test"), bytes(range(32)))[1]
    store.clear()
    target = tmp_path / "s2"
    restored = restore(records, store, target)
    assert (restored.keys, restored.files) == (3, 2)
    assert store.get(TASK.key(task_id="t1")) == '{"kind": "oracle"}'
    assert store.get(TASK_STEP.key(task_id="t1", step="outcome")) == '{"result": 1}'
    assert store.list_range(API_KEYS_INDEX.key(), 10) == ["ab12cd34"]
    assert store.get(API_ANSWER.key(digest="d1")) is None
    assert (target / "admin.key").read_text() == "qcl_ab12cd34_secret\n"
    assert (target / "admin.key").stat().st_mode & 0o777 == 0o600
    assert (target / "oracle" / "n4" / "node-0" / "key.json").exists()
    assert not (target / "models").exists()
    assert [p.name for p in target.iterdir() if p.name.startswith(".restore-")] == []


def test_a_key_whose_time_ran_out_since_the_backup_is_not_restored(store: Store, tmp_path: Path) -> None:
    store.put(TASK.key(task_id="short"), "{}", ttl_s=1.5)
    store.put(TASK.key(task_id="long"), "{}", ttl_s=3600)
    records = list(collect(store, tmp_path / "none"))
    store.clear()
    time.sleep(1.7)
    restored = restore(records, store, tmp_path / "s2")
    assert (restored.keys, restored.expired) == (1, 1)
    assert store.get(TASK.key(task_id="long")) == "{}"


def test_restore_refuses_a_target_that_holds_state_and_changes_nothing(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "s1"
    source.mkdir()
    _stack_state(store, source)
    records = list(collect(store, source))
    before = _snapshot(store, source)
    with pytest.raises(BackupError, match=r"not empty: .*admin.key, oracle; the \w+ store holds \d+ keys.*--force"):
        restore(records, store, source)
    assert _snapshot(store, source) == before


def test_force_replaces_the_targets_state_with_the_backups(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "s1"
    source.mkdir()
    _stack_state(store, source)
    records = list(collect(store, source))
    store.put(TASK.key(task_id="after-the-backup"), "{}")
    (source / "admin.key").write_text("a newer key\n")
    restore(records, store, source, force=True)
    assert store.get(TASK.key(task_id="after-the-backup")) is None
    assert (source / "admin.key").read_text() == "qcl_ab12cd34_secret\n"
    assert (source / "models" / "weights.bin").exists()  # outside the state paths: left alone


class _FailingStore(MemoryStore):
    def load(self, entries: Sequence[Entry], *, replace: bool = False) -> int:
        raise ConnectionError("redis went away")


def test_a_store_that_fails_mid_restore_leaves_the_state_dir_as_it_was(tmp_path: Path) -> None:
    source = tmp_path / "s1"
    source.mkdir()
    _stack_state(MemoryStore(), source)
    task = {"family": "task:{task_id}", "key": "task:t", "kind": "value", "value": "{}", "expires_at": None}
    records = [*collect(MemoryStore(), source), {"store": task}]
    target = tmp_path / "s2"
    with pytest.raises(ConnectionError):
        restore(records, _FailingStore(), target)
    assert list(target.iterdir()) == []  # the staged files went with the failure


def test_a_file_outside_the_state_paths_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    store = MemoryStore()
    records: list[dict[str, Any]] = [
        {"store": {"family": "task:{task_id}", "key": "task:t", "kind": "value", "value": "{}", "expires_at": None}},
        {"file": {"path": "../../etc/cron.d/x", "mode": 0o644, "data": ""}},
    ]
    with pytest.raises(BackupError, match="outside the state paths"):
        restore(records, store, tmp_path / "s2")
    assert list(store.scan()) == []


# -- the CLI on Redis ------------------------------------------------------------------------------------------------


@pytest.fixture
def stacks(redis_server_url: str, tmp_path: Path) -> Iterator[dict[str, dict[str, str]]]:
    """Two stacks' settings on one Redis (prefixes of their own): one to back up, one to restore into."""
    from qcl.store.redis import RedisStore

    env = {"QCL_STORE": "redis", "QCL_REDIS_URL": redis_server_url, "QCL_SOURCE": "rpc", "QCL_BACKUP_KEY": KEY}
    made = {
        name: {**env, "QCL_REDIS_PREFIX": unique(f"qcl-backup-{name}-") + ":", "QCL_STATE_DIR": str(tmp_path / name),
               "QCL_BACKUP_TO": str(tmp_path / "backups")}
        for name in ("old", "new")
    }  # fmt: skip
    yield made
    for settings in made.values():
        RedisStore(redis_server_url, prefix=settings["QCL_REDIS_PREFIX"]).clear()


def _qcl(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def _redis(settings: dict[str, str]) -> Store:
    from qcl.store.redis import RedisStore

    return RedisStore(settings["QCL_REDIS_URL"], prefix=settings["QCL_REDIS_PREFIX"])


@pytest.mark.redis
def test_the_cli_backs_up_lists_and_restores_by_id(stacks: dict[str, dict[str, str]]) -> None:
    old, new = stacks["old"], stacks["new"]
    Path(old["QCL_STATE_DIR"]).mkdir()
    _stack_state(_redis(old), Path(old["QCL_STATE_DIR"]))
    code, output = _qcl(old, "backup", "create")
    assert code == 0, output
    assert "3 keys in 3 families, 2 files" in output
    code, output = _qcl(new, "backup", "list")
    assert code == 0 and "3 keys, 2 files" in output, output
    backup_id = output.split()[0]
    code, output = _qcl(new, "backup", "restore", backup_id)
    assert code == 0, output
    assert "restored 3 keys and 2 files" in output
    assert _redis(new).get(TASK.key(task_id="t1")) == '{"kind": "oracle"}'


@pytest.mark.redis
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[: len(data) // 2], "truncated"),
        (lambda data: data[:-1] + bytes([data[-1] ^ 1]), "changed after it was written"),
        (lambda data: data.replace(b'"format":1', b'"format":2', 1), "format 2 .* newer qcl"),
        (lambda data: b"garbage" + data, "not a qcl backup"),
    ],
    ids=["truncated", "tampered", "newer-version", "not-a-backup"],
)
def test_the_cli_refuses_a_damaged_backup_and_writes_nothing(
    stacks: dict[str, dict[str, str]], tmp_path: Path, damage: Callable[[bytes], bytes], message: str
) -> None:
    old, new = stacks["old"], stacks["new"]
    Path(old["QCL_STATE_DIR"]).mkdir()
    _stack_state(_redis(old), Path(old["QCL_STATE_DIR"]))
    assert _qcl(old, "backup", "create")[0] == 0
    [made] = (tmp_path / "backups").iterdir()
    assert made.read_bytes().startswith(MAGIC)
    damaged = tmp_path / "damaged.qclb"
    damaged.write_bytes(damage(made.read_bytes()))
    code, output = _qcl(new, "backup", "restore", str(damaged))
    assert code == 1
    assert re.search(message, output), output
    assert list(_redis(new).scan()) == [] and not Path(new["QCL_STATE_DIR"]).exists()


@pytest.mark.redis
def test_the_cli_refuses_a_wrong_key_and_a_missing_one_by_name(stacks: dict[str, dict[str, str]]) -> None:
    old, new = stacks["old"], stacks["new"]
    _redis(old).put(TASK.key(task_id="t1"), "{}")
    assert _qcl(old, "backup", "create")[0] == 0
    other_key = base64.b64encode(os.urandom(32)).decode()
    code, output = _qcl({**new, "QCL_BACKUP_KEY": other_key}, "backup", "restore", str(next(_backups(new))))
    assert code == 1 and "encrypted with key" in output
    code, output = _qcl({**new, "QCL_BACKUP_KEY": ""}, "backup", "create")
    assert code == 1 and "no backup key: set QCL_BACKUP_KEY" in output
    assert list(_redis(new).scan()) == []


@pytest.mark.redis
def test_the_cli_names_a_store_that_does_not_answer(stacks: dict[str, dict[str, str]]) -> None:
    gone = f"redis://127.0.0.1:{free_port()}/0"
    code, output = _qcl({**stacks["old"], "QCL_REDIS_URL": gone}, "backup", "create")
    assert code == 1 and "backup failed: ConnectionError" in output and "Traceback" not in output
    assert list(_backups(stacks["old"])) == []


@pytest.mark.redis
def test_the_cli_will_not_restore_where_a_replay_would_clear_it(stacks: dict[str, dict[str, str]]) -> None:
    code, output = _qcl({**stacks["new"], "QCL_SOURCE": "replay"}, "backup", "restore", "anything")
    assert code == 1 and "clears a replay's store" in output


def _backups(settings: dict[str, str]) -> Iterator[Path]:
    return Path(settings["QCL_BACKUP_TO"]).glob("*.qclb")


# -- Cloud Storage: gcp-storage-emulator, a real HTTP server speaking the JSON API -------------------------------------


@pytest.fixture
def gcs_emulator() -> Iterator[str]:
    program = shutil.which("gcp-storage-emulator") or str(Path(sys.executable).parent / "gcp-storage-emulator")
    if not Path(program).exists():
        missing("gcp-storage-emulator is not installed (pip install -e .[dev])")
    port = free_port()
    process = subprocess.Popen(
        [program, "start", "--port", str(port), "--in-memory", "--default-bucket", "qcl-backups", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/storage/v1/b/qcl-backups", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_for(answers, timeout_s=20, interval_s=0.1), "gcp-storage-emulator did not start"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.redis
def test_the_cli_backs_up_to_cloud_storage_and_restores_from_it(
    stacks: dict[str, dict[str, str]], gcs_emulator: str
) -> None:
    old = {**stacks["old"], "STORAGE_EMULATOR_HOST": gcs_emulator, "QCL_BACKUP_TO": "gs://qcl-backups/prod"}
    new = {**stacks["new"], "STORAGE_EMULATOR_HOST": gcs_emulator, "QCL_BACKUP_TO": "gs://qcl-backups/prod"}
    Path(old["QCL_STATE_DIR"]).mkdir()
    _stack_state(_redis(old), Path(old["QCL_STATE_DIR"]))
    code, output = _qcl(old, "backup", "create", "--json")
    assert code == 0, output
    assert '"location": "gs://qcl-backups/prod/qcl-backup-' in output
    code, output = _qcl(new, "backup", "list", "--json")
    assert code == 0 and '"files": 2' in output, output
    backup_id = output.split('"id": "')[1].split('"')[0]
    code, output = _qcl(new, "backup", "restore", backup_id)
    assert code == 0, output
    assert _redis(new).list_range(API_KEYS_INDEX.key(), 10) == ["ab12cd34"]
    assert (Path(new["QCL_STATE_DIR"]) / "admin.key").exists()
    code, output = _qcl(new, "backup", "restore", "qcl-backup-19700101T000000Z-00000000")
    assert code == 1 and "not in gs://qcl-backups/prod/" in output
