"""How edgeopt writes byte sizes and counts, in the CLI and the HTML report alike.

Bytes are in binary units (1 KiB = 1024 B), the convention the CLI, README and docs use: memory
(device RAM, activations, peak RSS) comes in powers of two, so a 4 GiB board reads as
``4.00 GiB`` rather than ``4.29 GB``, and the unit names say which convention is meant.

Tables show two decimals; plot axes ask for a few significant digits instead (``significant=3``),
because tick values are round decimal numbers that two decimals would clutter (``977 KiB``).

Example:
    >>> format_bytes(6_422_528), format_count(568_740_352), format_bytes(10**6, significant=3)
    ('6.12 MiB', '568.74M', '977 KiB')
"""

from __future__ import annotations

MISSING = "—"  # what a figure that was not measured shows as

_BYTE_UNITS = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))
_COUNT_UNITS = ((1e9, "G"), (1e6, "M"), (1e3, "K"))


def format_bytes(n: float | None, significant: int | None = None) -> str:
    """Bytes in binary units: ``6422528`` → ``'6.12 MiB'``, ``512`` → ``'512 B'``, ``None`` → ``'—'``.

    Args:
        n: A byte count, or ``None`` for a figure that was not measured.
        significant: Significant digits instead of two decimals (for axis ticks).
    """
    if n is None:
        return MISSING
    for factor, unit in _BYTE_UNITS:
        if abs(n) >= factor:
            return f"{_number(n / factor, significant)} {unit}"
    return f"{n:.0f} B"


def format_count(n: float | None, significant: int | None = None) -> str:
    """A count with a K/M/G suffix: ``568740352`` → ``'568.74M'``, ``216`` → ``'216'``, ``None`` → ``'—'``.

    Args:
        n: A count (parameters, MACs...), or ``None``.
        significant: Significant digits instead of two decimals (for axis ticks).
    """
    if n is None:
        return MISSING
    for factor, suffix in _COUNT_UNITS:
        if abs(n) >= factor:
            return f"{_number(n / factor, significant)}{suffix}"
    return f"{n:g}" if isinstance(n, float) else str(n)


def _number(value: float, significant: int | None) -> str:
    return f"{value:.2f}" if significant is None else f"{value:.{significant}g}"
