"""Channel dependency analysis: which layers share a group, and what stays unprunable."""

import pytest
import torch
from structured_zoo import INPUT, ZOO, calibrated
from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.prune import channel_groups
from edgeopt.prune.graph import analyse

torch.set_num_threads(1)


def groups_by_producer(model, size=INPUT):
    return {p: g for g in channel_groups(model, torch.randn(size)) for p in g.producers}


def test_residual_adds_tie_the_stem_and_both_blocks():
    groups = groups_by_producer(ZOO["residual"](16))
    tied = groups["stem.0"]
    assert set(tied.producers) == {"stem.0", "block1.1", "block2.1"}
    assert tied.channels == 16
    assert {"stem.1", "block1.2", "block2.2", "block1.0.0", "block2.0.0"} <= set(tied.layers)
    assert groups["block1.0.0"].channels == 16 and groups["block1.0.0"] is not tied


def test_depthwise_follows_its_producer_and_multiplier_keeps_blocks():
    groups = groups_by_producer(ZOO["depthwise"](16))
    assert "dw.0" not in groups and "dw.0" in groups["stem.0"].layers
    pw = groups["pw.0"]
    assert pw.channels == 32 and pw.multiplicity == 2 and "dw2" in pw.layers


def test_concat_keeps_branches_as_separate_groups():
    groups = groups_by_producer(ZOO["concat"](16))
    assert groups["a.0"] is not groups["b.0"]
    assert "mix.0" in groups["a.0"].layers and "mix.0" in groups["b.0"].layers
    assert (groups["a.0"].channels, groups["b.0"].channels) == (16, 32)


def test_channel_shuffle_ties_the_same_place_in_every_group():
    groups = groups_by_producer(ZOO["shuffle"](16))
    # g1 makes 2 groups of 16; the shuffle and g2's 2 groups tie channel b of both → 8 units
    assert groups["g1.0"].channels == 8
    assert groups["stem.0"] is groups["g2.0"]  # the residual add
    assert groups["stem.0"].channels == 8 and groups["stem.0"].multiplicity == 2


def test_squeeze_excite_gates_join_the_channels_they_scale():
    groups = groups_by_producer(ZOO["squeeze_excite"](16))
    assert groups["se_expand"] is groups["stem.0"]
    assert groups["fc2"] is groups["conv.0"]
    assert groups["se_reduce"].channels == 8 and groups["fc1"].channels == 8


def test_grouped_conv_keeps_group_structure():
    groups = groups_by_producer(ZOO["grouped"](16))
    assert groups["stem.0"].channels == 8 and groups["stem.0"].multiplicity == 4
    assert groups["grouped.0"].channels == 8 and groups["grouped.0"].multiplicity == 4


def test_outputs_are_never_pruned_dict_included():
    graph = analyse(ZOO["dict_out"](16), torch.randn(INPUT))
    producers = {p for g in graph.groups for p in g.producers}
    assert "features" not in producers and "head" not in producers
    assert set(graph.layers["features"].out_slots) == {0}
    assert {"body.0", "neck.0"} <= producers


def test_flatten_into_linear_maps_each_channel_to_its_features():
    graph = analyse(ZOO["flatten_head"](4), torch.randn(INPUT))
    fc_in = graph.layers["fc"].in_slots
    conv_out = graph.layers["conv2.0"].out_slots
    assert fc_in == [u for u in conv_out for _ in range(16)]  # 4×4 positions per channel, in order


class Unknown(nn.Module):
    """Slices channels by position (x[:, :4]) and runs a LayerNorm: both unknown to the rules."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.GroupNorm(2, 8)
        self.c = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(4 + 8 + 8, 10)

    def forward(self, x):
        a = self.a(x)[:, :4]
        b = self.norm(self.b(x))
        c = torch.roll(self.c(x), 1, dims=1)
        return self.head(torch.cat([a, b, c], 1).mean((2, 3)))


def test_ops_without_a_rule_pin_their_channels():
    graph = analyse(Unknown(), torch.randn(INPUT))
    assert graph.groups == []
    assert graph.unknown_ops["norm"] == "GroupNorm" and "roll" in graph.unknown_ops.values()


def test_spatial_slicing_keeps_channels_prunable():
    class Crop(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.conv(x)[:, :, 1:-1, 1:-1].mean((2, 3)))

    assert [g.channels for g in channel_groups(Crop(), torch.randn(INPUT))] == [8]


def test_hardcoded_view_size_pins_channels():
    class Hardcoded(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.head = nn.Linear(8 * 16 * 16, 2)

        def forward(self, x):
            return self.head(self.conv(x).reshape(-1, 8 * 16 * 16))

    assert channel_groups(Hardcoded(), torch.randn(INPUT)) == []


def test_registry_mobilenets():
    v1 = groups_by_producer(create_model("mobilenet_v1", num_classes=10, width_mult=0.25), (1, 3, 64, 64))
    assert len({id(g) for g in v1.values()}) == 14  # stem + 13 pointwise convs
    v2 = channel_groups(create_model("mobilenet_v2", num_classes=10, width_mult=0.35), torch.randn(1, 3, 64, 64))
    residual = [g for g in v2 if len(g.producers) > 1]
    assert sorted(len(g.producers) for g in residual) == [2, 3, 3, 3, 4]  # stages of n = 2, 3, 4, 3, 3 blocks


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.gate = Gate()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.gate(self.conv(x)).mean((2, 3)))


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # control flow on a tensor value: fx cannot trace it
            return x
        return -x


def test_untraceable_module_is_named_and_can_be_excluded():
    with pytest.raises(EdgeoptError, match="'gate' \\(Gate\\)") as err:
        channel_groups(Branchy(), torch.randn(INPUT))
    assert "exclude=['gate']" in err.value.hint
    assert channel_groups(Branchy(), torch.randn(INPUT), exclude=["gate"]) == []  # conv feeds it


def test_unknown_exclude_name_suggests():
    with pytest.raises(EdgeoptError, match="'gat'") as err:
        channel_groups(Branchy(), torch.randn(INPUT), exclude=["gat"])
    assert "gate" in err.value.hint


def test_wrong_input_shape_is_a_clear_error():
    with pytest.raises(EdgeoptError, match="does not run on an input of shape"):
        channel_groups(calibrated(ZOO["flatten_head"](4)), torch.randn(1, 3, 20, 20))
