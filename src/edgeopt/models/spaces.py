"""Search spaces of MobileNet-style networks, and the architectures sampled from them.

A space fixes the skeleton — a stem conv, stages of inverted-residual blocks (each stage: base
channels, how many blocks it may have, the stride of its first block), a head conv, pooling and a
linear classifier — and lists the choices:

* per network: a width multiplier (every channel count is ``make_divisible(base × width)``) and
  an input resolution;
* per block: depthwise kernel (3/5/7), expansion ratio (3/4/6), squeeze-and-excitation on/off,
  activation (ReLU or hardswish);
* per stage: its depth (number of blocks).

An :class:`Arch` is one choice of all of these; :func:`edgeopt.models.space_net.build_model`
builds it as an ordinary ``nn.Module``. Spaces are data, so a user writes their own as a
JSON or YAML file (``edgeopt latency build --space myspace.yaml``) with the fields of
:class:`SearchSpace`.

Example:
    >>> space = get_space("mobilenet_v2")
    >>> arch = space.sample(random.Random(0))
    >>> arch.resolution in space.resolutions, len(arch.stages) == len(space.stages)
    (True, True)
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.models.blocks import make_divisible

Activation = Literal["relu", "hswish"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BlockConfig(_Frozen):
    """One inverted-residual block's choices.

    Attributes:
        kernel: Depthwise kernel size.
        expansion: Hidden channels = input channels × expansion (1: no expand conv).
        se: Squeeze-and-excitation after the depthwise conv.
        act: Activation after the expand and depthwise convs.
    """

    kernel: int = Field(default=3, ge=1, le=15)
    expansion: int = Field(default=6, ge=1, le=16)
    se: bool = False
    act: Activation = "relu"

    def label(self) -> str:
        """Short text: ``k5 e6 se hswish``."""
        return f"k{self.kernel} e{self.expansion}{' se' if self.se else ''} {self.act}"


class StageSpec(_Frozen):
    """A stage of the skeleton.

    Attributes:
        channels: Output channels at width 1.0.
        depths: The block counts allowed.
        stride: Stride of the stage's first block (1 or 2).
        expansions: Expansion ratios allowed here (default: the space's).
        kernels: Kernel sizes allowed here (default: the space's).
    """

    channels: int = Field(ge=1, le=4096)
    depths: tuple[int, ...] = Field(min_length=1)
    stride: int = Field(default=1, ge=1, le=2)
    expansions: tuple[int, ...] | None = None
    kernels: tuple[int, ...] | None = None

    @model_validator(mode="after")
    def _positive(self) -> StageSpec:
        if any(d < 1 or d > 16 for d in self.depths):
            raise ValueError(f"depths must lie in 1..16, got {list(self.depths)}")
        return self


class SearchSpace(_Frozen):
    """A MobileNetV2/V3-style space (see the module docstring).

    Attributes:
        name: The space's name (part of a table's file name).
        in_chans: Input image channels.
        num_classes: Classifier outputs.
        stem_channels: Stem conv output channels at width 1.0 (3×3, stride 2).
        stem_act: Stem activation.
        stages: The stages, in order.
        head_channels: Head 1×1 conv channels at width 1.0 (kept for widths below 1).
        head_act: Head activation.
        widths: Width multipliers.
        resolutions: Input resolutions (square).
        kernels: Depthwise kernels.
        expansions: Expansion ratios.
        se: Squeeze-and-excitation choices.
        acts: Activation choices.
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    in_chans: int = Field(default=3, ge=1, le=64)
    num_classes: int = Field(default=1000, ge=1, le=100_000)
    stem_channels: int = Field(default=32, ge=1, le=4096)
    stem_act: Activation = "relu"
    stages: tuple[StageSpec, ...] = Field(min_length=1, max_length=32)
    head_channels: int = Field(default=1280, ge=1, le=8192)
    head_act: Activation = "relu"
    widths: tuple[float, ...] = Field(min_length=1)
    resolutions: tuple[int, ...] = Field(min_length=1)
    kernels: tuple[int, ...] = Field(default=(3, 5, 7), min_length=1)
    expansions: tuple[int, ...] = Field(default=(3, 4, 6), min_length=1)
    se: tuple[bool, ...] = Field(default=(False, True), min_length=1)
    acts: tuple[Activation, ...] = Field(default=("relu", "hswish"), min_length=1)

    @model_validator(mode="after")
    def _check(self) -> SearchSpace:
        if any(not (0.05 <= w <= 4.0) for w in self.widths):
            raise ValueError(f"widths must lie in 0.05..4, got {list(self.widths)}")
        if any(not (16 <= r <= 1024) for r in self.resolutions):
            raise ValueError(f"resolutions must lie in 16..1024, got {list(self.resolutions)}")
        for k in (*self.kernels, *(k for s in self.stages for k in s.kernels or ())):
            if k < 1 or k % 2 == 0:
                raise ValueError(f"kernel sizes must be odd and positive, got {k}")
        smallest = min(self.resolutions) // self.total_stride
        if smallest < 1:
            raise ValueError(f"resolution {min(self.resolutions)} is too small for a total stride of "
                             f"{self.total_stride}")
        return self

    @property
    def total_stride(self) -> int:
        """Stride of the whole network (stem × stages)."""
        stride = 2
        for stage in self.stages:
            stride *= stage.stride
        return stride

    def stage_kernels(self, index: int) -> tuple[int, ...]:
        """Kernel choices of stage ``index``."""
        return self.stages[index].kernels or self.kernels

    def stage_expansions(self, index: int) -> tuple[int, ...]:
        """Expansion choices of stage ``index``."""
        return self.stages[index].expansions or self.expansions

    def channels(self, base: int, width: float) -> int:
        """A layer width at this multiplier (multiples of 8, as MobileNetV2 rounds)."""
        return make_divisible(base * width)

    def head(self, width: float) -> int:
        """Head conv channels (never below the base count)."""
        return make_divisible(self.head_channels * max(1.0, width))

    def fingerprint(self) -> str:
        """A short hash of the whole definition (a table records the space it was built for)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def sample(self, rng: random.Random, *, width: float | None = None, resolution: int | None = None) -> Arch:
        """A uniformly random architecture (width and resolution may be fixed).

        Example:
            >>> get_space("mobilenet_v2").sample(random.Random(1), resolution=160).resolution
            160
        """
        stages = []
        for index, stage in enumerate(self.stages):
            depth = rng.choice(stage.depths)
            stages.append(tuple(
                BlockConfig(kernel=rng.choice(self.stage_kernels(index)),
                            expansion=rng.choice(self.stage_expansions(index)),
                            se=rng.choice(self.se), act=rng.choice(self.acts))
                for _ in range(depth)))
        return Arch(space=self.name, width=width if width is not None else rng.choice(self.widths),
                    resolution=resolution if resolution is not None else rng.choice(self.resolutions),
                    stages=tuple(stages))

    def largest(self) -> Arch:
        """The biggest architecture: widest, deepest, largest kernels and expansions, SE where allowed.

        Example:
            >>> get_space("mnist").largest().label()
            'w1 r28 d[1,2,3,3,2]'
        """
        return self._extreme(max)

    def smallest(self) -> Arch:
        """The smallest architecture (the sandwich rule trains it and :meth:`largest` every step)."""
        return self._extreme(min)

    def _extreme(self, pick: Any) -> Arch:
        stages = tuple(
            tuple(BlockConfig(kernel=pick(self.stage_kernels(i)), expansion=pick(self.stage_expansions(i)),
                              se=pick(self.se), act=self.acts[0])
                  for _ in range(pick(stage.depths)))
            for i, stage in enumerate(self.stages))
        return Arch(space=self.name, width=pick(self.widths), resolution=pick(self.resolutions), stages=stages)

    def problems(self, arch: Arch) -> list[str]:
        """What in ``arch`` lies outside this space (empty: all of it is inside)."""
        found = []
        if arch.width not in self.widths:
            found.append(f"width {arch.width} (space: {list(self.widths)})")
        if arch.resolution not in self.resolutions:
            found.append(f"resolution {arch.resolution} (space: {list(self.resolutions)})")
        if len(arch.stages) != len(self.stages):
            found.append(f"{len(arch.stages)} stages (space: {len(self.stages)})")
            return found
        for index, (blocks, stage) in enumerate(zip(arch.stages, self.stages, strict=True)):
            if len(blocks) not in stage.depths:
                found.append(f"stage {index} depth {len(blocks)} (space: {list(stage.depths)})")
            for block in blocks:
                if block.kernel not in self.stage_kernels(index):
                    found.append(f"stage {index} kernel {block.kernel}")
                if block.expansion not in self.stage_expansions(index):
                    found.append(f"stage {index} expansion {block.expansion}")
                if block.se not in self.se or block.act not in self.acts:
                    found.append(f"stage {index} {'se' if block.se else 'no se'}/{block.act}")
        return list(dict.fromkeys(found))


class Arch(_Frozen):
    """One architecture: width, resolution and every block's choices, stage by stage.

    Attributes:
        space: The space's name.
        width: Width multiplier.
        resolution: Input resolution (square).
        stages: Per stage, its blocks in order (the stage's depth is their number).
    """

    space: str
    width: float = Field(gt=0, le=4.0)
    resolution: int = Field(ge=8, le=2048)
    stages: tuple[tuple[BlockConfig, ...], ...] = Field(min_length=1)

    def label(self) -> str:
        """A short description: ``w0.75 r160 d[1,2,3,4,3,3,1]``."""
        depths = ",".join(str(len(s)) for s in self.stages)
        return f"w{self.width:g} r{self.resolution} d[{depths}]"

    def to_json(self) -> str:
        """Compact JSON (``Arch.model_validate_json`` reads it back)."""
        return self.model_dump_json()


def _mobilenet_v2() -> SearchSpace:
    # MobileNetV2's skeleton (Sandler et al. 2018, Table 2): stage channels, strides and depths
    # (each stage may drop a block), with the first stage's expansion fixed at 1 as in the paper.
    stages = [StageSpec(channels=16, depths=(1,), stride=1, expansions=(1,))]
    for channels, depth, stride in ((24, 2, 2), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1)):
        stages.append(StageSpec(channels=channels, depths=tuple(range(max(1, depth - 1), depth + 1)), stride=stride))
    return SearchSpace(name="mobilenet_v2", stages=tuple(stages), stem_channels=32, head_channels=1280,
                       widths=(0.35, 0.5, 0.75, 1.0, 1.3), resolutions=(128, 160, 192, 224))


def _mobilenet_v3() -> SearchSpace:
    # MobileNetV3-Large's skeleton (Howard et al. 2019, Table 1): 16-channel hardswish stem,
    # stages 16/24/40/80/112/160, a 960-channel head; every block choice is open.
    stages = [StageSpec(channels=16, depths=(1,), stride=1, expansions=(1,))]
    for channels, depth, stride in ((24, 2, 2), (40, 3, 2), (80, 4, 2), (112, 2, 1), (160, 3, 2)):
        stages.append(StageSpec(channels=channels, depths=tuple(range(max(1, depth - 1), depth + 1)), stride=stride))
    return SearchSpace(name="mobilenet_v3", stages=tuple(stages), stem_channels=16, stem_act="hswish",
                       head_channels=960, head_act="hswish", widths=(0.35, 0.5, 0.75, 1.0, 1.3),
                       resolutions=(128, 160, 192, 224))


def _mnist() -> SearchSpace:
    # A MobileNetV2/V3-style space for 28×28 one-channel digits: a total stride of 16 (28 → 2),
    # stages of 16/24/40/80/96 channels and a 256-channel head (MobileNetV2's 1,280 would be most
    # of the network's time at this size). Resolution is the data's: the digits are 28×28.
    stages = [StageSpec(channels=16, depths=(1,), stride=1, expansions=(1,))]
    for channels, depths, stride in ((24, (1, 2), 2), (40, (1, 2, 3), 2), (80, (1, 2, 3), 1), (96, (1, 2), 2)):
        stages.append(StageSpec(channels=channels, depths=depths, stride=stride))
    return SearchSpace(name="mnist", in_chans=1, num_classes=10, stages=tuple(stages), stem_channels=16,
                       head_channels=256, widths=(0.25, 0.35, 0.5, 0.75, 1.0), resolutions=(28,))


BUILTIN_SPACES = {"mobilenet_v2": _mobilenet_v2, "mobilenet_v3": _mobilenet_v3, "mnist": _mnist}


def get_space(name_or_path: str | Path) -> SearchSpace:
    """A built-in space by name, or a space read from a ``.json`` / ``.yaml`` file.

    Raises:
        EdgeoptError: an unknown name, a missing or invalid file (naming the field).

    Example:
        >>> get_space("mobilenet_v3").stem_act
        'hswish'
    """
    text = str(name_or_path)
    if text in BUILTIN_SPACES:
        return BUILTIN_SPACES[text]()
    path = Path(text)
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise EdgeoptError(f"unknown search space {text!r}",
                           hint=suggest(text, BUILTIN_SPACES)
                           or f"use {', '.join(BUILTIN_SPACES)} or a .yaml/.json file")
    if not path.is_file():
        raise EdgeoptError(f"search space file {text!r} does not exist", hint="check the path")
    from edgeopt.utils.yaml_limits import load_yaml, read_yaml_text

    data: Any = load_yaml(read_yaml_text(path, "search space"), text)
    if not isinstance(data, dict):
        raise EdgeoptError(f"{text}: a search space is a mapping of fields (name, stages, widths, ...)",
                           hint="see docs/latency.md for an example")
    return _validated_space(data, text)


def _validated_space(data: Any, where_from: str) -> SearchSpace:
    try:
        return SearchSpace.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise EdgeoptError(f"{where_from}: field {where}: {first['msg'].lower()}",
                           hint="see docs/latency.md for the fields of a space") from None


def parse_space(text: str) -> SearchSpace:
    """A space from a built-in name, a file, or a whole space as JSON text (a checkpoint's root).

    Raises:
        EdgeoptError: none of these, or a space with an invalid field.
    """
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EdgeoptError(f"search space JSON does not parse: {exc.msg} at character {exc.pos}",
                               hint="give a built-in space's name, a .yaml/.json file or a space as JSON") from None
        return _validated_space(data, "search space")
    return get_space(text)


def parse_arch(text: str, space: SearchSpace) -> Arch:
    """An architecture from its JSON text, checked against ``space``.

    Raises:
        EdgeoptError: the text does not parse, or the architecture lies outside the space (named).
    """
    try:
        arch = Arch.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise EdgeoptError(f"architecture: field {where}: {first['msg'].lower()}",
                           hint="an architecture is the JSON search writes (Arch.to_json)") from None
    outside = space.problems(arch)
    if outside:
        raise EdgeoptError(f"architecture lies outside space {space.name!r}: {'; '.join(outside[:4])}",
                           hint="sample architectures from the space they are built in")
    return arch
