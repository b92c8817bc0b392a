"""Models built from code (MobileNetV1/V2, a small CNN), the registry, and user-model loading."""

from edgeopt.models import catalog as _catalog
from edgeopt.models.blocks import ConvBNReLU, DepthwiseSeparableConv, make_divisible
from edgeopt.models.mobilenet_v1 import ConvMobileNet, MobileNetV1
from edgeopt.models.mobilenet_v2 import InvertedResidual, MobileNetV2
from edgeopt.models.registry import create_model, list_models, model_entries, register_model
from edgeopt.models.root import ModelRoot
from edgeopt.models.simple_cnn import SimpleCNN
from edgeopt.models.weights import load_weights, read_state_dict

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
