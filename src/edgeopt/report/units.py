"""Number formatting for the plots and the HTML page, so both show the same figures.

Byte sizes and counts come from :mod:`edgeopt.utils.units` (``format_bytes``, ``format_count``),
which the CLI uses too, so a file's size reads the same in the terminal and in the report.
"""

from __future__ import annotations

from edgeopt.utils.units import format_bytes, format_count

# Axis ticks sit at round decimal values, which two decimals would clutter ("976.56 KiB").
TICK_DIGITS = 3


def tick_bytes(n: float) -> str:
    """A byte axis tick, same units as the tables: ``1e6`` → ``'977 KiB'``."""
    return format_bytes(n, significant=TICK_DIGITS)


def tick_count(n: float) -> str:
    """A count axis tick: ``1e5`` → ``'100K'``."""
    return format_count(n, significant=TICK_DIGITS)


def fmt_pct(fraction: float | None) -> str:
    """``0.9871`` → ``'98.71%'``."""
    return "—" if fraction is None else f"{fraction * 100:.2f}%"


def fmt_ms(ms: float | None) -> str:
    """Latency with precision that suits its magnitude: ``0.0731 ms``, ``1.52 ms``, ``231 ms``."""
    if ms is None:
        return "—"
    return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"


def fmt_ratio(ratio: float | None) -> str:
    """``0.2531`` → ``'0.25×'``; small ratios keep two significant digits (``0.031×``)."""
    if ratio is None:
        return "—"
    return f"{ratio:.2f}×" if ratio >= 0.1 else f"{ratio:.2g}×"


def fmt_points(delta: float | None) -> str:
    """Accuracy change in percentage points with its sign: ``-0.42 pt``, ``+1.10 pt``."""
    if delta is None:
        return "—"
    return f"{delta:+.2f} pt"
