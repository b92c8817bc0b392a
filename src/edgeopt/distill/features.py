"""Feature distillation (hint learning, Romero et al. 2015 "FitNets"): match intermediate maps.

A :class:`FeatureHint` pairs a teacher module with a student module, both named as in
``model.named_modules()`` (e.g. ``features.6``). Their outputs are captured with forward hooks
(:class:`FeatureCapture`) and compared with a mean squared error after alignment:

- **channels**: where the widths differ, a learned 1×1 convolution (a linear layer for N × C
  vectors) maps the student's C_s channels to the teacher's C_t. Equal widths need no adapter.
- **spatial size**: where H × W differ, the larger map is reduced to the smaller size by adaptive
  average pooling (pooling cannot enlarge a map, and comparing at the coarser grid asks the
  student for what both maps can represent). Pooling and the 1×1 conv commute (both linear, one
  per pixel, one per channel), so the student side pools first, which is cheaper.

Adapters are trained with the student and discarded afterwards: the returned student is exactly
the architecture that was passed in.

Example:
    >>> hint = FeatureHint.parse("features.6:features.6")
    >>> adapter = HintAdapter.for_shapes(student=(32, 7, 7), teacher=(64, 7, 7))
    >>> adapter(torch.zeros(2, 32, 7, 7)).shape
    torch.Size([2, 64, 7, 7])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from edgeopt.errors import EdgeoptError, suggest

__all__ = ["FeatureCapture", "FeatureHint", "HintAdapter", "feature_loss", "parse_hints",
           "pool_to", "target_size"]

Shape = tuple[int, ...]  # one sample's feature shape: (C,) or (C, H, W)


@dataclass(frozen=True)
class FeatureHint:
    """A teacher module whose output the student module's output should match.

    Example:
        >>> FeatureHint("features.6", "features.6").to_dict()
        {'teacher': 'features.6', 'student': 'features.6'}
    """

    teacher: str
    student: str

    @classmethod
    def parse(cls, text: str) -> FeatureHint:
        """Read ``"teacher_layer:student_layer"``.

        Example:
            >>> FeatureHint.parse("features.12:features.12")
            FeatureHint(teacher='features.12', student='features.12')
        """
        teacher, sep, student = text.partition(":")
        if not sep or not teacher.strip() or not student.strip() or ":" in student:
            raise EdgeoptError(f"feature hint {text!r} is not TEACHER_LAYER:STUDENT_LAYER",
                               hint="e.g. features.6:features.6 (module names as in named_modules())")
        return cls(teacher.strip(), student.strip())

    def to_dict(self) -> dict[str, str]:
        """Plain form for JSON."""
        return {"teacher": self.teacher, "student": self.student}


HintLike: TypeAlias = FeatureHint | str | tuple[str, str]


def parse_hints(hints: Iterable[HintLike] | HintLike | None) -> list[FeatureHint]:
    """Normalise hints given as :class:`FeatureHint`, ``"t:s"`` strings or ``(t, s)`` pairs.

    Example:
        >>> parse_hints(["features.6:features.6", ("features.12", "features.12")])[1].student
        'features.12'
    """
    if isinstance(hints, (str, FeatureHint)):
        hints = [hints]  # one hint given bare: don't iterate over the characters of "t:s"
    parsed: list[FeatureHint] = []
    for hint in hints or ():
        if isinstance(hint, FeatureHint):
            parsed.append(hint)
        elif isinstance(hint, str):
            parsed.append(FeatureHint.parse(hint))
        elif isinstance(hint, (tuple, list)) and len(hint) == 2 and all(isinstance(h, str) for h in hint):
            parsed.append(FeatureHint(*hint))
        else:
            raise EdgeoptError(f"feature hint {hint!r} is not 'teacher:student' or a (teacher, student) pair")
    return parsed


def find_module(model: nn.Module, name: str, role: str) -> nn.Module:
    """The submodule called ``name``; an error naming close names if there is none."""
    modules: dict[str, nn.Module] = dict(model.named_modules())
    if name not in modules or not name:
        raise EdgeoptError(
            f"the {role} ({type(model).__name__}) has no module named {name!r}",
            hint=suggest(name, [n for n in modules if n]) or "list them with [n for n, _ in model.named_modules()]",
        )
    return modules[name]


class FeatureCapture:
    """Forward hooks that keep the latest output of named modules, in the order given.

    Use as a context manager so the hooks are always removed.

    Example:
        >>> with FeatureCapture(model, ["features.6"], "student") as capture:
        ...     model(x)
        ...     capture.outputs()[0].shape
    """

    def __init__(self, model: nn.Module, names: Sequence[str], role: str) -> None:
        self._names = list(names)
        self._role = role
        self._modules = [find_module(model, n, role) for n in self._names]
        self._latest: dict[int, Tensor] = {}
        self._handles: list[RemovableHandle] = []

    def __enter__(self) -> FeatureCapture:
        for index, module in enumerate(self._modules):
            self._handles.append(module.register_forward_hook(self._keeper(index)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._latest.clear()

    def _keeper(self, index: int) -> Callable[[nn.Module, object, object], None]:
        def hook(module: nn.Module, args: object, output: object) -> None:
            if not isinstance(output, Tensor):
                raise EdgeoptError(
                    f"{self._role} module {self._names[index]!r} returns {type(output).__name__}, "
                    "not a tensor, so its output cannot be matched",
                    hint="pick a module whose output is one feature map",
                )
            self._latest[index] = output

        return hook

    def outputs(self) -> list[Tensor]:
        """The captured outputs of the last forward pass, one per name; then forgets them."""
        missing = [self._names[i] for i in range(len(self._names)) if i not in self._latest]
        if missing:
            raise EdgeoptError(f"the {self._role}'s forward pass never ran module(s) {missing}",
                               hint="pick modules used in forward()")
        outputs = [self._latest[i] for i in range(len(self._names))]
        self._latest.clear()  # don't keep the graph of the last batch alive
        return outputs


def target_size(student: Shape, teacher: Shape) -> tuple[int, int] | None:
    """The H × W both maps are compared at: the smaller of each; None for N × C vectors."""
    if len(student) != len(teacher) or len(student) not in (1, 3):
        raise EdgeoptError(
            f"cannot match a student feature of shape {student} with a teacher feature of shape "
            f"{teacher}: both must be C×H×W maps or C vectors",
            hint="pick layers of the same kind in both models",
        )
    if len(student) == 1:
        return None
    return min(student[1], teacher[1]), min(student[2], teacher[2])


def pool_to(x: Tensor, size: tuple[int, int] | None) -> Tensor:
    """Adaptive average pooling of N × C × H × W ``x`` to ``size`` (no-op if already that size)."""
    if size is None or tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.adaptive_avg_pool2d(x, size)


class HintAdapter(nn.Module):
    """Maps a student feature onto the teacher's: pool to the common H × W, then a 1×1 conv.

    Example:
        >>> HintAdapter.for_shapes(student=(8, 14, 14), teacher=(16, 7, 7))(torch.zeros(1, 8, 14, 14)).shape
        torch.Size([1, 16, 7, 7])
    """

    def __init__(self, student_channels: int, teacher_channels: int, size: tuple[int, int] | None) -> None:
        super().__init__()
        self.size = size
        self.proj: nn.Module = nn.Identity()
        if student_channels != teacher_channels:
            self.proj = (nn.Conv2d(student_channels, teacher_channels, 1) if size is not None
                         else nn.Linear(student_channels, teacher_channels))

    @classmethod
    def for_shapes(cls, student: Shape, teacher: Shape) -> HintAdapter:
        """An adapter for one sample's student and teacher feature shapes ((C,) or (C, H, W))."""
        return cls(student[0], teacher[0], target_size(student, teacher))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.proj(pool_to(x, self.size))
        return out

    def describe(self) -> str:
        """A short human description, e.g. ``1x1 conv 8->16, pool to 7x7``."""
        parts = []
        if isinstance(self.proj, nn.Conv2d):
            parts.append(f"1x1 conv {self.proj.in_channels}->{self.proj.out_channels}")
        elif isinstance(self.proj, nn.Linear):
            parts.append(f"linear {self.proj.in_features}->{self.proj.out_features}")
        if self.size is not None:
            parts.append(f"compared at {self.size[0]}x{self.size[1]}")
        return ", ".join(parts) or "identity"


def feature_loss(student: Sequence[Tensor], teacher: Sequence[Tensor], adapters: nn.ModuleList) -> Tensor:
    """Mean over hints of the MSE between adapted student features and (aligned) teacher targets."""
    losses = [F.mse_loss(adapter(s), t.detach()) for s, t, adapter in zip(student, teacher, adapters, strict=True)]
    total = losses[0]
    for loss in losses[1:]:
        total = total + loss
    return total / len(losses)
