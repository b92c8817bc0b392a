"""``Lineage``: a root model plus the transforms applied to it, in order: what rebuilds any model.

Every model edgeopt writes carries its lineage: the root (a registry model, a user's factory, a
``torch.export`` program), then one ``{type, config, record}`` entry per transform. Rebuilding
the architecture is building the root and replaying each entry
(:meth:`~edgeopt.transform.Transform.replay`); the weights are loaded afterwards. So a model
pruned, distilled, then fused reloads in every command, in any order of transforms.

Example:
    >>> lineage = Lineage(root=ModelRoot.named("simple_cnn"), input_size=(1, 1, 8, 8))
    >>> lineage = lineage.then(StructuredPrune(ratio=0.5), result)
    >>> skeleton = lineage.build()          # the pruned architecture, weights to be loaded
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError
from edgeopt.models.root import ModelRoot, Trust
from edgeopt.transform import Result, Transform, parse_transform


class LineageEntry(BaseModel):
    """One applied transform: its type, its options, and what replaying it needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
    record: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None  # the recipe step that applied it, if any

    def transform(self) -> Transform:
        """The transform config this entry stores.

        Raises:
            EdgeoptError: Unknown type, or options this edgeopt does not accept.
        """
        try:
            return parse_transform({**self.config, "type": self.type})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise EdgeoptError(f"its options are not valid here ({where}: {first['msg']})",
                               hint="it was written by another edgeopt version") from None


class Lineage(BaseModel):
    """The root model, the transforms applied to it, and the model's input size.

    Attributes:
        root: How the architecture the lineage starts from is built.
        steps: The applied transforms, oldest first.
        input_size: The batch-1 input shape (N, C, H, W) the model was built and traced for.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: ModelRoot
    steps: tuple[LineageEntry, ...] = ()
    input_size: tuple[int, ...] | None = None

    def then(self, transform: Transform, result: Result, name: str | None = None) -> Lineage:
        """This lineage with ``transform`` applied."""
        entry = LineageEntry(type=transform.type, config=transform.config(), record=result.record, name=name)
        return self.model_copy(update={"steps": (*self.steps, entry)})

    def build(self, *, trust_code: Trust = False) -> nn.Module:
        """The architecture: the root, with every entry replayed (weights still to be loaded).

        Raises:
            EdgeoptError: The root cannot be built (or is not trusted), or an entry cannot be
                replayed; the message names the entry.
        """
        model = self.root.build(trust_code=trust_code)
        if _has_lazy_layers(model):  # shapes are known only after a first forward pass
            with torch.no_grad():
                model(self.example())
        # Replays that trace (fusion) need an input; without a recorded size they say so.
        example = self.example() if self.input_size else torch.empty(0)
        for number, entry in enumerate(self.steps, start=1):
            try:
                model = entry.transform().replay(model, entry.record, example)
            except EdgeoptError as exc:
                raise EdgeoptError(f"lineage entry {number} ({entry.type}): {exc.message}", hint=exc.hint) from exc
        return model

    def example(self) -> Tensor:
        """A seeded random batch-1 input of the recorded input size.

        Raises:
            EdgeoptError: No input size was recorded.
        """
        if not self.input_size:
            raise EdgeoptError("the model's input size is not recorded, so its transforms cannot be replayed",
                               hint="save it with input_size=(1, C, H, W)")
        return torch.randn(*self.input_size, generator=torch.Generator().manual_seed(0))

    def summary(self) -> str:
        """``mobilenet_v1 → prune.structured → fuse``: the root and the transforms, in order."""
        return " → ".join([self.root.source, *(entry.type for entry in self.steps)])


def _has_lazy_layers(model: nn.Module) -> bool:
    from torch.nn.modules.lazy import LazyModuleMixin

    return any(isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in model.modules())
