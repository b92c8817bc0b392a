"""The ``search`` recipe step: an architecture search whose winner becomes the step's model.

Its options are :class:`~edgeopt.search.config.SearchConfig`'s, except ``data`` and ``limit``:
the step searches the recipe's own data (``Inputs.data``, already split and limited), so the
search runs in this process and workers cannot join it (they load data by name).

The step's output architecture does not derive from its input: the input model only says where
the step sits in the run (its lineage continues from it), and :meth:`Search.replay` builds the
recorded ``space_net`` whatever model it is given. The search runs in ``OUT_DIR/search/`` (its
``front.json`` is what the HTML report shows); a pipeline ``--resume`` continues it there.

.. code-block:: yaml

    data: {name: digits, image_size: [16, 16]}   # the space's resolution
    steps:
      - type: search
        space: spaces/tiny.json
        latency: macs
        trials: 30
        top_k: 2
      - type: quantize.ptq
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError, create_model, model_validator
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError
from edgeopt.search.config import SearchConfig
from edgeopt.transform import Inputs, Result, Transform, register_transform

if TYPE_CHECKING:
    from edgeopt.artifact import Artifact
    from edgeopt.data import DatasetSplits

SEARCH_DIR = "search"
# The recipe's data is what is searched, already split and limited.
_NOT_OPTIONS = ("data", "limit")

if TYPE_CHECKING:  # type checkers see the base; the options are SearchConfig's, copied at run time
    _SearchOptions = Transform
else:
    _SearchOptions = create_model(
        "_SearchOptions", __base__=Transform,
        **{name: (info.annotation, info) for name, info in SearchConfig.model_fields.items()
           if name not in _NOT_OPTIONS})


@register_transform
class Search(_SearchOptions):
    """Search ``space`` on the recipe's data; the winner (most accurate int8 file within bounds) is the model."""

    type: Literal["search"] = "search"

    @model_validator(mode="after")
    def _valid_search(self) -> Search:
        # SearchConfig's own cross-field checks, so a bad recipe fails when it is loaded.
        try:
            config = self.search_config("data")
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        if config.is_code_space():
            raise ValueError(f"a search step searches spaces written as data; {config.space!r} is code "
                             "(use `edgeopt search --space` for it, then start the recipe from the winner)")
        return self

    def search_config(self, data: str, space: str | None = None) -> SearchConfig:
        """The :class:`SearchConfig` of these options on dataset ``data`` (and ``space`` if given)."""
        options: dict[str, Any] = self.model_dump(exclude={"type"})
        if space is not None:
            options["space"] = space
        return SearchConfig(**options, data=data)

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        """Run the search in ``OUT_DIR/search``; the winner's checkpoint is the new model.

        Raises:
            EdgeoptError: no data or output directory, a space whose resolutions miss the data's
                image size, the search's own errors, or no finalist that meets every bound.
        """
        from edgeopt.checkpoint import load_checkpoint
        from edgeopt.search.run import search, sized_space

        splits = inputs.need_data("a search step")
        if inputs.out_dir is None:
            raise EdgeoptError("a search step writes a run directory but no output directory was given",
                               hint="pass one (-o DIR)")
        root = inputs.out_dir / SEARCH_DIR
        config = self.search_config(splits.name)
        space = _space_at_data_size(config.space, splits, root)
        outcome = search(self.search_config(splits.name, space), root, resume=True, splits=splits)
        winner = outcome.winner
        if winner is None:
            raise _no_winner(len(outcome.finalists))
        from edgeopt.models.spaces import Arch

        arch = Arch.model_validate_json(winner["arch"])
        record = {"arch": arch.to_json(), "space": sized_space(space, splits).model_dump_json()}
        return Result(model=load_checkpoint(winner["checkpoint"]).model, record=record,
                      artifacts=_artifacts(outcome.finalists, winner, config.threads),
                      metrics=_metrics(winner, outcome.trials_total, outcome.hypervolume),
                      report={"search": {"run_dir": str(root), "winner": winner["number"], "label": winner["label"],
                                         "trials": outcome.trials_total, "hypervolume": outcome.hypervolume,
                                         "front_size": len(outcome.front), "finalists": len(outcome.finalists)}})

    def replay(self, model: nn.Module, record: Mapping[str, Any], example: Tensor) -> nn.Module:
        """The recorded winner, freshly built (``model``, the step's input, is replaced, not changed)."""
        from edgeopt.models.space_net import space_net

        return space_net(arch=str(record["arch"]), space=str(record["space"]))


def _space_at_data_size(space: str, splits: DatasetSplits, root: Path) -> str:
    """``space``, restricted to the data's image size: later steps feed images at that size."""
    from edgeopt.models.spaces import parse_space

    parsed = parse_space(space)
    height, width = splits.image_size
    if height != width or height not in parsed.resolutions:
        choice = max(parsed.resolutions)
        raise EdgeoptError(f"space {parsed.name!r} searches resolutions {list(parsed.resolutions)}, but the "
                           f"recipe's images are {height}×{width}",
                           hint=f"set the recipe's data.image_size to one of them, e.g. [{choice}, {choice}]")
    if parsed.resolutions == (height,):
        return space
    root.mkdir(parents=True, exist_ok=True)
    path = root / "space.json"
    path.write_text(parsed.model_copy(update={"resolutions": (height,)}).model_dump_json(indent=1))
    return str(path.resolve())


def _no_winner(finalists: int) -> EdgeoptError:
    if finalists == 0:
        return EdgeoptError("the search step measured no finalist, so it has no model to give",
                            hint="set top_k to 1 or more")
    return EdgeoptError(f"none of the search's {finalists} finalists meets every bound on its measured int8 file",
                        hint="loosen the bounds, raise top_k, or search longer (front.json lists them)")


def _artifacts(finalists: list[dict[str, Any]], winner: dict[str, Any], threads: int) -> tuple[Artifact, ...]:
    """Every finalist's fp32 and int8 files with their measurement, the winner's first."""
    from edgeopt.artifact import Artifact, Measurement

    ordered = [winner, *(f for f in finalists if f["number"] != winner["number"])]
    files = []
    for row in ordered:
        for precision in ("fp32", "int8"):
            measured = row[precision]
            spread = measured.get("latency_ms_spread") or []
            measurement = Measurement(
                runtime="onnxruntime", artifact=str(measured["path"]), threads=threads, batch_size=1,
                latency_ms_median=measured["latency_ms"],
                latency_ms_spread=tuple(spread) if len(spread) == 2 else None,
                accuracy=None if measured["accuracy"] is None else measured["accuracy"] / 100.0,
                size_bytes=measured["size_bytes"], format="onnx")
            files.append(Artifact.from_file(
                measured["path"], precision=precision, measurements=(measurement,),
                metadata={"search_trial": row["number"], "label": row["label"], "winner": row is winner}))
    return tuple(files)


def _metrics(winner: dict[str, Any], trials: int, hypervolume: float | None) -> dict[str, Any]:
    int8 = winner["int8"]
    return {"int8_accuracy": int8["accuracy"], "int8_latency_ms": int8["latency_ms"],
            "search_trials": trials, "search_hypervolume": hypervolume}
