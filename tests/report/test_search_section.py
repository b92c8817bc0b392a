"""The architecture-search section, from a hand-written front.json (no search is run)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from edgeopt.cli import app
from edgeopt.report import write_report

ARCH = json.dumps({"space": "tiny", "width": 0.5, "resolution": 16, "stages": [[{"kernel": 3}], [{}, {}]]})
COST = {"macs": 123456, "params": 2048, "weight_bytes_int8": 3072, "peak_sram_int8": 5120}
FINALIST = {"number": 3, "arch": ARCH, "label": "w0.5 r16 d[1,2]", "search_accuracy": 91.5, "search_latency": 0.12,
            "cost": COST, "checkpoint": "finalists/trial-3/model.pt", "meets_bounds": True, "constraints": [],
            "fp32": {"path": "a.onnx", "latency_ms": 0.25, "latency_ms_spread": [0.2, 0.3], "accuracy": 90.25,
                     "size_bytes": 9000},
            "int8": {"path": "a.int8.onnx", "latency_ms": 0.125, "latency_ms_spread": [0.1, 0.15], "accuracy": 89.75,
                     "size_bytes": 4096}}
FRONT = {"run_dir": "x", "study": "search", "storage": "sqlite:///x", "trials_here": 5, "trials_total": 5,
         "front": [{"number": 3, "arch": ARCH, "accuracy": 91.5, "latency": 0.12, "latency_unit": "MMAC",
                    "cost": COST, "constraints": [], "feasible": True}],
         "hypervolume": 12.345, "finalists": [FINALIST], "winner": FINALIST, "interrupted": False,
         "all_trials": [{"number": i, "accuracy": 50.0 + i, "latency": 0.1 + i / 10, "feasible": i != 4}
                        for i in range(5)]}


def test_a_search_run_directory_gets_its_own_page(tmp_path: Path):
    (tmp_path / "front.json").write_text(json.dumps(FRONT))
    page = write_report(tmp_path).read_text()
    assert "Architecture search" in page and "12.35" in page and "data:image/png;base64," in page
    assert "w0.5 r16 d[1,2]" in page and "91.50%" in page and "89.75%" in page and "0.125 ms" in page
    assert "5.00 KiB" in page and "4.00 KiB" in page and "winner" in page and "MMAC" in page
    assert (tmp_path / "plots" / "search-0.png").is_file()


def test_the_cli_renders_a_search_run_directory(tmp_path: Path):
    (tmp_path / "front.json").write_text(json.dumps({**FRONT, "finalists": [], "winner": None, "all_trials": []}))
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert "No winner" in page and "Finalists" not in page and "w0.5 r16 d[1,2]" in page


def test_baselines_and_the_memory_plot_of_a_bounded_search(tmp_path: Path):
    baseline = {"source": "runs/mbv1/model.pt", "label": "mbv1-0.25", "cost": {**COST, "peak_sram_int8": 6272},
                "meets_bounds": False, "fp32": {**FINALIST["fp32"], "accuracy": 88.5},
                "int8": {**FINALIST["int8"], "accuracy": 87.25, "latency_ms": 0.375}}
    bounded_front = [{**FRONT["front"][0], "constraints": [-0.5, -0.2]}]
    trials = [{**t, "peak_sram_int8": 1024 * (i + 1), "weight_bytes_int8": 2048}
              for i, t in enumerate(FRONT["all_trials"])]
    (tmp_path / "front.json").write_text(json.dumps({**FRONT, "front": bounded_front, "all_trials": trials,
                                                     "baselines": [baseline]}))
    page = write_report(tmp_path).read_text()
    assert "Baselines" in page and "mbv1-0.25" in page and "87.25%" in page and "0.375 ms" in page
    assert "6.12 KiB" in page and "missed" in page
    assert (tmp_path / "plots" / "search-0-memory.png").is_file()
