"""The weight-sharing supernet: slicing equals the extracted SpaceNet, sandwich training, files."""

import dataclasses
import random

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from edgeopt.data import DatasetSplits
from edgeopt.distill.losses import soft_target_loss
from edgeopt.errors import EdgeoptError
from edgeopt.models.space_net import SpaceNet
from edgeopt.models.spaces import SearchSpace, StageSpec
from edgeopt.search import Supernet, load_supernet, sandwich_loss, save_supernet, subnet_accuracy, train_supernet


def _space(name: str = "tiny", head: int = 32, plain_first: bool = False) -> SearchSpace:
    # 16 → 16 at stride 1 gives a residual first block; widths 0.5/1.0 give 8- and 16-channel stems.
    # plain_first: a first stage of expansion 1 only (no expand conv), as the built-in spaces have.
    first = StageSpec(channels=16, depths=(1, 2), stride=1, expansions=(1,) if plain_first else None)
    stages = (first, StageSpec(channels=24, depths=(1, 2), stride=2), StageSpec(channels=32, depths=(1, 2), stride=2))
    return SearchSpace(name=name, in_chans=1, num_classes=3, stem_channels=16, stages=stages, head_channels=head,
                       widths=(0.5, 1.0), resolutions=(16,), kernels=(3, 5), expansions=(2, 3), se=(False, True))


def _splits(n: int = 48) -> DatasetSplits:
    generator = torch.Generator().manual_seed(0)

    def part(count: int) -> TensorDataset:
        return TensorDataset(torch.randn(count, 1, 16, 16, generator=generator),
                             torch.randint(0, 3, (count,), generator=generator))

    return DatasetSplits("random", part(n), part(16), part(16), 3, 1, (16, 16), ["a", "b", "c"], (0.0,), (1.0,))


def _warmed_supernet(space: SearchSpace) -> Supernet:
    """A supernet whose BN affine parameters and running statistics are not the identity."""
    torch.manual_seed(0)
    supernet = Supernet(space)
    with torch.no_grad():
        for module in supernet.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
        rng = random.Random(1)
        supernet.train()
        for arch in [space.largest(), space.smallest(), *(space.sample(rng) for _ in range(4))]:
            supernet.set_active(arch)
            supernet(torch.randn(8, 1, 16, 16) * 2 + 0.5)
    return supernet.eval()


def _archs(space: SearchSpace, count: int = 6):
    rng = random.Random(0)
    return [space.largest(), space.smallest(), *(space.sample(rng) for _ in range(count))]


@pytest.mark.parametrize("plain_first", [False, True])
def test_extract_equals_active_forward_in_eval_mode(plain_first):
    space = _space(plain_first=plain_first)
    supernet = _warmed_supernet(space)
    x = torch.randn(4, 1, 16, 16)
    labels = set()
    for arch in _archs(space):
        supernet.set_active(arch)
        with torch.no_grad():
            expected = supernet(x)
            net = supernet.extract(arch)
            got = net(x)
        assert isinstance(net, SpaceNet) and not net.training
        assert got.shape == (4, 3)
        assert (got - expected).abs().max().item() < 1e-5, arch.label()
        labels.add(arch.label())
    assert len(labels) >= 4  # the random archs really differ in width/depth


def test_extract_matches_the_space_nets_parameter_shapes_and_leaves_active_alone():
    space = _space()
    supernet = _warmed_supernet(space)
    supernet.set_active(space.largest())
    arch = space.smallest()
    net = supernet.extract(arch)
    fresh = SpaceNet(arch, space)
    assert {k: v.shape for k, v in net.state_dict().items()} == {k: v.shape for k, v in fresh.state_dict().items()}
    assert supernet.active == space.largest()


def test_smaller_kernels_are_the_centre_of_the_largest():
    space = _space()
    supernet = _warmed_supernet(space)
    arch = space.smallest()  # kernel 3 of the stored 5, width 0.5, expansion 2
    net = supernet.extract(arch)
    stored = supernet.stages[0][0].dw.conv.weight  # 48 hidden channels (16 × 3), 5×5
    extracted = net.blocks[0].dw[0].weight
    assert extracted.shape == (16, 1, 3, 3)
    assert torch.equal(extracted, stored[:16, :, 1:4, 1:4])


def test_sandwich_loss_is_label_loss_plus_distillation_of_the_smallest():
    space = _space()
    supernet = _warmed_supernet(space).train()
    x, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 0])
    loss, logits = sandwich_loss(supernet, random.Random(0), random_subnets=0, temperature=2.0)(supernet, x, y)
    assert logits.shape == (4, 3) and supernet.active == space.largest()
    # In train mode BatchNorm uses batch statistics, so running the subnets again gives the same logits.
    supernet.set_active(space.largest())
    teacher = supernet(x)
    supernet.set_active(space.smallest())
    expected = F.cross_entropy(teacher, y) + soft_target_loss(supernet(x), teacher, 2.0)
    assert torch.allclose(loss, expected, atol=1e-6)


