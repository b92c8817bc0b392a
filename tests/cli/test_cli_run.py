"""``edgeopt run``: a recipe into a run dir; bad recipes and run dirs are one-line errors (exit 2)."""

import json

RECIPE = """\
model: simple_cnn
train: {epochs: 1, progress: false}
data: digits
steps:
  - type: fuse
"""


def test_run_writes_results_and_prints_the_summary(run_cli, tmp_path):
    import torch

    torch.set_num_threads(1)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    code, out, err = run_cli("run", str(recipe), "-o", str(tmp_path / "run"), "--no-report")
    assert code == 0, err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [c["name"] for c in results["candidates"]] == ["baseline", "fuse"]
    assert "candidates vs baseline" in out and "results:" in out
    code, out, err = run_cli("run", str(recipe), "-o", str(tmp_path / "run"), "--resume", "--no-report")
    assert code == 0, err
    assert "finished earlier, kept" in out


def test_bad_recipe_is_a_one_line_error(run_cli, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE + "  - type: prune.structured\n    ratio: 2\n")
    code, _, err = run_cli("run", str(recipe), "-o", str(tmp_path / "run"))
    assert code == 2
    assert f"{recipe} line 7: step 2 (prune.structured), field 'ratio'" in err
    assert not (tmp_path / "run").exists()


def test_existing_run_dir_and_contradictory_flags(run_cli, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("x")
    code, _, err = run_cli("run", str(recipe), "-o", str(tmp_path / "run"))
    assert code == 2 and "already exists" in err and "--resume" in err
    code, _, err = run_cli("run", str(recipe), "-o", str(tmp_path / "run"), "--resume", "--force")
    assert code == 2 and "contradict" in err


def test_help_explains_the_format(run_cli):
    code, out, _ = run_cli("run", "--help")
    assert code == 0
    assert "docs/recipes.md" in out and "prune.structured" in out and "--resume" in out
