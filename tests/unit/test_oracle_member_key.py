"""A member that runs alone (its own Cloud Run service or pod) loads its own key and no other: qcl.oracle.setup.own_key.

.venv/bin/pytest tests/unit/test_oracle_member_key.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qcl.oracle.committee import Committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.errors import CommitteeError
from qcl.oracle.setup import export_key, init_committee, member_key, open_committee, own_key


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    init_committee(tmp_path, n=4)
    return tmp_path


def _committee(folder: Path) -> Committee:
    return open_committee(folder)[0]


def _env(folder: Path, index: int) -> dict[str, str]:
    return {f"QCL_ORACLE_NODE_KEY_{index}": export_key(NodeKey.load(folder / f"node-{index}" / "key.json"))}


def test_a_member_given_its_own_key_loads_exactly_that_key(folder: Path) -> None:
    committee = _committee(folder)
    key = own_key(committee, 2, {**_env(folder, 2), "QCL_ORACLE_NODES": "4"})
    assert key.public_key == committee.members[2].public_key and key.node_id == "oracle-2"


def test_a_member_given_another_members_key_refuses_naming_whose_it_is(folder: Path) -> None:
    committee = _committee(folder)
    stolen = {"QCL_ORACLE_NODE_KEY_1": _env(folder, 0)["QCL_ORACLE_NODE_KEY_0"]}
    with pytest.raises(CommitteeError, match=r"QCL_ORACLE_NODE_KEY_1 holds member 0's key \(oracle-0\), not member 1"):
        own_key(committee, 1, stolen)


def test_a_key_of_no_member_is_refused(folder: Path) -> None:
    stranger = {"QCL_ORACLE_NODE_KEY_3": export_key(NodeKey.generate("oracle-3"))}
    with pytest.raises(CommitteeError, match="holds no member's key, not member 3's"):
        own_key(_committee(folder), 3, stranger)


def test_a_member_without_a_key_refuses_naming_the_variable(folder: Path) -> None:
    with pytest.raises(CommitteeError, match="member 2 has no key: set QCL_ORACLE_NODE_KEY_2"):
        own_key(_committee(folder), 2, _env(folder, 1) | {"QCL_ORACLE_NODE_KEY_1": ""} | {"OTHER": "x"})


def test_a_member_that_also_holds_other_members_keys_refuses(folder: Path) -> None:
    env = {**_env(folder, 0), **_env(folder, 2), **_env(folder, 3)}
    others = r"given other members' keys \(QCL_ORACLE_NODE_KEY_2, QCL_ORACLE_NODE_KEY_3\)"
    with pytest.raises(CommitteeError, match=others):
        own_key(_committee(folder), 0, env)


def test_an_index_outside_the_committee_is_refused(folder: Path) -> None:
    with pytest.raises(CommitteeError, match=r"outside 0\.\.3"):
        own_key(_committee(folder), 4, {})


def test_a_malformed_key_is_refused_naming_the_variable(folder: Path) -> None:
    with pytest.raises(CommitteeError, match="QCL_ORACLE_NODE_KEY_0 is not base64"):
        own_key(_committee(folder), 0, {"QCL_ORACLE_NODE_KEY_0": "not base64!"})


def test_a_key_file_of_another_member_is_refused_naming_whose_it_is(folder: Path) -> None:
    committee = _committee(folder)
    NodeKey.load(folder / "node-0" / "key.json").save(folder / "node-1" / "key.json")
    with pytest.raises(CommitteeError, match=r"does not match member 1 .*member 0's key \(oracle-0\)"):
        member_key(folder, committee, 1)


def test_export_key_prints_the_value_that_member_loads_as_its_own(folder: Path) -> None:
    from typer.testing import CliRunner

    from qcl.cli import app

    printed = CliRunner().invoke(app, ["oracle", "export-key", "--dir", str(folder), "--index", "2"])
    assert printed.exit_code == 0, printed.output
    key = own_key(_committee(folder), 2, {"QCL_ORACLE_NODE_KEY_2": printed.stdout.strip()})
    assert key.public_key == _committee(folder).members[2].public_key
    wrong = CliRunner().invoke(app, ["oracle", "export-key", "--dir", str(folder), "--index", "7"])
    assert wrong.exit_code != 0 and "outside 0..3" in wrong.output
