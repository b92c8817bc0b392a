"""Spaces written as code: define-by-run on an Optuna trial, proxy-trained, reloaded with trust."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from edgeopt.errors import EdgeoptError
from edgeopt.search.config import SearchConfig
from edgeopt.search.run import join, search

SPACE = "code_space_example:space"


@pytest.fixture(autouse=True)
def _importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def test_code_space_needs_proxy_accuracy() -> None:
    with pytest.raises(ValueError, match="no supernet, so set accuracy: proxy"):
        SearchConfig(space=SPACE)


@pytest.mark.slow
def test_code_space_search_builds_reloads_and_refuses_untrusted_workers(tmp_path: Path) -> None:
    from edgeopt.loading import open_model

    config = SearchConfig(space=SPACE, accuracy="proxy", proxy_epochs=1, data="digits", latency="macs",
                          trials=4, top_k=1, finetune_epochs=0)
    outcome = search(config, tmp_path / "run")
    assert outcome.trials_total == 4 and outcome.winner is not None
    params = outcome.winner["params"]
    assert set(params) == {"width", "depth"}
    with pytest.raises(EdgeoptError, match="--trust-code"):
        open_model(outcome.winner["checkpoint"])
    opened = open_model(outcome.winner["checkpoint"], trust_code=True)
    assert opened.lineage.root.kind == "space" and opened.lineage.root.kwargs == params
    convs = [m for m in opened.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == params["depth"] and convs[0].out_channels == params["width"]
    url = f"sqlite:///{tmp_path / 'run' / 'search.db'}"
    with pytest.raises(EdgeoptError, match="--trust-code"):
        join(url, "search", trials=5)
    assert join(url, "search", trials=5, trust_code=True) == 1
    sys.modules.pop("code_space_example", None)


def test_code_space_detection_takes_any_text() -> None:
    from edgeopt.search.candidates import is_code_space

    assert is_code_space(SPACE)
    assert not is_code_space("mnist") and not is_code_space("spaces/tiny.json")
    assert not is_code_space('{"name": "tiny", "stages": []}' + " " * 300)  # a whole space as JSON, too long to stat
