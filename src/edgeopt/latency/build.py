"""Build a latency table on this machine: measured, de-noised, resumable.

Two methods. **Standalone** (the default; :mod:`edgeopt.latency.standalone`): every stem,
block configuration and tail of the space is written as its own file and timed as a ratio to a
reference network (:mod:`edgeopt.latency.relative`). **Traced**:
:func:`build_table` makes one probe network per width and resolution of the space
(:mod:`edgeopt.latency.packing`), writes it as the runtime's file — ONNX straight from the
modules (:mod:`edgeopt.latency.onnx_writer`; int8 through ONNX Runtime's ``quantize_static`` with
edgeopt's options), ExecuTorch through edgeopt's own exporter and PT2E flow — and measures it
with :func:`edgeopt.runtime.profile_layers`: traced runs in gated rounds between speed probes.
It does so in **passes**: every probe once, then every probe again, ≥ 3 times by default, so the
passes of one probe lie minutes apart; a unit's entry is the minimum over passes of its
per-pass figure (DESIGN.md, "Machine facts").

After every probe of every pass the table is saved (atomically), so an interrupted build resumes
where it stopped (``resume=True``, the default): probe files already written are reused, passes
already measured are kept. At the end come the derived entries (the SE pool's cost added to
the depthwise units that have it, see :func:`derived_entries`), the block view, the fallback
model and, with ``calibrate=N``, the correction fitted on N sampled architectures measured whole.

Example:
    >>> table = build_table("mobilenet_v2", runtime="onnxruntime", threads=2, precision="int8",
    ...                     resolutions=[160], progress=print)
    >>> table.summary()["units"]
    2140
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edgeopt.errors import EdgeoptError
from edgeopt.latency.key import TableKey, check_precision, check_runtime, current_key
from edgeopt.latency.packing import ProbeNet, pool_pair, positions
from edgeopt.latency.parts import space_part_specs
from edgeopt.latency.predictor import fit_correction, fit_fallback
from edgeopt.latency.probes import calibration_batch, make_probe_file, measure_probe
from edgeopt.latency.standalone import RELATIVE_ROUNDS, build_standalone, measure_whole
from edgeopt.latency.table import LatencyTable, ProbeRecord, cache_path, probe_id
from edgeopt.latency.units import block_units
from edgeopt.models.spaces import Arch, SearchSpace, get_space


@dataclass(frozen=True)
class BuildProgress:
    """Where a build is: ``phase`` (``export``, ``measure``, ``calibrate``, ``done``), ``done`` of
    ``total`` steps, what it is doing, and seconds so far."""

    phase: str
    done: int
    total: int
    label: str
    seconds: float


ProgressFn = Callable[[BuildProgress], None]


def build_table(
    space: str | SearchSpace = "mobilenet_v2",
    *,
    runtime: str = "onnxruntime",
    threads: int = 2,
    precision: str = "fp32",
    resolutions: Sequence[int] | None = None,
    widths: Sequence[float] | None = None,
    passes: int | None = None,
    rounds: int | None = None,
    runs_per_round: int = 10,
    method: str | None = None,
    path: str | os.PathLike[str] | None = None,
    resume: bool = True,
    calibrate: int = 0,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> LatencyTable:
    """Measure a space's units on this machine and save the table (see the module docstring).

    Args:
        space: A built-in space name, a space file, or a :class:`SearchSpace`.
        runtime: ``onnxruntime`` or ``executorch``.
        threads: Intra-op threads.
        precision: ``fp32`` or ``int8``.
        resolutions: The resolutions to cover (default: the space's).
        widths: The width multipliers to cover (default: the space's).
        passes: Passes over all probes or parts (default: 3 traced, for the minimum-of-medians
            figure; 2 standalone, whose ratios repeat within a few percent).
        rounds: Rounds per probe or part and pass (default: 5 gated traced rounds; 15 grouped
            rounds between reference blocks); runs_per_round: runs per round.
        method: ``standalone`` (the default: every part timed alone against a reference
            network, :mod:`edgeopt.latency.standalone`) or ``traced`` (probe networks traced per
            kernel: a faster ExecuTorch build, since it lowers one probe per width and
            resolution instead of every part, but a larger error; docs/latency.md).
        path: The table file (default: the cache, :func:`~edgeopt.latency.table.cache_path`).
        resume: Continue a table found at ``path`` (same key and space); False starts over.
        calibrate: Architectures to sample, measure whole and fit the correction on (0: none).
        seed: Seed of those samples.
        progress: Called after every step.

    Raises:
        EdgeoptError: an unknown runtime, precision, space, width or resolution; a table at
            ``path`` made under other conditions or for another space (with ``resume``).
    """
    check_runtime(runtime)
    check_precision(precision)
    method = method or "standalone"
    if method not in ("standalone", "traced"):
        raise EdgeoptError(f"unknown table method {method!r}", hint="choose standalone or traced")
    passes = passes if passes is not None else (2 if method == "standalone" else 3)
    rounds = rounds if rounds is not None else (RELATIVE_ROUNDS if method == "standalone" else 5)
    for name, value in (("passes", passes), ("rounds", rounds), ("runs_per_round", runs_per_round)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EdgeoptError(f"{name} must be a positive integer, got {value!r}")
    chosen = space if isinstance(space, SearchSpace) else get_space(space)
    res = _subset("resolution", resolutions, chosen.resolutions)
    wid = _subset("width", widths, chosen.widths)
    key = current_key(runtime, threads, precision)
    target = Path(path) if path is not None else cache_path(chosen.name, key)
    table = _start(target, key, chosen, res, wid, passes, rounds, runs_per_round, resume, method)
    clock = time.monotonic()
    spent = table.seconds
    workdir = target.with_suffix(".probes")
    probes = [(r, w) for r in res for w in wid]
    total = len(probes) * (passes + 1)
    if method == "standalone":
        total = len({s.key for r, w in probes for s in space_part_specs(chosen, w, r)}) * (passes + 1)

    def report(phase: str, done: int, label: str) -> None:
        table.seconds = spent + time.monotonic() - clock
        if progress is not None:
            progress(BuildProgress(phase, done, total, label, table.seconds))

    if method == "standalone":
        build_standalone(table, chosen, probes, threads, workdir, lambda: table.save(target), report)
        return _finish(table, chosen, target, calibrate, seed, threads, rounds, report, total)
    done = 0
    for resolution, width in probes:
        pid = probe_id(resolution, width)
        record = table.probes.setdefault(pid, ProbeRecord(width=width, resolution=resolution))
        artifact = workdir / (pid + _suffix(runtime, precision))
        if not record.passes and not artifact.is_file():
            report("export", done, f"writing the probe network for r{resolution} w{width:g}")
            start = time.monotonic()
            make_probe_file(ProbeNet(chosen, width, resolution), (1, chosen.in_chans, resolution, resolution),
                            runtime, precision, artifact)
            record.seconds += time.monotonic() - start
        record.artifact = str(artifact)
        done += 1
        report("export", done, f"probe r{resolution} w{width:g} ready")
        table.save(target)
    for index in range(passes):
        for resolution, width in probes:
            record = table.probes[probe_id(resolution, width)]
            if len(record.passes) > index:
                done += 1
                continue
            report("measure", done, f"pass {index + 1}/{passes}: r{resolution} w{width:g}")
            start = time.monotonic()
            figures, units, traced = measure_probe(chosen, width, resolution, Path(record.artifact), threads,
                                                   rounds, runs_per_round)
            record.passes.append(figures)
            record.units = units
            record.traced_run_ms.append(traced)
            record.seconds += time.monotonic() - start
            table.recompute_entries()
            done += 1
            report("measure", done, f"pass {index + 1}/{passes}: r{resolution} w{width:g} measured")
            table.save(target)
    table.recompute_entries()
    table.entries.update(derived_entries(table, chosen))
    for resolution, width in probes:  # the probe files are only needed to resume
        Path(table.probes[probe_id(resolution, width)].artifact).unlink(missing_ok=True)
    return _finish(table, chosen, target, calibrate, seed, threads, rounds, report, total)


def _finish(table: LatencyTable, space: SearchSpace, target: Path, calibrate: int, seed: int, threads: int,
            rounds: int, report: Callable[[str, int, str], None], total: int) -> LatencyTable:
    """The block view, the fallback, the correction (with ``calibrate``); saved."""
    sizes = sorted((p.resolution, p.width) for p in table.probes.values())
    table.blocks = block_view(space, sizes, standalone=table.method == "standalone")
    table.fallback = fit_fallback(table)
    table.complete = True
    if calibrate > 0:
        report("calibrate", total - 1, f"measuring {calibrate} architectures whole to fit the correction")
        calibrate_table(table, space, calibrate, seed=seed, threads=threads, rounds=rounds)
    report("done", total, "table complete")
    table.save(target)
    workdir = target.with_suffix(".probes")
    if workdir.is_dir() and not any(workdir.iterdir()):
        workdir.rmdir()
    return table


def _subset(name: str, given: Sequence[Any] | None, allowed: Sequence[Any]) -> list[Any]:
    if given is None:
        return list(allowed)
    chosen = list(dict.fromkeys(given))
    outside = [v for v in chosen if v not in allowed]
    if outside or not chosen:
        raise EdgeoptError(f"{name}s {outside or chosen} are not in the space (it has {list(allowed)})",
                           hint=f"choose {name}s the space defines")
    return chosen


def _start(path: Path, key: TableKey, space: SearchSpace, resolutions: list[int], widths: list[float],
           passes: int, rounds: int, runs: int, resume: bool, method: Any = "traced") -> LatencyTable:
    fresh = LatencyTable(key=key, space=space.name, space_fingerprint=space.fingerprint(),
                         space_definition=space.model_dump(mode="json"), resolutions=resolutions, widths=widths,
                         passes=passes, rounds=rounds, runs_per_round=runs, method=method)
    if not resume or not path.is_file():
        return fresh
    table = LatencyTable.load(path)
    differences = table.key.differences(key)
    if differences:
        raise EdgeoptError(f"{path} holds a table measured under other conditions ({'; '.join(differences)})",
                           hint="build into another file (--out) or start over (--restart)")
    if table.method != method:
        raise EdgeoptError(f"{path} holds a {table.method} table, not a {method} one",
                           hint="build into another file (--out), start over (--restart) or pass its method")
    if table.space_fingerprint != space.fingerprint():
        raise EdgeoptError(f"{path} holds a table of another definition of space {table.space!r}",
                           hint="build into another file (--out) or start over (--restart)")
    table.resolutions = sorted(set(table.resolutions) | set(resolutions))
    table.widths = sorted(set(table.widths) | set(widths))
    table.passes, table.rounds, table.runs_per_round = passes, rounds, runs
    table.complete = False
    return table


def _suffix(runtime: str, precision: str) -> str:
    return (".int8" if precision == "int8" else "") + (".onnx" if runtime == "onnxruntime" else ".pte")


# ---------------------------------------------------------------------------------------------
# Derived entries and the block view


def derived_entries(table: LatencyTable, space: SearchSpace) -> dict[str, Any]:
    """Depthwise units followed by the SE pool, from their plain twin plus the pool's cost.

    The probe measures, per position and expansion, one depthwise conv both plain and followed by
    the SE pool; the difference is the pool's cost at that size, added to the other kernels and
    activations of that expansion there.
    """
    from edgeopt.latency.table import Entry
    from edgeopt.latency.units import _out_hw

    derived: dict[str, Any] = {}
    for resolution in table.resolutions:
        for width in table.widths:
            for position in positions(space, width, resolution):
                out = _out_hw(position.size, 3, position.stride)
                for e in space.stage_expansions(position.stage):
                    hidden = position.cin * e
                    plain_name, _ = pool_pair(position, e, space)
                    k0, a0 = space.stage_kernels(position.stage)[0], space.acts[0]
                    base = _dw_key(k0, position.stride, hidden, out, a0)
                    with_pool = base + ",pool"
                    if base not in table.entries or with_pool not in table.entries:
                        continue
                    delta = max(table.entries[with_pool].ms - table.entries[base].ms, 0.0)
                    for act in space.acts:
                        for k in space.stage_kernels(position.stage):
                            plain = _dw_key(k, position.stride, hidden, out, act)
                            target = plain + ",pool"
                            if target in table.entries or plain not in table.entries:
                                continue
                            source = table.entries[plain]
                            derived[target] = Entry(
                                ms=source.ms + delta, passes=[], kind=source.kind, macs=source.macs,
                                bytes=source.bytes, derived=f"{plain} + SE pool ({with_pool} − {base}; {plain_name})")
    return derived


def _dw_key(kernel: int, stride: int, channels: int, out: int, act: str) -> str:
    from edgeopt.latency.units import conv_key

    return conv_key(kernel, stride, "dw", channels, channels, (out, out)) + "|" + act


def block_view(space: SearchSpace, sizes: Sequence[tuple[int, float]], *, standalone: bool = False
               ) -> dict[str, list[str]]:
    """Every block configuration of the space at these (resolution, width) pairs → the unit keys
    it is made of (a standalone table: its one part key)."""
    from edgeopt.latency.parts import PartSpec
    from edgeopt.models.spaces import BlockConfig

    view: dict[str, list[str]] = {}
    for resolution, width in sizes:
        for position in positions(space, width, resolution):
            for k in space.stage_kernels(position.stage):
                for e in space.stage_expansions(position.stage):
                    for se in space.se:
                        for act in space.acts:
                            label = (f"r{resolution} w{width:g} {position.name} k{k} e{e}"
                                     f"{' se' if se else ''} {act}")
                            if standalone:
                                config = BlockConfig(kernel=k, expansion=e, se=se, act=act)
                                view[label] = [PartSpec("block", position.cin, position.cout, position.size,
                                                        config=config, stride=position.stride).key]
                                continue
                            units = block_units("b", position.cin, position.cout, position.stride,
                                                position.size, k, e, se, act)
                            view[label] = [u.key for u in units]
    return view


# ---------------------------------------------------------------------------------------------
# Whole architectures: export, measurement, correction


def export_arch(arch: Arch, space: SearchSpace, runtime: str, precision: str, path: Path) -> Path:
    """Export an architecture with edgeopt's own flow (random weights): the file users would ship."""
    from edgeopt.models.space_net import build_model

    model = build_model(arch, space).eval()
    shape = (1, space.in_chans, arch.resolution, arch.resolution)
    example = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    path.parent.mkdir(parents=True, exist_ok=True)
    if runtime == "onnxruntime" and precision == "fp32":
        from edgeopt.export.onnx_export import export_onnx

        export_onnx(model, example, path, check=False)
    elif runtime == "onnxruntime":
        from edgeopt.quantize.onnx_static import quantize_onnx_static

        quantize_onnx_static(model, calibration_batch(shape, 16), path, example_input=example)
    elif precision == "fp32":
        from edgeopt.export.executorch_export import export_executorch

        export_executorch(model, example, path, check=False)
    else:
        from edgeopt.quantize.pt2e import ptq_executorch

        ptq_executorch(model, calibration_batch(shape, 4), path, example_input=example, check=False)
    return path


def measure_files(paths: Sequence[Path], threads: int, passes: int, rounds: int, runs: int = 40,
                  group: int = 1, progress: Callable[[int, int], None] | None = None) -> list[float]:
    """De-noised latency of each file: each pass times every file in turn (``group`` files
    interleaved at a time), in gated rounds; a file's figure is the minimum over passes of its
    median, so its passes lie a whole pass apart.

    One file at a time by default: ONNX Runtime sessions interleaved in one process slow each
    other down (each session's idle intra-op threads spin after a run, on the cores the next
    session's run needs, and the speed probes see a slow phase and redo the block). Measured
    here on 8 MobileNetV2-space files: interleaved 94 s and up to 2.2x the figure each file
    gets alone in 16 s.

    ``progress(done, total)`` is called after each group, counting file measurements over all passes.
    """
    from edgeopt.runtime.benchmark import bench

    best = [float("inf")] * len(paths)
    for pass_index in range(passes):
        for start in range(0, len(paths), group):
            chunk = list(paths[start : start + group])
            for offset, measurement in enumerate(bench(chunk, threads=threads, runs=runs, rounds=rounds, memory=False)):
                best[start + offset] = min(best[start + offset], measurement.latency_ms_median)
            if progress is not None:
                progress(pass_index * len(paths) + start + len(chunk), passes * len(paths))
    return best


def calibrate_table(table: LatencyTable, space: SearchSpace, count: int, *, seed: int = 0, threads: int = 2,
                    rounds: int = 5) -> None:
    """Sample ``count`` architectures at the table's sizes, measure them whole, fit the correction."""
    rng = random.Random(seed)
    archs = [space.sample(rng, width=rng.choice(table.widths), resolution=rng.choice(table.resolutions))
             for _ in range(count)]
    with tempfile.TemporaryDirectory(prefix="edgeopt-calibrate-") as tmp:
        files = [export_arch(a, space, table.key.runtime, table.key.precision,
                             Path(tmp) / f"a{i}{_suffix(table.key.runtime, table.key.precision)}")
                 for i, a in enumerate(archs)]
        if table.method == "standalone":
            measured = measure_whole(table, files, threads, passes=max(table.passes, 2))
        else:
            measured = measure_files(files, threads, max(table.passes, 3), rounds)
    fit_correction(table, list(zip(archs, measured, strict=True)))
