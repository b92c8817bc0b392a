"""The figures the report compares: each candidate's size, latency and accuracy against the baseline.

Sizes and latencies are only compared like for like (DESIGN.md, principle 1): a size ratio uses
the same kind of size on both sides (exported file, checkpoint file, or parameter bytes), and a
latency ratio uses measurements of one runtime configuration (runtime, threads, batch size).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from edgeopt.artifact import Measurement
from edgeopt.report.schema import CandidateResult, RunResults

# Preferred first: the file that ships, then the checkpoint, then the weights alone.
SIZE_SOURCES = ("artifact", "checkpoint", "params")
SIZE_LABELS = {"artifact": "smallest exported file", "checkpoint": "checkpoint file", "params": "parameter bytes"}


@dataclass(frozen=True)
class Config:
    """A runtime configuration; latencies are only compared within one."""

    runtime: str
    threads: int
    batch_size: int

    def label(self) -> str:
        """Human form, e.g. ``onnxruntime, 2 threads, batch 1``."""
        threads = "1 thread" if self.threads == 1 else f"{self.threads} threads"
        return f"{self.runtime}, {threads}, batch {self.batch_size}"


@dataclass(frozen=True)
class Timing:
    """A candidate's fastest measured artifact at the headline configuration."""

    artifact: str
    measurement: Measurement


@dataclass(frozen=True)
class SummaryRow:
    """One line of the summary table; ratios are ``None`` when not comparable like for like."""

    candidate: CandidateResult
    size_bytes: int | None
    size_source: str | None
    timing: Timing | None
    size_ratio: float | None
    ratio_source: str | None
    latency_ratio: float | None
    accuracy_delta_points: float


def sizes(cand: CandidateResult) -> dict[str, int]:
    """Every size known for ``cand``, keyed by source (see :data:`SIZE_SOURCES`)."""
    found: dict[str, int] = {}
    if cand.artifacts:
        found["artifact"] = min(a.size_bytes for a in cand.artifacts)
    if cand.metrics.checkpoint_bytes is not None:
        found["checkpoint"] = cand.metrics.checkpoint_bytes
    found["params"] = cand.metrics.param_bytes
    return found


def headline_size(cand: CandidateResult) -> tuple[int, str]:
    """``(bytes, source)``: the smallest artifact if any, else the checkpoint, else the params."""
    known = sizes(cand)
    source = next(s for s in SIZE_SOURCES if s in known)
    return known[source], source


def size_ratio(base: CandidateResult, cand: CandidateResult) -> tuple[float | None, str | None]:
    """``cand`` size ÷ ``base`` size over the first size source both have, and that source."""
    mine, theirs = sizes(cand), sizes(base)
    for source in SIZE_SOURCES:
        if source in mine and source in theirs and theirs[source] > 0:
            return mine[source] / theirs[source], source
    return None, None


def headline_config(results: RunResults) -> Config | None:
    """The configuration measured for the most candidates (ties: the earliest seen), or ``None``."""
    counts: Counter[Config] = Counter()
    for cand in results.candidates:
        counts.update({_config(m) for a in cand.artifacts for m in a.measurements})
    if not counts:
        return None
    top = max(counts.values())
    # Counter keeps insertion order, so the first with the top count is the earliest seen.
    return next(c for c, n in counts.items() if n == top)


def timing(cand: CandidateResult, config: Config | None) -> Timing | None:
    """The fastest median latency of ``cand``'s artifacts measured at ``config``."""
    if config is None:
        return None
    best: Timing | None = None
    for art in cand.artifacts:
        for m in art.measurements:
            if _config(m) == config and (best is None or m.latency_ms_median < best.measurement.latency_ms_median):
                best = Timing(artifact=str(art.path), measurement=m)
    return best


def summary_rows(results: RunResults) -> list[SummaryRow]:
    """One row per candidate, with ratios and deltas against the baseline."""
    base = results.baseline()
    config = headline_config(results)
    base_timing = timing(base, config)
    rows = []
    for cand in results.candidates:
        size, source = headline_size(cand)
        ratio, ratio_source = size_ratio(base, cand)
        cand_timing = timing(cand, config)
        rows.append(
            SummaryRow(
                candidate=cand,
                size_bytes=size,
                size_source=source,
                timing=cand_timing,
                size_ratio=ratio,
                ratio_source=ratio_source,
                latency_ratio=latency_ratio(base_timing, cand_timing),
                accuracy_delta_points=(cand.metrics.test_accuracy - base.metrics.test_accuracy) * 100,
            )
        )
    return rows


def latency_ratio(base: Timing | None, cand: Timing | None) -> float | None:
    """``cand`` latency ÷ ``base`` latency (below 1 is faster), or ``None`` if either is missing."""
    if base is None or cand is None:
        return None
    return cand.measurement.latency_ms_median / base.measurement.latency_ms_median


def _config(m: Measurement) -> Config:
    return Config(runtime=m.runtime, threads=m.threads, batch_size=m.batch_size)
