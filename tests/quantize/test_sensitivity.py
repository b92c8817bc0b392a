"""Per-layer sensitivity: rows per layer, measured in ONNX Runtime, the rigged layer first."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from edgeopt.data import calibration_subset, load_dataset
from edgeopt.quantize import SensitivityReport, sensitivity
from edgeopt.quantize.onnx_sensitivity import sqnr_db


def test_sqnr_db_is_signal_over_noise_in_decibels():
    ref = np.ones(100)
    assert sqnr_db(ref, ref * 1.1) == pytest.approx(20.0)
    assert sqnr_db(ref, ref * 1.01) == pytest.approx(40.0)
    assert sqnr_db(ref, ref) == math.inf


class TwoConvs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv2(torch.relu(self.conv1(x)))).mean(dim=(2, 3)))


@pytest.mark.slow
def test_the_layer_with_an_outlier_channel_ranks_first():
    digits = load_dataset("digits")
    torch.manual_seed(0)
    model = TwoConvs().eval()
    with torch.no_grad():  # same function, but conv1's output range is set by one huge channel
        model.conv1.weight[0] *= 500.0
        model.conv1.bias[0] *= 500.0
        model.conv2.weight[:, 0] /= 500.0
    report = sensitivity(model, calibration_subset(digits.train, 32), digits.val)
    assert isinstance(report, SensitivityReport)
    assert sorted(report.ranking) == ["conv1", "conv2", "fc"]
    by_layer = {row["layer"]: row for row in report.rows}
    # conv1's output (= conv2's input) carries the outlier range: quantizing either alone is noisy
    assert report.ranking[0] in ("conv1", "conv2")
    assert by_layer["fc"]["sqnr_db"] > max(by_layer["conv1"]["sqnr_db"], by_layer["conv2"]["sqnr_db"]) + 6
    assert report.float_accuracy is not None and report.samples == len(digits.val)
    json.dumps(report.to_dict())
    assert len(report.table()) == 3 and report.table()[0][0] == report.ranking[0]
