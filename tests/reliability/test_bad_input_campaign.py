"""The bad-input campaign (issue 11): every command, fed what a user gets wrong.

Each case runs the real CLI in-process against one shared workspace (a checkpoint, an .onnx
file, recipes, datasets, earlier outputs) and checks what every user error must do:

- exit code 2, exactly one ``error:`` line (and at most one ``  hint:`` line), no traceback;
- the message is the one for this mistake (``match``), not some later failure;
- nothing in the workspace is written, replaced, removed or even rewritten (bytes and mtimes
  of every file compared), so no work was done and no half-written file is left.

Memory limits are checked against the machine's available memory; the few cases whose outcome
would depend on the machine set it (``memory``) by patching the one function that reads it.
"""

from __future__ import annotations

import shlex
import textwrap
from pathlib import Path

import numpy as np
import pytest
from campaign_support import RunCli, assert_untouched, assert_user_error, run_cli, snapshot

from edgeopt.checkpoint import save_checkpoint
from edgeopt.data import load_dataset
from edgeopt.loading import open_model
from edgeopt.utils import memory as memory_check

__all__ = ["run_cli"]  # the fixture, imported for pytest

MiB = 2**20


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace every case runs in (and must leave exactly as it was)."""
    root = tmp_path_factory.mktemp("campaign")
    data = load_dataset("digits")
    opened = open_model("simple_cnn", data=data)
    (root / "base").mkdir()
    save_checkpoint(root / "base" / "model.pt", opened.model, opened.lineage, input_size=data.input_shape(1),
                    metadata={"dataset": "digits"})
    _write_onnx(root / "base" / "model.onnx")
    (root / "base" / "notes.json").write_text("{}\n", encoding="utf-8")
    (root / "taken").mkdir()
    (root / "taken" / "model.pt").write_bytes(b"an earlier output")
    (root / "notrun").mkdir()
    (root / "notrun" / "thesis.tex").write_text("precious", encoding="utf-8")
    (root / "a_file").write_text("not a directory", encoding="utf-8")
    for name in ("existing.pt", "existing.png", "existing.html", "existing.onnx"):
        (root / name).write_bytes(b"keep me")
    rng = np.random.default_rng(0)
    np.savez(root / "one.npz", x=rng.random((1, 1, 8, 8), dtype=np.float32), y=np.array([0]))
    np.savez(root / "three.npz", x=rng.random((3, 1, 8, 8), dtype=np.float32), y=np.array([0, 1, 1]))
    recipes = {
        "width0": "model: {source: mobilenet_v1, kwargs: {width_mult: 0, stem_stride: 1}}\ndata: digits\n",
        "halfwidth": "model: {source: mobilenet_v1, kwargs: {width_mult: half}}\ndata: digits\n",
        "classes0": "model: {source: simple_cnn, kwargs: {num_classes: 0}}\ndata: digits\n",
        "bigimages": "model: simple_cnn\ndata: {name: digits, image_size: [1000000, 1000000]}\n",
        "floatimages": "model: simple_cnn\ndata: {name: digits, image_size: [1e6, 1e6]}\n",
        "zeroimages": "model: simple_cnn\ndata: {name: digits, image_size: [0, 8]}\n",
        "lr": "model: simple_cnn\ntrain: {epochs: 1, lr: -0.1}\ndata: digits\n",
        "epochs0": "model: simple_cnn\ntrain: {epochs: 0}\ndata: digits\n",
        "tiny": f"model: simple_cnn\ntrain: {{epochs: 1}}\ndata: {root / 'one.npz'}\n",
        "nofile": "model: missing/model.pt\ndata: digits\n",
        "noweights": "model: {source: simple_cnn, weights: missing.safetensors}\ndata: digits\n",
        "steptype": "model: simple_cnn\ndata: digits\nsteps:\n  - type: prune.structurd\n",
        "stepvalue": "model: simple_cnn\ndata: digits\nsteps:\n  - type: prune.structured\n    ratio: 1.5\n",
        "stepmodel": "model: simple_cnn\ndata: digits\nsteps:\n  - type: train\n"
                     "    model: {source: mobilenet_v2, kwargs: {dropout: 1.5}}\n",
        "limit0": "model: simple_cnn\ndata: {name: digits, limit: 0}\n",
        "fractions": "model: simple_cnn\ndata: {name: digits, val_fraction: 0.5, test_fraction: 0.6}\n",
        "target": "model: simple_cnn\ndata: digits\ntarget: raspberry-pi-9\n",
        "noval": "model: simple_cnn\ntrain: {epochs: 1}\ndata: {name: digits, val_fraction: 0}\n",
        "ok": "model: simple_cnn\ndata: digits\n",
        "channels": "model: {source: simple_cnn, kwargs: {in_chans: 3}}\ndata: digits\n",
        "deep": "model: simple_cnn\ndata: digits\nx: " + "[" * 200 + "]" * 200 + "\n",
    }
    for name, text in recipes.items():
        (root / f"r_{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _write_onnx(path: Path) -> None:
    """A small valid classifier for 1×8×8 inputs (flatten, matmul): built by hand in milliseconds."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).random((64, 10), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


