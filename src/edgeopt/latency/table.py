"""The latency table: measured unit latencies of a space, for one runtime, CPU, thread count, precision.

A table is a JSON file (written atomically, so an interrupted build leaves the last complete
state) holding:

* its :class:`~edgeopt.latency.key.TableKey` — a table is used only where its key matches;
* the space it covers (the definition itself, so a table can be rebuilt or extended);
* per probe network (one per width and resolution, see :mod:`edgeopt.latency.packing`), the unit
  figures of every finished pass: what a resumed build skips;
* ``entries``: per unit key, the **minimum over passes of the pass figure** (DESIGN.md: noise
  only ever slows a run, so the steadiest figure is the minimum of medians of passes made minutes
  apart), every pass figure beside it, and MACs and bytes (the fallback model's features);
* ``blocks``: per block configuration of the space (position × kernel × expansion × SE ×
  activation), the units it is made of — the view "every block configuration measured";
* the fallback model (fitted on the entries) and the correction (fitted on whole models), once
  fitted (:mod:`edgeopt.latency.predictor`).

Tables are cached under ``$EDGEOPT_CACHE_DIR/latency`` (default ``~/.cache/edgeopt/latency``),
one file per space and key: :func:`cache_path`.

Example:
    >>> table = LatencyTable.load(cache_path("mobilenet_v2", current_key("onnxruntime", 2, "fp32")))
    >>> table.entries["conv1x1/s1/g1:16>96@80x80|relu"].ms
    0.0412
"""

from __future__ import annotations

import json
import os
import statistics
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgeopt.errors import EdgeoptError
from edgeopt.latency.key import TableKey
from edgeopt.utils import write_json_atomic

FORMAT = 1
_MAX_TABLE_BYTES = 256 << 20


class Entry(BaseModel):
    """One unit's latency.

    Attributes:
        ms: The figure (ms per run): in a traced table the minimum over passes of the pass
            figures; in a standalone table the median pass ratio × the table's ``reference_ms``.
        passes: Each pass's figure: traced, ms (median over the rounds of a pass, and over the
            unit's duplicates in the probe); standalone, the ratio to the reference network.
        kind: ``conv``, ``dwconv``, ``linear`` or ``other``; standalone: ``stem``, ``block``, ``tail``.
        macs: Multiply-adds; bytes: weights + activations at fp32 (fallback features).
        derived: How the figure was made when not measured directly ("" when measured).
    """

    model_config = ConfigDict(extra="forbid")

    ms: float = Field(ge=0)
    passes: list[float] = Field(default_factory=list)
    kind: str = "conv"
    macs: int = Field(0, ge=0)
    bytes: int = Field(0, ge=0)
    derived: str = ""


class ProbeRecord(BaseModel):
    """What a build has measured with one probe network."""

    model_config = ConfigDict(extra="forbid")

    width: float
    resolution: int
    artifact: str = ""
    passes: list[dict[str, float]] = Field(default_factory=list)
    units: dict[str, list[Any]] = Field(default_factory=dict)  # key -> [kind, macs, bytes]
    traced_run_ms: list[float] = Field(default_factory=list)
    seconds: float = 0.0  # writing its file and measuring it, so far


class LinearFit(BaseModel):
    """``ms = Σ coef_i × feature_i`` with its relative residuals (fallback and correction models).

    Attributes:
        features: Feature names, in order.
        coef: Coefficients.
        residuals: Relative errors of the fit's own data, leave-one-out where it was fitted so
            (used for prediction intervals).
        samples: How many measurements it was fitted on.
    """

    model_config = ConfigDict(extra="forbid")

    features: list[str]
    coef: list[float]
    residuals: list[float] = Field(default_factory=list)
    samples: int = 0

    def apply(self, values: dict[str, float]) -> float:
        """The fitted value for these features (missing ones count 0)."""
        return float(sum(c * values.get(f, 0.0) for f, c in zip(self.features, self.coef, strict=True)))


