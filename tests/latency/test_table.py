"""The table file: it round-trips, a foreign key is refused (or warned on every estimate), bad files are
one-line errors."""

from __future__ import annotations

import json

import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.latency import LatencyTable, Predictor, current_key
from edgeopt.latency.key import cpu_info


def test_the_table_round_trips(tiny_table, tmp_path):
    assert tiny_table.complete and tiny_table.entries and tiny_table.blocks
    again = LatencyTable.load(tiny_table.save(tmp_path / "copy.json"))
    assert again.model_dump(exclude={"updated"}) == tiny_table.model_dump(exclude={"updated"})


def test_the_key_is_this_machine(tiny_table):
    key = tiny_table.key
    assert (key.runtime, key.threads, key.precision) == ("onnxruntime", 1, "fp32")
    assert (key.cpu, key.cpu_flags) == cpu_info()
    assert key == current_key("onnxruntime", 1, "fp32")


@pytest.mark.parametrize("change", [{"cpu": "Some Other CPU"}, {"threads": 4}, {"runtime_version": "0.9.0"},
                                    {"cpu_flags": ("avx2",)}])
def test_a_foreign_table_is_refused_or_warned(tiny_table, tiny_space, change):
    import random

    tiny_table.key = tiny_table.key.model_copy(update=change)
    with pytest.raises(EdgeoptError, match="this latency table was measured elsewhere") as info:
        Predictor(tiny_table, threads=1)
    assert "--allow-foreign" in (info.value.hint or "")
    prediction = Predictor(tiny_table, threads=1, allow_foreign=True).predict(tiny_space.sample(random.Random(0)))
    assert any("measured elsewhere" in w for w in prediction.warnings)
    assert "measured elsewhere" in str(prediction)


def test_bad_table_files(tmp_path):
    with pytest.raises(EdgeoptError, match="does not exist"):
        LatencyTable.load(tmp_path / "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(EdgeoptError, match="not valid JSON"):
        LatencyTable.load(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": 99}))
    with pytest.raises(EdgeoptError, match="not a latency table of format 1"):
        LatencyTable.load(other)


def test_invalid_field_is_named(tiny_table_path, tmp_path):
    data = json.loads(tiny_table_path.read_text())
    data["entries"][next(iter(data["entries"]))]["ms"] = -1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(EdgeoptError, match=r"field entries\..*\.ms"):
        LatencyTable.load(bad)
