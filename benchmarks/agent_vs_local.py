"""Through the agent vs locally: does ``edgeopt bench --device agent://`` measure what ``bench`` measures?

The same ONNX files are measured on this machine three ways, in ``--passes`` passes ``--pause``
seconds apart:

- **local**: ``edgeopt.runtime.bench`` in this process;
- **agent**: ``edgeopt.agent.measure_remote`` against an agent started here on 127.0.0.1, as a
  device would run it: without torch (every dependency outside the ``agent`` extra blocked), so
  it times with ONNX Runtime and gates with its ONNX Runtime speed probe;
- **local_no_torch**: ``edgeopt.runtime.bench`` in a fresh local process with the same modules
  blocked as the agent's: no HTTP, no queue, no worker, but the agent's environment (the same speed
  probe, no torch threads). It tells a difference the agent makes from one the environment makes.

Both use the same protocol: 2 threads, batch 1, warm-up 10, 5 interleaved rounds, 50 timed runs,
accuracy on the mnist5k test split (sent to the agent as arrays), peak memory of a fresh process
(first pass). Models (built from code, no downloads): the demo's MobileNetV1 α=0.5 with a
stride-1 stem at 1×28×28, and MobileNetV2 α=0.35 at 1×28×28 (10 classes), BatchNorm statistics
recalibrated on MNIST so activations stay normal floats; and MobileNetV2 α=1.0 at 3×224×224
(1000 classes, statistics of Gaussian noise; latency and memory only), whose milliseconds are
compute, where the small models' fractions of a millisecond are mostly call overhead.

The order of the three ways rotates from pass to pass. The steadiest figure per way is the
minimum of its pass medians (DESIGN.md, "Machine facts");
the agent "matches" when its figure lies within the local run-to-run spread (min..max of the
local pass medians) widened by the agent's own, and the JSON says whether it did.

Usage:
    python benchmarks/agent_vs_local.py                  # 3 passes, 60 s apart (refuses on a busy machine)
    python benchmarks/agent_vs_local.py --passes 6       # each way in each position twice
    python benchmarks/agent_vs_local.py --passes 1 --pause 0 --out /tmp/a.json   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch
from torch import nn

from edgeopt import export
from edgeopt.agent import measure_remote, write_token
from edgeopt.artifact import Measurement
from edgeopt.data import load_dataset
from edgeopt.models import create_model
from edgeopt.runtime import ArrayData, bench, scoped_threads
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "agent_vs_local.json"
WAYS = ("local", "agent", "local_no_torch")
PROTOCOL = {"threads": 2, "runs": 50, "warmup": 10, "rounds": 5, "batch_size": 1}
# What a device that installed only the agent extra lacks (as tests/agent/conftest.py blocks it).
NOT_ON_DEVICE = ("torch", "onnx", "onnxscript", "matplotlib", "sklearn", "mlxtend", "PIL", "safetensors",
                 "executorch", "torchao")


def calibrated(model: nn.Module, batches: list[torch.Tensor]) -> nn.Module:
    """BatchNorm statistics of real inputs (random init shrinks activations into subnormals)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad(), scoped_threads(2):
        for batch in batches:
            model(batch)
    return model.eval()


def export_models(folder: Path, images: torch.Tensor) -> tuple[list[Path], list[Path]]:
    """The MNIST-size models (measured with accuracy) and the ImageNet-size one (latency only)."""
    torch.manual_seed(0)
    batches = list(images[:512].split(128))
    small = {
        "mobilenet_v1_0.5_28.onnx": create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.5,
                                                 stem_stride=1),
        "mobilenet_v2_0.35_28.onnx": create_model("mobilenet_v2", num_classes=10, in_chans=1, width_mult=0.35),
    }
    big = calibrated(create_model("mobilenet_v2", num_classes=1000, in_chans=3, width_mult=1.0),
                     [torch.randn(16, 3, 224, 224) for _ in range(4)])
    return ([export.onnx(calibrated(m, batches), images[:1].clone(), folder / name).path for name, m in small.items()],
            [export.onnx(big, torch.randn(1, 3, 224, 224), folder / "mobilenet_v2_1.0_224.onnx").path])


class LocalAgent:
    """``edgeopt agent serve`` on 127.0.0.1 in a subprocess, torch-free like a device."""

    def __init__(self, folder: Path) -> None:
        self.token = write_token(folder / "agent.token")
        block = folder / "device"
        block.mkdir()
        (block / "sitecustomize.py").write_text(f"import sys\nsys.modules.update(dict.fromkeys({NOT_ON_DEVICE!r}))\n")
        env = {**os.environ, "PYTHONPATH": str(block)}
        self.env = env  # for local_no_torch: the same blocked modules, no agent
        self.data = folder / "data.npz"
        self.log = open(folder / "agent.log", "w")  # noqa: SIM115  # the agent writes it while it runs
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edgeopt.cli.agent_cmd", "serve", "--port", "0", "--token-file", str(self.token)],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, start_new_session=True)
        self.url = ""
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not ready.wait(120):
            self.stop()
            raise SystemExit(f"the agent did not start; see {folder / 'agent.log'}")

    def _read(self, ready: threading.Event) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "listening on " in line:
                self.url = line.split("listening on ", 1)[1].split(",")[0].strip()
                ready.set()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


_NO_TORCH_BENCH = """
import json, sys, numpy as np
from edgeopt.runtime import ArrayData, bench
npz = np.load(sys.argv[1], allow_pickle=False) if sys.argv[1] != "-" else None
data = ArrayData(npz["x"], npz["y"], "mnist5k") if npz is not None else None
rows = bench(sys.argv[4:], data=data, memory=sys.argv[2] == "1", **json.loads(sys.argv[3]))
print(json.dumps([r.to_dict() for r in rows]))
"""


