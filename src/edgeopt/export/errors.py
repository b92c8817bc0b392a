"""One way to turn an exporter's exception into an error that names the unsupported operator."""

from __future__ import annotations

import re

from edgeopt.errors import EdgeoptError

# Where exporters' messages name an operator (torch.export, dynamo ONNX, ExecuTorch lowering).
OPERATOR_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"OpOverload\(op='([\w.:]+)'"),
    re.compile(r"operator '([\w.:]+)'"),
    re.compile(r"target=torch\.ops\.(\w+\.\w+)"),  # namespace.op, without the overload
)


def exporter_error(name: str, runtime: str, exc: BaseException, unsupported: str,
                   patterns: tuple[re.Pattern[str], ...] = OPERATOR_PATTERNS) -> EdgeoptError:
    """An :class:`EdgeoptError` for a failed export, naming the operator when the text does.

    Args:
        name: What was exported (the model's class name).
        runtime: The target, e.g. ``"ONNX"`` or ``"ExecuTorch"``.
        exc: The exporter's exception (its whole cause chain is searched).
        unsupported: What an unsupported operator lacks, e.g. ``"has no ONNX translation"``.
        patterns: Regexes whose first group is an operator name.

    Example:
        >>> exporter_error("Net", "ONNX", RuntimeError("operator 'aten.fft_fft' ..."), "has no ONNX translation")
        EdgeoptError("cannot export Net to ONNX: operator 'aten.fft_fft' has no ONNX translation")
    """
    text = chain_text(exc)
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return EdgeoptError(
                f"cannot export {name} to {runtime}: operator {match.group(1)!r} {unsupported}",
                hint="replace that operation in the model with supported ones, or keep it out "
                "of the exported part",
            )
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return EdgeoptError(
        f"cannot export {name} to {runtime}: {type(exc).__name__}: {first[:300]}",
        hint="run with --debug for the exporter's full message",
    )


def chain_text(exc: BaseException) -> str:
    """The messages of ``exc`` and every exception it was raised from, joined."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(str(current))
        current = current.__cause__ or current.__context__
    return "\n".join(parts)
