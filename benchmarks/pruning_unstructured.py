"""Gradual magnitude pruning of the trained mnist5k MobileNetV1 to 80% sparsity.

The issue's target: 80% of the Conv2d/Linear weights zero, test accuracy within 1.0 point of the
dense model's, and those weights under the bitmask encoding at most 35% of their dense bytes.

What is pruned: the pointwise convs. The first conv, the classifier and the depthwise convs
(``prune.depthwise_layers``) stay dense: the depthwise weights are far smaller than the pointwise
ones (BatchNorm follows each), so a global ranking would strip them almost bare and kill whole
channels. The 80% is of *all* Conv2d/Linear weights, dense ones included, so the pointwise
convs are pruned a little harder (about 82.8%).

Every figure is measured: accuracies of the eager models on the mnist5k test split (the split
the model was trained with) and of the exported sparse ``.onnx`` in ONNX Runtime; sizes from
real encoded and zlib'd bytes (``edgeopt.prune.sparsity_report``) and of the ``.onnx`` files.
No latency is given on purpose: a dense runtime runs the sparse file exactly as fast as the
dense one.

Budget: ``--steps`` pruning steps of ``--epochs`` fine-tuning epochs each (default 4 × 2 = 8
epochs of 3,500 images), one thread (the machine is shared). With 1 epoch per step the drop was
0.9 / 1.1 / 1.5 points over fine-tuning seeds 0 / 1 / 2, so 1 is not enough to meet the target
reliably. A one-shot 80% prune without fine-tuning is measured too, for contrast.

Usage:
    python benchmarks/pruning_unstructured.py
    python benchmarks/pruning_unstructured.py --steps 4 --epochs 2 --lr 1e-3 --seed 1
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from edgeopt import export, prune
from edgeopt.checkpoint import load_checkpoint
from edgeopt.data import load_dataset
from edgeopt.runtime import OnnxRuntimeRunner
from edgeopt.train import TrainConfig, evaluate
from edgeopt.utils import write_json_atomic

MODEL = Path("/tmp/edgeopt_models/mnist5k_mobilenet.pt")
RESULTS = Path(__file__).parent / "results" / "pruning_unstructured.json"
TARGET_SPARSITY = 0.8
MAX_DROP_POINTS = 1.0
MAX_COMPRESSED_FRACTION = 0.35


def onnx_figures(model: torch.nn.Module, test: Any, directory: Path, name: str) -> dict[str, Any]:
    """Export ``model`` to ONNX, measure its test accuracy in ONNX Runtime and its file sizes."""
    example = torch.zeros(1, 1, 28, 28)
    artifact = export.onnx(model, example, directory / f"{name}.onnx",
                           parity_data=test.tensors[0][:64])
    data = artifact.path.read_bytes()
    runner = OnnxRuntimeRunner(artifact.path, threads=1)
    return {
        "onnx_bytes": artifact.size_bytes,
        "onnx_zlib_bytes": len(zlib.compress(data, 9)),
        "onnxruntime_test_acc": runner.accuracy(test),
        "parity_max_abs_error": artifact.parity.max_abs_error if artifact.parity else None,
    }


def pruned_layer_sparsity(model: torch.nn.Module, exclude: list[str], total: float) -> float:
    """The sparsity of the pruned layers that makes ``total`` of all Conv2d/Linear weights zero."""
    rows = prune.sparsity_report(model, compress=False).rows()
    counts = {row["layer"]: row["weights"] for row in rows}
    pruned = sum(n for name, n in counts.items() if name not in exclude)
    return total * sum(counts.values()) / pruned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0, help="fine-tuning seed (not the data split)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)

    dense = load_checkpoint(args.model).model
    data = load_dataset("mnist5k", seed=0)  # the split the model was trained on; never --seed
    dense_acc = evaluate(dense, data.test).accuracy
    exclude = prune.default_exclude(dense)  # stem, classifier and the depthwise convs
    final_sparsity = pruned_layer_sparsity(dense, exclude, TARGET_SPARSITY)
    one_shot = prune.magnitude(dense, sparsity=final_sparsity, exclude=exclude)
    one_shot_acc = evaluate(one_shot, data.test).accuracy

    config = TrainConfig(epochs=args.epochs, lr=args.lr, augment_shift=1, seed=args.seed,
                         progress=False)
    start = time.perf_counter()
    sparse, history = prune.gradual_magnitude(
        dense, data.train, data.val, final_sparsity=final_sparsity, steps=args.steps,
        config=config, exclude=exclude)
    seconds = time.perf_counter() - start
    sparse_acc = evaluate(sparse, data.test).accuracy
    report = prune.sparsity_report(sparse)
    dense_report = prune.sparsity_report(dense)

    with tempfile.TemporaryDirectory() as tmp:
        onnx_dense = onnx_figures(dense, data.test, Path(tmp), "dense")
        onnx_sparse = onnx_figures(prune.finalize(sparse), data.test, Path(tmp), "sparse")

    drop_points = 100 * (dense_acc - sparse_acc)
    results = {
        "benchmark": "pruning_unstructured",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "python": platform.python_version(),
                 "torch": torch.__version__, "threads": 1},
        "model": str(args.model),
        "command": "python benchmarks/pruning_unstructured.py "
                   f"--steps {args.steps} --epochs {args.epochs} --lr {args.lr} --seed {args.seed}",
        "fine_tuning": {**config.model_dump(), "pruning_steps": args.steps,
                        "total_epochs": sum(row["epochs"] for row in history),
                        "seconds": round(seconds, 1)},
        "dense_test_acc": dense_acc,
        "excluded_layers": exclude,
        "pruned_layer_sparsity": final_sparsity,
        "one_shot_80_no_finetune_test_acc": one_shot_acc,
        "sparse_test_acc": sparse_acc,
        "accuracy_drop_points": drop_points,
        "history": history,
        "dense": {"sparsity_report": {k: v for k, v in dense_report.to_dict().items()
                                      if k != "layers"}, **onnx_dense},
        "sparse": {"sparsity_report": report.to_dict(), **onnx_sparse},
        "targets": {
            "sparsity": TARGET_SPARSITY,
            "sparsity_met": round(report.total_sparsity, 3) >= TARGET_SPARSITY,
            "max_drop_points": MAX_DROP_POINTS,
            "drop_met": drop_points <= MAX_DROP_POINTS,
            "max_compressed_fraction": MAX_COMPRESSED_FRACTION,
            "compressed_met": report.compression_ratio <= MAX_COMPRESSED_FRACTION,
        },
    }
    write_json_atomic(args.out, results)

    print(f"dense test accuracy        {dense_acc:.2%}")
    print(f"one-shot 80%, no fine-tune {one_shot_acc:.2%}")
    for row in history:
        print(f"  step {row['step']}: pruned-layer sparsity {row['sparsity']:.3f}  val pruned "
              f"{row['val_acc_pruned']:.2%}  after fine-tuning {row['val_acc']:.2%}")
    print(f"gradual 80% test accuracy  {sparse_acc:.2%} (drop {drop_points:.2f} points, "
          f"ONNX Runtime {onnx_sparse['onnxruntime_test_acc']:.2%}) in {seconds:.0f} s")
    print(report.summary())
    print(f".onnx dense {onnx_dense['onnx_bytes']:,} B (zlib {onnx_dense['onnx_zlib_bytes']:,}); "
          f"sparse {onnx_sparse['onnx_bytes']:,} B (zlib {onnx_sparse['onnx_zlib_bytes']:,})")
    print(f"targets: {results['targets']}")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
