"""A small safe expression language over slots (guards, validation, options_from).

Parsed with `ast` (mode="eval") and interpreted by walking an allow-listed subset of
nodes: nothing is ever passed to eval/exec, no attribute of a Python object is reachable
(`x.key` only reads dict keys), and the only calls are the few functions below.
"""

from __future__ import annotations

import ast
import operator
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

CONSTANT_NAMES = {"none": None, "true": True, "false": False}


def _len(x: Any) -> int:
    return len(x) if x is not None else 0


def _empty(x: Any) -> bool:
    return x is None or x == "" or x == [] or x == {}


def _where(items: Any, key: str, value: Any) -> list[Any]:
    return [i for i in (items or []) if isinstance(i, Mapping) and i.get(key) == value]


def _sum_of(items: Any, key: str) -> Any:
    return sum((i.get(key) or 0) for i in (items or []) if isinstance(i, Mapping))


def _fold(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).lower()


def _mentions(text: Any, words: Any) -> bool:
    """Whether text contains any of the words (NFKC, case-insensitive)."""
    folded = _fold(text)
    return any(_fold(word) in folded for word in (words or []) if word)


FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "len": (_len, 1),
    "empty": (_empty, 1),
    "where": (_where, 3),
    "sum_of": (_sum_of, 2),
    "mentions": (_mentions, 2),
}

_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {ast.Add: operator.add, ast.Sub: operator.sub}


class ExprError(Exception):
    pass


@dataclass
class Expr:
    source: str
    tree: ast.Expression
    names: set[str] = field(default_factory=set)
    # (name, attribute) pairs read as `name.attr`, to check data keys
    attributes: set[tuple[str, str]] = field(default_factory=set)

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        return _eval(self.tree.body, names)

    def test(self, names: Mapping[str, Any]) -> bool:
        """True/false for a guard; a run-time failure (None < 3, missing key) is false."""
        try:
            return bool(self.evaluate(names))
        except (TypeError, KeyError, IndexError, AttributeError, ValueError, ExprError):
            return False


def compile_expr(source: Any) -> Expr:
    """Parse and check the shape of an expression; raises ExprError with a staff message."""
    if isinstance(source, bool) or not isinstance(source, (str, int, float)):
        raise ExprError(f"an expression must be text, got {type(source).__name__}")
    text = str(source).strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"cannot read expression `{text}`: {exc.msg}") from None
    expr = Expr(text, tree)
    _check(tree.body, expr)
    return expr


def _check(node: ast.AST, expr: Expr) -> None:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise ExprError(f"unsupported value in `{expr.source}`")
    elif isinstance(node, ast.Name):
        if node.id not in CONSTANT_NAMES:
            expr.names.add(node.id)
    elif isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, expr)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        _check(node.operand, expr)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, expr)
        _check(node.right, expr)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise ExprError(
                    f"unsupported comparison in `{expr.source}` (use == != < <= > >= in)"
                )
        _check(node.left, expr)
        for c in node.comparators:
            _check(c, expr)
    elif isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name):
            expr.attributes.add((node.value.id, node.attr))
        if node.attr.startswith("_"):
            raise ExprError(f"`{node.attr}` cannot be read")
        _check(node.value, expr)
    elif isinstance(node, ast.Subscript):
        if isinstance(node.slice, ast.Slice):
            raise ExprError(f"slices are not supported in `{expr.source}`")
        _check(node.value, expr)
        _check(node.slice, expr)
    elif isinstance(node, (ast.List, ast.Tuple)):
        for e in node.elts:
            _check(e, expr)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            raise ExprError(f"unknown function in `{expr.source}` (available: {known})")
        if node.keywords:
            raise ExprError(f"keyword arguments are not supported in `{expr.source}`")
        arity = FUNCTIONS[node.func.id][1]
        if len(node.args) != arity:
            raise ExprError(f"{node.func.id}() takes {arity} argument(s) in `{expr.source}`")
        for a in node.args:
            _check(a, expr)
    else:
        raise ExprError(f"unsupported syntax in `{expr.source}`")


def _get(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        return container.get(key)
    if isinstance(container, (list, tuple, str)) and isinstance(key, int):
        return container[key]
    raise ExprError(f"cannot read {key!r}")


def _eval(node: ast.AST, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in CONSTANT_NAMES:
            return CONSTANT_NAMES[node.id]
        return names.get(node.id)
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for v in node.values:
                result = _eval(v, names)
                if not result:
                    return result
            return result
        result = False
        for v in node.values:
            result = _eval(v, names)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, names)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, names), _eval(node.right, names))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, names)
        for op, comp in zip(node.ops, node.comparators, strict=False):
            right = _eval(comp, names)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Attribute):
        return _get(_eval(node.value, names), node.attr)
    if isinstance(node, ast.Subscript):
        return _get(_eval(node.value, names), _eval(node.slice, names))
    if isinstance(node, ast.List):
        return [_eval(e, names) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_eval(e, names) for e in node.elts)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return FUNCTIONS[node.func.id][0](*[_eval(a, names) for a in node.args])
    raise ExprError("unsupported syntax")
