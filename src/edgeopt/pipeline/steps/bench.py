"""``bench``: measure artifacts in their runtimes, interleaved in one run (:func:`edgeopt.runtime.bench`).

Latency, accuracy (of the artifact's own outputs on the test split) and peak memory of every
artifact of the chosen candidates, so speed-ups compare files measured side by side.

.. code-block:: yaml

    - type: bench
      candidates: all              # or current, or a list of names
      threads: 2
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline.candidate import Candidate
from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.registry import StepConfig, register_step


@register_step
class BenchStep(StepConfig):
    """Benchmark the artifacts of ``candidates`` (every candidate with a file, by default)."""

    type: Literal["bench"] = "bench"
    candidates: Literal["all", "current"] | list[str] = "all"
    threads: int = Field(default=2, ge=1)
    runs: int = Field(default=50, ge=1)
    warmup: int = Field(default=10, ge=0)
    rounds: int = Field(default=5, ge=1)
    memory: bool = True

    makes_candidate: ClassVar[bool] = False

    def references(self) -> dict[str, str]:
        refs = super().references()
        if isinstance(self.candidates, list):
            refs.update({f"candidates[{i}]": name for i, name in enumerate(self.candidates)})
        return refs

    def run(self, ctx: StepContext) -> StepOutput:
        from edgeopt.export import Artifact
        from edgeopt.runtime import bench

        chosen = [c for c in self._chosen(ctx) if c.artifacts]
        if not chosen:
            raise EdgeoptError("bench: none of the chosen candidates has an exported file",
                               hint="add an export or quantize step before bench")
        pairs = [(c, a) for c in chosen for a in c.artifacts]
        files = [Artifact.from_file(ctx.run_dir / a["path"], a["format"], a.get("precision", "fp32"),
                                    a.get("input_shape")) for _, a in pairs]
        measured = bench(files, data=ctx.data, threads=self.threads, runs=self.runs, warmup=self.warmup,
                         memory=self.memory, rounds=self.rounds)
        updated = _with_measurements(chosen, pairs, [m.to_dict() for m in measured])
        current = updated.pop(ctx.input.name, ctx.input)
        notes = [_note(art["path"], m) for (_, art), m in zip(pairs, measured)]
        return StepOutput(current, updated=list(updated.values()), details={"notes": notes})

    def _chosen(self, ctx: StepContext) -> list[Candidate]:
        if self.candidates == "all":
            return list(ctx.candidates.values())
        if self.candidates == "current":
            return [ctx.input]
        return [ctx.candidate(name) for name in self.candidates]


def _with_measurements(chosen: list[Candidate], pairs: list[tuple[Candidate, dict[str, Any]]],
                       measurements: list[dict[str, Any]]) -> dict[str, Candidate]:
    """New candidates whose artifacts carry one more measurement each."""
    added: dict[tuple[str, str], dict[str, Any]] = {
        (cand.name, art["path"]): meas for (cand, art), meas in zip(pairs, measurements)}
    out = {}
    for cand in chosen:
        arts = tuple({**a, "measurements": [*a.get("measurements", []), added[(cand.name, a["path"])]]}
                     for a in cand.artifacts)
        out[cand.name] = cand.evolve(artifacts=arts)
    return out


def _note(path: str, m: Any) -> str:
    """One measured artifact as a line: latency, accuracy, memory."""
    text = f"{path}: median {m.latency_ms_median:.3f} ms (p90 {m.latency_ms_p90:.3f}), {m.runtime} {m.threads} thr"
    if m.accuracy is not None:
        text += f", accuracy {m.accuracy:.2%}"
    if m.peak_memory_bytes is not None:
        text += f", peak memory {m.peak_memory_bytes / 2**20:.1f} MiB"
    return text
