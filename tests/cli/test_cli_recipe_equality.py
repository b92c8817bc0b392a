"""One config, one model: each command and the recipe step with the same options make the same thing.

The command line parses its options into the transform config a recipe step holds, and both call
``edgeopt.transform.apply``; these tests check the results are identical (weights bit for bit,
int8 files by their outputs), including ``taylor`` importance, whose scoring data once differed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeopt.checkpoint import load_checkpoint
from edgeopt.pipeline import run_recipe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A simple_cnn trained 1 epoch on digits by the CLI and by a recipe (the same config)."""
    from edgeopt.cli import main

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("eq")
    _cli(main, "train", "simple_cnn", "--data", "digits", "-e", "1", "-o", str(folder / "cli"))
    run = _recipe(folder, "model: simple_cnn\ntrain: {epochs: 1}\n", "")
    return folder, folder / "cli" / "model.pt", run


def _cli(main, *args: str) -> None:
    import sys

    old = sys.argv
    sys.argv = ["edgeopt", *args]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, f"edgeopt {' '.join(args)} exited {exc.code}"
    finally:
        sys.argv = old


def _recipe(folder: Path, head: str, steps: str, name: str = "base") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(head + "data: digits\nsteps:\n" + textwrap.indent(textwrap.dedent(steps), "  "))
    run_recipe(path, folder / f"run-{name}", report=False)
    return folder / f"run-{name}"


def _same_weights(a: Path, b: Path) -> None:
    left, right = load_checkpoint(a).model.state_dict(), load_checkpoint(b).model.state_dict()
    assert left.keys() == right.keys()
    assert all(torch.equal(left[k], right[k]) for k in left), [k for k in left if not torch.equal(left[k], right[k])]


def test_train(trained):
    _, cli, run = trained
    _same_weights(cli, run / "steps" / "00_baseline" / "model.pt")


@pytest.mark.parametrize("args, step", [
    (["prune", "--importance", "taylor", "-e", "1", "--lr", "0.001", "--no-latency"],
     "- type: prune.structured\n  ratio: 0.5\n  importance: taylor\n  fine_tune: {epochs: 1, lr: 0.001}\n"),
    (["prune", "--method", "magnitude", "--ratio", "0.7", "-e", "1"],
     "- type: prune.magnitude\n  sparsity: 0.7\n  fine_tune: {epochs: 1, lr: 0.001}\n"),
    (["distill", "-e", "1"], "- type: distill\n  teacher: {teacher}\n  train: {{epochs: 1}}\n"),
], ids=["prune.structured", "prune.magnitude", "distill"])
def test_model_changing_commands(trained, args, step):
    from edgeopt.cli import main

    folder, base, _ = trained
    name = step.split("type: ")[1].split("\n")[0]
    out = folder / f"cli-{name}"
    if args[0] == "distill":
        cli_args = ["distill", "--teacher", str(base), "--student", str(base), *args[1:]]
        step = step.format(teacher=base)
    else:
        cli_args = [args[0], str(base), *args[1:], "--data", "digits"]
    _cli(main, *cli_args, "-o", str(out))
    run = _recipe(folder, f"model: {base}\n", step, name=name)
    _same_weights(out / "model.pt", run / "steps" / f"01_{name}" / "model.pt")


def test_fuse_and_int8(trained):
    from edgeopt.cli import main
    from edgeopt.runtime import OnnxRuntimeRunner

    folder, base, _ = trained
    _cli(main, "fuse", str(base), "-o", str(folder / "fused.pt"))
    _cli(main, "quantize", str(folder / "fused.pt"), "--data", "digits", "-n", "64", "-o", str(folder / "q"))
    run = _recipe(folder, f"model: {base}\n", "- type: fuse\n- type: quantize.ptq\n  calibration_samples: 64\n",
                  name="int8")
    _same_weights(folder / "fused.pt", run / "steps" / "01_fuse" / "model.pt")
    x = np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32)
    files = [folder / "q" / "model.int8.onnx", run / "steps" / "02_quantize.ptq" / "quantize.ptq.int8.onnx"]
    outputs = [OnnxRuntimeRunner(f, threads=1).run(x) for f in files]
    assert np.array_equal(outputs[0], outputs[1])
