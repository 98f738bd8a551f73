"""The --faults SPEC grammar, and a clear error naming every bad item."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from qcl.cli import app
from qcl.oracle.errors import FaultSpecError
from qcl.oracle.sim.faults import NodeFault, parse_faults


def test_the_issue_example_parses_into_node_and_network_faults() -> None:
    plan = parse_faults("0:equivocate,3:delay:200,partition:0.1|2.3@0-1500", n=4)
    assert plan.node_faults == {0: (NodeFault("equivocate"),), 3: (NodeFault("delay", 200.0),)}
    (partition,) = plan.partitions
    assert partition.groups == (frozenset({0, 1}), frozenset({2, 3})) and (partition.start_ms, partition.end_ms) == (
        0,
        1500,
    )
    assert plan.byzantine() == {0} and plan.heal_ms() == 1500


@pytest.mark.parametrize(
    "item",
    ["0:silent", "1:equivocate", "2:wrong-result", "3:lazy-copy", "0:forge-signature", "1:replay", "2:delay:5.5",
     "3:drop:0.25", "0:crash-restart", "delay:10", "drop:0.1", "partition:0|1.2.3@100-200"],
)  # fmt: skip
def test_every_fault_of_the_grammar_parses(item: str) -> None:
    parse_faults(item, n=4)


def test_an_empty_spec_is_a_fault_free_run() -> None:
    plan = parse_faults("", n=4)
    assert not plan.node_faults and not plan.partitions and plan.drop_rate == 0


def test_a_partition_separates_only_while_it_lasts_and_only_across_groups() -> None:
    (partition,) = parse_faults("partition:0.1|2.3@100-200", n=4).partitions
    assert partition.separates(0, 2, 150) and not partition.separates(0, 1, 150)
    assert not partition.separates(0, 2, 99) and not partition.separates(0, 2, 200)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("0:explode", "'0:explode': unknown node fault 'explode'"),
        ("4:silent", "'4:silent': node 4 does not exist; nodes are 0..3"),
        ("1:delay:abc", "'1:delay:abc': delay must be a number"),
        ("1:drop:1.5", "'1:drop:1.5': a drop rate lies in 0..1"),
        ("1:delay", "'1:delay': unknown node fault"),
        ("1:silent:3", "'1:silent:3': unknown node fault"),
        ("partition:0.1|2.3", "'partition:0.1|2.3': expected partition:"),
        ("partition:0.1|1.3@0-100", "groups must be disjoint"),
        ("partition:0.1|2.9@0-100", "groups must be disjoint nodes in 0..3"),
        ("partition:0.1.2.3@0-100", "two or more groups"),
        ("partition:0|1@100-50", "start < end"),
        ("wobble:3", "'wobble:3': expected NODE:FAULT"),
        ("0:silent,,bogus", "'bogus'"),
    ],
)
def test_a_bad_item_is_named_in_the_error(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message.replace("|", "\\|").replace(".", "\\.").replace("(", "\\(")):
        parse_faults(spec, n=4)


def test_simulate_command_reports_a_bad_spec_item_and_exits_2() -> None:
    result = CliRunner().invoke(app, ["oracle", "simulate", "--faults", "0:silent,7:replay", "--json"])
    assert result.exit_code == 2
    assert "fault item '7:replay': node 7 does not exist" in result.output
