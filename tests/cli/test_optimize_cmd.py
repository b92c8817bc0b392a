"""`edgeopt optimize` on the command line: options in --help, and one-line refusals (exit 2) before any work."""

from __future__ import annotations

import importlib.util

from typer.testing import CliRunner

from edgeopt.cli.entry import app


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_help_lists_the_bounds_target_resume_and_budget():
    result = CliRunner().invoke(app, ["optimize", "--help"], terminal_width=200, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("--max-drop", "--latency-budget", "--size-budget", "--target", "--resume", "--time-budget"):
        assert option in result.output, option


def test_unknown_target_is_one_error_line_naming_it(run_cli, tmp_path):
    code, out, err = run_cli("optimize", "simple_cnn", "--data", "digits", "-o", str(tmp_path / "run"),
                             "--target", "raspbery-pi-4")
    assert code == 2, err
    lines = error_lines(err)
    assert len(lines) == 1 and "raspbery-pi-4" in lines[0], err
    assert "raspberry-pi-4" in err  # the hint names the closest device
    assert "Traceback" not in err + out


def test_microcontroller_target_is_refused(run_cli, tmp_path):
    code, _, err = run_cli("optimize", "simple_cnn", "--data", "digits", "-o", str(tmp_path / "run"),
                           "--target", "stm32h743")
    assert code == 2, err
    lines = error_lines(err)
    assert len(lines) == 1 and "stm32h743" in lines[0] and "no CPU runtime" in lines[0], err


def test_openvino_asked_for_but_not_installed_names_the_extra(run_cli, tmp_path, monkeypatch):
    import edgeopt.optimize.runtimes as runtimes

    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "openvino" else real(name, *args)

    monkeypatch.setattr(runtimes.importlib.util, "find_spec", find_spec)
    code, _, err = run_cli("optimize", "simple_cnn", "--data", "digits", "-o", str(tmp_path / "run"),
                           "--runtime", "openvino")
    assert code == 2, err
    lines = error_lines(err)
    assert len(lines) == 1 and "openvino" in lines[0] and "not installed" in lines[0], err
    assert "edgeopt[openvino]" in err


def test_refused_start_does_not_claim_the_run_directory(run_cli, tmp_path):
    out = str(tmp_path / "run")
    code, _, _ = run_cli("optimize", "simple_cnn", "--data", "digits", "-o", out, "--target", "raspbery-pi-4")
    assert code == 2
    code, _, err = run_cli("optimize", "simple_cnn", "--data", "digits", "-o", out, "--target", "stm32h743")
    assert code == 2
    assert "already holds an optimization" not in err and "stm32h743" in err, err
