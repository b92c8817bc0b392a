"""Activation liveness and peak activation memory over a graph's execution order.

Model (see ``docs/profiling.md``): steps run one after another in the order ``forward`` runs
them. A step's freshly allocated outputs are live from that step until the last step that reads
them, inclusive. A step whose outputs share storage with an input (a view such as ``view`` /
``flatten`` / ``transpose`` / tuple ``getitem``, or an in-place op such as ``ReLU(inplace=True)``)
allocates nothing; it extends the lifetime of the storage it aliases instead. The model inputs
are steps that allocate their own bytes; the model outputs stay live to the last step.
Parameters and buffers are not activations and are never counted.

Peak activation memory is the largest sum of live bytes over all steps.

Example:
    >>> steps = [Step("x", 100), Step("conv", 200, reads=("x",)),
    ...          Step("relu", 0, reads=("conv",), aliases=("conv",)),
    ...          Step("fc", 10, reads=("relu",))]
    >>> peak_memory(steps, outputs=("fc",)).peak_bytes  # x + conv live at step 1
    300
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    """One executed graph node as liveness sees it.

    Attributes:
        name: Unique name of the step.
        new_bytes: Bytes of the outputs this step allocates (0 for views and in-place ops).
        reads: Names of earlier steps whose outputs this step reads.
        aliases: Names of earlier steps whose storage this step's outputs share.
    """

    name: str
    new_bytes: int
    reads: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemoryPeak:
    """Result of the liveness sweep.

    Attributes:
        peak_bytes: Largest sum of live activation bytes at any step.
        peak_step: Name of the (first) step at which the peak occurs ("" for an empty graph).
        live_bytes: Live bytes at each step, in execution order.
    """

    peak_bytes: int
    peak_step: str
    live_bytes: list[int] = field(default_factory=list)


def storage_roots(steps: Sequence[Step]) -> dict[str, frozenset[str]]:
    """Map each step to the steps that allocated the storage its outputs live in.

    A fresh allocation is its own root; an alias inherits the roots of what it aliases, so a
    view of a view of ``conv`` resolves to ``conv``.
    """
    roots: dict[str, frozenset[str]] = {}
    for step in steps:
        own = {step.name} if step.new_bytes > 0 else set()
        for alias in step.aliases:
            own |= roots.get(alias, frozenset())
        roots[step.name] = frozenset(own)
    return roots


def live_intervals(steps: Sequence[Step], outputs: Iterable[str]) -> dict[str, tuple[int, int]]:
    """First and last step index at which each allocation is live (only allocating steps)."""
    index = {step.name: i for i, step in enumerate(steps)}
    roots = storage_roots(steps)
    interval = {s.name: [i, i] for i, s in enumerate(steps) if s.new_bytes > 0}
    for i, step in enumerate(steps):
        # Reading a step (or any alias of it) keeps its storage alive until now.
        for read in (*step.reads, *step.aliases):
            for root in roots.get(read, ()):
                interval[root][1] = max(interval[root][1], i)
    end = len(steps) - 1
    for name in outputs:
        if name in index:
            for root in roots[name]:
                interval[root][1] = end
    return {name: (start, stop) for name, (start, stop) in interval.items()}


def peak_memory(steps: Sequence[Step], outputs: Iterable[str] = ()) -> MemoryPeak:
    """Sweep the execution order and return the peak of live activation bytes.

    Args:
        steps: Executed nodes in execution (topological) order, inputs first.
        outputs: Names of the steps whose outputs the model returns; they stay live to the end.

    Returns:
        The peak, where it happens, and the live bytes at every step.
    """
    if not steps:
        return MemoryPeak(0, "", [])
    size = {step.name: step.new_bytes for step in steps}
    # Difference array: +bytes when an allocation becomes live, -bytes after its last use.
    delta = [0] * (len(steps) + 1)
    for name, (start, stop) in live_intervals(steps, outputs).items():
        delta[start] += size[name]
        delta[stop + 1] -= size[name]
    live, running = [], 0
    for i in range(len(steps)):
        running += delta[i]
        live.append(running)
    peak_index = max(range(len(steps)), key=lambda i: (live[i], -i))
    return MemoryPeak(live[peak_index], steps[peak_index].name, live)
