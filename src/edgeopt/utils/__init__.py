"""Small shared helpers (atomic file output, this machine's CPU facts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "atomic_path": "edgeopt.utils.atomic",
    "write_json_atomic": "edgeopt.utils.atomic",
    "cpu_flags": "edgeopt.utils.cpu",
    "has_bf16": "edgeopt.utils.cpu",
    "has_int8_dot_product": "edgeopt.utils.cpu",
    "host_bf16": "edgeopt.utils.cpu",
    "host_int8_dot_product": "edgeopt.utils.cpu",
    "is_x86": "edgeopt.utils.cpu",
    "machine_arch": "edgeopt.utils.cpu",
    "needs_reduce_range": "edgeopt.utils.cpu",
    "parse_cpu_flags": "edgeopt.utils.cpu",
}

__all__ = [
    "atomic_path",
    "cpu_flags",
    "has_bf16",
    "has_int8_dot_product",
    "host_bf16",
    "host_int8_dot_product",
    "is_x86",
    "machine_arch",
    "needs_reduce_range",
    "parse_cpu_flags",
    "write_json_atomic",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.utils.atomic import atomic_path as atomic_path, write_json_atomic as write_json_atomic
    from edgeopt.utils.cpu import (
        cpu_flags as cpu_flags,
        has_bf16 as has_bf16,
        has_int8_dot_product as has_int8_dot_product,
        host_bf16 as host_bf16,
        host_int8_dot_product as host_int8_dot_product,
        is_x86 as is_x86,
        machine_arch as machine_arch,
        needs_reduce_range as needs_reduce_range,
        parse_cpu_flags as parse_cpu_flags,
    )
