import json

import pytest
import yaml

from edgeopt.devices import CATEGORIES, builtin_devices, get_device, load_catalog, read_device_file
from edgeopt.devices.schema import FIGURE_FIELDS
from edgeopt.errors import EdgeoptError

CATALOG_CATEGORIES = [c for c in CATEGORIES if c != "host"]


def test_catalog_covers_every_category_with_a_source_for_every_figure():
    devices = builtin_devices()
    assert len(devices) >= 12
    assert {d.category for d in devices} == set(CATALOG_CATEGORIES)
    assert len({d.name for d in devices}) == len(devices)
    for device in devices:
        for field in FIGURE_FIELDS:
            if device.figure(field) is not None:
                assert device.sources.get(field, "").strip(), (device.name, field)


def test_derived_sources_say_how():
    for device in builtin_devices():
        for field, source in device.sources.items():
            if source.startswith("derived:"):
                assert any(ch.isdigit() for ch in source), (device.name, field)


def test_get_device_and_unknown_name_suggests():
    assert get_device("raspberry-pi-4").peak_gops.fp32 == 96.0
    with pytest.raises(EdgeoptError, match="unknown device 'raspberry-pi-6'") as err:
        get_device("raspberry-pi-6")
    assert "raspberry-pi-4" in err.value.hint and "raspberry-pi-5" in err.value.hint


def test_user_yaml_single_device_and_override(tmp_path, device_data):
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(device_data(name="raspberry-pi-4", display_name="My Pi")))
    devices = load_catalog([mine])
    assert len(devices) == len(builtin_devices())
    assert get_device("raspberry-pi-4", [mine]).display_name == "My Pi"


def test_user_json_list_and_devices_key(tmp_path, device_data):
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([device_data(name="a"), device_data(name="b")]))
    keyed = tmp_path / "keyed.yml"
    keyed.write_text(yaml.safe_dump({"devices": [device_data(name="c")]}))
    assert [d.name for d in read_device_file(listed)] == ["a", "b"]
    assert get_device("c", [listed, keyed]).name == "c"


def _error_for(tmp_path, data, name="bad.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    with pytest.raises(EdgeoptError) as err:
        read_device_file(path)
    assert str(path) in err.value.message
    return err.value.message


def test_missing_field_names_file_device_field(tmp_path, device_data):
    data = device_data()
    del data["memory_bandwidth_gbs"]
    message = _error_for(tmp_path, data)
    assert "'toy-board'" in message and "memory_bandwidth_gbs" in message and "required" in message


def test_extra_key_is_rejected(tmp_path, device_data):
    message = _error_for(tmp_path, device_data(colour="red"))
    assert "'colour'" in message and "unknown field" in message
    nested = _error_for(tmp_path, device_data(peak_gops={"fp32": 1.0, "bf16": 2.0}))
    assert "peak_gops.bf16" in nested


def test_negative_number_is_rejected(tmp_path, device_data):
    message = _error_for(tmp_path, device_data(ram_bytes=-5))
    assert "'ram_bytes'" in message and "greater than 0" in message


def test_missing_source_is_rejected(tmp_path, device_data):
    data = device_data()
    del data["sources"]["typical_power_w"]
    message = _error_for(tmp_path, data)
    assert "'toy-board'" in message and "typical_power_w" in message and "source" in message


def test_unknown_source_key_and_no_peak(tmp_path, device_data):
    data = device_data()
    data["sources"]["ram"] = "typo"
    assert "unknown field 'ram'" in _error_for(tmp_path, data)
    assert "at least one" in _error_for(tmp_path, device_data(peak_gops={}))


def test_device_without_name_is_numbered(tmp_path, device_data):
    data = device_data()
    del data["name"]
    assert "device #2" in _error_for(tmp_path, [device_data(), data])


def test_unreadable_files(tmp_path, device_data):
    with pytest.raises(EdgeoptError, match="not found"):
        read_device_file(tmp_path / "nope.yaml")
    assert "line 1, column 16: malformed YAML" in _error_for(tmp_path, "name: [unclosed")
    assert "not valid JSON" in _error_for(tmp_path, "{", name="bad.json")
    assert "holds no device" in _error_for(tmp_path, "42")
    assert "appears twice" in _error_for(tmp_path, [device_data(), device_data()])


def test_docs_list_every_device_and_their_example_file_validates():
    from pathlib import Path

    from edgeopt.devices.catalog import parse_devices

    docs = (Path(__file__).parents[2] / "docs" / "devices.md").read_text()
    assert all(f"`{d.name}`" in docs for d in builtin_devices())
    example = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    (device,) = parse_devices(yaml.safe_load(example), "docs/devices.md")
    assert device.peak_gops.int8 == 115.2


def test_single_path_is_accepted(tmp_path, device_data):
    mine = tmp_path / "one.yaml"
    mine.write_text(yaml.safe_dump(device_data(name="solo")))
    assert get_device("solo", str(mine)).name == "solo"
