"""Recipe errors name the file, the line, the step (number and type) and the field."""

from pathlib import Path

import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline import Recipe, load_recipe, parse_recipe
from edgeopt.pipeline.yaml_lines import load_yaml_with_lines
from edgeopt.transform import transform_types

HEAD = "model: simple_cnn\ndata: digits\nsteps:\n"
RECIPES = Path(__file__).parents[2] / "recipes"


def error_of(text: str) -> str:
    with pytest.raises(EdgeoptError) as info:
        parse_recipe(text, source="r.yaml")
    return str(info.value)


def test_unknown_key_in_a_step_names_line_step_field_and_suggests():
    text = HEAD + "  - type: fuse\n  - type: prune.structured\n    ratoi: 0.5\n"
    message = error_of(text)
    assert message.startswith("r.yaml line 6: step 2 (prune.structured)")
    assert "unknown key 'ratoi'" in message and "did you mean 'ratio'" in message


def test_wrong_type_names_the_field_and_the_value():
    text = HEAD + "  - type: prune.structured\n    ratio: half\n"
    message = error_of(text)
    assert message.startswith("r.yaml line 5: step 1 (prune.structured), field 'ratio'")
    assert "'half'" in message


def test_nested_training_option_is_located():
    text = HEAD + "  - type: prune.structured\n    ratio: 0.5\n    fine_tune:\n      epochs: many\n"
    assert error_of(text).startswith("r.yaml line 7: step 1 (prune.structured), field 'fine_tune.epochs'")


def test_missing_required_field_points_at_the_step():
    message = error_of(HEAD + "  - type: fuse\n  - type: prune.structured\n")
    assert message.startswith("r.yaml line 5: step 2 (prune.structured)")
    assert "missing required field 'ratio'" in message


def test_unknown_step_type_suggests_close_ones():
    message = error_of(HEAD + "  - type: fuse\n  - type: prune.structure\n    ratio: 0.5\n")
    assert message.startswith("r.yaml line 5: step 2: unknown step type 'prune.structure'")
    assert "did you mean 'prune.structured'" in message


def test_step_without_type():
    assert error_of(HEAD + "  - ratio: 0.5\n").startswith("r.yaml line 4: step 1 has no 'type'")


def test_malformed_yaml_names_the_line():
    message = error_of("model: simple_cnn\ndata: digits\nsteps:\n  - type: fuse\n   name: x\n")
    assert message.startswith("r.yaml line 5") and "malformed YAML" in message


def test_unknown_top_level_key_and_bad_section_type():
    message = error_of("model: simple_cnn\ndata: digits\ntrian: {epochs: 1}\n")
    assert message.startswith("r.yaml line 3: unknown key 'trian'") and "did you mean 'train'" in message
    message = error_of("model: simple_cnn\ndata: digits\ntrain:\n  epochs: 0\n")
    assert message.startswith("r.yaml line 4: field 'train.epochs'")


def test_references_to_unknown_or_later_candidates_are_errors():
    message = error_of(HEAD + "  - type: export\n    input: fuse\n  - type: fuse\n")
    assert message.startswith("r.yaml line 5: step 1 (export), field 'input': no earlier candidate named 'fuse'")
    message = error_of(HEAD + "  - type: distill\n    teacher: techer\n  - type: train\n    name: teacher\n"
                       "    train: {epochs: 1}\n")
    assert "field 'teacher'" in message and "'techer'" in message


def test_export_makes_no_candidate_to_refer_to():
    message = error_of(HEAD + "  - type: export\n  - type: bench\n    candidates: [export]\n")
    assert "step 2 (bench), field 'candidates[0]'" in message


def test_duplicate_names_are_errors():
    message = error_of(HEAD + "  - type: fuse\n  - type: train\n    name: fuse\n    train: {epochs: 1}\n")
    assert message.startswith("r.yaml line 6: step 2 (train): the name 'fuse' is already taken")


def test_not_a_mapping():
    assert "a recipe is a mapping" in error_of("- type: fuse\n")
    assert "an empty file" in error_of("")