# (id, arguments ({ws} is the workspace), regex the error must match[, available memory to pretend])
CASES: list[tuple[str, str, str] | tuple[str, str, str, int]] = [
    # --- train ------------------------------------------------------------------------------
    ("train-unknown-option", "train simple_cnn --data digits -a width_mult=1 -o {ws}/t",
     r"model 'simple_cnn' does not take 'width_mult'.*\n  hint: it accepts: num_classes, in_chans, width"),
    ("train-width-not-a-number", "train mobilenet_v1 --data digits -a width_mult=half -o {ws}/t",
     r"width_mult='half' of 'mobilenet_v1' is not a finite number"),
    ("train-width-zero", "train mobilenet_v1 --data digits -a width_mult=0 -o {ws}/t",
     r"width_mult=0 of 'mobilenet_v1' is out of range \(it must be a number > 0 and ≤ 10\)"),
    ("train-width-negative", "train mobilenet_v1 --data digits -a width_mult=-0.5 -o {ws}/t",
     r"width_mult=-0.5 .* out of range"),
    ("train-width-inf", "train mobilenet_v1 --data digits -a width_mult=.inf -o {ws}/t",
     r"width_mult=inf .* not a finite number"),
    ("train-width-bool", "train mobilenet_v1 --data digits -a width_mult=true -o {ws}/t",
     r"width_mult=True .* not a finite number"),
    ("train-classes-zero", "train simple_cnn --data digits -a num_classes=0 -o {ws}/t", r"0 classes|num_classes"),
    ("train-classes-huge", "train simple_cnn --data digits -a num_classes=1e11 -o {ws}/t",
     r"num_classes=100,000,000,000 of 'simple_cnn' is out of range"),
    ("train-classes-fraction", "train simple_cnn --data digits -a num_classes=2.5 -o {ws}/t",
     r"num_classes=2.5 .* not an integer"),
    ("train-width-zero-cnn", "train simple_cnn --data digits -a width=0 -o {ws}/t", r"width=0 .* out of range"),
    ("train-channels-mismatch", "train simple_cnn --data digits -a in_chans=3 -o {ws}/t",
     r"model expects 3 input channels but dataset 'digits' has 1"),
    ("train-option-not-kv", "train simple_cnn --data digits -a width -o {ws}/t", r"'width' is not KEY=VALUE"),
    ("train-lr-negative", "train simple_cnn --data digits --lr -0.1 -o {ws}/t",
     r"TrainConfig: field 'lr': input should be greater than 0 \(got -0.1\)"),
    ("train-lr-nan", "train simple_cnn --data digits --lr nan -o {ws}/t", r"field 'lr': input should be a finite"),
    ("train-lr-not-a-number", "train simple_cnn --data digits --lr .inf -o {ws}/t",
     r"Invalid value for '--lr'.*\n  hint: see 'edgeopt train --help'"),
    ("train-epochs-zero", "train simple_cnn --data digits --epochs 0 -o {ws}/t", r"'--epochs'"),
    ("train-batch-zero", "train simple_cnn --data digits --batch-size 0 -o {ws}/t", r"'--batch-size'"),
    ("train-one-image", "train simple_cnn --data {ws}/one.npz -o {ws}/t",
     r"dataset 'one' is too small: its 1 sample split into train 1, val 0, test 0"),
    ("train-three-images", "train simple_cnn --data {ws}/three.npz -o {ws}/t",
     r"dataset 'three' is too small: .* the val split is empty"),
    ("train-unknown-data", "train simple_cnn --data digitz -o {ws}/t", r"unknown dataset 'digitz'.*'digits'"),
    ("train-empty-data", "train simple_cnn --data '' -o {ws}/t", r"--data is empty"),
    ("train-empty-model", "train '' --data digits -o {ws}/t", r"the model is empty"),
    ("train-out-taken", "train simple_cnn --data digits -o {ws}/taken",
     r"output directory holds earlier outputs: .*taken"),
    ("train-over-input", "train {ws}/base/model.pt --data digits -o {ws}/base --force",
     r"refusing to write over the input"),
    ("train-out-is-file", "train simple_cnn --data digits -o {ws}/a_file", r"output directory .*a_file' is a file"),
    ("train-out-under-a-file", "train simple_cnn --data digits -o {ws}/a_file/sub",
     r"cannot write the output .*: .*a_file' is a file, not a folder"),
    ("export-out-under-a-file", "export {ws}/base/model.pt -o {ws}/a_file/m.onnx", r"a_file' is a file, not a folder"),
    ("train-missing-model", "train --data digits -o {ws}/t", r"Missing argument"),
    ("train-unknown-flag", "train simple_cnn --epoch 3 -o {ws}/t", r"No such option: --epoch"),
    ("train-unknown-model", "train mobilenet_v3 --data digits -o {ws}/t", r"unknown model 'mobilenet_v3'"),
    ("train-weights-missing", "train simple_cnn --data digits -w {ws}/nope.safetensors -o {ws}/t", r"nope"),
    # --- profile ----------------------------------------------------------------------------
    ("profile-classes-zero", "profile mobilenet_v1 -a num_classes=0", r"num_classes=0 .* out of range"),
    ("profile-classes-huge", "profile mobilenet_v1 -a num_classes=100000000000", r"num_classes=100,000,000,000"),
    ("profile-weights-beyond-memory", "profile mobilenet_v1 -a width_mult=10 -a num_classes=1000000",
     r"model 'mobilenet_v1' with .* needs at least 39\.\d+ GiB of memory, but this machine has 1\.00 GiB", 2**30),
    ("profile-input-beyond-memory", "profile simple_cnn --input-size 3,1000000,1000000",
     r"an input of size 1×3×1000000×1000000 needs at least 10\.91 TiB of memory"),
    ("profile-layer-beyond-memory", "profile mobilenet_v1 --input-size 3,1200,1200",
     r"layer '.*': its input and output\) needs at least .* MiB of memory, but this machine has 100\.00 MiB",
     100 * MiB),
    ("profile-input-not-a-size", "profile simple_cnn --input-size 3,x,8", r"'3,x,8' is not C,H,W"),
    ("profile-input-zero", "profile simple_cnn --input-size 0,8,8", r"'0,8,8' is not C,H,W"),
    ("profile-dropout", "profile mobilenet_v1 -a dropout=2", r"dropout=2 .* \(it must be a number ≥ 0 and < 1\)"),
    ("profile-stride-zero", "profile mobilenet_v1 -a stem_stride=0", r"stem_stride=0 .* out of range"),
    ("profile-v2-width-zero", "profile mobilenet_v2 -a width_mult=0", r"'mobilenet_v2' is out of range"),
    ("profile-option-for-a-file", "profile {ws}/base/model.pt -a width=3", r"do not apply to the saved model"),
    ("profile-option-for-onnx", "profile {ws}/base/model.onnx -a width=3", r"-a/--weights do not apply"),
    ("profile-missing-file", "profile {ws}/missing.pt", r"model file .*missing.pt' does not exist"),
    ("profile-no-model", "profile", r"missing MODEL"),
    ("profile-empty-model", "profile ''", r"the model is empty"),
    ("profile-empty-input-size", "profile simple_cnn --input-size ''", r"input size '' is not C,H,W"),
    ("profile-bad-layer", "profile --compare-conv --layer 1,2", r"layer '1,2' is not IN,OUT,KERNEL,SIZE"),
    ("profile-negative-rows", "profile simple_cnn --max-rows -1", r"'--max-rows'"),
    # --- fuse -------------------------------------------------------------------------------
    ("fuse-over-input", "fuse {ws}/base/model.pt -o {ws}/base/model.pt", r"refusing to write over the input"),
    ("fuse-bad-suffix", "fuse {ws}/base/model.pt -o {ws}/fused.txt", r"don't know how to save 'fused.txt'"),
    ("fuse-out-exists", "fuse {ws}/base/model.pt -o {ws}/existing.pt", r"output file exists: .*existing.pt"),
    ("fuse-input-beyond-memory", "fuse {ws}/base/model.pt --input-size 1,100000,100000 -o {ws}/f.pt",
     r"an input of size 1×1×100000×100000 needs at least 37\.25 GiB", 2**30),
    ("fuse-bad-option", "fuse mobilenet_v1 -a width_mult=0 -o {ws}/f.pt", r"width_mult=0 .* out of range"),
    # --- export -----------------------------------------------------------------------------
    ("export-out-exists", "export {ws}/base/model.pt -o {ws}/existing.onnx", r"output file exists"),
    ("export-over-input", "export {ws}/base/model.pt -o {ws}/base/model.pt", r"onnx files are named NAME.onnx"),
    ("export-opset-old", "export {ws}/base/model.pt --opset 3 -o {ws}/m.onnx",
     r"Export: field 'opset': input should be greater than or equal to 18"),
    ("export-opset-future", "export {ws}/base/model.pt --opset 99999 -o {ws}/m.onnx",
     r"opset 99999 is newer than the installed onnx knows \(at most \d+\)"),
    ("export-unknown-format", "export {ws}/base/model.pt -f tflite -o {ws}/m.tflite", r"unknown format 'tflite'"),
    ("export-input-beyond-memory", "export simple_cnn --input-size 1,1000000,1000000 -o {ws}/m.onnx",
     r"needs at least 3\.64 TiB"),
    # --- bench ------------------------------------------------------------------------------
    ("bench-runs-zero", "bench {ws}/base/model.onnx --runs 0 --no-memory", r"Bench: field 'runs'"),
    ("bench-threads-zero", "bench {ws}/base/model.onnx --threads 0 --no-memory", r"Bench: field 'threads'"),
    ("bench-warmup-negative", "bench {ws}/base/model.onnx --warmup -1 --no-memory", r"Bench: field 'warmup'"),
    ("bench-batch-beyond-memory", "bench {ws}/base/model.onnx --batch-size 100000000 --no-memory",
     r"a timing batch of 100,000,000 samples needs at least 71\.53 GiB of memory", 2**30),
    ("bench-missing-file", "bench {ws}/missing.onnx --no-memory", r"artifact .*missing.onnx' does not exist"),
    ("bench-unknown-format", "bench {ws}/base/notes.json --no-memory", r"cannot tell the format of"),
    ("bench-wrong-data", "bench {ws}/base/model.onnx --data mnist5k --runs 1 --no-memory",
     r"takes inputs of shape \(1, 8, 8\) but dataset 'mnist5k' has \(1, 28, 28\)"),
    # --- prune ------------------------------------------------------------------------------
    ("prune-ratio-zero", "prune {ws}/base/model.pt --data digits --ratio 0 -o {ws}/p",
     r"StructuredPrune: field 'ratio': input should be greater than 0"),
    ("prune-ratio-above-one", "prune {ws}/base/model.pt --data digits --ratio 1.5 -o {ws}/p",
     r"field 'ratio': input should be less than 1"),
    ("prune-ratio-nan", "prune {ws}/base/model.pt --data digits --ratio nan -o {ws}/p", r"field 'ratio'"),
    ("prune-lr-negative", "prune {ws}/base/model.pt --data digits --lr -1 -o {ws}/p",
     r"TrainConfig: field 'lr': input should be greater than 0"),
    ("prune-threads-zero", "prune {ws}/base/model.pt --data digits --threads 0 -o {ws}/p", r"'--threads'"),
    ("prune-unknown-method", "prune {ws}/base/model.pt --data digits --method random -o {ws}/p",
     r"unknown pruning method 'random'"),
    ("prune-unknown-importance", "prune {ws}/base/model.pt --data digits --importance l3 -o {ws}/p",
     r"unknown importance criterion 'l3'"),
    ("prune-round-zero", "prune {ws}/base/model.pt --data digits --round-to 0 -o {ws}/p", r"field 'round_to'"),
    ("prune-magnitude-all", "prune {ws}/base/model.pt --data digits --method magnitude --ratio 1 -o {ws}/p",
     r"MagnitudePrune: field 'sparsity': input should be less than 1"),
    ("prune-wrong-data", "prune {ws}/base/model.pt --data mnist5k -o {ws}/p",
     r"was made for 1×8×8 inputs but dataset 'mnist5k' has 1×28×28"),
    ("prune-out-taken", "prune {ws}/base/model.pt --data digits -o {ws}/taken", r"holds earlier outputs"),
    # --- quantize ---------------------------------------------------------------------------
    ("quantize-qat-epochs-zero", "quantize {ws}/base/model.pt --data digits --method qat --epochs 0 -o {ws}/q",
     r"TrainConfig: field 'epochs': input should be greater than or equal to 1"),
    ("quantize-calibration-zero", "quantize {ws}/base/model.pt --data digits --calibration-size 0 -o {ws}/q",
     r"Ptq: field 'calibration_samples'"),
    ("quantize-drop-negative", "quantize {ws}/base/model.pt --data digits --max-drop -1 -o {ws}/q",
     r"Ptq: field 'max_drop'"),
    ("quantize-threads-zero", "quantize {ws}/base/model.pt --data digits --threads 0 -o {ws}/q", r"'--threads'"),
    ("quantize-unknown-backend", "quantize {ws}/base/model.pt --data digits -b tflite -o {ws}/q",
     r"unknown backend 'tflite'"),
    ("quantize-unknown-method", "quantize {ws}/base/model.pt --data digits -m int4 -o {ws}/q", r"unknown method"),
    ("quantize-unknown-calibration", "quantize {ws}/base/model.pt --data digits -c median -o {ws}/q",
     r"unknown calibration method 'median'"),
    ("quantize-one-image", "quantize {ws}/base/model.pt --data {ws}/one.npz -o {ws}/q", r"'one' is too small"),
    # --- distill ----------------------------------------------------------------------------
    ("distill-temperature-zero",
     "distill -t {ws}/base/model.pt -s simple_cnn --data digits --temperature 0 -o {ws}/d",
     r"Distill: field 'temperature': input should be greater than 0"),
    ("distill-alpha", "distill -t {ws}/base/model.pt -s simple_cnn --data digits --alpha 2 -o {ws}/d",
     r"field 'alpha'"),
    ("distill-feature-syntax", "distill -t {ws}/base/model.pt -s simple_cnn --data digits -f bad -o {ws}/d",
     r"feature hint 'bad' is not TEACHER_LAYER:STUDENT_LAYER"),
    ("distill-feature-unknown",
     "distill -t {ws}/base/model.pt -s simple_cnn --data digits -f nope:nope -o {ws}/d",
     r"no module named 'nope'.*\n  hint: .*\[n for n, _ in model.named_modules\(\)\]"),  # brackets survive
    ("distill-missing-teacher", "distill -t {ws}/missing.pt -s simple_cnn --data digits -o {ws}/d",
     r"teacher: model file .*missing.pt' does not exist"),
    ("distill-lr-zero", "distill -t {ws}/base/model.pt -s simple_cnn --data digits --lr 0 -o {ws}/d",
     r"field 'lr'"),
    ("distill-student-option", "distill -t {ws}/base/model.pt -s mobilenet_v1 -a width_mult=0 --data digits "
     "-o {ws}/d", r"width_mult=0 of 'mobilenet_v1' is out of range"),
    ("distill-tiny-data", "distill -t {ws}/base/model.pt -s simple_cnn --data {ws}/one.npz -o {ws}/d",
     r"'one' is too small"),
    ("distill-over-teacher", "distill -t {ws}/base/model.pt -s simple_cnn --data digits -o {ws}/base --force",
     r"refusing to write over the input"),
    # --- fit / devices ----------------------------------------------------------------------
    ("fit-unknown-device", "fit simple_cnn --device raspberry-pi-9 -i 1,8,8", r"unknown device 'raspberry-pi-9'"),
    ("fit-unknown-precision", "fit simple_cnn --device raspberry-pi-4 -p int3 -i 1,8,8", r"unknown precision"),
    ("fit-budget-negative", "fit simple_cnn --device raspberry-pi-4 --latency-budget-ms -1 -i 1,8,8",
     r"latency budget must be a positive number of milliseconds, got -1.0"),
    ("fit-budget-nan", "fit simple_cnn --device raspberry-pi-4 --latency-budget-ms nan -i 1,8,8",
     r"latency budget .* got nan"),
    ("fit-bad-option", "fit mobilenet_v1 --device raspberry-pi-4 -a width_mult=0", r"width_mult=0"),
    ("fit-input-beyond-memory", "fit simple_cnn --device raspberry-pi-4 -i 1,1000000,1000000",
     r"needs at least 3\.64 TiB"),
    ("fit-missing-device-file", "fit simple_cnn --device x -f {ws}/devices.yaml -i 1,8,8",
     r"device file .*devices.yaml' not found"),
    ("devices-unknown-precision", "devices --precision int3", r"unknown precision 'int3'"),
    ("devices-plot-over-a-model", "devices --plot {ws}/base/model.pt", r"the chart is a PNG image, got 'model.pt'"),
    ("devices-plot-exists", "devices --plot {ws}/existing.png", r"output file exists: .*existing.png"),
    ("devices-missing-file", "devices -f {ws}/devices.yaml", r"device file .*devices.yaml' not found"),
    # --- report -----------------------------------------------------------------------------
    ("report-missing-dir", "report {ws}/norun", r"run directory .*norun' does not exist"),
    ("report-not-a-run", "report {ws}/base", r"results.json is missing"),
    ("report-out-not-html", "report {ws}/base -o {ws}/base/model.pt", r"the report is an HTML page"),
    ("report-out-exists", "report {ws}/base -o {ws}/existing.html", r"output file exists: .*existing.html"),
    # --- run / demo -------------------------------------------------------------------------
    ("run-missing-recipe", "run {ws}/missing.yaml -o {ws}/run", r"recipe .*missing.yaml' does not exist"),
    ("run-width-zero", "run {ws}/r_width0.yaml -o {ws}/run", r"width_mult=0 of 'mobilenet_v1' is out of range"),
    ("run-width-not-a-number", "run {ws}/r_halfwidth.yaml -o {ws}/run", r"width_mult='half' .* not a finite"),
    ("run-classes-zero", "run {ws}/r_classes0.yaml -o {ws}/run", r"0 classes|num_classes=0"),
    ("run-images-beyond-memory", "run {ws}/r_bigimages.yaml -o {ws}/run",
     r"dataset 'digits' resized to 1000000×1000000 \(1,797 images\) needs at least .* TiB of memory"),
    ("run-images-not-integers", "run {ws}/r_floatimages.yaml -o {ws}/run",
     r"r_floatimages.yaml line 2: field 'data.image_size.0'"),
    ("run-images-zero", "run {ws}/r_zeroimages.yaml -o {ws}/run", r"field 'data.image_size.0'"),
    ("run-lr-negative", "run {ws}/r_lr.yaml -o {ws}/run", r"r_lr.yaml line 2: field 'train.lr'"),
    ("run-epochs-zero", "run {ws}/r_epochs0.yaml -o {ws}/run", r"field 'train.epochs'"),
    ("run-one-image", "run {ws}/r_tiny.yaml -o {ws}/run", r"dataset 'one' is too small"),
    ("run-missing-model-file", "run {ws}/r_nofile.yaml -o {ws}/run", r"model file .*model.pt' does not exist"),
    ("run-missing-weights", "run {ws}/r_noweights.yaml -o {ws}/run", r"weights file .* does not exist"),
    ("run-unknown-step", "run {ws}/r_steptype.yaml -o {ws}/run", r"prune.structurd.*prune.structured"),
    ("run-step-value", "run {ws}/r_stepvalue.yaml -o {ws}/run", r"line 5: .*ratio"),
    ("run-step-model-option", "run {ws}/r_stepmodel.yaml -o {ws}/run", r"dropout=1.5 of 'mobilenet_v2'"),
    ("run-limit-zero", "run {ws}/r_limit0.yaml -o {ws}/run", r"field 'data.limit'"),
    ("run-fractions", "run {ws}/r_fractions.yaml -o {ws}/run", r"val_fraction \+ test_fraction|fraction"),
    ("run-no-val-split", "run {ws}/r_noval.yaml -o {ws}/run",
     r"dataset 'digits' has no val split \(data.val_fraction: 0\), but training evaluates every epoch on it"),
    ("run-unknown-target", "run {ws}/r_target.yaml -o {ws}/run", r"unknown device 'raspberry-pi-9'"),
    ("run-channels-mismatch", "run {ws}/r_channels.yaml -o {ws}/run", r"3 input channels but dataset 'digits'"),
    ("run-deep-yaml", "run {ws}/r_deep.yaml -o {ws}/run", r"nest|deep|depth"),
    ("run-dir-taken", "run {ws}/r_ok.yaml -o {ws}/taken", r"run directory .*taken' already exists"),
    ("run-force-not-a-run", "run {ws}/r_ok.yaml -o {ws}/notrun --force", r"not an edgeopt run directory"),
    ("run-resume-nothing", "run {ws}/r_ok.yaml -o {ws}/run --resume", r"nothing to resume"),
    ("run-resume-and-force", "run {ws}/r_ok.yaml -o {ws}/run --resume --force", r"contradict"),
    ("run-dir-is-a-file", "run {ws}/r_ok.yaml -o {ws}/a_file", r"a_file' is a file"),
    ("demo-missing-recipe", "demo --recipe {ws}/missing.yaml -o {ws}/demo", r"missing.yaml' does not exist"),
    ("demo-bad-recipe", "demo --recipe {ws}/r_width0.yaml -o {ws}/demo", r"width_mult=0"),
    ("demo-not-a-run", "demo --recipe {ws}/r_ok.yaml -o {ws}/notrun", r"not an edgeopt run directory"),
    ("demo-unknown-flag", "demo --fast", r"No such option: --fast"),
    ("models-unknown-flag", "models --all", r"No such option: --all"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(case: tuple, ws: Path, run_cli: RunCli,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _, args, match, *memory = case
    if memory:
        monkeypatch.setattr(memory_check, "available_memory", lambda: memory[0])
    monkeypatch.chdir(ws)  # a command writing a default output would write here, and be caught
    before = snapshot(ws)
    code, out, err = run_cli(*shlex.split(args.format(ws=ws)))
    assert_user_error(code, out, err, match)
    assert_untouched(before, ws)


def test_the_campaign_covers_every_command() -> None:
    commands = {shlex.split(args)[0] for _, args, *_ in CASES}
    assert commands >= {"train", "prune", "fuse", "distill", "quantize", "export", "bench", "profile", "fit",
                        "devices", "run", "demo", "report"}
    assert len(CASES) >= 60
