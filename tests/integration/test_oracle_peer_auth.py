"""Oracle members authenticate each other by signature, not by transport: over the real bus (memory and the Pub/Sub
emulator) a message signed by a key outside the committee, or made for another committee, is refused by every
member and changes nothing. (Replays of genuine messages are dropped in the protocol core: catalogue test 6.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from qcl.bus.base import Bus
from qcl.config import load_settings
from qcl.events import ORACLE_PROTOCOL, OracleProtocolMessage
from qcl.oracle.committee import Committee, load_committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.messages import Message, MsgType, sign_message, to_wire
from qcl.oracle.service import OracleCommittee
from qcl.store.memory import MemoryStore
from tests.backends import wait_for


@pytest.fixture
def committee(bus: Bus, tmp_path: Path) -> Iterator[OracleCommittee]:
    service = OracleCommittee(load_settings(state_dir=tmp_path, oracle_view_timeout_ms=400), bus, MemoryStore())
    service.start()
    yield service
    service.stop()


def _members(tmp_path: Path) -> Committee:
    return load_committee(tmp_path / "oracle" / "n4" / "committee.json")


def _publish(bus: Bus, message: Message, claimed: str) -> None:
    data = OracleProtocolMessage(sender=claimed, to=None, wire=to_wire(message).decode())
    bus.publish(ORACLE_PROTOCOL, ORACLE_PROTOCOL.event(data, source="//test", subject=f"job/{message.seq}"))


def _rejections(caplog: pytest.LogCaptureFixture, reason: str) -> int:
    return sum("rejected a message" in r.getMessage() and reason in r.getMessage() for r in caplog.records)


def test_a_message_signed_by_a_key_outside_the_committee_is_refused_by_every_member(
    bus: Bus, committee: OracleCommittee, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qcl.oracle.runtime")
    members = _members(tmp_path)
    outsider = NodeKey.generate("oracle-1")  # claims member 1's id and index, holds another key
    forged = sign_message(outsider, members, 1, MsgType.PREPARE, 0, 1, "ab" * 32, digest="cd" * 32)
    _publish(bus, forged, members.node_id(1))
    # Members 0, 2 and 3 read it (member 1 ignores what claims to come from itself).
    assert wait_for(lambda: _rejections(caplog, "PREPARE fails its signature check") >= 3, timeout_s=30)


def test_a_message_for_another_committee_is_refused(
    bus: Bus, committee: OracleCommittee, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qcl.oracle.runtime")
    members = _members(tmp_path)
    signed = sign_message(NodeKey.generate("oracle-2"), members, 2, MsgType.COMMIT, 0, 1, "ab" * 32, digest="cd" * 32)
    stray = signed.model_copy(update={"committee_id": "ee" * 32})  # checked before any signature
    _publish(bus, stray, members.node_id(2))
    assert wait_for(lambda: _rejections(caplog, "message for another committee") >= 3, timeout_s=30)
