"""The measuring transform: ``Bench`` times artifacts in their runtimes, interleaved in one run.

Latency, accuracy (of the artifact's own outputs on the test split) and peak memory of every
file it is given, so speed-ups compare files measured side by side. It changes no model: a
recipe measures the artifacts of the candidates it names, the CLI the files it is given.

.. code-block:: yaml

    - type: bench
      candidates: all              # or current, or a list of names (a recipe step option)
      threads: 2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field
from torch import nn

from edgeopt.transform import Inputs, Result, Transform, register_transform

if TYPE_CHECKING:
    from edgeopt.artifact import Artifact
    from edgeopt.data import DatasetSplits


@register_transform
class Bench(Transform):
    """Measure artifacts with :func:`edgeopt.runtime.bench`; each comes back with one more measurement."""

    type: Literal["bench"] = "bench"
    threads: int = Field(default=2, ge=1)
    runs: int = Field(default=50, ge=1)
    warmup: int = Field(default=10, ge=0)
    rounds: int = Field(default=5, ge=1)
    batch_size: int = Field(default=1, ge=1)
    memory: bool = True

    makes_candidate: ClassVar[bool] = False
    measures: ClassVar[bool] = True

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        if inputs.measure_elsewhere is not None:  # the recipe's target is an agent: the same protocol there
            measured = inputs.measure_elsewhere(
                list(inputs.artifacts), data=inputs.data, threads=self.threads, runs=self.runs,
                warmup=self.warmup, rounds=self.rounds, batch_size=self.batch_size, memory=self.memory)
            return Result(artifacts=tuple(measured))
        return Result(artifacts=self.measure(inputs.artifacts, inputs.data))

    def measure(self, artifacts: Sequence[Artifact], data: DatasetSplits | None,
                input_shape: Sequence[int] | None = None, trust_code: bool = False, *,
                runtime: str | None = None, precision: str = "fp32") -> tuple[Artifact, ...]:
        """``artifacts``, each with the measurement just taken appended (same order).

        ``trust_code`` lets checkpoints whose root is the user's ``module:factory`` import it;
        ``runtime`` / ``precision`` choose OpenVINO for ``.onnx`` files and its execution precision.
        """
        from edgeopt.runtime.benchmark import bench

        measured = bench(list(artifacts), data=data, threads=self.threads, runs=self.runs, warmup=self.warmup,
                         memory=self.memory, rounds=self.rounds, batch_size=self.batch_size,
                         input_shape=input_shape, trust_code=trust_code, runtime=runtime, precision=precision)
        return tuple(art.with_measurement(m) for art, m in zip(artifacts, measured, strict=True))
