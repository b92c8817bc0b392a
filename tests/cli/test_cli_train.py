import json


def test_train_then_profile_the_checkpoint(run_cli, tmp_path):
    out = tmp_path / "cnn"
    code, stdout, err = run_cli("train", "simple_cnn", "--data", "digits", "--epochs", "3", "-o", str(out))
    assert code == 0, err
    assert "test accuracy" in stdout and (out / "model.pt").is_file()
    record = json.loads((out / "train.json").read_text())
    assert record["lineage"] == "simple_cnn → train" and record["transform"]["train"]["epochs"] == 3
    assert record["after"]["test_accuracy"] > 0.8 and len(record["report"]["train"]["history"]) == 3

    # the checkpoint remembers its 1×8×8 input size, so profile needs no --input-size
    code, stdout, _ = run_cli("profile", str(out / "model.pt"), "--json")
    assert code == 0
    assert json.loads(stdout)["input_size"] == [1, 1, 8, 8]


def test_channel_mismatch_is_a_clear_error_and_writes_nothing(run_cli, tmp_path):
    out = tmp_path / "bad"
    code, _, err = run_cli("train", "simple_cnn", "--data", "digits", "-a", "in_chans=3", "-o", str(out))
    assert code == 2
    assert "3 input channels" in err and "'digits' has 1" in err
    assert not (out / "model.pt").exists()


def test_unknown_dataset_suggests(run_cli, tmp_path):
    code, _, err = run_cli("train", "simple_cnn", "--data", "mnist", "-o", str(tmp_path))
    assert code == 2 and "unknown dataset 'mnist'" in err and "mnist5k" in err
