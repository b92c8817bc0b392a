"""Predict a model's latency from a table: unit lookups, a per-op fallback, a learned correction.

For an architecture of the table's space (or any model the profiler traces), the prediction is

1. **units** (:mod:`edgeopt.latency.units`): the MAC layers with what follows them;
2. **lookup**: each unit's table entry; a unit the table lacks (another shape, another op, a
   model from outside the space) is predicted by the **fallback**, a per-kind linear model
   ``ms = a·MACs + b·bytes + c`` fitted on the table's own measured entries (non-negative least
   squares on relative errors), and the answer says how much of the estimate it covers;
3. **correction**: ``ms = α·Σunits + β·units + γ``, fitted on whole models measured on this
   machine (the train split of ``benchmarks/latency_predictor.py``, or ``edgeopt latency build
   --calibrate N``). It absorbs what a sum of in-context kernel times misses: the runtime's
   per-call overhead (γ), per-kernel costs of the tracer and of dispatch (β), and a uniform
   slow-down of traced kernels (α; ONNX Runtime's profiler inflates multi-threaded kernels).
   In a *standalone* table (:mod:`edgeopt.latency.standalone`) the units are whole parts (stem,
   block, tail) each timed alone, so each paid the per-call cost the network pays once: the
   fit is signed there and β comes out negative.

The interval is the 5th–95th percentile of the correction's leave-one-out relative errors on its
own training models (± the largest of them with fewer than 10 models); without a correction it is
a flat ±25% and the answer says it is uncorrected. Every answer is labelled an estimate.

Example:
    >>> predictor = Predictor(LatencyTable.load(path))
    >>> print(predictor.predict(arch))
    estimate: 1.84 ms (1.78–1.91 ms) · onnxruntime 1.32.0, fp32, 2 threads · table covers 100% of it
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgeopt.errors import EdgeoptError
from edgeopt.latency.key import TableKey, current_key
from edgeopt.latency.parts import PART_KINDS, arch_parts
from edgeopt.latency.table import LatencyTable, LinearFit
from edgeopt.latency.units import Unit, arch_units
from edgeopt.models.spaces import Arch, SearchSpace

UNCORRECTED_BAND = 0.25
FALLBACK_FEATURES = ["macs", "bytes", "one"]
CORRECTION_FEATURES = ["table_ms", "units", "one"]


@dataclass
class Prediction:
    """A latency estimate (never a measurement).

    Attributes:
        ms: The estimate, per run.
        low_ms, high_ms: Its interval (see the module docstring).
        units_ms: The uncorrected sum of the units.
        table_ms: Of that sum, what the table's entries give; fallback_ms: what the fallback gives.
        coverage: ``table_ms / units_ms``.
        units: Number of units; missing: keys the table lacks (the first 20).
        corrected: Whether a fitted correction was applied.
        warnings: What to keep in mind (foreign table, outside the space, uncorrected...).
        table: The table's conditions.
        kind: Always ``"estimate"``.
    """

    ms: float
    low_ms: float
    high_ms: float
    units_ms: float
    table_ms: float
    fallback_ms: float
    coverage: float
    units: int
    missing: list[str] = field(default_factory=list)
    corrected: bool = False
    warnings: list[str] = field(default_factory=list)
    table: str = ""
    kind: str = "estimate"

    def __str__(self) -> str:
        text = (f"estimate: {self.ms:.3f} ms ({self.low_ms:.3f}–{self.high_ms:.3f} ms) · {self.table} · "
                f"table covers {self.coverage:.0%} of it")
        if not self.corrected:
            text += " · uncorrected"
        return text + "".join(f" · warning: {w}" for w in self.warnings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return asdict(self)


class Predictor:
    """A table made ready for many fast predictions (see the module docstring).

    Args:
        table: The table.
        threads: The thread count predictions are for (a table measured with another is foreign).
        here: The conditions predictions are for (default: this machine, the table's runtime and
            precision, ``threads``).
        allow_foreign: Use a table measured under other conditions, with a warning on every
            estimate (else :class:`EdgeoptError`).
    """

    def __init__(self, table: LatencyTable, *, threads: int = 2, here: TableKey | None = None,
                 allow_foreign: bool = False) -> None:
        key = table.key
        self.table = table
        self.warnings = table.check_key(here or current_key(key.runtime, threads, key.precision),
                                        allow_foreign=allow_foreign)
        self.space = SearchSpace.model_validate(table.space_definition)
        self.entries = {k: e.ms for k, e in table.entries.items()}
        self.fallback = table.fallback or fit_fallback(table)
        self.label = key.describe()
        self.standalone = table.method == "standalone"
        if self.standalone and key.runtime == "onnxruntime":  # what its entries were measured in (relative.py)
            self.label += ", sessions that do not spin"

    def units(self, source: Arch | Any, input_size: Sequence[int] | None = None) -> tuple[list[Unit], list[str]]:
        """The units of an architecture or a model, and warnings about where they come from."""
        if isinstance(source, Arch):
            if source.space == self.space.name and len(source.stages) == len(self.space.stages):
                problems = self.space.problems(source)
                notes = [f"outside the table's space: {'; '.join(problems[:4])}"] if problems else []
                return (arch_parts if self.standalone else arch_units)(source, self.space), notes
            from edgeopt.models.space_net import build_model
            from edgeopt.models.spaces import get_space

            space = get_space(source.space) if source.space != self.space.name else self.space
            model = build_model(source, space)
            size = (1, space.in_chans, source.resolution, source.resolution)
            return _model_units(model, size), [f"outside the table's space: an architecture of {source.space!r}"]
        from torch import nn

        if not isinstance(source, nn.Module):
            raise EdgeoptError(f"cannot predict the latency of a {type(source).__name__}",
                               hint="pass an architecture of a space or a torch model")
        if input_size is None:
            raise EdgeoptError("the input size of the model is needed", hint="e.g. input_size=(1, 3, 224, 224)")
        return _model_units(source, tuple(input_size)), []

    def predict(self, source: Arch | Any, input_size: Sequence[int] | None = None) -> Prediction:
        """The estimate for an architecture (under a millisecond) or a model (a profile: a fraction of a second)."""
        units, notes = self.units(source, input_size)
        table_ms = fallback_ms = 0.0
        missing: list[str] = []
        for unit in units:
            if unit.key in self.entries:
                table_ms += self.entries[unit.key]
            else:
                fallback_ms += fallback_ms_of(self.fallback, unit)
                missing.append(unit.key)
        total = table_ms + fallback_ms
        coverage = table_ms / total if total else 0.0
        warnings = [*self.warnings, *notes]
        if missing:
            warnings.append(f"{len(missing)} of {len(units)} units are not in the table: the per-op fallback "
                            f"predicts {1 - coverage:.0%} of the estimate")
        correction = self.table.correction
        if correction is not None:
            ms = max(correction.apply({"table_ms": total, "units": len(units), "one": 1.0}), 1e-6)
            low, high = _interval(correction.residuals)
        else:
            ms, (low, high) = total, (-UNCORRECTED_BAND, UNCORRECTED_BAND)
            warnings.append("no correction fitted on whole models yet: the sum of units, ±25%")
        return Prediction(ms=ms, low_ms=ms * (1 + low), high_ms=ms * (1 + high), units_ms=total, table_ms=table_ms,
                          fallback_ms=fallback_ms, coverage=coverage, units=len(units), missing=missing[:20],
                          corrected=correction is not None, warnings=warnings, table=self.label)


def predict(source: Arch | Any, table: LatencyTable | str | os.PathLike[str], *, threads: int = 2,
            input_size: Sequence[int] | None = None, allow_foreign: bool = False) -> Prediction:
    """Predict the latency of an architecture or a model with a table (see :class:`Predictor`).

    The table must have been measured here (this CPU, the installed runtime) with ``threads``;
    else it is refused, unless ``allow_foreign``, which puts a warning on the estimate.

    Example:
        >>> predict(arch, "~/.cache/edgeopt/latency/mobilenet_v2-onnxruntime-fp32-t2-....json").ms
        1.84
    """
    loaded = table if isinstance(table, LatencyTable) else LatencyTable.load(table)
    return Predictor(loaded, threads=threads, allow_foreign=allow_foreign).predict(source, input_size)


def _model_units(model: Any, input_size: tuple[int, ...]) -> list[Unit]:
    from edgeopt.analysis import profile
    from edgeopt.latency.units import profile_units

    units = profile_units(model, profile(model, input_size))
    if not units:
        raise EdgeoptError(f"{type(model).__name__} has no conv, linear or matmul layer to predict from",
                           hint="the latency model predicts networks built of MAC layers")
    return units


def _interval(residuals: Sequence[float]) -> tuple[float, float]:
    if not residuals:
        return -UNCORRECTED_BAND, UNCORRECTED_BAND
    values = np.asarray(residuals, dtype=float)
    if len(values) < 10:
        bound = float(np.abs(values).max())
        return -bound, bound
    return float(np.percentile(values, 5)), float(np.percentile(values, 95))


# ---------------------------------------------------------------------------------------------
# Fitting


def relative_nnls(rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimising the squared *relative* errors ``(row·c − y) / y``."""
    from sklearn.linear_model import LinearRegression

    weights = 1.0 / np.maximum(targets, 1e-9)
    fit = LinearRegression(fit_intercept=False, positive=True).fit(rows * weights[:, None], targets * weights)
    return np.asarray(fit.coef_, dtype=float)


