"""The run record (``search.json`` / ``optimize.json``) a resume and a worker read: damaged ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.search.study import read_marker, record_run, run_storage


def test_a_recorded_run_resumes_on_its_storage_and_study(tmp_path: Path) -> None:
    marker = tmp_path / "search.json"
    record_run(marker, {"trials": 3}, "sqlite:///x.db", "mine")
    assert read_marker(marker)["study"] == "mine"
    assert run_storage(marker, resume=True, storage=None, study_name="search", what="a search",
                       default_db=tmp_path / "search.db") == ("sqlite:///x.db", "mine")


@pytest.mark.parametrize("content", [b"{truncated", b'"a string"', b'{"study": 3}', b"\xff\xfe\x00"])
def test_a_damaged_record_is_named_with_what_to_give_instead(tmp_path: Path, content: bytes) -> None:
    marker = tmp_path / "search.json"
    marker.write_bytes(content)
    with pytest.raises(EdgeoptError, match=r"search.json (cannot be read as|is not) a run's record") as caught:
        run_storage(marker, resume=True, storage=None, study_name="search", what="a search",
                    default_db=tmp_path / "search.db")
    assert "--storage" in (caught.value.hint or "")
