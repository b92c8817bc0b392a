"""Fingerprints of recipe parts, and what differs between two versions of one: for ``--resume``.

Options that only change what is printed (``progress``) are left out, so turning a progress bar
off does not make a finished step look changed.

Example:
    >>> config_hash({"ratio": 0.5}) == config_hash({"ratio": 0.5, "progress": False})
    True
    >>> config_diff({"ratio": 0.5}, {"ratio": 0.6})
    ['ratio: 0.5 -> 0.6']
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

COSMETIC_KEYS = frozenset({"progress"})
_MISSING = "(absent)"


def canonical(config: Any) -> Any:
    """``config`` without cosmetic keys, at any depth."""
    if isinstance(config, dict):
        return {k: canonical(v) for k, v in config.items() if k not in COSMETIC_KEYS}
    if isinstance(config, (list, tuple)):
        return [canonical(v) for v in config]
    return config


def config_hash(config: Any) -> str:
    """A short SHA-256 of the canonical JSON of ``config`` (keys sorted)."""
    text = json.dumps(canonical(config), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Human lines ``key: old -> new`` for every leaf that differs (cosmetic keys ignored)."""
    old, new = canonical(old), canonical(new)
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in list(old) + [k for k in new if k not in old]:
            path = f"{prefix}.{key}" if prefix else str(key)
            lines += config_diff(old.get(key, _MISSING), new.get(key, _MISSING), path)
        return lines
    if old == new:
        return []
    return [f"{prefix or '(value)'}: {_show(old)} -> {_show(new)}"]


def _show(value: Any) -> str:
    return value if value == _MISSING else json.dumps(value, default=str)
