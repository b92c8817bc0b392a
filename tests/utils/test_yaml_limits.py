"""Every YAML edgeopt reads is parsed within limits: alias bombs, deep nesting, size, encoding."""

from __future__ import annotations

import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.utils.yaml_limits import YamlLimits, load_yaml, read_yaml_text


def billion_laughs(levels: int = 9) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi"[: levels - 1], strict=False):
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    return text


def test_plain_yaml_loads():
    assert load_yaml("a: [1, {b: 2}]\nc: &x 3\nd: *x\n", "x.yaml") == {"a": [1, {"b": 2}], "c": 3, "d": 3}


def test_alias_bomb_is_refused_before_it_expands():
    with pytest.raises(EdgeoptError, match=r"x.yaml: its YAML expands to more than 100,000 values"):
        load_yaml(billion_laughs(), "x.yaml")
    assert load_yaml(billion_laughs(3), "x.yaml")["c"][0][0][0] == "lol"  # 9³ values are fine


def test_deep_nesting_is_refused_without_a_recursion_error():
    with pytest.raises(EdgeoptError, match="nested deeper than 64 levels"):
        load_yaml("a: " + "[" * 20_000 + "]" * 20_000, "x.yaml")


def test_size_and_encoding(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: 1\n" * 10)
    with pytest.raises(EdgeoptError, match=r"recipe .*big.yaml' is 50 bytes; edgeopt reads at most 20"):
        read_yaml_text(big, "recipe", YamlLimits(max_bytes=20))
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(EdgeoptError, match=r"is not UTF-8 text \(byte 9\)"):
        read_yaml_text(latin, "recipe")
    with pytest.raises(EdgeoptError, match="does not exist"):
        read_yaml_text(tmp_path / "nope.yaml", "recipe")


def test_malformed_yaml_names_the_line():
    with pytest.raises(EdgeoptError, match=r"x.yaml line 2, column \d+: malformed YAML"):
        load_yaml("a: 1\n b: [\n", "x.yaml")


def test_python_tags_are_refused_not_built(tmp_path):
    marker = tmp_path / "ran"
    text = f'x: !!python/object/apply:os.system ["touch {marker}"]'
    with pytest.raises(EdgeoptError, match="a YAML tag edgeopt does not read") as info:
        load_yaml(text, "opt")
    assert "remove the !! tag" in (info.value.hint or "") and not marker.exists()
