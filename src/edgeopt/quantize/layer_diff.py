"""``diff``: the float model against the deployed int8 file, layer by layer, on the same inputs.

"Accurate in simulation, wrong on the device": this compares what the *file* computes in its
runtime with what the float model computes, at every quantized tensor, so a loss shows where it
starts. For an ONNX QDQ file, both sides run in ONNX Runtime: the float model as edgeopt exports
it for quantization (BatchNorm folded, ORT's pre-processing: the same tensor names the quantizer
saw) and the int8 file as deployed (all graph optimizations on, so the fused int8 kernels run).
The int8 file is run with each quantizer's integer output added as a graph output: ORT still
fuses every layer (checked: the file's own outputs are bit-identical with and without the extra
outputs, and ``metadata["outputs_identical"]`` records it), and the codes are dequantized with
the file's own scales.

Per quantized tensor (in execution order), named after the PyTorch layer that makes it:

- ``accumulated_sqnr_db``: float vs file at this tensor, everything before it included (the
  error accumulated from the input to this layer);
- ``sqnr_db``: the layer alone: the file's nodes that make this tensor (e.g. its fused
  ``QLinearConv``), cut out and fed the *float* model's input to that layer (quantized as the file
  quantizes it), against the float output: what this layer itself loses;
- ``max_abs_error`` (accumulated) and ``rel_error`` (it ÷ the largest float value);
- ``saturated``: the share of float values outside the quantizer's range (clipped).

The layer that first loses the signal (``first_diverging``) is the first in execution order
whose accumulated SQNR falls below ``threshold_db`` (10 dB by default: the error's RMS is a third
of the signal's). SQNR is ``10 log10(Σ y² / Σ (y - ŷ)²)``; about 6 dB per bit.

ExecuTorch: XNNPACK runs the whole program as delegate calls whose inside ExecuTorch cannot
see, so a ``.pte`` is compared at the delegate's border (the program's output) and the result
says so (``scope="delegate border"``).

Matching: layers are matched by their weight names (for files from PT2E, by the bias names the
exporter keeps), other tensors by name when both sides agree on the op and the layer before it.
A file whose layers or output differ from the model's is refused: it was made from another model.

Example:
    >>> d = diff(model, "out/model.int8.onnx", splits.val)
    >>> d.first_diverging, d.output_sqnr_db
    (None, 31.7)
    >>> d.ranking()[0]["layer"]
    'features.0.0'
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from torch import Tensor, nn

from edgeopt.artifact import Artifact, infer_format
from edgeopt.errors import EdgeoptError
from edgeopt.quantize.diff_rows import INF_DB, diff_row_rank
from edgeopt.quantize.onnx_graph import WEIGHTED_OPS, GraphIndex, Quantizer, sqnr_db, with_outputs

DIFF_SAMPLES = 256  # inputs compared (the first ones of the data)
DIVERGE_DB = 10.0  # accumulated SQNR below which a layer has lost the signal
_BATCH = 64
_MAX_LOCAL_NODES = 24  # a "layer" cut out of the file has at most this many nodes


@dataclass
class LayerDiff:
    """The float model against a deployed file, per quantized tensor, in execution order.

    Attributes:
        rows: One dict per tensor: ``index``, ``layer``, ``op_type``, ``tensor``, ``sqnr_db``
            (the layer alone; None where it cannot be cut out), ``accumulated_sqnr_db``,
            ``max_abs_error``, ``rel_error``, ``saturated``, ``scale``, ``first`` (the marker).
        output_sqnr_db: Float vs file at the model's output.
        first_diverging: The layer that first loses the signal (None: none falls below the threshold).
        threshold_db: The accumulated SQNR below which a layer counts as diverged.
        samples: Inputs compared.
        runtime: ``"onnxruntime"`` or ``"executorch"``.
        scope: ``"per layer"`` or ``"delegate border"`` (what the runtime lets us see).
        note: What was compared, in a sentence (shown with the table).
        metadata: Anything else (files, matching).
    """

    rows: list[dict[str, Any]]
    output_sqnr_db: float
    first_diverging: str | None
    threshold_db: float
    samples: int
    runtime: str
    scope: str
    note: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def ranking(self) -> list[dict[str, Any]]:
        """Rows worst first: lowest layer-alone SQNR (the accumulated one where it is missing).

        The model's input and output rows come after every layer.
        """
        return sorted(self.rows, key=diff_row_rank)

    def layer_ranking(self) -> list[str]:
        """Weighted layers (Conv/Gemm/MatMul), the worst first: the order to keep them in float."""
        seen: list[str] = []
        for row in self.ranking():
            if row["op_type"] in WEIGHTED_OPS and row["layer"] not in seen:
                seen.append(row["layer"])
        return seen

    def table(self, limit: int | None = None, order: str = "worst") -> list[list[str]]:
        """Rows of strings: #, layer, op, SQNR alone, accumulated SQNR, max error, saturated, marker."""
        rows = self.ranking() if order == "worst" else list(self.rows)
        return [[str(r["index"]), r["layer"], r["op_type"], _db(r["sqnr_db"]), _db(r["accumulated_sqnr_db"]),
                 f"{r['max_abs_error']:.4g}", f"{r['saturated']:.2%}" if r["saturated"] is not None else "-",
                 "◀ first to lose the signal" if r.get("first") else ""]
                for r in rows[:limit]]

    def summary(self) -> str:
        """One line: output SQNR and the first diverging layer."""
        first = (f"first to lose the signal: {self.first_diverging}" if self.first_diverging
                 else f"no layer falls below {self.threshold_db:g} dB")
        return f"output SQNR {_db(self.output_sqnr_db)} dB over {self.samples} inputs ({self.scope}); {first}"

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (infinite SQNRs as None-free strings are avoided: inf -> 999)."""
        return {"rows": [{k: _json(v) for k, v in row.items()} for row in self.rows],
                "output_sqnr_db": _json(self.output_sqnr_db), "first_diverging": self.first_diverging,
                "threshold_db": self.threshold_db, "samples": self.samples, "runtime": self.runtime,
                "scope": self.scope, "note": self.note, "metadata": dict(self.metadata)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerDiff:
        """The inverse of :meth:`to_dict`."""
        keys = ("rows", "output_sqnr_db", "first_diverging", "threshold_db", "samples", "runtime", "scope", "note")
        return cls(**{k: data[k] for k in keys}, metadata=dict(data.get("metadata") or {}))


def _json(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return INF_DB if value > 0 else -INF_DB
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _db(value: float | None) -> str:
    if value is None:
        return "-"
    return "exact" if value >= INF_DB or (math.isinf(value) and value > 0) else f"{value:.1f}"


def diff(
    model: nn.Module,
    artifact: Artifact | str | os.PathLike[str],
    data: Any,
    *,
    example_input: Tensor | None = None,
    max_samples: int = DIFF_SAMPLES,
    threshold_db: float = DIVERGE_DB,
) -> LayerDiff:
    """Compare ``model`` with the int8 file made from it, per layer, on the inputs of ``data``.

    Args:
        model: The float model the file was made from (not modified).
        artifact: The deployed file (``.onnx`` QDQ, or ``.pte``), or its :class:`Artifact`.
        data: Inputs: a dataset of ``(input, label)``, a tensor or an array (the first
            ``max_samples`` are used).
        example_input: Export example (default: the first input).
        max_samples: How many inputs to compare.
        threshold_db: Accumulated SQNR below which a layer has lost the signal.

    Returns:
        A :class:`LayerDiff`.

    Raises:
        EdgeoptError: a missing or unreadable file, a file made from another model (different
            output or layers), inputs of the wrong shape or with NaN/Inf.

    Example:
        >>> diff(model, "m.int8.onnx", splits.val).first_diverging
        'features.5.pointwise.0'
    """
    from edgeopt.quantize.calibration import calibration_array
    from edgeopt.quantize.onnx_prepare import check_model

    check_model(model)
    path = Path(artifact.path if isinstance(artifact, Artifact) else artifact)
    if not path.is_file():
        raise EdgeoptError(f"the artifact {str(path)!r} does not exist", hint="pass the int8 file a command wrote")
    if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
        raise EdgeoptError(f"max_samples must be a positive integer, got {max_samples!r}")
    inputs = calibration_array(data, minimum=1)[:max_samples]
    fmt = infer_format(path)
    if fmt == "executorch":
        return _diff_pte(model, path, inputs, threshold_db)
    if fmt != "onnx":
        raise EdgeoptError(f"diff compares a model with an int8 .onnx or .pte file, not {path.name!r}",
                           hint="pass the file `edgeopt quantize` wrote")
    import torch

    from edgeopt.quantize.onnx_prepare import prepare_onnx

    example = example_input if example_input is not None else torch.from_numpy(inputs[:1])
    int8 = _load_onnx(path)
    _check_input_shape(int8, inputs, path)
    with tempfile.TemporaryDirectory(prefix="edgeopt-diff-") as tmp:
        prepared = prepare_onnx(model, example, Path(tmp))
        return diff_onnx(prepared.path, int8, inputs, threshold_db=threshold_db, artifact_name=path.name)


def _load_onnx(path: Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError and friends
        raise EdgeoptError(f"cannot read {path.name!r} as an ONNX file ({type(exc).__name__})",
                           hint="pass the .onnx file `edgeopt quantize` wrote") from exc


def _check_input_shape(proto: onnx.ModelProto, inputs: np.ndarray, path: Path) -> None:
    graph_inputs = [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    if not graph_inputs:
        raise EdgeoptError(f"{path.name!r} has no input")
    dims = graph_inputs[0].type.tensor_type.shape.dim
    want = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    have = list(inputs.shape)
    if len(want) != len(have) or any(w is not None and w != h for w, h in zip(want[1:], have[1:], strict=False)):
        raise EdgeoptError(f"the data's inputs have shape {tuple(have[1:])} but {path.name!r} takes "
                           f"{tuple(w if w is not None else '?' for w in want[1:])}",
                           hint="pass the data the model was quantized for")


@dataclass
class _Row:
    index: int
    layer: str
    op_type: str
    tensor: str  # the float tensor in the int8 file
    reference: str  # its counterpart in the fp32 file
    quantizer: Quantizer | None  # None for a float output
    local: Any = None  # (session, [(boundary tensor, fp32 name, quantizer or None)], output name)
    signal: float = 0.0
    noise: float = 0.0
    local_noise: float = 0.0
    local_signal: float = 0.0
    max_err: float = 0.0
    max_ref: float = 0.0
    clipped: int = 0
    count: int = 0


def diff_onnx(
    fp32: str | Path | onnx.ModelProto,
    int8: str | Path | onnx.ModelProto,
    inputs: np.ndarray,
    *,
    threshold_db: float = DIVERGE_DB,
    artifact_name: str = "the int8 file",
) -> LayerDiff:
    """:func:`diff` of two ONNX files: an fp32 reference and a QDQ file, on ``inputs``.

    Raises:
        EdgeoptError: the files' layers or outputs differ (made from another model).
    """
    ref_proto = fp32 if isinstance(fp32, onnx.ModelProto) else onnx.load(str(fp32))
    q_proto = int8 if isinstance(int8, onnx.ModelProto) else onnx.load(str(int8))
    ref, q = GraphIndex(ref_proto), GraphIndex(q_proto)
    mapping = _match(ref, q, artifact_name)
    rows = _rows(ref, q, mapping)
    _attach_local(q, rows, mapping)
    outputs = list(zip(q.outputs, ref.outputs, strict=False))
    ref_names = sorted({r.reference for r in rows} | {o for _, o in outputs}
                       | {b[1] for r in rows if r.local for b in r.local[1]})
    q_names = [r.quantizer.codes if r.quantizer else r.tensor for r in rows] + [o for o, _ in outputs]
    output_rows = [_Row(len(rows) + i, "output" if i == 0 else f"output {i}", "Output", q_out, ref_out, None)
                   for i, (q_out, ref_out) in enumerate(outputs)]
    identical = _accumulate(ref_proto, q_proto, ref_names, list(dict.fromkeys(q_names)), rows, output_rows, inputs)
    all_rows = [_finish(r, include_local=True) for r in rows] + [_finish(r, include_local=False) for r in output_rows]
    first = _mark_first(all_rows, threshold_db)
    output_sqnr = all_rows[len(rows)]["accumulated_sqnr_db"] if output_rows else (
        all_rows[-1]["accumulated_sqnr_db"] if all_rows else math.nan)
    note = ("float model (fp32 ONNX in ONNX Runtime) vs the int8 file as deployed (ONNX Runtime, all "
            "graph optimizations), at every quantized tensor")
    return LayerDiff(all_rows, float(output_sqnr), first, threshold_db, len(inputs), "onnxruntime", "per layer",
                     note, {"outputs_identical": identical, "matched_layers": len(mapping.layers),
                            "artifact": artifact_name})


@dataclass
class _Mapping:
    tensors: dict[str, str]  # int8 float tensor -> fp32 tensor
    layers: dict[str, str]  # layer -> int8 chain-end tensor


def _layers_of(graph: GraphIndex) -> dict[str, tuple[onnx.NodeProto, tuple[int, ...]]]:
    found: dict[str, tuple[onnx.NodeProto, tuple[int, ...]]] = {}
    for node in graph.weighted_nodes():
        layer = _layer(graph, node)
        if layer is not None:
            found[layer] = (node, _weight_shape(graph, node))
    return found


def _layer(graph: GraphIndex, node: onnx.NodeProto) -> str | None:
    """A node's layer: by its weight's name, else (PT2E exports: ``_frozen_param3``) its bias's."""
    layer = graph.layer_name(node)
    if layer is not None and not layer.startswith("_frozen_param"):
        return layer
    if len(node.input) > 2 and node.input[2]:
        bias = str(node.input[2])
        for suffix in (".weight_bias", ".bias", "_bias"):
            if bias.endswith(suffix):
                return bias[: -len(suffix)]
    return layer


