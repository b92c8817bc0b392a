"""The device schema: one strictly validated pydantic model per catalog entry.

Every figure carries a citation: ``sources`` maps each numeric field (``peak_gops.int8``,
``ram_bytes``, ...) to where the number comes from. A source starts with ``derived:`` when the
figure is computed from published ones (the derivation follows), ``assumed:`` when no vendor
publishes it, and ``measured`` for figures timed on this machine (:func:`measure_host`).
A device whose CPU runs the runtimes edgeopt optimizes for (ONNX Runtime, OpenVINO, ExecuTorch)
also has a ``cpu`` block (:class:`CpuFacts`), cited under ``sources["cpu"]``; choices that depend
on the CPU (7-bit weights, bf16, thread counts) are made from it (:mod:`edgeopt.devices.target`).

Example:
    >>> Device.model_validate({
    ...     "name": "my-board", "display_name": "My board", "category": "single-board",
    ...     "peak_gops": {"fp32": 10.0}, "memory_bandwidth_gbs": 4.0, "ram_bytes": 2**30,
    ...     "storage_bytes": None, "typical_power_w": 2.0,
    ...     "sources": {"peak_gops.fp32": "derived: 4 cores x 1.25 GHz x 2",
    ...                 "memory_bandwidth_gbs": "board datasheet", "ram_bytes": "board datasheet",
    ...                 "typical_power_w": "board datasheet"}}).supported_precisions()
    ('fp32',)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PRECISIONS = ("fp32", "fp16", "int8")
EDGE_CATEGORIES = ("microcontroller", "single-board", "embedded-gpu", "phone", "accelerator")
CLOUD_CATEGORIES = ("cloud-gpu", "cloud-cpu")
# "host" is this machine, measured by measure_host(); catalog entries use the seven above.
CATEGORIES = (*EDGE_CATEGORIES, *CLOUD_CATEGORIES, "host")
Category = Literal["microcontroller", "single-board", "embedded-gpu", "phone", "accelerator",
                   "cloud-gpu", "cloud-cpu", "host"]

Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]

# Fields that hold a figure and therefore need a citation in ``sources``.
FIGURE_FIELDS = (*(f"peak_gops.{p}" for p in PRECISIONS), "memory_bandwidth_gbs", "ram_bytes",
                 "storage_bytes", "typical_power_w")

# Other keys ``sources`` may cite: ``cpu`` (the :class:`CpuFacts` block, all its facts at once).
CITED_FIELDS = (*FIGURE_FIELDS, "cpu")
CpuArch = Literal["x86_64", "arm64", "armv7", "armv7e-m", "xtensa", "riscv64", "riscv32"]


class CpuFacts(BaseModel):
    """The facts about a device's application CPU that decide CPU-dependent artifact choices.

    Attributes:
        arch: Instruction set as :func:`edgeopt.utils.machine_arch` names it (``"x86_64"``,
            ``"arm64"``, ``"armv7"``, ``"armv7e-m"``, ``"xtensa"``, ``"riscv64"``, ``"riscv32"``).
        cores: Physical cores the runtimes can use (all clusters of a big.LITTLE SoC).
        int8_dot_product: int8 dot-product instructions: x86 AVX-512 VNNI / AVX-VNNI / AMX int8,
            Arm SDOT/UDOT (FEAT_DotProd). Without them on x86, ONNX Runtime needs 7-bit weights.
        bf16: native bf16 arithmetic: x86 AVX512_BF16 / AMX_BF16, Arm FEAT_BF16.

    Example:
        >>> CpuFacts(arch="arm64", cores=4, int8_dot_product=True, bf16=False).cores
        4
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: CpuArch
    cores: PositiveInt
    int8_dot_product: bool
    bf16: bool


