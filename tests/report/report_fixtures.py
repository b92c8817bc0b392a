"""Builders for a small, schema-valid run with every section of the report filled in.

Profiles are real (``edgeopt.profile`` of small MobileNetV1s); accuracies, sizes and latencies are
made-up but plausible, so the report can be checked without training or exporting anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import edgeopt

BASE_ACC = 0.9871
QUANT_NAME = 'int8 <qdq> & "calib"'  # a name that must be escaped in HTML


def _profile(width_mult: float) -> dict[str, Any]:
    model = edgeopt.create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=width_mult, stem_stride=1)
    return edgeopt.profile(model, input_size=(1, 1, 28, 28)).to_dict()


def _metrics(profile: dict[str, Any], acc: float, checkpoint_bytes: int) -> dict[str, Any]:
    keys = ("params", "macs", "param_bytes", "peak_activation_bytes")
    return {"test_accuracy": acc, **{k: profile[k] for k in keys}, "checkpoint_bytes": checkpoint_bytes}


def _artifact(fmt: str, precision: str, size: int, ort_ms: float, torch_ms: float | None, acc: float) -> dict:
    measurements = [{"runtime": "onnxruntime", "threads": 2, "batch_size": 1, "latency_ms_median": ort_ms,
                     "latency_ms_p90": ort_ms * 1.15, "accuracy": acc, "peak_memory_bytes": size * 3}]
    if torch_ms is not None:
        measurements.append({"runtime": "torch", "threads": 2, "batch_size": 1, "latency_ms_median": torch_ms,
                             "latency_ms_p90": torch_ms * 1.2, "accuracy": acc, "peak_memory_bytes": size * 5})
    return {"format": fmt, "path": f"artifacts/{precision}.{fmt}", "size_bytes": size, "sha256": "ab" * 32,
            "precision": precision, "measurements": measurements,
            "estimate": {"device": "rpi4", "precision": precision, "latency_ms": ort_ms * 4.2, "kind": "estimate"},
            "estimate_vs_measured": 1.37}


def _candidate(name: str, technique: str, profile: dict, acc: float, ckpt: int, artifacts: list, steps: list) -> dict:
    return {"name": name, "technique": technique, "lineage": [{"step": s, "config": {}} for s in steps],
            "model": {"name": "mobilenet_v1", "kwargs": {}}, "checkpoint": f"{name}/model.pt",
            "metrics": _metrics(profile, acc, ckpt), "profile": profile, "artifacts": artifacts}


def make_synthetic_data() -> dict[str, Any]:
    """A results.json dict: baseline, fuse, prune, distill, quantize and an unexported search candidate."""
    wide, narrow = _profile(0.5), _profile(0.25)
    candidates = [
        _candidate("baseline", "baseline", wide, BASE_ACC, 3_395_397,
                   [_artifact("onnx", "fp32", 3_310_000, 1.92, 2.6, BASE_ACC)], ["train"]),
        _candidate("fused", "fuse", wide, BASE_ACC, 3_352_000,
                   [_artifact("onnx", "fp32", 3_270_000, 1.61, 2.1, BASE_ACC)], ["train", "fuse"]),
        _candidate("pruned-50", "prune", narrow, 0.9788, 1_010_000,
                   [_artifact("onnx", "fp32", 925_000, 0.83, 1.2, 0.9788)], ["train", "fuse", "prune"]),
        _candidate("distilled", "distill", narrow, 0.9831, 1_010_000,
                   [_artifact("onnx", "fp32", 925_000, 0.82, None, 0.9831)], ["train", "fuse", "prune", "distill"]),
        _candidate("search-7", "search", narrow, 0.9712, 1_004_000, [], ["search"]),
        _candidate(QUANT_NAME, "quantize", narrow, 0.9824, 1_010_000,
                   [_artifact("onnx", "int8", 262_000, 0.51, None, 0.9819)],
                   ["train", "fuse", "prune", "distill", "quantize"]),
    ]
    fit = {"device": "rpi4", "precision": "int8", "verdict": "fits", "kind": "estimate", "checks": [
        {"name": "ram_bytes", "required": 786_000, "available": 4e9, "margin": 4e9 - 786_000, "margin_pct": 99.98,
         "passed": True},
        {"name": "storage_bytes", "required": 262_000, "available": 16e9, "margin": 16e9 - 262_000,
         "margin_pct": 99.99, "passed": True},
        {"name": "latency_ms", "required": 2.1, "available": 10.0, "margin": 7.9, "margin_pct": 79.0, "passed": True},
    ]}
    return {"edgeopt_version": "0.1.0", "created": "2026-11-23T12:00:00+0000",
            "host": {"python": "3.11.7", "torch": "2.13.0+cpu", "threads": 2},
            "dataset": {"name": "mnist5k", "num_classes": 10, "in_chans": 1, "image_size": [28, 28],
                        "sizes": {"train": 3500, "val": 500, "test": 1000}},
            "target": "rpi4", "candidates": candidates, "device_fit": fit,
            "resource_chart": "devices/resources.png", "seconds": 412.3}


def write_resource_chart(path: Path) -> Path:
    """A stand-in edge-vs-cloud chart, drawn with matplotlib like the real one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=90)
    ax.bar(["MCU", "RPi 4", "phone", "cloud GPU"], [0.0005, 4, 8, 80], color="#6a8caf")
    ax.set(yscale="log", ylabel="memory (GB)", title="Edge vs cloud memory (catalog figures)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
