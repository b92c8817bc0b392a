"""search(): a whole search on a tiny space, resume, bounds, and what bad input gets."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.models.spaces import SearchSpace
from edgeopt.search.config import SearchConfig
from edgeopt.search.run import search
from edgeopt.search.study import open_storage


def test_search_then_resume_redoes_nothing(tiny_config: SearchConfig, tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = search(tiny_config, run)
    assert first.trials_total == 6 and first.trials_here == 6
    assert first.front and all(0.0 <= row["accuracy"] <= 100.0 for row in first.front)
    accuracies = [row["accuracy"] for row in first.front]
    assert accuracies == sorted(accuracies, reverse=True)
    supernet_written = (run / "supernet.pt").stat().st_mtime_ns
    more = search(tiny_config.model_copy(update={"trials": 8}), run, resume=True)
    assert more.trials_here == 2 and more.trials_total == 8
    assert (run / "supernet.pt").stat().st_mtime_ns == supernet_written  # not trained again
    assert json.loads((run / "front.json").read_text())["trials_total"] == 8


def test_flash_bound_is_respected(tiny_config: SearchConfig, tiny_space: SearchSpace, tmp_path: Path) -> None:
    from edgeopt.models.space_net import build_model
    from edgeopt.search.objectives import arch_cost

    smallest = arch_cost(build_model(tiny_space.smallest(), tiny_space), (1, 1, 16, 16)).weight_bytes_int8
    largest = arch_cost(build_model(tiny_space.largest(), tiny_space), (1, 1, 16, 16)).weight_bytes_int8
    bound = (smallest + largest) // 2
    outcome = search(tiny_config.model_copy(update={"max_flash_bytes": bound, "trials": 8}), tmp_path / "run")
    assert outcome.front
    assert all(row["cost"]["weight_bytes_int8"] <= bound for row in outcome.front)
    storage = open_storage(f"sqlite:///{tmp_path / 'run' / 'search.db'}")
    trials = optuna.load_study(study_name="search", storage=storage).get_trials()
    over = [t for t in trials if t.user_attrs["cost"]["weight_bytes_int8"] > bound]
    assert all(t.user_attrs["constraints"][0] > 0 for t in over)  # recorded as violations, never in the front


def test_unreachable_bound_names_it_and_the_smallest(tiny_config: SearchConfig, tmp_path: Path) -> None:
    with pytest.raises(EdgeoptError, match=r"peak SRAM \(int8\) bound of 10 B: the smallest"):
        search(tiny_config.model_copy(update={"max_sram_bytes": 10}), tmp_path / "run")


def test_run_dir_with_a_search_needs_resume(tiny_config: SearchConfig, tmp_path: Path) -> None:
    search(tiny_config.model_copy(update={"trials": 2}), tmp_path / "run")
    with pytest.raises(EdgeoptError, match="already holds a search"):
        search(tiny_config, tmp_path / "run")


def test_resume_with_other_objectives_is_refused_and_keeps_trials(tiny_config: SearchConfig, tmp_path: Path) -> None:
    search(tiny_config.model_copy(update={"trials": 2}), tmp_path / "run")
    other = tiny_config.model_copy(update={"objectives": ("accuracy", "memory")})
    with pytest.raises(EdgeoptError, match="other options: objectives"):
        search(other, tmp_path / "run", resume=True)
    storage = open_storage(f"sqlite:///{tmp_path / 'run' / 'search.db'}")
    assert len(optuna.load_study(study_name="search", storage=storage).get_trials()) == 2


def test_unreachable_storage_is_one_line(tiny_config: SearchConfig, tmp_path: Path) -> None:
    url = "postgresql+psycopg2://someone:secret@127.0.0.1:9/nowhere"
    with pytest.raises(EdgeoptError, match="cannot reach storage") as caught:
        search(tiny_config, tmp_path / "run", storage=url)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(("update", "message"), [
    ({"objectives": ("latency", "memory")}, "must include accuracy"),
    ({"objectives": ("accuracy",)}, "at least two objectives"),
    ({"latency": "predict"}, "needs latency_table"),
])
def test_contradictory_options_are_refused(update: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchConfig(**{**SearchConfig().model_dump(), **update})


def test_empty_space_is_refused(tmp_path: Path) -> None:
    space = tmp_path / "empty.json"
    space.write_text(json.dumps({"name": "empty", "stages": [], "widths": [1.0], "resolutions": [28]}))
    with pytest.raises(EdgeoptError, match="stages"):
        search(SearchConfig(space=str(space), data="digits", limit=100, latency="macs"), tmp_path / "run")


@pytest.mark.slow
def test_finalists_are_measured_on_their_files_and_reload_as_space_net(tiny_config: SearchConfig,
                                                                      tmp_path: Path) -> None:
    import torch

    from edgeopt.loading import open_model

    outcome = search(tiny_config.model_copy(update={"top_k": 1, "finetune_epochs": 1}), tmp_path / "run")
    assert len(outcome.finalists) == 1 and outcome.winner is outcome.finalists[0]
    finalist = outcome.finalists[0]
    for precision in ("fp32", "int8"):
        assert Path(finalist[precision]["path"]).is_file()
        assert finalist[precision]["latency_ms"] > 0 and 0 <= finalist[precision]["accuracy"] <= 100
    import numpy as np
    import onnxruntime as ort

    opened = open_model(finalist["checkpoint"])
    assert opened.lineage.root.source == "space_net"
    x = torch.randn(1, 1, 16, 16)
    session = ort.InferenceSession(finalist["fp32"]["path"])
    measured = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        reloaded = opened.model.eval()(x).numpy()
    np.testing.assert_allclose(reloaded, measured, rtol=1e-4, atol=1e-4)  # the checkpoint is the file measured


@pytest.mark.slow
def test_baselines_are_measured_beside_the_finalists(tiny_config: SearchConfig, tiny_space: SearchSpace,
                                                    tmp_path: Path) -> None:
    from edgeopt.checkpoint import save_checkpoint
    from edgeopt.models.space_net import build_model

    baseline = save_checkpoint(tmp_path / "baseline.pt", build_model(tiny_space.largest(), tiny_space).eval(),
                               model_name="space_net", input_size=(1, 1, 16, 16),
                               model_kwargs={"arch": tiny_space.largest().to_json(),
                                             "space": tiny_space.model_dump_json()})
    config = tiny_config.model_copy(update={"top_k": 1, "finetune_epochs": 0, "baselines": (str(baseline),)})
    outcome = search(config, tmp_path / "run")
    (row,) = outcome.baselines
    assert row["label"] == "baseline" and row["cost"]["params"] > 0
    assert row["int8"]["latency_ms"] > 0 and 0 <= row["int8"]["accuracy"] <= 100
    assert Path(row["int8"]["path"]).is_file() and Path(row["fp32"]["path"]).is_file()
    # A baseline is a budget, not part of the study's identity: resuming with another one is allowed.
    search(config.model_copy(update={"baselines": ()}), tmp_path / "run", resume=True)


def test_a_baseline_for_other_data_is_refused(tiny_config: SearchConfig, tmp_path: Path) -> None:
    from edgeopt.checkpoint import save_checkpoint
    from edgeopt.models import create_model

    wrong = save_checkpoint(tmp_path / "rgb.pt", create_model("simple_cnn", in_chans=3, num_classes=10),
                            model_name="simple_cnn", model_kwargs={"in_chans": 3, "num_classes": 10})
    config = tiny_config.model_copy(update={"trials": 2, "baselines": (str(wrong),)})
    with pytest.raises(EdgeoptError, match="does not take the search's"):
        search(config, tmp_path / "run")
