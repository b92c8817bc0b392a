"""The contract every registered transform keeps, checked on each of them.

- its config survives a round trip through plain JSON (what lineages and recipes store);
- ``apply`` works on a small model and never changes its input;
- ``replay`` on a freshly built root reaches the shapes ``apply`` made, so a checkpoint saved
  after it reloads to the same outputs — after every ordered pair of model-changing transforms
  and after prune → distill → fuse too.
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest
import torch

from edgeopt.checkpoint import load_checkpoint, save_checkpoint
from edgeopt.data import load_dataset
from edgeopt.distill import Distill
from edgeopt.export.transform import Export
from edgeopt.fuse import Fuse
from edgeopt.lineage import Lineage
from edgeopt.models import ModelRoot, create_model
from edgeopt.models.spaces import SearchSpace, StageSpec
from edgeopt.prune import MagnitudePrune, StructuredPrune
from edgeopt.quantize import DynamicQuant, Ptq, Qat
from edgeopt.runtime.transform import Bench
from edgeopt.search.transform import Search
from edgeopt.train import Train, TrainConfig
from edgeopt.transform import BUILTIN_TRANSFORMS, Inputs, Transform, apply, parse_transform

SHORT = TrainConfig(epochs=1, max_steps=3, progress=False)
# A search over a tiny space (16×16 inputs), as whole JSON text: a few seconds on digits.
TINY_SPACE = SearchSpace(name="tiny", in_chans=1, num_classes=10, stem_channels=8, head_channels=16,
                         stages=(StageSpec(channels=8, depths=(1,), stride=1, expansions=(1,)),
                                 StageSpec(channels=16, depths=(1, 2), stride=2)),
                         widths=(0.5, 1.0), resolutions=(16,), kernels=(3,), expansions=(2,))
KWARGS = {"num_classes": 10, "in_chans": 1, "width": 8}

# One small, valid config per built-in type: a new transform must add one here.
EXAMPLES: dict[str, Transform] = {
    "train": Train(train=SHORT),
    "prune.structured": StructuredPrune(ratio=0.5, round_to=2, fine_tune=SHORT),
    "prune.magnitude": MagnitudePrune(sparsity=0.6, fine_tune=SHORT),
    "fuse": Fuse(),
    "distill": Distill(teacher="teacher", temperature=2.0, train=SHORT),
    "quantize.ptq": Ptq(calibration_samples=32),
    "quantize.qat": Qat(calibration_samples=32, train=TrainConfig(epochs=1, max_steps=2, progress=False)),
    "quantize.dynamic": DynamicQuant(),
    "export": Export(formats=["onnx"]),
    "bench": Bench(runs=4, rounds=1, warmup=1, memory=False),
    "search": Search(space=TINY_SPACE.model_dump_json(), latency="macs", trials=3, supernet_epochs=1, top_k=1,
                     finetune_epochs=0, calibration_samples=32, threads=1),
}
ARCHITECTURE = ["train", "prune.structured", "prune.magnitude", "fuse", "distill"]  # change the model
SLOW = {"quantize.qat", "search"}  # PT2E preparation and export / a whole search take tens of seconds
# Types whose example needs images of another size than digits' 8×8 (the space's resolution).
IMAGE_SIZE = {"search": 16}


@pytest.fixture(scope="module")
def digits():
    torch.set_num_threads(1)
    return load_dataset("digits", limit=300)


@pytest.fixture
def setup(digits, tmp_path):
    torch.manual_seed(0)
    model = create_model("simple_cnn", **KWARGS)
    teacher = create_model("simple_cnn", num_classes=10, in_chans=1, width=16)
    inputs = Inputs(example=digits.test.tensors[0][:1], data=digits, out_dir=tmp_path, name="m",
                    resolve=lambda name: teacher)
    lineage = Lineage(root=ModelRoot.named("simple_cnn", KWARGS), input_size=(1, 1, 8, 8))
    return model, inputs, lineage


def _sized(setup, kinds):
    """``setup`` on digits resized for the ``IMAGE_SIZE`` of any of ``kinds``."""
    size = next((IMAGE_SIZE[k] for k in kinds if k in IMAGE_SIZE), None)
    if size is None:
        return setup
    model, inputs, lineage = setup
    data = load_dataset("digits", limit=300, image_size=(size, size))
    inputs = dataclasses.replace(inputs, data=data, example=data.test.tensors[0][:1])
    return model, inputs, lineage.model_copy(update={"input_size": (1, 1, size, size)})


def _types(kinds=None):
    return [pytest.param(t, marks=pytest.mark.slow) if t in SLOW else t for t in (kinds or EXAMPLES)]


def test_every_builtin_transform_has_an_example():
    assert set(EXAMPLES) == set(BUILTIN_TRANSFORMS)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_config_round_trips_through_json(kind):
    config = EXAMPLES[kind]
    text = json.dumps(config.config())
    assert parse_transform(json.loads(text)) == config
    with pytest.raises(Exception, match="extra|not permitted"):  # a typo is an error, not ignored
        parse_transform({**config.config(), "unknown_option": 1})


@pytest.mark.parametrize("kind", _types(set(EXAMPLES) - {"bench"}))
def test_apply_keeps_the_input_and_replay_reaches_the_same_shapes(kind, setup, tmp_path):
    model, inputs, lineage = _sized(setup, [kind])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = apply(EXAMPLES[kind], model, inputs)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # input untouched
    json.dumps(result.record), json.dumps(result.report, default=str)  # plain data
    after = result.model if result.model is not None else model
    lineage = lineage.then(EXAMPLES[kind], result)
    rebuilt = lineage.build()
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in after.state_dict().items()}
    _assert_reloads(after, lineage, inputs, tmp_path / "m.pt")
    for artifact in result.artifacts:
        assert artifact.path.is_file() and artifact.size_bytes == artifact.path.stat().st_size


def test_bench_measures_the_files_it_is_given(setup):
    model, inputs, _ = setup
    exported = apply(EXAMPLES["export"], model, inputs).artifacts
    measured = apply(EXAMPLES["bench"], None, Inputs(example=inputs.example, data=inputs.data, artifacts=exported))
    (art,) = measured.artifacts
    assert art.path == exported[0].path and len(art.measurements) == 1
    assert art.measurements[0].latency_ms_median > 0 and 0 <= art.measurements[0].accuracy <= 1


# A search replaces its input's architecture: the pairs with it cost a search each, so they are slow.
SEARCH_PAIRS = [("search", k) for k in ARCHITECTURE] + [("prune.structured", "search")]


@pytest.mark.parametrize("first, second", list(itertools.product(ARCHITECTURE, repeat=2))
                         + [pytest.param(*pair, marks=pytest.mark.slow) for pair in SEARCH_PAIRS])
def test_every_ordered_pair_reloads(first, second, setup, tmp_path):
    model, inputs, lineage = _sized(setup, [first, second])
    for kind in (first, second):
        result = apply(EXAMPLES[kind], model, inputs)
        model, lineage = result.model, lineage.then(EXAMPLES[kind], result)
    _assert_reloads(model, lineage, inputs, tmp_path / "pair.safetensors")


def test_prune_distill_fuse_reloads(setup, tmp_path):
    model, inputs, lineage = setup
    for kind in ("prune.structured", "distill", "fuse"):
        result = apply(EXAMPLES[kind], model, inputs)
        model, lineage = result.model, lineage.then(EXAMPLES[kind], result)
    assert lineage.summary() == "simple_cnn → prune.structured → distill → fuse"
    _assert_reloads(model, lineage, inputs, tmp_path / "chain.pt")


def _assert_reloads(model, lineage, inputs, path):
    save_checkpoint(path, model, lineage)
    loaded = load_checkpoint(path)
    assert loaded.lineage == lineage
    x = inputs.data.test.tensors[0][:16]
    model.eval(), loaded.model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))
