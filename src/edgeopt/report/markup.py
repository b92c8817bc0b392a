"""Tiny HTML building blocks. Every piece of text passes through :func:`esc` exactly once."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from pathlib import Path


class Markup(str):
    """A string of HTML that is already escaped; marking it lets :func:`esc` pass it through,
    so nothing is escaped twice and plain strings are never trusted."""

    def __add__(self, other: str) -> Markup:
        """``markup + text`` stays markup, with ``text`` escaped."""
        return Markup(str.__add__(self, esc(other)))


def esc(value: object) -> Markup:
    """Escape any value for HTML text or attribute context; :class:`Markup` passes through."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def tag(name: str, *children: object, **attrs: object) -> Markup:
    """``tag("td", "5 < 6", class_="num")`` → ``<td class="num">5 &lt; 6</td>``.

    Attribute names drop a trailing underscore (``class_``) and use ``-`` for ``_``.
    """
    attr_text = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return Markup(f"<{name}{attr_text}>" + "".join(esc(c) for c in children) + f"</{name}>")


def join(parts: Iterable[object], sep: str = "\n") -> Markup:
    """Concatenate escaped parts."""
    return Markup(sep.join(esc(p) for p in parts))


def table(header: Sequence[object], rows: Iterable[Sequence[object]], numeric_from: int = 1, **attrs: object) -> Markup:
    """A table; columns from ``numeric_from`` on are right-aligned numbers."""
    head = tag("tr", *(tag("th", h, class_="num" if i >= numeric_from else None) for i, h in enumerate(header)))
    body = join(
        tag("tr", *(tag("td", cell, class_="num" if i >= numeric_from else None) for i, cell in enumerate(row)))
        for row in rows
    )
    return tag("table", tag("thead", head), tag("tbody", body), **attrs)


def estimate_badge() -> Markup:
    """The label every estimated figure carries (DESIGN.md, principle 1)."""
    return tag("span", "estimate", class_="estimate", title="modelled, not measured")


def png_data_uri(path: str | Path) -> str:
    """The PNG at ``path`` as a ``data:`` URI, so the page needs no files beside it."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
