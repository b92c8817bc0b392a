"""The int8 self-check: does the deployed file compute what its quantized model says it should?

The right reference for an int8 file is not the float model (int8 is *meant* to differ from it)
but the exact simulation of its own int8 arithmetic: for an ONNX QDQ file, the same file run with
ONNX Runtime's graph optimizations off (every DequantizeLinear → float op → QuantizeLinear runs as
written); for a ``.pte``, the converted PT2E model it was lowered from. The deployed kernels
(fused ``QLinearConv``, XNNPACK) compute the same integers except for rounding: each
requantization may land one step away from the simulation's.

Tolerance from the step sizes. The simulation differs from the float model by its rounding
noise: every quantizer adds an error uniform in ±½ step (RMS ``Δ/√12``), which the network
carries to the output. A kernel that is off by at most one whole step at every quantizer adds at
most ``Δ`` per quantizer, carried the same way, so its deviation from the simulation is at most
``√12 ×`` the simulation's own noise (measured: RMS of simulation minus float, on the same
inputs), plus one step of the output's own quantizer (``Δ_out``, when the output is quantized):

    RMS(file - simulation) <= √12 · RMS(simulation - float) + Δ_out

Real kernels stay far inside this (most codes agree exactly); a wrong file (a mis-lowered layer,
int16 saturation in x86 kernels without VNNI on full-range weights) is off by far more. A failure
names the first layer whose codes differ from the simulation by more than one step, and says how
to proceed (``check=False``).

Example:
    >>> report = onnx_self_check(fp32_path, "m.int8.onnx", samples)
    >>> report["passed"], report["deviation_rms"] <= report["tolerance_rms"]
    (True, True)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from edgeopt.errors import EdgeoptError
from edgeopt.quantize.onnx_graph import GraphIndex, run_with_outputs

SQRT12 = math.sqrt(12.0)
CHECK_SAMPLES = 64


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values.astype(np.float64))))) if values.size else 0.0


def step_tolerance(simulation: np.ndarray, reference: np.ndarray, output_step: float = 0.0) -> float:
    """``√12 · RMS(simulation - float) + Δ_out`` (see the module docstring)."""
    return SQRT12 * _rms(simulation.astype(np.float64) - reference) + output_step


def onnx_self_check(fp32_path: str | Path, int8_path: str | Path, samples: np.ndarray,
                    *, raise_on_failure: bool = True) -> dict[str, Any]:
    """Compare an int8 QDQ file as deployed with its own simulation (optimizations off).

    Raises:
        EdgeoptError: the deviation exceeds the step-derived tolerance (``raise_on_failure``).
    """
    inputs = samples[:CHECK_SAMPLES]
    q = GraphIndex.load(int8_path)
    output = q.outputs[0]
    reference = run_with_outputs(fp32_path, inputs, [GraphIndex.load(fp32_path).outputs[0]])
    float_out = next(iter(reference.values())).astype(np.float64)
    codes = [qz.codes for qz in q.quantizers()]
    deployed = run_with_outputs(int8_path, inputs, [output, *codes])
    simulated = run_with_outputs(int8_path, inputs, [output, *codes], optimize=False)
    tolerance = step_tolerance(simulated[output], float_out)
    deviation = _rms(deployed[output].astype(np.float64) - simulated[output])
    report: dict[str, Any] = {
        "reference": "the same QDQ file run as written (ONNX Runtime, graph optimizations off)",
        "deviation_rms": deviation, "tolerance_rms": tolerance, "passed": bool(deviation <= tolerance),
        "simulation_noise_rms": _rms(simulated[output] - float_out), "samples": len(inputs),
        "rule": "RMS(file - simulation) <= sqrt(12) * RMS(simulation - float) + output step",
    }
    if not report["passed"]:
        layer, share = _first_off_by_more_than_one(q, deployed, simulated)
        report.update(first_diverging=layer, share_off=share)
        if raise_on_failure:
            where = f"; first diverging layer: {layer} ({share:.1%} of its codes off by more than one step)" if layer \
                else ""
            raise EdgeoptError(
                f"the int8 file does not compute its own quantized model: output off its QDQ simulation by RMS "
                f"{deviation:.3g}, more than the {tolerance:.3g} its quantization steps allow{where}",
                hint="on x86 without VNNI keep reduce_range 'auto' (int16 saturation); to write the file anyway "
                "pass check=False (recipe: check: false)",
            )
    return report


def _first_off_by_more_than_one(q: GraphIndex, deployed: dict[str, np.ndarray],
                                simulated: dict[str, np.ndarray]) -> tuple[str | None, float]:
    for quantizer in q.quantizers():
        a = deployed[quantizer.codes].astype(np.int64)
        b = simulated[quantizer.codes].astype(np.int64)
        off = np.abs(a - b) > 1
        if off.any():
            return q.describe(quantizer.tensor)[0], float(np.mean(off))
    return None, 0.0


def pte_self_check(
    simulation_out: np.ndarray, float_out: np.ndarray, deployed_out: np.ndarray, output_step: float,
) -> dict[str, Any]:
    """The step-derived comparison of a ``.pte``'s output with its PT2E simulation's (figures only)."""
    tolerance = step_tolerance(simulation_out, float_out.astype(np.float64), output_step)
    deviation = _rms(deployed_out.astype(np.float64) - simulation_out)
    return {"reference": "the converted PT2E model the program was lowered from (its int8 simulation)",
            "deviation_rms": deviation, "tolerance_rms": tolerance, "passed": bool(deviation <= tolerance),
            "simulation_noise_rms": _rms(simulation_out.astype(np.float64) - float_out),
            "output_step": output_step, "samples": len(float_out),
            "rule": "RMS(file - simulation) <= sqrt(12) * RMS(simulation - float) + output step"}
