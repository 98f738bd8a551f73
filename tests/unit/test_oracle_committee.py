"""The signed committee file: n = 3f+1 members, an id that is the hash of the membership, every member's signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcl.oracle.committee import create_committee, load_committee, save_committee, verify_committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.errors import CommitteeError
from qcl.oracle.setup import init_committee, member_key, open_committee


def keys(n: int) -> list[NodeKey]:
    return [NodeKey.from_seed(f"oracle-{i}", bytes([i + 1]) * 32) for i in range(n)]


@pytest.mark.parametrize(("n", "f", "quorum"), [(4, 1, 3), (7, 2, 5)])
def test_a_committee_of_3f_plus_1_decides_with_2f_plus_1(tmp_path: Path, n: int, f: int, quorum: int) -> None:
    save_committee(create_committee(keys(n)), tmp_path / "committee.json")
    committee = load_committee(tmp_path / "committee.json")
    assert (committee.n, committee.f, committee.quorum) == (n, f, quorum)


@pytest.mark.parametrize("n", [3, 5, 6])
def test_a_committee_that_is_not_3f_plus_1_is_refused(n: int) -> None:
    with pytest.raises(CommitteeError, match="3f\\+1"):
        create_committee(keys(n))


def test_node_0_leads_view_0_of_job_0_and_the_lead_rotates() -> None:
    committee = verify_committee(create_committee(keys(4)))
    assert [committee.primary(0, v) for v in range(5)] == [0, 1, 2, 3, 0]
    assert committee.primary(1, 0) == 1


def _tampered(tmp_path: Path, change: object) -> Path:
    body = create_committee(keys(4)).model_dump(mode="json")
    change(body)  # type: ignore[operator]
    path = tmp_path / "committee.json"
    path.write_text(json.dumps(body))
    return path


def _swap_key(body: dict) -> None:  # type: ignore[type-arg]
    body["membership"]["members"][1]["public_key"] = NodeKey.from_seed("x", b"\x09" * 32).public_key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_swap_key, "not the hash of its membership"),
        (lambda b: b["signatures"].pop(2), "oracle-2 has not signed"),
        (lambda b: b["signatures"][0].update(signature=b["signatures"][1]["signature"]), "oracle-0's signature"),
        (lambda b: b["membership"]["members"][3].update(node_id="oracle-0"), "distinct"),
        (lambda b: b["membership"].update(f=2), "3f\\+1"),
        (lambda b: b.pop("committee_id"), "does not parse: committee_id"),
    ],
)
def test_a_tampered_committee_file_is_refused_naming_the_problem(tmp_path: Path, change: object, message: str) -> None:
    with pytest.raises(CommitteeError, match=message):
        load_committee(_tampered(tmp_path, change))


def test_a_missing_committee_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(CommitteeError, match="qcl oracle init"):
        load_committee(tmp_path / "committee.json")


def test_init_creates_keys_and_addresses_and_never_replaces_them(tmp_path: Path) -> None:
    init_committee(tmp_path, n=4, base_port=47300)
    committee, found = open_committee(tmp_path)
    assert [m.address for m in committee.members] == [f"127.0.0.1:{47300 + i}" for i in range(4)]
    first = (tmp_path / "node-2" / "key.json").read_text()
    init_committee(tmp_path, n=4, base_port=47300)
    assert (tmp_path / "node-2" / "key.json").read_text() == first and len(found) == 4


def test_a_member_key_that_is_not_in_the_committee_file_is_refused(tmp_path: Path) -> None:
    init_committee(tmp_path, n=4)
    committee, _ = open_committee(tmp_path)
    NodeKey.generate("oracle-1").save(tmp_path / "node-1" / "key.json")
    with pytest.raises(CommitteeError, match="does not match member 1"):
        member_key(tmp_path, committee, 1)
    with pytest.raises(CommitteeError, match="another key than member 1"):
        open_committee(tmp_path)
    with pytest.raises(CommitteeError, match=r"outside 0\.\.3"):
        member_key(tmp_path, committee, 9)
