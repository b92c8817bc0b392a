"""Silence third-party start-up noise that says nothing about the user's model.

torchao logs "Failed to load ..." for CUDA-only extensions on every CPU import, torch's pytree
logs a deprecation for an Enum torchao registers, and torch.export / ExecuTorch emit
FutureWarnings about their own internals (``LeafSpec``). None of it is actionable for an edgeopt
user, and it buried the demo's tables. Errors and warnings about the user's model still show.
"""

from __future__ import annotations

import logging
import warnings

# Loggers whose WARNING-level records are about the libraries' own packaging or internals.
_NOISY_LOGGERS = ("torchao", "torch.utils._pytree")


def quiet_third_party() -> None:
    """Raise the noisy loggers to ERROR and ignore FutureWarnings raised inside torch's own code.

    Example:
        >>> quiet_third_party()   # the CLI calls this once at start-up
    """
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(torch|torchao|executorch|copyreg)(\.|$)")


class no_warnings(warnings.catch_warnings):
    """Silence every warning inside the block: the quantization stack's deprecation chatter
    (torchao, torch.export) around calls whose outcome edgeopt checks itself.

    Example:
        >>> with no_warnings():
        ...     warnings.warn("not shown")
    """

    def __enter__(self) -> None:
        super().__enter__()
        warnings.simplefilter("ignore")