def _weight_shape(graph: GraphIndex, node: onnx.NodeProto) -> tuple[int, ...]:
    name = node.input[1]
    if name in graph.initializers:
        return tuple(graph.initializers[name].dims)
    dq = graph.producer.get(name)
    if dq is not None and dq.input[0] in graph.initializers:
        return tuple(graph.initializers[dq.input[0]].dims)
    return ()


def _match(ref: GraphIndex, q: GraphIndex, artifact_name: str) -> _Mapping:
    ref_layers, q_layers = _layers_of(ref), _layers_of(q)
    missing = [name for name in q_layers if name not in ref_layers]
    extra = [name for name in ref_layers if name not in q_layers]
    if missing or extra:
        sample = (missing or extra)[:3]
        where = "is not in the model" if missing else "of the model is not in the file"
        raise EdgeoptError(
            f"{artifact_name} was made from another model: layer {', '.join(map(repr, sample))} {where}"
            + (f" ({len(missing) + len(extra) - len(sample)} more differ)" if len(missing) + len(extra) > len(sample)
               else ""),
            hint="diff the file against the model it was quantized from",
        )
    for name, (_, shape) in q_layers.items():
        if shape and ref_layers[name][1] and shape != ref_layers[name][1]:
            raise EdgeoptError(f"{artifact_name} was made from another model: layer {name!r} has weights "
                               f"{list(shape)} in the file, {list(ref_layers[name][1])} in the model",
                               hint="diff the file against the model it was quantized from")
    tensors = {q.inputs[0]: ref.inputs[0]} if q.inputs and ref.inputs else {}
    layers: dict[str, str] = {}
    for name, (node, _) in q_layers.items():
        q_end, ref_end = q.output_chain_end(node), ref.output_chain_end(ref_layers[name][0])
        tensors[q_end] = ref_end
        layers[name] = q_end
    for quantizer in q.quantizers():
        t = quantizer.tensor
        if t in tensors or t not in ref.producer:
            continue
        if q.describe(t) == ref.describe(t):  # same op after the same layer: the same tensor
            tensors[t] = t
    return _Mapping(tensors, layers)


