"""The project CA (qcl.pki): what a node certificate pins, how long it lasts, who may read its key, rotation."""

from __future__ import annotations

import datetime
import ipaddress
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from qcl.cli import app
from qcl.pki import CERT, KEY, Identity, Pki, PkiError, identity, identity_of
from qcl.shard.tls import TlsMaterial

SHARD = Identity("shard", "s0")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    pki = Pki(tmp_path / "pki")
    pki.init()
    return pki


def _certificate(folder: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((folder / CERT).read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_node_certificate_pins_its_identity_and_names_its_addresses(pki: Pki) -> None:
    certificate = _certificate(pki.issue(SHARD, ("10.0.0.5", "shard-0.internal")))
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://qcl/shard/s0"]
    assert names.get_values_for_type(x509.DNSName) == ["s0.shard.qcl", "shard-0.internal"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.5")]
    assert identity_of(certificate) == SHARD


def test_a_node_certificate_is_signed_by_the_ca_and_is_no_ca_itself(pki: Pki) -> None:
    certificate = _certificate(pki.issue(SHARD))
    ca, _ = pki.ca()
    certificate.verify_directly_issued_by(ca)
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_a_node_certificate_is_short_lived(pki: Pki) -> None:
    certificate = _certificate(pki.issue(SHARD, days=2))
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=2)
    assert certificate.not_valid_before_utc <= datetime.datetime.now(datetime.UTC)


def test_private_keys_are_written_0600_and_are_p256(pki: Pki) -> None:
    folder = pki.issue(SHARD)
    assert _mode(folder / KEY) == 0o600 and _mode(pki.ca_dir / "ca.key") == 0o600
    material = TlsMaterial.load(folder, role="shard")
    key = _certificate(folder).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert material.identity == SHARD and material.ca == pki.bundle()


@pytest.mark.parametrize(
    ("role", "node_id", "message"),
    [
        ("admin", "s0", "role: expected one of coordinator, shard, oracle, got 'admin'"),
        ("shard", "S_0", "node id: expected a DNS label"),
        ("shard", "", "node id: expected a DNS label"),
        ("shard", "a" * 64, "node id: expected a DNS label"),
    ],
)
def test_a_bad_identity_is_refused_naming_the_problem(role: str, node_id: str, message: str) -> None:
    with pytest.raises(PkiError, match=message):
        identity(role, node_id)


def test_a_bad_host_is_refused(pki: Pki) -> None:
    with pytest.raises(PkiError, match="host: expected an IP address or a DNS name, got 'a b'"):
        pki.issue(SHARD, ("a b",))


def test_issuing_needs_a_ca_and_a_second_init_is_refused(tmp_path: Path, pki: Pki) -> None:
    with pytest.raises(PkiError, match=r"no CA in .*: run `qcl pki init` first"):
        Pki(tmp_path / "empty").issue(SHARD)
    with pytest.raises(PkiError, match=r"a CA already exists in .*; `qcl pki rotate --ca` starts a new one"):
        pki.init()


def test_rotating_a_node_gives_a_new_key_for_the_same_identity_and_hosts(pki: Pki) -> None:
    folder = pki.issue(SHARD, ("10.0.0.5",))
    old_key, old = (folder / KEY).read_bytes(), _certificate(folder)
    new = _certificate(pki.rotate_node(SHARD))
    assert (folder / KEY).read_bytes() != old_key and new.serial_number != old.serial_number
    assert new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value == (
        old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )


def test_rotating_a_node_without_a_certificate_says_to_issue_one(pki: Pki) -> None:
    with pytest.raises(PkiError, match=r"no certificate for shard/s0 in .*: `qcl pki issue` it first"):
        pki.rotate_node(SHARD)


def test_a_ca_rotation_trusts_old_and_new_until_retired_in_every_node_directory(pki: Pki) -> None:
    folder = pki.issue(SHARD)
    old_ca, _ = pki.ca()
    pki.rotate_ca()
    new_ca, _ = pki.ca()
    bundle = x509.load_pem_x509_certificates((folder / "ca.pem").read_bytes())
    assert [c.subject for c in bundle] == [new_ca.subject, old_ca.subject] and new_ca.subject != old_ca.subject
    assert _certificate(pki.issue(Identity("shard", "s1"))).issuer == new_ca.subject
    pki.retire()
    assert [c.subject for c in x509.load_pem_x509_certificates((folder / "ca.pem").read_bytes())] == [new_ca.subject]


def test_tls_material_names_a_missing_file_and_a_certificate_of_another_role(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(PkiError, match=r"ca\.pem is missing \(`qcl pki issue --role shard --node-id ID`"):
        TlsMaterial.load(tmp_path, role="shard")
    with pytest.raises(PkiError, match="expected a coordinator certificate, got shard/s0"):
        TlsMaterial.load(pki.issue(SHARD), role="coordinator")


# --- the CLI ---------------------------------------------------------------------------------------------------------


def _qcl(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["pki", *args])
    return result.exit_code, result.output


def test_the_cli_inits_issues_rotates_and_shows_as_json(tmp_path: Path) -> None:
    root = str(tmp_path / "pki")
    assert _qcl("init", "--dir", root, "--json")[0] == 0
    code, out = _qcl("issue", "--dir", root, "--role", "coordinator", "--node-id", "c1", "--host", "::1", "--json")
    issued = json.loads(out)
    assert code == 0 and (issued["role"], issued["node_id"]) == ("coordinator", "c1")
    assert issued["sans"] == ["spiffe://qcl/coordinator/c1", "c1.coordinator.qcl", "::1"]
    code, out = _qcl("rotate", "--dir", root, "--ca", "--json")
    assert code == 0 and json.loads(out)["bundle_cas"] == 2
    code, out = _qcl("show", "--dir", root, "--role", "coordinator", "--node-id", "c1", "--json")
    assert code == 0 and json.loads(out)["sha256"] == issued["sha256"]


def test_the_cli_refuses_a_rotation_that_names_nothing_or_two_things(tmp_path: Path) -> None:
    root = str(tmp_path / "pki")
    _qcl("init", "--dir", root)
    for args in ((), ("--ca", "--retire")):
        code, out = _qcl("rotate", "--dir", root, *args)
        assert code == 2 and "rotate: expected exactly one of --role/--node-id, --ca or --retire" in out


def test_the_cli_names_a_bad_role(tmp_path: Path) -> None:
    root = str(tmp_path / "pki")
    _qcl("init", "--dir", root)
    code, out = _qcl("issue", "--dir", root, "--role", "root", "--node-id", "x")
    assert code == 2 and "role: expected one of coordinator, shard, oracle, got 'root'" in out
