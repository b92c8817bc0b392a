import copy
import re

import pytest
from report_fixtures import QUANT_NAME, make_synthetic_data, write_resource_chart

import edgeopt.report.html as report_html
from edgeopt.errors import EdgeoptError
from edgeopt.report import write_report
from edgeopt.report.markup import esc, tag
from edgeopt.utils import write_json_atomic


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    """The synthetic run's report, rendered once for the read-only checks (plots take seconds)."""
    run = tmp_path_factory.mktemp("rendered")
    write_json_atomic(run / "results.json", make_synthetic_data())
    write_resource_chart(run / "devices" / "resources.png")
    return write_report(run).read_text()


@pytest.fixture
def no_plots(monkeypatch):
    """Skip the plots where a test is about the page, not the figures."""
    monkeypatch.setattr(report_html, "make_plots", lambda results, out_dir: [])


def test_report_is_one_self_contained_page(page):
    # Every image is inline; nothing is fetched: no scripts, links, external fonts or URLs.
    srcs = re.findall(r'<img src="([^"]*)"', page)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"(src|href)=\"(?!data:)", page)


def test_names_are_escaped(page):
    assert QUANT_NAME not in page
    assert "int8 &lt;qdq&gt; &amp; &quot;calib&quot;" in page


def test_script_in_a_name_cannot_run(synthetic_run, synthetic_data, no_plots):
    data = copy.deepcopy(synthetic_data)
    data["candidates"][1]["name"] = "<script>alert(1)</script>"
    data["dataset"]["name"] = "<img src=x onerror=alert(2)>"
    write_json_atomic(synthetic_run / "results.json", data)
    page = write_report(synthetic_run).read_text()
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_summary_shows_figures_and_deltas(page):
    for text in ("98.71%", "3.16 MiB", "903.32 KiB", "0.43×", "-0.83 pt", "+0.00 pt", "not measured",
                 "onnxruntime, 2 threads, batch 1"):
        assert text in page, text


def test_estimates_are_labelled(page):
    fit = page[page.index("<h2>Device fit</h2>"):page.index("<h2>Edge vs cloud")]
    assert 'class="estimate"' in fit and "rpi4 at int8" in fit and "767.58 KiB" in fit
    artifacts = page[page.index("<h2>Artifacts</h2>"):]
    # Each of the five artifacts carries two estimate labels: its device latency and the ratio.
    assert artifacts.count('class="estimate"') == 10
    assert "Estimate ÷ measured latency on this host: 1.37×" in artifacts


def test_run_without_target_measurements_or_chart_says_so(synthetic_run, synthetic_data):
    data = copy.deepcopy(synthetic_data)
    data.update(target=None, device_fit=None, resource_chart=None)
    for cand in data["candidates"]:
        cand["artifacts"] = []
    write_json_atomic(synthetic_run / "results.json", data)
    page = write_report(synthetic_run).read_text()
    assert "no target device was set" in page
    assert "Skipped: no artifact of this run has a latency measurement yet." in page
    assert "No resource chart in this run." in page
    assert "No artifacts were exported in this run yet" in page
    assert page.count("<img ") == 2  # size plot and layer plot only


def test_missing_resource_chart_file_is_reported_not_fatal(synthetic_run, no_plots):
    (synthetic_run / "devices" / "resources.png").unlink()
    page = write_report(synthetic_run).read_text()
    assert "devices/resources.png is missing" in page


def test_custom_output_path(synthetic_run, tmp_path, no_plots):
    out = write_report(synthetic_run, out=tmp_path / "elsewhere" / "r.html")
    assert out.is_file() and not (synthetic_run / "report.html").exists()
    assert write_report(synthetic_run) == synthetic_run / "report.html"


def test_missing_results_is_a_user_error(tmp_path):
    with pytest.raises(EdgeoptError, match="results.json is missing"):
        write_report(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_failed_render_keeps_the_old_report_and_leaves_no_temp(synthetic_run, monkeypatch, no_plots):
    path = write_report(synthetic_run)
    before = path.read_text()

    def boom(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(report_html, "render_html", boom)
    with pytest.raises(RuntimeError):
        write_report(synthetic_run)
    assert path.read_text() == before
    leftovers = [p for p in synthetic_run.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_markup_helpers_escape_once():
    cell = tag("td", "a < b", class_='x"y')
    assert cell == '<td class="x&quot;y">a &lt; b</td>'
    assert esc(cell) == cell  # already markup: not escaped twice
    assert tag("p", cell) == f"<p>{cell}</p>"
    assert cell + "<i>" == '<td class="x&quot;y">a &lt; b</td>&lt;i&gt;'


def test_renders_what_edgeopt_devices_writes(synthetic_run, synthetic_data, no_plots):
    """The fit report and roofline estimate of edgeopt.devices go into results.json as they are."""
    devices = pytest.importorskip("edgeopt.devices")
    import edgeopt

    model = edgeopt.create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.5, stem_stride=1)
    cost = edgeopt.profile(model, input_size=(1, 1, 28, 28))
    mcu = devices.get_device("stm32f407")
    data = copy.deepcopy(synthetic_data)
    data["device_fit"] = devices.check_fit(cost, mcu, "int8").to_dict()
    estimate = devices.estimate_latency(cost, devices.get_device("raspberry-pi-4"), "int8").to_dict()
    data["candidates"][0]["artifacts"][0]["estimate"] = estimate
    write_json_atomic(synthetic_run / "results.json", data)
    page = write_report(synthetic_run).read_text()
    fit = page[page.index("<h2>Device fit</h2>"):page.index("<h2>Edge vs cloud")]
    assert "stm32f407 at int8" in fit and "does not fit" in fit and "FAIL" in fit
    assert "Estimated latency on raspberry-pi-4 (int8): " in page
