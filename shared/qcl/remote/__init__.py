"""Which deployment a `qcl` command talks to, and the HTTP client it talks through (one place for every command
group that goes through the API: keys, jobs, ops, logs, nodes).

    qcl --api https://qcl.example.com --key-file ~/.qcl/prod.key jobs list
    QCL_API=https://qcl.example.com QCL_API_KEY=qcl_... qcl keys list --json
    qcl profile add prod --api https://qcl.example.com --key-file ~/.qcl/prod.key --use
    qcl --profile staging whoami

Precedence, separately for the URL and the key (first found wins):
  1. the root command's --api, --key / --key-file (a command's own --api/--key-file, as `qcl ops` has, over those)
  2. QCL_API, QCL_API_KEY
  3. a profile: --profile NAME, else QCL_PROFILE, else the one `qcl profile use` chose
  4. the local stack: http://QCL_HOST:QCL_PORT, with <state_dir>/admin.key, which is only ever sent to a loopback
     address (a key for a remote URL must come from 1-3, so this machine's admin key never leaves it).
A profile's key is only sent to its own URL. Profiles live in $XDG_CONFIG_HOME/qcl/profiles.toml (default
~/.config/qcl), mode 0600; a profile holds the key itself or, better, the path of a file holding it.
Keys are never printed: a target shows its URL and where the key came from.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from qcl.clitools import Refused, fail, settings_or_exit

PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Connecting fails fast (a wrong URL is named within seconds); an answer may take longer (a batch of 1000 prompts).
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# A 429 means the API did nothing (the rate limit answers before the route; a job quota refuses a submission whole),
# so it is safe to send again after Retry-After: a batch of hundreds of lines paces itself to the key's rate limit
# (20 requests/s by default) instead of failing every line past the burst. A longer wait is reported instead.
RETRY_AFTER_MAX_S = 30.0
RETRIES_429 = 5


@dataclass(frozen=True)
class Flags:
    """What the root command was given (None = not given)."""

    api: str | None = None
    key: str | None = None
    key_file: Path | None = None
    profile: str | None = None


_flags: ContextVar[Flags | None] = ContextVar("qcl_remote_flags", default=None)


def _given() -> Flags:
    return _flags.get() or Flags()


def use_flags(flags: Flags) -> None:
    """Called by the root command's callback before any subcommand runs."""
    if flags.key is not None and flags.key_file is not None:
        raise fail("give --key or --key-file, not both", 2)
    _flags.set(flags)


@dataclass(frozen=True)
class Target:
    url: str
    key: str = field(repr=False)
    url_from: str  # "--api", "QCL_API", "profile prod", "local stack"
    key_from: str

    def describe(self) -> dict[str, str]:
        return {"api": self.url, "api_from": self.url_from, "key_from": self.key_from}


# --- profiles ---


def profiles_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "qcl" / "profiles.toml"


def load_profiles() -> dict[str, Any]:
    """{"current": name | None, "profiles": {name: {"api": url, "key" | "key_file": str}}}."""
    path = profiles_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"current": None, "profiles": {}}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise fail(f"{path}: {exc}") from None
    return {"current": data.get("current"), "profiles": dict(data.get("profiles", {}))}


def save_profiles(data: dict[str, Any]) -> Path:
    """Write the file whole (a temporary file renamed over it), created 0600: it may hold keys."""
    path = profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# qcl profiles (qcl profile add|list|use|remove); keep this file private.\n"]
    if data.get("current"):
        lines.append(f"current = {json.dumps(data['current'])}\n")
    for name, profile in sorted(data["profiles"].items()):
        # A JSON string with ASCII escapes is a valid TOML basic string (and quoted key).
        lines.append(f"\n[profiles.{json.dumps(name)}]\n")
        lines.extend(f"{k} = {json.dumps(str(v))}\n" for k, v in profile.items())
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as sink:
        sink.write("".join(lines))
    os.chmod(temporary, 0o600)  # O_CREAT's mode does not apply to a leftover temporary file
    os.replace(temporary, path)
    return path


def _profile(name: str | None) -> tuple[str, dict[str, Any]] | None:
    data = load_profiles()
    chosen = name or os.environ.get("QCL_PROFILE") or data["current"]
    if not chosen:
        return None
    if chosen not in data["profiles"]:
        known = ", ".join(sorted(data["profiles"])) or "none"
        raise fail(f"no profile {chosen!r} in {profiles_path()} (profiles: {known}); see qcl profile list", 2)
    return chosen, data["profiles"][chosen]


# --- the target ---


def targeted() -> bool:
    """Whether this invocation names a deployment (a flag, QCL_API/QCL_API_KEY or a profile) rather than leaving
    the local stack implied; `qcl keys` goes to this machine's key store when it does not."""
    flags = _given()
    given = (flags.api, flags.key, flags.key_file, flags.profile, os.environ.get("QCL_API"))
    return any(given) or bool(os.environ.get("QCL_API_KEY")) or _profile(None) is not None


def _reachable(host: str) -> str:
    """The address a client uses for a server bound to `host`: one bound to every interface answers on loopback."""
    try:
        return "127.0.0.1" if ipaddress.ip_address(host).is_unspecified else host
    except ValueError:  # a name
        return host


