import pytest

from edgeopt.utils.units import format_bytes, format_count


@pytest.mark.parametrize("n, text", [(512, "512 B"), (1536, "1.50 KiB"), (6_422_528, "6.12 MiB"),
                                     (4 * 2**30, "4.00 GiB"), (512.0, "512 B"), (-2048, "-2.00 KiB"), (None, "—")])
def test_bytes_are_binary_units_with_two_decimals(n, text):
    assert format_bytes(n) == text


def test_significant_digits_for_axis_ticks():
    assert format_bytes(10**6, significant=3) == "977 KiB" and format_count(1e5, significant=3) == "100K"


@pytest.mark.parametrize("n, text", [(216, "216"), (1500, "1.50K"), (568_740_352, "568.74M"),
                                     (4_866_269_184, "4.87G"), (2.5, "2.5"), (None, "—")])
def test_counts(n, text):
    assert format_count(n) == text
