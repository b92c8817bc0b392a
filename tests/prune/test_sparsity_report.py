"""edgeopt.prune.sparsity_report: counts, sizes under the bitmask encoding and zlib, rows."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from edgeopt import prune
from edgeopt.models import create_model
from edgeopt.prune.masks import apply_mask, is_masked
from edgeopt.prune.sparsity import decode_bitmask, encode_bitmask


@pytest.fixture
def cnn() -> nn.Module:
    torch.manual_seed(0)
    return create_model("simple_cnn", num_classes=10, in_chans=1)


def test_counts_and_bytes_of_a_hand_made_layer():
    layer = nn.Linear(8, 4, bias=False)  # 32 fp32 weights = 128 dense bytes
    mask = torch.zeros(4, 8, dtype=torch.bool)
    mask[0, :5] = True  # 5 kept, 27 zero
    apply_mask(layer, mask)
    report = prune.sparsity_report(nn.Sequential(layer))
    (row,) = report.layers
    assert (row.numel, row.zeros, row.masked) == (32, 27, True)
    assert row.sparsity == pytest.approx(27 / 32)
    assert row.dense_bytes == 128
    assert row.compressed_bytes == 32 // 8 + 5 * 4  # presence bits + nonzero values
    assert report.masked_sparsity == pytest.approx(27 / 32)


def test_a_dense_layer_is_counted_at_its_dense_size(cnn):
    report = prune.sparsity_report(cnn)
    assert report.total_sparsity == 0.0 and report.masked_sparsity is None
    assert report.compressed_bytes == report.dense_bytes  # never more than dense
    assert report.dense_bytes == sum(m.weight.numel() * 4 for m in cnn.modules()
                                     if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_compressed_size_is_below_dense_at_80_percent(cnn):
    dense = prune.sparsity_report(cnn)
    report = prune.sparsity_report(prune.magnitude(cnn, sparsity=0.8, scope="layer", exclude=[]))
    assert report.total_sparsity == pytest.approx(0.8, abs=1e-3)
    # 1/32 of dense for the presence bits + 20% of the values, ~23% of dense.
    assert report.compression_ratio == pytest.approx(1 / 32 + 0.2, abs=2e-3)
    assert report.compressed_bytes < 0.35 * report.dense_bytes
    # zlib of the whole saved state dict shrinks too, and far more than the dense model's does.
    assert report.state_dict_zlib_bytes < 0.5 * report.state_dict_bytes
    assert report.state_dict_zlib_bytes < 0.5 * dense.state_dict_zlib_bytes


def test_total_sparsity_counts_the_dense_excluded_layers(cnn):
    report = prune.sparsity_report(prune.magnitude(cnn, sparsity=0.5))
    masked = [layer for layer in report.layers if layer.masked]
    assert [layer.name for layer in masked] == ["features.2.0", "features.4.0"]
    all_weights = sum(layer.numel for layer in report.layers)
    zeros = sum(layer.zeros for layer in masked)
    assert report.total_sparsity == pytest.approx(zeros / all_weights)
    assert report.total_sparsity < report.masked_sparsity == pytest.approx(0.5, abs=1e-4)


def test_bitmask_encoding_round_trips_exactly():
    torch.manual_seed(0)
    weight = torch.randn(7, 3, 3, 3)
    weight[weight.abs() < 1.0] = 0.0
    data = encode_bitmask(weight)
    nonzero = int((weight != 0).sum())
    assert len(data) == (weight.numel() + 7) // 8 + 4 * nonzero
    assert torch.equal(decode_bitmask(data, tuple(weight.shape)), weight)


def test_report_forms_are_plain_and_say_it_is_not_faster(cnn):
    sparse = prune.magnitude(cnn, sparsity=0.6)
    report = prune.sparsity_report(sparse)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["total_sparsity"] == pytest.approx(report.total_sparsity)
    assert len(data["layers"]) == len(report.rows()) == 4
    assert data["layers"][1]["layer"] == "features.2.0" and data["layers"][1]["masked"] is True
    assert "no faster" in data["note"] and "presence bit" in data["encoding"]
    text = report.summary()
    assert "no faster" in text and "zlib" in text and "bitmask" in text
    # Measuring (which saves a finalized copy) leaves the model masked and working.
    assert is_masked(dict(sparse.named_modules())["features.2.0"])
    sparse(torch.zeros(1, 1, 8, 8))


def test_compress_false_skips_the_state_dict(cnn):
    report = prune.sparsity_report(cnn, compress=False)
    assert report.state_dict_bytes is None and report.state_dict_zlib_bytes is None
    assert "zlib" not in report.summary()
