import pytest

COMMANDS = ("models", "datasets", "profile", "train", "export", "bench", "devices", "fit", "report", "demo",
            "prune", "fuse", "quantize", "distill", "run")


def test_every_command_is_registered(run_cli):
    code, out, _ = run_cli("--help")
    assert code == 0
    for command in COMMANDS:
        assert f" {command} " in out, command


@pytest.mark.parametrize(
    "args, message",
    [
        (["fit", "simple_cnn", "--device", "raspbery-pi-4"], "unknown device 'raspbery-pi-4'"),
        (["report", "no/such/run"], "no/such/run"),
        (["bench", "missing.onnx"], "missing.onnx"),
        (["run", "no/such/recipe.yaml", "-o", "out"], "no/such/recipe.yaml"),
        (["demo", "--recipe", "no/such/recipe.yaml"], "no/such/recipe.yaml"),
        (["distill", "--teacher", "missing.pt", "--student", "simple_cnn", "-o", "out"], "missing.pt"),
    ],
)
def test_wired_commands_turn_bad_input_into_exit_2(run_cli, args, message):
    code, _, err = run_cli(*args)
    assert code == 2 and err.startswith("error: ") and message in err
    assert "Traceback" not in err
