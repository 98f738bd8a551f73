"""The live Qubic RPC: the four GET endpoints a health view needs, with timeouts, retries and a breaker.

    client = QubicRpcClient.from_settings(settings())
    observation = client.observe()        # tick-info + latest-stats, plus the Query API when it answers

Every call has a timeout; 429, 5xx, timeouts and connection errors are retried with exponential backoff and
full jitter (honouring `Retry-After` on 429/503, capped); other 4xx are not retried. After `breaker_failures`
consecutive failed calls the client stops calling for `breaker_cooldown_s` and fails fast. Bodies are parsed
strictly by the models in qcl.qubic.types; every failure is a SourceError naming the endpoint and the problem.
Shapes and error bodies: docs/reference/qubic-rpc.md §2.1, 2.3, 2.6, 2.7, 3.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx
import pybreaker
from pydantic import TypeAdapter, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from qcl import __version__
from qcl.config import Settings
from qcl.errors import SourceError
from qcl.qubic.capture import describe_validation_error
from qcl.qubic.types import LastProcessedTick, LatestStatsBody, Observation, TickInfoBody, TickInterval

logger = logging.getLogger(__name__)

T = TypeVar("T")

# gRPC status codes as grpc-gateway puts them in error bodies (reference §3.2).
GRPC_CODE_NAMES = {
    0: "OK",
    1: "Canceled",
    2: "Unknown",
    3: "InvalidArgument",
    4: "DeadlineExceeded",
    5: "NotFound",
    6: "AlreadyExists",
    7: "PermissionDenied",
    8: "ResourceExhausted",
    9: "FailedPrecondition",
    10: "Aborted",
    11: "OutOfRange",
    12: "Unimplemented",
    13: "Internal",
    14: "Unavailable",
    15: "DataLoss",
    16: "Unauthenticated",
}
# Statuses whose Retry-After is honoured (RFC 9110 §10.2.3; Cloudflare sends it with its 429s).
RETRY_AFTER_STATUSES = frozenset({429, 503})
# Bytes of an unexpected body quoted in an error message.
QUOTED_BODY_CHARS = 200


class SourceUnavailableError(SourceError):
    """The RPC did not answer usefully: timeout, connection error, 429 or 5xx, after every attempt."""


class InvalidBodyError(SourceError):
    """The RPC answered 2xx with a body that is not JSON or does not match the model."""


class CircuitOpenError(SourceError):
    """The breaker is open: the call was not made."""


@dataclass(frozen=True)
class Endpoint(Generic[T]):
    """One GET endpoint and the model its body must match."""

    path: str
    body: TypeAdapter[T]

    @property
    def name(self) -> str:
        return f"GET {self.path}"


LATEST_STATS: Endpoint[LatestStatsBody] = Endpoint("/v1/latest-stats", TypeAdapter(LatestStatsBody))
TICK_INFO: Endpoint[TickInfoBody] = Endpoint("/live/v1/tick-info", TypeAdapter(TickInfoBody))
LAST_PROCESSED_TICK: Endpoint[LastProcessedTick] = Endpoint(
    "/query/v1/getLastProcessedTick", TypeAdapter(LastProcessedTick)
)
# A bare JSON array (proto `response_body`), oldest interval first.
PROCESSED_TICK_INTERVALS: Endpoint[list[TickInterval]] = Endpoint(
    "/query/v1/getProcessedTickIntervals", TypeAdapter(list[TickInterval])
)


class _AttemptFailed(Exception):
    """One attempt failed; `retryable` says whether another attempt may help."""

    def __init__(
        self, problem: str, *, retryable: bool, invalid_body: bool = False, retry_after_s: float | None = None
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retryable = retryable
        self.invalid_body = invalid_body
        self.retry_after_s = retry_after_s


class _BreakerWatch(pybreaker.CircuitBreakerListener):
    """Remembers when the breaker opened and the last failure, for the fail-fast message."""

    def __init__(self) -> None:
        self.opened_at: float | None = None  # time.monotonic()
        self.last_failure = ""

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        self.last_failure = str(exc)

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self.opened_at = time.monotonic()


class QubicRpcClient:
    """A synchronous client of rpc.qubic.org (or any host serving the same paths)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        attempts: int = 4,
        backoff_s: float = 0.5,  # first backoff window; window n is backoff_s × 2^(n-1), full jitter
        backoff_max_s: float = 8.0,  # largest backoff window
        retry_after_max_s: float = 30.0,  # a Retry-After longer than this is cut down to it
        breaker_failures: int = 5,  # consecutive failed calls that open the breaker
        breaker_cooldown_s: float = 30.0,  # how long the breaker stays open before one trial call
        http: httpx.Client | None = None,  # a client to use as is (not closed by close())
        transport: httpx.BaseTransport | None = None,  # for tests: used by the client built here
        sleep: Callable[[float], object] = time.sleep,  # for tests: the wait between attempts
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.base_url = base_url.rstrip("/")
        self._timeout = httpx.Timeout(timeout_s)
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._backoff = wait_random_exponential(multiplier=backoff_s, max=backoff_max_s)
        self._retry_after_max_s = retry_after_max_s
        self._sleep = sleep
        self._owns_http = http is None
        self._http = http or httpx.Client(
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": f"qcl/{__version__}"},
        )
        self._breaker_failures = breaker_failures
        self._breaker_cooldown_s = breaker_cooldown_s
        self._breaker_watch = _BreakerWatch()
        # pybreaker fits: consecutive-failure counting, a half-open trial call, thread safety. Only outages
        # count (SourceUnavailableError); a 4xx or an invalid body means the host answered, which pybreaker's
        # `exclude` treats as a success. throw_new_error_on_trip=False keeps the real error of the call that
        # trips it.
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=breaker_failures,
            reset_timeout=breaker_cooldown_s,
            exclude=[lambda exc: not isinstance(exc, SourceUnavailableError)],
            listeners=[self._breaker_watch],
            throw_new_error_on_trip=False,
            name=self.base_url,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> QubicRpcClient:
        return cls(settings.rpc_url, timeout_s=settings.rpc_timeout_s, attempts=settings.rpc_attempts)

    # -- the four endpoints ---------------------------------------------------------------------------------

    def latest_stats(self) -> LatestStatsBody:
        return self.get(LATEST_STATS)

    def tick_info(self) -> TickInfoBody:
        return self.get(TICK_INFO)

    def last_processed_tick(self) -> LastProcessedTick:
        return self.get(LAST_PROCESSED_TICK)

    def processed_tick_intervals(self) -> list[TickInterval]:
        return self.get(PROCESSED_TICK_INTERVALS)

    def observe(self, now: Callable[[], datetime] | None = None) -> Observation:
        """One observation: tick-info and latest-stats are required; the Query API calls are optional.

        An optional call that fails is logged and left out, unless the breaker is open: then the host is
        considered down and the CircuitOpenError goes to the caller.
        """
        tick_info = self.tick_info()
        # Stamped when the live tick was read, so tick rates between observations are not skewed by the
        # latency (or retries) of the calls that follow.
        observed_at = (now or _utc_now)()
        latest_stats = self.latest_stats()
        last_processed_tick = self._optional(self.last_processed_tick)
        tick_intervals = self._optional(self.processed_tick_intervals)
        return Observation(
            observed_at=observed_at,
            latest_stats=latest_stats,
            tick_info=tick_info,
            last_processed_tick=last_processed_tick,
            tick_intervals=tick_intervals,
        )

    @property
    def circuit_state(self) -> str:
        """The breaker's state: "closed", "open" or "half-open"."""
        return str(self._breaker.current_state)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> QubicRpcClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- machinery ------------------------------------------------------------------------------------------

    def get(self, endpoint: Endpoint[T]) -> T:
        """Call one endpoint through the breaker and the retries; raises SourceError."""
        try:
            return self._breaker.call(self._get_with_retries, endpoint)
        except pybreaker.CircuitBreakerError:
            raise CircuitOpenError(self._circuit_open_message(endpoint)) from None

    def _optional(self, fetch: Callable[[], T]) -> T | None:
        try:
            return fetch()
        except CircuitOpenError:
            raise
        except SourceError as exc:
            logger.warning("%s; the observation goes out without it", exc)
            return None

    def _get_with_retries(self, endpoint: Endpoint[T]) -> T:
        attempts_made = 0

        def attempt() -> T:
            nonlocal attempts_made
            attempts_made += 1
            return self._attempt(endpoint)

        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, _AttemptFailed) and exc.retryable),
            sleep=self._pause,
            before_sleep=lambda state: _log_retry(endpoint, state, self._attempts),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _AttemptFailed as failure:
            message = f"{endpoint.name}: {failure.problem}"
            cause = failure.__cause__  # the httpx or pydantic error, if any, for the traceback
            if failure.retryable:
                plural = "s" if attempts_made > 1 else ""
                raise SourceUnavailableError(f"{message} (gave up after {attempts_made} attempt{plural})") from cause
            if failure.invalid_body:
                raise InvalidBodyError(message) from cause
            raise SourceError(message) from cause

    def _attempt(self, endpoint: Endpoint[T]) -> T:
        try:
            response = self._http.get(self.base_url + endpoint.path, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise _AttemptFailed(
                f"no answer within {self._timeout_s:g} s ({type(exc).__name__})", retryable=True
            ) from exc
        except httpx.TransportError as exc:
            raise _AttemptFailed(f"cannot reach {self.base_url} ({type(exc).__name__}: {exc})", retryable=True) from exc
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = _retry_after_s(response) if status in RETRY_AFTER_STATUSES else None
            raise _AttemptFailed(_describe_error_response(response), retryable=True, retry_after_s=retry_after)
        if not 200 <= status < 300:
            raise _AttemptFailed(_describe_error_response(response), retryable=False)
        try:
            body = json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _AttemptFailed(_describe_non_json(response, exc), retryable=False, invalid_body=True) from exc
        try:
            return endpoint.body.validate_python(body)
        except ValidationError as exc:
            raise _AttemptFailed(
                f"body does not match the schema: {describe_validation_error(exc)}",
                retryable=False,
                invalid_body=True,
            ) from exc

    def _pause(self, seconds: float) -> None:
        self._sleep(seconds)

    def _wait(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _AttemptFailed) and failure.retry_after_s is not None:
            return min(failure.retry_after_s, self._retry_after_max_s)
        return float(self._backoff(state))

    def _circuit_open_message(self, endpoint: Endpoint[Any]) -> str:
        opened_at = self._breaker_watch.opened_at
        elapsed = time.monotonic() - opened_at if opened_at is not None else 0.0
        remaining = max(0, math.ceil(self._breaker_cooldown_s - elapsed))
        message = (
            f"{endpoint.name}: circuit open after {self._breaker_failures} consecutive failures; "
            f"retrying after {remaining} s"
        )
        if self._breaker_watch.last_failure:
            message += f" (last failure: {self._breaker_watch.last_failure})"
        return message


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _log_retry(endpoint: Endpoint[Any], state: RetryCallState, attempts: int) -> None:
    failure = state.outcome.exception() if state.outcome else None
    wait_s = state.next_action.sleep if state.next_action else 0.0
    logger.info(
        "%s: %s; attempt %d of %d in %.1f s",
        endpoint.name,
        failure,
        state.attempt_number + 1,
        attempts,
        wait_s,
    )


def _retry_after_s(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"


def _describe_non_json(response: httpx.Response, exc: ValueError) -> str:
    size = len(response.content)
    if size == 0:
        return f"empty body with HTTP {response.status_code}"
    what = f"({_content_type(response)}, {size} bytes) with HTTP {response.status_code}"
    if "json" in _content_type(response):  # e.g. a body cut short on the way
        return f"malformed JSON body {what}: {exc}"
    text = f"non-JSON body {what}"
    title = re.search(rb"<title[^>]*>(.*?)</title>", response.content, re.IGNORECASE | re.DOTALL)
    if title:
        text += f' titled "{" ".join(title.group(1).decode("utf-8", "replace").split())}"'
    return text


def _describe_error_response(response: httpx.Response) -> str:
    """`HTTP 404 with gRPC status 5 (NotFound) "Not Found"`, or what else the body was."""
    status = response.status_code
    try:
        body = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _describe_non_json(response, exc)
    if isinstance(body, dict) and isinstance(body.get("code"), int) and isinstance(body.get("message"), str):
        code = body["code"]
        text = f"HTTP {status} with gRPC status {code} ({GRPC_CODE_NAMES.get(code, 'unknown code')}) "
        text += json.dumps(body["message"], ensure_ascii=False)
        if body.get("details"):
            text += f"; details: {_quote(body['details'])}"
        return text
    return f"HTTP {status} with JSON body {_quote(body)}"


def _quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= QUOTED_BODY_CHARS else text[:QUOTED_BODY_CHARS] + "…"
