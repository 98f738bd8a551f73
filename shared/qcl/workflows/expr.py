"""`${...}` expressions of the Cloud Workflows language: a small parser and a safe evaluator (no Python eval).

    node = parse("len(args.items) > 2 and not done")     # an AST of tuples; ExpressionSyntaxError when invalid
    value = evaluate(node, Scope(variables, functions))   # WorkflowRaised (TypeError, KeyError, ...) when it fails

Operators, loosest first: `or`; `and`; `not`; `== != < > <= >= in`; `+ -`; `* / % //`; unary `-`; then `a.b`,
`a["b"]`, `a[0]` and calls `f(x)` / `map.get(m, "k")`. `+` adds numbers, concatenates strings (and lists); `/`
always gives a double, `//` an integer; comparing values of different types is a TypeError, as in Workflows.
Literals: numbers, "strings" or 'strings', true / false / null, [lists] and {"maps": ...}.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qcl.workflows.errors import ExpressionSyntaxError, raised

Node = tuple[Any, ...]
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+\.\d*(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?|\.\d+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>//|==|!=|<=|>=|[-+*/%<>()\[\]{},.:])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in"}
_CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "TRUE": True, "FALSE": False}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\", "/": "/"}
_COMPARISONS = {"==", "!=", "<", ">", "<=", ">=", "in"}


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            col = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
            raise ExpressionSyntaxError(f"unexpected character {text[col - 1]!r} at column {col} of {text!r}")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        col = match.start(kind) + 1
        if kind == "number":
            is_float = "." in raw or "e" in raw.lower()
            out.append(("lit", float(raw) if is_float else int(raw), col))
        elif kind == "string":
            out.append(("lit", re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1]), col))
        elif kind == "name" and raw in _CONSTANTS:
            out.append(("lit", _CONSTANTS[raw], col))
        elif kind == "name" and raw in _KEYWORDS:
            out.append(("op", raw, col))
        else:
            out.append((kind, raw, col))
        pos = match.end()
    out.append(("end", None, len(text) + 1))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.at = text, _tokens(text), 0

    def peek(self) -> tuple[str, Any, int]:
        return self.tokens[self.at]

    def take(self) -> tuple[str, Any, int]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, op: str) -> bool:
        kind, value, _ = self.peek()
        if kind == "op" and value == op:
            self.at += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            self.fail(f"expected {op!r}")

    def fail(self, what: str) -> None:
        kind, value, col = self.peek()
        found = "the end" if kind == "end" else repr(value)
        raise ExpressionSyntaxError(f"{what} at column {col} of {self.text!r}, found {found}")

    def parse(self) -> Node:
        node = self.binary(0)
        if self.peek()[0] != "end":
            self.fail("expected an operator or the end")
        return node

    _LEVELS: tuple[frozenset[str], ...] = (
        frozenset({"or"}),
        frozenset({"and"}),
        frozenset(),  # `not` is a prefix at this level
        frozenset(_COMPARISONS),
        frozenset({"+", "-"}),
        frozenset({"*", "/", "%", "//"}),
    )

    def binary(self, level: int) -> Node:
        if level == 2:
            if self.accept("not"):
                return ("not", self.binary(2))
            return self.binary(3)
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while True:
            kind, value, _ = self.peek()
            if kind == "op" and value in self._LEVELS[level]:
                self.take()
                node = ("bin", value, node, self.binary(level + 1))
            else:
                return node

    def unary(self) -> Node:
        if self.accept("-"):
            return ("neg", self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Node:
        kind, value, _ = self.peek()
        if kind == "lit":
            self.take()
            return ("lit", value)
        if kind == "name":
            self.take()
            return ("var", value)
        if self.accept("("):
            node = self.binary(0)
            self.expect(")")
            return node
        if self.accept("["):
            items: list[Node] = []
            while not self.accept("]"):
                if items:
                    self.expect(",")
                items.append(self.binary(0))
            return ("list", items)
        if self.accept("{"):
            pairs: list[tuple[Node, Node]] = []
            while not self.accept("}"):
                if pairs:
                    self.expect(",")
                key = self.binary(0)
                self.expect(":")
                pairs.append((key, self.binary(0)))
            return ("map", pairs)
        self.fail("expected a value")
        raise AssertionError("unreachable")

    def postfix(self, node: Node) -> Node:
        while True:
            if self.accept("."):
                kind, value, _ = self.peek()
                if kind != "name" and not (kind == "op" and value in _KEYWORDS):
                    self.fail("expected a name after '.'")
                self.take()
                node = ("attr", node, value)
            elif self.accept("["):
                node = ("index", node, self.binary(0))
                self.expect("]")
            elif self.peek()[:2] == ("op", "("):
                name = dotted(node)
                if name is None:
                    self.fail("only a function name can be called")
                self.take()
                args: list[Node] = []
                while not self.accept(")"):
                    if args:
                        self.expect(",")
                    args.append(self.binary(0))
                node = ("call", name, args)
            else:
                return node


def dotted(node: Node) -> str | None:
    """`a.b.c` as "a.b.c" when the node is a plain name path, else None."""
    if node[0] == "var":
        return str(node[1])
    if node[0] == "attr":
        head = dotted(node[1])
        return None if head is None else f"{head}.{node[2]}"
    return None


def parse(text: str) -> Node:
    """The AST of the expression inside `${...}`."""
    if not text.strip():
        raise ExpressionSyntaxError("empty expression ${}")
    return _Parser(text).parse()


def expression_text(value: Any) -> str | None:
    """The inside of a whole-string expression "${...}", else None (Workflows has no interpolation)."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return None


