"""Recipes and the resumable pipeline: ``edgeopt run RECIPE -o RUN_DIR``.

A YAML recipe names a model, data, an optional target device and an ordered list of steps; each
step is a transform (:mod:`edgeopt.transform`: ``train``, ``prune.structured``,
``prune.magnitude``, ``distill``, ``fuse``, ``quantize.ptq``, ``quantize.qat``,
``quantize.dynamic``, ``export``, ``bench``, or one you register) plus where its model comes
from. :func:`run_recipe` runs them, evaluates and checkpoints every candidate (with its lineage,
so each step's ``model.pt`` reloads anywhere), writes ``results.json`` after each step, and can
resume. The format is described in ``docs/recipes.md``.

Names are imported lazily (PEP 562).

Example:
    >>> from edgeopt.pipeline import load_recipe, run_recipe
    >>> results = run_recipe(load_recipe("recipes/tiny.yaml"), "runs/tiny")
    >>> results = run_recipe("recipes/tiny.yaml", "runs/tiny", resume=True)   # after a stop
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Candidate": "edgeopt.pipeline.candidate",
    "Recipe": "edgeopt.pipeline.recipe",
    "RecipeStep": "edgeopt.pipeline.step",
    "load_recipe": "edgeopt.pipeline.recipe",
    "parse_recipe": "edgeopt.pipeline.recipe",
    "ModelSource": "edgeopt.pipeline.sources",
    "DataSource": "edgeopt.pipeline.sources",
    "run_recipe": "edgeopt.pipeline.runner",
    "RunDir": "edgeopt.pipeline.rundir",
    "load_step_model": "edgeopt.pipeline.rundir",
}

__all__ = [
    "Candidate",
    "DataSource",
    "ModelSource",
    "Recipe",
    "RecipeStep",
    "RunDir",
    "load_recipe",
    "load_step_model",
    "parse_recipe",
    "run_recipe",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.pipeline.candidate import Candidate as Candidate
    from edgeopt.pipeline.recipe import Recipe as Recipe, load_recipe as load_recipe, parse_recipe as parse_recipe
    from edgeopt.pipeline.rundir import RunDir as RunDir, load_step_model as load_step_model
    from edgeopt.pipeline.runner import run_recipe as run_recipe
    from edgeopt.pipeline.sources import DataSource as DataSource, ModelSource as ModelSource
    from edgeopt.pipeline.step import RecipeStep as RecipeStep
