"""Models built from code (MobileNetV1/V2, a small CNN), the registry, and user-model loading."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "ConvBNReLU": "edgeopt.models.blocks",
    "DepthwiseSeparableConv": "edgeopt.models.blocks",
    "make_divisible": "edgeopt.models.blocks",
    "ConvMobileNet": "edgeopt.models.mobilenet_v1",
    "MobileNetV1": "edgeopt.models.mobilenet_v1",
    "InvertedResidual": "edgeopt.models.mobilenet_v2",
    "MobileNetV2": "edgeopt.models.mobilenet_v2",
    "create_model": "edgeopt.models.registry",
    "list_models": "edgeopt.models.registry",
    "model_entries": "edgeopt.models.registry",
    "register_model": "edgeopt.models.registry",
    "ModelRoot": "edgeopt.models.root",
    "SimpleCNN": "edgeopt.models.simple_cnn",
    "load_weights": "edgeopt.models.weights",
    "read_state_dict": "edgeopt.models.weights",
}

__all__ = [
    "ConvBNReLU",
    "ConvMobileNet",
    "DepthwiseSeparableConv",
    "InvertedResidual",
    "MobileNetV1",
    "MobileNetV2",
    "ModelRoot",
    "SimpleCNN",
    "create_model",
    "list_models",
    "load_weights",
    "make_divisible",
    "model_entries",
    "read_state_dict",
    "register_model",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.models.blocks import (
        ConvBNReLU as ConvBNReLU,
        DepthwiseSeparableConv as DepthwiseSeparableConv,
        make_divisible as make_divisible,
    )
    from edgeopt.models.mobilenet_v1 import ConvMobileNet as ConvMobileNet, MobileNetV1 as MobileNetV1
    from edgeopt.models.mobilenet_v2 import InvertedResidual as InvertedResidual, MobileNetV2 as MobileNetV2
    from edgeopt.models.registry import (
        create_model as create_model,
        list_models as list_models,
        model_entries as model_entries,
        register_model as register_model,
    )
    from edgeopt.models.root import ModelRoot as ModelRoot
    from edgeopt.models.simple_cnn import SimpleCNN as SimpleCNN
    from edgeopt.models.weights import load_weights as load_weights, read_state_dict as read_state_dict
