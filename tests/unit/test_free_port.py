"""free_port: a port for a server to bind, kept out of the kernel's ephemeral range, whose ports any outgoing
connection may take as its source port (a restarted shard stage was refused its own port that way), and leased so
that no other caller on the machine is given it before its server binds it."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from qcl.bus import emulator
from qcl.bus.emulator import FREE_PORT_FLOOR, PORT_LEASE_S, free_port


@pytest.fixture(autouse=True)
def leases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    book = tmp_path / "leases.json"
    monkeypatch.setattr(emulator, "PORT_LEASES", book)
    ports = tmp_path / "ip_local_port_range"
    ports.write_text("32768\t60999\n")
    monkeypatch.setattr(emulator, "EPHEMERAL_RANGE", ports)
    return book


def draw(monkeypatch: pytest.MonkeyPatch, *ports: int) -> None:
    draws = iter(ports)
    monkeypatch.setattr(emulator.random, "randrange", lambda low, high: next(draws))


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_the_port_lies_below_the_ephemeral_range_and_is_free() -> None:
    chosen = {free_port() for _ in range(20)}
    assert all(FREE_PORT_FLOOR <= port < 32768 for port in chosen)
    assert len(chosen) > 1  # drawn at random: two servers starting together rarely draw the same one
    assert all(bindable(port) for port in chosen)


def test_a_port_someone_listens_on_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        other = free_port()
        draw(monkeypatch, taken, taken, other + 1 if other + 1 < 32768 else other - 1)
        assert free_port() not in (taken, other)


def test_a_port_handed_out_is_not_handed_out_again_until_its_lease_ends(
    leases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = free_port()  # not bound yet: its server is still starting
    assert first in map(int, json.loads(leases.read_text()))  # the book every process on the machine reads
    second = first + 1 if first + 1 < 32768 else first - 1
    draw(monkeypatch, first, second)
    assert free_port() == second
    leases.write_text(json.dumps({str(first): time.time() - PORT_LEASE_S - 1}))  # long ago
    draw(monkeypatch, first)
    assert free_port() == first


def test_a_torn_or_unwritable_lease_book_still_gives_ports(leases: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leases.write_text('{"2')
    assert bindable(free_port())
    assert json.loads(leases.read_text())  # written again whole
    monkeypatch.setattr(emulator, "PORT_LEASES", leases.parent / "missing" / "leases.json")
    port = free_port()
    draw(monkeypatch, port, port + 1 if port + 1 < 32768 else port - 1)
    assert free_port() != port  # leased in this process alone


def test_without_room_below_the_range_the_kernel_chooses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = tmp_path / "ip_local_port_range"
    ports.write_text("1024 65000")  # the whole range is ephemeral
    monkeypatch.setattr(emulator, "EPHEMERAL_RANGE", ports)
    assert bindable(free_port())
    monkeypatch.setattr(emulator, "EPHEMERAL_RANGE", tmp_path / "missing")  # not Linux
    assert bindable(free_port())