def _read_key(path: Path, hint: str) -> str:
    try:
        key = path.expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise fail(f"cannot read the API key from {path}: {exc.strerror}; {hint}") from None
    if not key:
        raise fail(f"the API key file {path} is empty; {hint}")
    return key


def resolve(api: str | None = None, key_file: Path | None = None) -> Target:
    """The target by the precedence above; `api`/`key_file` are a command's own options, over the root's."""
    flags = _given()
    hint = "pass --key-file, --key or QCL_API_KEY, or choose a profile (qcl profile add)"
    named = _profile(flags.profile)
    profile_name, profile = named if named else ("", {})

    candidates = [
        (api, "--api"),
        (flags.api, "--api"),
        (os.environ.get("QCL_API"), "QCL_API"),
        (profile.get("api"), f"profile {profile_name}"),
    ]
    url, url_from = next(((u, source) for u, source in candidates if u), (None, "local stack"))
    if url is None:
        settings = settings_or_exit()
        url = f"http://{_reachable(settings.host)}:{settings.port}"
    if not re.match(r"^https?://[^/\s]+", url):
        raise fail(f"{url_from}: {url!r} is not an http(s) URL", 2)
    url = url.rstrip("/")

    if key_file is not None or flags.key_file is not None:
        path = key_file or flags.key_file
        assert path is not None
        return Target(url, _read_key(path, hint), url_from, f"--key-file {path}")
    if flags.key:
        return Target(url, flags.key, url_from, "--key")
    if os.environ.get("QCL_API_KEY"):
        return Target(url, os.environ["QCL_API_KEY"], url_from, "QCL_API_KEY")
    if url_from.startswith("profile "):
        if profile.get("key_file"):
            return Target(url, _read_key(Path(profile["key_file"]), hint), url_from, url_from)
        if profile.get("key"):
            return Target(url, str(profile["key"]), url_from, url_from)
    if urlsplit(url).hostname in _LOOPBACK:
        path = settings_or_exit().state_dir / "admin.key"
        return Target(url, _read_key(path, hint), url_from, f"local admin key {path}")
    raise fail(f"no API key for {url} (from {url_from}): {hint}", 2)


def profile_target(name: str) -> Target:
    """A named profile's deployment, URL and key, and nothing else (a federation's clusters are named so)."""
    named = _profile(name)
    assert named is not None  # _profile fails naming the known profiles when there is none of that name
    profile = named[1]
    hint = f"give profile {name} a key (qcl profile add {name} --api URL --key-file F)"
    if profile.get("key_file"):
        key = _read_key(Path(profile["key_file"]), hint)
    elif profile.get("key"):
        key = str(profile["key"])
    else:
        raise fail(f"profile {name} has no key; {hint}", 2)
    return Target(str(profile["api"]).rstrip("/"), key, f"profile {name}", f"profile {name}")


@contextmanager
def client(api: str | None = None, key_file: Path | None = None) -> Iterator[Remote]:
    """The one way a command gets at the API: `with remote.client() as api: api.call("GET", "/api/jobs")`."""
    target = resolve(api, key_file)
    with httpx.Client(base_url=target.url, headers={"Authorization": f"Bearer {target.key}"}, timeout=TIMEOUT) as http:
        yield Remote(target, http)


def _retry_after(answer: httpx.Response) -> float | None:
    """Seconds to wait before sending a 429'd request again; None to take the answer as it is."""
    if answer.status_code != 429:
        return None
    try:
        wait_s = float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return wait_s if 0 <= wait_s <= RETRY_AFTER_MAX_S else None


class RemoteError(Exception):
    """The API refused (status >= 400) or could not be reached (status None); the message says which and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Remote:
    target: Target
    http: httpx.Client

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON; RemoteError with the API's own code and message on a refusal."""
        for _ in range(RETRIES_429):
            try:
                answer = self.http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise RemoteError(f"cannot reach {self.target.url} (from {self.target.url_from}): {exc}") from None
            wait_s = _retry_after(answer)
            if wait_s is None:
                break
            time.sleep(wait_s)
        if answer.status_code >= 400:
            try:
                error = answer.json()["error"]
                message = f"{error['code']}: {error['message']}"
                if error.get("field"):
                    message += f" (field {error['field']})"
            except (ValueError, KeyError, TypeError):
                message = answer.text[:300] or answer.reason_phrase
            if answer.headers.get("Retry-After"):
                message += f"; retry after {answer.headers['Retry-After']} s"
            raise RemoteError(f"{method} {path} answered {answer.status_code}: {message}", answer.status_code)
        return answer.json() if answer.content else None

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request`, printing the refusal and exiting 1 instead of raising."""
        try:
            return self.request(method, path, **kwargs)
        except RemoteError as exc:
            raise fail(str(exc)) from None

    def item(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request` for one item of a batch: Refused when the API refuses this item, exit 1 when every item would
        meet the same answer (the API unreachable, the key unknown or not allowed)."""
        try:
            return self.request(method, path, **kwargs)
        except RemoteError as exc:
            if exc.status is None or exc.status in (401, 403):
                raise fail(str(exc)) from None
            raise Refused(str(exc)) from None
