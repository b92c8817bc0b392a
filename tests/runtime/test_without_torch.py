"""Measuring ONNX files needs no torch: the runner, the gated timing and fresh-process memory.

An edge device that runs ONNX Runtime has no torch (edgeopt.agent measures there). Each check
runs in a fresh interpreter in which ``import torch`` fails.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edgeopt.runtime import ArrayData, OnnxRuntimeRunner, bench
from edgeopt.runtime.arrays import ArrayData as ArraysModuleName

pytestmark = pytest.mark.usefixtures("steady_machine")

NO_TORCH = "import sys; sys.modules['torch'] = None\n"  # any `import torch` now raises ImportError


def _run_without_torch(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", NO_TORCH + code], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bench_of_an_onnx_file_runs_without_torch(cnn_onnx, digits, tmp_path):
    x, y = digits.test.tensors[0].numpy(), digits.test.tensors[1].numpy()
    np.savez(tmp_path / "data.npz", x=x, y=y)
    out = _run_without_torch(f"""
import json, numpy as np
from edgeopt.runtime import ArrayData, bench, speed_probe
data = np.load({str(tmp_path / "data.npz")!r}, allow_pickle=False)
(m,) = bench([{str(cnn_onnx.path)!r}], data=ArrayData(data["x"], data["y"], "digits"), runs=10, warmup=2,
             rounds=2, memory=True, gate_retries=0)
assert speed_probe() > 0
loaded = sorted(k for k, v in sys.modules.items() if k.split(".")[0] == "torch" and v is not None)
print(json.dumps({{"m": m.to_dict(), "torch": loaded}}))
""")
    assert out["torch"] == []
    m = out["m"]
    assert m["runtime"] == "onnxruntime" and m["runs"] == 10 and m["peak_memory_bytes"] >= m["baseline_memory_bytes"]
    local = OnnxRuntimeRunner(cnn_onnx.path, threads=2).accuracy(digits.test)
    assert m["accuracy"] == local  # the same outputs, the same figure, with or without torch


def test_array_data_gives_the_same_accuracy_as_the_dataset(cnn_onnx, digits):
    runner = OnnxRuntimeRunner(cnn_onnx.path, threads=1)
    arrays = ArrayData.from_splits(digits)
    assert ArrayData is ArraysModuleName and len(arrays) == len(digits.test)
    assert runner.accuracy(arrays) == runner.accuracy(digits.test)
    via_name = bench([cnn_onnx], data=arrays, runs=4, rounds=1, memory=False)[0]
    via_splits = bench([cnn_onnx], data=digits, runs=4, rounds=1, memory=False)[0]
    assert via_name.accuracy == via_splits.accuracy


def test_unlabelled_arrays_time_but_give_no_accuracy(cnn_onnx):
    (m,) = bench([cnn_onnx], data=ArrayData(np.zeros((3, 1, 8, 8), np.float32)), runs=2, rounds=1, memory=False)
    assert m.accuracy is None and m.runs == 2


@pytest.mark.parametrize(("x", "y", "match"), [
    (np.zeros((0, 1, 8, 8)), None, "needs a batch"),
    (np.zeros((3, 1, 8, 8)), np.zeros(2, np.int64), "must be 3 integers"),
    (np.zeros((3, 1, 8, 8)), np.zeros(3, np.float32), "must be 3 integers"),
])
def test_bad_arrays_are_user_errors(x, y, match):
    from edgeopt.errors import EdgeoptError

    with pytest.raises(EdgeoptError, match=match):
        ArrayData(x, y)


def test_the_probe_without_torch_is_one_onnx_runtime_matmul():
    import onnx

    from edgeopt.runtime.timing import _matmul_model

    model = onnx.load_from_string(_matmul_model(192))
    onnx.checker.check_model(model, full_check=True)  # the hand-made bytes are a valid model
    assert [n.op_type for n in model.graph.node] == ["MatMul"]
    out = _run_without_torch("""
import json
from edgeopt.runtime import timing
probes = [timing.speed_probe() for _ in range(3)]
print(json.dumps({"probes": probes, "kind": sorted(timing._probe_state)}))
""")
    assert out["kind"] == ["onnxruntime"] and all(p > 0 for p in out["probes"])
