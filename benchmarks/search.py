"""Architecture search on mnist5k against MobileNet width baselines (issue 14's targets).

Run:  flock /tmp/edgeopt-heavy.lock python benchmarks/search.py [--quick] [--parts abcde]
Saves benchmarks/results/search.json (not with --quick or a subset of --parts). Work files (the
search run, trained baselines) stay in /tmp/edgeopt_bench_search and are reused by later runs.

a. Search: ``edgeopt.search.search`` on the built-in ``mnist`` space, supernet trained for
   SUPERNET_EPOCHS, TRIALS trials with latency measured in ONNX Runtime fp32 (2 threads), the
   front's TOP_K members fine-tuned FINETUNE_EPOCHS and measured as fp32 and int8 files.
   Target: supernet training + the trials fit in 30 minutes (wall clock, this machine).
b. Baselines: MobileNetV1 and MobileNetV2 (registry defaults, 1 input channel) at
   α ∈ {0.25, 0.35, 0.5, 0.75, 1.0}, each trained SUPERNET_EPOCHS + FINETUNE_EPOCHS epochs (the
   epochs a finalist's weights saw), exported and quantized like the finalists (ptq, minmax, 256
   training images). Then every int8 file, baselines' and finalists', is timed alone (ONNX
   Runtime, 2 threads), twice in opposite orders, keeping the lower median; accuracy is the
   int8 file's on the 1,000-image test split.
   Target: for each baseline a finalist at least as accurate and ≥ 20 % faster, or as fast and
   more accurate.
c. Ranking: 15 distinct architectures of the study, spread over its inherited accuracies, each
   trained alone from scratch for ALONE_EPOCHS; Kendall τ between inherited and alone accuracy,
   both measured on the validation and test splits together (1,500 images: less binomial noise
   than the 500 the search ranks on).
   Target: τ ≥ 0.6.
d. Microcontroller: a second search reusing (a)'s supernet with peak SRAM ≤ 256 KiB and int8
   weights ≤ 1 MiB; its winner against the most accurate baseline that fits the same bounds.
   Target: the winner fits and is more accurate (int8 file, test split).
e. Distributed: a PostgreSQL study (scripts/postgres.sh) reusing (a)'s supernet; trials completed
   per minute by 1 worker, then by 2 workers, over WINDOW_S each.
   Target: 2 workers ≥ 1.7 × 1 worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, TensorDataset

from edgeopt.artifact import Artifact
from edgeopt.data import load_dataset
from edgeopt.data.sampling import calibration_subset
from edgeopt.export.onnx_export import export_onnx
from edgeopt.models import create_model
from edgeopt.models.space_net import build_model
from edgeopt.models.spaces import Arch
from edgeopt.quantize import ptq
from edgeopt.runtime.benchmark import bench
from edgeopt.search import SearchConfig, search
from edgeopt.search.objectives import arch_cost
from edgeopt.search.run import sized_space
from edgeopt.search.study import finished, open_storage
from edgeopt.search.subnet_eval import subnet_accuracy
from edgeopt.search.supernet_train import load_supernet
from edgeopt.train.config import TrainConfig
from edgeopt.train.evaluation import evaluate
from edgeopt.train.loop import fit
from edgeopt.utils import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "search.json"
WORK = Path("/tmp/edgeopt_bench_search")
ROOT = Path(__file__).resolve().parent.parent
ALPHAS = (0.25, 0.35, 0.5, 0.75, 1.0)
MCU_SRAM, MCU_FLASH = 256 * 1024, 1024 * 1024


class Budget:
    """The run's sizes (``--quick``: plumbing only)."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.supernet_epochs = 1 if quick else 12
        self.finetune_epochs = 1 if quick else 3
        self.trials = 10 if quick else 200
        self.top_k = 2 if quick else 6
        self.alone_epochs = 1 if quick else 6
        self.ranked = 4 if quick else 15
        self.mcu_trials = 8 if quick else 80
        self.window_s = 30 if quick else 150
        self.limit = 600 if quick else None
        self.alphas = (0.25, 1.0) if quick else ALPHAS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="abcde")
    args = parser.parse_args()
    budget = Budget(args.quick)
    work = WORK / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    results: dict[str, Any] = {"command": "python benchmarks/search.py" + (" --quick" if args.quick else ""),
                               "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "host": {"machine": platform.machine(), "cpus": os.cpu_count(),
                                        "torch": torch.__version__}, "budget": vars(budget)}
    config = SearchConfig(space="mnist", data="mnist5k", limit=budget.limit, supernet_epochs=budget.supernet_epochs,
                          trials=budget.trials, top_k=budget.top_k, finetune_epochs=budget.finetune_epochs)
    outcome = part_a(config, work, results)
    splits = load_dataset("mnist5k", seed=0, limit=budget.limit)
    parts = {"b": lambda: part_b(outcome, splits, budget, work), "c": lambda: part_c(outcome, config, splits, budget),
             "d": lambda: part_d(config, splits, budget, work, results.get("b")),
             "e": lambda: part_e(config, budget, work)}
    for name, run in parts.items():
        if name in args.parts:
            results[name] = run()
            write_json_atomic(work / "partial.json", results)  # a later part failing keeps these
    out = RESULTS if not args.quick and args.parts == "abcde" else work / "search.json"
    write_json_atomic(out, results)
    print(f"saved {out}")


