"""Low layers stay light: importing them must not load the heavy runtimes and exporters.

Each check runs in a fresh interpreter, since this one has imported everything already.
"""

import subprocess
import sys

import pytest

HEAVY = ("torch.onnx", "onnxruntime", "onnx", "executorch")
CASES = {
    "edgeopt.artifact": (*HEAVY, "torch"),  # below torch: results.json readers need no torch
    "edgeopt.report.schema": (*HEAVY, "torch"),
    "edgeopt.utils.units": (*HEAVY, "torch"),
    "edgeopt.export": HEAVY,
    "edgeopt.export.parity": HEAVY,
    "edgeopt.runtime": HEAVY,
    # timing must not import base (base imports timing: no cycle)
    "edgeopt.runtime.timing": (*HEAVY, "edgeopt.runtime.base"),
    # runtime never imports export (export may import runtime)
    "edgeopt.runtime.benchmark": ("edgeopt.export",),
}


@pytest.mark.parametrize("module", sorted(CASES))
def test_import_does_not_load(module):
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    )
    assert sorted(loaded & set(CASES[module])) == []