def measure(way: str, groups: list[tuple[list[Path], ArrayData | None]], agent: LocalAgent,
            memory: bool) -> list[dict[str, Any]]:
    """One way's figures for every file: each group (files, their data or None) in one bench call."""
    rows: list[Measurement] = []
    for files, data in groups:
        rows += _measure(way, files, data, agent, memory)
    return [{"latency_ms_median": r.latency_ms_median, "latency_ms_p90": r.latency_ms_p90,
             "latency_ms_min": r.latency_ms_min, "latency_ms_spread": list(r.latency_ms_spread or ()),
             "accuracy": r.accuracy, "peak_memory_bytes": r.peak_memory_bytes,
             "artifact_memory_bytes": r.artifact_memory_bytes} for r in rows]


def _measure(way: str, files: list[Path], data: ArrayData | None, agent: LocalAgent, memory: bool
             ) -> list[Measurement]:
    if way == "local":
        return bench(files, data=data, memory=memory, **PROTOCOL)
    if way == "local_no_torch":
        done = subprocess.run([sys.executable, "-c", _NO_TORCH_BENCH, str(agent.data) if data else "-",
                               "1" if memory else "0", json.dumps(PROTOCOL), *map(str, files)], env=agent.env,
                              capture_output=True, text=True, check=True, timeout=1800)
        return [Measurement.model_validate(r) for r in json.loads(done.stdout.strip().splitlines()[-1])]
    arts = measure_remote(files, agent.url, agent.token, data=data, memory=memory, **PROTOCOL)
    return [art.measurements[-1] for art in arts]


def summarise(names: list[str], passes: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for i, name in enumerate(names):
        figures = {way: [p[way][i]["latency_ms_median"] for p in passes] for way in WAYS}
        best = {way: min(values) for way, values in figures.items()}
        local_lo, local_hi = min(figures["local"]), max(figures["local"])
        agent_lo, agent_hi = min(figures["agent"]), max(figures["agent"])
        summary[name] = {
            "local_ms_best": round(best["local"], 4), "agent_ms_best": round(best["agent"], 4),
            "agent_over_local": round(best["agent"] / best["local"], 3),
            "local_pass_medians_ms": [round(v, 4) for v in figures["local"]],
            "agent_pass_medians_ms": [round(v, 4) for v in figures["agent"]],
            "per_pass_agent_over_local": [round(a / b, 3) for a, b in zip(figures["agent"], figures["local"],
                                                                           strict=True)],
            "median_pass_ratio": round(statistics.median(a / b for a, b in zip(figures["agent"], figures["local"],
                                                                                strict=True)), 3),
            # overlapping ranges of pass medians: agent and local cannot be told apart by this run
            "within_run_to_run_spread": agent_lo <= local_hi and local_lo <= agent_hi,
            "same_accuracy": len({p[w][i]["accuracy"] for p in passes for w in WAYS}) == 1,
            "accuracy": passes[0]["local"][i]["accuracy"],
            "peak_memory_bytes": {w: passes[0][w][i]["peak_memory_bytes"] for w in WAYS},
            "local_no_torch_ms_best": round(best["local_no_torch"], 4),
            "local_no_torch_pass_medians_ms": [round(v, 4) for v in figures["local_no_torch"]],
            "agent_over_local_no_torch": round(best["agent"] / best["local_no_torch"], 3),
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--pause", type=float, default=60.0, help="Seconds between passes.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--force", action="store_true", help="Run even when the machine is busy.")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if load > 1.5 and not args.force:
        raise SystemExit(f"load average {load:.2f} > 1.5: timings would measure the other work (use --force)")
    splits = load_dataset("mnist5k")
    data = ArrayData.from_splits(splits)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small, big = export_models(folder, splits.test.tensors[0])
        files = small + big
        groups: list[tuple[list[Path], ArrayData | None]] = [(small, data), (big, None)]
        agent = LocalAgent(folder)
        np.savez(agent.data, x=data.x, y=data.y)
        try:
            passes: list[dict[str, Any]] = []
            for index in range(args.passes):
                if index:
                    time.sleep(args.pause)
                ways = ["local", "agent", "local_no_torch"]
                order = tuple(ways[index % 3:] + ways[: index % 3])  # each way first once in 3 passes
                started = time.time()
                result = {way: measure(way, groups, agent, memory=index == 0) for way in order}
                passes.append({"order": list(order), "load_before": round(os.getloadavg()[0], 2),
                               "seconds": round(time.time() - started, 1), **result})
                for i, path in enumerate(files):
                    figures = ", ".join(f"{way} {result[way][i]['latency_ms_median']:.4f} ms" for way in ways)
                    print(f"pass {index + 1} {path.name}: {figures}", flush=True)
        finally:
            agent.stop()
    names = [f.name for f in files]
    summary = summarise(names, passes)
    for name, row in summary.items():
        print(f"{name}: best local {row['local_ms_best']} ms, agent {row['agent_ms_best']} ms, "
              f"local without torch {row['local_no_torch_ms_best']} ms "
              f"(agent/local {row['agent_over_local']}; per pass {row['per_pass_agent_over_local']}; "
              f"within the run-to-run spread: {row['within_run_to_run_spread']}; same accuracy: "
              f"{row['same_accuracy']})")
    write_json_atomic(args.out, {
        "benchmark": "agent_vs_local",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "protocol": {**PROTOCOL, "passes": args.passes, "pause_s": args.pause, "data": "mnist5k test split",
                     "agent": "127.0.0.1, torch-free worker (ONNX Runtime speed probe); local: this process (torch "
                     "speed probe); local_no_torch: a fresh process without torch (ONNX Runtime speed probe)"},
        "passes": passes,
        "summary": summary,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
