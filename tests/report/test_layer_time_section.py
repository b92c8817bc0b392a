"""The report's per-layer time section: shown for artifacts that carry a profile, escaped, robust to junk."""

from __future__ import annotations

import copy
from typing import Any

from edgeopt.report import validate_results
from edgeopt.report.layer_time import layer_time_section, profile_of
from edgeopt.runtime.layer_profile import KernelTime, LayerProfile, LayerTime


def _profile(precision: str, scale: float) -> LayerProfile:
    layers = [
        LayerTime("features.0.0", ("features.0.0", "features.0.1", "features.0.2"), ("Conv2d", "BatchNorm2d", "ReLU6"),
                  0.40 * scale, (0.39 * scale, 0.42 * scale), ("hardtanh_nchwc",), macs=1_000_000, bytes=90_000,
                  roofline_ms=0.01),
        LayerTime("features.1.<dw>", ("features.1.<dw>",), ("Conv2d(dw)",), 0.10, (0.1, 0.1), ("dw_kernel",),
                  macs=50_000, bytes=20_000, roofline_ms=0.002),
    ]
    kernels = [KernelTime("hardtanh_nchwc", "Conv", "compute", 0.40 * scale, "features.0.0", "features.0.0")]
    return LayerProfile(artifact="m.onnx", format="onnx", runtime="onnxruntime", precision=precision, threads=2,
                        traced=True, layers=layers, kernels=kernels, whole_model_ms=0.55 * scale,
                        mapping="weights+tails")


def _results(synthetic_data: dict[str, Any], profiles: list[LayerProfile]) -> Any:
    data = copy.deepcopy(synthetic_data)
    artifacts = data["candidates"][0]["artifacts"]
    for index, prof in enumerate(profiles):
        art = copy.deepcopy(artifacts[0])
        art["precision"] = prof.precision
        art["path"] = f"artifacts/{index}.onnx"
        art["layer_profile"] = prof.to_dict()
        artifacts.append(art)
    return validate_results(data)


def test_no_profile_no_section(synthetic_data):
    assert layer_time_section(validate_results(copy.deepcopy(synthetic_data))) == ""


def test_section_lists_layers_slowest_first_and_escapes(synthetic_data):
    html = layer_time_section(_results(synthetic_data, [_profile("fp32", 1.0)]))
    assert "Where the time goes" in html
    assert html.index("features.0.0") < html.index("features.1.&lt;dw&gt;")  # slowest first, escaped
    assert "<dw>" not in html
    assert "estimate" in html  # the roofline column is labelled an estimate
    assert "91%" in html  # 0.5 ms of layers out of 0.55 ms measured whole


def test_int8_slower_layers_listed(synthetic_data):
    html = layer_time_section(_results(synthetic_data, [_profile("fp32", 1.0), _profile("int8", 1.5)]))
    assert "layers slower in onnx int8 than in fp32" in html
    assert "1.50×" in html


def test_junk_profile_is_ignored(synthetic_data):
    data = copy.deepcopy(synthetic_data)
    data["candidates"][0]["artifacts"][0]["layer_profile"] = {"layers": "not a list"}
    results = validate_results(data)
    assert profile_of(results.candidates[0].artifacts[0]) is None
    assert layer_time_section(results) == ""


def test_untraced_profile_shows_whole_model_only(synthetic_data):
    prof = LayerProfile(artifact="m.pte", format="executorch", runtime="executorch", precision="fp32", threads=2,
                        traced=False, whole_model_ms=1.25, note="no per-layer figures: this build has no event tracer")
    html = layer_time_section(_results(synthetic_data, [prof]))
    assert "1.25 ms" in html and "no event tracer" in html
