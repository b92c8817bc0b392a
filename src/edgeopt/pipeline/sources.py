"""Where a recipe's model and data come from: ``model:`` and ``data:`` (and a train step's ``model:``).

Both accept a short form (a plain string) and a long form (a mapping):

.. code-block:: yaml

    model: mobilenet_v1                    # registry name, pkg.module:factory, .pt/.safetensors, .pt2
    model: {source: mobilenet_v1, kwargs: {width_mult: 0.5, stem_stride: 1}}
    data: mnist5k
    data: {name: mnist5k, limit: 1000, seed: 0}

Example:
    >>> ModelSource.model_validate("simple_cnn").source
    'simple_cnn'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from edgeopt.data import DatasetSplits
from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from edgeopt.checkpoint import Checkpoint
    from edgeopt.models.root import Trust


class ModelSource(BaseModel):
    """A model to build or load, as ``edgeopt.models.load_model`` understands it."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, description="registry name, pkg.module:factory, or a model file")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="options of the factory")
    weights: str | None = Field(default=None, description="state dict file loaded into a built model")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"source": value} if isinstance(value, str) else value

    def is_file(self) -> bool:
        """True when the source names a file (a checkpoint or ``.pt2``) rather than a factory."""
        from edgeopt.loading import is_model_file

        return is_model_file(self.source)

    def resolved(self, base_dir: Path) -> ModelSource:
        """A copy whose relative file paths are made absolute against ``base_dir``."""
        update: dict[str, Any] = {}
        if self.is_file():
            update["source"] = _absolute(self.source, base_dir)
        if self.weights:
            update["weights"] = _absolute(self.weights, base_dir)
        return self.model_copy(update=update)

    def check(self, data: DatasetSplits) -> None:
        """Check the source before a run writes anything: the file exists, or a named model's
        options fit the data and its signature, and its weights fit in memory.

        A factory the recipe names is imported for this (the recipe asked for that code).

        Raises:
            EdgeoptError: A missing file, a channel or class count that does not fit the data, an
                unknown, mistyped or out-of-range option, weights beyond the memory available.
        """
        if self.is_file():
            path = Path(self.source)
            if not path.is_file():
                what = "is a directory, not a model file" if path.is_dir() else "does not exist"
                raise EdgeoptError(f"model file {self.source!r} {what}", hint="check the path in the recipe")
        else:
            from edgeopt.models.registry import get_entry, is_registered
            from edgeopt.models.root import FACTORY_RE, data_kwargs, import_factory
            from edgeopt.models.validation import check_model_options

            if not is_registered(self.source) and not FACTORY_RE.match(self.source):
                get_entry(self.source)  # raises "unknown model", with close names
            factory = get_entry(self.source).factory if is_registered(self.source) else import_factory(self.source)
            check_model_options(self.source, factory, self.kwargs, memory=False)  # the recipe's own values first
            kwargs = data_kwargs(self.source, self.kwargs, data.num_classes, data.in_chans)
            data.check_model_input(kwargs.get("in_chans", data.in_chans), kwargs.get("num_classes"))
            check_model_options(self.source, factory, kwargs)
        if self.weights and not Path(self.weights).is_file():
            raise EdgeoptError(f"weights file {self.weights!r} does not exist", hint="check the path in the recipe")

    def open(self, data: DatasetSplits, trust_code: Trust = False) -> Checkpoint:
        """The model with its lineage; ``num_classes``/``in_chans`` come from ``data``.

        Raises:
            EdgeoptError: Unknown source, missing file, weights or data that do not fit.
        """
        from edgeopt.loading import open_model

        return open_model(self.source, kwargs=self.kwargs, weights=self.weights, data=data,
                          trust_code=trust_code)


class DataSource(BaseModel):
    """A dataset and how to split it, as ``edgeopt.data.load_dataset`` takes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="builtin name (digits, mnist5k) or a path")
    limit: int | None = Field(default=None, ge=1)
    seed: int = 0
    val_fraction: float = Field(default=0.1, ge=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    image_size: tuple[PositiveInt, PositiveInt] | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def resolved(self, base_dir: Path) -> DataSource:
        """A copy whose relative path (if the name is a path) is made absolute."""
        from edgeopt.data import list_datasets

        if self.name in list_datasets():
            return self
        return self.model_copy(update={"name": _absolute(self.name, base_dir)})

    def load(self) -> DatasetSplits:
        """Load and split the data (see :func:`edgeopt.data.load_dataset`).

        Raises:
            EdgeoptError: The data cannot be read, the images resized to ``image_size`` would
                not fit in memory (checked before reading), or a split is empty.
        """
        from edgeopt.data import load_dataset

        if self.image_size is not None:
            self._check_resized_memory(self.image_size)
        splits = load_dataset(self.name, val_fraction=self.val_fraction, test_fraction=self.test_fraction,
                              seed=self.seed, image_size=self.image_size, limit=self.limit)
        splits.check_split_sizes(val=self.val_fraction > 0)
        return splits

    def _check_resized_memory(self, size: tuple[int, int]) -> None:
        """Refuse an ``image_size`` whose resized images cannot fit in memory (a lower bound).

        A bundled dataset's size and channels are known (``limit`` applied); for a path the lower
        bound is one single-channel image, since nothing may be read before the check. Only the
        resized float32 copy is counted, though the loader holds the originals too.
        """
        from edgeopt.data.builtin import BUILTINS, load_builtin
        from edgeopt.utils.memory import check_memory, tensor_bytes

        count, chans = 1, 1
        if self.name in BUILTINS:
            raw = load_builtin(self.name)
            count, chans = min(len(raw.y), self.limit or len(raw.y)), int(raw.x.shape[1])
        images = f"{count:,} image{'s' if count != 1 else ''}"
        check_memory(tensor_bytes((count, chans, *size)),
                     f"dataset {self.name!r} resized to {size[0]}×{size[1]} ({images})",
                     hint="use a smaller data.image_size (or a data.limit)")


def _absolute(path: str, base_dir: Path) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base_dir / p).resolve())
