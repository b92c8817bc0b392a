"""Run results (the ``results.json`` schema), plots and the self-contained HTML report.

Names are imported lazily (PEP 562): a pipeline step that only writes results imports the schema
without paying for matplotlib.

Example:
    >>> from edgeopt.report import load_results, write_report
    >>> results = load_results("runs/demo")          # validated RunResults
    >>> write_report("runs/demo")                    # runs/demo/report.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Artifact": "edgeopt.artifact",
    "LatencyEstimate": "edgeopt.artifact",
    "Measurement": "edgeopt.artifact",
    "CandidateResult": "edgeopt.report.schema",
    "DeviceFit": "edgeopt.report.schema",
    "FitCheck": "edgeopt.report.schema",
    "Metrics": "edgeopt.report.schema",
    "RunResults": "edgeopt.report.schema",
    "load_results": "edgeopt.report.store",
    "save_results": "edgeopt.report.store",
    "validate_results": "edgeopt.report.store",
    "pareto_front": "edgeopt.report.pareto",
    "SummaryRow": "edgeopt.report.summary",
    "summary_rows": "edgeopt.report.summary",
    "make_plots": "edgeopt.report.plots",
    "render_html": "edgeopt.report.html",
    "write_report": "edgeopt.report.html",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "Artifact",
    "CandidateResult",
    "DeviceFit",
    "FitCheck",
    "LatencyEstimate",
    "Measurement",
    "Metrics",
    "RunResults",
    "SummaryRow",
    "load_results",
    "make_plots",
    "pareto_front",
    "render_html",
    "save_results",
    "summary_rows",
    "validate_results",
    "write_report",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.artifact import Artifact as Artifact, LatencyEstimate as LatencyEstimate, Measurement as Measurement
    from edgeopt.report.html import render_html as render_html, write_report as write_report
    from edgeopt.report.pareto import pareto_front as pareto_front
    from edgeopt.report.plots import make_plots as make_plots
    from edgeopt.report.schema import (
        CandidateResult as CandidateResult,
        DeviceFit as DeviceFit,
        FitCheck as FitCheck,
        Metrics as Metrics,
        RunResults as RunResults,
    )
    from edgeopt.report.store import (
        load_results as load_results,
        save_results as save_results,
        validate_results as validate_results,
    )
    from edgeopt.report.summary import SummaryRow as SummaryRow, summary_rows as summary_rows
