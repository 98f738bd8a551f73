"""The backup file: a readable manifest, then the state itself, compressed and encrypted (AES-256-GCM).

    data = seal(records, key, source="redis qcl: + .qcl")          # bytes to store anywhere
    manifest = read_manifest(data)                                  # without the key: what, when, from where
    manifest, records = unseal(data, key)                           # verified, or BackupError naming what is wrong

Layout: the line `QCLBACKUP`, the manifest as one JSON line, a 12-byte nonce, then AES-GCM over the gzipped JSON
lines of the records, with the manifest line as associated data: the tag covers the manifest too, so a changed count
or version fails like a changed byte of the payload. `unseal` checks, in order, the magic line, the format version
(a newer one is refused before anything else is read), the length (a truncated file says how much is missing), the
key (by its id in the manifest, so a wrong key is named as such), the tag, the sha256 of the payload and the record
counts; it returns records only when all of them hold, so a restore starts from a whole backup or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import zlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, ValidationError

from qcl import __version__
from qcl.errors import QclError

FORMAT_VERSION = 1  # bump when a reader of this version could not restore the new layout
MAGIC = b"QCLBACKUP\n"
NONCE_BYTES = 12
KEY_BYTES = 32  # AES-256
MANIFEST_MAX_BYTES = 1 << 20  # `list` reads this much of a file at most
_GZIP = 31  # zlib's window bits for the gzip container (gunzip reads a decrypted payload)


class BackupError(QclError):
    """A backup that cannot be made, read or restored; the message says what was expected and what was found."""


class Manifest(BaseModel):
    """What a backup holds, readable without its key; the key's tag still covers every field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int
    qcl_version: str
    created_at: datetime
    source: str  # host, store and state directory it was taken from
    key_id: str  # which key encrypted it (a digest, never the key)
    families: dict[str, int]  # key family pattern -> keys
    files: int
    payload_bytes: int  # the encrypted payload's length, tag included
    payload_sha256: str  # of the compressed plaintext


def key_id(key: bytes) -> str:
    """A name for a key that does not reveal it: tells a wrong key apart from a damaged file."""
    return hashlib.sha256(b"qcl-backup-key-id:" + key).hexdigest()[:16]


def record_counts(records: Iterable[dict[str, Any]]) -> tuple[dict[str, int], int]:
    """(keys per family, files) of a backup's records."""
    counts = _Counts()
    for record in records:
        counts.add(record)
    return counts.result()


class _Counts:
    def __init__(self) -> None:
        self.families: Counter[str] = Counter()
        self.files = 0

    def add(self, record: dict[str, Any]) -> None:
        if "file" in record:
            self.files += 1
        else:
            self.families[record["store"]["family"]] += 1

    def result(self) -> tuple[dict[str, int], int]:
        return dict(sorted(self.families.items())), self.files


