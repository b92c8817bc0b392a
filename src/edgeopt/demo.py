"""``edgeopt demo``: the main job on bundled data, end to end with no arguments.

The demo is a run of the bundled demo recipe (``recipes/demo.yaml``, shipped inside the package):
a MobileNetV1 baseline and a larger teacher trained on the 5,000-image MNIST subset, then
structured pruning with fine-tuning, distillation from the teacher, BatchNorm fusion, int8
quantization for ONNX Runtime and ExecuTorch, export of the fp32 baseline in both formats, and
one bench of every artifact side by side. :func:`gains` reads the final int8 artifacts against
the fp32 baseline *from the same bench run*: size, measured latency and accuracy on the artifact.

Example:
    >>> from edgeopt.demo import run_demo
    >>> summary = run_demo("runs/demo")
    >>> [(g.runtime, round(g.size_ratio, 1), round(g.speedup, 2)) for g in summary.gains]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

DEMO_RECIPE = "demo.yaml"


def bundled_recipe(name: str = DEMO_RECIPE) -> Path:
    """Path of a recipe shipped with edgeopt (``demo.yaml``, ``tiny.yaml``).

    Raises:
        EdgeoptError: No bundled recipe has that name.
    """
    from edgeopt.errors import EdgeoptError, suggest

    folder = resources.files("edgeopt") / "recipes"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml"))
    if name not in names:
        raise EdgeoptError(f"no bundled recipe {name!r}", hint=suggest(name, names) or f"choose from {names}")
    return Path(str(folder / name))


@dataclass(frozen=True)
class Gain:
    """An int8 artifact against the fp32 baseline artifact of the same format, one bench run."""

    runtime: str
    baseline_path: str
    final_path: str
    size_ratio: float  # baseline bytes ÷ final bytes
    speedup: float  # baseline median latency ÷ final median latency (measured, same run)
    baseline_accuracy: float | None
    final_accuracy: float | None

    @property
    def accuracy_drop_points(self) -> float | None:
        """Baseline minus final top-1, in points, both measured on the artifacts."""
        if self.baseline_accuracy is None or self.final_accuracy is None:
            return None
        return 100.0 * (self.baseline_accuracy - self.final_accuracy)

    def to_dict(self) -> dict[str, Any]:
        """Plain form for JSON."""
        return {**self.__dict__, "accuracy_drop_points": self.accuracy_drop_points}


@dataclass
class DemoSummary:
    """Where the demo wrote its results, how long it took, and what each stage gained."""

    run_dir: Path
    seconds: float
    gains: list[Gain] = field(default_factory=list)

    @property
    def results_path(self) -> Path:
        return self.run_dir / "results.json"

    @property
    def report_path(self) -> Path:
        return self.run_dir / "report.html"


def run_demo(out_dir: str | Path = "runs/demo", *, recipe: str | Path | None = None, resume: bool = False,
             console: Console | None = None) -> DemoSummary:
    """Run the demo recipe into ``out_dir`` (an earlier run there is replaced unless ``resume``).

    Args:
        out_dir: Run directory.
        recipe: Another recipe file to run instead of the bundled demo (tests use ``tiny.yaml``).
        resume: Continue an interrupted demo run; finished steps are kept.
        console: Where progress and tables go.
    """
    from edgeopt.pipeline import load_recipe, run_recipe

    started = time.perf_counter()
    source = Path(recipe) if recipe is not None else bundled_recipe()
    results = run_recipe(load_recipe(source), out_dir, resume=resume, force=not resume, console=console)
    return DemoSummary(Path(out_dir), time.perf_counter() - started, gains(results))


def gains(results: Any) -> list[Gain]:
    """The last int8 artifact of each format against the baseline's fp32 artifact of that format.

    Each artifact's latest measurement is used; the demo recipe measures every artifact in one
    bench step (interleaved rounds), so the speed-up is a latency ratio measured in one run,
    never a MAC ratio.
    """
    candidates = list(results.candidates)
    if not candidates:
        return []
    baseline = {a.format: a for a in candidates[0].artifacts if a.precision == "fp32" and a.measurements}
    finals: dict[str, Any] = {}
    for cand in candidates[1:]:
        for art in cand.artifacts:
            if art.precision == "int8" and art.measurements and art.format in baseline:
                finals[art.format] = art
    return [_gain(baseline[fmt], art) for fmt, art in finals.items()]


def _gain(base: Any, final: Any) -> Gain:
    b, f = base.measurements[-1], final.measurements[-1]
    return Gain(
        runtime=f.runtime,
        baseline_path=str(base.path),
        final_path=str(final.path),
        size_ratio=base.size_bytes / final.size_bytes,
        speedup=b.latency_ms_median / f.latency_ms_median,
        baseline_accuracy=b.accuracy,
        final_accuracy=f.accuracy,
    )
