"""state_dict_bytes: parameters and buffers, shared tensors once."""

from __future__ import annotations

import torch
from torch import nn

from edgeopt.analysis import state_dict_bytes


def test_linear():
    assert state_dict_bytes(nn.Linear(10, 5)) == (50 + 5) * 4


def test_buffers_count_and_tied_weights_count_once():
    model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.BatchNorm1d(4),
                          nn.Linear(4, 4, bias=False))
    model[2].weight = model[0].weight
    # one 4x4 weight, BN weight/bias/mean/var (4 each), num_batches_tracked (int64)
    assert state_dict_bytes(model) == 16 * 4 + 4 * 4 * 4 + 8


def test_half_precision():
    assert state_dict_bytes(nn.Linear(10, 5).to(torch.float16)) == 55 * 2
