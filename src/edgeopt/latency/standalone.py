"""Build a standalone table: every part of the space timed alone, as a ratio to a reference.

The ``standalone`` method of :func:`edgeopt.latency.build_table` (ONNX Runtime): every part
(:mod:`edgeopt.latency.parts`) is written as its own ONNX file (straight from the modules after
BatchNorm folding, :mod:`edgeopt.latency.onnx_writer`; int8 through ``quantize_static`` with
edgeopt's options) and timed with :func:`edgeopt.latency.relative.measure_relative` against the
table's reference network, in non-spinning sessions. An entry keeps each pass's *ratio*; its
figure is the median ratio × the table's ``reference_ms`` (the fastest reference block seen
while building), so every entry, and every whole model measured later against the same
reference, shares one unit.

Resumable: part files already written are reused, and the table is saved after every chunk of
:data:`CHUNK` parts of every pass; a resumed build measures only the parts a pass lacks.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from edgeopt.latency.parts import PartSpec, space_part_specs
from edgeopt.latency.relative import measure_relative, reference_file
from edgeopt.latency.table import Entry, LatencyTable, ProbeRecord, probe_id
from edgeopt.models.spaces import SearchSpace

CHUNK = 40
RELATIVE_ROUNDS = 15
Report = Callable[[str, int, str], None]


def part_file(spec: PartSpec, precision: str, directory: Path) -> Path:
    """Write a part's ONNX file into ``directory`` (reused if there) and return its path."""
    import hashlib

    from edgeopt.fuse.fuser import fuse
    from edgeopt.latency.onnx_writer import write_onnx
    from edgeopt.latency.probes import calibration_batch, quantize_onnx_file

    name = hashlib.sha1(spec.key.encode()).hexdigest()[:16]
    path = directory / (f"{name}.int8.onnx" if precision == "int8" else f"{name}.onnx")
    if path.is_file():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    module = fuse(spec.module(), torch.zeros(spec.input_shape))  # BatchNorm folded, as every exporter does
    if precision == "fp32":
        write_onnx(module, spec.input_shape, path)
        return path
    with tempfile.TemporaryDirectory(prefix="edgeopt-part-") as tmp:
        fp32 = Path(tmp) / "part.onnx"
        write_onnx(module, spec.input_shape, fp32)
        quantize_onnx_file(fp32, path, calibration_batch(spec.input_shape, 8).numpy())
    return path


def build_standalone(table: LatencyTable, space: SearchSpace, sizes: Sequence[tuple[int, float]], threads: int,
                     workdir: Path, save: Callable[[], object], report: Report) -> None:
    """Write and time every part of ``space`` at these (resolution, width) pairs into ``table``."""
    specs = {s.key: s for r, w in sizes for s in space_part_specs(space, w, r)}
    for resolution, width in sizes:  # which (resolution, width) pairs the table covers
        table.probes.setdefault(probe_id(resolution, width), ProbeRecord(width=width, resolution=resolution))
    files: dict[str, Path] = {}
    for index, (key, spec) in enumerate(specs.items()):
        if index % CHUNK == 0:
            report("export", index, f"writing part files ({index}/{len(specs)})")
        files[key] = part_file(spec, table.key.precision, workdir)
    reference = reference_file(workdir)
    for key, spec in specs.items():
        unit = spec.unit(key)
        old = table.entries.get(key)
        table.entries[key] = Entry(ms=old.ms if old else 0.0, passes=old.passes if old else [], kind=spec.kind,
                                   macs=unit.macs, bytes=unit.bytes)
    for pass_index in range(table.passes):
        todo = [k for k in specs if len(table.entries[k].passes) <= pass_index]
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            done = len(specs) * (pass_index + 2) - len(todo) + start
            report("measure", done, f"pass {pass_index + 1}/{table.passes}: parts {start + 1}–"
                                    f"{start + len(chunk)} of {len(todo)}")
            result = measure_relative([files[k] for k in chunk], threads=threads, passes=1,
                                      rounds=table.rounds, runs=table.runs_per_round, reference=reference)
            table.reference_ms = min(table.reference_ms or result.reference_ms, result.reference_ms)
            for key, ratio in zip(chunk, result.ratios, strict=True):
                table.entries[key].passes.append(ratio)
            rescale(table)
            save()
    for path in files.values():  # part files are only needed to resume
        path.unlink(missing_ok=True)
    reference.unlink(missing_ok=True)


def rescale(table: LatencyTable) -> None:
    """Each standalone entry's figure: its median pass ratio × the table's reference figure."""
    for entry in table.entries.values():
        if entry.passes:
            entry.ms = float(statistics.median(entry.passes)) * table.reference_ms


def measure_whole(table: LatencyTable, files: Sequence[Path], threads: int, passes: int = 2,
                  progress: Callable[[int, int], None] | None = None) -> list[float]:
    """Whole-model figures in a standalone table's unit (the same reference, its scale pinned)."""
    with tempfile.TemporaryDirectory(prefix="edgeopt-reference-") as tmp:
        result = measure_relative(files, threads=threads, passes=passes, rounds=table.rounds,
                                  runs=table.runs_per_round, reference=reference_file(Path(tmp)),
                                  reference_ms=table.reference_ms, progress=progress)
    return result.ms
