"""``edgeopt report``: (re)render the self-contained HTML report of a run directory."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeopt.cli.common import console


def report(
    run_dir: Path = typer.Argument(..., help="Run directory holding results.json (e.g. runs/demo)."),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write the page. Default: RUN_DIR/report.html."),
) -> None:
    """Render RUN_DIR/results.json as one self-contained HTML page (plots embedded, works offline).

    Every figure on the page is measured on an artifact unless it is marked "estimate".

    The plots are also saved as PNG files under RUN_DIR/plots/.
    """
    from edgeopt.report import write_report

    path = write_report(run_dir, out=out)
    # Printed plainly (no markup, no wrapping) so scripts can capture the path.
    console.print(str(path), markup=False, highlight=False, soft_wrap=True)
