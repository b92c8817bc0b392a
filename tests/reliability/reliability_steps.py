"""A recipe step that holds a run at a known point, for the kill -9 and concurrency tests.

Imported by the test modules and by the ``edgeopt`` subprocesses they start, so both know the
type. A recipe step is a transform, registered as a user's own technique would be.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from torch import nn

from edgeopt.transform import Inputs, Result, Transform, register_transform


@register_transform
class WaitStep(Transform):
    """While ``flag`` exists: write a partial file into its step directory and ``marker``, then wait
    (up to ten minutes) for the flag to go. Without the flag it passes its input on at once."""

    type: Literal["reliability.wait"] = "reliability.wait"
    flag: str
    marker: str

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        if Path(self.flag).exists():
            inputs.path("").with_name("partial.bin").write_bytes(b"half of a file")
            Path(self.marker).write_text("waiting", encoding="utf-8")
            deadline = time.monotonic() + 600
            while Path(self.flag).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return Result(model=model)
