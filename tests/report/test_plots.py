import copy

import pytest
from report_fixtures import make_synthetic_data

from edgeopt.report import RunResults, make_plots
from edgeopt.report.layer_plot import layer_plot
from edgeopt.report.plots import accuracy_vs_latency
from edgeopt.report.units import fmt_ms, fmt_points, fmt_ratio, tick_bytes, tick_count
from edgeopt.utils.units import format_bytes

PNG = b"\x89PNG\r\n\x1a\n"
QUANT_IN_NOTE = 'no per-layer profile for int8 <qdq> & "calib"'


def _results(data: dict) -> RunResults:
    return RunResults.model_validate(copy.deepcopy(data))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The synthetic run's plots, rendered once (each takes about a second)."""
    out = tmp_path_factory.mktemp("plots")
    return out, make_plots(RunResults.model_validate(make_synthetic_data()), out)


def test_every_plot_is_a_png_and_nothing_else_is_left(rendered):
    tmp_path, plots = rendered
    assert [p.path.name for p in plots] == ["accuracy_vs_size.png", "accuracy_vs_latency.png", "layers.png"]
    for plot in plots:
        data = plot.path.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accuracy_vs_latency.png", "accuracy_vs_size.png",
                                                          "layers.png"]


def test_latency_plot_is_skipped_with_a_reason_when_nothing_was_measured(tmp_path, synthetic_data):
    data = copy.deepcopy(synthetic_data)
    for cand in data["candidates"]:
        cand["artifacts"] = []
    latency = accuracy_vs_latency(_results(data), tmp_path / "accuracy_vs_latency.png")
    assert latency.path is None and "no artifact" in latency.note
    assert not (tmp_path / "accuracy_vs_latency.png").exists()


def test_latency_plot_names_unmeasured_candidates(rendered):
    latency = rendered[1][1]
    assert "Not measured in this configuration: search-7." in latency.note


def test_layer_plot_keeps_the_heaviest_layers_and_says_so(tmp_path, synthetic_data):
    plot = layer_plot(_results(synthetic_data), tmp_path / "layers.png", max_layers=5)
    assert plot.path.is_file()
    assert "Only the 5 heaviest of 28 layers by MACs are shown." in plot.note


def test_layer_plot_skipped_without_a_profile(tmp_path, synthetic_data):
    data = copy.deepcopy(synthetic_data)
    data["candidates"][-1]["profile"] = None
    plot = layer_plot(_results(data), tmp_path / "layers.png")
    assert plot.path is None and QUANT_IN_NOTE in plot.note


def test_number_formats():
    # binary units, as the CLI prints them
    assert format_bytes(3_293_736) == "3.14 MiB" and format_bytes(512) == "512 B" and format_bytes(None) == "—"
    assert tick_bytes(1e6) == "977 KiB" and tick_bytes(2**20) == "1 MiB" and tick_count(1e5) == "100K"
    assert fmt_ms(0.0731) == "0.0731 ms" and fmt_ms(231.4) == "231 ms"
    assert fmt_ratio(0.2531) == "0.25×" and fmt_ratio(0.0312) == "0.031×"
    assert fmt_points(-0.4199) == "-0.42 pt" and fmt_points(1.1) == "+1.10 pt"
