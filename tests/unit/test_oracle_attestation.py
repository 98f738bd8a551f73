"""A third party checks an attestation from the committee file alone, and every tampering is caught (catalogue 17)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qcl.cli import app
from qcl.events import OracleResult
from qcl.oracle.attestation import verify_attestation
from qcl.oracle.canonical import canonical_json, digest_of, sha256_hex
from qcl.oracle.committee import create_committee, save_committee
from qcl.oracle.crypto import signed_bytes
from qcl.oracle.errors import CertificateError
from qcl.oracle.sim.network import sim_keys, simulate

KEYS, COMMITTEE = sim_keys(4)


def attestation(job: str = "findings", faults: str = "") -> dict[str, Any]:
    decision = simulate(4, faults, 1, job=job).first_decision
    assert decision is not None
    return decision.model_dump(mode="json")


@pytest.fixture(scope="module")
def exact() -> dict[str, Any]:
    return attestation("findings")


@pytest.fixture(scope="module")
def numeric() -> dict[str, Any]:
    return attestation("health-score")


def check(body: dict[str, Any]) -> None:
    verify_attestation(OracleResult.model_validate(body), COMMITTEE)


def resign(body: dict[str, Any], index: int, msg_type: str = "COMMIT", domain: str | None = None) -> str:
    """A real signature by member `index` over the attestation's (possibly altered) fields."""
    extra = {"domain": domain} if domain else {}
    data = signed_bytes(
        msg_type, body["committee_id"], body["view"], body["sequence"], body["job_id"], body["digest"], index, **extra
    )
    return KEYS[index].sign(data)


def test_an_untouched_exact_attestation_verifies(exact: dict[str, Any]) -> None:
    check(exact)
    assert exact["status"] == "committed" and len(exact["certificate"]) >= COMMITTEE.quorum


def test_an_untouched_numeric_attestation_verifies(numeric: dict[str, Any]) -> None:
    check(numeric)
    assert numeric["result"] == 60.0


def test_an_unresolvable_attestation_verifies_and_carries_no_result() -> None:
    body = attestation("findings", "0:wrong-result,1:wrong-result")
    check(body)
    assert body["status"] == "unresolvable" and body["result"] is None


def _changed_result(b: dict[str, Any]) -> None:
    b["result"] = b["result"][:1]


def _changed_result_and_hash(b: dict[str, Any]) -> None:
    b["result"] = b["result"][:1]
    b["result_digest"] = sha256_hex(canonical_json(b["result"]))


def _changed_everything_consistently(b: dict[str, Any]) -> None:
    _changed_result_and_hash(b)
    b["digest"] = digest_of({"status": "committed", "result_digest": b["result_digest"]})
    for o in b["observations"]:
        o["result_digest"] = b["result_digest"]


def _swapped_signature(b: dict[str, Any]) -> None:
    cert = b["certificate"]
    cert[0]["signature"], cert[1]["signature"] = cert[1]["signature"], cert[0]["signature"]


def _duplicate_signer(b: dict[str, Any]) -> None:
    b["certificate"] = [b["certificate"][0], b["certificate"][0], b["certificate"][1]]


def _non_member_signer(b: dict[str, Any]) -> None:
    b["certificate"][0]["node_id"] = "oracle-9"


def _too_few(b: dict[str, Any]) -> None:
    b["certificate"] = b["certificate"][:2]


def _wrong_domain(b: dict[str, Any]) -> None:
    for entry in b["certificate"]:
        entry["signature"] = resign(b, COMMITTEE.index_of(entry["node_id"]) or 0, domain="qcl-oracle/v0")


def _prepare_votes_as_commits(b: dict[str, Any]) -> None:
    for entry in b["certificate"]:
        entry["signature"] = resign(b, COMMITTEE.index_of(entry["node_id"]) or 0, msg_type="PREPARE")


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda b: b.update({key: value})


