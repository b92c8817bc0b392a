"""``edgeopt report`` through Typer (the command is registered in edgeopt.cli.entry by the lead)."""

import pytest
import typer
from typer.testing import CliRunner

from edgeopt.cli.report_cmd import report
from edgeopt.errors import EdgeoptError


@pytest.fixture
def app(monkeypatch) -> typer.Typer:
    # The plots are tested elsewhere and take seconds; the command is what is tested here.
    monkeypatch.setattr("edgeopt.report.html.make_plots", lambda results, out_dir: [])
    app = typer.Typer()
    app.command()(report)
    return app


def test_prints_the_report_path(app, synthetic_run, tmp_path):
    result = CliRunner().invoke(app, [str(synthetic_run)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(synthetic_run / "report.html")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, [str(synthetic_run), "-o", str(out)])
    assert result.exit_code == 0 and result.output.strip() == str(out) and out.is_file()


def test_missing_results_raises_the_user_error(app, tmp_path):
    result = CliRunner().invoke(app, [str(tmp_path)])
    assert isinstance(result.exception, EdgeoptError)
    assert "results.json is missing" in result.exception.message
