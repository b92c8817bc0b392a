"""``edgeopt optimize``: a model, data and a budget in; the fastest artifact that keeps the accuracy out.

* :func:`optimize` — the resumable run (an Optuna study over pruning, distillation and int8,
  every deployment of each trial measured on its file), confirmed and gated so it never returns
  an artifact slower than the baseline (docs/optimize.md);
* :class:`OptimizeConfig` — its options; :class:`OptimizeOutcome` — its answer.

Example:
    >>> from edgeopt.optimize import OptimizeConfig, optimize
    >>> outcome = optimize(OptimizeConfig(model="baseline.pt", data="mnist5k", time_budget_s=600), "runs/opt")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "OptimizeConfig": "edgeopt.optimize.config",
    "OptimizeOutcome": "edgeopt.optimize.outcome",
    "optimize": "edgeopt.optimize.run",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = ["OptimizeConfig", "OptimizeOutcome", "optimize"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.optimize.config import OptimizeConfig as OptimizeConfig
    from edgeopt.optimize.outcome import OptimizeOutcome as OptimizeOutcome
    from edgeopt.optimize.run import optimize as optimize
