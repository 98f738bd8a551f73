"""The project's PKI: a CA, node certificates with the node's identity pinned in them, and rotation.

    qcl pki init                                                   # <state_dir>/pki/ca/: ca.pem, ca.key, bundle.pem
    qcl pki issue --role shard --node-id s0 --host 10.0.0.5        # <state_dir>/pki/nodes/shard-s0/
    qcl pki rotate --role shard --node-id s0                       # a new key and certificate, same identity
    qcl pki rotate --ca                                            # a new CA; the bundle trusts old + new
    qcl pki rotate --retire                                        # the bundle trusts the current CA only

A node directory holds what one process needs (QCL_TLS_DIR points at it): `cert.pem` (its certificate), `key.pem`
(its private key, mode 0600) and `ca.pem` (the trust bundle). A certificate pins one identity, (role, node id), in
two forms: the URI SAN `spiffe://qcl/<role>/<node-id>`, which servers read to authorise the caller, and the DNS SAN
`<node-id>.<role>.qcl`, the name a client expects when it dials a node it knows by id (gRPC's target name
override), so a node presenting another node's certificate fails the handshake. DNS and IP SANs for the node's
addresses come on top. Keys are EC P-256: BoringSSL (gRPC) and every TLS stack accept it.

Revocation is by short validity (node certificates: 7 days by default) and by CA rotation: `rotate --ca` starts a
new CA while the bundle still trusts the old one; once every node holds a certificate of the new CA, `--retire`
drops the old CA and with it every certificate it signed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qcl.errors import QclError

# Who may hold a certificate: the coordinator calls stages; a shard serves layers; an oracle member's certificate
# is for a future gRPC transport (today members authenticate by ed25519 signatures, qcl.oracle.crypto).
ROLES = ("coordinator", "shard", "oracle")
TRUST_DOMAIN = "qcl"
NODE_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")  # one DNS label: it becomes <node-id>.<role>.qcl
CA_DAYS = 365
NODE_DAYS = 7
CERT, KEY, BUNDLE = "cert.pem", "key.pem", "ca.pem"


class PkiError(QclError):
    """A PKI operation that cannot be done: no CA yet, a bad role or node id, a certificate that does not parse."""


@dataclass(frozen=True)
class Identity:
    role: str
    node_id: str

    @property
    def uri(self) -> str:
        return f"spiffe://{TRUST_DOMAIN}/{self.role}/{self.node_id}"

    @property
    def dns_name(self) -> str:
        """The name a client pins when it dials this node (`grpc.ssl_target_name_override`)."""
        return f"{self.node_id}.{self.role}.{TRUST_DOMAIN}"

    @property
    def directory(self) -> str:
        return f"{self.role}-{self.node_id}"

    def __str__(self) -> str:
        return f"{self.role}/{self.node_id}"


def identity(role: str, node_id: str) -> Identity:
    """A checked identity: PkiError naming the allowed roles or the node id's form."""
    if role not in ROLES:
        raise PkiError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    if not NODE_ID.match(node_id):
        raise PkiError(f"node id: expected a DNS label (a-z, 0-9, '-', at most 63 characters), got {node_id!r}")
    return Identity(role, node_id)


