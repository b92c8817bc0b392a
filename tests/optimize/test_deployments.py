"""Which deployments a trial measures, and how far a measured row is over each bound."""

from __future__ import annotations

from collections import Counter

import pytest
from optimize_helpers import fake_context

from edgeopt.optimize.choices import Choice
from edgeopt.optimize.deployments import Deployment, deployments_for
from edgeopt.optimize.trial import CONSTRAINT_NAMES, Reference, violations

ALL = ("onnxruntime", "openvino", "executorch")


def kinds(deployments: list[Deployment]) -> Counter[tuple[str, str]]:
    return Counter((d.runtime, d.precision) for d in deployments)


def test_float_choice_gets_bf16_rows_only_in_openvino_and_only_with_bf16():
    with_bf16 = deployments_for(Choice(), ALL, bf16=True, threads=(1,))
    assert kinds(with_bf16) == Counter({("onnxruntime", "fp32"): 1, ("openvino", "fp32"): 1,
                                        ("openvino", "bf16"): 1, ("executorch", "fp32"): 1})
    without = deployments_for(Choice(), ALL, bf16=False, threads=(1,))
    assert all(d.precision == "fp32" for d in without) and len(without) == 3
    assert not [d for d in deployments_for(Choice(), ("onnxruntime", "executorch"), bf16=True, threads=(1,))
                if d.precision == "bf16"]


def test_bf16_row_runs_the_fp32_file_in_bf16():
    row = next(d for d in deployments_for(Choice(), ("openvino",), bf16=True, threads=(1,)) if d.precision == "bf16")
    assert (row.file_precision, row.execution_precision) == ("fp32", "bf16")


def test_calibrated_choice_adds_int8_rows_with_executorch_only_for_the_first_calibration():
    floats = {("onnxruntime", "fp32"): 1, ("openvino", "fp32"): 1, ("openvino", "bf16"): 1, ("executorch", "fp32"): 1}
    first = deployments_for(Choice(calibration="minmax"), ALL, bf16=True, threads=(1,), first_calibration="minmax")
    assert kinds(first) == Counter({**floats, ("onnxruntime", "int8"): 1, ("openvino", "int8"): 1,
                                    ("executorch", "int8"): 1})
    assert {d.runtime: d.calibration for d in first if d.precision == "int8"} == {
        "onnxruntime": "minmax", "openvino": "minmax", "executorch": "pt2e"}
    other = deployments_for(Choice(calibration="entropy"), ALL, bf16=True, threads=(1,), first_calibration="minmax")
    assert kinds(other) == Counter({**floats, ("onnxruntime", "int8"): 1, ("openvino", "int8"): 1})
    assert {d.calibration for d in other if d.precision == "int8"} == {"entropy"}
    assert all(d.calibration is None for d in other if d.precision != "int8")


def test_every_deployment_is_tried_at_every_thread_count():
    threads = (1, 2, 4)
    # float only: ORT, OV fp32, OV bf16, ET = 4; + int8 with the first calibration: ORT, OV, ET = 7;
    # without bf16 and another calibration: 3 float + ORT and OV int8 = 5
    for choice, bf16, per_thread in ((Choice(), True, 4), (Choice(0.5, "l1", calibration="minmax"), True, 7),
                                     (Choice(calibration="entropy"), False, 5)):
        out = deployments_for(choice, ALL, bf16=bf16, threads=threads, first_calibration="minmax")
        assert len(out) == per_thread * len(threads)
        assert len({d.label for d in out}) == len(out)  # no deployment twice
        for kind in kinds(out):
            assert sorted(d.threads for d in out if (d.runtime, d.precision) == kind) == list(threads)


REF = Reference(accuracy_val=82.0, accuracy_test=80.0)


def row(**fields: object) -> dict[str, object]:
    return {"latency_ms": 2.0, "accuracy_val": 82.0, "accuracy_test": 80.0, "size_bytes": 1000, **fields}


def test_unmeasured_row_is_infinitely_over_every_bound():
    assert violations(row(latency_ms=None), REF, fake_context()) == [float("inf")] * len(CONSTRAINT_NAMES)


@pytest.mark.parametrize("accuracy, expected", [(80.0, -0.5), (79.6, -0.1), (79.4, 0.1), (82.0, -2.5)])
def test_accuracy_drop_against_max_drop_on_the_test_split(accuracy, expected):
    drop, _, _ = violations(row(accuracy_test=accuracy), REF, fake_context(max_drop=0.5))
    assert drop == pytest.approx(expected)
    # the validation figure does not decide (it chose the baseline's epoch: biased upwards)
    assert violations(row(accuracy_test=accuracy, accuracy_val=0.0), REF, fake_context(max_drop=0.5))[0] \
        == pytest.approx(expected)


def test_size_bound():
    assert violations(row(size_bytes=1200), REF, fake_context(size_budget_bytes=1000))[1] == pytest.approx(200)
    assert violations(row(size_bytes=900), REF, fake_context(size_budget_bytes=1000))[1] == pytest.approx(-100)
    assert violations(row(size_bytes=10**9), REF, fake_context())[1] < 0  # no budget: always within


def test_latency_bound():
    assert violations(row(latency_ms=2.5), REF, fake_context(latency_budget_ms=2.0))[2] == pytest.approx(0.5)
    assert violations(row(latency_ms=1.5), REF, fake_context(latency_budget_ms=2.0))[2] == pytest.approx(-0.5)
    assert violations(row(latency_ms=1e6), REF, fake_context())[2] < 0


def test_only_the_bound_exceeded_is_positive():
    context = fake_context(max_drop=1.0, size_budget_bytes=5000, latency_budget_ms=1.0)
    over = [v > 0 for v in violations(row(latency_ms=3.0, accuracy_test=79.5, size_bytes=100), REF, context)]
    assert over == [False, False, True]
