"""Progress reporting during :func:`edgeopt.train.fit`: the terminal bar and epoch summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeopt.train.loop import EpochRow


def _val_text(history: Sequence[EpochRow]) -> str:
    val = history[-1]["val_acc"] if history else None
    return f" val acc {val:.1%}" if val is not None else ""


def _format_row(row: Mapping[str, object]) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in row.items() if isinstance(v, float))


class _ProgressBar:
    """A rich bar over steps on a terminal; silent otherwise (CI, logs, no TTY)."""

    def __init__(self, enabled: bool, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)
        self.label = ""
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not (enabled and console.is_terminal),
        )
        self._task = self._progress.add_task("training", total=total)

    def advance(self, loss: float) -> None:
        """Count one step and show the running loss of the epoch."""
        self._progress.update(self._task, advance=1, description=f"{self.label} loss {loss:.3f}")

    def __enter__(self) -> _ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
