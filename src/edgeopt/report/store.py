"""Reading and writing ``RUN_DIR/results.json``, validated against :mod:`edgeopt.report.schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edgeopt.errors import EdgeoptError
from edgeopt.report.schema import RunResults
from edgeopt.utils import write_json_atomic

RESULTS_FILE = "results.json"
# A results file with many bad fields would bury the first one; a few are enough to act on.
MAX_REPORTED_ERRORS = 3


def load_results(run_dir: str | Path) -> RunResults:
    """Load and validate ``run_dir/results.json``.

    Args:
        run_dir: A run directory (as written by ``edgeopt demo`` or ``edgeopt run``).

    Returns:
        The validated results.

    Raises:
        EdgeoptError: The directory or file is missing, the file is not JSON, or a field does not
            fit the schema (the message names the file and the field, e.g.
            ``candidates[0].metrics.test_accuracy``).
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise EdgeoptError(f"run directory {str(run)!r} does not exist", hint="pass the -o folder of a run or demo")
    path = run / RESULTS_FILE
    if not path.is_file():
        raise EdgeoptError(
            f"{path} is missing", hint="is this a run directory? `edgeopt demo -o DIR` writes DIR/results.json"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, 5,000-digit numbers, 10,000 nested lists
        detail = _printable(str(exc)) if isinstance(exc, ValueError) else "nested too deeply"
        raise EdgeoptError(f"{path} is not valid JSON: {detail}", hint="rerun the step that wrote it") from None
    return validate_results(data, source=str(path))


def validate_results(data: Any, source: str = RESULTS_FILE) -> RunResults:
    """Validate an already-parsed results dict; errors name ``source`` and the field."""
    try:
        return RunResults.model_validate(data)
    except ValidationError as exc:
        raise EdgeoptError(f"{source}: {_describe(exc)}", hint="was it written by a newer or older edgeopt?") from None


def save_results(run_dir: str | Path, results: RunResults) -> Path:
    """Write ``results`` to ``run_dir/results.json`` atomically and return the path."""
    data = results.model_dump(mode="json", exclude_none=False)
    return write_json_atomic(Path(run_dir) / RESULTS_FILE, data)


def field_path(loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into ``candidates[0].metrics.macs``.

    Example:
        >>> field_path(("candidates", 0, "metrics", "macs"))
        'candidates[0].metrics.macs'
    """
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(exc: ValidationError) -> str:
    errors = exc.errors()
    parts = [f"field {_printable(field_path(err['loc']))}: {err['msg'].lower()}"
             for err in errors[:MAX_REPORTED_ERRORS]]
    more = len(errors) - MAX_REPORTED_ERRORS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _printable(text: str, limit: int = 200) -> str:
    """Text from the file (keys, parser messages) safe for a one-line error: no escape codes."""
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]
