"""Open rendered reports in headless Chromium: images load, no console errors, key numbers show.

Screenshots are kept for people to look at, outside pytest's temporary folders:
``build/test-artifacts/report.png`` (synthetic run) and ``build/test-artifacts/report_demo.png``
(a real, tiny demo run). Chromium comes from ``scripts/install_chromium.sh``; without it the tests
fail when ``CI`` is set and skip otherwise.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from chromium_cdp import CHROMIUM, Chromium
from report_fixtures import QUANT_NAME

import edgeopt.demo
from edgeopt.report import load_results, write_report
from edgeopt.report.units import fmt_pct
from edgeopt.utils.units import format_bytes

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
PNG = b"\x89PNG\r\n\x1a\n"
IMAGES = "Array.from(document.images).map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0}))"


@pytest.fixture
def browser(tmp_path):
    """A fresh headless Chromium with its own profile directory."""
    if not CHROMIUM.is_file():
        reason = f"{CHROMIUM} is missing: run `bash scripts/install_chromium.sh` (as root)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    with Chromium(tmp_path / "chromium-profile") as chromium:
        yield chromium


def _check_page(browser: Chromium, html: Path, expected_images: int) -> str:
    """Open ``html``; assert it loads cleanly and offline; return its visible text."""
    browser.open(html.as_uri())
    images = browser.evaluate(IMAGES)
    assert len(images) == expected_images, images
    assert all(img["ok"] for img in images), images
    assert browser.console_errors() == []
    foreign = [u[:80] for u in browser.requested_urls() if not u.startswith(("file:", "data:"))]
    assert foreign == [], "the report must not load anything from the network"
    text = browser.evaluate("document.body.innerText")
    assert "<dt>" not in text and "&lt;" not in text  # no markup shown as text (double escaping)
    return text


def _check_screenshot(browser: Chromium, name: str) -> Path:
    path = browser.screenshot(ARTIFACTS / name)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 50_000
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk follows the signature
    assert width == 1280 and height > 2000
    return path


def test_synthetic_report_in_chromium(browser, synthetic_run):
    html = write_report(synthetic_run)
    text = _check_page(browser, html, expected_images=4)  # three plots and the resource chart
    for figure in ("98.71%", "3.16 MiB", "255.86 KiB", "0.27×", "-0.47 pt", QUANT_NAME):
        assert figure in text, figure
    assert "ESTIMATE" in text.upper() and "rpi4 at int8" in text
    # Wide tables scroll inside their box rather than widen the page.
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    _check_screenshot(browser, "report.png")


@pytest.mark.slow
def test_real_tiny_demo_report_in_chromium(browser, tmp_path):
    # The demo's own code path (a recipe run), with the bundled tiny recipe: a small CNN on the
    # 8×8 digits, pruned, fused, exported and benched, so it runs in seconds.
    run = tmp_path / "demo"
    edgeopt.demo.run_demo(run, recipe=edgeopt.demo.bundled_recipe("tiny.yaml"))
    results = load_results(run)
    baseline = results.candidates[0]
    text = _check_page(browser, run / "report.html", expected_images=4)
    artifact = baseline.artifacts[0]
    assert fmt_pct(baseline.metrics.test_accuracy) in text
    assert format_bytes(artifact.size_bytes) in text  # the exported ONNX file, measured
    assert fmt_pct(artifact.measurements[0].accuracy) in text
    assert "raspberry-pi-4" in text
    assert "estimate" in text.lower()
    _check_screenshot(browser, "report_demo.png")
