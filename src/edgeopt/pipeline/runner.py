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

from edgeopt.checkpoint import load_checkpoint, save_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.models.root import Trust
from edgeopt.pipeline import display
from edgeopt.pipeline.candidate import Candidate
from edgeopt.pipeline.evaluate import model_metrics
from edgeopt.pipeline.outcome import Outcome, run_step
from edgeopt.pipeline.recipe import BASELINE, Recipe, load_recipe
from edgeopt.pipeline.rundir import RunDir, step_config, step_hash
from edgeopt.pipeline.sources import ModelSource
from edgeopt.pipeline.step import RecipeStep
from edgeopt.train import seed_everything
from edgeopt.train.transform import Train
from edgeopt.transform import Inputs, Transform

CHECKPOINT_FILE = "model.pt"


def run_recipe(recipe: Recipe | str | Path, run_dir: str | Path, *, resume: bool = False,
               force: bool = False, console: Console | None = None, report: bool = True,
               trust_code: bool = False) -> Any:
    """Run ``recipe`` into ``run_dir`` and return the :class:`~edgeopt.report.RunResults`.

    Args:
        recipe: A :class:`Recipe` or the path of a recipe file.
        run_dir: The run directory (see :mod:`edgeopt.pipeline.rundir`).
        resume: Continue a run in ``run_dir``: finished steps are kept, not redone.
        force: Replace an earlier run in ``run_dir``.
        console: Where progress goes (default: a new rich console on stdout).
        report: Write ``report.html`` at the end.
        trust_code: Allow model files whose root is a ``module:factory`` the recipe does not
            name to import it (factories the recipe names are trusted: the user named them).

    Raises:
        EdgeoptError: Bad recipe or input, an existing run dir without resume/force, a resume
            against a changed recipe, or a step's own error (earlier steps stay finished).
    """
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    run = _Run(recipe, RunDir(run_dir), console or Console(), True if trust_code else named_code(recipe))
    return run.execute(resume=resume, force=force, report=report)


def named_code(recipe: Recipe) -> set[str]:
    """The ``module:factory`` sources the recipe names: the user asked for that code to run."""
    sources = [recipe.model, *(step.model for step in recipe.steps if step.model is not None)]
    return {s.source for s in sources if not s.is_file()}


