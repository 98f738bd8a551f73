"""The oracle's errors; each message says what was expected and what was found."""

from __future__ import annotations

from qcl.errors import QclError


class OracleError(QclError):
    """Base class of the oracle package's errors."""


class KeyFileError(OracleError):
    """A node key file that is missing, malformed or readable by others."""


class CommitteeError(OracleError):
    """A committee file that does not parse, is not n = 3f+1, or whose signatures do not check."""


class CertificateError(OracleError):
    """An attestation that does not verify against the committee (the message says which check failed)."""


class EvidenceError(OracleError):
    """A piece of accountability evidence that does not prove what it claims."""


class JobError(OracleError):
    """A job that cannot be run: unknown task, missing or corrupt input, a spec that does not match its id."""


class FaultSpecError(OracleError):
    """A `--faults` SPEC item that does not parse; the message names the item."""