def relative_lstsq(rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Signed coefficients minimising the squared relative errors ``(row·c − y) / y``."""
    weights = 1.0 / np.maximum(targets, 1e-9)
    solution, *_ = np.linalg.lstsq(rows * weights[:, None], targets * weights, rcond=None)
    return np.asarray(solution, dtype=float)


def fit_fallback(table: LatencyTable) -> dict[str, LinearFit]:
    """Per unit kind, ``ms = a·MACs + b·bytes + c`` on the table's measured entries (plus ``all``)."""
    measured = [e for e in table.entries.values() if not e.derived and e.ms > 0]
    fits: dict[str, LinearFit] = {}
    for kind in ("conv", "dwconv", "linear", "other", *PART_KINDS, "all"):
        chosen = [e for e in measured if kind == "all" or e.kind == kind]
        if len(chosen) < 4:
            continue
        rows = np.array([[e.macs, e.bytes, 1.0] for e in chosen], dtype=float)
        targets = np.array([e.ms for e in chosen], dtype=float)
        coef = relative_nnls(rows, targets)
        residuals = (rows @ coef - targets) / targets
        fits[kind] = LinearFit(features=FALLBACK_FEATURES, coef=[float(c) for c in coef],
                               residuals=[float(r) for r in residuals[:200]], samples=len(chosen))
    return fits


def fallback_ms_of(fits: dict[str, LinearFit], unit: Unit) -> float:
    """A unit's fallback estimate (its kind's fit, else the all-kinds fit, else 0)."""
    fit = fits.get(unit.kind) or fits.get("all")
    if fit is None:
        return 0.0
    return max(fit.apply({"macs": float(unit.macs), "bytes": float(unit.bytes), "one": 1.0}), 0.0)


def fit_correction(table: LatencyTable, samples: Sequence[tuple[Arch | Any, float]],
                   input_sizes: Sequence[Sequence[int] | None] | None = None) -> LinearFit:
    """Fit the correction on whole models measured here (architecture or model, de-noised ms).

    Stores it in ``table.correction`` (the caller saves the table) and returns it.

    Raises:
        EdgeoptError: fewer than 3 samples.
    """
    if len(samples) < 3:
        raise EdgeoptError(f"a correction needs at least 3 measured models, got {len(samples)}",
                           hint="measure more architectures (e.g. --calibrate 8)")
    table.correction = None
    predictor = Predictor(table, here=table.key)
    rows, targets = [], []
    for index, (source, measured) in enumerate(samples):
        size = input_sizes[index] if input_sizes is not None else None
        raw = predictor.predict(source, size)
        rows.append([raw.units_ms, float(raw.units), 1.0])
        targets.append(float(measured))
    matrix, y = np.array(rows), np.array(targets)
    # A standalone table's parts each paid a per-call cost the whole model pays once: β < 0 there.
    solve = relative_lstsq if table.method == "standalone" else relative_nnls
    coef = solve(matrix, y)
    residuals = []
    for i in range(len(y)):  # leave-one-out: the interval must not be fitted on the point it covers
        keep = np.arange(len(y)) != i
        loo = solve(matrix[keep], y[keep]) if keep.sum() >= 3 else coef
        residuals.append(float((matrix[i] @ loo - y[i]) / y[i]))
    fit = LinearFit(features=CORRECTION_FEATURES, coef=[float(c) for c in coef], residuals=residuals, samples=len(y))
    if not all(math.isfinite(c) for c in fit.coef):
        raise EdgeoptError("the correction fit failed (non-finite coefficients)", hint="check the measurements")
    table.correction = fit
    return fit
