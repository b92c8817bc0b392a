import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgeopt.distill import FeatureHint, HintAdapter
from edgeopt.distill.features import FeatureCapture, feature_loss, parse_hints, target_size
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_adapter_maps_student_channels_to_teacher_channels():
    adapter = HintAdapter.for_shapes(student=(8, 7, 7), teacher=(32, 7, 7))
    assert adapter(torch.zeros(3, 8, 7, 7)).shape == (3, 32, 7, 7)
    assert n_params(adapter) == 8 * 32 + 32  # one 1x1 kernel per (in, out) pair, plus bias
    assert adapter.describe() == "1x1 conv 8->32, compared at 7x7"


def test_a_larger_student_map_is_average_pooled_to_the_teachers_size():
    adapter = HintAdapter.for_shapes(student=(8, 14, 14), teacher=(16, 7, 7))
    assert adapter(torch.zeros(1, 8, 14, 14)).shape == (1, 16, 7, 7)
    same_width = HintAdapter.for_shapes(student=(8, 14, 14), teacher=(8, 7, 7))
    x = torch.randn(1, 8, 14, 14)
    assert torch.allclose(same_width(x), F.avg_pool2d(x, 2), atol=1e-6)  # 2x2 blocks averaged


def test_a_larger_teacher_map_sets_the_common_size_to_the_students():
    assert target_size(student=(8, 7, 7), teacher=(16, 14, 14)) == (7, 7)
    adapter = HintAdapter.for_shapes(student=(8, 7, 7), teacher=(16, 14, 14))
    assert adapter(torch.zeros(2, 8, 7, 7)).shape == (2, 16, 7, 7)


def test_equal_shapes_need_no_adapter_parameters():
    adapter = HintAdapter.for_shapes(student=(16, 7, 7), teacher=(16, 7, 7))
    x = torch.randn(2, 16, 7, 7)
    assert n_params(adapter) == 0 and torch.equal(adapter(x), x)


def test_vectors_get_a_linear_adapter():
    adapter = HintAdapter.for_shapes(student=(16,), teacher=(64,))
    assert isinstance(adapter.proj, nn.Linear) and adapter(torch.zeros(5, 16)).shape == (5, 64)


def test_pooling_then_1x1_conv_equals_1x1_conv_then_pooling():
    # The documented reason the student side may pool first: both are linear and commute.
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 10, 1)
    x = torch.randn(2, 6, 14, 14)
    a = conv(F.adaptive_avg_pool2d(x, (7, 7)))
    b = F.adaptive_avg_pool2d(conv(x), (7, 7))
    assert torch.allclose(a, b, atol=1e-5)


def test_map_and_vector_cannot_be_matched():
    with pytest.raises(EdgeoptError, match="cannot match a student feature"):
        HintAdapter.for_shapes(student=(16, 7, 7), teacher=(64,))


def test_feature_loss_is_the_mean_mse_over_hints():
    adapters = nn.ModuleList([HintAdapter(4, 4, (2, 2)), HintAdapter(3, 3, None)])
    s = [torch.ones(1, 4, 2, 2), torch.zeros(1, 3)]
    t = [torch.zeros(1, 4, 2, 2), torch.full((1, 3), 3.0)]
    assert feature_loss(s, t, adapters).item() == pytest.approx((1.0 + 9.0) / 2)


def test_hints_parse_from_strings_and_pairs():
    hints = parse_hints(["features.6:features.5", ("a", "b"), FeatureHint("x", "y")])
    assert hints == [FeatureHint("features.6", "features.5"), FeatureHint("a", "b"), FeatureHint("x", "y")]
    assert parse_hints("a.1:b.2") == [FeatureHint("a.1", "b.2")]  # one bare string is one hint
    with pytest.raises(EdgeoptError, match="is not TEACHER_LAYER:STUDENT_LAYER"):
        FeatureHint.parse("features.6")


def test_capture_keeps_outputs_and_removes_its_hooks():
    model = create_model("simple_cnn", num_classes=10, in_chans=1, width=4)
    with FeatureCapture(model, ["features.2", "features.0"], "student") as capture:
        model(torch.zeros(2, 1, 8, 8))
        shapes = [tuple(o.shape) for o in capture.outputs()]
    assert shapes == [(2, 8, 4, 4), (2, 4, 8, 8)]
    assert all(not m._forward_hooks for m in model.modules())


def test_unknown_module_names_suggest_close_ones():
    model = create_model("simple_cnn", num_classes=10, in_chans=1, width=4)
    with pytest.raises(EdgeoptError, match="no module named 'feature.2'") as info:
        FeatureCapture(model, ["feature.2"], "student")
    assert "features.2" in info.value.hint