class PeakOps(BaseModel):
    """Peak throughput in G(FL)OP/s per precision; ``None``: no native support, or unknown.

    fp32 and fp16 are GFLOP/s, int8 is GOP/s, each as the vendor quotes peaks: one multiply-add
    counts as two operations.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fp32: Positive | None = None
    fp16: Positive | None = None
    int8: Positive | None = None

    def at(self, precision: str) -> float | None:
        """The peak at ``precision`` (``"fp32"``, ``"fp16"`` or ``"int8"``); None if not given.

        Raises:
            KeyError: ``precision`` is not one of :data:`PRECISIONS`.

        Example:
            >>> PeakOps(fp32=10.0).at("fp32"), PeakOps(fp32=10.0).at("int8")
            (10.0, None)
        """
        return {"fp32": self.fp32, "fp16": self.fp16, "int8": self.int8}[precision]


class Device(BaseModel):
    """One target device. All figures are vendor-published, derived from such, or assumed.

    Attributes:
        name: Slug used on the command line (``raspberry-pi-4``).
        display_name: Human-readable name with the configuration the figures are for.
        category: One of :data:`CATEGORIES`.
        peak_gops: Peak G(FL)OP/s per precision (see :class:`PeakOps`).
        memory_bandwidth_gbs: Peak memory bandwidth in GB/s (10^9 bytes per second).
        ram_bytes: Memory for weights and activations, in bytes.
        storage_bytes: Storage for the model file (flash on microcontrollers); ``None`` when
            the device has none of its own (the model lives on a host).
        typical_power_w: Typical power while working, in watts; ``None`` if unknown.
        notes: Anything a user should know when reading the figures.
        cpu: The application CPU's facts (:class:`CpuFacts`); ``None`` for devices that run no
            CPU runtime edgeopt optimizes for (microcontrollers, GPUs, accelerators).
        sources: Citation per figure field (``"peak_gops.int8"``, ``"ram_bytes"``, ...) and
            for ``"cpu"`` when the ``cpu`` block is given.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    display_name: str = Field(min_length=1)
    category: Category
    peak_gops: PeakOps
    memory_bandwidth_gbs: Positive
    ram_bytes: PositiveInt
    storage_bytes: PositiveInt | None
    typical_power_w: Positive | None
    notes: str = ""
    cpu: CpuFacts | None = None
    sources: dict[str, str]

    @model_validator(mode="after")
    def _every_figure_is_cited(self) -> Device:
        if not self.supported_precisions():
            raise ValueError("peak_gops: give at least one of fp32, fp16, int8")
        unknown = sorted(set(self.sources) - set(CITED_FIELDS))
        if unknown:
            raise ValueError(f"sources: unknown field {unknown[0]!r} (cited fields: "
                             f"{', '.join(CITED_FIELDS)})")
        if self.cpu is not None and not self.sources.get("cpu", "").strip():
            raise ValueError("sources: no source for 'cpu' (cite the SoC or core's documentation "
                             "for its architecture, cores, dot product and bf16)")
        for field in FIGURE_FIELDS:
            if self.figure(field) is not None and not self.sources.get(field, "").strip():
                raise ValueError(f"sources: no source for {field!r} (cite a datasheet, or "
                                 "write 'derived: ...' / 'assumed: ...')")
        return self

    def figure(self, field: str) -> float | int | None:
        """The value of a figure field by its dotted name (``"peak_gops.int8"``)."""
        if field.startswith("peak_gops."):
            return self.peak_gops.at(field.split(".", 1)[1])
        value: float | int | None = getattr(self, field)  # one of the numeric FIGURE_FIELDS
        return value

    def supported_precisions(self) -> tuple[str, ...]:
        """Precisions with a peak figure, in the order fp32, fp16, int8."""
        return tuple(p for p in PRECISIONS if self.peak_gops.at(p) is not None)

    @property
    def is_cloud(self) -> bool:
        """True for datacenter devices (the chart colours them apart from edge devices)."""
        return self.category in CLOUD_CATEGORIES