TAMPERINGS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "changed result": (_changed_result, "does not hash to result_digest"),
    "changed result and its hash": (_changed_result_and_hash, "digest is not the hash of the outcome"),
    "changed result, hash, digest, observations": (_changed_everything_consistently, "does not verify"),
    "swapped signature": (_swapped_signature, "does not verify over COMMIT"),
    "duplicate signer": (_duplicate_signer, "twice"),
    "non-member signer": (_non_member_signer, "not a member"),
    "too few signatures": (_too_few, "needs 3"),
    "wrong view": (lambda b: b.update(view=b["view"] + 1), "does not verify over COMMIT"),
    "wrong sequence": (lambda b: b.update(sequence=b["sequence"] + 1), "does not verify"),
    "wrong job id": (_set("job_id", "ab" * 32), "job id is not the hash of the job spec"),
    "other job spec": (lambda b: b["spec"].update(subject="another/job"), "job id is not the hash"),
    "wrong committee id": (_set("committee_id", "cd" * 32), "names committee"),
    "wrong domain": (_wrong_domain, "does not verify over COMMIT"),
    "prepare signatures for commits": (_prepare_votes_as_commits, "does not verify over COMMIT"),
    "status flipped": (_set("status", "unresolvable"), "carries no result|not the hash of the outcome"),
    "observation dropped": (lambda b: b["observations"].pop(), "needs 3 observations"),
    "knowledge proof forged": (lambda b: b["observations"][0].update(proof="ef" * 32), "does not verify|knowledge"),
    "observation signature swapped": (
        lambda b: b["observations"][0].update(signature=b["observations"][1]["signature"]),
        "does not verify",
    ),
}


@pytest.mark.parametrize("name", TAMPERINGS)
def test_every_tampered_exact_certificate_is_rejected(exact: dict[str, Any], name: str) -> None:
    change, reason = TAMPERINGS[name]
    body = json.loads(json.dumps(exact))
    change(body)
    with pytest.raises(CertificateError, match=reason):
        check(body)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set("result", 61.0), "not the median|not the hash of the outcome"),
        (lambda b: b.update(result=61.0, digest=digest_of({"status": "committed", "value": 61.0})), "not the median"),
        (_set("result", "sixty"), "must be a number"),
        (lambda b: b["observations"][0].update(value=99.0), "does not verify"),
    ],
)
def test_every_tampered_numeric_certificate_is_rejected(numeric: dict[str, Any], change: Any, reason: str) -> None:
    body = json.loads(json.dumps(numeric))
    change(body)
    with pytest.raises(CertificateError, match=reason):
        check(body)


def test_a_certificate_of_another_committee_with_the_same_keys_is_rejected(exact: dict[str, Any]) -> None:
    _, other = sim_keys(4, "another-committee")
    with pytest.raises(CertificateError, match="names committee"):
        verify_attestation(OracleResult.model_validate(exact), other)


# -- qcl oracle verify ---------------------------------------------------------------------------------------------


@pytest.fixture
def committee_file(tmp_path: Path) -> Path:
    path = tmp_path / "committee.json"
    save_committee(create_committee(list(KEYS), name="qcl-sim"), path)
    return path


def test_verify_command_accepts_a_valid_attestation_and_an_event_envelope(
    exact: dict[str, Any], committee_file: Path, tmp_path: Path
) -> None:
    plain, wrapped = tmp_path / "a.json", tmp_path / "event.json"
    plain.write_text(json.dumps(exact))
    wrapped.write_text(json.dumps({"specversion": "1.0", "id": "x", "data": exact}))
    for path in (plain, wrapped):
        result = CliRunner().invoke(app, ["oracle", "verify", str(path), "--committee", str(committee_file), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["valid"] is True


def test_verify_command_rejects_a_tampered_attestation_with_the_reason(
    exact: dict[str, Any], committee_file: Path, tmp_path: Path
) -> None:
    body = json.loads(json.dumps(exact))
    _too_few(body)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(body))
    result = CliRunner().invoke(app, ["oracle", "verify", str(path), "--committee", str(committee_file)])
    assert result.exit_code == 1
    assert "invalid: certificate has 2 distinct signatures; the committee needs 3" in result.output


def test_verify_command_says_when_a_file_is_not_an_attestation(committee_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"hello": "world"}))
    result = CliRunner().invoke(app, ["oracle", "verify", str(path), "--committee", str(committee_file)])
    assert result.exit_code == 1 and "is not an attestation" in result.output
