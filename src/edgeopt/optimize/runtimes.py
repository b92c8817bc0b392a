"""Which runtimes and precisions a run can try here, and why others are left out.

A runtime named by the user that is not installed is an error naming the extra to install; the
default set skips it with a note. bf16 is tried only where the target has bf16 arithmetic *and*
this machine can run it (OpenVINO's CPU plugin lists ``BF16``): the target decides what is
offered, and what cannot be measured here is not guessed.

Example:
    >>> available_runtimes(("onnxruntime",), explicit=True)
    (('onnxruntime',), [])
"""

from __future__ import annotations

import importlib.util

from edgeopt.errors import EdgeoptError

EXTRAS = {"openvino": "pip install 'edgeopt[openvino]'", "executorch": "pip install 'edgeopt[executorch]'",
          "onnxruntime": "pip install onnxruntime"}
_MODULES = {"onnxruntime": "onnxruntime", "openvino": "openvino", "executorch": "executorch"}


def available_runtimes(asked: tuple[str, ...], *, explicit: bool) -> tuple[tuple[str, ...], list[str]]:
    """The installed runtimes among ``asked``, and a note for each one left out.

    Raises:
        EdgeoptError: ``explicit`` and an asked runtime is not installed, or none is.
    """
    found: list[str] = []
    notes: list[str] = []
    for name in asked:
        if importlib.util.find_spec(_MODULES[name]) is not None:
            found.append(name)
            continue
        if explicit:
            raise EdgeoptError(f"runtime {name} is not installed", hint=EXTRAS[name])
        notes.append(f"{name} not installed: not tried ({EXTRAS[name]})")
    if not found:
        raise EdgeoptError("none of the runtimes asked for is installed", hint=EXTRAS["onnxruntime"])
    return tuple(found), notes


def bf16_here(runtimes: tuple[str, ...], target_bf16: bool, target_name: str) -> tuple[bool, str | None]:
    """Whether bf16 execution is tried, and a note when the target has it but it cannot be measured here."""
    if not target_bf16:
        return False, f"bf16 not tried: the target ({target_name}) has no bf16 arithmetic"
    if "openvino" not in runtimes:
        return False, "bf16 not tried: it runs in OpenVINO, which is not among the runtimes"
    from edgeopt.runtime.openvino_runner import cpu_capabilities, import_openvino

    if "BF16" not in cpu_capabilities(import_openvino().Core()):
        return False, f"bf16 not tried: {target_name} has it but this machine cannot run it, so it cannot be measured"
    return True, None
