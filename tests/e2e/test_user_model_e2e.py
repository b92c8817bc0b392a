"""A user's own ``module:factory`` model through every step, by the CLI and by a recipe.

train → structured prune → distill → fuse → int8 (ONNX Runtime and ExecuTorch) → export → bench;
every file made on the way opens in ``edgeopt profile`` (with ``--trust-code``: the checkpoints'
root is the user's code), and without the flag the checkpoints are refused.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
FACTORY = "user_tinyres:tinyres"


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """digits upsampled to 16×16 (XNNPACK's int8 kernels refuse 8×8 maps), 600 images, as an .npz."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.nn.functional.interpolate(torch.tensor(digits.images[:600, None], dtype=torch.float32), size=16)
    path = tmp_path_factory.mktemp("data") / "digits16.npz"
    np.savez(path, x=x.numpy(), y=digits.target[:600])
    return path


@pytest.fixture
def user_code(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", str(HERE))  # for the fresh processes that measure memory
    torch.set_num_threads(1)


def cli(*args: str) -> str:
    from edgeopt.cli import main

    old, sys.argv = sys.argv, ["edgeopt", *args]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, f"edgeopt {' '.join(args)} exited with {exc.code}"
    finally:
        sys.argv = old
    return ""


def test_through_the_cli(user_code, data_file, tmp_path, capsys):
    d, t = str(data_file), "--trust-code"
    cli("train", FACTORY, "--data", d, "-e", "2", "-o", str(tmp_path / "tr"))
    cli("train", FACTORY, "--data", d, "-e", "2", "-a", "width=24", "-o", str(tmp_path / "teacher"))
    cli("prune", str(tmp_path / "tr/model.pt"), t, "--data", d, "-e", "1", "--no-latency", "-o", str(tmp_path / "p"))
    cli("distill", "--teacher", str(tmp_path / "teacher/model.pt"), "--student", str(tmp_path / "p/model.pt"), t,
        "--data", d, "-e", "1", "-o", str(tmp_path / "d"))
    cli("fuse", str(tmp_path / "d/model.pt"), t, "-o", str(tmp_path / "f.pt"))
    cli("quantize", str(tmp_path / "f.pt"), t, "--data", d, "-o", str(tmp_path / "q"), "-n", "64")
    cli("quantize", str(tmp_path / "f.pt"), t, "--data", d, "-b", "executorch", "-o", str(tmp_path / "qe"), "-n", "64")
    cli("export", str(tmp_path / "f.pt"), t, "-o", str(tmp_path / "f.onnx"))
    files = [tmp_path / "q/model.int8.onnx", tmp_path / "qe/model.int8.pte", tmp_path / "f.onnx", tmp_path / "f.pt"]
    capsys.readouterr()
    cli("bench", *map(str, files), t, "--data", d, "--runs", "10", "--json")
    measured = json.loads(capsys.readouterr().out)
    assert [m["runtime"] for m in measured] == ["onnxruntime", "executorch", "onnxruntime", "torch"]
    assert all(m["accuracy"] is not None and m["peak_memory_bytes"] for m in measured)
    checkpoints = ["tr/model.pt", "teacher/model.pt", "p/model.pt", "d/model.pt", "f.pt"]
    for name in [*checkpoints, "f.onnx", "q/model.int8.onnx"]:
        cli("profile", str(tmp_path / name), t, "--json")
    from edgeopt.checkpoint import load_checkpoint
    from edgeopt.errors import EdgeoptError

    assert load_checkpoint(tmp_path / "f.pt", trust_code=True).lineage.summary() == \
        f"{FACTORY} → train → prune.structured → distill → fuse"
    with pytest.raises(EdgeoptError, match="--trust-code"):
        load_checkpoint(tmp_path / "f.pt")


def test_through_a_recipe(user_code, data_file, tmp_path):
    from edgeopt.pipeline import run_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        model: {FACTORY}
        train: {{epochs: 2, progress: false}}
        data: {data_file}
        steps:
          - {{type: train, name: teacher, model: {{source: "{FACTORY}", kwargs: {{width: 24}}}}, train: {{epochs: 2}}}}
          - {{type: prune.structured, input: baseline, ratio: 0.5, fine_tune: {{epochs: 1}}}}
          - {{type: distill, teacher: teacher, train: {{epochs: 1}}}}
          - {{type: fuse}}
          - {{type: quantize.ptq, name: int8-onnx, calibration_samples: 64}}
          - {{type: quantize.ptq, name: int8-pte, input: fuse, backend: executorch, calibration_samples: 64}}
          - {{type: export, input: fuse, formats: [onnx, executorch]}}
          - {{type: bench, runs: 10, memory: false}}
        """))
    results = run_recipe(recipe, tmp_path / "run", report=False)
    assert all(a.measurements for c in results.candidates for a in c.artifacts)
    for cand in results.candidates:  # every step checkpoint opens on its own
        cli("profile", str(tmp_path / "run" / str(cand.checkpoint)), "--trust-code", "--json")
    for art in (a for c in results.candidates for a in c.artifacts if a.format == "onnx"):
        cli("profile", str(tmp_path / "run" / art.path), "--json")
