"""Ed25519 identities (PyNaCl) and the domain-separated bytes every protocol signature covers.

    key = NodeKey.generate("oracle-0"); key.save(path)        # written 0600, never wider
    key = NodeKey.load(path)                                  # refuses a file readable by group or others
    sig = key.sign(signed_bytes("COMMIT", committee_id, view, seq, job_id, digest, sender))

Every vote names the protocol, its message type, the committee, view, sequence, job and digest, plus the signer
(as CometBFT signs chain id/height/round/type and OCR its config digest/epoch/round): a signature lifted from another
job, view, committee or message type checks against none of them. Ed25519 costs ~41 us to sign and ~157 us to
verify in Python here (reference notes §1.5), noise next to inference.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from qcl.oracle.canonical import canonical_json
from qcl.oracle.errors import KeyFileError

DOMAIN = "qcl-oracle/v1"  # bump when the signed encoding changes: old signatures then verify against nothing


def signed_bytes(
    msg_type: str,
    committee_id: str,
    view: int,
    seq: int,
    job_id: str,
    digest: str,
    sender: int,
    *,
    domain: str = DOMAIN,
) -> bytes:
    """The bytes a protocol signature covers (a canonical JSON array: unambiguous, no field can bleed into another)."""
    return canonical_json([domain, msg_type, committee_id, view, seq, job_id, digest, sender])


def encode_signature(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def verify_signature(public_key_hex: str, message: bytes, signature_b64: str) -> bool:
    """True when `signature_b64` is `public_key_hex`'s Ed25519 signature of `message`; never raises."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        VerifyKey(bytes.fromhex(public_key_hex)).verify(message, raw)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class NodeKey:
    """A node's identity: its id and its Ed25519 signing key."""

    node_id: str
    signing_key: SigningKey

    @classmethod
    def generate(cls, node_id: str) -> NodeKey:
        return cls(node_id, SigningKey.generate())

    @classmethod
    def from_seed(cls, node_id: str, seed: bytes) -> NodeKey:
        """A deterministic key (simulations and tests: the same seed gives the same committee)."""
        return cls(node_id, SigningKey(seed))

    @property
    def public_key(self) -> str:
        return bytes(self.signing_key.verify_key).hex()

    def sign(self, message: bytes) -> str:
        return encode_signature(self.signing_key.sign(message).signature)

    def save(self, path: Path) -> None:
        """Write the key to `path` with mode 0600 (created that way, never world-readable even for an instant)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"node_id": self.node_id, "seed": bytes(self.signing_key).hex()}).encode()
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask; make it exact
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> NodeKey:
        """Read a key file; refuse one that group or others may read or write."""
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise KeyFileError(
                f"key file {path} does not exist (qcl oracle init creates the committee's keys)"
            ) from None
        if mode & 0o077:
            raise KeyFileError(
                f"key file {path} has permissions {mode:04o}; a signing key must be readable by its owner only "
                f"(expected 0600: chmod 600 {path})"
            )
        try:
            body = json.loads(path.read_text())
            seed = bytes.fromhex(body["seed"])
            node_id = body["node_id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(
                f"key file {path} is not a node key (expected JSON with node_id and a 64-hex-digit seed): {exc}"
            ) from None
        if len(seed) != 32 or not isinstance(node_id, str) or not node_id:
            raise KeyFileError(f"key file {path}: seed must be 32 bytes and node_id a non-empty string")
        return cls.from_seed(node_id, seed)
