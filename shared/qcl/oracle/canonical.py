"""Canonical encodings: the bytes that are hashed and signed must be the same on every node.

JSON with sorted keys, no whitespace, UTF-8, strings in Unicode NFC, no NaN or infinity (RFC 8785 in spirit; Python's
float repr is the shortest round-trip form on every platform). BFT-SMaRt's warning applies: hash maps serialise in
arbitrary order unless sorted, and a digest over such bytes would differ between honest nodes.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {unicodedata.normalize("NFC", str(k)): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    return value


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of a JSON value; raises ValueError for NaN/infinity and TypeError for non-JSON types."""
    return json.dumps(
        _normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_of(value: Any) -> str:
    """sha256 of the canonical JSON of `value`: how results, outcomes, bodies and job specs are named."""
    return sha256_hex(canonical_json(value))


def proof_for(result_bytes: bytes, node_id: str) -> str:
    """H(result ‖ node id) over the canonical result bytes (Qubic's knowledge proof, K12 there, SHA-256 here).

    A node that copied H(result) from others' commits cannot compute it: it needs the result itself.
    """
    return sha256_hex(result_bytes + b"\x00" + node_id.encode())
