"""YAML that cannot exhaust memory or the stack: every YAML edgeopt reads goes through here.

PyYAML's safe loader runs no code, but a small file can still hurt: aliases that refer to
aliases ("billion laughs") expand to gigabytes once anything walks the data, and 20,000 nested
brackets overflow the composer's recursion. :class:`LimitedLoader` composes the node graph with
a depth limit, then measures the size the aliases expand to (memoised, so measuring costs no
more than the graph) before anything is built; text must be UTF-8 and not too long.

Example:
    >>> load_yaml("a: [1, 2]", "x.yaml")
    {'a': [1, 2]}
    >>> load_yaml("a: &x [1]\\nb: [*x, *x]", "x.yaml", limits=YamlLimits(max_values=3))
    Traceback (most recent call last):
    ...
    edgeopt.errors.EdgeoptError: x.yaml: its YAML expands to more than 3 values (aliases …)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edgeopt.errors import EdgeoptError


@dataclass(frozen=True)
class YamlLimits:
    """How much YAML edgeopt accepts.

    Attributes:
        max_bytes: Longest text (recipes and device files are a few KiB).
        max_depth: Deepest nesting of mappings and lists.
        max_values: Most scalars, mappings and lists once aliases are expanded.
    """

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_values: int = 100_000


DEFAULT_LIMITS = YamlLimits()


class LimitedLoader(yaml.SafeLoader):
    """A ``SafeLoader`` whose composer stops at ``limits.max_depth`` (see the module docstring)."""

    def __init__(self, text: str, limits: YamlLimits = DEFAULT_LIMITS) -> None:
        super().__init__(text)
        self.limits, self.depth = limits, 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > self.limits.max_depth:
                raise _LimitError(f"is nested deeper than {self.limits.max_depth} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def single_node(self) -> yaml.Node | None:
        """The document's node graph, checked against the limits before anything is built."""
        node = self.get_single_node()
        if node is not None:
            _check_expanded_size(node, self.limits.max_values)
        return node


class _LimitError(Exception):
    """Raised inside the loader; turned into an :class:`EdgeoptError` naming the source."""


def _check_expanded_size(root: yaml.Node, limit: int) -> None:
    """Raise if the data, aliases expanded, has more than ``limit`` values (counted per node once)."""
    sizes: dict[int, int] = {}
    # Post-order without recursion: a node's size is known once its children's are.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if ready or not children:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > limit:
                raise _LimitError(f"expands to more than {limit:,} values (aliases referring to aliases?)")
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def read_yaml_text(path: str | Path, what: str, limits: YamlLimits = DEFAULT_LIMITS) -> str:
    """The text of a YAML file: UTF-8 and at most ``limits.max_bytes`` long.

    Raises:
        EdgeoptError: Missing, unreadable, too long or not UTF-8 (naming the file and ``what``).
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > limits.max_bytes:
            raise EdgeoptError(f"{what} {str(file)!r} is {size:,} bytes; edgeopt reads at most {limits.max_bytes:,}",
                               hint=f"a {what} is a few kilobytes of YAML")
        return file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise EdgeoptError(f"{what} {str(file)!r} does not exist", hint="check the path") from None
    except UnicodeDecodeError as exc:
        raise EdgeoptError(f"{what} {str(file)!r} is not UTF-8 text (byte {exc.start})",
                           hint="save it as UTF-8") from None
    except IsADirectoryError:
        raise EdgeoptError(f"{what} {str(file)!r} is a directory", hint="give the YAML file") from None
    except OSError as exc:
        raise EdgeoptError(f"cannot read {what} {str(file)!r}: {exc.strerror or exc}") from None


def load_yaml(text: str, source: str, limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    """Parse one YAML document within ``limits``; errors name ``source`` (and the line).

    Raises:
        EdgeoptError: Malformed YAML, or over a limit.
    """
    loader = LimitedLoader(text, limits)

    def parse() -> Any:
        node = loader.single_node()
        return None if node is None else loader.construct_document(node)

    try:
        return guarded(parse, source, text, limits)  # a tag such as !!python/... fails in construction
    finally:
        loader.dispose()


def guarded(parse: Any, source: str, text: str, limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    """Call ``parse()`` with YAML errors and limit breaches turned into one-line errors."""
    if len(text.encode("utf-8")) > limits.max_bytes:
        raise EdgeoptError(f"{source}: longer than {limits.max_bytes:,} bytes", hint="a recipe is a few kilobytes")
    try:
        return parse()
    except _LimitError as exc:
        raise EdgeoptError(f"{source}: its YAML {exc}", hint="refusing it: edgeopt reads small, plain YAML") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source} line {mark.line + 1}, column {mark.column + 1}" if mark else source
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        if isinstance(exc, yaml.constructor.ConstructorError):  # e.g. !!python/object: never built
            raise EdgeoptError(f"{where}: a YAML tag edgeopt does not read: {problem}",
                               hint="edgeopt reads plain YAML: remove the !! tag") from None
        raise EdgeoptError(f"{where}: malformed YAML: {problem}",
                           hint="check the indentation and the ':' after each key") from None
    except yaml.YAMLError as exc:
        raise EdgeoptError(f"{source}: malformed YAML: {exc}") from None