def _rows(ref: GraphIndex, q: GraphIndex, mapping: _Mapping) -> list[_Row]:
    rows: list[_Row] = []
    for quantizer in q.quantizers():
        reference = mapping.tensors.get(quantizer.tensor)
        if reference is None:
            continue
        layer, op = q.describe(quantizer.tensor)
        rows.append(_Row(len(rows), layer, op, quantizer.tensor, reference, quantizer))
    del ref
    return rows


def _attach_local(q: GraphIndex, rows: list[_Row], mapping: _Mapping) -> None:
    """Cut each row's producing nodes out of the file, to run the layer alone on float inputs."""
    import onnxruntime as ort

    from edgeopt.runtime.onnxruntime_runner import session_options

    extractor: Any = None
    for row in rows:
        if row.quantizer is None or row.tensor in q.inputs:
            continue
        boundary = _boundary(q, row.tensor)
        if not boundary:
            continue
        feeds: list[tuple[str, str | None, Quantizer | None]] = []
        for tensor in boundary:
            if tensor in q.inputs:
                feeds.append((tensor, mapping.tensors.get(tensor), None))
                continue
            quantizer = q.quantizer_of(tensor)
            source = mapping.tensors.get(quantizer.tensor) if quantizer else None
            if quantizer is None or source is None:
                feeds = []
                break
            feeds.append((tensor, source, quantizer))
        if not feeds or any(f[1] is None for f in feeds):
            continue
        if extractor is None:  # the extractor needs every tensor's type: infer them (the file has none stored)
            extractor = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(q.proto))
        try:
            part = extractor.extract_model([f[0] for f in feeds], [row.quantizer.codes])
            session = ort.InferenceSession(part.SerializeToString(), session_options(1),
                                           providers=["CPUExecutionProvider"])
        except Exception:  # a part ORT cannot run alone: the row keeps its accumulated figures
            continue
        row.local = (session, feeds, row.quantizer.codes)


