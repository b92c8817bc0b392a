"""Architecture search: a weight-sharing supernet of a search space, trained and queried.

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
    "Supernet": "edgeopt.search.supernet",
    "load_supernet": "edgeopt.search.supernet_train",
    "sandwich_loss": "edgeopt.search.supernet_train",
    "save_supernet": "edgeopt.search.supernet_train",
    "train_supernet": "edgeopt.search.supernet_train",
    "subnet_accuracy": "edgeopt.search.subnet_eval",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "Supernet",
    "load_supernet",
    "sandwich_loss",
    "save_supernet",
    "subnet_accuracy",
    "train_supernet",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.search.subnet_eval import subnet_accuracy as subnet_accuracy
    from edgeopt.search.supernet import Supernet as Supernet
    from edgeopt.search.supernet_train import (
        load_supernet as load_supernet,
        sandwich_loss as sandwich_loss,
        save_supernet as save_supernet,
        train_supernet as train_supernet,
    )