def seal(records: Iterable[dict[str, Any]], key: bytes, *, source: str) -> bytes:
    """The backup file for `records` (each {"store": ...} or {"file": ...}), encrypted with `key`. The records are
    compressed as they come, so only the compressed payload is held, never all the records."""
    check_key(key)
    compressor = zlib.compressobj(6, zlib.DEFLATED, _GZIP)
    chunks: list[bytes] = []
    counts = _Counts()
    for record in records:
        counts.add(record)
        chunks.append(
            compressor.compress(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        )
    chunks.append(compressor.flush())
    payload = b"".join(chunks)
    families, files = counts.result()
    manifest = Manifest(
        format=FORMAT_VERSION,
        qcl_version=__version__,
        created_at=datetime.now(UTC),
        source=f"{socket.gethostname()}: {source}",
        key_id=key_id(key),
        families=families,
        files=files,
        payload_bytes=len(payload) + 16,  # AES-GCM appends a 16-byte tag
        payload_sha256=hashlib.sha256(payload).hexdigest(),
    )
    header = manifest.model_dump_json().encode()
    nonce = os.urandom(NONCE_BYTES)
    return MAGIC + header + b"\n" + nonce + AESGCM(key).encrypt(nonce, payload, header)


def read_manifest(data: bytes) -> Manifest:
    """The manifest of a backup file (or of its first MANIFEST_MAX_BYTES), checked for format and version only."""
    return _split(data, whole=False)[0]


def unseal(data: bytes, key: bytes) -> tuple[Manifest, list[dict[str, Any]]]:
    """The manifest and records of a backup file, after every check; BackupError on the first that fails."""
    check_key(key)
    manifest, header, nonce, sealed = _split(data, whole=True)
    if manifest.key_id != key_id(key):
        raise BackupError(
            f"the backup was encrypted with key {manifest.key_id}, the key given is {key_id(key)}: "
            "set QCL_BACKUP_KEY (or QCL_BACKUP_KEY_FILE) to the key it was made with"
        )
    try:
        payload = AESGCM(key).decrypt(nonce, sealed, header)
    except InvalidTag:
        raise BackupError(
            "the backup was changed after it was written: its authentication tag does not match"
        ) from None
    if hashlib.sha256(payload).hexdigest() != manifest.payload_sha256:
        raise BackupError("the backup's payload does not match the sha256 in its manifest")
    try:
        records = _records(payload)
    except (zlib.error, ValueError) as exc:
        raise BackupError(f"the backup's payload does not decode: {exc}") from None
    try:
        counted = record_counts(records)
    except (KeyError, TypeError):
        raise BackupError("the backup holds a record that is neither a store key nor a file") from None
    if counted != (manifest.families, manifest.files):
        raise BackupError(f"the backup holds {counted[1]} files and keys {counted[0]}; its manifest says otherwise")
    return manifest, records


def _records(payload: bytes) -> list[dict[str, Any]]:
    """The JSON lines of the compressed payload, decompressed a megabyte at a time (never the whole text at once)."""
    decompressor = zlib.decompressobj(_GZIP)
    records, pending = [], b""
    for start in range(0, len(payload), 1 << 20):
        pending += decompressor.decompress(payload[start : start + (1 << 20)])
        *lines, pending = pending.split(b"\n")
        records += [json.loads(line) for line in lines]
    if not decompressor.eof or pending + decompressor.flush():
        raise ValueError("the compressed stream ends early or has bytes after its last line")
    return records


def check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise BackupError(f"a backup key is {KEY_BYTES} bytes (base64: 44 characters), got {len(key)} bytes")


def _split(data: bytes, *, whole: bool) -> tuple[Manifest, bytes, bytes, bytes]:
    if not data.startswith(MAGIC):
        raise BackupError(f"not a qcl backup: it does not start with {MAGIC.decode().strip()!r}")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise BackupError("the backup is truncated: its manifest line does not end")
    header = data[len(MAGIC) : end]
    try:
        fields = json.loads(header)
    except ValueError:
        raise BackupError("the backup's manifest is not JSON: the file is damaged") from None
    version = fields.get("format") if isinstance(fields, dict) else None
    if not isinstance(version, int):
        raise BackupError("the backup's manifest has no format version: the file is damaged")
    if version > FORMAT_VERSION:
        raise BackupError(
            f"the backup is format {version} (qcl {fields.get('qcl_version', '?')}); this qcl ({__version__}) reads "
            f"formats up to {FORMAT_VERSION}: restore it with a newer qcl. Nothing was restored."
        )
    try:
        manifest = Manifest.model_validate(fields)
    except ValidationError as exc:
        raise BackupError(f"the backup's manifest is not valid: {exc.errors()[0]['msg']}") from None
    body = data[end + 1 :]
    if whole and len(body) != NONCE_BYTES + manifest.payload_bytes:
        raise BackupError(
            f"the backup is truncated or has bytes appended: its payload is {max(0, len(body) - NONCE_BYTES)} bytes, "
            f"the manifest says {manifest.payload_bytes}"
        )
    return manifest, header, body[:NONCE_BYTES], body[NONCE_BYTES:]
