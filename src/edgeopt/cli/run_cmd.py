"""``edgeopt run``: run a YAML recipe end to end into a run directory, resumable."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeopt.cli.common import TRUST_OPTION, console

RUN_HELP = """Run the pipeline RECIPE describes into RUN_DIR (checkpoints, results, report).

\b
A recipe is YAML:
  model: {source: mobilenet_v1, kwargs: {width_mult: 0.5}}
  train: {epochs: 20}        # optional: train the model first
  data: mnist5k              # or {name: PATH, limit: 1000}
  target: raspberry-pi-4     # optional: device fit (estimate)
  steps:                     # in order, each from the last result
    - type: prune.structured
      ratio: 0.5
      fine_tune: {epochs: 3}
    - type: export
    - type: bench

\b
Step types: train, fuse, prune.magnitude, prune.structured, distill,
quantize.ptq, quantize.qat, quantize.dynamic, export, bench. Each result is evaluated and
saved in RUN_DIR/steps/NN_type/; RUN_DIR/results.json is rewritten after
every step. After a stop or a failed step, --resume keeps finished steps.
Full format: docs/recipes.md; examples: recipes/.
"""


def run(
    recipe: Path = typer.Argument(..., help="The recipe YAML file (see recipes/ and docs/recipes.md)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in RUN_DIR; finished steps are kept."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier run in RUN_DIR."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
    trust_code: bool = TRUST_OPTION,
) -> None:
    from edgeopt.errors import EdgeoptError
    from edgeopt.pipeline import load_recipe, run_recipe

    if resume and force:
        raise EdgeoptError("--resume and --force contradict each other", hint="--resume continues, --force restarts")
    run_recipe(load_recipe(recipe), out, resume=resume, force=force, console=console, report=not no_report,
               trust_code=trust_code)


run.__doc__ = RUN_HELP
