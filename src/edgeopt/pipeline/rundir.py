"""The run directory: where a run keeps its recipe, its finished steps and its state.

.. code-block:: text

    RUN_DIR/
      recipe.yaml          the recipe actually used (resolved paths, every default written out)
      run.json             hashes of the recipe and of each step, status, the error of a failed step
      results.json         every candidate so far (edgeopt.report schema), rewritten after each step
      report.html          written when the run finishes
      steps/00_baseline/   model.pt, step.json
      steps/NN_type/       model.pt (a new candidate), artifacts, step.json

A step is finished when its ``step.json`` exists: it is written (atomically) last. A step
directory without one is what an interruption left and is cleared before the step reruns.

Example:
    >>> run = RunDir("runs/tiny")
    >>> finished = run.prepare(recipe, resume=True)    # records of steps that will not rerun
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.models.root import Trust
from edgeopt.pipeline.hashing import config_diff, config_hash
from edgeopt.pipeline.recipe import Recipe
from edgeopt.pipeline.step import RecipeStep
from edgeopt.utils import atomic_path, write_json_atomic
from edgeopt.utils.run_lock import LOCK_FILE, RunLock

RECIPE_FILE = "recipe.yaml"
STATE_FILE = "run.json"
STEP_FILE = "step.json"
STEPS_DIR = "steps"


class RunDir:
    """Paths and bookkeeping of one run directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.lock = RunLock(self.root)

    def step_dir(self, index: int, step_type: str) -> Path:
        """``steps/NN_type`` (index 0 is the baseline)."""
        return self.root / STEPS_DIR / f"{index:02d}_{step_type}"

    def prepare(self, recipe: Recipe, *, resume: bool = False, force: bool = False) -> list[dict[str, Any]]:
        """Check the directory against the options and the recipe; return the finished steps.

        Without ``resume`` the directory must not exist (or be empty), or ``force`` clears a
        previous run in it. With ``resume`` every finished step must be unchanged in ``recipe``.
        The directory stays locked (:class:`RunLock`) until :meth:`unlock`.

        Raises:
            EdgeoptError: The directory exists (no --resume/--force), is not a run directory,
                is in use by another run, or a finished step differs from ``recipe`` (the
                message names the step).
        """
        exists = self.check(resume=resume, force=force)
        self.lock.acquire()  # before anything is deleted or read: another run may be writing it
        try:
            finished = self._check_resume(recipe) if resume else []
            self._remove_stale_temporaries()
            if exists and not resume:
                self._clear()
            self.save_recipe(recipe)
        except BaseException:
            self.lock.release()
            raise
        return finished

    def check(self, *, resume: bool = False, force: bool = False) -> bool:
        """The checks of :meth:`prepare` that need no lock and write nothing; whether a run exists.

        Raises:
            EdgeoptError: As :meth:`prepare`, except for a directory in use (the lock decides that).
        """
        if self.root.exists() and not self.root.is_dir():
            raise EdgeoptError(f"run directory {str(self.root)!r} is a file", hint="pick a directory for -o")
        exists = self.root.is_dir() and any(p.name != LOCK_FILE for p in self.root.iterdir())
        if exists and not resume and not force:
            raise EdgeoptError(f"run directory {str(self.root)!r} already exists",
                               hint="continue it with --resume, replace it with --force, or pick another -o")
        if exists and not resume and not self._looks_like_run():
            raise EdgeoptError(f"{str(self.root)!r} is not empty and not an edgeopt run directory; "
                               "refusing to delete it with --force", hint="pick another -o")
        if resume and not exists:
            raise EdgeoptError(f"nothing to resume: {str(self.root)!r} holds no run",
                               hint="run without --resume to start it")
        from edgeopt.utils.disk import check_writable

        check_writable(self.root, "run directory")
        return exists

    def unlock(self) -> None:
        """Let other runs use the directory."""
        self.lock.release()

    def save_recipe(self, recipe: Recipe) -> None:
        """Write the resolved recipe (every default filled in) beside the results."""
        text = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        with atomic_path(self.root / RECIPE_FILE) as tmp:
            tmp.write_text("# The recipe this run used, with every default filled in.\n" + text, encoding="utf-8")

    def write_state(self, recipe: Recipe, status: str, **extra: Any) -> None:
        """Record the hashes and the run's status (``running``, ``failed``, ``interrupted``, ``done``)."""
        write_json_atomic(self.root / STATE_FILE, {
            "format": "edgeopt-run", "version": 1, "status": status, "updated": _now(),
            "recipe_hash": config_hash(recipe.model_dump(mode="json")),
            "header_hash": config_hash(recipe.header()),
            "steps": [{"index": i, "name": s.name, "type": s.type, "hash": step_hash(s)}
                      for i, s in enumerate(recipe.steps, start=1)],
            **extra,
        })

    def begin_step(self, index: int, step_type: str) -> Path:
        """An empty directory for a step about to run (what an interrupted attempt left is removed)."""
        path = self.step_dir(index, step_type)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def finish_step(self, index: int, step_type: str, record: dict[str, Any]) -> None:
        """Mark a step finished by writing its ``step.json`` (atomically, last)."""
        write_json_atomic(self.step_dir(index, step_type) / STEP_FILE, {**record, "finished": _now()})

    def finished_records(self) -> list[dict[str, Any]]:
        """``step.json`` of each finished step, in order, stopping at the first unfinished one.

        A ``step.json`` that does not parse (edited or damaged: edgeopt writes it atomically)
        counts as unfinished, so that step runs again.
        """
        records: list[dict[str, Any]] = []
        folders = [p for p in (self.root / STEPS_DIR).glob("*") if p.name.split("_")[0].isdigit()]
        for folder in sorted(folders, key=lambda p: int(p.name.split("_")[0])):
            record = _read_record(folder / STEP_FILE)
            if record is None or record.get("index") != len(records):
                break
            records.append(record)
        return records

    def _check_resume(self, recipe: Recipe) -> list[dict[str, Any]]:
        if not (self.root / STATE_FILE).is_file():
            raise EdgeoptError(f"{str(self.root)!r} is not an edgeopt run directory (no {STATE_FILE})",
                               hint="pass the -o folder of an earlier `edgeopt run`")
        records = self.finished_records()
        if records:
            _check_same(records[0], "baseline", recipe.header(), config_hash(recipe.header()),
                        "the model, train or data section")
        for record in records[1:]:
            index = record["index"]
            if index > len(recipe.steps):
                raise EdgeoptError(
                    f"step {index} ({record['type']}) finished in this run but the recipe no longer has it",
                    hint="resume with the recipe the run used (RUN_DIR/recipe.yaml) or start a new run")
            step = recipe.steps[index - 1]
            _check_same(record, step.type, step_config(step), step_hash(step),
                        f"step {index} ({record['type']} {record['name']!r})")
        return records

    def _remove_stale_temporaries(self) -> None:
        """Delete the ``.NAME.XXXX.tmp`` files a killed run left mid-write (results.json, run.json ...).

        Files are written to such a temporary and renamed (``atomic_path``); a ``kill -9`` between
        the two leaves the temporary. This run holds the lock, so no other writer owns one.
        """
        for path in self.root.rglob(".*.tmp"):
            if path.is_file() and not path.is_symlink():
                path.unlink()

    def _looks_like_run(self) -> bool:
        return (self.root / STATE_FILE).is_file() or (self.root / RECIPE_FILE).is_file()

    def _clear(self) -> None:
        """Delete the earlier run, keeping the lock file this run holds."""
        for path in self.root.iterdir():
            if path.name == LOCK_FILE:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def step_config(step: RecipeStep) -> dict[str, Any]:
    """A step's options as plain JSON data (the flat mapping of the recipe file)."""
    return step.dump()


