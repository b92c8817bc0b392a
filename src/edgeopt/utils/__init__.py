"""Small shared helpers (atomic file output)."""

from edgeopt.utils.atomic import atomic_path, write_json_atomic

__all__ = ["atomic_path", "write_json_atomic"]
