"""The library's exception hierarchy.

Every message says what was expected and what was found, so that an operator can act on it without reading code.
"""

from __future__ import annotations


class QclError(Exception):
    """Base class of every error the library raises on purpose."""


class ConfigError(QclError):
    """A setting is missing or invalid; raised once, at start-up."""


class UnknownTopicError(QclError, KeyError):
    """A topic name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class EventDecodeError(QclError):
    """Bytes on the bus that are not a valid event for their topic (a poison message)."""


class SourceError(QclError):
    """The Qubic data source failed: unreachable, timed out, an HTTP error, or a body that does not parse."""


class SourceExhaustedError(SourceError):
    """A replay source has no more observations."""


class InvalidObservationError(QclError):
    """An observation that parses but cannot be true (for example quality above 100 %)."""