def identity_of(certificate: x509.Certificate) -> Identity | None:
    """The identity a certificate pins (its spiffe://qcl/ URI SAN), or None when it pins none."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in names.get_values_for_type(x509.UniformResourceIdentifier):
        prefix = f"spiffe://{TRUST_DOMAIN}/"
        if uri.startswith(prefix):
            role, _, node_id = uri.removeprefix(prefix).partition("/")
            if role in ROLES and NODE_ID.match(node_id):
                return Identity(role, node_id)
    return None


def write_secret(path: Path, data: bytes) -> None:
    """Write `path` with mode 0600 from its creation (never readable by others for an instant), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask; make it exact
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Pki:
    """A PKI directory: `ca/` (the CA's key and certificate, the trust bundle) and `nodes/<role>-<node-id>/`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca_dir = root / "ca"
        self.nodes_dir = root / "nodes"

    @property
    def exists(self) -> bool:
        return (self.ca_dir / "ca.key").exists()

    def init(self, *, days: int = CA_DAYS) -> x509.Certificate:
        """Create the CA (PkiError if there is one: `rotate --ca` replaces it without breaking the nodes)."""
        if self.exists:
            raise PkiError(f"a CA already exists in {self.ca_dir}; `qcl pki rotate --ca` starts a new one")
        certificate = self._new_ca(days)
        _write_public(self.ca_dir / "bundle.pem", _pem(certificate))
        return certificate

    def ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if not self.exists:
            raise PkiError(f"no CA in {self.ca_dir}: run `qcl pki init` first")
        certificate = x509.load_pem_x509_certificate((self.ca_dir / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((self.ca_dir / "ca.key").read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{self.ca_dir / 'ca.key'}: expected an EC private key")
        return certificate, key

    def bundle(self) -> bytes:
        """The trust bundle: the current CA and any older one still trusted during a rotation."""
        return (self.ca_dir / "bundle.pem").read_bytes()

    def node_dir(self, who: Identity) -> Path:
        return self.nodes_dir / who.directory

    def issue(
        self,
        who: Identity,
        hosts: tuple[str, ...] = (),
        *,
        days: float = NODE_DAYS,
        not_before: datetime.datetime | None = None,
    ) -> Path:
        """A new key and certificate for `who` (valid `days` from `not_before`, default now); its directory."""
        ca_certificate, ca_key = self.ca()
        key = ec.generate_private_key(ec.SECP256R1())
        start = not_before or _now() - datetime.timedelta(minutes=5)  # tolerate clocks a little behind
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(who.uri), x509.DNSName(who.dns_name)]
        for host in dict.fromkeys(hosts):
            names.append(_host_name(host))
        usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(who))]))
            .issuer_name(ca_certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            .add_extension(
                x509.KeyUsage(True, False, False, False, True, False, False, False, False), critical=True
            )  # digital signature + key agreement (ECDHE-ECDSA)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        folder = self.node_dir(who)
        write_secret(folder / KEY, _key_pem(key))
        _write_public(folder / CERT, _pem(certificate))
        _write_public(folder / BUNDLE, self.bundle())
        return folder

    def rotate_node(self, who: Identity, *, days: float = NODE_DAYS) -> Path:
        """A new key and certificate for a node that has one, for the same identity and hosts."""
        folder = self.node_dir(who)
        if not (folder / CERT).exists():
            raise PkiError(f"no certificate for {who} in {folder}: `qcl pki issue` it first")
        old = x509.load_pem_x509_certificate((folder / CERT).read_bytes())
        return self.issue(who, _hosts_of(old), days=days)

    def rotate_ca(self, *, days: int = CA_DAYS) -> x509.Certificate:
        """A new CA; the bundle (here and in every node directory) trusts the new CA and the old ones."""
        old_bundle = self.bundle()
        self.ca()  # PkiError when there is no CA to rotate
        # The old CA's certificate is kept for the record; its key is replaced (atomically) and so can sign no more.
        shutil.copy2(self.ca_dir / "ca.pem", self.ca_dir / f"ca-retired-{_now():%Y%m%dT%H%M%S}.pem")
        certificate = self._new_ca(days)
        self._set_bundle(_pem(certificate) + old_bundle)
        return certificate

    def retire(self) -> None:
        """Trust the current CA only: certificates signed by a rotated-out CA stop working."""
        certificate, _ = self.ca()
        self._set_bundle(_pem(certificate))

    def _set_bundle(self, bundle: bytes) -> None:
        _write_public(self.ca_dir / "bundle.pem", bundle)
        for folder in self.nodes_dir.glob("*") if self.nodes_dir.exists() else []:
            if (folder / BUNDLE).exists():
                _write_public(folder / BUNDLE, bundle)

    def _new_ca(self, days: int) -> x509.Certificate:
        key = ec.generate_private_key(ec.SECP256R1())
        start = _now() - datetime.timedelta(minutes=5)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Qubic AI Compute Layer"),
                # Unique per CA: during a rotation two CAs are trusted at once and chains are built by name.
                x509.NameAttribute(NameOID.COMMON_NAME, f"qcl project CA {start:%Y-%m-%d} {secrets.token_hex(4)}"),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_secret(self.ca_dir / "ca.key", _key_pem(key))
        _write_public(self.ca_dir / "ca.pem", _pem(certificate))
        return certificate


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?", host):
            raise PkiError(f"host: expected an IP address or a DNS name, got {host!r}") from None
        return x509.DNSName(host)


def _hosts_of(certificate: x509.Certificate) -> tuple[str, ...]:
    """The address SANs of a certificate (its identity's own DNS name left out)."""
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    pinned = identity_of(certificate)
    dns = [n for n in names.get_values_for_type(x509.DNSName) if pinned is None or n != pinned.dns_name]
    return (*dns, *(str(ip) for ip in names.get_values_for_type(x509.IPAddress)))


def describe(path: Path) -> dict[str, object]:
    """What a certificate file says: identity, SANs, issuer, validity (for `qcl pki show`)."""
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"{path}: not a readable PEM certificate ({exc})") from None
    who = identity_of(certificate)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(n.value) for n in names]
    except x509.ExtensionNotFound:
        sans = []
    expires = certificate.not_valid_after_utc
    return {
        "path": str(path),
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "role": who.role if who else None,
        "node_id": who.node_id if who else None,
        "sans": sans,
        "serial": format(certificate.serial_number, "x"),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": expires.isoformat(),
        "expires_in_s": round((expires - _now()).total_seconds()),
        "sha256": certificate.fingerprint(hashes.SHA256()).hex(),
    }
