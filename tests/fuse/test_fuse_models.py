"""Registry models fully fused, and the fused model through ONNX Runtime and torch.export."""

from __future__ import annotations

import pytest
import torch
from fuse_helpers import randomize_batchnorms, relative_error
from torch import nn

from edgeopt.fuse import fuse_with_report
from edgeopt.models import create_model


@pytest.mark.parametrize("name, kwargs, counts", [
    # stem + 13 pointwise convs with ReLU, 13 depthwise
    ("mobilenet_v1", {"width_mult": 0.25}, {"conv_bn_relu": 14, "depthwise_conv_bn_relu": 13}),
    # stem + 16 expansions + last conv with ReLU6, 17 depthwise, 17 linear-bottleneck projections
    ("mobilenet_v2", {"width_mult": 0.35},
     {"conv_bn_relu6": 18, "depthwise_conv_bn_relu6": 17, "conv_bn": 17}),
])
def test_mobilenets_are_fully_fused(name, kwargs, counts):
    model = randomize_batchnorms(create_model(name, num_classes=10, in_chans=1, stem_stride=1, **kwargs))
    model.eval()
    n_batchnorm = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    x = torch.randn(2, 1, 28, 28)
    fused, report = fuse_with_report(model, x)
    assert report.counts == counts and len(report.fused) == n_batchnorm == report.batchnorm_before
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert report.skipped == [] and report.batchnorm_after == 0
    with torch.no_grad():
        assert relative_error(model(x), fused(x)) <= 1e-5
    bn_params = sum(m.weight.numel() * 2 for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    conv_bias = sum(fused.get_submodule(f.into).bias.numel() for f in report.fused)  # were bias-free
    fused_params = sum(p.numel() for p in fused.parameters())
    assert fused_params == sum(p.numel() for p in model.parameters()) - bn_params + conv_bias


@pytest.mark.slow  # the dynamo ONNX exporter takes ~10 s here
def test_fused_model_exports_to_onnx_and_matches(tmp_path):
    from edgeopt.export import export_onnx

    model = randomize_batchnorms(create_model("simple_cnn", num_classes=10, in_chans=1, width=8)).eval()
    x = torch.randn(4, 1, 8, 8)
    fused, _ = fuse_with_report(model, x)
    artifact = export_onnx(fused, x[:1], tmp_path / "fused.onnx", parity_data=x)
    assert artifact.parity.passed and artifact.parity.max_rel_error < 1e-5


    from edgeopt.runtime import OnnxRuntimeRunner

    out = OnnxRuntimeRunner(artifact.path, threads=1).run(x.numpy())
    with torch.no_grad():
        assert relative_error(model(x), torch.from_numpy(out)) <= 1e-5


def test_fused_model_goes_through_torch_export():
    model = randomize_batchnorms(create_model("mobilenet_v2", num_classes=10, in_chans=1,
                                              width_mult=0.35, stem_stride=1)).eval()
    x = torch.randn(2, 1, 28, 28)
    fused, _ = fuse_with_report(model, x)
    program = torch.export.export(fused, (x,))
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert not any("batch_norm" in t for t in targets)
    with torch.no_grad():
        assert relative_error(model(x), program.module()(x)) <= 1e-5