def test_defaults_names_and_short_forms():
    recipe = parse_recipe(HEAD + "  - type: fuse\n  - type: export\n  - type: export\n    formats: [onnx]\n")
    assert [s.name for s in recipe.steps] == ["fuse", "export", "export-2"]
    assert recipe.model.source == "simple_cnn" and recipe.data.name == "digits"
    assert recipe.steps[1].transform.formats == ["onnx"]


def test_yaml_lines_follow_keys_and_items():
    data, lines = load_yaml_with_lines("a:\n  - x: 1\n    y: [2, 3]\n")
    assert data == {"a": [{"x": 1, "y": [2, 3]}]}
    assert lines[("a", 0, "y")] == 3 and lines[("a", 0)] == 2


def test_programmatic_recipe_validates_steps_too():
    recipe = Recipe(model="simple_cnn", data="digits", steps=[{"type": "fuse"}, {"type": "export"}])
    assert type(recipe.steps[0].transform).__name__ == "Fuse"
    assert recipe.model_dump(mode="json")["steps"][1]["formats"] == ["onnx"]  # subclass fields kept
    with pytest.raises(EdgeoptError, match="unknown step type"):
        Recipe(model="simple_cnn", data="digits", steps=[{"type": "fusee"}])


def test_every_builtin_step_type_is_registered():
    expected = {"fuse", "prune.magnitude", "prune.structured", "distill", "quantize.ptq", "quantize.qat",
                "quantize.dynamic", "export", "bench", "train"}
    assert expected <= set(transform_types())


@pytest.mark.parametrize("name", sorted(p.name for p in RECIPES.glob("*.yaml")))
def test_bundled_recipes_load(name):
    recipe = load_recipe(RECIPES / name)
    assert recipe.steps and recipe.data.name


def test_missing_recipe_file(tmp_path):
    with pytest.raises(EdgeoptError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")


def test_relative_paths_resolve_against_the_recipe_folder(tmp_path):
    (tmp_path / "r.yaml").write_text("model: weights/model.pt\ndata: ./images\nsteps: []\n")
    recipe = load_recipe(tmp_path / "r.yaml")
    assert recipe.model.source == str(tmp_path / "weights" / "model.pt")
    assert recipe.data.name == str(tmp_path / "images")


def test_nested_unknown_keys_and_option_rules_read_plainly():
    message = error_of("model: {source: simple_cnn, kwarg: {}}\ndata: digits\n")
    assert message == "r.yaml line 1: unknown key 'model.kwarg' (did you mean 'kwargs'?)"
    message = error_of(HEAD + "  - type: bench\n    candidates: some\n")
    assert message.startswith("r.yaml line 5: step 1 (bench), field 'candidates': input should be 'all' or 'current'")
    message = error_of(HEAD + "  - type: prune.magnitude\n")
    assert message == "r.yaml line 4: step 1 (prune.magnitude): give exactly one of sparsity or threshold"


@pytest.mark.parametrize(("options", "expected"), [
    ("    calibration: entropi\n", "unknown calibration method 'entropi'"),
    ("    weight_bits: 4\n    granularity: per_tensor\n", "4-bit weights need per-channel scales"),
    ("    backend: executorch\n    max_drop: 0.5\n    equalize: true\n",
     "the executorch backend does not take max_drop, equalize"),
])
def test_ptq_options_the_quantizer_would_refuse_are_refused_at_load(options, expected):
    message = error_of(HEAD + "  - type: fuse\n  - type: quantize.ptq\n" + options)
    assert message.startswith("r.yaml line 5: step 2 (quantize.ptq)") and expected in message


def test_ptq_options_the_quantizer_accepts_load():
    recipe = parse_recipe(HEAD + "  - type: quantize.ptq\n    calibration: auto\n    weight_bits: 4\n"
                          "    rounding: adaround\n  - type: quantize.ptq\n    backend: executorch\n")
    assert [s.transform.type for s in recipe.steps] == ["quantize.ptq", "quantize.ptq"]