def step_hash(step: RecipeStep) -> str:
    """Fingerprint of a step's options."""
    return config_hash(step_config(step))


def _check_same(record: dict[str, Any], step_type: str, config: dict[str, Any], digest: str, what: str) -> None:
    if record["type"] == step_type and record["hash"] == digest:
        return
    changes = (config_diff(record["config"], config) if record["type"] == step_type
               else [f"type: {record['type']} -> {step_type}"])
    shown = "; ".join(changes[:4]) + (f" (and {len(changes) - 4} more)" if len(changes) > 4 else "")
    raise EdgeoptError(
        f"cannot resume: {what} changed since it ran ({shown or 'options differ'})",
        hint="resume with the recipe the run used (RUN_DIR/recipe.yaml), or start afresh with --force or a new -o",
    )


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    needed = ("index", "type", "hash", "config", "candidate")
    return record if isinstance(record, dict) and all(k in record for k in needed) else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def load_step_model(run_dir: str | Path, name: str, *, trust_code: Trust = False) -> nn.Module:
    """The model of candidate ``name`` of a run, from its checkpoint (rebuilt from its lineage).

    Example:
        >>> load_step_model("runs/demo", "distill")
    """
    from edgeopt.checkpoint import load_checkpoint
    from edgeopt.report import load_results

    results = load_results(run_dir)
    found = {c.name: c for c in results.candidates}
    if name not in found:
        raise EdgeoptError(f"no candidate {name!r} in {str(run_dir)!r}",
                           hint=suggest(name, found) or f"candidates: {', '.join(found)}")
    if not found[name].checkpoint:
        raise EdgeoptError(f"candidate {name!r} has no checkpoint")
    return load_checkpoint(Path(run_dir) / str(found[name].checkpoint), trust_code=trust_code).model