class _Run:
    """One execution of a recipe: the candidates so far and the step being run."""

    def __init__(self, recipe: Recipe, run_dir: RunDir, console: Console, trust: Trust) -> None:
        self.recipe, self.dir, self.console, self.trust = recipe, run_dir, console, trust
        self.candidates: dict[str, Candidate] = {}
        self.models: dict[str, nn.Module] = {}
        self.current = BASELINE
        self.seconds: dict[int, float] = {}
        self.started = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    def execute(self, *, resume: bool, force: bool, report: bool) -> Any:
        device = self._device()  # a bad target fails before any training
        self.dir.check(resume=resume, force=force)  # a taken directory fails before data is read
        # The data and the models the recipe names are checked before the run directory is written:
        # a bad option leaves nothing behind (and an earlier run in the directory untouched).
        self.data = self.recipe.data.load()
        for source in [self.recipe.model, *(step.model for step in self.recipe.steps if step.model is not None)]:
            source.check(self.data)
        self._check_val_split()
        finished = self.dir.prepare(self.recipe, resume=resume, force=force)
        try:
            return self._steps(finished, device, report)
        finally:
            self.dir.unlock()

    def _steps(self, finished: list[dict[str, Any]], device: Any, report: bool) -> Any:
        self.dir.write_state(self.recipe, "running")
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

    def _check_val_split(self) -> None:
        """Training picks its best epoch on the val split: refuse an empty one before anything runs."""
        trains = self.recipe.train is not None or any(
            step.transform.trains and getattr(step.transform, "fine_tune", True) is not None
            for step in self.recipe.steps)
        if trains and len(self.data.val) == 0:
            raise EdgeoptError(f"dataset {self.data.name!r} has no val split (data.val_fraction: "
                               f"{self.recipe.data.val_fraction:g}), but training evaluates every epoch on it",
                               hint="set data.val_fraction above 0, e.g. 0.1")

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
        step_dir = self.dir.begin_step(0, BASELINE)
        display.step_started(self.console, 0, len(self.recipe.steps), BASELINE, BASELINE)
        train = None if self.recipe.train is None else Train(train=self.recipe.train)
        cand = self._new_model(self.recipe.model, BASELINE, train)
        outcome = Outcome(cand)
        if train is not None:
            outcome = run_step(RecipeStep(transform=train, name=BASELINE), 0, cand, cand.model, {},
                               self._inputs(step_dir, BASELINE), self.dir.root)
            outcome.candidate = outcome.candidate.evolve(technique=BASELINE, parent=None)
        elif not (self.recipe.model.is_file() or self.recipe.model.weights):
            self.console.print("[yellow]note:[/] the model has fresh random weights (no train:, no "
                               "weights:); its accuracy will be chance level")
        self._record(0, BASELINE, self.recipe.header(), step_dir, outcome, started, makes_candidate=True)

    def _step(self, index: int, step: RecipeStep) -> None:
        started = time.perf_counter()
        assert step.name is not None
        display.step_started(self.console, index, len(self.recipe.steps), step.type, step.name)
        step_dir = self.dir.begin_step(index, step.type)
        if step.model is not None:
            source = self._new_model(step.model, step.name, step.transform)
        else:
            source = self.candidates[step.input or self.current]
        model = source.model if source.model is not None else None
        if model is None and not step.transform.measures:
            model = self._model_of(source)
        with display.working(self.console, f"{step.type} …", enabled=not step.transform.trains):
            # A new candidate's files are named after it; files added to a candidate, after that one.
            stem = step.name if step.makes_candidate else source.name
            outcome = run_step(step, index, source, model, self.candidates, self._inputs(step_dir, stem),
                               self.dir.root)
        if step.model is not None:  # a new model of its own, not made from a candidate
            outcome.candidate = outcome.candidate.evolve(parent=None)
        if step.makes_candidate and outcome.candidate.name in self.candidates:
            raise EdgeoptError(f"step {index} ({step.type}) made a candidate named {outcome.candidate.name!r}, "
                               "which exists already", hint="give the step a unique name:")
        self._record(index, step.type, step_config(step), step_dir, outcome, started,
                     makes_candidate=step.makes_candidate, digest=step_hash(step))

    def _new_model(self, source: ModelSource, name: str, transform: Transform | None) -> Candidate:
        """A candidate for a model the recipe names (the baseline, a step's ``model:``)."""
        # The initial weights follow the training seed, so a run is repeatable.
        seed_everything(getattr(getattr(transform, "train", None), "seed", 0))
        opened = source.open(self.data, trust_code=self.trust)
        return Candidate(name=name, technique=BASELINE, model=opened.model, lineage=opened.lineage)

    def _inputs(self, step_dir: Path, name: str) -> Inputs:
        return Inputs(example=self.example_input, data=self.data, out_dir=step_dir, name=name,
                      resolve=self._resolve, measure_elsewhere=self._agent_measure())

    def _agent_measure(self) -> Any:
        """measure_remote bound to the recipe's agent (None: measure here)."""
        agent = self.recipe.agent
        if agent is None:
            return None
        from functools import partial

        from edgeopt.agent.client import measure_remote

        return partial(measure_remote, url=str(self.recipe.target), token_file=agent.token_file,
                       tls_pin=agent.tls_pin)

    def _record(self, index: int, step_type: str, config: dict[str, Any], step_dir: Path, out: Outcome,
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

    def _evaluated(self, out: Outcome, step_dir: Path) -> Candidate:
        cand = out.candidate
        assert cand.model is not None, "a step that makes a candidate must have its model"
        metrics, profile = model_metrics(cand.model, self.data, self.example_input)
        path = save_checkpoint(step_dir / CHECKPOINT_FILE, cand.model, cand.lineage, metadata={
            "pipeline_step": cand.step_index, "candidate": cand.name, "dataset": self.data.name,
            "test_accuracy": metrics["test_accuracy"]}, input_size=tuple(self.example_input.shape))
        metrics.update(checkpoint_bytes=path.stat().st_size, **out.metrics)
        details = {**cand.details, **out.details, "profile": profile}
        return cand.evolve(metrics=metrics, details=details, checkpoint=str(path.relative_to(self.dir.root)))

    def _adopt(self, record: dict[str, Any], cand: Candidate | None = None,
               extra: list[Candidate] | None = None) -> None:
        """Make a finished step's candidates current (from memory, or from its record on resume)."""
        main = cand or Candidate.from_record(record["candidate"])
        others = list(extra or ()) or [Candidate.from_record(r) for r in record.get("updated", [])]
        for item in [main, *others]:
            self.candidates[item.name] = item
            if item.model is not None:
                self.models[item.name] = item.model
        if record.get("makes_candidate", True):  # export and bench annotate; the next step goes on
            self.current = main.name
        self.seconds[record["index"]] = float(record.get("seconds", 0.0))

    # --- models -----------------------------------------------------------------------------

    def _model_of(self, cand: Candidate) -> nn.Module:
        """``cand``'s model, loaded from its checkpoint after a resume."""
        if cand.name not in self.models:
            if not cand.checkpoint:
                raise EdgeoptError(f"candidate {cand.name!r} has no checkpoint to resume from",
                                   hint="start the run afresh with --force")
            self.models[cand.name] = load_checkpoint(self.dir.root / cand.checkpoint, trust_code=self.trust).model
        return self.models[cand.name]

    def _resolve(self, reference: str) -> nn.Module:
        """A model a step names: a candidate, or a model file."""
        if reference in self.candidates:
            return self._model_of(self.candidates[reference])
        from edgeopt.loading import load_model

        return load_model(reference, trust_code=self.trust)

    def _step_name(self, index: int) -> str:
        return self.recipe.steps[index - 1].name or self.recipe.steps[index - 1].type

    # --- results ----------------------------------------------------------------------------

    def _device(self) -> Any:
        if self.recipe.target is None or self.recipe.on_agent:  # an agent measures; no catalog estimate
            return None
        from edgeopt.devices import get_device

        return get_device(self.recipe.target)

    def _results(self, device: Any = None) -> Any:
        from edgeopt.report import validate_results
        from edgeopt.version import __version__

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
        files = [a.size_bytes for a in final.artifacts if a.precision == precision]
        cost = profile(self._model_of(final), example_input=self.example_input)
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
