import json

import pytest


def test_profile_json_has_exact_totals(run_cli):
    code, out, _ = run_cli("profile", "mobilenet_v1", "--json", "-a", "width_mult=0.25")
    assert code == 0
    data = json.loads(out)
    assert data["macs"] == 41_030_272 and data["params"] == 470_072
    assert data["input_size"] == [1, 3, 224, 224]
    assert any(row["op_type"] == "Conv2d(dw)" for row in data["layers"])


def test_profile_table_shows_full_layer_names_and_totals(run_cli):
    code, out, _ = run_cli("profile", "simple_cnn", "--input-size", "1,28,28", "-a", "in_chans=1")
    assert code == 0
    assert "features.2.0" in out and "classifier" in out and "Total:" in out


def test_compare_conv_paper_example(run_cli):
    code, out, _ = run_cli("profile", "--compare-conv", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["standard_macs"] == 512 * 512 * 9 * 14 * 14
    assert data["ratio"] == pytest.approx(1 / 512 + 1 / 9)


@pytest.mark.parametrize(
    "args, message",
    [
        (["profile", "mobilenetv1"], "unknown model 'mobilenetv1'"),
        (["profile", "mobilenet_v1", "--input-size", "3,a"], "input size '3,a' is not C,H,W"),
        (["profile", "mobilenet_v1", "--input-size", "1,224,224"], "does not fit MobileNetV1"),
        (["profile", "missing/model.pt"], "does not exist"),
        (["profile", "mobilenet_v1", "-a", "alpha"], "is not KEY=VALUE"),
        (["profile", "--compare-conv", "--layer", "1,2"], "is not IN,OUT,KERNEL,SIZE"),
        (["profile"], "missing MODEL"),
    ],
)
def test_bad_input_is_one_line_error_with_exit_2(run_cli, args, message):
    code, _, err = run_cli(*args)
    assert code == 2
    assert err.startswith("error: ") and message in err.splitlines()[0]
    assert "Traceback" not in err


def test_debug_shows_the_traceback(run_cli):
    from edgeopt.errors import EdgeoptError

    with pytest.raises(EdgeoptError):
        run_cli("--debug", "profile", "mobilenetv1")


def test_models_and_datasets_lists(run_cli):
    code, out, _ = run_cli("models", "mobilenet*")
    assert code == 0 and "mobilenet_v2" in out and "simple_cnn" not in out
    code, out, _ = run_cli("datasets")
    assert code == 0 and "mnist5k" in out and "digits" in out
