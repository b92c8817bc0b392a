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


# --- option checks (edgeopt.models.validation), before anything is built ------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"width_mult": "half"}, r"width_mult='half' of 'mobilenet_v1' is not a finite number"),
    ({"width_mult": 0}, r"width_mult=0 of 'mobilenet_v1' is out of range \(it must be a number > 0 and ≤ 10\)"),
    ({"width_mult": -0.5}, r"width_mult=-0.5 .* out of range"),
    ({"width_mult": float("inf")}, r"width_mult=inf .* not a finite number"),
    ({"width_mult": float("nan")}, r"width_mult=nan .* not a finite number"),
    ({"width_mult": True}, r"width_mult=True .* not a finite number"),
    ({"num_classes": 0}, r"num_classes=0 .* \(it must be an integer ≥ 1 and ≤ 1,000,000\)"),
    ({"num_classes": 1e11}, r"num_classes=100,000,000,000 .* out of range"),
    ({"num_classes": 2.5}, r"num_classes=2.5 .* not an integer"),
    ({"num_classes": "10"}, r"num_classes='10' .* not an integer"),
    ({"in_chans": 0}, r"in_chans=0 .* out of range"),
    ({"stem_stride": 0}, r"stem_stride=0 .* out of range"),
    ({"dropout": 1.0}, r"dropout=1 .* \(it must be a number ≥ 0 and < 1\)"),
    ({"full_conv": "yes"}, r"full_conv='yes' .* is not true or false"),
])
def test_bad_options_are_refused_before_the_model_is_built(kwargs, message):
    with pytest.raises(EdgeoptError, match=message):
        create_model("mobilenet_v1", **kwargs)


def test_an_integral_float_is_an_integer_option():
    assert create_model("simple_cnn", num_classes=1e3).classifier.out_features == 1000


def test_weights_beyond_the_memory_available_are_refused_with_the_figure(monkeypatch):
    from edgeopt.utils import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 2**20)
    # simple_cnn(width=64): 373,578 parameters and buffers (counted on meta, never allocated).
    with pytest.raises(EdgeoptError, match=r"model 'simple_cnn' with width=64 \(373.58K parameters and buffers\) "
                                           r"needs at least 1.43 MiB of memory, but this machine has 1.00 MiB"):
        create_model("simple_cnn", width=64)
    assert create_model("simple_cnn", width=16) is not None  # 94 KiB fits


def test_counting_on_meta_leaves_the_random_stream_alone():
    torch.manual_seed(0)
    direct = MobileNetV1(num_classes=10, width_mult=0.25)
    torch.manual_seed(0)
    checked = create_model("mobilenet_v1", num_classes=10, width_mult=0.25)
    for a, b in zip(direct.state_dict().values(), checked.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_registered_factory_is_checked_against_its_annotations():
    from typing import Literal

    from edgeopt.models.validation import check_model_options

    def factory(depth: int = 2, act: Literal["relu", "gelu"] = "relu", sizes: tuple[int, int] = (4, 4),
                scale: float | None = None, width=8) -> nn.Module:
        return nn.Identity()

    assert check_model_options("f", factory, {"depth": 3.0, "sizes": [8, 8], "scale": None}) == \
        {"depth": 3, "sizes": [8, 8], "scale": None}
    for kwargs, message in (({"act": "tanh"}, r"act='tanh' of 'f' is not one of 'relu', 'gelu'"),
                            ({"sizes": [1, 2, 3]}, r"sizes=\[1, 2, 3\] of 'f' is not of type tuple"),
                            ({"scale": "big"}, r"scale='big' of 'f' is not a finite number or None"),
                            ({"width": 0}, r"width=0 of 'f' is out of range"),  # unannotated, a known name
                            ({"depht": 3}, r"model 'f' does not take 'depht'")):
        with pytest.raises(EdgeoptError, match=message):
            check_model_options("f", factory, kwargs)

    def open_ended(num_classes: int = 10, **extra: object) -> nn.Module:
        return nn.Identity()

    assert check_model_options("g", open_ended, {"anything": 1}) == {"anything": 1}


def test_a_factory_that_refuses_its_options_is_one_error(monkeypatch):
    from edgeopt.models import registry

    def picky(num_classes: int = 10) -> nn.Module:
        if num_classes == 7:
            raise ValueError("seven is unlucky")
        return nn.Linear(2, num_classes)

    monkeypatch.setitem(registry._registry(), "picky", registry.ModelEntry("picky", picky, "test"))
    with pytest.raises(EdgeoptError, match=r"'picky' cannot be built with num_classes=7: ValueError: seven"):
        create_model("picky", num_classes=7)


def test_a_layer_too_big_for_memory_is_found_on_meta(monkeypatch):
    from edgeopt.models import validation

    model = create_model("mobilenet_v1", num_classes=10)
    layer, nbytes = validation.forward_peak_lower_bound(model, (1, 3, 1200, 1200))
    # The BatchNorm after the first pointwise conv: 64 channels at 600×600 in and out.
    assert layer == "features.1.pointwise.1" and nbytes == 2 * 64 * 600 * 600 * 4
    assert next(model.parameters()).device.type == "cpu" and model.training  # the model is as it was
    from edgeopt.utils import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 100 * 2**20)
    with pytest.raises(EdgeoptError, match=r"layer 'features.1.pointwise.1': its input and output\) needs at "
                                           r"least 175.78 MiB of memory, but this machine has 100.00 MiB"):
        validation.check_forward_memory(model, (1, 3, 1200, 1200))
