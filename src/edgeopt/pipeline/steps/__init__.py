"""The step types that come with edgeopt, one module each; importing this registers them.

Each module holds the step's pydantic options and its ``run``; the library API it calls
(``edgeopt.fuse``, ``edgeopt.prune``, ...) is imported inside ``run``, so validating a recipe
never imports torch.onnx, ExecuTorch or ONNX Runtime's quantization tools.
"""

from edgeopt.pipeline.steps import (  # noqa: F401 (imported to register)
    bench,
    distill,
    export,
    fuse,
    prune_magnitude,
    prune_structured,
    quantize_ptq,
    quantize_qat,
    train,
)
