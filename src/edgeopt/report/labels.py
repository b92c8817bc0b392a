"""Point labels that do not overlap each other or the points: a greedy search over a few offsets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.transforms import Bbox

# Offsets in points tried in order: right above, right below, left above, left below, then further.
_OFFSETS = ((8, 7), (8, -15), (-8, 7), (-8, -15), (8, 20), (8, -28), (-8, 20), (-8, -28), (0, 32), (0, -40))
# Half the side of a marker's box, in pixels, that labels must keep clear of.
_MARKER_PX = 9


def place_labels(ax: Axes, points: Sequence[tuple[float, float]], texts: Sequence[str]) -> None:
    """Annotate each point with its text where it overlaps no earlier label and no marker.

    Must be called after the axis limits and scales are final, since it works in pixels. When no
    offset is free the first one is used (a crowded plot still labels every point).
    """
    # Run the layout, so pixel positions are the final ones. Extents below are then computed with
    # the renderer the canvas keeps (what get_window_extent() uses when given none).
    ax.figure.canvas.draw()
    frame = ax.get_window_extent()
    markers = [_marker_box(ax, p) for p in points]
    placed: list[Bbox] = []
    for (x, y), text in zip(points, texts, strict=True):
        for dx, dy in _OFFSETS:
            note = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=9,
                               ha="left" if dx >= 0 else "right", va="bottom" if dy >= 0 else "top")
            note.set_in_layout(False)  # labels must not move the axes they were placed on
            box = note.get_window_extent().expanded(1.05, 1.1)
            if _free(box, placed, markers, frame):
                placed.append(box)
                break
            note.remove()
        else:
            ax.annotate(text, (x, y), textcoords="offset points", xytext=_OFFSETS[0], fontsize=9).set_in_layout(False)


def _marker_box(ax: Axes, point: tuple[float, float]) -> Bbox:
    from matplotlib.transforms import Bbox

    px, py = ax.transData.transform(point)
    return Bbox.from_extents(px - _MARKER_PX, py - _MARKER_PX, px + _MARKER_PX, py + _MARKER_PX)


def _free(box: Bbox, placed: list[Bbox], markers: list[Bbox], frame: Bbox) -> bool:
    inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
    return inside and not any(box.overlaps(other) for other in (*placed, *markers))
