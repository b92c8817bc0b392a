"""Rich tables and number formatting."""

from __future__ import annotations

from rich.console import Console
from torch import nn

from edgeopt.analysis import (
    compare_conv,
    format_bytes,
    format_comparison_table,
    format_count,
    format_profile_table,
    profile,
)


def _render(table) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_number_formatting():
    assert format_count(568_740_352) == "568.74M"
    assert format_count(4_866_269_184) == "4.87G"
    assert format_count(1500) == "1.50K" and format_count(216) == "216"
    assert format_bytes(6_422_528) == "6.12 MiB" and format_bytes(512) == "512 B"


def test_profile_table_rows_and_caption():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(),
                          nn.Linear(8 * 16, 10))
    p = profile(model, (1, 3, 4, 4))
    table = format_profile_table(p)
    assert table.row_count == len(p.layers) == 4
    text = _render(table)
    assert "Conv2d" in text and "1×8×4×4" in text and "(alias)" in text
    assert f"{p.macs:,}" in text and "peak" in text
    short = format_profile_table(p, max_rows=2)
    assert short.row_count == 3 and "2 more rows" in _render(short)


def test_comparison_table():
    text = _render(format_comparison_table(compare_conv(512, 512, 3, 14, 14)))
    assert "462,422,016" in text and "1/512 + 1/9" in text and "exactly equal" in text