# -- evaluation ----------------------------------------------------------------------------------------------------


@dataclass
class Scope:
    """What an expression sees: variables, and functions by dotted name (std library, then subworkflows)."""

    variables: Mapping[str, Any]
    functions: Callable[[str], Callable[..., Any] | None]
    constants: Mapping[str, Any] | None = None  # dotted names that are values, e.g. http.default_retry


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def evaluate(node: Node, scope: Scope) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind in ("var", "attr"):
        name = dotted(node)
        if name is not None and scope.constants and name in scope.constants:
            return scope.constants[name]
        if kind == "var":
            if node[1] not in scope.variables:
                raise raised("KeyError", f"variable {node[1]!r} is not defined")
            return scope.variables[node[1]]
        return _member(evaluate(node[1], scope), node[2])
    if kind == "index":
        return _member(evaluate(node[1], scope), evaluate(node[2], scope))
    if kind == "call":
        fn = scope.functions(node[1])
        if fn is None:
            raise raised("KeyError", f"function {node[1]!r} is not defined")
        return fn(*[evaluate(arg, scope) for arg in node[2]])
    if kind == "list":
        return [evaluate(item, scope) for item in node[1]]
    if kind == "map":
        out: dict[str, Any] = {}
        for key_node, value_node in node[1]:
            key = evaluate(key_node, scope)
            if not isinstance(key, str):
                raise raised("TypeError", f"map keys must be strings, got {type_name(key)}")
            out[key] = evaluate(value_node, scope)
        return out
    if kind == "neg":
        value = evaluate(node[1], scope)
        if not _number(value):
            raise raised("TypeError", f"unary '-' needs a number, got {type_name(value)}")
        return -value
    if kind == "not":
        return not _boolean(evaluate(node[1], scope), "not")
    if kind == "bin":
        op = node[1]
        if op in ("and", "or"):  # short-circuit
            left = _boolean(evaluate(node[2], scope), op)
            if (op == "and" and not left) or (op == "or" and left):
                return left
            return _boolean(evaluate(node[3], scope), op)
        return binary(op, evaluate(node[2], scope), evaluate(node[3], scope))
    raise AssertionError(f"unknown node {kind}")


def _boolean(value: Any, op: str) -> bool:
    if not isinstance(value, bool):
        raise raised("TypeError", f"'{op}' needs booleans, got {type_name(value)}")
    return value


def _member(container: Any, key: Any) -> Any:
    if isinstance(container, dict):
        if not isinstance(key, str):
            raise raised("TypeError", f"map keys are strings, got {type_name(key)}")
        if key not in container:
            raise raised("KeyError", f"key {key!r} not found in map")
        return container[key]
    if isinstance(container, list):
        if not isinstance(key, int) or isinstance(key, bool):
            raise raised("TypeError", f"list indices are integers, got {type_name(key)}")
        if not -len(container) <= key < len(container):
            raise raised("IndexError", f"index {key} out of range for a list of {len(container)}")
        return container[key]
    raise raised("TypeError", f"cannot take {key!r} of a {type_name(container)}")


def binary(op: str, left: Any, right: Any) -> Any:
    if op == "in":
        if isinstance(right, dict | list):
            return left in right
        raise raised("TypeError", f"'in' needs a list or a map on its right, got {type_name(right)}")
    if op in ("==", "!="):
        same = _equal(left, right)
        return same if op == "==" else not same
    if op in _COMPARISONS:
        if not ((_number(left) and _number(right)) or (isinstance(left, str) and isinstance(right, str))):
            raise raised("TypeError", f"cannot compare {type_name(left)} {op} {type_name(right)}")
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    if op == "+":
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(left, list) and isinstance(right, list):
            return left + right
    if not (_number(left) and _number(right)):
        raise raised("TypeError", f"'{op}' needs numbers, got {type_name(left)} and {type_name(right)}")
    if op in ("/", "%", "//") and right == 0:
        raise raised("ZeroDivisionError", f"division by zero in '{op}'")
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return float(left) / float(right)
    if op == "//":
        return int(left // right)
    return left % right


def _equal(left: Any, right: Any) -> bool:
    if _number(left) and _number(right):
        return bool(left == right)
    if type_name(left) != type_name(right):
        return False
    return bool(left == right)
