"""Mapping kernels and graph nodes back to model layers, on hand-made graphs and traces (no runtime)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeopt.runtime.layer_map import (
    LayerRow,
    OnnxGraph,
    map_onnx_nodes,
    map_ordered_kernels,
    module_path,
    op_class,
    segments_of,
)

ROWS = [
    LayerRow("stem.0", "Conv2d", True), LayerRow("stem.1", "BatchNorm2d"), LayerRow("stem.2", "Hardswish"),
    LayerRow("b.dw.0", "Conv2d(dw)", True, True), LayerRow("b.dw.1", "BatchNorm2d"), LayerRow("b.dw.2", "ReLU"),
    LayerRow("b.project.0", "Conv2d", True), LayerRow("b.project.1", "BatchNorm2d"), LayerRow("b.add", "add"),
    LayerRow("pool", "AdaptiveAvgPool2d"), LayerRow("flatten", "flatten"),
    LayerRow("fc", "Linear", True),
]


def _graph(quantized: bool = False) -> onnx.ModelProto:
    """stem conv → hardswish → dw conv → relu → project conv → + stem output → mean → reshape → gemm."""
    inits = [numpy_helper.from_array(np.zeros(s, "float32"), n) for n, s in (
        ("stem.0.weight", (4, 3, 3, 3)), ("b.dw.0.weight", (4, 1, 3, 3)), ("b.project.0.weight", (4, 4, 1, 1)),
        ("fc.weight", (2, 4)), ("shape", (2,)), ("axes", (2,)))]
    nodes = []
    x = "input"
    if quantized:  # the input's quantize pair and a weight's DequantizeLinear, as ORT's QDQ files have them
        nodes += [helper.make_node("QuantizeLinear", ["input", "s", "z"], ["input_q"], name="input_QuantizeLinear"),
                  helper.make_node("DequantizeLinear", ["input_q", "s", "z"], ["input_dq"],
                                   name="input_DequantizeLinear"),
                  helper.make_node("DequantizeLinear", ["stem.0.weight_quantized", "s", "z"], ["stem_w"],
                                   name="stem.0.weight_DequantizeLinear")]
        x = "input_dq"
    nodes += [
        helper.make_node("Conv", [x, "stem_w" if quantized else "stem.0.weight"], ["c0"], name="node_Conv_1"),
        helper.make_node("HardSwish", ["c0"], ["hs"], name="n0"),
        helper.make_node("Conv", ["hs", "b.dw.0.weight"], ["c1"], name="node_Conv_2", group=4),
        helper.make_node("Relu", ["c1"], ["r1"], name="node_relu"),
        helper.make_node("Conv", ["r1", "b.project.0.weight"], ["c2"], name="node_Conv_3"),
        helper.make_node("Add", ["hs", "c2"], ["add"], name="node_add"),
        helper.make_node("ReduceMean", ["add", "axes"], ["mean"], name="node_mean"),
        helper.make_node("Reshape", ["mean", "shape"], ["view"], name="node_reshape"),
        helper.make_node("Gemm", ["view", "fc.weight"], ["logits"], name="node_linear", transB=1),
    ]
    if quantized:
        inits += [numpy_helper.from_array(np.zeros((4, 3, 3, 3), "int8"), "stem.0.weight_quantized"),
                  numpy_helper.from_array(np.ones((), "float32"), "s"),
                  numpy_helper.from_array(np.zeros((), "uint8"), "z")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2])], inits)
    return helper.make_model(graph)


def test_op_classes():
    assert op_class("Conv2d(dw)") == "dwmac"
    assert op_class("Convolution (NHWC, F32) DWConv") == "dwmac"
    assert op_class("Fully Connected (NC, QS8) GEMM") == "mac"
    assert op_class("QLinearConv") == "mac"
    assert op_class("ReLU6") == op_class("Clip") == op_class("Clamp (NC)") == "act"
    assert op_class("AdaptiveAvgPool2d") == op_class("ReduceMean") == op_class("Global Average Pooling (NWC)") == "pool"
    assert op_class("DequantizeLinear") == op_class("Convert (NC, F32, QD8)") == "qdq"
    assert op_class("ReorderOutput") == op_class("Transpose (ND, X32)") == "layout"


def test_module_path_of_weights():
    assert module_path("features.3.conv.0.weight") == "features.3.conv.0"
    assert module_path("b1.dw.0.weight_quantized") == "b1.dw.0"
    assert module_path("classifier.bias") == "classifier"


def test_segments_are_mac_rows_and_their_tails():
    segments = segments_of(ROWS)
    assert segments["stem.2"] == "stem.0"
    assert segments["b.add"] == "b.project.0"
    assert segments["flatten"] == "b.project.0"
    assert segments["fc"] == "fc"


def test_every_onnx_node_maps_to_the_right_row():
    mapping = map_onnx_nodes(OnnxGraph(_graph()), ROWS)
    assert mapping.method == "weights+tails" and not mapping.note
    assert mapping.node_rows == {
        "node_Conv_1": "stem.0", "n0": "stem.2", "node_Conv_2": "b.dw.0", "node_relu": "b.dw.2",
        "node_Conv_3": "b.project.0", "node_add": "b.add", "node_mean": "pool", "node_reshape": "flatten",
        "node_linear": "fc"}


def test_quantize_nodes_join_the_layer_they_feed_or_follow():
    mapping = map_onnx_nodes(OnnxGraph(_graph(quantized=True)), ROWS)
    assert mapping.node_rows["input_QuantizeLinear"] == "stem.0"
    assert mapping.node_rows["stem.0.weight_DequantizeLinear"] == "stem.0"
    assert all(mapping.node_rows.values())


def test_without_a_model_nodes_are_rows_named_by_their_weights():
    mapping = map_onnx_nodes(OnnxGraph(_graph()), None)
    assert mapping.method == "graph"
    assert mapping.node_rows["node_Conv_2"] == "b.dw.0"
    assert mapping.segments["node_add"] == "b.project.0"  # the add follows the project conv's output


def test_ordered_kernels_map_by_mac_order_and_tail_kind():
    kernels = [("Transpose #1", "Transpose (ND, X32)"), ("Conv #1", "Convolution (NHWC, F32) IGEMM"),
               ("HardSwish #1", "HardSwish (NC)"), ("DWConv #1", "Convolution (NHWC, F32) DWConv"),
               ("FC #1", "Fully Connected (NC, F32) GEMM"), ("Add #1", "Add (ND)"), ("Mean #1", "Mean (ND)"),
               ("FC #2", "Fully Connected (NC, F32) GEMM")]
    mapping = map_ordered_kernels(kernels, ROWS)
    assert mapping.method == "order"
    assert mapping.kernel_rows == {"Transpose #1": "stem.0", "Conv #1": "stem.0", "HardSwish #1": "stem.2",
                                   "DWConv #1": "b.dw.0", "FC #1": "b.project.0", "Add #1": "b.add",
                                   "Mean #1": "pool", "FC #2": "fc"}


def test_ordered_kernels_that_do_not_line_up_are_shown_as_they_are():
    short = map_ordered_kernels([("Conv #1", "Convolution (NHWC, F32) IGEMM")], ROWS)
    assert short.method == "kernels" and "1 MAC kernels for 4 MAC layers" in short.note
    assert short.kernel_rows == {"Conv #1": "Conv #1"}
    swapped = map_ordered_kernels([("c", "Convolution IGEMM"), ("d", "Convolution IGEMM"), ("e", "Convolution IGEMM"),
                                   ("f", "Fully Connected")], ROWS)
    assert swapped.method == "kernels" and "depthwise" in swapped.note
