"""Building a table: an interrupted build resumes where it stopped; ordered traces are mapped even
where XNNPACK runs a depthwise layer with its general convolution kernel."""

from __future__ import annotations

import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.latency import LatencyTable, build as build_module, build_table
from edgeopt.latency.probes import remap_ordered, unit_times
from edgeopt.runtime.layer_map import LayerRow
from edgeopt.runtime.layer_profile import KernelTime, LayerProfile


def test_an_interrupted_build_resumes_where_it_stopped(tiny_space, fast, tmp_path, monkeypatch):
    two_widths = tiny_space.model_copy(update={"name": "tiny2", "widths": (0.5, 1.0)})
    calls = {"measure": 0, "export": 0}
    real_measure, real_export = build_module.measure_probe, build_module.make_probe_file
    stop_at = {"measure": 3}  # two probes, two passes: stop before the second pass's first probe

    def measure(*args, **kwargs):
        calls["measure"] += 1
        if calls["measure"] == stop_at["measure"]:
            raise KeyboardInterrupt  # as Ctrl-C (or a kill: the file on disk is the same)
        return real_measure(*args, **kwargs)

    def export(*args, **kwargs):
        calls["export"] += 1
        return real_export(*args, **kwargs)

    monkeypatch.setattr(build_module, "measure_probe", measure)
    monkeypatch.setattr(build_module, "make_probe_file", export)
    path = tmp_path / "table.json"
    options = {"runtime": "onnxruntime", "threads": 1, "precision": "fp32", "path": path, **fast}
    with pytest.raises(KeyboardInterrupt):
        build_table(two_widths, **options)
    partial = LatencyTable.load(path)  # what was saved is a whole, valid table
    assert not partial.complete and partial.passes_done() == 1 and partial.entries
    first_pass = {pid: record.passes[0] for pid, record in partial.probes.items()}
    assert calls == {"measure": 3, "export": 2}

    stop_at["measure"] = 0
    table = build_table(two_widths, **options)
    assert calls == {"measure": 5, "export": 2}  # only the missing pass measured; probe files reused
    assert table.complete and table.passes_done() == 2
    assert {pid: record.passes[0] for pid, record in table.probes.items()} == first_pass
    assert all(len(e.passes) == 2 and e.ms == min(e.passes) for e in table.entries.values() if not e.derived)
    assert not path.with_suffix(".probes").exists()  # the probe files go once the table is complete


def test_a_table_built_in_two_calls_lists_the_blocks_of_both(tiny_space, fast, tmp_path):
    two_widths = tiny_space.model_copy(update={"name": "tiny2", "widths": (0.5, 1.0)})
    options = {"runtime": "onnxruntime", "threads": 1, "precision": "fp32", "path": tmp_path / "t.json", **fast}
    build_table(two_widths, widths=[0.5], **options)
    table = build_table(two_widths, widths=[1.0], **options)  # resumed into the same file
    assert sorted(table.probes) == ["r16-w0.5", "r16-w1"]
    assert {label.split()[1] for label in table.blocks} == {"w0.5", "w1"}


def test_a_table_of_other_conditions_is_not_resumed(tiny_space, fast, tiny_table_path):
    table = LatencyTable.load(tiny_table_path)
    with pytest.raises(EdgeoptError, match="measured under other conditions"):
        build_table(tiny_space, runtime="onnxruntime", threads=2, precision="fp32", path=tiny_table_path, **fast)
    other = tiny_space.model_copy(update={"kernels": (3,)})
    with pytest.raises(EdgeoptError, match="another definition of space"):
        build_table(other, runtime="onnxruntime", threads=1, precision="fp32", path=tiny_table_path, **fast)
    assert LatencyTable.load(tiny_table_path) == table  # untouched


def _profile(kernels: list[tuple[str, str, float]], note: str) -> LayerProfile:
    return LayerProfile(artifact="p.pte", format="executorch", runtime="executorch", precision="fp32", threads=1,
                        traced=True, kernels=[KernelTime(n, op, "compute", ms, n, n) for n, op, ms in kernels],
                        mapping="kernels", note=note)


ROWS = [LayerRow("a", "Conv2d", True, False), LayerRow("a.act", "ReLU"),
        LayerRow("b", "Conv2d(dw)", True, True), LayerRow("b.act", "Hardswish"),
        LayerRow("c", "Conv2d", True, False)]


def test_a_depthwise_layer_run_as_a_general_convolution_is_mapped_in_order():
    measured = _profile([("Convolution (NHWC, F32) IGEMM #1", "Convolution (NHWC, F32) IGEMM", 1.0),
                         ("Clamp #1", "Clamp (NC, F32)", 0.1),
                         ("Convolution (NHWC, F32) IGEMM #2", "Convolution (NHWC, F32) IGEMM", 2.0),
                         ("HardSwish #1", "HardSwish (NC, F32)", 0.2),
                         ("Fully Connected (NC, F32) GEMM #1", "Fully Connected (NC, F32) GEMM", 3.0)],
                        "1 MAC kernels differ from their layer in kind")
    assert unit_times(measured, ROWS) == pytest.approx({"a": 1.1, "b": 2.2, "c": 3.0})


def test_kernels_out_of_the_probes_order_are_refused():
    swapped = _profile([("Convolution (NHWC, F32) DWConv #1", "Convolution (NHWC, F32) DWConv", 1.0),
                        ("Convolution (NHWC, F32) IGEMM #1", "Convolution (NHWC, F32) IGEMM", 2.0),
                        ("Fully Connected (NC, F32) GEMM #1", "Fully Connected (NC, F32) GEMM", 3.0)],
                       "2 MAC kernels differ from their layer in kind")
    assert remap_ordered(swapped, ROWS) is None
    with pytest.raises(EdgeoptError, match="could not be mapped to its units"):
        unit_times(swapped, ROWS)
    missing = _profile([("Fully Connected (NC, F32) GEMM #1", "Fully Connected (NC, F32) GEMM", 3.0)], "count")
    assert remap_ordered(missing, ROWS) is None
