"""The standard library that expressions call: `len`, `keys`, `default`, `int`, `double`, `string`, `map.*`,
`text.*`, `json.*`, `sys.now`, `sys.get_env`, `list.concat`, `math.*`, `time.format`, and the retry policies.

    fn = FUNCTIONS["text.split"]; fn("a,b", ",") == ["a", "b"]
    RETRY_CONSTANTS["http.default_retry"]   # the policy `retry: ${http.default_retry}` names

Names and behaviour follow Cloud Workflows' standard library, so a file that runs here deploys there unchanged.
`sys.get_env` and `sys.log` need the execution, so the executor binds them (see executor.py).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qcl.workflows.errors import raised
from qcl.workflows.expr import type_name


def _need(value: Any, kinds: tuple[type, ...], fn: str, what: str) -> None:
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise raised("TypeError", f"{fn}: {what} must be {'/'.join(k.__name__ for k in kinds)}, got {type_name(value)}")


def _len(value: Any) -> int:
    _need(value, (str, list, dict), "len", "the argument")
    return len(value)


def _keys(value: Any) -> list[str]:
    _need(value, (dict,), "keys", "the argument")
    return list(value)


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise raised("TypeError", "int: cannot convert a boolean")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return int(float(value.strip()))
            except ValueError:
                raise raised("ValueError", f"int: {value!r} is not a number") from None
    raise raised("TypeError", f"int: cannot convert {type_name(value)}")


def _double(value: Any) -> float:
    if isinstance(value, bool):
        raise raised("TypeError", "double: cannot convert a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise raised("ValueError", f"double: {value!r} is not a number") from None
    raise raised("TypeError", f"double: cannot convert {type_name(value)}")


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise raised("TypeError", f"string: cannot convert {type_name(value)}; use json.encode_to_string")


def _map_get(container: Any, key: Any) -> Any:
    _need(container, (dict,), "map.get", "the first argument")
    path = key if isinstance(key, list) else [key]
    value: Any = container
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _map_merge(first: Any, second: Any) -> dict[str, Any]:
    _need(first, (dict,), "map.merge", "the first argument")
    _need(second, (dict,), "map.merge", "the second argument")
    return {**first, **second}


def _split(text: Any, separator: Any) -> list[str]:
    _need(text, (str,), "text.split", "the text")
    _need(separator, (str,), "text.split", "the separator")
    return text.split(separator)


def _replace_all(text: Any, old: Any, new: Any) -> str:
    for value in (text, old, new):
        _need(value, (str,), "text.replace_all", "each argument")
    return str(text).replace(old, new)


def _find_all(text: Any, substring: Any) -> list[dict[str, Any]]:
    _need(text, (str,), "text.find_all", "the text")
    _need(substring, (str,), "text.find_all", "the substring")
    return [{"index": m.start(), "match": m.group(0)} for m in re.finditer(re.escape(substring), text)]


def _substring(text: Any, start: Any, end: Any) -> str:
    _need(text, (str,), "text.substring", "the text")
    return str(text)[_int(start) : _int(end)]


def _upper(text: Any) -> str:
    _need(text, (str,), "text.to_upper", "the text")
    return str(text).upper()


def _lower(text: Any) -> str:
    _need(text, (str,), "text.to_lower", "the text")
    return str(text).lower()


def _encode_to_string(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _decode(text: Any) -> Any:
    _need(text, (str,), "json.decode", "the argument")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise raised("ValueError", f"json.decode: not JSON: {exc}") from None


def _concat(items: Any, value: Any) -> list[Any]:
    _need(items, (list,), "list.concat", "the first argument")
    return [*items, value]


def _number(fn: str) -> Callable[..., Any]:
    def check(*values: Any) -> Any:
        for value in values:
            _need(value, (int, float), fn, "each argument")
        if fn == "math.max":
            return max(values)
        if fn == "math.min":
            return min(values)
        return abs(values[0]) if fn == "math.abs" else math.floor(values[0])

    return check


def _format(seconds: Any, timezone: Any = "UTC") -> str:
    _need(seconds, (int, float), "time.format", "the seconds")
    try:
        zone = UTC if timezone == "UTC" else ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise raised("ValueError", f"time.format: unknown time zone {timezone!r}") from None
    stamp = datetime.fromtimestamp(float(seconds), zone).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z") if zone is UTC else stamp


def _parse(text: Any) -> float:
    _need(text, (str,), "time.parse", "the argument")
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise raised("ValueError", f"time.parse: {text!r} is not an RFC 3339 time") from None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "keys": _keys,
    "default": _default,
    "int": _int,
    "double": _double,
    "string": _string,
    "map.get": _map_get,
    "map.merge": _map_merge,
    "text.split": _split,
    "text.replace_all": _replace_all,
    "text.find_all": _find_all,
    "text.substring": _substring,
    "text.to_upper": _upper,
    "text.to_lower": _lower,
    "json.encode_to_string": _encode_to_string,
    "json.decode": _decode,
    "list.concat": _concat,
    "math.max": _number("math.max"),
    "math.min": _number("math.min"),
    "math.abs": _number("math.abs"),
    "math.floor": _number("math.floor"),
    "time.format": _format,
    "time.parse": _parse,
    "sys.now": time.time,
}
BOUND_FUNCTIONS = frozenset({"sys.get_env", "sys.log"})  # bound per execution by the executor


@dataclass(frozen=True)
class Predicate:
    """A built-in retry predicate: which errors are worth another attempt."""

    name: str
    fn: Callable[[Any], bool]


def _http_code(error: Any) -> int | None:
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def _tags(error: Any) -> list[str]:
    tags = error.get("tags") if isinstance(error, dict) else None
    return [str(t) for t in tags] if isinstance(tags, list) else []


def _default_retry(error: Any) -> bool:
    """Cloud Workflows' http.default_retry_predicate: 429, 502, 503, 504, connection errors and timeouts."""
    transient = {"ConnectionError", "ConnectionFailedError", "TimeoutError"}
    return _http_code(error) in (429, 502, 503, 504) or bool(transient & set(_tags(error)))


def _non_idempotent(error: Any) -> bool:
    """http.default_retry_predicate_non_idempotent: only where the request surely did not run (429, 503)."""
    return _http_code(error) in (429, 503)


DEFAULT_RETRY_PREDICATE = Predicate("http.default_retry_predicate", _default_retry)
NON_IDEMPOTENT_PREDICATE = Predicate("http.default_retry_predicate_non_idempotent", _non_idempotent)
_DEFAULT_BACKOFF = {"initial_delay": 1.0, "max_delay": 60.0, "multiplier": 1.25}
RETRY_CONSTANTS: dict[str, Any] = {
    DEFAULT_RETRY_PREDICATE.name: DEFAULT_RETRY_PREDICATE,
    NON_IDEMPOTENT_PREDICATE.name: NON_IDEMPOTENT_PREDICATE,
    "retry.always": Predicate("retry.always", lambda _: True),
    "retry.never": Predicate("retry.never", lambda _: False),
    "retry.default_backoff": _DEFAULT_BACKOFF,
    "http.default_retry": {"predicate": DEFAULT_RETRY_PREDICATE, "max_retries": 5, "backoff": _DEFAULT_BACKOFF},
    "http.default_retry_non_idempotent": {
        "predicate": NON_IDEMPOTENT_PREDICATE,
        "max_retries": 5,
        "backoff": _DEFAULT_BACKOFF,
    },
}
