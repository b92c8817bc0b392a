"""The end of a run: the reference row, and the gated chain that keeps only measured speed-ups.

The gate is replaced by verdicts built per (parent, child), so each scenario is decided by
construction rather than by this machine's timing.
"""

from __future__ import annotations

from typing import Any

import pytest
from optimize_helpers import fake_context, make_row

from edgeopt.errors import EdgeoptError
from edgeopt.optimize import decide
from edgeopt.optimize.choices import Choice
from edgeopt.optimize.decide import gated_chain, reference_row, row_key
from edgeopt.runtime.gate import LatencyGate

FASTER = LatencyGate(parent_ms=1.0, child_ms=0.7, ratio=0.7, low=0.65, high=0.75, confidence=0.94, rounds=5)
SLOWER = LatencyGate(parent_ms=1.0, child_ms=1.2, ratio=1.2, low=1.1, high=1.3, confidence=0.94, rounds=5)
UNCLEAR = LatencyGate(parent_ms=1.0, child_ms=0.98, ratio=0.98, low=0.9, high=1.05, confidence=0.94, rounds=5)

PRUNED = Choice(0.5, "l1")
REFERENCE = make_row(0, Choice(), threads=2, latency_ms=1.0)
BASE_INT8 = make_row(1, Choice(calibration="minmax"), precision="int8", latency_ms=0.6)
PRUNED_FP32 = make_row(2, PRUNED, latency_ms=0.8)
PRUNED_FP32_SLOW = make_row(2, PRUNED, threads=2, latency_ms=0.95)
PRUNED_INT8 = make_row(3, Choice(0.5, "l1", calibration="minmax"), precision="int8", latency_ms=0.4)
ROWS = [REFERENCE, make_row(0, Choice(), latency_ms=1.3), BASE_INT8, PRUNED_FP32, PRUNED_FP32_SLOW, PRUNED_INT8]


def test_gate_verdicts_used_here_are_what_they_claim():
    assert (FASTER.keep, SLOWER.keep, UNCLEAR.keep) == (True, False, False)
    assert (FASTER.verdict, SLOWER.verdict, UNCLEAR.verdict) == ("faster", "slower", "no clear difference")


# --- reference_row ---------------------------------------------------------------------------------


def test_reference_is_the_fastest_fp32_row_of_the_unpruned_baseline():
    rows = [make_row(0, Choice(), latency_ms=2.0),
            make_row(0, Choice(), threads=2, latency_ms=1.5),
            make_row(0, Choice(), runtime="openvino", precision="bf16", latency_ms=0.9),
            make_row(0, Choice(), runtime="openvino", latency_ms=None),  # failed: no latency
            make_row(1, Choice(calibration="minmax"), precision="int8", latency_ms=0.5),
            make_row(2, PRUNED, latency_ms=0.3)]
    chosen = reference_row(rows)
    assert chosen is rows[1]


def test_reference_may_be_in_another_runtime():
    rows = [make_row(0, Choice(), latency_ms=2.0), make_row(0, Choice(), runtime="openvino", latency_ms=1.0)]
    assert reference_row(rows)["runtime"] == "openvino"


def test_no_fp32_baseline_row_is_an_error():
    rows = [make_row(1, Choice(calibration="minmax"), precision="int8", latency_ms=0.5),
            make_row(2, PRUNED, latency_ms=0.3)]
    with pytest.raises(EdgeoptError, match="baseline was not measured in fp32"):
        reference_row(rows)


# --- gated_chain -----------------------------------------------------------------------------------


@pytest.fixture
def gates(monkeypatch: pytest.MonkeyPatch):
    """Set the verdict of each (parent, child) pair; every comparison made is recorded in ``calls``."""

    class Gates:
        def __init__(self) -> None:
            self.verdicts: dict[tuple[Any, Any], LatencyGate] = {}
            self.calls: list[tuple[dict[str, Any], dict[str, Any]]] = []

        def set(self, parent: dict[str, Any], child: dict[str, Any], gate: LatencyGate) -> None:
            self.verdicts[row_key(parent), row_key(child)] = gate

        def __call__(self, parent: dict[str, Any], child: dict[str, Any], context: Any) -> LatencyGate:
            self.calls.append((parent, child))
            return self.verdicts[row_key(parent), row_key(child)]  # an unexpected comparison fails the test

    fake = Gates()
    monkeypatch.setattr(decide, "_gate", fake)
    return fake


def name(row: dict[str, Any]) -> str:
    """How steps name a row (``trial 3: prune 50% (l1) + int8 (minmax) in onnxruntime int8 ×1``)."""
    return f"trial {row['trial']}: {row['pipeline']} in {row['label']}"