def _boundary(q: GraphIndex, tensor: str) -> list[str] | None:
    """Integer tensors (quantizer outputs) and graph inputs that ``tensor`` is computed from."""
    boundary: list[str] = []
    stack, seen, nodes = [tensor], set(), 0
    while stack:
        name = stack.pop()
        if name in seen or not name or name in q.initializers:
            continue
        seen.add(name)
        node = q.producer.get(name)
        if node is None:
            boundary.append(name)
            continue
        if node.op_type == "QuantizeLinear" and name != tensor:
            boundary.append(name)
            continue
        nodes += 1
        if nodes > _MAX_LOCAL_NODES:
            return None
        stack.extend(node.input)
    return boundary


def _accumulate(ref_proto: onnx.ModelProto, q_proto: onnx.ModelProto, ref_names: list[str], q_names: list[str],
                rows: list[_Row], output_rows: list[_Row], inputs: np.ndarray) -> bool:
    """Run both files batch by batch and add each row's error sums; return whether the int8
    file's own outputs were bit-identical with the extra outputs added."""
    import onnxruntime as ort

    from edgeopt.runtime.onnxruntime_runner import session_options

    def session(proto: onnx.ModelProto) -> Any:
        try:
            return ort.InferenceSession(proto.SerializeToString(), session_options(1),
                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT's own exception types
            raise EdgeoptError(f"ONNX Runtime cannot load the model: {str(exc).splitlines()[0][:300]}") from exc

    ref_session = session(with_outputs(ref_proto, ref_names))
    q_session = session(with_outputs(q_proto, q_names))
    plain = session(q_proto)
    ref_in, q_in = ref_session.get_inputs()[0].name, q_session.get_inputs()[0].name
    identical = True
    out_names = [r.tensor for r in output_rows]
    for start in range(0, len(inputs), _BATCH):
        batch = inputs[start : start + _BATCH]
        ref_values = dict(zip(ref_names, ref_session.run(ref_names, {ref_in: batch}), strict=True))
        q_values = dict(zip(q_names, q_session.run(q_names, {q_in: batch}), strict=True))
        own = plain.run(out_names, {q_in: batch})
        identical &= all(np.array_equal(a, q_values[n]) for a, n in zip(own, out_names, strict=True))
        for row in rows:
            reference = np.asarray(ref_values[row.reference], np.float64)
            quantizer = row.quantizer
            got = (quantizer.dequantize(q_values[quantizer.codes]) if quantizer
                   else np.asarray(q_values[row.tensor], np.float64))
            _add(row, reference, got)
            if quantizer is not None:
                row.clipped += round(quantizer.saturated(reference) * reference.size)
            if row.local is not None:
                local_session, feeds, out = row.local
                feed = {name: (quant.quantize(ref_values[src]) if quant else ref_values[src].astype(np.float32))
                        for name, src, quant in feeds}
                local = local_session.run([out], feed)[0]
                alone = quantizer.dequantize(local) if quantizer else np.asarray(local, np.float64)
                row.local_signal += float(np.sum(reference**2))
                row.local_noise += float(np.sum((reference - alone) ** 2))
        for holder in output_rows:
            _add(holder, np.asarray(ref_values[holder.reference], np.float64),
                 np.asarray(q_values[holder.tensor], np.float64))
    return identical


def _add(row: _Row, reference: np.ndarray, got: np.ndarray) -> None:
    error = np.abs(reference - got)
    row.signal += float(np.sum(reference**2))
    row.noise += float(np.sum(error**2))
    row.max_err = max(row.max_err, float(np.max(error)) if error.size else 0.0)
    row.max_ref = max(row.max_ref, float(np.max(np.abs(reference))) if reference.size else 0.0)
    row.count += int(reference.size)


def _ratio_db(signal: float, noise: float) -> float:
    if noise == 0:
        return math.inf
    return 10.0 * math.log10(signal / noise) if signal > 0 else -math.inf


def _finish(row: _Row, include_local: bool) -> dict[str, Any]:
    local = _ratio_db(row.local_signal, row.local_noise) if include_local and row.local is not None else None
    scale = float(np.max(row.quantizer.scale)) if row.quantizer is not None else None
    return {
        "index": row.index, "layer": row.layer, "op_type": row.op_type, "tensor": row.tensor,
        "sqnr_db": local, "accumulated_sqnr_db": _ratio_db(row.signal, row.noise),
        "max_abs_error": row.max_err, "rel_error": row.max_err / row.max_ref if row.max_ref > 0 else 0.0,
        "saturated": (row.clipped / row.count if row.count else 0.0) if row.quantizer is not None else None,
        "scale": scale, "first": False,
    }


def _mark_first(rows: list[dict[str, Any]], threshold_db: float) -> str | None:
    for row in rows:
        if row["accumulated_sqnr_db"] < threshold_db:
            row["first"] = True
            return str(row["layer"])
    return None


def _diff_pte(model: nn.Module, path: Path, inputs: np.ndarray, threshold_db: float) -> LayerDiff:
    """A ``.pte`` compared at its delegate border: the eager model's output vs the program's."""
    import torch

    from edgeopt.runtime.executorch_runner import ExecuTorchRunner
    from edgeopt.utils.modes import preserve_modes

    runner = ExecuTorchRunner(path, threads=1)
    try:
        expected = runner.example_shape(1)
        if expected is not None and tuple(expected[1:]) != tuple(inputs.shape[1:]):
            raise EdgeoptError(f"the data's inputs have shape {tuple(inputs.shape[1:])} but {path.name!r} takes "
                               f"{tuple(expected[1:])}", hint="pass the data the model was quantized for")
        got = np.asarray(runner.run(inputs), np.float64)
    finally:
        runner.close()
    with preserve_modes(model), torch.inference_mode():
        model.eval()
        reference = model(torch.from_numpy(inputs)).detach().cpu().numpy().astype(np.float64)
    if reference.shape != got.shape:
        raise EdgeoptError(f"{path.name!r} was made from another model: it outputs {tuple(got.shape[1:])} per "
                           f"input, the model {tuple(reference.shape[1:])}",
                           hint="diff the file against the model it was quantized from")
    row = _Row(0, "output", "Output", "output", "output", None)
    _add(row, reference, got)
    done = _finish(row, include_local=False)
    first = _mark_first([done], threshold_db)
    note = ("eager float model vs the .pte in the ExecuTorch runtime at the XNNPACK delegate's border (the "
            "program's output): ExecuTorch cannot see inside a delegate, so no per-layer figures")
    return LayerDiff([done], float(done["accumulated_sqnr_db"]), first, threshold_db, len(inputs), "executorch",
                     "delegate border", note, {"artifact": path.name, "sqnr_check": sqnr_db(reference, got)})