def test_training_forward_updates_only_the_active_slice_of_running_stats():
    space = _space()
    torch.manual_seed(0)
    supernet = Supernet(space).train()
    supernet.set_active(space.smallest())  # width 0.5: an 8-channel stem of the 16 stored
    supernet(torch.randn(4, 1, 16, 16) + 3.0)
    mean = supernet.stem.bn.running_mean
    assert mean[:8].abs().min() > 0
    assert torch.equal(mean[8:], torch.zeros(8))


def test_set_active_refuses_an_arch_outside_the_space():
    space = _space()
    wide = space.largest().model_copy(update={"width": 0.75})
    with pytest.raises(EdgeoptError, match="width 0.75"):
        Supernet(space).set_active(wide)


def _state(supernet: Supernet) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in supernet.state_dict().items()}


def _train_once(seed: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list]:
    torch.manual_seed(0)
    supernet = Supernet(_space())
    before = _state(supernet)
    history = train_supernet(supernet, _splits(), epochs=1, batch_size=16, random_subnets=1, seed=seed,
                             progress=False)
    return before, _state(supernet), history


def test_train_supernet_changes_weights_and_repeats_with_the_seed():
    before, after, history = _train_once(seed=0)
    _, again, _ = _train_once(seed=0)
    _, other, _ = _train_once(seed=1)
    assert len(history) == 1 and history[0]["train_loss"] > 0
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert "classifier.weight" in changed and "stem.conv.weight" in changed
    assert all(torch.equal(after[k], again[k]) for k in after)
    assert any(not torch.equal(after[k], other[k]) for k in after)


def test_train_supernet_refuses_a_dataset_of_other_classes():
    splits = dataclasses.replace(_splits(), num_classes=5)
    with pytest.raises(EdgeoptError, match="3 classes"):
        train_supernet(Supernet(_space()), splits, epochs=1, progress=False)


def test_subnet_accuracy_is_a_percentage_and_leaves_the_supernet_unchanged():
    space = _space()
    supernet = _warmed_supernet(space)
    supernet.set_active(space.largest())
    supernet.train()  # extract/recalibrate must not touch the supernet's modes either
    before = _state(supernet)
    accuracy = subnet_accuracy(supernet, space.smallest(), _splits(), calibration_samples=32, batch_size=16)
    assert isinstance(accuracy, float) and 0.0 <= accuracy <= 100.0
    after = supernet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert supernet.training and supernet.active == space.largest()


def test_subnet_accuracy_re_estimates_batchnorm():
    space = _space()
    supernet = _warmed_supernet(space)
    splits = _splits()
    # Val labels = the subnet's own predictions with the supernet's statistics, and training images
    # of another scale: re-estimated statistics change predictions, so 100% would mean none were.
    images = splits.val.tensors[0]
    with torch.no_grad():
        labels = supernet.extract(space.largest())(images).argmax(1)
    train = TensorDataset(splits.train.tensors[0] * 10 + 5, splits.train.tensors[1])
    splits = dataclasses.replace(splits, train=train, val=TensorDataset(images, labels))
    assert subnet_accuracy(supernet, space.largest(), splits, calibration_samples=48, batch_size=16) < 100.0


def test_save_load_round_trip(tmp_path):
    space = _space()
    supernet = _warmed_supernet(space)
    path = save_supernet(tmp_path / "supernet.pt", supernet)
    loaded = load_supernet(path, space)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in supernet.state_dict().items())


def test_load_refuses_a_file_of_another_space(tmp_path):
    path = save_supernet(tmp_path / "supernet.pt", Supernet(_space()))
    other = _space("other", head=40)
    with pytest.raises(EdgeoptError) as info:
        load_supernet(path, other)
    message = str(info.value)
    assert "'tiny'" in message and "'other'" in message
    assert _space().fingerprint() in message and other.fingerprint() in message


@pytest.mark.parametrize("content", [b"", b"not a torch file", b"PK\x03\x04garbage"])
def test_load_refuses_a_corrupt_file_in_one_line(tmp_path, content):
    path = tmp_path / "supernet.pt"
    path.write_bytes(content)
    with pytest.raises(EdgeoptError) as info:
        load_supernet(path, _space())
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_load_refuses_a_missing_file(tmp_path):
    with pytest.raises(EdgeoptError, match="does not exist"):
        load_supernet(tmp_path / "missing.pt", _space())
