"""What one step does to the run's candidates: apply its transform, and turn the result into candidates.

- A step that makes a candidate (train, prune, fuse, distill, quantize) derives a new candidate
  from its input: named after the step, one more lineage entry, the transform's files and figures.
  A quantization keeps the float model: what the candidate ships is its int8 file.
- A step that writes files (export) adds them to its input candidate, under the same name.
- A step that measures files (bench) measures every file of the candidates it names and adds the
  measurement to each.

Example:
    >>> outcome = run_step(step, source, candidates, inputs)
    >>> outcome.candidate.name, [c.name for c in outcome.updated]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError, suggest
from edgeopt.pipeline.candidate import Candidate
from edgeopt.pipeline.step import RecipeStep
from edgeopt.transform import Inputs, apply


@dataclass
class Outcome:
    """The candidate a step leaves current, other candidates it annotated, and its figures.

    Attributes:
        candidate: The step's new candidate, or its input annotated (export, bench).
        updated: Other existing candidates with new files or measurements (bench).
        metrics: Figures the transform measured itself, which override the runner's evaluation
            of the eager model (a quantized candidate's accuracy is its int8 file's).
        details: What the transform reported (kept in the step's ``step.json``).
    """

    candidate: Candidate
    updated: list[Candidate] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def run_step(step: RecipeStep, index: int, source: Candidate, model: nn.Module | None,
             candidates: Mapping[str, Candidate], inputs: Inputs, run_dir: Path) -> Outcome:
    """Apply ``step`` to ``source`` (whose model is ``model``) and say what changed.

    Raises:
        EdgeoptError: The input is a quantized candidate, a named candidate does not exist,
            or the transform's own error.
    """
    if step.transform.measures:
        return _measure(step, source, candidates, inputs, run_dir)
    if source.is_quantized:
        raise EdgeoptError(f"candidate {source.name!r} is quantized: its int8 file is what it ships",
                           hint=f"start from the float candidate it came from (input: {source.parent})")
    assert model is not None  # only measuring steps run without the input's model
    result = apply(step.transform, model, inputs)
    relative = tuple(_relative(a, run_dir) for a in result.artifacts)
    if not step.makes_candidate:
        return Outcome(source.evolve(artifacts=(*source.artifacts, *relative)))
    assert step.name is not None  # names are filled in when the recipe is loaded
    cand = source.evolve(
        name=step.name, technique=step.type, model=model if result.model is None else result.model,
        lineage=None if source.lineage is None else source.lineage.then(step.transform, result, step.name),
        parent=source.name, step_index=index, metrics={}, artifacts=relative, checkpoint=None, details={})
    return Outcome(cand, metrics=dict(result.metrics), details=dict(result.report))


def _measure(step: RecipeStep, source: Candidate, candidates: Mapping[str, Candidate], inputs: Inputs,
             run_dir: Path) -> Outcome:
    chosen = [c for c in _chosen(step, source, candidates) if c.artifacts]
    if not chosen:
        raise EdgeoptError(f"{step.type}: none of the chosen candidates has a file",
                           hint="add an export or quantize step before it")
    files = [art.model_copy(update={"path": run_dir / art.path}) for c in chosen for art in c.artifacts]
    result = apply(step.transform, None, replace(inputs, artifacts=tuple(files)))
    measured = iter(result.artifacts)
    updated = {c.name: c.evolve(artifacts=tuple(_relative(next(measured), run_dir) for _ in c.artifacts))
               for c in chosen}
    current = updated.pop(source.name, source)
    notes = [display_note(a) for c in [current, *updated.values()] for a in c.artifacts if a.measurements]
    return Outcome(current, updated=list(updated.values()), details={"notes": notes})


def _chosen(step: RecipeStep, source: Candidate, candidates: Mapping[str, Candidate]) -> list[Candidate]:
    if step.candidates in (None, "all"):
        return list(candidates.values())
    if step.candidates == "current":
        return [source]
    names = list(step.candidates or [])
    missing = [n for n in names if n not in candidates]
    if missing:
        raise EdgeoptError(f"{step.type}: no candidate named {missing[0]!r}",
                           hint=suggest(missing[0], candidates) or f"known: {', '.join(candidates)}")
    return [candidates[n] for n in names]


def _relative(art: Artifact, run_dir: Path) -> Artifact:
    path = Path(art.path)
    if path.is_absolute():
        path = path.resolve().relative_to(run_dir.resolve())
    return art.model_copy(update={"path": path})


def display_note(art: Artifact) -> str:
    """The artifact's last measurement as one line: latency, accuracy, memory."""
    m = art.measurements[-1]
    text = f"{art.path}: median {m.latency_ms_median:.3f} ms (p90 {m.latency_ms_p90:.3f}), {m.runtime} {m.threads} thr"
    if m.accuracy is not None:
        text += f", accuracy {m.accuracy:.2%}"
    if m.peak_memory_bytes is not None:
        text += f", peak memory {m.peak_memory_bytes / 2**20:.1f} MiB"
    return text
