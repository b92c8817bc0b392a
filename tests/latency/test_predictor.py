"""The predictor: it beats MACs × a constant on a toy split, flags what the table does not cover,
and predicts in well under 10 ms."""

from __future__ import annotations

import random
import statistics
import time

import numpy as np
import pytest
import torch
from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.latency import (
    BlockConfig,
    LatencyTable,
    Predictor,
    SearchSpace,
    StageSpec,
    arch_units,
    build_model,
    build_table,
    current_key,
    fit_correction,
    get_space,
    predict,
)
from edgeopt.latency.standalone import measure_whole
from edgeopt.latency.table import Entry

# Two widths and two resolutions, so MACs vary ~8x between architectures.
TOY = SearchSpace(
    name="toy", in_chans=3, num_classes=8, stem_channels=16, head_channels=64,
    stages=(StageSpec(channels=16, depths=(1,), expansions=(1,)), StageSpec(channels=24, depths=(1, 2), stride=2),
            StageSpec(channels=32, depths=(1, 2), stride=2)),
    widths=(0.5, 1.0), resolutions=(32, 64), kernels=(3, 5), expansions=(3, 6), se=(False, True),
    acts=("relu", "hswish"),
)


def _write_onnx(arch, path):
    """The architecture's ONNX file: BatchNorm folded (as every exporter does), then the probe
    writer (milliseconds, where torch's exporter takes seconds per model)."""
    from edgeopt.fuse import fuse
    from edgeopt.latency.onnx_writer import write_onnx

    shape = (1, 3, arch.resolution, arch.resolution)
    write_onnx(fuse(build_model(arch, TOY).eval(), torch.randn(shape)), shape, path)
    return path


