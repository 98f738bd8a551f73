"""How members reach each other: the bus (oracle-protocol topic) or direct loopback datagrams. One interface.

    transport = LoopbackTransport(committee, me)     # UDP on the member's committee address, e.g. 127.0.0.1:47100
    transport = BusTransport(bus, committee, me)     # oracle-protocol, subscription oracle-<me>
    transport.start(on_message)                      # on_message(message, link): link = the peer, where known
    transport.send(message, to=None)                 # None: every other member

Neither transport authenticates anything: every message is checked by its signature in the protocol core. The
loopback transport knows which member address a datagram came from and passes it as the link, so a forged message
is blamed on the peer that sent it; the bus carries no such truth, so there the link is unknown.
"""

from __future__ import annotations

import logging
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

from qcl.bus.base import Bus, Subscription
from qcl.events import ORACLE_PROTOCOL, Envelope, OracleProtocolMessage
from qcl.oracle.committee import Committee
from qcl.oracle.messages import Message, from_wire, to_wire

log = logging.getLogger(__name__)

OnMessage = Callable[[Message, int | None], None]
MAX_DATAGRAM = 65_507  # the largest UDP payload; a NEW-VIEW of a 7-member committee is ~30 kB


class Transport(ABC):
    @abstractmethod
    def start(self, on_message: OnMessage) -> None: ...

    @abstractmethod
    def send(self, message: Message, to: int | None = None) -> None: ...

    def reply(self, address: str, message: Message) -> None:  # noqa: B027 - only loopback clients have an address
        """Send to a client's address (loopback `qcl oracle request`); transports without addresses ignore it."""

    @abstractmethod
    def close(self) -> None: ...


def _address(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


class LoopbackTransport(Transport):
    """UDP datagrams between member addresses from the committee file (one process per member, or all in one)."""

    def __init__(self, committee: Committee, me: int) -> None:
        self.committee, self.me = committee, me
        self._peers: dict[tuple[str, int], int] = {}
        for index, member in enumerate(committee.members):
            if member.address is None:
                raise ValueError(f"member {member.node_id} has no address; the loopback transport needs one per member")
            self._peers[_address(member.address)] = index
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._socket.bind(_address(committee.members[me].address or ""))
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def start(self, on_message: OnMessage) -> None:
        def receive() -> None:
            while not self._closed.is_set():
                try:
                    raw, source = self._socket.recvfrom(MAX_DATAGRAM)
                except OSError:
                    return  # closed
                try:
                    message = from_wire(raw)
                except ValueError as exc:
                    log.info("loopback: datagram from %s dropped: %s", source, exc)
                    continue
                on_message(message, self._peers.get(source))

        self._thread = threading.Thread(target=receive, name=f"oracle-udp-{self.me}", daemon=True)
        self._thread.start()

    def _send_to(self, address: tuple[str, int], message: Message) -> None:
        raw = to_wire(message)
        if len(raw) > MAX_DATAGRAM:
            log.error("loopback: %s message of %d bytes exceeds a datagram; not sent", message.type.value, len(raw))
            return
        try:
            self._socket.sendto(raw, address)
        except OSError as exc:  # a peer that is down: the protocol tolerates the loss
            log.debug("loopback: send to %s failed: %s", address, exc)

    def send(self, message: Message, to: int | None = None) -> None:
        for address, index in self._peers.items():
            if index != self.me and (to is None or to == index):
                self._send_to(address, message)

    def reply(self, address: str, message: Message) -> None:
        self._send_to(_address(address), message)

    def close(self) -> None:
        self._closed.set()
        self._socket.close()


class BusTransport(Transport):
    """Messages on the oracle-protocol topic; each member reads its own subscription (oracle-protocol.oracle-<i>)."""

    def __init__(self, bus: Bus, committee: Committee, me: int, *, source: str = "//qcl/oracle") -> None:
        self.bus, self.committee, self.me, self.source = bus, committee, me, source
        self._subscription: Subscription | None = None

    def start(self, on_message: OnMessage) -> None:
        me = self.committee.node_id(self.me)

        def handle(event: Envelope[OracleProtocolMessage]) -> None:
            if event.data.to not in (None, me) or event.data.sender == me:
                return
            try:
                message = from_wire(event.data.wire)
            except ValueError as exc:
                log.info("oracle-protocol: event %s dropped: %s", event.id, exc)
                return
            on_message(message, None)

        self._subscription = self.bus.subscribe(ORACLE_PROTOCOL, f"oracle-{self.me}", handle)

    def send(self, message: Message, to: int | None = None) -> None:
        data = OracleProtocolMessage(
            sender=self.committee.node_id(self.me),
            to=None if to is None else self.committee.node_id(to),
            wire=to_wire(message).decode(),
        )
        self.bus.publish(ORACLE_PROTOCOL, ORACLE_PROTOCOL.event(data, source=self.source, subject=f"job/{message.seq}"))

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
