"""Through the agent vs locally: does ``edgeopt bench --device agent://`` measure what ``bench`` measures?

The same ONNX files are measured on this machine two ways, in alternating order (local then
agent, agent then local, ...), in ``--passes`` passes ``--pause`` seconds apart:

- **local**: ``edgeopt.runtime.bench`` in this process;
- **agent**: ``edgeopt.agent.measure_remote`` against an agent started here on 127.0.0.1, as a
  device would run it: without torch (every dependency outside the ``agent`` extra blocked), so
  it times with ONNX Runtime and gates with its numpy speed probe.

Both use the same protocol: 2 threads, batch 1, warm-up 10, 5 interleaved rounds, 50 timed runs,
accuracy on the mnist5k test split (sent to the agent as arrays), peak memory of a fresh process
(first pass). Models (built from code, no downloads): the demo's MobileNetV1 α=0.5 with a
stride-1 stem at 1×28×28, and MobileNetV2 α=0.35 at 1×28×28 (10 classes), BatchNorm statistics
recalibrated on MNIST so activations stay normal floats.

The steadiest figure per way is the minimum of its pass medians (DESIGN.md, "Machine facts");
the agent "matches" when its figure lies within the local run-to-run spread (min..max of the
local pass medians) widened by the agent's own, and the JSON says whether it did.

Usage:
    python benchmarks/agent_vs_local.py                  # 3 passes, 60 s apart (refuses on a busy machine)
    python benchmarks/agent_vs_local.py --passes 1 --pause 0 --out /tmp/a.json   # a quick look
"""

from __future__ import annotations

import argparse
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

import onnxruntime
import torch
from torch import nn

from edgeopt import export
from edgeopt.agent import measure_remote, write_token
from edgeopt.data import load_dataset
from edgeopt.models import create_model
from edgeopt.runtime import ArrayData, bench, scoped_threads
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "agent_vs_local.json"
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


def export_models(folder: Path, images: torch.Tensor) -> list[Path]:
    torch.manual_seed(0)
    batches = list(images[:512].split(128))
    models = {
        "mobilenet_v1_0.5_28.onnx": create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.5,
                                                 stem_stride=1),
        "mobilenet_v2_0.35_28.onnx": create_model("mobilenet_v2", num_classes=10, in_chans=1, width_mult=0.35),
    }
    return [export.onnx(calibrated(m, batches), images[:1].clone(), folder / name).path for name, m in models.items()]


class LocalAgent:
    """``edgeopt agent serve`` on 127.0.0.1 in a subprocess, torch-free like a device."""

    def __init__(self, folder: Path) -> None:
        self.token = write_token(folder / "agent.token")
        block = folder / "device"
        block.mkdir()
        (block / "sitecustomize.py").write_text(f"import sys\nsys.modules.update(dict.fromkeys({NOT_ON_DEVICE!r}))\n")
        env = {**os.environ, "PYTHONPATH": str(block)}
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


def measure(way: str, files: list[Path], agent: LocalAgent, data: ArrayData, memory: bool) -> list[dict[str, Any]]:
    if way == "local":
        rows = bench(files, data=data, memory=memory, **PROTOCOL)
    else:
        arts = measure_remote(files, agent.url, agent.token, data=data, memory=memory, **PROTOCOL)
        rows = [art.measurements[-1] for art in arts]
    return [{"latency_ms_median": r.latency_ms_median, "latency_ms_p90": r.latency_ms_p90,
             "latency_ms_min": r.latency_ms_min, "latency_ms_spread": list(r.latency_ms_spread or ()),
             "accuracy": r.accuracy, "peak_memory_bytes": r.peak_memory_bytes,
             "artifact_memory_bytes": r.artifact_memory_bytes} for r in rows]


def summarise(names: list[str], passes: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for i, name in enumerate(names):
        figures = {way: [p[way][i]["latency_ms_median"] for p in passes] for way in ("local", "agent")}
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
            # overlapping ranges of pass medians: the two ways cannot be told apart by this run
            "within_run_to_run_spread": agent_lo <= local_hi and local_lo <= agent_hi,
            "same_accuracy": len({p[w][i]["accuracy"] for p in passes for w in ("local", "agent")}) == 1,
            "accuracy": passes[0]["local"][i]["accuracy"],
            "peak_memory_bytes": {w: passes[0][w][i]["peak_memory_bytes"] for w in ("local", "agent")},
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
        files = export_models(folder, splits.test.tensors[0])
        agent = LocalAgent(folder)
        try:
            passes: list[dict[str, Any]] = []
            for index in range(args.passes):
                if index:
                    time.sleep(args.pause)
                order = ("local", "agent") if index % 2 == 0 else ("agent", "local")
                started = time.time()
                result = {way: measure(way, files, agent, data, memory=index == 0) for way in order}
                passes.append({"order": list(order), "load_before": round(os.getloadavg()[0], 2),
                               "seconds": round(time.time() - started, 1), **result})
                for i, path in enumerate(files):
                    print(f"pass {index + 1} {path.name}: local {result['local'][i]['latency_ms_median']:.4f} ms, "
                          f"agent {result['agent'][i]['latency_ms_median']:.4f} ms", flush=True)
        finally:
            agent.stop()
    names = [f.name for f in files]
    summary = summarise(names, passes)
    for name, row in summary.items():
        print(f"{name}: best local {row['local_ms_best']} ms, agent {row['agent_ms_best']} ms "
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
                     "agent": "127.0.0.1, torch-free worker (numpy speed probe); local: this process"},
        "passes": passes,
        "summary": summary,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
