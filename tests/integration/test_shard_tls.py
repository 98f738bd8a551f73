"""mTLS on the shard pool over real gRPC: who is refused, at the handshake or by role, and what still works.

Two stages of tiny-random-qwen2 serve mTLS in this process (`first`: shard/first, `last`: shard/last) with a
project CA in a temporary directory; a second CA plays the stranger. The last test starts a LocalPool: stage
processes that get their certificates from the pool, over loopback.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import torch
from typer.testing import CliRunner

from qcl.cli import app
from qcl.config import Settings, load_settings
from qcl.model.loading import load_model
from qcl.model.steps import greedy_tokens
from qcl.pki import Identity, Pki, PkiError
from qcl.shard.client import Channels, LinkFailure, StageLink, call_json, check_health, fetch_record
from qcl.shard.coordinator import open_pool
from qcl.shard.local import LocalPool
from qcl.shard.pool import ShardPool
from qcl.shard.server import ServerOptions, ShardServer, build_server
from qcl.shard.sessions import Sampling
from qcl.shard.tls import TlsMaterial
from qcl.shard.wire import encode, ids_frame
from qcl.store.memory import MemoryStore

pytestmark = pytest.mark.xdist_group("shard_tls")

MODEL = "tiny-random-qwen2"
PROMPT = [5, 9, 40, 41, 42]
HOSTS = ("127.0.0.1", "localhost")
SHARD_FIRST, SHARD_LAST = Identity("shard", "first"), Identity("shard", "last")
COORDINATOR, OTHER_COORDINATOR = Identity("coordinator", "c1"), Identity("coordinator", "c2")
ORACLE = Identity("oracle", "o1")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(model_cache_dir=tmp_path_factory.mktemp("models"), state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    pki = Pki(tmp_path_factory.mktemp("pki"))
    pki.init()
    for who in (SHARD_FIRST, SHARD_LAST, COORDINATOR, OTHER_COORDINATOR, ORACLE):
        pki.issue(who, HOSTS)
    return pki


def _tls(pki: Pki, who: Identity) -> TlsMaterial:
    return TlsMaterial.load(pki.node_dir(who), role=who.role)


def _serve(settings: Settings, layers: range, tls: TlsMaterial | None) -> ShardServer:
    return build_server(settings, MODEL, [layers], ServerOptions(port=0, tls=tls)).start()


@pytest.fixture(scope="module")
def first(settings: Settings, pki: Pki) -> Iterator[ShardServer]:
    server = _serve(settings, range(0, 1), _tls(pki, SHARD_FIRST))
    yield server
    server.stop(0)


@pytest.fixture(scope="module")
def last(settings: Settings, pki: Pki) -> Iterator[ShardServer]:
    server = _serve(settings, range(1, 2), _tls(pki, SHARD_LAST))
    yield server
    server.stop(0)


@pytest.fixture
def coordinator(pki: Pki) -> Iterator[Channels]:
    channels = Channels(_tls(pki, COORDINATOR))
    yield channels
    channels.close()


def _info_code(channel: grpc.Channel) -> grpc.StatusCode | None:
    try:
        fetch_record(channel, timeout_s=5)
    except LinkFailure as failure:
        return failure.code
    return None


def _tokens(session: bytes, step: int = 0, position: int = 0, ids: list[int] | None = None) -> bytes:
    return encode(ids_frame("tokens", session, step, position, torch.tensor([ids or PROMPT])))


def _link(channel: grpc.Channel, session: bytes) -> StageLink:
    metadata = (("qcl-session", session.hex()), ("qcl-layers", "0:1"), ("qcl-wire", "fp16"), ("qcl-sampling", "{}"))
    return StageLink(channel, "first", metadata, stream_timeout_s=30)


def _failure(link: StageLink, *frames: bytes) -> LinkFailure:
    for frame in frames[:-1]:
        link.send(frame)
        link.receive(10)
    link.send(frames[-1])
    with pytest.raises(LinkFailure) as failure:
        link.receive(10)
    return failure.value


# --- refused at the handshake ------------------------------------------------------------------------------------


def test_a_client_without_a_certificate_is_refused(first: ShardServer, pki: Pki) -> None:
    plaintext = grpc.insecure_channel(first.address)
    server_auth_only = grpc.secure_channel(first.address, grpc.ssl_channel_credentials(pki.bundle()))
    assert _info_code(plaintext) == grpc.StatusCode.UNAVAILABLE
    assert _info_code(server_auth_only) == grpc.StatusCode.UNAVAILABLE
    assert not check_health(server_auth_only, timeout_s=2)


def test_a_certificate_of_another_ca_is_refused(first: ShardServer, pki: Pki, tmp_path: Path) -> None:
    stranger = Pki(tmp_path / "stranger")
    stranger.init()
    stranger.issue(COORDINATOR, HOSTS)
    own = _tls(stranger, COORDINATOR)
    # It trusts our CA (so it would accept the server); the server does not trust its CA.
    material = TlsMaterial(pki.bundle(), own.cert, own.key, own.identity)
    channels = Channels(material)
    assert _info_code(channels.get(first.address, "first")) == grpc.StatusCode.UNAVAILABLE
    channels.close()


def test_an_expired_certificate_is_refused(first: ShardServer, pki: Pki, tmp_path: Path) -> None:
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)  # valid for a day, ended yesterday
    folder = pki.issue(Identity("coordinator", "expired"), HOSTS, days=1, not_before=start)
    channels = Channels(TlsMaterial.load(folder, role="coordinator"))
    assert _info_code(channels.get(first.address, "first")) == grpc.StatusCode.UNAVAILABLE
    channels.close()


def test_a_stage_presenting_another_node_id_is_refused_by_the_client(first: ShardServer, coordinator: Channels) -> None:
    assert _info_code(coordinator.get(first.address, "last")) == grpc.StatusCode.UNAVAILABLE
    assert fetch_record(coordinator.get(first.address, "first"), timeout_s=5).node_id == "first"


def test_a_stage_takes_its_node_id_from_its_certificate(first: ShardServer, settings: Settings, pki: Pki) -> None:
    assert first.node_id == "first"
    with pytest.raises(Exception, match="the certificate pins 'first', got --node-id 'other'"):
        build_server(settings, MODEL, [range(0, 1)], ServerOptions(node_id="other", tls=_tls(pki, SHARD_FIRST)))


def test_the_plaintext_health_port_serves_the_health_check_and_nothing_else(settings: Settings, pki: Pki) -> None:
    options = ServerOptions(port=0, tls=_tls(pki, SHARD_FIRST), health_port=0)
    server = build_server(settings, MODEL, [range(0, 1)], options).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.health_port}")
    try:
        assert check_health(channel, timeout_s=5)  # what a GCP health check or a kubelet probe does
        assert _info_code(channel) == grpc.StatusCode.UNIMPLEMENTED
    finally:
        channel.close()
        server.stop(0)


# --- refused by role ---------------------------------------------------------------------------------------------


def test_a_shard_certificate_may_not_drive_a_session(first: ShardServer, pki: Pki) -> None:
    channels = Channels(_tls(pki, SHARD_LAST))
    session = uuid.uuid4().bytes
    failure = _failure(_link(channels.get(first.address, "first"), session), _tokens(session))
    channels.close()
    assert failure.code == grpc.StatusCode.PERMISSION_DENIED
    assert "Session: callers with role 'shard' (shard/last) are refused; allowed roles: coordinator" in failure.detail


def test_an_oracle_certificate_may_not_load_layers_or_read_the_record(first: ShardServer, pki: Pki) -> None:
    channels = Channels(_tls(pki, ORACLE))
    channel = channels.get(first.address, "first")
    with pytest.raises(LinkFailure) as load:
        call_json(channel, "Load", {"layers": "1:2"}, node_id="first", timeout_s=5)
    assert load.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "Load: callers with role 'oracle' (oracle/o1) are refused" in load.value.detail
    assert _info_code(channel) == grpc.StatusCode.PERMISSION_DENIED
    channels.close()


def test_a_shard_may_read_another_shards_record(first: ShardServer, pki: Pki) -> None:
    channels = Channels(_tls(pki, SHARD_LAST))
    assert fetch_record(channels.get(first.address, "first"), timeout_s=5).node_id == "first"
    channels.close()


# --- replay ------------------------------------------------------------------------------------------------------


def test_a_replayed_frame_is_refused(first: ShardServer, coordinator: Channels) -> None:
    session = uuid.uuid4().bytes
    step1 = _tokens(session, step=1, position=len(PROMPT), ids=[7])
    failure = _failure(_link(coordinator.get(first.address, "first"), session), _tokens(session), step1, step1)
    assert failure.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "expected step 2, got step 1" in failure.detail


def test_a_frame_replayed_into_another_session_is_refused(first: ShardServer, coordinator: Channels) -> None:
    session, other = uuid.uuid4().bytes, uuid.uuid4().bytes
    link = _link(coordinator.get(first.address, "first"), other)
    failure = _failure(link, _tokens(other), _tokens(session, step=1, position=len(PROMPT), ids=[7]))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert f"this stream carries session {other.hex()}, got a frame of {session.hex()}" in failure.detail


def test_a_session_belongs_to_the_coordinator_that_opened_it(
    first: ShardServer, coordinator: Channels, pki: Pki
) -> None:
    session = uuid.uuid4().bytes
    owner = _link(coordinator.get(first.address, "first"), session)
    owner.send(_tokens(session))
    owner.receive(10)
    thief = Channels(_tls(pki, OTHER_COORDINATOR))
    channel = thief.get(first.address, "first")
    failure = _failure(_link(channel, session), _tokens(session))
    with pytest.raises(LinkFailure) as close:
        call_json(channel, "Close", {"session": session.hex(), "layers": "0:1"}, node_id="first", timeout_s=5)
    thief.close()
    owner.send(_tokens(session, step=1, position=len(PROMPT), ids=[7]))
    assert owner.receive(10)  # the owner's session is untouched
    owner.close()
    assert failure.code == close.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert f"session {session.hex()} belongs to coordinator/c1, not coordinator/c2" in failure.detail


# --- what keeps working ------------------------------------------------------------------------------------------


def _pool_tokens(pool: ShardPool, count: int) -> list[int]:
    assert pool.wait_ready(30)
    session = pool.open_session(Sampling())
    tokens = [session.prefill(PROMPT)]
    while len(tokens) < count:
        tokens.append(session.decode(tokens[-1]))
    session.close()
    pool.close()
    return tokens


def test_the_pool_over_mtls_generates_the_same_tokens_as_plaintext_and_one_node(
    first: ShardServer, last: ShardServer, settings: Settings, pki: Pki
) -> None:
    seeds = [first.address, last.address]
    secure = settings.model_copy(update={"tls_dir": pki.node_dir(COORDINATOR)})
    over_tls, _ = open_pool(secure, store=MemoryStore(), seeds=seeds, model_id=MODEL)
    plain = [_serve(settings, range(0, 1), None), _serve(settings, range(1, 2), None)]
    try:
        plaintext = settings.model_copy(update={"shard_tls": False})
        over_plaintext, _ = open_pool(plaintext, store=MemoryStore(), seeds=[s.address for s in plain], model_id=MODEL)
        tokens = _pool_tokens(over_tls, 8)
        assert tokens == _pool_tokens(over_plaintext, 8)
    finally:
        for server in plain:
            server.stop(0)
    assert tokens == greedy_tokens(load_model(MODEL, settings, progress=None).model, PROMPT, 8)


def test_a_rotated_certificate_keeps_working(first: ShardServer, pki: Pki) -> None:
    who = Identity("coordinator", "rotating")
    before = TlsMaterial.load(pki.issue(who, HOSTS), role="coordinator")
    after = TlsMaterial.load(pki.rotate_node(who), role="coordinator")
    assert after.cert != before.cert and after.key != before.key
    for material in (before, after):  # the old certificate works until it expires; the new one at once
        channels = Channels(material)
        assert fetch_record(channels.get(first.address, "first"), timeout_s=5).node_id == "first"
        channels.close()


def test_a_ca_rotation_keeps_both_cas_trusted_until_the_old_one_is_retired(settings: Settings, tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    pki.init()
    old = TlsMaterial.load(pki.issue(COORDINATOR, HOSTS), role="coordinator")
    pki.rotate_ca()
    new = TlsMaterial.load(pki.issue(OTHER_COORDINATOR, HOSTS), role="coordinator")
    assert _answers(settings, pki, old) and _answers(settings, pki, new)  # a stage restarted on the overlap bundle
    pki.retire()
    assert not _answers(settings, pki, old) and _answers(settings, pki, new)


def _answers(settings: Settings, pki: Pki, caller: TlsMaterial) -> bool:
    """Whether a stage started now (on the bundle as it is) answers `caller`."""
    server = _serve(settings, range(0, 1), TlsMaterial.load(pki.issue(SHARD_FIRST, HOSTS), role="shard"))
    channels = Channels(TlsMaterial(pki.bundle(), caller.cert, caller.key, caller.identity))
    try:
        return _info_code(channels.get(server.address, "first")) is None
    finally:
        channels.close()
        server.stop(0)


def test_a_coordinator_without_its_certificate_says_which_setting_is_missing(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, model_cache_dir=tmp_path / "models")
    with pytest.raises(
        PkiError, match=r"the coordinator needs its certificate .*\(QCL_TLS_DIR, or QCL_SHARD_TLS=false"
    ):
        open_pool(settings, store=MemoryStore(), seeds=["127.0.0.1:1"], model_id=MODEL)


def test_a_plaintext_stage_off_loopback_logs_a_warning(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="qcl.shard.tls")
    server = build_server(settings, MODEL, [range(0, 1)], ServerOptions(host="0.0.0.0", port=0)).start()  # noqa: S104
    server.stop(0)
    loopback = _serve(settings, range(0, 1), None)
    loopback.stop(0)
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "shard gRPC on 0.0.0.0:0 runs plaintext (QCL_SHARD_TLS=false): any host on the network can call it"
    ]


# --- the CLI and the local pool ----------------------------------------------------------------------------------


def test_serve_without_a_certificate_directory_says_how_to_get_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["shard", "serve", "--model", MODEL, "--layers", "0:1", "--port", "0"],
        env={"QCL_MODEL_CACHE_DIR": str(tmp_path), "QCL_SHARD_TLS": "true"},
    )
    assert result.exit_code == 2
    assert "QCL_TLS_DIR (--tls-dir): mTLS is on but no certificate directory is given" in result.output


def test_serve_refuses_a_certificate_of_another_role(tmp_path: Path, pki: Pki) -> None:
    result = CliRunner().invoke(
        app,
        ["shard", "serve", "--model", MODEL, "--layers", "0:1", "--tls-dir", str(pki.node_dir(COORDINATOR))],
        env={"QCL_MODEL_CACHE_DIR": str(tmp_path), "QCL_SHARD_TLS": "true"},
    )
    assert result.exit_code == 2
    assert "expected a shard certificate, got coordinator/c1" in result.output


def test_the_local_pool_speaks_mtls_between_real_processes(settings: Settings) -> None:
    with LocalPool(settings, MODEL, stages=2, threads=1) as local:
        stage = local.processes[0]
        assert _info_code(grpc.insecure_channel(stage.address)) == grpc.StatusCode.UNAVAILABLE
        pool, _ = open_pool(settings, store=MemoryStore(), seeds=local.addresses, model_id=MODEL)
        tokens = _pool_tokens(pool, 4)
    assert tokens == greedy_tokens(load_model(MODEL, settings, progress=None).model, PROMPT, 4)
    assert oct((settings.state_dir / "pki" / "ca" / "ca.key").stat().st_mode & 0o777) == "0o600"
