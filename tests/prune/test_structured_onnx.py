"""Pruned models export to ONNX and run in ONNX Runtime with the pruned model's outputs."""

import numpy as np
import pytest
import torch
from structured_zoo import INPUT, ZOO, calibrated

from edgeopt.export import export_onnx
from edgeopt.prune import structured
from edgeopt.runtime import OnnxRuntimeRunner

torch.set_num_threads(1)

# one export per pattern takes a few seconds (torch.export-based exporter): a slow test
PATTERNS = [name for name in sorted(ZOO) if name != "dict_out"]


@pytest.mark.slow
@pytest.mark.parametrize("name", PATTERNS)
def test_pruned_pattern_runs_in_onnxruntime(name, tmp_path):
    torch.manual_seed(0)
    small = structured(calibrated(ZOO[name](16)), 0.5, torch.randn(INPUT)).eval()
    x = torch.randn(INPUT)
    artifact = export_onnx(small, x, tmp_path / f"{name}.onnx")  # checks parity itself, too
    assert artifact.parity is not None and artifact.parity.passed
    got = OnnxRuntimeRunner(artifact.path, threads=1).run(x.numpy())
    with torch.no_grad():
        want = small(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
