import copy

import pytest

from edgeopt.report import RunResults, pareto_front, summary_rows
from edgeopt.report.summary import Config, headline_config, headline_size, size_ratio


def test_pareto_front_on_hand_made_points():
    points = [(10, 0.90), (5, 0.80), (7, 0.70), (20, 0.95), (12, 0.90), (5, 0.75)]
    # (7, .70) loses to (5, .80); (12, .90) to (10, .90); (5, .75) to (5, .80).
    assert pareto_front(points) == [1, 0, 3]


def test_pareto_front_edge_cases():
    assert pareto_front([]) == []
    assert pareto_front([(3, 0.5)]) == [0]
    assert pareto_front([(3, 0.5), (3, 0.5)]) == [0, 1]  # equal points: neither beats the other
    assert pareto_front([(1, 0.1), (2, 0.2), (3, 0.3)]) == [0, 1, 2]  # every step buys accuracy


@pytest.fixture
def results(synthetic_data) -> RunResults:
    return RunResults.model_validate(copy.deepcopy(synthetic_data))


def test_deltas_against_the_baseline(results):
    rows = {r.candidate.name: r for r in summary_rows(results)}
    base, pruned = rows["baseline"], rows["pruned-50"]
    assert base.size_ratio == 1.0 and base.latency_ratio == 1.0 and base.accuracy_delta_points == 0.0
    assert pruned.size_bytes == 925_000 and pruned.size_source == "artifact"
    assert pruned.size_ratio == pytest.approx(925_000 / 3_310_000)
    assert pruned.latency_ratio == pytest.approx(0.83 / 1.92)  # onnxruntime is the shared configuration
    assert pruned.accuracy_delta_points == pytest.approx((0.9788 - 0.9871) * 100)


def test_unexported_candidate_is_compared_by_checkpoint_and_has_no_latency(results):
    row = next(r for r in summary_rows(results) if r.candidate.name == "search-7")
    assert (row.size_bytes, row.size_source) == (1_004_000, "checkpoint")
    assert row.ratio_source == "checkpoint"  # never an exported file against a checkpoint
    assert row.size_ratio == pytest.approx(1_004_000 / 3_395_397)
    assert row.timing is None and row.latency_ratio is None


def test_headline_config_is_the_most_shared_and_picks_the_fastest_artifact(results):
    assert headline_config(results) == Config("onnxruntime", 2, 1)
    cand = results.candidates[1]
    original = cand.artifacts[0]
    slow = original.measurements[0].model_copy(update={"latency_ms_median": 9.0})
    slower = original.model_copy(update={"path": "slow.onnx", "measurements": (slow, *original.measurements[1:])})
    cand.artifacts.insert(0, slower)
    row = summary_rows(results)[1]
    assert row.timing.artifact == "artifacts/fp32.onnx" and row.timing.measurement.latency_ms_median == 1.61


def test_sizes_fall_back_to_param_bytes(results):
    cand = results.candidates[0].model_copy(deep=True)
    cand.artifacts, cand.metrics.checkpoint_bytes = [], None
    assert headline_size(cand) == (cand.metrics.param_bytes, "params")
    ratio, source = size_ratio(results.candidates[0], cand)
    assert (ratio, source) == (1.0, "params")


def test_no_measurements_means_no_headline_config(results):
    for cand in results.candidates:
        cand.artifacts = []
    assert headline_config(results) is None
    assert all(r.latency_ratio is None for r in summary_rows(results))
