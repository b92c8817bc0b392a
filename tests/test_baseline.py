import pytest

from edgeopt.baseline import infer_model_kwargs, train_baseline
from edgeopt.checkpoint import load_checkpoint
from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.train import TrainConfig, evaluate


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_infer_model_kwargs_fills_from_data_but_keeps_given(digits):
    assert infer_model_kwargs("simple_cnn", digits, {}) == {"num_classes": 10, "in_chans": 1}
    assert infer_model_kwargs("simple_cnn", digits, {"num_classes": 12})["num_classes"] == 12
    assert infer_model_kwargs("pkg.mod:factory", digits, {"x": 1}) == {"x": 1}


def test_baseline_checkpoint_reloads_to_the_same_accuracy(digits, tmp_path):
    result = train_baseline("simple_cnn", digits, tmp_path, config=TrainConfig(epochs=4, progress=False))
    reloaded = load_checkpoint(result.checkpoint)
    assert reloaded.metadata["input_size"] == [1, 1, 8, 8]
    assert evaluate(reloaded.model, digits.test).accuracy == pytest.approx(result.test_accuracy)
    assert result.test_accuracy > 0.9


def test_class_mismatch_fails_before_training(digits, tmp_path):
    with pytest.raises(EdgeoptError, match="class"):
        train_baseline("simple_cnn", digits, tmp_path, model_kwargs={"num_classes": 5})
    assert not any(tmp_path.iterdir())
