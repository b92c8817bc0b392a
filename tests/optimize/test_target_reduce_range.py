"""The target, not the build host, decides 7-bit int8 weights (ONNX Runtime's ``reduce_range``).

``ptq`` is replaced by a recorder, so the test checks what a Variant's int8 file request asks for
without quantizing anything, and whatever CPU runs the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeopt.devices.target import Target, resolve_target
from edgeopt.models import create_model
from edgeopt.optimize.config import OptimizeConfig
from edgeopt.optimize.variants import RunContext, Variant

X86_WITHOUT_VNNI = Target("old-x86", "An x86 without VNNI", False, "x86_64", 4, int8_dot_product=False, bf16=False)
X86_WITH_VNNI = Target("new-x86", "An x86 with VNNI", False, "x86_64", 4, int8_dot_product=True, bf16=False)


@pytest.fixture
def ptq_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import edgeopt.quantize.api

    calls: list[dict[str, Any]] = []

    def record(model: Any, data: Any, **options: Any) -> None:
        calls.append(options)

    monkeypatch.setattr(edgeopt.quantize.api, "ptq", record)
    return calls


def int8_request(target: Target, tmp_path: Path, digits: Any, runtime: str = "onnxruntime") -> Path:
    context = RunContext(OptimizeConfig(model="unused.pt", data="digits"), digits, None, target, tmp_path)
    variant = Variant("baseline", create_model("simple_cnn", num_classes=10, in_chans=1), None, tmp_path)
    return variant.file("int8", runtime, context, "entropy")


@pytest.mark.parametrize("target, expected", [
    (X86_WITHOUT_VNNI, True),
    (X86_WITH_VNNI, False),
    (resolve_target("raspberry-pi-4"), False),
], ids=["x86-without-vnni", "x86-with-vnni", "raspberry-pi-4"])
def test_int8_onnx_file_uses_the_targets_reduce_range(target, expected, ptq_calls, tmp_path, digits):
    assert target.reduce_range is expected
    path = int8_request(target, tmp_path, digits)
    assert len(ptq_calls) == 1
    call = ptq_calls[0]
    assert call["reduce_range"] is expected
    assert (call["backend"], call["calibration"], Path(call["path"])) == ("onnxruntime", "entropy", path)
    assert path.name == "model.int8-entropy.onnx"


def test_openvino_reads_the_same_int8_file_made_with_the_targets_reduce_range(ptq_calls, tmp_path, digits):
    path = int8_request(X86_WITHOUT_VNNI, tmp_path, digits, runtime="openvino")
    assert path.name == "model.int8-entropy.onnx" and ptq_calls[0]["reduce_range"] is True


def test_same_request_differs_only_by_target(ptq_calls, tmp_path, digits):
    int8_request(X86_WITHOUT_VNNI, tmp_path / "a", digits)
    int8_request(resolve_target("raspberry-pi-4"), tmp_path / "b", digits)
    first, second = ptq_calls
    assert (first["reduce_range"], second["reduce_range"]) == (True, False)
    assert {k: v for k, v in first.items() if k not in ("reduce_range", "path", "example_input")} == \
        {k: v for k, v in second.items() if k not in ("reduce_range", "path", "example_input")}


def test_reduce_range_reason_names_the_target_arch():
    assert "without VNNI" in X86_WITHOUT_VNNI.reduce_range_reason and "7 bits" in X86_WITHOUT_VNNI.reduce_range_reason
    pi = resolve_target("raspberry-pi-4")
    assert pi.to_dict()["reduce_range"] is False and "8 bits" in pi.to_dict()["reduce_range_reason"]
