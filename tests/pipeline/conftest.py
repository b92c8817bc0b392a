import textwrap

import pipeline_test_steps  # noqa: F401 (registers the test.* step types)
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # Two cores are shared by several jobs: keep each test to one thread.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def write_recipe(tmp_path):
    """Write a recipe: a 1-epoch simple_cnn on digits plus the given steps (YAML text)."""

    def write(steps: str, name: str = "recipe.yaml", header: str | None = None) -> str:
        head = header or textwrap.dedent("""\
            model: simple_cnn
            train: {epochs: 1, lr: 5.0e-3, progress: false}
            data: digits
            """)
        path = tmp_path / name
        path.write_text(head + "steps:\n" + textwrap.indent(textwrap.dedent(steps), "  "), encoding="utf-8")
        return str(path)

    return write