@pytest.mark.slow
def test_the_predictor_beats_macs_times_a_constant_on_a_toy_split(tmp_path):
    """A standalone table (ONNX Runtime's default); the truth measured against its reference.

    (The traced table missed this: 20.5% vs 19.3% MAPE, see docs/latency.md.)"""
    table = build_table(TOY, runtime="onnxruntime", threads=1, precision="fp32", path=tmp_path / "toy.json",
                        passes=2, rounds=5, runs_per_round=5)
    assert table.method == "standalone"
    rng = random.Random(0)
    archs = [TOY.sample(rng, width=w, resolution=r) for _ in range(3) for w in TOY.widths for r in TOY.resolutions]
    files = [_write_onnx(a, tmp_path / f"a{i}.onnx") for i, a in enumerate(archs)]
    truth = measure_whole(table, files, threads=1, passes=2)
    order = list(range(len(archs)))
    random.Random(1).shuffle(order)
    train, test = order[: len(order) // 2], order[len(order) // 2 :]  # split before anything is fitted

    fit_correction(table, [(archs[i], truth[i]) for i in train])
    predictor = Predictor(table, threads=1)
    ours = [abs(predictor.predict(archs[i]).ms / truth[i] - 1) for i in test]
    macs = [sum(u.macs for u in arch_units(a, TOY)) for a in archs]
    ratios = np.array([macs[i] / truth[i] for i in train])
    constant = ratios.sum() / (ratios * ratios).sum()  # least squares on relative errors
    baseline = [abs(constant * macs[i] / truth[i] - 1) for i in test]
    print(f"\ntoy split ({len(train)} train, {len(test)} test): predictor MAPE {np.mean(ours):.1%} "
          f"(worst {max(ours):.1%}), MACs x constant MAPE {np.mean(baseline):.1%} (worst {max(baseline):.1%})")
    assert np.mean(ours) < np.mean(baseline)
    assert np.mean(ours) < 0.25


def test_an_architecture_outside_the_space_gets_the_fallback_and_is_flagged(tiny_table, tiny_space):
    arch = tiny_space.sample(random.Random(0))
    inside = Predictor(tiny_table, threads=1).predict(arch)
    assert inside.coverage == 1.0 and inside.missing == [] and inside.fallback_ms == 0.0
    assert not any("outside" in w for w in inside.warnings)

    odd = arch.model_copy(update={"stages": (arch.stages[0], (BlockConfig(kernel=7, expansion=6, se=True),))})
    outside = Predictor(tiny_table, threads=1).predict(odd)
    assert outside.kind == "estimate"
    assert 0.0 < outside.coverage < 1.0 and outside.fallback_ms > 0.0 and outside.missing
    assert outside.table_ms + outside.fallback_ms == pytest.approx(outside.units_ms)
    assert any("outside the table's space" in w and "kernel 7" in w for w in outside.warnings)
    share = f"{1 - outside.coverage:.0%}"
    assert any(f"fallback predicts {share}" in w for w in outside.warnings)
    assert f"table covers {outside.coverage:.0%}" in str(outside)


def test_any_torch_model_is_predicted_with_its_coverage(tiny_table):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 7, 1, 3, groups=8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    prediction = predict(model, tiny_table, threads=1, input_size=(1, 3, 16, 16))
    assert prediction.units == 3 and prediction.ms > 0
    assert prediction.coverage < 1.0 and any("not in the table" in w for w in prediction.warnings)
    with pytest.raises(EdgeoptError, match="input size"):
        predict(model, tiny_table, threads=1)


def test_the_correction_needs_three_models(tiny_table, tiny_space):
    with pytest.raises(EdgeoptError, match="at least 3"):
        fit_correction(tiny_table, [(tiny_space.sample(random.Random(0)), 1.0)])


def test_the_interval_comes_from_held_out_residuals(tiny_table, tiny_space):
    rng = random.Random(2)
    archs = [tiny_space.sample(rng) for _ in range(6)]
    raw = Predictor(tiny_table, threads=1)
    # whole models 1.5x the sum of their units plus 0.01 ms, with ±2% noise: the fit must find it
    noise = [0.98, 1.02, 1.0, 0.99, 1.01, 1.0]
    samples = [(a, (1.5 * raw.predict(a).units_ms + 0.01) * n) for a, n in zip(archs, noise, strict=True)]
    fit = fit_correction(tiny_table, samples)
    assert len(fit.residuals) == 6 and max(abs(r) for r in fit.residuals) < 0.1
    estimate = Predictor(tiny_table, threads=1).predict(archs[2])
    assert estimate.corrected and estimate.low_ms < estimate.ms < estimate.high_ms
    assert estimate.ms == pytest.approx(1.5 * estimate.units_ms + 0.01, rel=0.05)
    again = LatencyTable.model_validate_json(tiny_table.model_dump_json())
    assert again.correction == tiny_table.correction  # saved with the table


def _synthetic_table(space: SearchSpace, archs) -> LatencyTable:
    """A MobileNetV2 table whose entries are made up (no measuring): lookups only."""
    key = current_key("onnxruntime", 2, "fp32")
    entries = {u.key: Entry(ms=1e-3 * (1 + len(u.key) % 7), kind=u.kind, macs=u.macs, bytes=u.bytes)
               for a in archs for u in arch_units(a, space)}
    return LatencyTable(key=key, space=space.name, space_fingerprint=space.fingerprint(),
                        space_definition=space.model_dump(mode="json"), resolutions=list(space.resolutions),
                        widths=list(space.widths), entries=entries, complete=True)


def test_a_prediction_takes_well_under_10_ms():
    space = get_space("mobilenet_v2")
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(50)]
    predictor = Predictor(_synthetic_table(space, archs), threads=2)
    predictor.predict(archs[0])
    seconds = []
    for arch in archs:
        start = time.perf_counter()
        predictor.predict(arch)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds) * 1e3
    print(f"\none MobileNetV2 prediction: {median:.3f} ms median, {max(seconds) * 1e3:.3f} ms max")
    assert median < 10.0
