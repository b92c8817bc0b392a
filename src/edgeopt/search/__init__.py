"""Architecture search: Optuna over a space, on measured latency and device memory (docs/search.md).

* :func:`search` — a resumable search in a run directory (the CLI's ``edgeopt search``), with
  :class:`SearchConfig` its options and :class:`SearchOutcome` its front and finalists;
  :func:`join` — another process or machine adding trials to the same study (``edgeopt search worker``);
* :class:`Supernet` — every architecture of a space as a slice of the largest one's weights;
  :meth:`Supernet.extract` gives a subnet as an ordinary ``SpaceNet``;
* :func:`train_supernet` — the sandwich rule with in-place distillation, through the train loop;
  :func:`save_supernet` / :func:`load_supernet` — its file, tied to its space;
* :func:`subnet_accuracy` — a subnet's validation accuracy after re-estimating BatchNorm.

Example:
    >>> from edgeopt.search import Supernet, train_supernet, subnet_accuracy
    >>> supernet = Supernet(get_space("mnist"))
    >>> train_supernet(supernet, splits, epochs=5)
    >>> subnet_accuracy(supernet, get_space("mnist").smallest(), splits)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "SearchConfig": "edgeopt.search.config",
    "SearchOutcome": "edgeopt.search.run",
    "join": "edgeopt.search.run",
    "search": "edgeopt.search.run",
    "Supernet": "edgeopt.search.supernet",
    "load_supernet": "edgeopt.search.supernet_train",
    "sandwich_loss": "edgeopt.search.supernet_train",
    "save_supernet": "edgeopt.search.supernet_train",
    "train_supernet": "edgeopt.search.supernet_train",
    "subnet_accuracy": "edgeopt.search.subnet_eval",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "SearchConfig",
    "SearchOutcome",
    "Supernet",
    "join",
    "load_supernet",
    "sandwich_loss",
    "save_supernet",
    "search",
    "subnet_accuracy",
    "train_supernet",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.search.config import SearchConfig as SearchConfig
    from edgeopt.search.run import SearchOutcome as SearchOutcome, join as join, search as search
    from edgeopt.search.subnet_eval import subnet_accuracy as subnet_accuracy
    from edgeopt.search.supernet import Supernet as Supernet
    from edgeopt.search.supernet_train import (
        load_supernet as load_supernet,
        sandwich_loss as sandwich_loss,
        save_supernet as save_supernet,
        train_supernet as train_supernet,
    )
