"""What edgeopt ships and measures: ``Artifact``, ``Measurement``, and the table of formats.

An artifact is a model file on disk that a runtime executes (an ONNX file, an ExecuTorch
``.pte``, a torch checkpoint). Its size and hash are read from the file itself, never computed
from the model it came from, and every :class:`Measurement` is taken on the file in its runtime
(DESIGN.md, "Measured, not claimed"). These are the types ``results.json`` stores, the exporters
return and the benchmarks produce, so they live here, below all of them: this module imports
only pydantic, the standard library and :mod:`edgeopt.errors` (no torch, no runtimes).

Every model is frozen (change one with ``model_copy`` or the helpers) and keeps unknown keys
(``extra="allow"``), so fields written by a newer edgeopt survive a round trip through an older one.

Example:
    >>> art = Artifact.from_file("out/model.onnx", input_shape=(1, 1, 28, 28))
    >>> art.format, art.size_bytes, art.sha256[:12]
    ('onnx', 857642, '3f0c5b1e9a2d')
    >>> art.with_measurement(m).relative_to("out").to_dict()["path"]
    'model.onnx'
    >>> artifact_suffix("onnx", "int8"), infer_format("net.pte")
    ('.int8.onnx', 'executorch')
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    computed_field,
    field_serializer,
    model_validator,
)

from edgeopt.errors import EdgeoptError, suggest

# --- formats and suffixes: the one table every command and step reads -------------------------

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")  # edgeopt checkpoints / state dicts
PROGRAM_SUFFIX = ".pt2"  # a program saved with torch.export.save
MODEL_FILE_SUFFIXES = (*CHECKPOINT_SUFFIXES, PROGRAM_SUFFIX)  # every torch model file


@dataclass(frozen=True)
class ArtifactFormat:
    """One artifact format: the runtime that executes it and the suffixes its files have.

    Attributes:
        name: ``"onnx"``, ``"executorch"``, ``"torch"`` or ``"openvino"`` (``Artifact.format``).
        runtime: The runtime that executes it (``Measurement.runtime``, a quantize backend).
        suffixes: Every suffix a file of this format may have (lower case, with the dot).
        precision_suffixes: ``(precision, suffix)`` pairs: the suffix of a new file of that precision.
    """

    name: str
    runtime: str
    suffixes: tuple[str, ...]
    precision_suffixes: tuple[tuple[str, str], ...]


FORMATS: Mapping[str, ArtifactFormat] = {
    f.name: f
    for f in (
        ArtifactFormat("onnx", "onnxruntime", (".onnx",), (("fp32", ".onnx"), ("int8", ".int8.onnx"))),
        ArtifactFormat("executorch", "executorch", (".pte",), (("fp32", ".pte"), ("int8", ".int8.pte"))),
        ArtifactFormat("torch", "torch", MODEL_FILE_SUFFIXES, (("fp32", ".pt"),)),
        # An OpenVINO IR is model.xml plus its weights in model.bin beside it (see companion_files).
        ArtifactFormat("openvino", "openvino", (".xml",), (("fp32", ".xml"),)),
    )
}


def companion_files(path: str | os.PathLike[str], format: str) -> tuple[Path, ...]:
    """Every file an artifact is made of: the file itself, and for an OpenVINO IR its ``.bin``.

    Example:
        >>> companion_files("out/model.xml", "openvino")
        (PosixPath('out/model.xml'), PosixPath('out/model.bin'))
    """
    file = Path(path)
    return (file, file.with_suffix(".bin")) if format == "openvino" else (file,)


def get_format(name: str) -> ArtifactFormat:
    """The :class:`ArtifactFormat` called ``name``.

    Raises:
        EdgeoptError: no format has that name.
    """
    if name not in FORMATS:
        raise EdgeoptError(f"unknown artifact format {name!r}",
                           hint=suggest(name, FORMATS) or f"use one of {', '.join(FORMATS)}")
    return FORMATS[name]


def format_for_runtime(runtime: str) -> str:
    """The format a runtime executes: ``"onnxruntime"`` → ``"onnx"`` (quantize backends are runtimes).

    Raises:
        EdgeoptError: no format runs in ``runtime``.
    """
    for fmt in FORMATS.values():
        if fmt.runtime == runtime:
            return fmt.name
    runtimes = [f.runtime for f in FORMATS.values()]
    raise EdgeoptError(f"unknown runtime {runtime!r}", hint=suggest(runtime, runtimes) or f"use one of {runtimes}")


def artifact_suffix(format: str, precision: str = "fp32") -> str:
    """The suffix of a new file of ``format`` at ``precision``.

    Raises:
        EdgeoptError: unknown format, or a precision that format has no files of.

    Example:
        >>> artifact_suffix("executorch", "int8")
        '.int8.pte'
    """
    fmt = get_format(format)
    suffixes = dict(fmt.precision_suffixes)
    if precision not in suffixes:
        raise EdgeoptError(f"no {precision} files of format {format!r}", hint=f"known: {', '.join(suffixes)}")
    return suffixes[precision]


def infer_format(path: str | os.PathLike[str]) -> str:
    """The format a file's suffix implies (``model.int8.onnx`` → ``"onnx"``).

    Raises:
        EdgeoptError: the suffix is not a known artifact suffix.

    Example:
        >>> infer_format(Path("net.onnx"))
        'onnx'
    """
    suffix = Path(path).suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.suffixes:
            return fmt.name
    known = ", ".join(sorted(s for f in FORMATS.values() for s in f.suffixes))
    raise EdgeoptError(f"cannot tell the format of {str(path)!r}", hint=f"known suffixes: {known}")


# --- what was measured or estimated on an artifact -------------------------------------------


class _Frozen(BaseModel):
    """Base: immutable, and unknown keys kept (data from a newer edgeopt survives a round trip)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (for results.json and ``--json`` output)."""
        return self.model_dump(mode="json")


class ParityReport(_Frozen):
    """How closely an artifact's outputs match the eager model's (see :mod:`edgeopt.export.parity`).

    Attributes:
        max_abs_error: Largest absolute difference of any output element.
        max_rel_error: Largest ``max|a - b| / max|reference|`` over the batches compared.
        top1_agreement: Share of samples whose arg-max class is the same in both.
        n_samples: Samples compared (over all batches).
        rtol, atol: The tolerance applied.
        passed: Every batch is within ``atol + rtol * max|reference|``.
    """

    max_abs_error: float
    max_rel_error: float
    top1_agreement: float
    n_samples: int
    rtol: float
    atol: float
    passed: bool

    def summary(self) -> str:
        """One line with the figures, e.g. for an error message or the CLI."""
        return (
            f"max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g} "
            f"(rtol {self.rtol:g}, atol {self.atol:g}), top-1 agreement "
            f"{self.top1_agreement:.2%} over {self.n_samples} samples"
        )


class LatencyEstimate(_Frozen):
    """A modelled latency on a catalog device, as results.json stores it: never a measurement.

    Accepts ``total_ms`` for ``latency_ms``, so ``edgeopt.devices``' roofline estimate
    (``edgeopt.devices.LatencyEstimate.to_dict()``, the full per-layer one) can be stored as it is.
    """

    device: str
    precision: str
    latency_ms: float = Field(gt=0, validation_alias=AliasChoices("latency_ms", "total_ms"))
    kind: Literal["estimate"] = "estimate"


class Measurement(_Frozen):
    """What a benchmark measured on one artifact, in one runtime, on one machine.

    The fields after ``batch_size`` and ``latency_ms_median`` have defaults so results.json files
    written before they existed still load.

    Attributes:
        runtime: ``"onnxruntime"``, ``"executorch"``, ``"torch"``, ``"openvino"``.
        artifact: Path of the artifact file.
        threads: Intra-op threads the runtime used.
        batch_size: Batch size of the timed input.
        latency_ms_median: Median latency (median of round medians when interleaved).
        latency_ms_p90: 90th percentile latency.
        latency_ms_min: Fastest run.
        runs: Timed runs.
        warmup: Untimed warm-up calls before timing.
        accuracy: Top-1 accuracy of the artifact's own outputs on the test split, None without data.
        peak_memory_bytes: Peak RSS of a fresh process that loads and runs the artifact once.
        size_bytes: Size of the artifact file.
        format: The artifact's format.
        latency_ms_spread: Min and max of the round medians.
        baseline_memory_bytes: Peak RSS of the same process loading nothing (runtime imported).
        execution_precision: The precision the runtime computed in when it was chosen at run time
            (OpenVINO: ``"fp32"`` or ``"bf16"``); None where the file's precision decides.
    """

    runtime: str
    artifact: str = ""
    threads: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    latency_ms_median: float = Field(gt=0)
    latency_ms_p90: float | None = Field(default=None, gt=0)
    latency_ms_min: float | None = Field(default=None, gt=0)
    runs: PositiveInt | None = None
    warmup: NonNegativeInt | None = None
    accuracy: float | None = Field(default=None, ge=0.0, le=1.0)
    peak_memory_bytes: NonNegativeInt | None = None
    size_bytes: NonNegativeInt | None = None
    format: str = ""
    latency_ms_spread: tuple[float, float] | None = None
    baseline_memory_bytes: NonNegativeInt | None = None
    execution_precision: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        # to_dict() writes artifact_memory_bytes, which is derived: reading it back as an extra
        # key would shadow the property with a stale copy.
        if isinstance(data, Mapping) and "artifact_memory_bytes" in data:
            data = {k: v for k, v in data.items() if k != "artifact_memory_bytes"}
        return data

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators over @property; pydantic's documented form
    @property
    def artifact_memory_bytes(self) -> int | None:
        """Peak memory the artifact adds over the bare runtime (peak minus baseline)."""
        if self.peak_memory_bytes is None or self.baseline_memory_bytes is None:
            return None
        return self.peak_memory_bytes - self.baseline_memory_bytes


# --- the artifact ------------------------------------------------------------------------------

_CHUNK = 1 << 20  # hash in 1 MiB chunks so large files never sit in memory whole


class Artifact(_Frozen):
    """A model file, what is known about it, and what was measured on it.

    Attributes:
        format: A key of :data:`FORMATS`: ``"onnx"``, ``"executorch"`` (a ``.pte`` program),
            ``"torch"`` (an edgeopt checkpoint or ``.pt2`` program).
        path: Where the file is (relative to the run directory inside results.json).
        size_bytes: Size of the file on disk (an OpenVINO IR: the ``.xml`` and its ``.bin``).
        sha256: Hex SHA-256 of the file's bytes (an OpenVINO IR: of the ``.xml`` then the ``.bin``).
        precision: Numeric precision of the weights (``"fp32"``, ``"int8"``).
        input_shape: The example input shape it was exported with (batch first), if known.
        parity: How closely its outputs match the eager model's (set by exporters).
        metadata: Format details, e.g. ``{"opset": 18, "exporter": "torch.onnx (dynamo)"}``.
        measurements: What benchmarks measured on it, oldest first.
        estimate: A modelled latency on the run's target device (labelled an estimate).
        estimate_vs_measured: Estimated ÷ measured latency on this host: how far the device model is off here.
    """

    format: str
    path: Path
    size_bytes: NonNegativeInt
    sha256: str
    precision: str = "fp32"
    input_shape: tuple[int, ...] | None = None
    parity: ParityReport | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    measurements: tuple[Measurement, ...] = ()
    estimate: LatencyEstimate | None = None
    estimate_vs_measured: float | None = Field(default=None, gt=0)

    @field_serializer("path")
    def _path_as_str(self, path: Path) -> str:
        return str(path)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        format: str | None = None,
        precision: str = "fp32",
        input_shape: tuple[int, ...] | list[int] | None = None,
        **extra: Any,
    ) -> Artifact:
        """Describe an existing file: its size and SHA-256 are read from disk.

        Args:
            path: The artifact file.
            format: Its format; inferred from the suffix (``.onnx``, ``.pt``, ``.pt2``...) if None.
            precision: Weight precision, ``"fp32"`` unless the caller knows better.
            input_shape: Example input shape, batch first.
            **extra: Any other field: ``parity``, ``metadata``, ``measurements``...

        Raises:
            EdgeoptError: the file (or an IR's ``.bin``) does not exist, or its format cannot be inferred.

        Example:
            >>> Artifact.from_file("model.onnx").format
            'onnx'
        """
        file = Path(path)
        if not file.is_file():
            raise EdgeoptError(f"artifact {str(file)!r} does not exist", hint="check the path")
        fmt = format or infer_format(file)
        files = companion_files(file, fmt)
        for part in files[1:]:
            if not part.is_file():
                raise EdgeoptError(f"{str(file)!r} has no {part.name} beside it", hint="keep a model's files together")
        shape = tuple(int(d) for d in input_shape) if input_shape is not None else None
        return cls(format=fmt, path=file, size_bytes=sum(f.stat().st_size for f in files),
                   sha256=sha256_of(*files), precision=precision, input_shape=shape, **extra)

    def with_measurement(self, measurement: Measurement | Mapping[str, Any]) -> Artifact:
        """A copy with ``measurement`` appended to :attr:`measurements` (a dict is validated first)."""
        added = measurement if isinstance(measurement, Measurement) else Measurement.model_validate(measurement)
        return self.model_copy(update={"measurements": (*self.measurements, added)})

    def relative_to(self, root: str | os.PathLike[str]) -> Artifact:
        """A copy whose path is relative to ``root`` (a run directory), as results.json records it.

        Raises:
            EdgeoptError: the file is not inside ``root``.
        """
        try:
            relative = Path(self.path).resolve().relative_to(Path(root).resolve())
        except ValueError:
            raise EdgeoptError(f"artifact {str(self.path)!r} is not inside {str(root)!r}") from None
        return self.model_copy(update={"path": relative})


def sha256_of(*paths: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (of several files': their bytes one after the other), read in chunks."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()
