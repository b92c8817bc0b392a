"""Build a standalone table: every part of the space timed alone, as a ratio to a reference.

The ``standalone`` method of :func:`edgeopt.latency.build_table`: every part
(:mod:`edgeopt.latency.parts`) is written as the runtime's own file (:func:`part_file`) and timed
with :func:`edgeopt.latency.relative.measure_relative` against the table's reference network
(in ONNX Runtime, sessions that do not spin). An entry keeps each pass's *ratio*; its figure is
the median ratio × the table's ``reference_ms`` (the fastest reference block seen while
building), so every entry, and every whole model measured later against the same reference
(:func:`measure_whole`), shares one unit.

Resumable: part files already written are reused, and the table is saved after every chunk of
:data:`CHUNK` parts of every pass; a resumed build measures only the parts a pass lacks.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from edgeopt.latency.parts import PartSpec, space_part_specs
from edgeopt.latency.relative import measure_relative, reference_file
from edgeopt.latency.table import Entry, LatencyTable, ProbeRecord, probe_id
from edgeopt.models.spaces import SearchSpace

CHUNK = 40
POOL_FROM = 20  # parts to write before it pays to start processes (each imports torch: seconds)
RELATIVE_ROUNDS = 15
Report = Callable[[str, int, str], None]


def part_file(spec: PartSpec, runtime: str, precision: str, directory: Path) -> Path:
    """Write a part as the runtime's file into ``directory`` (reused if there) and return its path:
    BatchNorm folded, as every exporter does, then :func:`~edgeopt.latency.probes.make_probe_file`
    (ONNX straight from the modules, int8 through ``quantize_static``; ExecuTorch through
    edgeopt's exporter and PT2E flow)."""
    from edgeopt.fuse.fuser import fuse
    from edgeopt.latency.probes import make_probe_file

    path = _part_path(spec, runtime, precision, directory)
    if path.is_file():
        return path
    torch.manual_seed(0)
    module = fuse(spec.module(), torch.zeros(spec.input_shape))
    make_probe_file(module, spec.input_shape, runtime, precision, path)
    return path


def _one_thread() -> None:
    torch.set_num_threads(1)  # one process per core: torch's own threads would only compete


def _part_path(spec: PartSpec, runtime: str, precision: str, directory: Path) -> Path:
    name = hashlib.sha1(spec.key.encode()).hexdigest()[:16]
    suffix = ".pte" if runtime == "executorch" else ".onnx"
    return directory / (f"{name}.int8{suffix}" if precision == "int8" else f"{name}{suffix}")


def write_parts(specs: list[PartSpec], runtime: str, precision: str, directory: Path, report: Report,
                workers: int | None = None) -> dict[str, Path]:
    """Every part's file, by key. Lowering through ExecuTorch (~1.3 s a part, ~4 s in int8) and
    ONNX Runtime's int8 quantizer (~0.3 s) take far longer than timing a part, so those files are
    written by ``workers`` processes (default: one per core); ONNX fp32 parts (milliseconds) here."""
    todo = [s for s in specs if not _part_path(s, runtime, precision, directory).is_file()]
    workers = workers or min(os.cpu_count() or 1, 4)
    pooled = workers > 1 and len(todo) >= POOL_FROM and (runtime, precision) != ("onnxruntime", "fp32")
    how = f", {workers} processes" if pooled else ""
    report("export", 0, f"writing {len(todo)} part files{how} ({len(specs) - len(todo)} already written)")
    written = _written_in_pool(todo, runtime, precision, directory, workers) if pooled else (
        part_file(spec, runtime, precision, directory) for spec in todo)
    for index, _ in enumerate(written, start=1):
        if index % CHUNK == 0:
            report("export", index, f"writing part files ({index}/{len(todo)}{how})")
    return {spec.key: _part_path(spec, runtime, precision, directory) for spec in specs}


def _written_in_pool(todo: list[PartSpec], runtime: str, precision: str, directory: Path,
                     workers: int) -> Iterator[Path]:
    """Write the parts in ``workers`` spawned processes; yield each path, in order, once written."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch's and ORT's threads
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
        try:
            pending = [pool.submit(part_file, spec, runtime, precision, directory) for spec in todo]
            for future in pending:
                yield future.result()
        except BaseException:  # an error, Ctrl-C or the caller stopping early: drop the queued parts
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def build_standalone(table: LatencyTable, space: SearchSpace, sizes: Sequence[tuple[int, float]], threads: int,
                     workdir: Path, save: Callable[[], object], report: Report) -> None:
    """Write and time every part of ``space`` at these (resolution, width) pairs into ``table``."""
    specs = {s.key: s for r, w in sizes for s in space_part_specs(space, w, r)}
    for resolution, width in sizes:  # which (resolution, width) pairs the table covers
        table.probes.setdefault(probe_id(resolution, width), ProbeRecord(width=width, resolution=resolution))
    files = write_parts(list(specs.values()), table.key.runtime, table.key.precision, workdir, report)
    reference = reference_file(workdir, table.key.runtime)
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
                                  runs=table.runs_per_round, reference=reference_file(Path(tmp), table.key.runtime),
                                  reference_ms=table.reference_ms, progress=progress)
    return result.ms
