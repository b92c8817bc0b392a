"""What a candidate costs on the target: int8 memory from the exact profiler, latency by measurement,
table or MAC count, and the constraints a device or the user sets.

Constraints follow Optuna's convention (a value ≤ 0 is satisfied), so the sampler can steer away
from what cannot deploy (``constraints_func`` of TPE and NSGA-II).

Example:
    >>> cost = arch_cost(build_model(arch), (1, 1, 28, 28))
    >>> cost.weight_bytes_int8 == cost.params
    True
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.search.config import SearchConfig


@dataclass(frozen=True)
class ArchCost:
    """Counted (not measured) costs of a network at one input size.

    Attributes:
        macs: Multiply-accumulates per image.
        params: Parameters.
        weight_bytes_int8: Weights at one byte each (what flash holds at int8).
        peak_sram_int8: Peak live activation bytes at one byte per value (what SRAM must hold).
    """

    macs: int
    params: int
    weight_bytes_int8: int
    peak_sram_int8: int

    def to_dict(self) -> dict[str, int]:
        """Plain numbers (for trial attributes and JSON)."""
        return asdict(self)


def arch_cost(model: nn.Module, input_size: tuple[int, ...]) -> ArchCost:
    """Count ``model``'s costs with edgeopt's exact profiler at batch 1."""
    from edgeopt.analysis.profiler import profile
    from edgeopt.devices.traffic import peak_activation_bytes, weight_bytes

    counted = profile(model, input_size)
    return ArchCost(macs=counted.macs, params=counted.params, weight_bytes_int8=weight_bytes(counted, "int8"),
                    peak_sram_int8=peak_activation_bytes(counted, "int8"))


@dataclass(frozen=True)
class Limits:
    """The bounds a candidate must meet (None: unbounded)."""

    sram_bytes: int | None = None
    flash_bytes: int | None = None
    latency_ms: float | None = None

    @classmethod
    def of(cls, config: SearchConfig) -> Limits:
        """The config's bounds; a named device supplies RAM and storage unless given explicitly.

        Raises:
            EdgeoptError: the device is not in the catalog.
        """
        sram, flash = config.max_sram_bytes, config.max_flash_bytes
        if config.device is not None:
            from edgeopt.devices.catalog import get_device

            device = get_device(config.device)
            sram = sram if sram is not None else device.ram_bytes
            flash = flash if flash is not None else device.storage_bytes
        return cls(sram, flash, config.latency_budget_ms)

    def violations(self, cost: ArchCost, latency_ms: float | None) -> list[float]:
        """Optuna constraint values, one per bound set (≤ 0: met), as fractions over the bound."""
        values = []
        if self.sram_bytes is not None:
            values.append(cost.peak_sram_int8 / self.sram_bytes - 1.0)
        if self.flash_bytes is not None:
            values.append(cost.weight_bytes_int8 / self.flash_bytes - 1.0)
        if self.latency_ms is not None and latency_ms is not None:
            values.append(latency_ms / self.latency_ms - 1.0)
        return values

    def names(self) -> list[str]:
        """The name of each constraint value :meth:`violations` returns, in order."""
        return [n for n, v in (("peak SRAM (int8)", self.sram_bytes), ("weights (int8)", self.flash_bytes),
                               ("latency", self.latency_ms)) if v is not None]

    def is_empty(self) -> bool:
        """Whether nothing is bounded."""
        return self.sram_bytes is None and self.flash_bytes is None and self.latency_ms is None


class LatencyMeter:
    """Latency of a candidate as the config asks: measured here, predicted from a table, or MACs.

    ``measure`` exports the candidate to ONNX (and quantizes it for ``precision: int8``, with
    calibration samples from the training split) and times it in ONNX Runtime with the bench's
    de-noised protocol, shortened: a trial is one of hundreds, the final candidates are measured
    again in full.
    """

    def __init__(self, config: SearchConfig, calibration: torch.Tensor | None = None) -> None:
        self.config = config
        self.calibration = calibration
        self._predictor: Any = None

    @property
    def unit(self) -> str:
        """``ms``, or ``MMAC`` when latency is the MAC count."""
        return "MMAC" if self.config.latency == "macs" else "ms"

    def latency(self, model: nn.Module, arch: Any, input_size: tuple[int, ...], cost: ArchCost) -> float:
        """The candidate's latency (ms; MMAC with ``latency: macs``)."""
        if self.config.latency == "macs":
            return cost.macs / 1e6
        if self.config.latency == "predict":
            return float(self._table_predictor().predict(arch).ms)
        return self.measure(model, input_size)

    def measure(self, model: nn.Module, input_size: tuple[int, ...], runs: int = 30, repeats: int = 3) -> float:
        """Latency (ms) of the exported candidate in ONNX Runtime: the least of ``repeats`` medians.

        The least median of a few short blocks discards blocks slowed by other work on the
        machine, as the bench's gate does at length; fp32 files come from the quick exporter
        (:func:`edgeopt.export.onnx_export.export_onnx_quick`), int8 ones from ``ptq``.
        """
        import numpy as np

        from edgeopt.export.onnx_export import export_onnx_quick
        from edgeopt.runtime.benchmark import open_runner

        with tempfile.TemporaryDirectory(prefix="edgeopt-search-") as tmp:
            example = torch.zeros(input_size)
            if self.config.precision == "int8":
                from edgeopt.artifact import Artifact

                artifact = Artifact.from_file(self._quantized(model, example, Path(tmp) / "candidate.int8.onnx"))
            else:
                artifact = export_onnx_quick(model, example, Path(tmp) / "candidate.onnx")
            runner = open_runner(artifact, threads=self.config.threads)
            timed = np.zeros(input_size, dtype=np.float32)
            medians = [runner.time(timed, warmup=10 if i == 0 else 3, runs=runs).median_ms for i in range(repeats)]
        return float(min(medians))

    def _quantized(self, model: nn.Module, example: torch.Tensor, path: Path) -> Path:
        from edgeopt.quantize.api import ptq

        if self.calibration is None:
            raise EdgeoptError("int8 latency needs calibration samples", hint="this is a bug in search; report it")
        ptq(model, self.calibration, backend="onnxruntime", path=path, example_input=example, check=False)
        return path

    def _table_predictor(self) -> Any:
        if self._predictor is None:
            from edgeopt.latency.predictor import Predictor
            from edgeopt.latency.table import LatencyTable

            assert self.config.latency_table is not None  # checked by SearchConfig
            self._predictor = Predictor(LatencyTable.load(self.config.latency_table), threads=self.config.threads)
        return self._predictor
