"""One place that checks user values before anything is built or allocated.

Two kinds of checks, used by every way in (CLI options, recipes, the Python API):

- **Model options.** Each keyword argument of a registry model (or a ``package.module:factory``
  the user names) is checked against the factory's signature: its type annotation (``width_mult: float``
  refuses ``'half'`` and ``True``; an ``int`` takes ``1e3`` but not ``2.5``) and, for the options
  edgeopt's models share, a range (:data:`OPTION_RULES`: a width multiplier is finite and > 0, a
  class count is at least 1 ...). A user's own factory gets the same rules for options of the
  same names.
- **Room to write.** An output location on a read-only file system, or on a disk with less than
  :data:`MIN_FREE_BYTES` free, is refused before any work (:func:`check_writable`).
- **Memory.** Before a model, an input or a resized dataset is allocated, a *lower bound* of the
  bytes it needs is compared with the memory this machine has available (``MemAvailable``,
  capped by a cgroup limit): a model's weights (edgeopt's own architectures are built first on
  PyTorch's ``meta`` device, which allocates nothing), an input tensor, the largest layer of a
  forward pass at a large input size. Only a lower bound is used, so a job that could run is
  never refused; one that cannot gets a one-line error that says the figure instead of a
  traceback from the allocator (or the OOM killer).

Example:
    >>> check_model_options("mobilenet_v1", MobileNetV1, {"width_mult": 0})
    Traceback (most recent call last):
    ...
    edgeopt.errors.EdgeoptError: model option width_mult=0 of 'mobilenet_v1' is out of range: ...
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeopt.errors import EdgeoptError
from edgeopt.utils.memory import check_input_memory, check_memory
from edgeopt.utils.units import format_count

if TYPE_CHECKING:
    from torch import nn

# --- model options ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionRule:
    """The type and range a model option must have.

    Attributes:
        kind: ``int`` or ``float`` (a float option takes ints too; neither takes a bool).
        low, high: Bounds (None: unbounded on that side).
        low_open, high_open: Whether a bound itself is excluded.
        about: What the option is, for the hint.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    about: str = ""

    def describe(self) -> str:
        """The range in words: ``a number > 0 and ≤ 10``."""
        what = "an integer" if self.kind is int else "a number"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '≥'} {_plain(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '≤'} {_plain(self.high)}")
        return what + (" " + " and ".join(parts) if parts else "")

    def admits(self, value: float) -> bool:
        """Whether ``value`` lies in the range."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))


# The options edgeopt's own models take, by name; a user's factory with an option of the same name
# gets the same rule. The upper bounds are sanity limits far past any model meant for an edge
# device (and below what makes a layer's size overflow); memory is checked separately.
MAX_CLASSES = 1_000_000  # ImageNet-21k has 21,841 classes; a million-way classifier is no edge model
MAX_IN_CHANS = 1024  # RGB is 3, multispectral images have tens to a few hundred bands
MAX_WIDTH_MULT = 10.0  # the MobileNet papers use 0.25-1.4
MAX_CHANNELS = 4096  # channels of a layer (SimpleCNN's ``width``; its last stage has 4x this)
MAX_STRIDE = 64  # a stride beyond the input's side only repeats the 1x1 output

OPTION_RULES: dict[str, OptionRule] = {
    "num_classes": OptionRule(int, 1, MAX_CLASSES, about="the classifier's output size"),
    "in_chans": OptionRule(int, 1, MAX_IN_CHANS, about="the input image channels (1 greyscale, 3 RGB)"),
    "width_mult": OptionRule(float, 0, MAX_WIDTH_MULT, low_open=True,
                             about="the width multiplier α scaling every layer (the papers use 0.25 to 1.4)"),
    "width": OptionRule(int, 1, MAX_CHANNELS, about="the channels of the first stage"),
    "stem_stride": OptionRule(int, 1, MAX_STRIDE, about="the stride of the first conv (2 for 224x224, 1 for 28x28)"),
    "dropout": OptionRule(float, 0, 1, high_open=True, about="the dropout probability before the classifier"),
}


def check_model_options(name: str, factory: Callable[..., Any], kwargs: Mapping[str, Any], *,
                        memory: bool = True) -> dict[str, Any]:
    """Check ``kwargs`` for the model ``name`` built by ``factory``; return them, normalised.

    Unknown names, values of the wrong type (the signature's annotations) and values out of
    range (:data:`OPTION_RULES`) are refused; an integral float for an ``int`` option becomes an
    int (``num_classes=1e3`` → 1000). With ``memory``, the weights the options make are counted
    on the meta device and refused if they alone exceed the memory available (edgeopt's own
    architectures only: :func:`is_own_architecture`).

    Raises:
        EdgeoptError: An unknown, mistyped or out-of-range option, or weights that cannot fit.
    """
    params = _parameters(factory)
    checked = dict(kwargs)
    if params is not None:
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        unknown = [k for k in kwargs if k not in accepted]
        if unknown and not takes_any:
            raise EdgeoptError(f"model {name!r} does not take {', '.join(map(repr, unknown))}",
                               hint=f"it accepts: {', '.join(accepted) or 'no options'}")
        hints = _type_hints(factory)
        for key, value in kwargs.items():
            checked[key] = _check_option(name, key, value, hints.get(key, inspect.Parameter.empty))
    else:
        for key, value in kwargs.items():
            checked[key] = _check_option(name, key, value, inspect.Parameter.empty)
    if memory and is_own_architecture(factory):
        check_weights_memory(name, factory, checked)
    return checked


def is_own_architecture(factory: Callable[..., Any]) -> bool:
    """Whether ``factory`` is edgeopt's own code, whose weights may be counted by building it on meta.

    A user's factory (registered, or ``module:factory``) is called once, as written: building it a
    second time could repeat its side effects. Its size is not estimated; running out of memory
    while it builds is still a one-line error on the command line.
    """
    return str(getattr(factory, "__module__", "")).startswith("edgeopt.")


def _parameters(factory: Callable[..., Any]) -> Mapping[str, inspect.Parameter] | None:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins and some C types have no signature
        return None
    return {n: p for n, p in params.items() if n != "self"}


def _type_hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """The factory's resolved annotations (a class's ``__init__``'s); {} if they do not resolve."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:  # annotations naming what cannot be imported here: check ranges only
        return {}


def _check_option(name: str, key: str, value: Any, annotation: Any) -> Any:
    rule = OPTION_RULES.get(key)
    if annotation is inspect.Parameter.empty or annotation is Any:
        annotation = rule.kind if rule is not None else Any
    ok, value = _conforms(value, annotation)
    if not ok:
        expected = _type_name(annotation)
        raise EdgeoptError(f"model option {key}={value!r} of {name!r} is not {expected}",
                           hint=_option_hint(key, rule) or f"give {key} as {expected} (the factory's annotation)")
    if rule is not None and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and not rule.admits(value):
        raise EdgeoptError(f"model option {key}={_plain(value)} of {name!r} is out of range "
                           f"(it must be {rule.describe()})", hint=f"{key} is {rule.about}")
    return value


def _option_hint(key: str, rule: OptionRule | None) -> str | None:
    if rule is None:
        return None
    return f"{key} is {rule.about}: {rule.describe()}"


def _conforms(value: Any, annotation: Any) -> tuple[bool, Any]:
    """Whether ``value`` fits ``annotation``, and the value to use (integral floats for ints)."""
    if annotation is Any:
        return True, value
    origin = typing.get_origin(annotation)
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        for member in typing.get_args(annotation):
            ok, converted = _conforms(value, member)
            if ok:
                return True, converted
        return False, value
    if origin is typing.Literal:
        return value in typing.get_args(annotation), value
    if origin is typing.Annotated:
        return _conforms(value, typing.get_args(annotation)[0])
    if annotation is None or annotation is type(None):
        return value is None, value
    if annotation is bool:
        return isinstance(value, bool), value
    if annotation is int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return True, int(value)
        return isinstance(value, int) and not isinstance(value, bool), value
    if annotation is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return number and math.isfinite(value), value
    if annotation is str:
        return isinstance(value, str), value
    return _conforms_pydantic(value, annotation)


def _conforms_pydantic(value: Any, annotation: Any) -> tuple[bool, Any]:
    """Any other annotation (``tuple[int, int]``, a list ...): pydantic's lax validation decides."""
    from pydantic import TypeAdapter, ValidationError

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    except Exception:  # a type pydantic cannot describe: nothing to check against
        return True, value
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False, value
    return True, value  # the factory gets the value as given (a list stays a list)


def _type_name(annotation: Any) -> str:
    names = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}
    if annotation in names:
        return names[annotation]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if args and (typing.get_origin(annotation) is typing.Union or isinstance(annotation, types.UnionType)):
        return " or ".join("None" if a is type(None) else _type_name(a) for a in args)
    return f"of type {getattr(annotation, '__name__', str(annotation))}"


def _plain(value: float) -> str:
    """``0.5``, ``10``, ``1,000,000``: as a user would type it, large integers grouped."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return f"{int(value):,}" if math.isfinite(value) else str(value)


# A forward pass is estimated (on the meta device) only for inputs above this many values per
# sample: smaller ones (ImageNet's 3x224x224 is 150,528) never come near the memory of a machine
# that holds the model, and the estimate's first run costs about 2 s of PyTorch imports.
LARGE_INPUT_VALUES = 4_000_000


def check_weights_memory(name: str, factory: Callable[..., Any], kwargs: Mapping[str, Any]) -> None:
    """Refuse options whose model weights alone exceed the memory available (counted on meta)."""
    counted = _meta_weights(factory, kwargs)
    if counted is None:
        return
    count, nbytes = counted
    options = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    check_memory(nbytes, f"model {name!r}{f' with {options}' if options else ''} "
                         f"({format_count(count)} parameters and buffers)",
                 hint="use smaller model options (num_classes, width_mult, width ...)")


def _meta_weights(factory: Callable[..., Any], kwargs: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(values, bytes)`` of the parameters and buffers ``factory(**kwargs)`` makes, counted on the
    meta device (nothing allocated); None if the factory does not build there."""
    import torch
    from torch import nn

    try:
        with torch.device("meta"), _skip_init_on_meta():
            model = factory(**kwargs)
    except Exception:  # the real build reports its own error; meta-only failures skip the estimate
        return None
    if not isinstance(model, nn.Module):
        return None
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() for t in tensors), sum(t.numel() * t.element_size() for t in tensors)


