"""The edge-vs-cloud resource chart: compute, bandwidth, RAM and power of catalog devices.

One panel per resource, devices as horizontal bars on a log scale (a microcontroller and a
datacenter GPU are 6-7 orders of magnitude apart), edge and cloud devices in two colours. The
PNG is written atomically.

Example:
    >>> plot_resources(load_catalog(), "devices.png", precision="int8")  # doctest: +SKIP
    PosixPath('devices.png')
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, works headless and in CI
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullLocator

from edgeopt.devices.precision import check_precision
from edgeopt.devices.schema import CATEGORIES, Device
from edgeopt.utils import atomic_path
from edgeopt.utils.units import format_bytes

COLOURS = {"edge": "#1f77b4", "cloud": "#d95f02", "host": "#2ca02c"}


def _group(device: Device) -> str:
    return "host" if device.category == "host" else "cloud" if device.is_cloud else "edge"


def _si(value: float) -> str:
    """``1500`` -> ``'1.5k'``, ``0.168`` -> ``'0.168'`` (compact bar labels)."""
    for factor, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _panel(ax: Axes, values: list[float | None], colours: list[str], title: str,
           label: Callable[[float], str]) -> None:
    """Log-scale horizontal bars from a decade below the smallest value; ``None`` shows n/a."""
    known = [v for v in values if v] or [1.0]  # all n/a: an empty panel still draws
    low = 10 ** math.floor(math.log10(min(known))) / 10
    high = 10 ** math.ceil(math.log10(max(known))) * 10
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    for y, (value, colour) in enumerate(zip(values, colours, strict=True)):
        if value is None:
            ax.text(low * 1.5, y, "n/a", va="center", fontsize=8, color="0.4")
            continue
        ax.barh(y, value - low, left=low, color=colour, height=0.7)
        ax.text(value * 1.25, y, label(value), va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", which="major", alpha=0.3)


def _binary_ticks(ax: Axes) -> None:
    """Ticks at 1 KiB, 1 MiB, 1 GiB, 1 TiB: decimal decades read badly as binary sizes."""
    low, high = ax.get_xlim()
    ticks = [(1024**k, f"1 {unit}") for k, unit in enumerate(("B", "KiB", "MiB", "GiB", "TiB"))
             if low <= 1024**k <= high]
    ax.set_xticks([t for t, _ in ticks], [name for _, name in ticks])
    ax.xaxis.set_minor_locator(NullLocator())


def _sorted(devices: Sequence[Device], precision: str) -> list[Device]:
    """Edge first, then cloud; within a category by compute (best available peak)."""
    def key(d: Device) -> tuple[int, float]:
        peak = d.peak_gops.at(precision) or max(d.peak_gops.at(p) or 0 for p in d.supported_precisions())
        return CATEGORIES.index(d.category), peak
    return sorted(devices, key=key)


def plot_resources(devices: Sequence[Device], path: str | os.PathLike[str],
                   precision: str = "int8") -> Path:
    """Write a PNG comparing compute (at ``precision``), bandwidth, RAM and power.

    Args:
        devices: Devices to show (e.g. :func:`load_catalog`).
        path: Output PNG.
        precision: Which peak the compute panel shows; devices without it show "n/a".

    Returns:
        The path written.
    """
    check_precision(precision)
    devs = _sorted(devices, precision)
    if not devs:
        raise ValueError("plot_resources needs at least one device")
    colours = [COLOURS[_group(d)] for d in devs]
    panels: list[tuple[list[float | None], str, Callable[[float], str]]] = [
        ([d.peak_gops.at(precision) for d in devs], f"peak compute, {precision} (GOP/s)", _si),
        ([d.memory_bandwidth_gbs for d in devs], "memory bandwidth (GB/s)", _si),
        ([float(d.ram_bytes) for d in devs], "RAM", lambda v: format_bytes(int(v))),
        ([d.typical_power_w for d in devs], "typical power (W)", _si),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(17, 0.42 * len(devs) + 2.2), sharey=True)
    for ax, (values, title, label) in zip(axes, panels, strict=True):
        _panel(ax, values, colours, title, label)
    _binary_ticks(axes[2])
    axes[0].set_yticks(range(len(devs)), [d.display_name for d in devs], fontsize=8)
    axes[0].invert_yaxis()
    handles = [Rectangle((0, 0), 1, 1, color=COLOURS[g]) for g in ("edge", "cloud", "host")
               if any(_group(d) == g for d in devs)]
    names = [g for g in ("edge", "cloud", "host") if any(_group(d) == g for d in devs)]
    fig.legend(handles, names, loc="upper right", ncol=len(names), frameon=False)
    fig.suptitle("Edge vs cloud resources: catalog figures (vendor-published, derived or assumed "
                 "peaks, not measurements); log scales", x=0.01, ha="left", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return Path(path)
