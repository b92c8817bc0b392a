"""Registers edgeopt's own models (imported for its side effect by ``edgeopt.models``)."""

from __future__ import annotations

from edgeopt.models.mobilenet_v1 import ConvMobileNet, MobileNetV1
from edgeopt.models.mobilenet_v2 import MobileNetV2
from edgeopt.models.registry import register_model
from edgeopt.models.simple_cnn import SimpleCNN

register_model("mobilenet_v1", "MobileNetV1 (Howard et al. 2017): depthwise separable convs, width α")(
    MobileNetV1
)
register_model("mobilenet_v1_conv", "MobileNetV1 with full 3×3 convs instead of separable ones")(
    ConvMobileNet
)
register_model("mobilenet_v2", "MobileNetV2 (Sandler et al. 2018): inverted residuals")(MobileNetV2)
register_model("simple_cnn", "A small plain CNN baseline (3 conv-BN-ReLU stages)")(SimpleCNN)