class LatencyTable(BaseModel):
    """A latency table (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT
    key: TableKey
    method: Literal["traced", "standalone"] = "traced"  # standalone: see edgeopt.latency.standalone
    reference_ms: float = Field(default=0.0, ge=0)  # standalone: the reference network's figure, the unit of entries
    space: str
    space_fingerprint: str
    space_definition: dict[str, Any]
    resolutions: list[int]
    widths: list[float]
    passes: int = Field(3, ge=1)
    rounds: int = Field(5, ge=1)
    runs_per_round: int = Field(10, ge=1)
    probes: dict[str, ProbeRecord] = Field(default_factory=dict)
    entries: dict[str, Entry] = Field(default_factory=dict)
    blocks: dict[str, list[str]] = Field(default_factory=dict)
    fallback: dict[str, LinearFit] = Field(default_factory=dict)
    correction: LinearFit | None = None
    created: str = ""
    updated: str = ""
    seconds: float = 0.0
    complete: bool = False

    # -- files ---------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (a reader never sees half a table)."""
        self.updated = _now()
        self.created = self.created or self.updated
        return write_json_atomic(path, self.model_dump(mode="json"))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LatencyTable:
        """Read a table file.

        Raises:
            EdgeoptError: a missing, oversized, unreadable or invalid file (naming the field).
        """
        file = Path(path)
        if not file.is_file():
            raise EdgeoptError(f"latency table {str(file)!r} does not exist",
                               hint="build one with `edgeopt latency build`")
        if file.stat().st_size > _MAX_TABLE_BYTES:
            raise EdgeoptError(f"{file} is larger than any latency table ({file.stat().st_size:,} bytes)",
                               hint="is it the right file?")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:
            raise EdgeoptError(f"{file} is not a latency table: not valid JSON ({str(exc)[:120]})",
                               hint="rebuild it with `edgeopt latency build`") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise EdgeoptError(f"{file} is not a latency table of format {FORMAT} (format: {found!r})",
                               hint="rebuild it with this edgeopt: `edgeopt latency build`")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise EdgeoptError(f"{file}: field {where}: {first['msg'].lower()}",
                               hint="rebuild it with `edgeopt latency build`") from None

    # -- use -----------------------------------------------------------------------------------

    def check_key(self, here: TableKey, *, allow_foreign: bool = False) -> list[str]:
        """Refuse a table measured under other conditions, or (``allow_foreign``) return the
        warning every estimate from it must carry.

        Raises:
            EdgeoptError: the keys differ and ``allow_foreign`` is False.
        """
        differences = self.key.differences(here)
        if not differences:
            return []
        text = "; ".join(differences)
        if not allow_foreign:
            raise EdgeoptError(f"this latency table was measured elsewhere: {text}",
                               hint="build a table here (`edgeopt latency build`), or pass --allow-foreign "
                                    "to use it anyway with a warning on every estimate")
        return [f"table measured elsewhere ({text}): this estimate may not hold here"]

    def recompute_entries(self) -> None:
        """Entries from the probes' finished passes (minimum over passes of each pass figure)."""
        per_pass: dict[str, list[float]] = {}
        info: dict[str, list[Any]] = {}
        for probe in self.probes.values():
            info.update(probe.units)
            for index, figures in enumerate(probe.passes):
                for key, ms in figures.items():
                    slots = per_pass.setdefault(key, [])
                    while len(slots) <= index:
                        slots.append(float("nan"))
                    slots[index] = ms if slots[index] != slots[index] else min(slots[index], ms)
        entries = {}
        for key, values in per_pass.items():
            done = [f for f in values if f == f]
            if not done:
                continue
            kind, macs, nbytes = info.get(key, ["other", 0, 0])
            entries[key] = Entry(ms=min(done), passes=done, kind=kind, macs=int(macs), bytes=int(nbytes))
        self.entries = entries

    def passes_done(self) -> int:
        """Passes finished by every probe (standalone: by every part)."""
        if self.method == "standalone":
            return min((len(e.passes) for e in self.entries.values()), default=0)
        return min((len(p.passes) for p in self.probes.values()), default=0)

    def summary(self) -> dict[str, Any]:
        """Counts and spread, for the CLI and docs."""
        spreads = [max(e.passes) / min(e.passes) - 1 for e in self.entries.values()
                   if e.passes and min(e.passes) > 0 and not e.derived]
        return {
            "key": self.key.describe(),
            "method": self.method,
            "space": self.space,
            "resolutions": self.resolutions,
            "widths": self.widths,
            "units": len(self.entries),
            "measured": sum(1 for e in self.entries.values() if not e.derived),
            "derived": sum(1 for e in self.entries.values() if e.derived),
            "block_configurations": len(self.blocks),
            "passes": self.passes_done(),
            "pass_spread_median": statistics.median(spreads) if spreads else None,
            "build_seconds": round(self.seconds, 1),
            "complete": self.complete,
            "corrected": self.correction is not None,
        }


def probe_id(resolution: int, width: float) -> str:
    """A ``probes`` key: ``r160-w0.5``."""
    return f"r{resolution}-w{width:g}"


def cache_dir() -> Path:
    """Where tables are cached: ``$EDGEOPT_CACHE_DIR/latency`` or ``~/.cache/edgeopt/latency``."""
    root = os.environ.get("EDGEOPT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "edgeopt")
    return Path(root) / "latency"


def cache_path(space: str, key: TableKey) -> Path:
    """The cached table's path for a space and key."""
    return cache_dir() / f"{space}-{key.runtime}-{key.precision}-t{key.threads}-{key.digest()}.json"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
