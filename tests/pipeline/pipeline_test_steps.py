"""Step types for the pipeline tests: count runs, fail on demand, stall until killed.

Imported by tests/pipeline/conftest.py and by the subprocess the kill test starts, so both
processes know the same step types.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline import StepConfig, StepContext, StepOutput, register_step


@register_step
class CountStep(StepConfig):
    """Copies its input and appends its name to ``counter`` each time it runs."""

    type: Literal["test.count"] = "test.count"
    counter: str

    def run(self, ctx: StepContext) -> StepOutput:
        with open(self.counter, "a", encoding="utf-8") as fh:
            fh.write(f"{ctx.name}\n")
        return StepOutput(ctx.derive(ctx.input_model()))


@register_step
class FailStep(StepConfig):
    """Raises while the file ``flag`` exists (KeyboardInterrupt with ``interrupt``, as Ctrl-C
    does), else passes its input on."""

    type: Literal["test.fail"] = "test.fail"
    flag: str
    interrupt: bool = False

    def run(self, ctx: StepContext) -> StepOutput:
        if Path(self.flag).exists():
            if self.interrupt:
                raise KeyboardInterrupt
            raise EdgeoptError("the test flag is set", hint="remove it")
        return StepOutput(ctx.derive(ctx.input_model()))


@register_step
class StallStep(StepConfig):
    """Writes ``marker`` (with a partial file in its step dir), then sleeps until killed
    while ``flag`` exists; without the flag it passes its input on."""

    type: Literal["test.stall"] = "test.stall"
    marker: str
    flag: str

    def run(self, ctx: StepContext) -> StepOutput:
        if Path(self.flag).exists():
            (ctx.step_dir / "partial.bin").write_bytes(b"half")
            Path(self.marker).write_text("started", encoding="utf-8")
            time.sleep(600)
        return StepOutput(ctx.derive(ctx.input_model()))


def counts(counter: str | Path) -> list[str]:
    """Names of the counting steps that ran, in order."""
    path = Path(counter)
    return path.read_text(encoding="utf-8").split() if path.exists() else []
