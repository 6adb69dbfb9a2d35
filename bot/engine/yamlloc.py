"""YAML with line numbers: mappings and lists remember where each key and item was.

PyYAML's composer gives nodes with marks; we build plain dict/list subclasses that keep
the line of every key and item, so the checker can say `file:line: message`.
"""

from __future__ import annotations

from typing import Any

import yaml

BOOL_WORDS = {"yes", "no", "on", "off", "y", "n", "true", "false"}


class LDict(dict):  # type: ignore[type-arg]
    line: int
    key_lines: dict[Any, int]
    raws: dict[Any, str]  # the raw text of scalar values (to explain YAML booleans)
    text_lines: dict[Any, tuple[int, bool]]  # scalar values: see text_line()


class LList(list):  # type: ignore[type-arg]
    line: int
    lines: list[int]
    raws: list[str | None]
    text_lines: list[tuple[int, bool] | None]


class YamlProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load(text: str) -> tuple[Any, list[tuple[int, str]]]:
    """Parse one YAML document; returns (value, [(line, problem)]) for duplicate keys."""
    loader = yaml.SafeLoader(text)
    problems: list[tuple[int, str]] = []
    try:
        node = loader.get_single_node()
        if node is None:
            return None, problems
        return _build(loader, node, problems), problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlProblem(line, f"YAML syntax: {exc.problem or exc}") from None
    finally:
        loader.dispose()


def _raw(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _text_line(node: yaml.Node) -> tuple[int, bool] | None:
    """(line of the value's first line, whether its lines follow the file's one to one).
    A literal block (`|`) starts on the line after its indicator and keeps its lines;
    other scalars start where they are written and fold their lines into one."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.style == "|":
        return node.start_mark.line + 2, True
    return node.start_mark.line + 1, False


def _build(loader: yaml.SafeLoader, node: yaml.Node, problems: list[tuple[int, str]]) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out = LDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        out.raws = {}
        out.text_lines = {}
        for key_node, value_node in node.value:
            key = _build(loader, key_node, problems)
            line = key_node.start_mark.line + 1
            if isinstance(key, (dict, list)):
                problems.append((line, "a key must be plain text"))
                continue
            if key in out:
                problems.append((line, f"duplicate key `{key}`"))
            out[key] = _build(loader, value_node, problems)
            out.key_lines[key] = line
            raw = _raw(value_node)
            if raw is not None:
                out.raws[key] = raw
            text_line = _text_line(value_node)
            if text_line is not None:
                out.text_lines[key] = text_line
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LList()
        seq.line = node.start_mark.line + 1
        seq.lines = []
        seq.raws = []
        seq.text_lines = []
        for item in node.value:
            seq.append(_build(loader, item, problems))
            seq.lines.append(item.start_mark.line + 1)
            seq.raws.append(_raw(item))
            seq.text_lines.append(_text_line(item))
        return seq
    return loader.construct_object(node, deep=True)


def line_of(container: Any, key: Any = None, default: int = 1) -> int:
    """Line of `key` in an LDict / index in an LList, or of the container itself."""
    if isinstance(container, LDict):
        if key is not None and key in container.key_lines:
            return container.key_lines[key]
        return container.line
    if isinstance(container, LList):
        if isinstance(key, int) and 0 <= key < len(container.lines):
            return container.lines[key]
        return container.line
    return default


def text_line(container: Any, key: Any) -> tuple[int, bool]:
    """Where the text value at `key` starts, and whether line N of the text is on line
    start + N - 1 of the file (literal blocks) or every line of it maps to the start."""
    found = None
    if isinstance(container, LDict):
        found = getattr(container, "text_lines", {}).get(key)
    elif isinstance(container, LList) and isinstance(key, int):
        lines = getattr(container, "text_lines", [])
        found = lines[key] if key < len(lines) else None
    return found or (line_of(container, key), False)


def raw_of(container: Any, key: Any) -> str | None:
    if isinstance(container, LDict):
        return container.raws.get(key)
    if isinstance(container, LList) and isinstance(key, int) and key < len(container.raws):
        return container.raws[key]
    return None
