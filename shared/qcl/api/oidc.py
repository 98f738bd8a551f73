"""Google ID tokens as the API's second credential: how deployed Cloud Workflows (and other Google-run callers) call.

    QCL_OIDC_AUDIENCE=https://europe-west1-my-project.cloudfunctions.net/qcl-api \
    QCL_OIDC_PRINCIPALS="qcl-workflows@my-project.iam.gserviceaccount.com=operator" qcl up

    tokens = IdTokens.from_settings(settings)        # None when QCL_OIDC_AUDIENCE is unset
    principal = tokens.verify(bearer)               # Principal(id="oidc:<email>", role=...) or ApiError 401/503

A bearer that is a JWT (three base64url parts; our API keys have none of its dots) is verified here instead of
against the key store: its signature with Google's certificates (google-auth does the cryptography; the
certificates are fetched from QCL_OIDC_CERTS_URL and cached for the max-age Google sends), then `aud` equal to
QCL_OIDC_AUDIENCE, `iss` Google's, `exp`/`iat` current, and `email` verified and listed in QCL_OIDC_PRINCIPALS,
which maps each allowed service account to a role. Every refusal is a 401 whose message names what was wrong;
the certificates being unreachable is a 503 (the caller may retry, its token was not judged). The principal then
stands where an API key's record stands (`flask.g.key`): its `id` is the actor in audit lines and its rate-limit
bucket, its `role` is checked against the route's.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import google.auth.transport.requests
from google.auth import exceptions as google_exceptions
from google.auth import transport
from google.oauth2 import id_token

from qcl.api.errors import ApiError
from qcl.api.schemas import Role
from qcl.config import Settings
from qcl.obs import metrics

log = logging.getLogger(__name__)
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
_JWT = re.compile(r"^[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]*={0,2}$")
MAX_TOKEN_CHARS = 8192  # Google's ID tokens are about 1 KiB
CLOCK_SKEW_S = 10  # between Google's clock and ours
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="qcl", error="invalid_token"'}


def looks_like_jwt(presented: str) -> bool:
    return "." in presented and bool(_JWT.match(presented))


@dataclass(frozen=True)
class Principal:
    """A caller authenticated by a Google ID token; stands where a KeyRecord stands (`id`, `role`, `name`)."""

    id: str  # "oidc:<service account email>"
    role: Role
    name: str  # the email

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role.value}


class CachedCerts(transport.Request):
    """A transport that answers repeated GETs of a certificates URL from memory for the max-age Google sends."""

    def __init__(self, inner: transport.Request | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner or google.auth.transport.requests.Request()
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, float, transport.Response]] = {}  # url -> (fetched, expires, response)
        self.fetches = 0

    def __call__(
        self, url: str, method: str = "GET", body: Any = None, headers: Any = None, timeout: Any = None, **kw: Any
    ) -> transport.Response:
        if method != "GET":
            return self._inner(url, method=method, body=body, headers=headers, timeout=timeout, **kw)
        now = self._clock()
        with self._lock:
            hit = self._cached.get(url)
        if hit is not None and now < hit[1]:
            return hit[2]
        response = self._inner(url, method="GET", headers=headers, timeout=timeout or 10, **kw)
        self.fetches += 1
        if response.status == 200:
            with self._lock:
                self._cached[url] = (now, now + _max_age_s(response.headers), response)
        return response

    def age_s(self, url: str) -> float | None:
        with self._lock:
            hit = self._cached.get(url)
        return None if hit is None else self._clock() - hit[0]

    def forget(self, url: str) -> None:
        with self._lock:
            self._cached.pop(url, None)


def _max_age_s(headers: Mapping[str, str]) -> float:
    """Seconds from Cache-Control max-age (Google sends about 6 hours), within 1 minute .. 1 day; else 5 minutes."""
    control = {k.lower(): v for k, v in headers.items()}.get("cache-control", "")
    match = re.search(r"max-age=(\d+)", control)
    return min(max(float(match.group(1)), 60.0), 86400.0) if match else 300.0


class IdTokens:
    """Verifies Google-signed ID tokens for one audience against an allow-list of principals."""

    def __init__(
        self,
        audience: str,
        principals: Mapping[str, Role],
        certs_url: str,
        request: CachedCerts | None = None,
    ) -> None:
        self.audience = audience
        self.principals = {email.lower(): role for email, role in principals.items()}
        self.certs_url = certs_url
        self.request = request or CachedCerts()

    @classmethod
    def from_settings(cls, settings: Settings) -> IdTokens | None:
        if settings.oidc_audience is None:
            return None
        principals = {email: Role(role) for email, role in settings.oidc_principals.items()}
        return cls(settings.oidc_audience, principals, settings.oidc_certs_url)

    def verify(self, presented: str) -> Principal:
        claims = self._claims(presented)
        issuer = claims.get("iss")
        if issuer not in GOOGLE_ISSUERS:
            raise _refused("wrong_issuer", f"the ID token's issuer is {issuer!r}, not Google's (accounts.google.com)")
        address = claims.get("email")
        if not isinstance(address, str) or not address:
            raise _refused("no_email", "the ID token has no email claim (mint it with the service account's email)")
        if claims.get("email_verified") is not True:
            raise _refused("email_unverified", f"the ID token's email {address} is not verified")
        role = self.principals.get(address.lower())
        if role is None:
            raise _refused(
                "unknown_principal", f"{address} is not an allowed principal (QCL_OIDC_PRINCIPALS lists who may call)"
            )
        return Principal(id=f"oidc:{address.lower()}", role=role, name=address.lower())

    def _claims(self, presented: str) -> Mapping[str, Any]:
        if len(presented) > MAX_TOKEN_CHARS:
            raise _refused("malformed", f"the ID token is longer than {MAX_TOKEN_CHARS} characters")
        try:
            return self._decode(presented)
        except google_exceptions.MalformedError as exc:
            if "Certificate for key id" in str(exc) and (self.request.age_s(self.certs_url) or 0) > 60:
                self.request.forget(self.certs_url)  # Google rotated its keys since we fetched them
                try:
                    return self._decode(presented)
                except (google_exceptions.GoogleAuthError, ValueError) as again:
                    raise _judged(again) from None
            raise _judged(exc) from None
        except google_exceptions.TransportError as exc:
            metrics.AUTH_FAILURES.labels(reason="oidc_certs_unavailable").inc()
            log.warning("cannot fetch ID token certificates from %s: %s", self.certs_url, exc)
            raise ApiError(
                503, "unavailable", "the ID token cannot be checked now: Google's certificates are unreachable",
                retry_after_s=5,
            ) from None  # fmt: skip
        except (google_exceptions.GoogleAuthError, ValueError) as exc:
            raise _judged(exc) from None

    def _decode(self, presented: str) -> Mapping[str, Any]:
        try:
            return id_token.verify_token(
                presented, self.request, audience=self.audience, certs_url=self.certs_url,
                clock_skew_in_seconds=CLOCK_SKEW_S,
            )  # fmt: skip
        except (google_exceptions.TransportError, google_exceptions.GoogleAuthError, ValueError):
            raise
        except (
            Exception
        ) as exc:  # a certificates endpoint answering junk (not JSON, not PEM) is theirs, not the caller's
            raise google_exceptions.TransportError(f"unusable certificates: {exc}") from exc


# google-auth's messages, by what they mean for the caller.
_REASONS = (
    ("Token expired", "expired", "the ID token has expired"),
    ("Token used too early", "not_yet_valid", "the ID token is not valid yet (issued in the future)"),
    ("wrong audience", "wrong_audience", "the ID token's audience is not this API"),
    ("Could not verify token signature", "bad_signature", "the ID token's signature does not verify"),
    ("Certificate for key id", "bad_signature", "the ID token is signed with a key Google does not publish"),
    ("Unsupported signature algorithm", "bad_signature", "the ID token's signing algorithm is not supported"),
)


def _judged(exc: BaseException) -> ApiError:
    text = str(exc)
    for needle, reason, message in _REASONS:
        if needle in text:
            if reason == "wrong_audience":
                message = f"{message}: {_audience_of(text)}"
            return _refused(reason, message)
    return _refused("malformed", f"the bearer looks like a JWT but is not a valid ID token ({text[:120]})")


def _audience_of(text: str) -> str:
    match = re.search(r"wrong audience (\S+?),? expected", text)
    return f"it is {match.group(1)}" if match else "it does not match QCL_OIDC_AUDIENCE"


def _refused(reason: str, message: str) -> ApiError:
    metrics.AUTH_FAILURES.labels(reason=f"oidc_{reason}").inc()
    return ApiError(401, "unauthorized", message, headers=_CHALLENGE)


def not_accepted() -> ApiError:
    """The answer to an ID token when this instance has no QCL_OIDC_AUDIENCE."""
    return _refused("not_configured", "ID tokens are not accepted by this API (QCL_OIDC_AUDIENCE is not set)")


__all__ = ["CachedCerts", "IdTokens", "Principal", "looks_like_jwt", "not_accepted"]