def part_a(config: SearchConfig, work: Path, results: dict[str, Any]) -> dict[str, Any]:
    run = work / "search"
    front = run / "front.json"
    if front.exists():
        print(f"a. reusing {front}")
        outcome = json.loads(front.read_text())
        results["a"] = json.loads((work / "a.json").read_text())
        return outcome
    start = time.monotonic()
    timings: dict[str, float] = {}
    found = search(config, run, echo=_timed_echo(start, timings))
    total = time.monotonic() - start
    searched = timings.get("finalist", total)  # everything before the first finalist
    part = {"supernet_s": timings.get("search"), "supernet_and_trials_s": searched, "total_s": total,
            "trials": found.trials_total, "front_size": len(found.front), "hypervolume": found.hypervolume,
            "target_30_min": searched <= 1800}
    write_json_atomic(work / "a.json", part)
    results["a"] = part
    print(f"a. supernet + {found.trials_total} trials: {searched / 60:.1f} min (target ≤ 30); "
          f"total {total / 60:.1f} min")
    return found.to_dict()


def _timed_echo(start: float, timings: dict[str, float]) -> Any:
    def echo(text: str) -> None:
        word = text.split(":")[0]
        if word in ("search", "finalist") and word not in timings:
            timings[word] = time.monotonic() - start
        print(f"[{time.monotonic() - start:7.1f}s] {text}", flush=True)

    return echo


def trained_baseline(name: str, alpha: float, splits: Any, epochs: int, work: Path) -> torch.nn.Module:
    path = work / f"{name}_{alpha}.pt"
    model = create_model(name, num_classes=10, in_chans=1, width_mult=alpha)
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    started = time.monotonic()
    fit(model, splits.train, splits.val, TrainConfig(epochs=epochs, seed=0, progress=False))
    torch.save(model.state_dict(), path)
    print(f"b. trained {name} α={alpha} for {epochs} epochs in {time.monotonic() - started:.0f} s", flush=True)
    return model.eval()


def part_b(outcome: dict[str, Any], splits: Any, budget: Budget, work: Path) -> dict[str, Any]:
    epochs = budget.supernet_epochs + budget.finetune_epochs
    rows: list[dict[str, Any]] = []
    for name in ("mobilenet_v1", "mobilenet_v2"):
        for alpha in budget.alphas:
            model = trained_baseline(name, alpha, splits, epochs, work)
            files = work / "files" / f"{name}_{alpha}"
            example = torch.zeros(1, 1, 28, 28)
            fp32 = export_onnx(model, example, files / "model.onnx")
            int8 = ptq(model, calibration_subset(splits.train, 256, seed=0), path=files / "model.int8.onnx",
                       example_input=example, check=False).artifact
            cost = arch_cost(model, (1, 1, 28, 28))
            rows.append({"name": f"{name} α={alpha}", "kind": "baseline", "fp32_path": str(fp32.path),
                         "int8_path": str(int8.path), "params": cost.params, "peak_sram_int8": cost.peak_sram_int8,
                         "weight_bytes_int8": cost.weight_bytes_int8})
    for finalist in outcome["finalists"]:
        rows.append({"name": f"found #{finalist['number']} {finalist['label']}", "kind": "found",
                     "fp32_path": finalist["fp32"]["path"], "int8_path": finalist["int8"]["path"],
                     "params": finalist["cost"]["params"], "peak_sram_int8": finalist["cost"]["peak_sram_int8"],
                     "weight_bytes_int8": finalist["cost"]["weight_bytes_int8"]})
    measure_alone(rows, splits)
    verdicts = dominance(rows)
    for row in rows:
        print(f"   {row['name']:<40} int8 {row['int8_ms']:.4f} ms  {row['int8_acc']:.2f} %")
    met = all(v["dominated"] for v in verdicts)
    print(f"b. every baseline dominated: {met} ({sum(v['dominated'] for v in verdicts)} of {len(verdicts)})")
    return {"baseline_epochs": epochs, "rows": rows, "verdicts": verdicts, "target_met": met}


