"""Option parsing and output helpers shared by the CLI commands."""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml
from rich.console import Console

from edgeopt.errors import EdgeoptError

# Piped output (CI logs, files) gets a wide fixed width so layer names are not cut at 80 columns;
# errors never wrap, so each stays the one line the CLI promises.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)


def parse_input_size(text: str) -> tuple[int, ...]:
    """Parse ``C,H,W`` (batch 1 is prepended) or ``N,C,H,W`` into a shape tuple.

    Example:
        >>> parse_input_size("3,224,224")
        (1, 3, 224, 224)
    """
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        dims = ()
    if len(dims) not in (3, 4) or any(d <= 0 for d in dims):
        raise EdgeoptError(
            f"input size {text!r} is not C,H,W or N,C,H,W with positive integers",
            hint="e.g. --input-size 3,224,224",
        )
    return dims if len(dims) == 4 else (1, *dims)


def parse_model_args(pairs: list[str] | None) -> dict[str, Any]:
    """Parse repeated ``KEY=VALUE`` options; values are read as YAML scalars (0.5, true, 10).

    Example:
        >>> parse_model_args(["width_mult=0.5", "stem_stride=1"])
        {'width_mult': 0.5, 'stem_stride': 1}
    """
    parsed: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise EdgeoptError(f"model option {pair!r} is not KEY=VALUE", hint="e.g. -a width_mult=0.5")
        parsed[key.strip()] = yaml.safe_load(value)
    return parsed


def print_json(data: Any) -> None:
    """Print JSON to stdout without rich markup, so it pipes cleanly."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
