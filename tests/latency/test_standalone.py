"""Standalone tables: every part timed alone against a reference; parts match the network they
come from; an interrupted build resumes; ExecuTorch builds one from its own programs; a table of
the other method is not resumed."""

from __future__ import annotations

import random
import statistics

import pytest
import torch

from edgeopt.analysis import profile
from edgeopt.errors import EdgeoptError
from edgeopt.latency import LatencyTable, Predictor, build_model, build_table, standalone as standalone_module
from edgeopt.latency.parts import arch_part_specs, arch_parts, space_part_specs

OPTIONS = {"runtime": "onnxruntime", "threads": 1, "precision": "fp32", "passes": 2, "rounds": 2,
           "runs_per_round": 2, "method": "standalone"}


@pytest.fixture(scope="module")
def standalone_table(tmp_path_factory, tiny_space):
    path = tmp_path_factory.mktemp("standalone") / "table.json"
    return build_table(tiny_space, path=path, calibrate=4, **OPTIONS), path


def test_parts_chained_are_the_network(tiny_space):
    """Each part's module, fed the previous one's output, gives the network's MACs and output shape."""
    for seed in range(6):
        arch = tiny_space.sample(random.Random(seed), width=1.0, resolution=16)
        net = build_model(arch, tiny_space).eval()
        specs = arch_part_specs(arch, tiny_space)
        x = torch.zeros(specs[0].input_shape)
        total_macs = 0
        for spec in specs:
            assert tuple(x.shape) == spec.input_shape, spec.key
            module = spec.module()
            total_macs += profile(module, spec.input_shape).macs
            x = module(x)
        assert tuple(x.shape) == (1, tiny_space.num_classes)
        assert total_macs == profile(net, (1, 3, 16, 16)).macs
        assert sum(u.macs for u in arch_parts(arch, tiny_space)) == total_macs


def test_every_part_of_every_architecture_is_in_the_table(standalone_table, tiny_space):
    table, _ = standalone_table
    keys = {s.key for s in space_part_specs(tiny_space, 1.0, 16)}
    assert set(table.entries) == keys
    predictor = Predictor(table, threads=1)
    for seed in range(10):
        estimate = predictor.predict(tiny_space.sample(random.Random(seed), width=1.0, resolution=16))
        assert estimate.coverage == 1.0 and not estimate.missing
        assert "sessions that do not spin" in str(estimate) and estimate.corrected


def test_entries_are_median_ratios_in_the_reference_unit(standalone_table):
    table, path = standalone_table
    assert table.method == "standalone" and table.reference_ms > 0
    for entry in table.entries.values():
        assert len(entry.passes) == 2
        assert entry.ms == pytest.approx(statistics.median(entry.passes) * table.reference_ms)
    assert LatencyTable.load(path).entries == table.entries
    assert table.correction is not None and table.correction.samples == 4
    assert table.summary()["method"] == "standalone"
    assert not path.with_suffix(".probes").exists()  # part files go once the table is complete


def test_a_model_outside_the_space_is_predicted_by_the_fallback(standalone_table):
    table, _ = standalone_table
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 14 * 14, 4))
    estimate = Predictor(table, threads=1).predict(model, input_size=(1, 3, 16, 16))
    assert estimate.ms > 0 and estimate.coverage == 0.0
    assert any("not in the table" in w for w in estimate.warnings)


def test_an_interrupted_standalone_build_resumes(tiny_space, tmp_path, monkeypatch):
    monkeypatch.setattr(standalone_module, "CHUNK", 10)
    real = standalone_module.measure_relative
    calls = {"n": 0}

    def measure(paths, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(paths, **kwargs)

    monkeypatch.setattr(standalone_module, "measure_relative", measure)
    path = tmp_path / "t.json"
    with pytest.raises(KeyboardInterrupt):
        build_table(tiny_space, path=path, **OPTIONS)
    partial = LatencyTable.load(path)
    assert not partial.complete and sum(1 for e in partial.entries.values() if e.passes) == 10
    table = build_table(tiny_space, path=path, **OPTIONS)
    assert calls["n"] == 2 + 2 + 3  # pass 1: only its 16 missing parts (2 chunks); pass 2: all 26 (3 chunks)
    assert table.complete and all(len(e.passes) == 2 for e in table.entries.values())


def test_an_executorch_standalone_table_times_its_own_programs(tiny_space, tmp_path):
    path = tmp_path / "et.json"
    table = build_table(tiny_space, path=path, **{**OPTIONS, "runtime": "executorch", "passes": 1})
    assert table.method == "standalone" and table.key.runtime == "executorch"
    assert set(table.entries) == {s.key for s in space_part_specs(tiny_space, 1.0, 16)}
    assert all(e.ms > 0 and len(e.passes) == 1 for e in table.entries.values())
    estimate = Predictor(table, threads=1).predict(tiny_space.sample(random.Random(0), width=1.0, resolution=16))
    assert estimate.coverage == 1.0 and "executorch" in str(estimate) and "do not spin" not in str(estimate)


def test_slow_part_files_are_written_by_worker_processes(tiny_space, tmp_path):
    specs = list(space_part_specs(tiny_space, 1.0, 16))
    phases = []
    files = standalone_module.write_parts(specs, "onnxruntime", "int8", tmp_path, lambda *a: phases.append(a[2]),
                                          workers=2)
    assert set(files) == {s.key for s in specs} and all(f.is_file() and ".int8." in f.name for f in files.values())
    assert any("2 processes" in label for label in phases)
    again = standalone_module.write_parts(specs, "onnxruntime", "int8", tmp_path, lambda *a: phases.append(a[2]))
    assert again == files and phases[-1].endswith(f"({len(specs)} already written)")


def test_other_methods_are_refused(tiny_space, tmp_path, fast):
    with pytest.raises(EdgeoptError, match="unknown table method"):
        build_table(tiny_space, method="guess", path=tmp_path / "x.json")
    traced = tmp_path / "traced.json"
    build_table(tiny_space, runtime="onnxruntime", threads=1, precision="fp32", path=traced, **fast)
    with pytest.raises(EdgeoptError, match="holds a traced table, not a standalone one"):
        build_table(tiny_space, path=traced, **OPTIONS)
