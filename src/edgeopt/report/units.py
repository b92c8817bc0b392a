"""Number formatting shared by the plots and the HTML page, so both show the same figures."""

from __future__ import annotations

# Decimal units (kB = 1000 B), the convention of file managers and `ls -h --si`; stated on the page.
_BYTE_UNITS = (("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
_COUNT_UNITS = (("G", 1e9), ("M", 1e6), ("k", 1e3))


def fmt_bytes(n: float | None) -> str:
    """``3293736`` → ``'3.29 MB'``; ``None`` → ``'—'``."""
    return _scaled(n, _BYTE_UNITS, " ", "B")


def fmt_count(n: float | None) -> str:
    """``10865216`` → ``'10.9M'``; ``None`` → ``'—'``."""
    return _scaled(n, _COUNT_UNITS, "", "")


def _scaled(n: float | None, units: tuple[tuple[str, float], ...], sep: str, base_unit: str) -> str:
    """Three significant digits in the largest unit that ``n`` reaches; whole numbers below."""
    if n is None:
        return "—"
    for unit, scale in units:
        if abs(n) >= scale:
            return f"{n / scale:.3g}{sep}{unit}"
    return f"{n:.0f}{sep}{base_unit}".rstrip()


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
