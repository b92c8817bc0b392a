"""Transforms for the pipeline tests: count runs, fail on demand, stall until killed.

Imported by tests/pipeline/conftest.py and by the subprocess the kill test starts, so both
processes know the same types. A recipe step is a transform, so these are registered exactly as
a user's own technique would be.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.transform import Inputs, Result, Transform, register_transform


@register_transform
class CountStep(Transform):
    """Passes its input on and appends the step's name to ``counter`` each time it runs."""

    type: Literal["test.count"] = "test.count"
    counter: str

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        with open(self.counter, "a", encoding="utf-8") as fh:
            fh.write(f"{inputs.name}\n")
        return Result(model=model)


@register_transform
class FailStep(Transform):
    """Raises while the file ``flag`` exists (KeyboardInterrupt with ``interrupt``, as Ctrl-C
    does), else passes its input on."""

    type: Literal["test.fail"] = "test.fail"
    flag: str
    interrupt: bool = False

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        if Path(self.flag).exists():
            if self.interrupt:
                raise KeyboardInterrupt
            raise EdgeoptError("the test flag is set", hint="remove it")
        return Result(model=model)


@register_transform
class StallStep(Transform):
    """Writes ``marker`` (with a partial file in its output dir), then sleeps until killed
    while ``flag`` exists; without the flag it passes its input on."""

    type: Literal["test.stall"] = "test.stall"
    marker: str
    flag: str

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        if Path(self.flag).exists():
            inputs.path("").with_name("partial.bin").write_bytes(b"half")
            Path(self.marker).write_text("started", encoding="utf-8")
            time.sleep(600)
        return Result(model=model)


def counts(counter: str | Path) -> list[str]:
    """Names of the counting steps that ran, in order."""
    path = Path(counter)
    return path.read_text(encoding="utf-8").split() if path.exists() else []
