"""``edgeopt models`` and ``edgeopt datasets``: what is built in."""

from __future__ import annotations

import typer
from rich.table import Table

from edgeopt.cli.common import console


def models(
    pattern: str = typer.Argument("*", help="Shell-style filter, e.g. 'mobilenet*'."),
) -> None:
    """List the models in the registry."""
    from edgeopt.models import list_models, model_entries

    wanted = set(list_models(pattern))
    table = Table("name", "description", "options", title="edgeopt models")
    for entry in model_entries():
        if entry.name in wanted:
            table.add_row(entry.name, entry.description, ", ".join(entry.accepted_kwargs()))
    console.print(table)


def datasets() -> None:
    """List the bundled datasets (paths to image folders, .npz and CIFAR batches work too)."""
    from edgeopt.data import describe_datasets

    table = Table("name", "description", title="bundled datasets")
    for name, description in describe_datasets().items():
        table.add_row(name, description)
    console.print(table)
