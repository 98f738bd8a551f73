"""mTLS on the shard pool's gRPC: credentials from a node directory, the caller's pinned identity, who may call what.

    tls = TlsMaterial.load(Path("/etc/qcl/tls"), role="shard")        # cert.pem, key.pem, ca.pem (qcl.pki)
    server.add_secure_port(address, tls.server_credentials())         # a client without a CA certificate: no handshake
    caller = authorize(context, "Session", tls=True)                  # PERMISSION_DENIED unless a coordinator calls
    grpc.secure_channel(address, tls.channel_credentials(), options=pin_options("local-s0-r0"))

Both ends present a certificate of the project CA (the bundle in ca.pem). The server reads the caller's role and
node id from its certificate's URI SAN and lets only coordinators drive sessions or load layers; a client that
dials a node it knows by id expects the DNS SAN `<node-id>.shard.qcl`, so a stage presenting another node's
certificate fails the handshake.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import grpc
from cryptography import x509

from qcl.config import Settings
from qcl.pki import BUNDLE, CERT, KEY, Identity, Pki, PkiError, identity, identity_of

log = logging.getLogger(__name__)

# Roles allowed to call each method of qcl.shard.v1.Shard. Stages never call each other (the coordinator relays
# every frame), so only a coordinator drives sessions or loads layers; Info is a read-only record.
CALLERS: dict[str, frozenset[str]] = {
    "Session": frozenset({"coordinator"}),
    "Close": frozenset({"coordinator"}),
    "Load": frozenset({"coordinator"}),
    "Info": frozenset({"coordinator", "shard"}),
}
# The coordinator certificate `qcl up --shards N` (LocalPool) issues for itself under <state_dir>/pki.
LOCAL_COORDINATOR = Identity("coordinator", "local")


@dataclass(frozen=True)
class TlsMaterial:
    """One process's certificate, key and trust bundle, as PEM bytes, and the identity the certificate pins."""

    ca: bytes
    cert: bytes
    key: bytes
    identity: Identity

    @classmethod
    def load(cls, folder: Path, *, role: str) -> TlsMaterial:
        """Read a node directory; PkiError naming a missing file, or a certificate of another role."""
        try:
            ca, cert, key = ((folder / name).read_bytes() for name in (BUNDLE, CERT, KEY))
        except FileNotFoundError as exc:
            raise PkiError(
                f"TLS directory {folder}: {Path(str(exc.filename)).name} is missing "
                f"(`qcl pki issue --role {role} --node-id ID` writes cert.pem, key.pem and ca.pem)"
            ) from None
        pinned = identity_of(x509.load_pem_x509_certificate(cert))
        if pinned is None or pinned.role != role:
            raise PkiError(
                f"{folder / CERT}: expected a {role} certificate, got {pinned or 'one with no qcl identity'}"
            )
        return cls(ca, cert, key, pinned)

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.key, self.cert)], root_certificates=self.ca, require_client_auth=True)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )


def pin_options(node_id: str) -> list[tuple[str, str]]:
    """Channel options that accept only the certificate of shard `node_id` (whatever address it is dialled at)."""
    return [("grpc.ssl_target_name_override", identity("shard", node_id).dns_name)]


@lru_cache(maxsize=256)
def _identity_of_pem(pem: bytes) -> Identity | None:
    return identity_of(x509.load_pem_x509_certificate(pem))


def peer_identity(context: grpc.ServicerContext) -> Identity | None:
    """The identity pinned in the caller's certificate; None on a plaintext server or without a qcl identity."""
    pems = context.auth_context().get("x509_pem_cert")
    return _identity_of_pem(pems[0]) if pems else None


def authorize(context: grpc.ServicerContext, method: str, *, tls: bool) -> str:
    """The caller's identity ("role/node-id"; "plaintext" without TLS); aborts when its role may not call `method`."""
    if not tls:
        return "plaintext"
    caller = peer_identity(context)
    allowed = CALLERS[method]
    if caller is None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "the client certificate pins no spiffe://qcl/<role>/<id>")
    elif caller.role not in allowed:
        context.abort(
            grpc.StatusCode.PERMISSION_DENIED,
            f"{method}: callers with role {caller.role!r} ({caller}) are refused; "
            f"allowed roles: {', '.join(sorted(allowed))}",
        )
    return str(caller)


def coordinator_tls(settings: Settings) -> TlsMaterial | None:
    """The coordinator's credentials: QCL_TLS_DIR, else the local pool's; None when QCL_SHARD_TLS=false."""
    if not settings.shard_tls:
        return None
    folder = settings.tls_dir or Pki(settings.state_dir / "pki").node_dir(LOCAL_COORDINATOR)
    try:
        return TlsMaterial.load(folder, role="coordinator")
    except PkiError as exc:
        raise PkiError(
            f"the coordinator needs its certificate for mTLS to the shards (QCL_TLS_DIR, or QCL_SHARD_TLS=false on a "
            f"trusted network): {exc}"
        ) from None


def warn_if_plaintext(address: str) -> None:
    """Plaintext is for loopback; on any other address the frames (prompts, activations) cross a network in clear."""
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    log.warning("shard gRPC on %s runs plaintext (QCL_SHARD_TLS=false): any host on the network can call it", address)
