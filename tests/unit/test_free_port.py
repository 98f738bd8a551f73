"""free_port: a port for a server to bind, kept out of the kernel's ephemeral range, whose ports any outgoing
connection may take as its source port (a restarted shard stage was refused its own port that way)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from qcl.bus import emulator
from qcl.bus.emulator import FREE_PORT_FLOOR, free_port


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_the_port_lies_below_the_ephemeral_range_and_is_free(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = tmp_path / "ip_local_port_range"
    ports.write_text("32768\t60999\n")
    monkeypatch.setattr(emulator, "EPHEMERAL_RANGE", ports)
    chosen = {free_port() for _ in range(20)}
    assert all(FREE_PORT_FLOOR <= port < 32768 for port in chosen)
    assert len(chosen) > 1  # drawn at random: two servers starting together rarely draw the same one
    assert all(bindable(port) for port in chosen)


def test_a_port_someone_listens_on_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = tmp_path / "ip_local_port_range"
    ports.write_text("32768 60999")
    monkeypatch.setattr(emulator, "EPHEMERAL_RANGE", ports)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_port()))
        listener.listen()
        taken = listener.getsockname()[1]
        draws = iter([taken, taken, taken + 1 if taken + 1 < 32768 else taken - 1])
        monkeypatch.setattr(emulator.random, "randrange", lambda low, high: next(draws))
        assert free_port() != taken


def test_without_room_below_the_range_the_kernel_chooses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = tmp_path / "ip_local_port_range"
    ports.write_text("1024 65000")  # the whole range is ephemeral
    monkeypatch.setattr(emulator, "EPHEMERAL_RANGE", ports)
    assert bindable(free_port())
    monkeypatch.setattr(emulator, "EPHEMERAL_RANGE", tmp_path / "missing")  # not Linux
    assert bindable(free_port())
