"""Load YAML while remembering the line of every key, so recipe errors can point at the line.

``yaml.safe_load`` throws the positions away. :class:`LineLoader` (a ``SafeLoader``) composes the
node tree, which keeps each node's start mark, and builds plain Python data from it while
recording ``path -> line`` for every mapping key and sequence item.

Example:
    >>> data, lines = load_yaml_with_lines("steps:\\n  - type: fuse\\n")
    >>> data, lines[("steps", 0, "type")]
    ({'steps': [{'type': 'fuse'}]}, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from edgeopt.errors import EdgeoptError
from edgeopt.utils.yaml_limits import LimitedLoader, guarded

Path = tuple[str | int | float | bool | None, ...]  # keys of plain YAML mappings, list indices


class LineLoader(LimitedLoader):
    """A size-limited ``SafeLoader`` that also returns the 1-based line of every key and list item."""

    def load_with_lines(self) -> tuple[Any, dict[Path, int]]:
        """Construct the single document and the ``path -> line`` table."""
        node = self.single_node()
        lines: dict[Path, int] = {}
        if node is None:
            return None, lines
        return self._build(node, (), lines), lines

    def _build(self, node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # resolve YAML merge keys (<<) like safe_load does
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise _error(f"a mapping key is not a plain value ({type(key).__name__})", key_node)
                key_path = (*path, key)
                lines[key_path] = key_node.start_mark.line + 1
                out[key] = self._build(value_node, key_path, lines)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(item, (*path, i), lines) for i, item in enumerate(node.value)]
        return self.construct_object(node, deep=True)


def load_yaml_with_lines(text: str, source: str = "<recipe>") -> tuple[Any, dict[Path, int]]:
    """Parse ``text``; return the data and the line of each key path.

    Raises:
        EdgeoptError: The YAML is malformed or over a limit (:mod:`edgeopt.utils.yaml_limits`); the
            message names ``source`` and the line.
    """
    loader = LineLoader(text)
    try:
        result: tuple[Any, dict[Path, int]] = guarded(loader.load_with_lines, source, text)
        return result
    finally:
        loader.dispose()


def line_of(lines: Mapping[Path, int], path: Path) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one (missing keys)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _error(message: str, node: yaml.Node) -> EdgeoptError:
    return EdgeoptError(f"line {node.start_mark.line + 1}: {message}", hint="use plain keys")
