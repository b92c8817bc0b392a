import json

import pytest
import torch

from edgeopt.checkpoint import load_checkpoint, save_checkpoint
from edgeopt.models import create_model
from edgeopt.train import seed_everything

TEACHER_KWARGS = {"num_classes": 10, "in_chans": 1, "width": 8}


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory):
    """An untrained teacher: these tests are about the command's plumbing, not accuracy."""
    torch.set_num_threads(1)
    seed_everything(0)
    teacher = create_model("simple_cnn", **TEACHER_KWARGS)
    path = tmp_path_factory.mktemp("teacher") / "model.pt"
    return save_checkpoint(path, teacher, model_name="simple_cnn", model_kwargs=TEACHER_KWARGS,
                           metadata={"dataset": "digits"}, input_size=(1, 1, 8, 8))


def test_distill_saves_the_student_and_compares_both(run_cli, teacher_ckpt, tmp_path):
    out = tmp_path / "student"
    code, stdout, err = run_cli("distill", "--teacher", str(teacher_ckpt), "--student", "simple_cnn",
                                "-a", "width=4", "--epochs", "2", "--lr", "0.01", "--temperature", "3",
                                "--alpha", "0.5", "--feature", "features.2:features.2", "-o", str(out))
    assert code == 0, err
    assert "teacher" in stdout and "student" in stdout and "T=3, α=0.5" in stdout
    student = load_checkpoint(out / "model.pt")  # rebuilt from its lineage
    assert student.lineage.summary() == "simple_cnn → distill"
    assert student.lineage.root.kwargs == {"width": 4, "num_classes": 10, "in_chans": 1}
    record = json.loads((out / "distill.json").read_text())
    assert record["dataset"]["name"] == "digits"  # the teacher's dataset, as no --data was given
    assert record["teacher"]["params"] > record["after"]["params"] > 0
    assert record["teacher"]["macs"] > record["after"]["macs"] > 0
    assert record["after"]["test_accuracy"] == student.metadata["test_accuracy"]
    report = record["report"]["distill"]
    assert report["temperature"] == 3.0 and report["alpha"] == 0.5
    assert report["features"][0]["adapter"] == "1x1 conv 8->16, compared at 4x4"
    assert report["cached_teacher"] is True  # no augmentation
    assert len(report["train"]["history"]) == 2


def test_a_student_checkpoint_can_be_distilled_again(run_cli, teacher_ckpt, tmp_path):
    code, _, err = run_cli("distill", "--teacher", str(teacher_ckpt), "--student", str(teacher_ckpt),
                           "--epochs", "1", "-o", str(tmp_path / "again"))
    assert code == 0, err
    assert load_checkpoint(tmp_path / "again" / "model.pt").lineage.root.kwargs == TEACHER_KWARGS


def test_missing_teacher_is_a_clear_error(run_cli, tmp_path):
    code, _, err = run_cli("distill", "--teacher", str(tmp_path / "nope.pt"), "--student", "simple_cnn",
                           "-o", str(tmp_path / "out"))
    assert code == 2 and "teacher: model file" in err and "does not exist" in err
    assert not (tmp_path / "out").exists()


def test_class_count_mismatch_is_an_error_and_writes_nothing(run_cli, teacher_ckpt, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli("distill", "--teacher", str(teacher_ckpt), "--student", "simple_cnn",
                           "-a", "num_classes=5", "-o", str(out))
    assert code == 2 and "model predicts 5 classes but dataset 'digits' has 10" in err
    assert not out.exists()


def test_teacher_trained_on_another_input_size_is_an_error(run_cli, teacher_ckpt, tmp_path):
    code, _, err = run_cli("distill", "--teacher", str(teacher_ckpt), "--student", "simple_cnn",
                           "--data", "mnist5k", "-o", str(tmp_path / "out"))
    assert code == 2 and "made for 1×8×8 inputs but dataset 'mnist5k' has 1×28×28" in err


def test_a_structurally_pruned_student_is_distilled_and_stays_loadable(run_cli, teacher_ckpt, tmp_path):
    from edgeopt.lineage import Lineage
    from edgeopt.models import ModelRoot
    from edgeopt.prune import StructuredPrune
    from edgeopt.transform import Inputs, apply

    seed_everything(1)
    prune = StructuredPrune(ratio=0.5)
    result = apply(prune, create_model("simple_cnn", **TEACHER_KWARGS), Inputs(example=torch.zeros(1, 1, 8, 8)))
    small = result.model
    lineage = Lineage(root=ModelRoot.named("simple_cnn", TEACHER_KWARGS), input_size=(1, 1, 8, 8))
    pruned = save_checkpoint(tmp_path / "pruned.pt", small, lineage.then(prune, result),
                             metadata={"dataset": "digits"})
    code, _, err = run_cli("distill", "--teacher", str(teacher_ckpt), "--student", str(pruned),
                           "--epochs", "1", "-o", str(tmp_path / "out"))
    assert code == 0, err
    reloaded = load_checkpoint(tmp_path / "out" / "model.pt").model
    n_params = sum(p.numel() for p in reloaded.parameters())
    assert n_params == sum(p.numel() for p in small.parameters()) < 0.5 * sum(
        p.numel() for p in create_model("simple_cnn", **TEACHER_KWARGS).parameters())
