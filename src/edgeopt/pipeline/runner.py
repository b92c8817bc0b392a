"""``run_recipe``: run a recipe's steps in order, record every candidate, resume after a stop.

After each step the new candidate is evaluated (test accuracy, params, MACs, memory) and saved
(``steps/NN_type/model.pt``), and ``results.json`` is rewritten atomically, so an interruption
(Ctrl-C, kill -9, a failing step) loses at most the step that was running. ``resume=True`` keeps
every finished step and continues after the last one.

Example:
    >>> results = run_recipe("recipes/tiny.yaml", "runs/tiny")
    >>> [c.name for c in results.candidates]
    ['baseline', 'prune.structured']
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline import display
from edgeopt.pipeline.candidate import Candidate
from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.evaluate import model_metrics
from edgeopt.pipeline.models_store import ModelCache, restore_model, save_step_checkpoint
from edgeopt.pipeline.recipe import BASELINE, Recipe, load_recipe
from edgeopt.pipeline.registry import StepConfig
from edgeopt.pipeline.rundir import RunDir, step_config, step_hash

CHECKPOINT_FILE = "model.pt"


def run_recipe(recipe: Recipe | str | Path, run_dir: str | Path, *, resume: bool = False,
               force: bool = False, console: Console | None = None, report: bool = True) -> Any:
    """Run ``recipe`` into ``run_dir`` and return the :class:`~edgeopt.report.RunResults`.

    Args:
        recipe: A :class:`Recipe` or the path of a recipe file.
        run_dir: The run directory (see :mod:`edgeopt.pipeline.rundir`).
        resume: Continue a run in ``run_dir``: finished steps are kept, not redone.
        force: Replace an earlier run in ``run_dir``.
        console: Where progress goes (default: a new rich console on stdout).
        report: Write ``report.html`` at the end.

    Raises:
        EdgeoptError: Bad recipe or input, an existing run dir without resume/force, a resume
            against a changed recipe, or a step's own error (earlier steps stay finished).
    """
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    run = _Run(recipe, RunDir(run_dir), console or Console())
    return run.execute(resume=resume, force=force, report=report)


class _Run:
    """One execution of a recipe: the candidates so far and the step being run."""

    def __init__(self, recipe: Recipe, run_dir: RunDir, console: Console) -> None:
        self.recipe, self.dir, self.console = recipe, run_dir, console
        self.candidates: dict[str, Candidate] = {}
        self.current = BASELINE
        self.seconds: dict[int, float] = {}
        self.cache = ModelCache(self._restore)
        self.started = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    def execute(self, *, resume: bool, force: bool, report: bool) -> Any:
        device = self._device()  # a bad target fails before any training
        finished = self.dir.prepare(self.recipe, resume=resume, force=force)
        self.dir.write_state(self.recipe, "running")
        self.data = self.recipe.data.load()
        self.example_input = self.data.test.tensors[0][:1].clone()
        for record in finished:
            self._adopt(record)
        total = len(self.recipe.steps)
        for index in range(total + 1):
            if index < len(finished):
                step_type = BASELINE if index == 0 else self.recipe.steps[index - 1].type
                display.step_skipped(self.console, index, total, step_type, finished[index]["name"])
                continue
            self._guarded(index)
        results = self._results(device)
        self.dir.write_state(self.recipe, "done")
        self._finish(results, report)
        return results

    # --- one step ---------------------------------------------------------------------------

    def _guarded(self, index: int) -> None:
        step_type = BASELINE if index == 0 else self.recipe.steps[index - 1].type
        try:
            if index == 0:
                self._baseline()
            else:
                self._step(index, self.recipe.steps[index - 1])
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            self.dir.write_state(self.recipe, status, failed_step={"index": index, "type": step_type},
                                 error=f"{type(exc).__name__}: {exc}")
            if isinstance(exc, EdgeoptError) and index > 0:
                raise EdgeoptError(f"step {index} ({step_type}) failed: {exc.message}",
                                   hint=(exc.hint + "; " if exc.hint else "")
                                   + "fix it and continue with --resume (finished steps are kept)") from exc
            raise

    def _baseline(self) -> None:
        started = time.perf_counter()
        source, step_dir = self.recipe.model, self.dir.begin_step(0, BASELINE)
        display.step_started(self.console, 0, len(self.recipe.steps), BASELINE, BASELINE)
        details: dict[str, Any] = {}
        if self.recipe.train is not None:
            from edgeopt.baseline import train_baseline

            trained = train_baseline(source.source, self.data, step_dir, config=self.recipe.train,
                                     model_kwargs=source.kwargs)
            model, kwargs = trained.model, trained.model_kwargs
            details["train"] = trained.train.to_dict()
        else:
            model, kwargs = source.build(self.data)
            if not (source.is_file() or source.weights):
                self.console.print("[yellow]note:[/] the model has fresh random weights (no train:, no "
                                   "weights:); its accuracy will be chance level")
        config = {"source": source.model_dump(mode="json"),
                  "train": self.recipe.train.model_dump(mode="json") if self.recipe.train else None}
        cand = Candidate(name=BASELINE, technique=BASELINE, model=model, model_info=source.info(kwargs),
                         lineage=({"step": BASELINE, "name": BASELINE, "config": config},))
        metrics = {"best_val_accuracy": details["train"]["best_val_acc"]} if details else {}
        out = StepOutput(cand, details=details, metrics=metrics)
        self._record(0, BASELINE, self.recipe.header(), step_dir, out, started, makes_candidate=True)

    def _step(self, index: int, step: StepConfig) -> None:
        started = time.perf_counter()
        assert step.name is not None
        display.step_started(self.console, index, len(self.recipe.steps), step.type, step.name)
        step_dir = self.dir.begin_step(index, step.type)
        source = self.candidates[step.input or self.current]
        ctx = StepContext(index=index, name=step.name, step=step, step_dir=step_dir, run_dir=self.dir.root,
                          data=self.data, example_input=self.example_input, input=source,
                          candidates=dict(self.candidates), load_model=self._model_of)
        with display.working(self.console, f"{step.type} …", enabled=not step.trains):
            out = step.run(ctx)
        if step.makes_candidate and out.candidate.name in self.candidates:
            raise EdgeoptError(f"step {index} ({step.type}) made a candidate named {out.candidate.name!r}, "
                               "which exists already", hint="give the step a unique name:")
        self._record(index, step.type, step_config(step), step_dir, out, started,
                     makes_candidate=step.makes_candidate, digest=step_hash(step))

    def _record(self, index: int, step_type: str, config: dict[str, Any], step_dir: Path, out: StepOutput,
                started: float, *, makes_candidate: bool, digest: str | None = None) -> None:
        from edgeopt.pipeline.hashing import config_hash

        cand = self._evaluated(out, step_dir) if makes_candidate else out.candidate
        seconds = time.perf_counter() - started
        record = {"index": index, "name": cand.name if index == 0 else self._step_name(index),
                  "type": step_type, "hash": digest or config_hash(config), "config": config,
                  "seconds": round(seconds, 2), "makes_candidate": makes_candidate, "candidate": cand.to_record(),
                  "updated": [c.to_record() for c in out.updated], "details": out.details}
        self.dir.finish_step(index, step_type, record)
        self._adopt(record, cand=cand, extra=out.updated)
        self._save_results()
        display.step_finished(self.console, cand, seconds, notes=out.details.get("notes", ()))

    def _evaluated(self, out: StepOutput, step_dir: Path) -> Candidate:
        cand = out.candidate
        assert cand.model is not None, "a step that makes a candidate must return its model"
        metrics, profile = model_metrics(cand.model, self.data, self.example_input)
        path = save_step_checkpoint(step_dir / CHECKPOINT_FILE, cand, {
            "pipeline_step": cand.step_index, "candidate": cand.name, "dataset": self.data.name,
            "input_size": list(self.example_input.shape), "test_accuracy": metrics["test_accuracy"]})
        metrics.update(checkpoint_bytes=path.stat().st_size, **out.metrics)
        details = {**cand.details, **out.details, "profile": profile}
        return cand.evolve(metrics=metrics, details=details, checkpoint=str(path.relative_to(self.dir.root)))

    def _adopt(self, record: dict[str, Any], cand: Candidate | None = None, extra: list[Candidate] = ()) -> None:
        """Make a finished step's candidates current (from memory, or from its record on resume)."""
        main = cand or Candidate.from_record(record["candidate"])
        others = list(extra) or [Candidate.from_record(r) for r in record.get("updated", [])]
        for item in [main, *others]:
            self.candidates[item.name] = item
            self.cache.put(item)
        if record.get("makes_candidate", True):  # export and bench annotate; the next step goes on
            self.current = main.name
        self.seconds[record["index"]] = float(record.get("seconds", 0.0))

    # --- models -----------------------------------------------------------------------------

    def _model_of(self, name: str) -> nn.Module:
        return self.cache.get(self.candidates[name])

    def _restore(self, cand: Candidate) -> nn.Module:
        return restore_model(cand, self.candidates, self.recipe.steps, self.dir.root, self.example_input)

    def _step_name(self, index: int) -> str:
        return self.recipe.steps[index - 1].name or self.recipe.steps[index - 1].type

    # --- results ----------------------------------------------------------------------------

    def _device(self) -> Any:
        if self.recipe.target is None:
            return None
        from edgeopt.devices import get_device

        return get_device(self.recipe.target)

    def _results(self, device: Any = None) -> Any:
        from edgeopt import __version__
        from edgeopt.report import validate_results

        data: dict[str, Any] = {
            "edgeopt_version": __version__, "created": self.started,
            "host": {"python": platform.python_version(), "torch": torch.__version__,
                     "threads": torch.get_num_threads(), "machine": platform.machine()},
            "dataset": self.data.summary(), "target": self.recipe.target,
            "candidates": [c.to_record() for c in self.candidates.values()],
            "seconds": round(sum(self.seconds.values()), 1),
            "pipeline": {"recipe": "recipe.yaml", "name": self.recipe.name, "current": self.current,
                         "steps": [{"index": i, "seconds": s} for i, s in sorted(self.seconds.items())]},
        }
        if device is not None:
            data.update(self._device_fit(device))
        return validate_results(data, source=str(self.dir.root / "results.json"))

    def _device_fit(self, device: Any) -> dict[str, Any]:
        """Whether the run's final candidate fits the target (an estimate) and the resource chart."""
        from edgeopt.analysis import profile
        from edgeopt.devices import check_fit, load_catalog, plot_resources

        final = self.candidates[self.current]
        precision = "int8" if final.is_quantized else "fp32"
        files = [a["size_bytes"] for a in final.artifacts if a.get("precision", "fp32") == precision]
        cost = profile(self._model_of(final.name), example_input=self.example_input)
        fit = check_fit(cost, device, precision, weights_bytes=min(files) if files else None).to_dict()
        chart = plot_resources(load_catalog(), self.dir.root / "plots" / "devices.png")
        return {"device_fit": {**fit, "candidate": final.name},
                "resource_chart": str(chart.relative_to(self.dir.root))}

    def _save_results(self) -> None:
        from edgeopt.report import save_results

        save_results(self.dir.root, self._results())

    def _finish(self, results: Any, report: bool) -> None:
        from edgeopt.report import save_results, write_report

        save_results(self.dir.root, results)
        self.console.print(display.summary_table(results))
        if report:
            path = write_report(self.dir.root)
            self.console.print(f"report:  {path}")
        self.console.print(f"results: {self.dir.root / 'results.json'}")
