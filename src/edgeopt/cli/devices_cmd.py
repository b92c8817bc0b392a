"""``edgeopt devices`` (the catalog and its chart) and ``edgeopt fit`` (does a model fit?)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from edgeopt.cli.common import TRUST_OPTION, check_output, console, print_json, profile_source
from edgeopt.errors import EdgeoptError


def devices(
    device_file: list[Path] = typer.Option(
        None, "--device-file", "-f", help="Your own device file (YAML/JSON, repeatable)."),
    plot: Path = typer.Option(None, "--plot", help="Write the edge-vs-cloud resource chart (PNG)."),
    precision: str = typer.Option("int8", "--precision", "-p",
                                  help="Precision of the chart's compute panel."),
    as_json: bool = typer.Option(False, "--json", help="Print the catalog, sources included, as JSON."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --plot file."),
) -> None:
    """List target devices: peak compute per precision, bandwidth, RAM, storage, power.

    Every figure has a source (see --json or docs/devices.md); peaks are vendor-published or
    derived, never measured, and anything computed from them is an estimate.
    """
    from edgeopt.devices import load_catalog, plot_resources
    from edgeopt.devices.precision import check_precision
    from edgeopt.devices.tables import format_device_table

    check_precision(precision)
    if plot is not None:
        if plot.suffix.lower() != ".png":
            raise EdgeoptError(f"the chart is a PNG image, got {plot.name!r}", hint="e.g. --plot devices.png")
        check_output(plot, force=force, inputs=tuple(device_file or ()), directory=False)
    catalog = load_catalog(device_file or ())
    if plot is not None:
        plot_resources(catalog, plot, precision=precision)
    if as_json:
        print_json({"devices": [d.model_dump() for d in catalog],
                    "plot": None if plot is None else str(plot)})
        return
    console.print(format_device_table(catalog))
    if plot is not None:
        console.print(f"chart written to {plot}")


def fit(
    model: str = typer.Argument(..., help="Registry name, package.module:factory, a checkpoint, "
                                          "a .pt2 program, or an exported .onnx file."),
    device: str = typer.Option(..., "--device", "-d", help="Device name (see `edgeopt devices`)."),
    device_file: list[Path] = typer.Option(
        None, "--device-file", "-f", help="Your own device file (YAML/JSON, repeatable)."),
    precision: str = typer.Option("fp32", "--precision", "-p", help="fp32, fp16 or int8."),
    latency_budget_ms: float = typer.Option(
        None, "--latency-budget-ms", help="Fail if the estimated latency exceeds this."),
    input_size: str = typer.Option(
        None, "--input-size", "-i", help="C,H,W (or N,C,H,W). Default: the checkpoint's or the "
                                         ".onnx graph's, else 3,224,224."),
    model_arg: list[str] = typer.Option(
        None, "--model-arg", "-a", help="Model option KEY=VALUE (repeatable)."),
    weights: Path = typer.Option(None, "--weights", "-w", help="State dict (.pt/.safetensors) to load."),
    trust_code: bool = TRUST_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Check whether a model fits a device (storage, RAM, latency budget) and estimate its
    latency (roofline) and energy (Horowitz 45 nm figures). Every figure is an estimate.

    For an .onnx artifact the file's own size is checked against storage.
    """
    from edgeopt.devices import check_fit, estimate_energy, estimate_latency, get_device
    from edgeopt.devices.precision import peak_ops_per_second

    if latency_budget_ms is not None and not (latency_budget_ms > 0 and math.isfinite(latency_budget_ms)):
        raise EdgeoptError(f"latency budget must be a positive number of milliseconds, got {latency_budget_ms!r}",
                           hint="e.g. --latency-budget-ms 50")
    target = get_device(device, device_file or ())
    peak_ops_per_second(target, precision)  # an unsupported precision fails before profiling
    cost, artifact_bytes = profile_source(model, input_size=input_size, model_arg=model_arg, weights=weights,
                                          trust_code=trust_code)
    report = check_fit(cost, target, precision, latency_budget_ms, weights_bytes=artifact_bytes)
    latency = report.latency or estimate_latency(cost, target, precision)
    energy = estimate_energy(cost, target, precision)
    if as_json:
        print_json({"kind": "estimate", "model": model, "device": target.model_dump(),
                    "macs": cost.macs, "params": cost.params, "fit": report.to_dict(),
                    "latency": latency.to_dict(), "energy": energy.to_dict()})
        return
    _print_report(report, latency, energy)


def _print_report(report: Any, latency: Any, energy: Any) -> None:
    from edgeopt.devices.tables import format_energy_line, format_fit_table, format_latency_table

    console.print(format_fit_table(report))
    console.print(format_latency_table(latency))
    console.print(format_energy_line(energy))
