"""When folding a BatchNorm into the layer before it is exact, and why not when it is not.

Folding rewrites the producer's weights so that ``producer'(x) == bn(producer(x))``. That holds
for every input only if:

- the producer's output goes nowhere but the BatchNorm (another consumer would start seeing
  normalised values);
- the producer module is called once in the graph (a shared layer would be normalised at its
  other call sites too) and its parameters are not read elsewhere (``get_attr``);
- the BatchNorm normalises with fixed running statistics (``track_running_stats=True``; without
  them eval mode normalises with each batch's own statistics, which no fixed weights reproduce);
- the BatchNorm's channels are the producer's output channels (for Linear: a 2-D output).

``affine=False`` BatchNorms fold fine (scale 1, shift 0). The model is always folded in eval
mode (see :mod:`.fuser`).

Example:
    >>> why_not_foldable(candidate, dict(gm.named_modules()), gm.graph)  # None: safe to fold
"""

from __future__ import annotations

from torch import fx, nn
from torch.nn.modules.batchnorm import _BatchNorm

from edgeopt.fuse.pattern import CONV_TYPES, Candidate, FoldableLayer, Modules
from edgeopt.fuse.trace import output_shape


def why_not_foldable(candidate: Candidate, modules: Modules, graph: fx.Graph) -> str | None:
    """Return why ``candidate`` must not be folded, or None when folding it is exact."""
    producer, bn_node = candidate.producer, candidate.bn
    layer, bn = modules[str(producer.target)], modules[str(bn_node.target)]
    if not isinstance(layer, (nn.Linear, *CONV_TYPES)) or not isinstance(bn, _BatchNorm):
        return f"{bn_node.target!r} is not a BatchNorm after a conv or linear layer"
    others = [u.name for u in producer.users if u is not bn_node]
    if others:
        return f"the output of {producer.target!r} also feeds {', '.join(others)}"
    if len(bn_node.args) != 1 or bn_node.kwargs:
        return f"{bn_node.target!r} is called with extra arguments"
    calls = [n for n in graph.nodes if n.op == "call_module" and n.target == producer.target]
    if len(calls) > 1:
        return f"{producer.target!r} is called {len(calls)} times (shared weights)"
    prefix = f"{producer.target}."
    if any(n.op == "get_attr" and str(n.target).startswith(prefix) for n in graph.nodes):
        return f"the parameters of {producer.target!r} are also read directly"
    if bn.running_mean is None or bn.running_var is None:
        return (f"{bn_node.target!r} has no running statistics (track_running_stats=False): it "
                "normalises with batch statistics even in eval mode")
    return _channel_mismatch(producer, layer, bn)


def _channel_mismatch(producer: fx.Node, layer: FoldableLayer, bn: _BatchNorm) -> str | None:
    channels = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
    if bn.num_features != channels:
        return f"BatchNorm has {bn.num_features} features, {producer.target!r} {channels} outputs"
    if isinstance(layer, nn.Linear):
        shape = output_shape(producer)
        if shape is None or len(shape) != 2:
            return (f"the output of {producer.target!r} has shape {shape}: BatchNorm1d normalises "
                    "dim 1, which is the Linear's features only for 2-D outputs")
    return None