def measure_alone(rows: list[dict[str, Any]], splits: Any) -> None:
    """Time each int8 file on its own, twice in opposite orders (the lower median), with accuracy."""
    order = list(range(len(rows)))
    for sweep in (order, order[::-1]):
        for i in sweep:
            (m,) = bench([Artifact.from_file(rows[i]["int8_path"])], splits, threads=2, memory=False)
            best = rows[i].get("int8_ms")
            rows[i]["int8_ms"] = m.latency_ms_median if best is None else min(best, m.latency_ms_median)
            rows[i]["int8_acc"] = 100.0 * float(m.accuracy or 0.0)


def dominance(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [r for r in rows if r["kind"] == "found"]
    verdicts = []
    for base in (r for r in rows if r["kind"] == "baseline"):
        faster = [f for f in found if f["int8_acc"] >= base["int8_acc"] and f["int8_ms"] <= 0.8 * base["int8_ms"]]
        better = [f for f in found if f["int8_ms"] <= base["int8_ms"] and f["int8_acc"] > base["int8_acc"]]
        witness = (faster or better or [None])[0]
        verdicts.append({"baseline": base["name"], "dominated": witness is not None,
                         "by": witness["name"] if witness else None,
                         "speedup": base["int8_ms"] / witness["int8_ms"] if witness else None,
                         "accuracy_gain": witness["int8_acc"] - base["int8_acc"] if witness else None})
    return verdicts


def part_c(outcome: dict[str, Any], config: SearchConfig, splits: Any, budget: Budget) -> dict[str, Any]:
    from scipy.stats import kendalltau

    storage = open_storage(f"sqlite:///{Path(outcome['run_dir']) / 'search.db'}")
    import optuna

    trials = finished(optuna.load_study(study_name="search", storage=storage))
    unique: dict[str, Any] = {}
    for t in sorted(trials, key=lambda t: t.user_attrs["accuracy"]):
        unique.setdefault(t.user_attrs["key"], t)
    ranked = list(unique.values())
    picks = [ranked[round(i * (len(ranked) - 1) / (budget.ranked - 1))] for i in range(budget.ranked)]
    space = sized_space(config.space, splits)
    held_out = ConcatDataset([splits.val, splits.test])
    both = dataclasses.replace(splits, val=TensorDataset(*(torch.cat(p) for p in zip(splits.val.tensors,
                                                                                     splits.test.tensors,
                                                                                     strict=True))))
    supernet = load_supernet(Path(outcome["run_dir"]) / "supernet.pt", space)
    inherited, alone = [], []
    for t in picks:
        arch = Arch.model_validate_json(t.user_attrs["arch"])
        torch.manual_seed(0)
        model = build_model(arch, space)
        fit(model, splits.train, splits.val, TrainConfig(epochs=budget.alone_epochs, seed=0, progress=False))
        inherited.append(subnet_accuracy(supernet, arch, both, calibration_samples=config.calibration_samples))
        alone.append(100.0 * evaluate(model.eval(), held_out).accuracy)
        print(f"c. {arch.label():<26} inherited {inherited[-1]:.1f} %  alone {alone[-1]:.1f} %", flush=True)
    tau = float(kendalltau(inherited, alone).statistic)
    print(f"c. Kendall τ = {tau:.3f} on {len(picks)} subnets (target ≥ 0.6)")
    return {"subnets": len(picks), "alone_epochs": budget.alone_epochs, "inherited": inherited, "alone": alone,
            "tau": tau, "target_met": tau >= 0.6 and len(picks) >= 15}


def part_d(config: SearchConfig, splits: Any, budget: Budget, work: Path, b: dict[str, Any] | None) -> dict[str, Any]:
    run = work / "mcu"
    supernet = str((work / "search" / "supernet.pt").resolve())
    mcu = config.model_copy(update={"supernet": supernet, "trials": budget.mcu_trials, "max_sram_bytes": MCU_SRAM,
                                    "max_flash_bytes": MCU_FLASH, "top_k": 3})
    found = search(mcu, run, resume=(run / "search.json").exists(), echo=print)
    winner = found.winner
    fitting = [r for r in (b or {}).get("rows", []) if r["kind"] == "baseline"
               and r["peak_sram_int8"] <= MCU_SRAM and r["weight_bytes_int8"] <= MCU_FLASH]
    best = max(fitting, key=lambda r: r["int8_acc"], default=None)
    result = {"winner": None if winner is None else {"label": winner["label"], "int8_acc": winner["int8"]["accuracy"],
                                                     "int8_ms": winner["int8"]["latency_ms"], "cost": winner["cost"]},
              "best_fitting_baseline": None if best is None else {"name": best["name"], "int8_acc": best["int8_acc"],
                                                                  "weight_bytes_int8": best["weight_bytes_int8"],
                                                                  "peak_sram_int8": best["peak_sram_int8"]}}
    result["target_met"] = bool(winner and best and winner["int8"]["accuracy"] > best["int8_acc"])
    print(f"d. MCU: {result}")
    return result


def part_e(config: SearchConfig, budget: Budget, work: Path) -> dict[str, Any]:
    started = subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        return {"skipped": started.stderr.strip()}
    url = started.stdout.strip().splitlines()[-1]
    study = f"bench-{uuid.uuid4().hex[:12]}"  # not random: training seeds Python's generator
    supernet = str((work / "search" / "supernet.pt").resolve())
    search(config.model_copy(update={"supernet": supernet, "trials": 1, "top_k": 0}), work / f"pg-{study}",
           storage=url, study_name=study)
    rates = {}
    for workers in (1, 2):
        rates[workers] = _rate(url, study, workers, budget.window_s)
        print(f"e. {workers} worker(s): {rates[workers]:.2f} trials/min", flush=True)
    ratio = rates[2] / rates[1] if rates[1] else float("nan")
    print(f"e. 2 workers / 1 worker = {ratio:.2f} (target ≥ 1.7)")
    return {"window_s": budget.window_s, "trials_per_min": rates, "ratio": ratio, "target_met": ratio >= 1.7}


def _rate(url: str, study: str, workers: int, window_s: float) -> float:
    import optuna

    storage = open_storage(url)
    before = {t.number for t in finished(optuna.load_study(study_name=study, storage=storage))}
    command = [sys.executable, "-c", "from edgeopt.cli import main; main()", "search", "worker", "--storage", url,
               "--study", study, "--trials", "100000", "--timeout", str(window_s)]
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(workers)]
    for p in processes:
        p.wait()
    new = [t for t in finished(optuna.load_study(study_name=study, storage=storage)) if t.number not in before]
    # From the first trial's start to the last one's end: the workers' start-up (imports, data,
    # supernet) is not trial throughput, and a worker finishes the trial it is in after --timeout.
    first = min(t.datetime_start for t in new if t.datetime_start)
    last = max(t.datetime_complete for t in new if t.datetime_complete)
    return len(new) / ((last - first).total_seconds() / 60.0)


def import_everything() -> None:
    """Import every edgeopt module now: edits to the tree during an hour-long run must not mix
    old modules (already imported) with new ones (imported lazily later)."""
    import importlib
    import pkgutil

    import edgeopt

    for module in pkgutil.walk_packages(edgeopt.__path__, "edgeopt."):
        importlib.import_module(module.name)


if __name__ == "__main__":
    import_everything()
    np.random.seed(0)
    main()
