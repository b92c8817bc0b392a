"""Measure on the real device: an authenticated agent that runs there, and the client that uses it.

On the device: ``edgeopt agent serve --host 0.0.0.0 --port 8765 --token-file agent.token``. On
the host: ``edgeopt bench model.onnx --device agent://DEVICE:8765 --token-file agent.token`` or
:func:`measure_remote`. The agent receives an artifact (checked by content: ONNX or ExecuTorch,
never a pickle), stores it by hash in a private directory, measures it with the project's own
:func:`edgeopt.runtime.bench` (one job at a time, in a worker process) and answers with the
:class:`~edgeopt.artifact.Measurement` and a description of the device. Every request is
HMAC-signed with a timestamp and a nonce (no replays); TLS is optional, with the client pinning
the agent's certificate. The ONNX path needs no torch on the device. See docs/agent.md.

Example:
    >>> from edgeopt.agent import measure_remote
    >>> [a.measurements[-1].latency_ms_median for a in
    ...  measure_remote(["model.onnx"], "agent://raspberrypi.local:8765", "agent.token")]
    [3.1]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AgentClient": "edgeopt.agent.client",
    "AgentUnreachable": "edgeopt.agent.client",
    "measure_remote": "edgeopt.agent.client",
    "pack_arrays": "edgeopt.agent.client",
    "describe_device": "edgeopt.agent.device",
    "AgentAddress": "edgeopt.agent.protocol",
    "parse_agent_url": "edgeopt.agent.protocol",
    "read_token": "edgeopt.agent.protocol",
    "write_token": "edgeopt.agent.protocol",
    "AgentConfig": "edgeopt.agent.server",
    "AgentServer": "edgeopt.agent.server",
    "serve": "edgeopt.agent.server",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__.
__all__ = [
    "AgentAddress",
    "AgentClient",
    "AgentConfig",
    "AgentServer",
    "AgentUnreachable",
    "describe_device",
    "measure_remote",
    "pack_arrays",
    "parse_agent_url",
    "read_token",
    "serve",
    "write_token",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.agent.client import (
        AgentClient as AgentClient,
        AgentUnreachable as AgentUnreachable,
        measure_remote as measure_remote,
        pack_arrays as pack_arrays,
    )
    from edgeopt.agent.device import describe_device as describe_device
    from edgeopt.agent.protocol import (
        AgentAddress as AgentAddress,
        parse_agent_url as parse_agent_url,
        read_token as read_token,
        write_token as write_token,
    )
    from edgeopt.agent.server import AgentConfig as AgentConfig, AgentServer as AgentServer, serve as serve
