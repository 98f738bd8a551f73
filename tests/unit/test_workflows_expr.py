"""The `${...}` expression language: operators, precedence, standard functions and the errors they raise."""

from __future__ import annotations

from typing import Any

import pytest

from qcl.workflows import stdlib
from qcl.workflows.errors import ExpressionSyntaxError, WorkflowRaised
from qcl.workflows.expr import Scope, evaluate, parse

VARS = {"a": 7, "b": 2, "s": "qubic", "m": {"k": {"x": 1}, "list": [10, 20, 30]}, "ok": True, "none": None}


def run(text: str, variables: dict[str, Any] | None = None) -> Any:
    return evaluate(parse(text), Scope(variables or VARS, stdlib.FUNCTIONS.get, stdlib.RETRY_CONSTANTS))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("a / b", 3.5),
        ("a // b", 3),
        ("a % b", 1),
        ("-a + 1", -6),
        ("2.5 * 2", 5.0),
        ('"q" + "u"', "qu"),
        ('s + "!"', "qubic!"),
        ("a > b and b > 1", True),
        ("a < b or not ok", False),
        ("not a == 7", False),
        ("a == 7.0", True),
        ('a == "7"', False),
        ("a != b", True),
        ('"k" in m', True),
        ("20 in m.list", True),
        ("m.k.x", 1),
        ('m["k"]["x"]', 1),
        ("m.list[1]", 20),
        ("m.list[-1]", 30),
        ("none == null", True),
        ("[1, 2] + [3]", [1, 2, 3]),
        ('{"a": 1, "b": [a]}', {"a": 1, "b": [7]}),
        ("len(s)", 5),
        ("len(m.list)", 3),
        ("keys(m)", ["k", "list"]),
        ('default(none, "x")', "x"),
        ("default(a, 0)", 7),
        ('int("42")', 42),
        ("int(3.9)", 3),
        ('double("2.5")', 2.5),
        ("string(a) + string(ok)", "7true"),
        ('map.get(m, "missing")', None),
        ('map.get(m, ["k", "x"])', 1),
        ('text.split("a,b,c", ",")', ["a", "b", "c"]),
        ('text.replace_all("a-b-c", "-", "+")', "a+b+c"),
        ("text.to_upper(s)", "QUBIC"),
        ('text.to_lower("ABC")', "abc"),
        ('text.find_all("abcab", "ab")', [{"index": 0, "match": "ab"}, {"index": 3, "match": "ab"}]),
        ('json.encode_to_string({"a": [1, "文"]})', '{"a":[1,"文"]}'),
        ('json.decode("{\\"x\\": 2}")', {"x": 2}),
        ("list.concat(m.list, 40)", [10, 20, 30, 40]),
        ("math.max(a, b)", 7),
        ("math.min(a, b)", 2),
        ("math.abs(-3)", 3),
        ("time.format(0)", "1970-01-01T00:00:00.000000Z"),
        ("http.default_retry.max_retries", 5),
    ],
)
def test_expression_evaluates(text: str, expected: Any) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ('a + "x"', "TypeError"),
        ("a < s", "TypeError"),
        ("a / 0", "ZeroDivisionError"),
        ("m.nothing", "KeyError"),
        ("m.list[3]", "IndexError"),
        ("undefined_name", "KeyError"),
        ("ok and 1", "TypeError"),
        ('int("x")', "ValueError"),
        ("len(a)", "TypeError"),
        ("no.such_function(1)", "KeyError"),
        ('time.format(0, "Mars/Olympus")', "ValueError"),
    ],
)
def test_expression_error_is_a_tagged_workflows_error(text: str, tag: str) -> None:
    with pytest.raises(WorkflowRaised) as caught:
        run(text)
    assert caught.value.tags == [tag]
    assert caught.value.value["message"]


@pytest.mark.parametrize("text", ["1 +", "a..b", "(1", "f(1,)", "a ? b", "", "1 2"])
def test_invalid_expression_is_a_syntax_error_naming_the_column(text: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse(text)
    assert "column" in str(caught.value) or "empty" in str(caught.value)


def test_and_or_short_circuit_so_a_guard_protects_the_lookup() -> None:
    assert run('"nothing" in m and m.nothing > 1') is False
    assert run("ok or undefined_name") is True


def test_sys_now_is_the_clock() -> None:
    import time

    assert abs(run("sys.now()") - time.time()) < 5
