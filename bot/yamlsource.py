"""YAML with line numbers, for files staff write: every error can name file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.errors import InputError


class LineDict(dict):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list):
    line: int = 0
    item_lines: list[int]


class YamlSourceError(InputError):
    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


def _convert(node: yaml.Node, loader: yaml.SafeLoader, file: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = _convert(key_node, loader, file)
            if isinstance(key, (list, dict)):
                raise YamlSourceError(file, key_node.start_mark.line + 1, "a key must be text")
            if key in result:
                raise YamlSourceError(file, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            result[key] = _convert(value_node, loader, file)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        items = LineList(_convert(child, loader, file) for child in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        return items
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path | str, text: str | None = None) -> Any:
    """Parse one YAML document; syntax errors become YamlSourceError with file:line."""
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise YamlSourceError(file, 1, "the file is not UTF-8 text") from None
        except OSError as exc:
            raise YamlSourceError(file, 1, f"cannot read the file ({exc.strerror})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlSourceError(file, 1, "the file is empty")
        return _convert(node, loader, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSourceError(file, line, f"YAML syntax: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlSourceError(file, 1, f"YAML syntax: {exc}") from None
    finally:
        loader.dispose()
