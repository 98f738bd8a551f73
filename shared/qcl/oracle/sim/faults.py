"""The fault SPEC of `qcl oracle simulate --faults SPEC`: what to break, where and when.

    plan = parse_faults("0:equivocate,3:delay:200,partition:0.1|2.3@0-1500", n=4)

A SPEC is a comma-separated list. `NODE:FAULT` items (nodes numbered from 0; node 0 leads view 0) with FAULT one of
silent, equivocate, wrong-result, lazy-copy, forge-signature, replay, delay:<ms>, drop:<rate>, crash-restart; and
network-wide items partition:<groups>@<start_ms>-<end_ms> (groups split by "|", members of a group by "."), delay:<ms>
and drop:<rate>. A bad item raises FaultSpecError naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qcl.oracle.errors import FaultSpecError

BYZANTINE = frozenset({"equivocate", "wrong-result", "lazy-copy", "forge-signature", "replay"})
BENIGN = frozenset({"silent", "crash-restart", "delay", "drop"})
NODE_FAULTS = (
    "silent",
    "equivocate",
    "wrong-result",
    "lazy-copy",
    "forge-signature",
    "replay",
    "delay:<ms>",
    "drop:<rate>",
    "crash-restart",
)
NETWORK_FAULTS = ("partition:<a.b|c.d>@<start_ms>-<end_ms>", "delay:<ms>", "drop:<rate>")

_NUMBER = r"[0-9]+(?:\.[0-9]+)?"


@dataclass(frozen=True)
class NodeFault:
    kind: str
    amount: float = 0.0  # delay in ms, or drop rate


@dataclass(frozen=True)
class Partition:
    groups: tuple[frozenset[int], ...]
    start_ms: float
    end_ms: float

    def separates(self, a: int, b: int, at_ms: float) -> bool:
        if not self.start_ms <= at_ms < self.end_ms:
            return False
        group_a = next((g for g in self.groups if a in g), frozenset({a}))
        return b not in group_a


@dataclass(frozen=True)
class FaultPlan:
    node_faults: dict[int, tuple[NodeFault, ...]] = field(default_factory=dict)
    partitions: tuple[Partition, ...] = ()
    delay_ms: float = 0.0
    drop_rate: float = 0.0

    def kinds(self, node: int) -> set[str]:
        return {fault.kind for fault in self.node_faults.get(node, ())}

    def byzantine(self) -> set[int]:
        return {node for node in self.node_faults if self.kinds(node) & BYZANTINE}

    def silent(self) -> set[int]:
        """Members nothing leaves: silent ones, and those whose every message is dropped."""
        return {
            node
            for node, faults in self.node_faults.items()
            if any(f.kind == "silent" or (f.kind == "drop" and f.amount >= 1.0) for f in faults)
        }

    def heal_ms(self) -> float:
        """When the last timed fault ends (partitions; crash-restart nodes restart on their own schedule)."""
        return max((p.end_ms for p in self.partitions), default=0.0)


def _amount(item: str, text: str, *, rate: bool) -> float:
    if not re.fullmatch(_NUMBER, text):
        raise FaultSpecError(f"fault item {item!r}: {'rate' if rate else 'delay'} must be a number, got {text!r}")
    value = float(text)
    if rate and not 0 <= value <= 1:
        raise FaultSpecError(f"fault item {item!r}: a drop rate lies in 0..1, got {value}")
    return value


def _partition(item: str, text: str, n: int) -> Partition:
    match = re.fullmatch(rf"([0-9.|]+)@({_NUMBER})-({_NUMBER})", text)
    if not match:
        raise FaultSpecError(f"fault item {item!r}: expected partition:<a.b|c.d>@<start_ms>-<end_ms>")
    groups: list[frozenset[int]] = []
    for group in match.group(1).split("|"):
        try:
            members = frozenset(int(x) for x in group.split("."))
        except ValueError:
            raise FaultSpecError(f"fault item {item!r}: groups are node numbers joined by '.'") from None
        groups.append(members)
    seen: set[int] = set()
    for members in groups:
        if members & seen or any(not 0 <= m < n for m in members):
            raise FaultSpecError(f"fault item {item!r}: groups must be disjoint nodes in 0..{n - 1}")
        seen |= members
    start, end = float(match.group(2)), float(match.group(3))
    if len(groups) < 2 or end <= start:
        raise FaultSpecError(f"fault item {item!r}: needs two or more groups and start < end")
    return Partition(tuple(groups), start, end)


def parse_faults(spec: str, n: int) -> FaultPlan:
    """Parse a SPEC for a committee of `n`; raises FaultSpecError naming the first bad item."""
    node_faults: dict[int, list[NodeFault]] = {}
    partitions: list[Partition] = []
    delay_ms, drop_rate = 0.0, 0.0
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        head, _, rest = item.partition(":")
        if head.isdigit():
            node = int(head)
            if node >= n:
                raise FaultSpecError(f"fault item {item!r}: node {node} does not exist; nodes are 0..{n - 1}")
            kind, _, arg = rest.partition(":")
            if kind in ("delay", "drop") and arg:
                fault = NodeFault(kind, _amount(item, arg, rate=kind == "drop"))
            elif kind in BYZANTINE | BENIGN and kind not in ("delay", "drop") and not arg:
                fault = NodeFault(kind)
            else:
                raise FaultSpecError(
                    f"fault item {item!r}: unknown node fault {rest!r}; known: {', '.join(NODE_FAULTS)}"
                )
            node_faults.setdefault(node, []).append(fault)
        elif head == "partition":
            partitions.append(_partition(item, rest, n))
        elif head == "delay" and rest:
            delay_ms = _amount(item, rest, rate=False)
        elif head == "drop" and rest:
            drop_rate = _amount(item, rest, rate=True)
        else:
            raise FaultSpecError(
                f"fault item {item!r}: expected NODE:FAULT ({', '.join(NODE_FAULTS)}) or a network item "
                f"({', '.join(NETWORK_FAULTS)})"
            )
    return FaultPlan({k: tuple(v) for k, v in node_faults.items()}, tuple(partitions), delay_ms, drop_rate)
