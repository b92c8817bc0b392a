"""ExecuTorch export: parity with eager, delegation recorded, atomic writes, named operators."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgeopt import export
from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError
from edgeopt.export.executorch_export import executorch_error

pytestmark = pytest.mark.slow  # lowering to XNNPACK takes 10-30 s per model on a busy machine


@pytest.fixture(scope="session")
def cnn_pte(trained_cnn, digits, tmp_path_factory) -> Artifact:
    path = tmp_path_factory.mktemp("pte") / "cnn.pte"
    return export.executorch(trained_cnn, torch.zeros(1, 1, 8, 8), path, parity_data=digits.test.tensors[0][:32])


def test_fp32_pte_matches_eager_and_is_fully_delegated(cnn_pte):
    assert cnn_pte.format == "executorch" and cnn_pte.precision == "fp32"
    assert cnn_pte.parity.passed and cnn_pte.parity.max_abs_error < 1e-4
    assert cnn_pte.parity.top1_agreement == 1.0 and cnn_pte.parity.n_samples == 1 + 6 + 32
    delegation = cnn_pte.metadata["delegation"]
    assert delegation["delegated_nodes"] > 0 and delegation["non_delegated_nodes"] == 0
    assert cnn_pte.path.read_bytes()[4:6] == b"ET"
    assert Artifact.from_file(cnn_pte.path).format == "executorch"  # .pte suffix known


def test_unsupported_operator_is_named_and_nothing_is_written(tmp_path):
    @torch.library.custom_op("edgeopt_test::twice", mutates_args=())
    def twice(x: torch.Tensor) -> torch.Tensor:
        return x * 2

    twice.register_fake(lambda x: torch.empty_like(x))

    class Custom(nn.Module):
        def forward(self, x):
            return twice(x) + 1

    path = tmp_path / "custom.pte"
    with pytest.raises(EdgeoptError, match="operator 'edgeopt_test::twice'"):
        export.executorch(Custom(), torch.zeros(1, 4), path)
    assert list(tmp_path.iterdir()) == []


def test_error_names_core_aten_violations():
    err = executorch_error(nn.Linear(2, 2), RuntimeError(
        "Operator torch._ops.aten._linalg_eigh.default is not in Core ATen opset"))
    assert "aten._linalg_eigh.default" in err.message and "Linear" in err.message