@contextmanager
def _skip_init_on_meta() -> Iterator[None]:
    """Make in-place ops on meta tensors (weight initialisation) no-ops.

    Initialisers such as ``kaiming_normal_`` have no native meta kernel: running them on meta
    imports PyTorch's reference decompositions (about 2 s) to fill values that do not exist.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    class _Skip(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            target = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
            if name.endswith("_") and not name.endswith("__") and isinstance(target, torch.Tensor) \
                    and target.is_meta:
                return target
            return func(*args, **kwargs)

    with _Skip():
        yield


def check_forward_memory(model: nn.Module, shape: tuple[int, ...], what: str = "the model") -> None:
    """Refuse an input size at which one layer's input and output alone exceed the memory available.

    Runs only for large inputs (:data:`LARGE_INPUT_VALUES`), on the meta device (nothing is
    allocated); a model that does not run there is not checked.
    """
    check_input_memory(shape)
    if math.prod(shape[1:]) <= LARGE_INPUT_VALUES:
        return
    peak = forward_peak_lower_bound(model, shape)
    if peak is None:
        return
    layer, nbytes = peak
    shown = "×".join(map(str, shape))
    check_memory(nbytes, f"{what} at input size {shown} (layer {layer!r}: its input and output)",
                 hint="use a smaller input size (C,H,W)")


def forward_peak_lower_bound(model: nn.Module, shape: tuple[int, ...]) -> tuple[str, int] | None:
    """The layer whose input plus output is largest in a forward pass at ``shape``, and those bytes.

    The pass runs on the meta device with the model's parameters swapped for meta tensors
    (``torch.func.functional_call``), so nothing is allocated. None if the model cannot run there.
    """
    import torch
    from torch.func import functional_call

    from edgeopt.utils.modes import preserve_modes

    sizes: dict[str, int] = {}

    def nbytes(value: Any) -> int:
        if isinstance(value, torch.Tensor):
            return value.numel() * value.element_size()
        if isinstance(value, (tuple, list)):
            return sum(nbytes(v) for v in value)
        return 0

    def hook(name: str) -> Callable[..., None]:
        def record(_: Any, inputs: Any, output: Any) -> None:
            sizes[name] = max(sizes.get(name, 0), nbytes(inputs) + nbytes(output))
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in model.named_modules()
               if not any(True for _ in module.children())]
    try:
        state = {k: torch.empty_like(v, device="meta") for k, v in
                 [*model.named_parameters(), *model.named_buffers()]}
        with preserve_modes(model), torch.no_grad():
            model.eval()
            functional_call(model, state, (torch.empty(shape, device="meta"),))
    except Exception:  # data-dependent models, ops without meta kernels: no estimate
        return None
    finally:
        for handle in handles:
            handle.remove()
    if not sizes:
        return None
    layer = max(sizes, key=lambda k: sizes[k])
    return layer, sizes[layer]


# --- room to write ------------------------------------------------------------------------------
