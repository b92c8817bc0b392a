import time

from edgeopt.analysis.results import LayerCost, ModelProfile
from edgeopt.devices import builtin_devices, estimate_latency, measure_host, plot_resources

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_measure_host_is_positive_fast_and_sourced(tmp_path):
    start = time.perf_counter()
    host = measure_host(tmp_path)
    assert time.perf_counter() - start < 5  # ~0.2 s here; generous for slow phases
    assert host.name == "host" and host.category == "host"
    assert host.peak_gops.fp32 > 0 and host.memory_bandwidth_gbs > 0
    assert host.ram_bytes > 2**20 and host.storage_bytes > 0
    assert all("measured on this host" in s for s in host.sources.values())
    layer = LayerCost("fc", "Linear", (1, 10), 100, 1000, 40, input_bytes=40)
    p = ModelProfile(1000, 100, 400, 0, 80, "fc", (1, 10), [layer])
    assert estimate_latency(p, host).total_ms > 0


def test_chart_is_a_png(tmp_path):
    out = plot_resources(builtin_devices(), tmp_path / "sub" / "devices.png", precision="int8")
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000
    assert [p.name for p in out.parent.iterdir()] == ["devices.png"]  # no temp file left


def test_chart_with_host_and_fp32(tmp_path):
    out = plot_resources([*builtin_devices()[:3], measure_host(tmp_path)], tmp_path / "c.png", "fp32")
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_chart_panel_with_no_figures(tmp_path):
    coral = [d for d in builtin_devices() if d.name == "coral-usb-accelerator"]
    assert plot_resources(coral, tmp_path / "x.png", "fp32").read_bytes().startswith(PNG_SIGNATURE)
