"""Rich tables for the catalog, fit reports and estimates; every estimate says so.

Example:
    >>> from rich.console import Console
    >>> Console().print(format_device_table(load_catalog()))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import JustifyMethod
from rich.table import Table

from edgeopt.devices.energy import EnergyEstimate
from edgeopt.devices.fit import FitCheck, FitReport
from edgeopt.devices.latency import LatencyEstimate
from edgeopt.devices.schema import PRECISIONS, Device
from edgeopt.utils.units import format_bytes, format_count


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{format_count(value)}{unit}"


def format_device_table(devices: Sequence[Device]) -> Table:
    """One row per device: category, peaks per precision, bandwidth, RAM, storage, power."""
    table = Table(title="Device catalog",
                  caption="Peaks are vendor-published, derived or assumed figures (sources: "
                          "`edgeopt devices --json`, docs/devices.md), not measurements. "
                          "— : unsupported or not applicable.", caption_justify="left")
    table.add_column("name")
    table.add_column("category")
    for precision in PRECISIONS:
        table.add_column(f"{precision} GOP/s", justify="right")
    for title in ("bandwidth GB/s", "RAM", "storage", "power W"):
        table.add_column(title, justify="right")
    for d in devices:
        table.add_row(
            d.name, d.category, *(_num(d.peak_gops.at(p)) for p in PRECISIONS),
            _num(d.memory_bandwidth_gbs), format_bytes(d.ram_bytes),
            "—" if d.storage_bytes is None else format_bytes(d.storage_bytes),
            _num(d.typical_power_w))
    return table


def _amount(check: FitCheck, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g} ms" if check.unit == "ms" else format_bytes(int(value))


def _status(check: FitCheck) -> str:
    return {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "n/a"}[check.passed]


def format_fit_table(report: FitReport) -> Table:
    """One row per check: required, available, margin (absolute and %), pass/fail."""
    colour = "green" if report.fits else "red"
    table = Table(title=f"Fit on {report.device} at {report.precision} (estimate)",
                  caption=f"Verdict (estimate): [bold {colour}]{report.verdict}[/]. "
                          "Equal to the limit fits; margin % is of what is available.",
                  caption_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("check", "left"), ("required", "right"), ("available", "right"), ("margin", "right"),
        ("margin %", "right"), ("result", "left"), ("required is", "left"))
    for title, justify in columns:
        table.add_column(title, justify=justify)
    for c in report.checks:
        pct = "n/a" if c.margin_pct is None else f"{c.margin_pct:+.1f}%"
        margin = "n/a" if c.margin is None else (
            ("+" if c.margin >= 0 else "-") + _amount(c, abs(c.margin)))
        table.add_row(c.name, _amount(c, c.required), _amount(c, c.available), margin, pct,
                      _status(c), c.detail)
    return table


def format_latency_table(estimate: LatencyEstimate, max_rows: int = 10) -> Table:
    """The slowest rows of a roofline estimate, with the total in the caption."""
    table = Table(title=f"Latency estimate on {estimate.device} at {estimate.precision} "
                        f"(roofline, slowest {max_rows} rows)",
                  caption=f"{estimate}. Peak {format_count(estimate.peak_gops)} GOP/s, "
                          f"bandwidth {format_count(estimate.bandwidth_gbs)} GB/s. "
                          "Not a measurement.", caption_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("layer", "left"), ("op", "left"), ("ops", "right"), ("bytes", "right"),
        ("ms (estimate)", "right"), ("bound", "left"))
    for title, justify in columns:
        table.add_column(title, justify=justify)
    for row in sorted(estimate.layers, key=lambda r: -r.ms)[:max_rows]:
        table.add_row(row.name, row.op_type, format_count(row.ops), format_bytes(row.bytes_moved),
                      f"{row.ms:.4g}", row.bound)
    return table


def format_energy_line(estimate: EnergyEstimate) -> str:
    """One line with both energy estimates and the citation."""
    return (f"{estimate} [dim]({estimate.mac_pj:g} pJ per MAC, {estimate.dram_pj_per_word:g} pJ "
            f"per 32-bit DRAM word; {estimate.source})[/]")
