"""prune.magnitude / finalize: exact sparsity, threshold rule, exclusions, errors, export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from edgeopt import export, prune
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.prune.masks import is_masked
from edgeopt.prune.unstructured import default_exclude, depthwise_layers, prunable_layers
from edgeopt.runtime import OnnxRuntimeRunner

PRUNED = ["features.2.0", "features.4.0"]  # simple_cnn minus its first conv and classifier


@pytest.fixture
def cnn() -> nn.Module:
    torch.manual_seed(0)
    return create_model("simple_cnn", num_classes=10, in_chans=1).eval()


def _layers(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules() if name in prunable_layers(model)}


def _zeros(module: nn.Module) -> int:
    return int((module.weight == 0).sum())


def test_global_sparsity_is_exact_over_the_pruned_layers(cnn):
    sparse = prune.magnitude(cnn, sparsity=0.7)
    layers = _layers(sparse)
    total = sum(layers[n].weight.numel() for n in PRUNED)
    assert sum(_zeros(layers[n]) for n in PRUNED) == round(0.7 * total)


def test_layer_scope_hits_the_target_in_every_layer(cnn):
    sparse = prune.magnitude(cnn, sparsity=0.55, scope="layer", exclude=[])
    for name, module in _layers(sparse).items():
        assert abs(_zeros(module) - 0.55 * module.weight.numel()) <= 1, name


def test_global_scope_ranks_across_layers_and_layer_scope_does_not(cnn):
    with torch.no_grad():  # make one layer's weights 10x larger than the other's
        cnn.features[4][0].weight.mul_(10)
    global_ = _layers(prune.magnitude(cnn, sparsity=0.5))
    per_layer = _layers(prune.magnitude(cnn, sparsity=0.5, scope="layer"))
    # Globally the small-weight layer loses far more than half, the large-weight one far less.
    assert global_["features.2.0"].weight.eq(0).float().mean() > 0.9
    assert global_["features.4.0"].weight.eq(0).float().mean() < 0.5
    for name in PRUNED:
        assert abs(per_layer[name].weight.eq(0).float().mean().item() - 0.5) < 1e-3


def test_pruned_weights_are_the_smallest_in_magnitude(cnn):
    layer = _layers(prune.magnitude(cnn, sparsity=0.6, scope="layer"))["features.4.0"]
    original = cnn.features[4][0].weight.detach().abs()
    pruned = layer.weight == 0
    assert original[pruned].max() <= original[~pruned].min()


def test_threshold_keeps_exactly_the_weights_above_it(cnn):
    threshold = 0.03
    sparse = _layers(prune.magnitude(cnn, threshold=threshold))
    for name in PRUNED:
        original = dict(cnn.named_modules())[name].weight.detach()
        assert torch.equal(sparse[name].weight != 0, original.abs() > threshold)
        assert torch.equal(sparse[name].weight[original.abs() > threshold],
                           original[original.abs() > threshold])


def test_default_exclusions_keep_the_first_conv_and_classifier_dense(cnn):
    assert default_exclude(cnn) == ["features.0.0", "classifier"]
    layers = _layers(prune.magnitude(cnn, sparsity=0.8))
    assert not is_masked(layers["features.0.0"]) and not is_masked(layers["classifier"])
    assert torch.equal(layers["classifier"].weight, cnn.classifier.weight)
    assert all(is_masked(layers[n]) for n in PRUNED)


def test_depthwise_layers_are_found_by_their_groups(cnn):
    mobilenet = create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.25)
    found = depthwise_layers(mobilenet)
    assert len(found) == 13 and all(name.endswith("depthwise.0") for name in found)
    assert depthwise_layers(cnn) == []
    # Kept dense by default: a global ranking would otherwise strip them and kill channels.
    assert default_exclude(mobilenet) == ["features.0.0", "classifier", *found]
    sparse = _layers(prune.magnitude(mobilenet, sparsity=0.5))
    assert not any(is_masked(sparse[n]) for n in found)
    assert all(is_masked(sparse[n]) for n in sparse if n.endswith("pointwise.0"))
    stripped = _layers(prune.magnitude(mobilenet, sparsity=0.5, exclude=["features.0.0", "classifier"]))
    assert all(is_masked(stripped[n]) for n in found)


def test_exclude_is_configurable(cnn):
    every = _layers(prune.magnitude(cnn, sparsity=0.5, scope="layer", exclude=[]))
    assert all(is_masked(m) for m in every.values())
    # A parent module's name excludes every layer inside it; a single string is one name.
    only_head = _layers(prune.magnitude(cnn, sparsity=0.5, exclude="features"))
    assert [n for n, m in only_head.items() if is_masked(m)] == ["classifier"]


def test_the_input_model_is_untouched(cnn):
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    prune.magnitude(cnn, sparsity=0.9)
    assert not any(is_masked(m) for m in cnn.modules())
    after = cnn.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_pruning_again_keeps_earlier_pruned_weights_pruned(cnn):
    first = prune.magnitude(cnn, sparsity=0.4)
    second = prune.magnitude(first, sparsity=0.7)
    for name in PRUNED:
        was_zero = _layers(first)[name].weight == 0
        assert bool((_layers(second)[name].weight[was_zero] == 0).all())
    total = sum(_layers(second)[n].weight.numel() for n in PRUNED)
    assert sum(_zeros(_layers(second)[n]) for n in PRUNED) == round(0.7 * total)


def test_finalize_leaves_plain_modules_with_the_same_outputs(cnn):
    sparse = prune.magnitude(cnn, sparsity=0.8)
    plain = prune.finalize(sparse)
    assert all(type(m) in (nn.Conv2d, nn.Linear) for m in _layers(plain).values())
    assert not any("parametrizations" in k for k in plain.state_dict())
    assert all(is_masked(_layers(sparse)[n]) for n in PRUNED)  # finalize copied
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(plain(x), sparse(x), rtol=0, atol=0)
    # It loads into a freshly built model like any other state dict.
    create_model("simple_cnn", num_classes=10, in_chans=1).load_state_dict(plain.state_dict())


@pytest.mark.slow  # the dynamo ONNX exporter takes ~10 s on this machine
def test_finalized_model_exports_to_onnx_and_matches(cnn, tmp_path):
    sparse = prune.magnitude(cnn, sparsity=0.8)
    art = export.onnx(prune.finalize(sparse), torch.zeros(1, 1, 8, 8), tmp_path / "sparse.onnx")
    assert art.parity.passed
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        expected = sparse(x).numpy()
    got = OnnxRuntimeRunner(art.path, threads=1).run(x.numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sparsity", [1.0, -0.1, 1.5, math.nan, True, "0.5"])
def test_sparsity_outside_the_unit_interval_is_an_error(cnn, sparsity):
    with pytest.raises(EdgeoptError, match=r"outside \[0, 1\)"):
        prune.magnitude(cnn, sparsity=sparsity)


@pytest.mark.parametrize("threshold", [-0.1, math.inf, math.nan])
def test_a_bad_threshold_is_an_error(cnn, threshold):
    with pytest.raises(EdgeoptError, match="threshold"):
        prune.magnitude(cnn, threshold=threshold)


def test_both_or_neither_amount_is_an_error(cnn):
    for kwargs in ({}, {"sparsity": 0.5, "threshold": 0.1}):
        with pytest.raises(EdgeoptError, match="exactly one of sparsity and threshold"):
            prune.magnitude(cnn, **kwargs)


def test_unknown_scope_suggests_the_close_one(cnn):
    with pytest.raises(EdgeoptError, match="did you mean 'global'"):
        prune.magnitude(cnn, sparsity=0.5, scope="globl")


def test_unknown_layer_name_suggests_close_names(cnn):
    with pytest.raises(EdgeoptError, match=r"'clasifier'.*did you mean 'classifier'"):
        prune.magnitude(cnn, sparsity=0.5, exclude=["clasifier"])


def test_excluding_a_module_without_prunable_layers_is_an_error(cnn):
    with pytest.raises(EdgeoptError, match="'features.1'.*no Conv2d/Linear"):
        prune.magnitude(cnn, sparsity=0.5, exclude=["features.1"])  # a MaxPool2d


def test_excluding_every_layer_is_an_error(cnn):
    with pytest.raises(EdgeoptError, match="no Conv2d/Linear layer is left"):
        prune.magnitude(cnn, sparsity=0.5, exclude=prunable_layers(cnn))


def test_global_sparsity_that_empties_a_layer_names_it(cnn):
    with torch.no_grad():
        cnn.features[2][0].weight.mul_(1e-6)  # 4,608 tiny weights of 23,040 pruned ones
    with pytest.raises(EdgeoptError, match=r"every weight of layer 'features.2.0'.*scope='layer'"):
        prune.magnitude(cnn, sparsity=0.5)


def test_layer_sparsity_that_empties_a_small_layer_names_it():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    with pytest.raises(EdgeoptError, match="every weight of layer '2'"):
        prune.magnitude(model, sparsity=0.9, scope="layer", exclude=[])  # round(2.7) = 3 of 3


def test_threshold_that_empties_a_layer_names_it_and_the_limit(cnn):
    largest = cnn.features[4][0].weight.abs().max().item()
    with pytest.raises(EdgeoptError, match=r"every weight of layer 'features.4.0'.*below"):
        prune.magnitude(cnn, threshold=largest)


def test_a_non_module_is_an_error():
    with pytest.raises(EdgeoptError, match="expected a torch.nn.Module"):
        prune.magnitude({"weight": torch.zeros(2)}, sparsity=0.5)
    with pytest.raises(EdgeoptError, match="expected a torch.nn.Module"):
        prune.finalize("model.pt")
