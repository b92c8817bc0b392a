import pytest
import torch
from torch import nn

import edgeopt
from edgeopt.errors import EdgeoptError
from edgeopt.models import MobileNetV1, create_model, list_models
from edgeopt.models.registry import register_model


def test_create_and_list():
    model = edgeopt.create_model("mobilenet_v1", num_classes=10, width_mult=0.25)
    assert isinstance(model, MobileNetV1) and model.classifier.out_features == 10
    assert edgeopt.list_models("mobilenet*") == ["mobilenet_v1", "mobilenet_v1_conv", "mobilenet_v2"]
    assert "simple_cnn" in list_models()


def test_unknown_name_suggests_close_names():
    with pytest.raises(EdgeoptError, match="unknown model 'mobilenetv2'.*'mobilenet_v2'"):
        create_model("mobilenetv2")


def test_unknown_name_without_close_match_lists_models():
    with pytest.raises(EdgeoptError, match="known models: .*simple_cnn"):
        create_model("resnet_zzz")


def test_unknown_kwarg_names_accepted_ones():
    with pytest.raises(EdgeoptError, match="does not take 'alpha'.*width_mult"):
        create_model("mobilenet_v1", alpha=0.5)


def test_duplicate_registration_rejected():
    with pytest.raises(ValueError, match="already registered"):
        register_model("mobilenet_v1")(lambda: nn.Identity())


def test_all_registered_models_build_and_run():
    for name in list_models():
        model = create_model(name, num_classes=5, in_chans=1).eval()
        assert model(torch.zeros(1, 1, 32, 32)).shape == (1, 5), name
