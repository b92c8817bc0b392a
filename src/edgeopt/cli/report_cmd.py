"""``edgeopt report``: (re)render the self-contained HTML report of a run directory."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeopt.cli.common import FORCE_OPTION, check_output, console
from edgeopt.errors import EdgeoptError


def report(
    run_dir: Path = typer.Argument(..., help="Run directory holding results.json (e.g. runs/demo)."),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write the page. Default: RUN_DIR/report.html "
                             "(re-rendered each time)."),
    force: bool = FORCE_OPTION,
) -> None:
    """Render RUN_DIR/results.json as one self-contained HTML page (plots embedded, works offline).

    Every figure on the page is measured on an artifact unless it is marked "estimate".

    The plots are also saved as PNG files under RUN_DIR/plots/.
    """
    from edgeopt.report import write_report

    # The default RUN_DIR/report.html is this command's own output, re-rendered each time; any
    # other -o follows the output rule of every writing command.
    if out is not None and out.resolve() != (run_dir / "report.html").resolve():
        if out.suffix.lower() not in (".html", ".htm"):
            raise EdgeoptError(f"the report is an HTML page, got {out.name!r}", hint="e.g. -o report.html")
        check_output(out, force=force, inputs=(run_dir / "results.json",), directory=False)
    path = write_report(run_dir, out=out)
    # Printed plainly (no markup, no wrapping) so scripts can capture the path.
    console.print(str(path), markup=False, highlight=False, soft_wrap=True)