def chain(winner: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return gated_chain(winner, REFERENCE, ROWS, fake_context(), lambda _text: None)


def test_winner_equal_to_reference_needs_no_gate(gates):
    kept, steps = chain(REFERENCE)
    assert kept is REFERENCE and steps == [] and gates.calls == []


def test_slower_child_is_rolled_back_to_the_reference(gates):
    gates.set(REFERENCE, BASE_INT8, SLOWER)
    kept, steps = chain(BASE_INT8)
    assert kept is REFERENCE
    assert [s["kept"] for s in steps] == [False]
    assert steps[0]["gate"]["verdict"] == "slower"


def test_no_clear_difference_is_rolled_back_too(gates):
    gates.set(REFERENCE, PRUNED_FP32, UNCLEAR)
    kept, steps = chain(PRUNED_FP32)
    assert kept is REFERENCE and [s["kept"] for s in steps] == [False]


def test_faster_single_step_is_kept_and_measured_again_against_the_reference(gates):
    gates.set(REFERENCE, BASE_INT8, FASTER)
    kept, steps = chain(BASE_INT8)
    assert kept is BASE_INT8
    assert [s["kept"] for s in steps] == [True, True] and steps[0]["gate"]["verdict"] == "faster"
    assert steps[0]["parent"] == name(REFERENCE) and steps[0]["child"] == name(BASE_INT8)
    assert steps[-1].get("final") and steps[-1]["step"] == "result against the baseline"
    assert len(gates.calls) == 2  # the final run gives the answer's figures


def test_pruned_int8_goes_through_the_fastest_pruned_fp32_row_then_is_checked_against_the_reference(gates):
    gates.set(REFERENCE, PRUNED_FP32, FASTER)
    gates.set(PRUNED_FP32, PRUNED_INT8, FASTER)
    gates.set(REFERENCE, PRUNED_INT8, FASTER)
    kept, steps = chain(PRUNED_INT8)
    assert kept is PRUNED_INT8
    assert [(p is REFERENCE, c) for p, c in gates.calls] == [(True, PRUNED_FP32), (False, PRUNED_INT8),
                                                           (True, PRUNED_INT8)]
    assert gates.calls[1][0] is PRUNED_FP32  # the fastest fp32 row of the pruned model, not the ×2 one
    assert [s["kept"] for s in steps] == [True, True, True]
    assert steps[-1]["step"] == "result against the baseline"


def test_pruned_fp32_rolled_back_but_int8_faster_than_the_reference_is_kept(gates):
    gates.set(REFERENCE, PRUNED_FP32, UNCLEAR)
    gates.set(REFERENCE, PRUNED_INT8, FASTER)
    kept, steps = chain(PRUNED_INT8)
    assert kept is PRUNED_INT8
    assert [s["kept"] for s in steps] == [False, True, True]
    assert steps[1]["parent"] == name(REFERENCE)  # gated against the last kept: the reference
    assert steps[2].get("final") and len(gates.calls) == 3


def test_int8_rolled_back_leaves_the_pruned_fp32_if_it_beats_the_reference(gates):
    gates.set(REFERENCE, PRUNED_FP32, FASTER)
    gates.set(PRUNED_FP32, PRUNED_INT8, SLOWER)
    gates.set(REFERENCE, PRUNED_FP32, FASTER)
    kept, steps = chain(PRUNED_INT8)
    assert kept is PRUNED_FP32
    assert [s["kept"] for s in steps] == [True, False, True]
    assert steps[-1]["child"] == name(PRUNED_FP32)


def test_chain_not_faster_than_the_reference_in_the_final_check_returns_the_reference(gates):
    gates.set(REFERENCE, PRUNED_FP32, FASTER)
    gates.set(PRUNED_FP32, PRUNED_INT8, FASTER)
    gates.set(REFERENCE, PRUNED_INT8, UNCLEAR)  # small steps each faster, the whole not measurably
    kept, steps = chain(PRUNED_INT8)
    assert kept is REFERENCE
    assert [s["kept"] for s in steps] == [True, True, False]
    assert steps[-1]["step"] == "result against the baseline" and steps[-1]["gate"]["verdict"] == "no clear difference"


def test_pruned_int8_without_a_measured_fp32_row_is_one_step(gates):
    rows = [REFERENCE, PRUNED_INT8]
    gates.set(REFERENCE, PRUNED_INT8, FASTER)
    kept, steps = gated_chain(PRUNED_INT8, REFERENCE, rows, fake_context(), lambda _text: None)
    assert kept is PRUNED_INT8 and len(steps) == 2 and steps[1].get("final")
    assert steps[0]["step"].startswith("prune 50% (l1, not tuned) + int8 (minmax)")


def test_refinement_is_gated_before_the_final_check(gates):
    fallback = {**PRUNED_INT8, "file": "fallback.onnx", "pipeline": PRUNED_INT8["pipeline"] + ", 2 layers float"}
    gates.set(REFERENCE, PRUNED_INT8, FASTER)
    gates.set(REFERENCE, fallback, SLOWER)  # the refined file is what the final run compares

    def refine(kept: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
        assert kept is PRUNED_INT8
        return fallback

    kept, steps = gated_chain(PRUNED_INT8, REFERENCE, [REFERENCE, PRUNED_INT8], fake_context(),
                              lambda _text: None, refine=refine)
    assert kept is REFERENCE  # not measurably faster than the baseline in the final run: rolled back
    assert steps[-1]["child"] == name(fallback) and not steps[-1]["kept"]
