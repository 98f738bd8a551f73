"""Settings an admin changes while the API runs, each change a new version: who, when, what; diff and roll back.

    runtime = RuntimeSettings(open_ledger("settings", settings, store), settings)
    runtime.change({"rate_limit_key_per_s": 5}, by="key:3f9c0a12")     # version 1
    runtime.rollback(0, by="key:3f9c0a12")                              # version 2: version 0's values again
    runtime.current().values.rate_limit_key_per_s                       # what the request gate uses now

The set is small on purpose: values the running services read on every use, so a change applies to the next
request without a restart: the per-key and per-IP rate limits (the request gate reads them per request) and the
log level (set on the root logger of each process when it first sees the new version). Version 0 is what the
process started with (QCL_* variables); every version holds all the values, so a diff or a rollback needs no
replay. Versions outlive restarts (they are the admin's decisions): the newest one wins over the QCL_* variables
until an admin rolls back to version 0, which is always what the running process started with. Versions are
records of a qcl.store.ledger, built on the version before them under the ledger's append, so two admins changing
different settings at once both land, one after the other.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qcl.api.access import RateLimit
from qcl.config import Settings
from qcl.errors import QclError
from qcl.obs.logging import audit
from qcl.store.ledger import Ledger


class RuntimeValues(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The same bounds as their QCL_* twins in qcl.config: any value a process may start with may be set here.
    rate_limit_key_per_s: float = Field(gt=0)  # requests per second per key, refilled
    rate_limit_key_burst: int = Field(ge=1)  # requests a key may make at once
    rate_limit_ip_per_s: float = Field(gt=0)
    rate_limit_ip_burst: int = Field(ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]

    def rate_limit(self, scope: Literal["ip", "key"]) -> RateLimit:
        if scope == "ip":
            return RateLimit(self.rate_limit_ip_per_s, self.rate_limit_ip_burst)
        return RateLimit(self.rate_limit_key_per_s, self.rate_limit_key_burst)


RUNTIME_SETTINGS = tuple(RuntimeValues.model_fields)


class SettingsVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    at: datetime
    by: str
    values: RuntimeValues
    changed: list[str]  # the settings whose value differs from the version before
    rolled_back_to: int | None = None


class SettingError(QclError, ValueError):
    """A change refused: `setting` names the setting (None: the change as a whole)."""

    def __init__(self, setting: str | None, message: str) -> None:
        super().__init__(message)
        self.setting = setting


class UnknownVersionError(QclError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class RuntimeSettings:
    def __init__(self, ledger: Ledger, base: Settings, clock: Callable[[], datetime] | None = None) -> None:
        self.ledger = ledger
        self._clock = clock or (lambda: datetime.now(UTC))
        values = RuntimeValues.model_validate({name: getattr(base, name) for name in RUNTIME_SETTINGS})
        self._initial = SettingsVersion(version=0, at=self._clock(), by="settings at start", values=values, changed=[])
        self._current = self._initial

    def current(self) -> SettingsVersion:
        """The newest version; a new one another process wrote is picked up (and its log level applied) here."""
        head = self.ledger.head()
        if head != self._current.version:
            newest = self.versions()[-1]
            if newest.values.log_level != self._current.values.log_level:
                logging.getLogger().setLevel(newest.values.log_level)
            self._current = newest
        return self._current

    def versions(self) -> list[SettingsVersion]:
        return [self._initial, *(SettingsVersion.model_validate_json(raw) for raw in self.ledger.records())]

    def version(self, number: int) -> SettingsVersion:
        for version in self.versions():
            if version.version == number:
                return version
        raise UnknownVersionError(f"no settings version {number}; versions are 0..{self.ledger.head()}")

    def change(self, updates: dict[str, Any], *, by: str) -> SettingsVersion:
        """A new version with `updates` over the newest one's values; SettingError names a bad setting."""
        if not updates:
            raise SettingError(None, "no settings given; runtime settings: " + ", ".join(RUNTIME_SETTINGS))
        for name in updates:
            if name not in RUNTIME_SETTINGS:
                raise SettingError(
                    name, f"{name}: not a runtime setting; runtime settings: {', '.join(RUNTIME_SETTINGS)}"
                )
        self._check(self.current().values.model_dump() | updates)
        return self._append(lambda values: values.model_dump() | updates, by=by, rolled_back_to=None)

    def rollback(self, number: int, *, by: str) -> SettingsVersion:
        """A new version holding version `number`'s values (history is never rewritten)."""
        target = self.version(number).values
        return self._append(lambda _: target.model_dump(), by=by, rolled_back_to=number)

    def _append(
        self, new_values: Callable[[RuntimeValues], dict[str, Any]], *, by: str, rolled_back_to: int | None
    ) -> SettingsVersion:
        at = self._clock()

        def make(seq: int, previous: str | None) -> str:
            before = self._initial if previous is None else SettingsVersion.model_validate_json(previous)
            values = self._check(new_values(before.values))
            changed = [name for name in RUNTIME_SETTINGS if getattr(values, name) != getattr(before.values, name)]
            version = SettingsVersion(
                version=seq, at=at, by=by, values=values, changed=changed, rolled_back_to=rolled_back_to
            )
            return version.model_dump_json()

        created = SettingsVersion.model_validate_json(self.ledger.append(make))
        audit(
            "settings.rolled_back" if rolled_back_to is not None else "settings.changed",
            actor=by,
            target=f"v{created.version}",
            changed={name: getattr(created.values, name) for name in created.changed},
            to_version=rolled_back_to,
        )
        self.current()
        return created

    @staticmethod
    def _check(values: dict[str, Any]) -> RuntimeValues:
        try:
            return RuntimeValues.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else None
            got = json.dumps(first.get("input"), default=str)
            raise SettingError(name, f"{name}: {first['msg']} (got {got})") from None


def diff(before: SettingsVersion, after: SettingsVersion) -> list[dict[str, Any]]:
    """The settings whose values differ, each {setting, before, after}."""
    return [
        {"setting": name, "before": getattr(before.values, name), "after": getattr(after.values, name)}
        for name in RUNTIME_SETTINGS
        if getattr(before.values, name) != getattr(after.values, name)
    ]
