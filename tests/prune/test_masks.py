"""edgeopt.prune.masks: masks survive optimizers, copying and saving, and come off cleanly."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from edgeopt import prune
from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.prune.masks import apply_mask, is_masked, mask_of, remove_masks, restore_masks
from edgeopt.runtime import scoped_threads
from edgeopt.train import TrainConfig, fit

PRUNED = ["features.2.0", "features.4.0"]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture
def sparse() -> nn.Module:
    torch.manual_seed(0)
    model = create_model("simple_cnn", num_classes=10, in_chans=1)
    return prune.magnitude(model, sparsity=0.7)


def _modules(model: nn.Module) -> dict[str, nn.Module]:
    return dict(model.named_modules())


def _pruned_entries_are_zero(model: nn.Module) -> bool:
    modules = _modules(model)
    return all(bool((modules[n].weight[~mask_of(modules[n])] == 0).all()) for n in PRUNED)


def test_apply_mask_zeroes_the_weight_and_its_stored_original():
    layer = nn.Linear(3, 2)
    mask = torch.tensor([[True, False, True], [False, True, True]])
    kept = layer.weight.detach()[mask].clone()
    apply_mask(layer, mask)
    assert isinstance(layer, nn.Linear) and is_masked(layer)
    assert torch.equal(layer.weight == 0, ~mask)
    assert torch.equal(layer.weight[mask], kept)
    assert torch.equal(layer.parametrizations.weight.original == 0, ~mask)
    # The mask is a buffer, never a parameter an optimizer would update.
    assert all("mask" not in name for name, _ in layer.named_parameters())


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-2),
        TrainConfig(optimizer="adamw", lr=1e-2, weight_decay=0.1),
    ],
    ids=["sgd-momentum", "adamw-decay"],
)
def test_masks_persist_through_fit(sparse, digits, config):
    before = {n: _modules(sparse)[n].weight.detach().clone() for n in PRUNED}
    config = config.model_copy(update={"epochs": 1, "max_steps": 8, "progress": False,
                                       "restore_best": False})
    with scoped_threads(1):  # two spinning threads on a shared 2-core machine are far slower
        fit(sparse, digits.train, None, config)
    assert _pruned_entries_are_zero(sparse)
    for name in PRUNED:  # training did move the kept weights
        after = _modules(sparse)[name].weight.detach()
        assert not torch.equal(after, before[name])
        assert int((after == 0).sum()) == int((before[name] == 0).sum())


def test_masks_hold_even_with_momentum_built_up_before_masking(digits):
    """An optimizer made for the dense model keeps pushing pruned entries; they stay zero."""
    torch.manual_seed(0)
    layer = nn.Linear(64, 10)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    inputs, targets = digits.train.tensors[0][:64].flatten(1), digits.train.tensors[1][:64]
    for step in range(6):
        if step == 3:  # momentum buffers are full by now
            apply_mask(layer, layer.weight.detach().abs() > 0.05)
        optimizer.zero_grad()
        nn.functional.cross_entropy(layer(inputs), targets).backward()
        optimizer.step()
    pruned = ~mask_of(layer)
    assert pruned.any()
    assert bool((layer.weight[pruned] == 0).all())


def test_deep_copies_are_independent(sparse):
    copied = copy.deepcopy(sparse)
    layer = _modules(copied)["features.2.0"]
    assert is_masked(layer)
    layer.parametrizations.weight[0].mask.fill_(True)
    assert not bool(mask_of(_modules(sparse)["features.2.0"]).all())
    # Baking a copy's masks leaves the original masked and working (the class is not shared).
    remove_masks(copied)
    assert all(is_masked(_modules(sparse)[n]) for n in PRUNED)
    sparse(torch.zeros(1, 1, 8, 8))


def test_state_dict_round_trip_through_a_file(sparse, tmp_path):
    torch.save(sparse.state_dict(), tmp_path / "sparse.pt")
    state = torch.load(tmp_path / "sparse.pt", weights_only=True)
    assert any(key.endswith("parametrizations.weight.0.mask") for key in state)
    fresh = create_model("simple_cnn", num_classes=10, in_chans=1)
    with pytest.raises(RuntimeError):  # a plain model does not take the masked keys ...
        fresh.load_state_dict(state)
    restore_masks(fresh, state).load_state_dict(state)  # ... after restore_masks it does
    x = torch.randn(3, 1, 8, 8)
    sparse.eval(), fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), sparse(x), rtol=0, atol=0)
    for name in PRUNED:
        assert torch.equal(mask_of(_modules(fresh)[name]), mask_of(_modules(sparse)[name]))
    # And into another masked model directly (e.g. fit's best-epoch restore).
    other = prune.magnitude(create_model("simple_cnn", num_classes=10, in_chans=1), sparsity=0.1)
    other.load_state_dict(state)
    assert _pruned_entries_are_zero(other)


def test_remove_masks_bakes_zeros_into_plain_layers(sparse):
    zeros = {n: int((_modules(sparse)[n].weight == 0).sum()) for n in PRUNED}
    plain = remove_masks(sparse)
    for name in PRUNED:
        layer = _modules(plain)[name]
        assert type(layer) is nn.Conv2d and not is_masked(layer)
        assert isinstance(layer.weight, nn.Parameter)
        assert int((layer.weight == 0).sum()) == zeros[name]


def test_apply_mask_errors():
    with pytest.raises(EdgeoptError, match="cannot mask a BatchNorm2d"):
        apply_mask(nn.BatchNorm2d(4), torch.ones(4, dtype=torch.bool))
    with pytest.raises(EdgeoptError, match=r"mask shape \(2, 2\) does not match"):
        apply_mask(nn.Linear(3, 2), torch.ones(2, 2, dtype=torch.bool))


def test_restore_masks_names_a_missing_layer(sparse):
    state = sparse.state_dict()
    with pytest.raises(EdgeoptError, match="pruning mask for layer 'features.2.0'"):
        restore_masks(nn.Sequential(nn.Linear(2, 2)), state)
