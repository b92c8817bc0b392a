"""The sections of the HTML report, each a function from results to escaped markup."""

from __future__ import annotations

from typing import Any

from edgeopt.artifact import Artifact
from edgeopt.report.markup import Markup, estimate_badge, join, table, tag
from edgeopt.report.schema import CandidateResult, DeviceFit, FitCheck, RunResults
from edgeopt.report.summary import SIZE_LABELS, headline_config, summary_rows
from edgeopt.report.units import fmt_ms, fmt_pct, fmt_points, fmt_ratio
from edgeopt.utils.units import format_bytes, format_count


def run_facts(results: RunResults) -> Markup:
    """Dataset, host, date and target of the run, as a definition list."""
    data = results.dataset
    splits = data.get("sizes") or {}
    dataset = str(data.get("name", "unknown"))
    if splits:
        dataset += " (" + ", ".join(f"{k} {v}" for k, v in splits.items()) + ")"
    if data.get("image_size"):
        dataset += f", {data.get('in_chans', '?')}×{'×'.join(str(s) for s in data['image_size'])} images"
    facts = [
        ("dataset", dataset),
        ("host", ", ".join(f"{k} {v}" for k, v in results.host.items()) or "unknown"),
        ("created", results.created),
        ("target device", results.target or "none set"),
        ("edgeopt", results.edgeopt_version),
        ("run time", f"{results.seconds:.0f} s" if results.seconds is not None else "—"),
    ]
    return tag("dl", join(join([tag("dt", k), tag("dd", v)], sep="") for k, v in facts), class_="facts")


def summary_table(results: RunResults) -> Markup:
    """Baseline against each candidate: size, cost, latency, accuracy, and the ratios and deltas."""
    config = headline_config(results)
    header = ["candidate", "technique", "steps", "size", "params", "MACs",
              "median latency", "accuracy", "× size", "× latency", "Δ accuracy"]
    rows = [
        [
            tag("strong", r.candidate.name),
            r.candidate.technique,
            tag("span", _steps(r.candidate), class_="steps"),
            _with_note(format_bytes(r.size_bytes), None if r.size_source == "artifact" else _size_word(r.size_source)),
            format_count(r.candidate.metrics.params),
            format_count(r.candidate.metrics.macs),
            fmt_ms(r.timing.measurement.latency_ms_median) if r.timing else "not measured",
            fmt_pct(r.candidate.metrics.test_accuracy),
            _with_note(fmt_ratio(r.size_ratio), None if r.ratio_source == "artifact" else _size_word(r.ratio_source)),
            fmt_ratio(r.latency_ratio),
            fmt_points(r.accuracy_delta_points),
        ]
        for r in summary_rows(results)
    ]
    latency = f"measured with {config.label()}" if config else "not measured yet (no exported artifact was timed)"
    caption = (
        f"Size: the {SIZE_LABELS['artifact']} where the candidate was exported, else its checkpoint file "
        f"(noted in small type); × size compares the same kind of size on both sides. "
        f"Median latency: the fastest artifact of each candidate, {latency}. Ratios are against "
        f"{results.baseline().name}: below 1× is smaller or faster. Δ accuracy is in percentage points "
        "of test accuracy (the eager model's)."
    )
    return tag("figure", table(header, rows, numeric_from=3, class_="summary"), tag("figcaption", caption))


def device_fit_section(results: RunResults) -> Markup:
    """The fit of the run's target, labelled as an estimate; a plain line when no target was set."""
    fit = results.device_fit
    if fit is None:
        target = f"target {results.target!r} has no fit report" if results.target else "no target device was set"
        return tag("p", f"Device fit: {target} for this run (pass a target in the recipe to get one).", class_="muted")
    header = ["check", "required", "available", "margin", "margin %", "result"]
    rows = [
        [_with_note(c.name, c.detail or None), _fit_value(c, c.required), _fit_value(c, c.available),
         _fit_value(c, c.margin), "—" if c.margin_pct is None else f"{c.margin_pct:+.1f}%", _result(c.passed)]
        for c in fit.checks
    ]
    title = tag("h3", f"{fit.device} at {fit.precision}: ", tag("span", fit.verdict, class_=_verdict_class(fit)), " ",
                estimate_badge())
    note = tag("p", "Requirements and capacities are modelled from the device catalog and the profile, "
               "not measured on the device.", class_="muted")
    return join([title, note, table(header, rows, numeric_from=1, class_="fit")])


def artifact_sections(results: RunResults) -> Markup:
    """One block per exported artifact: its file, its measurements and its device estimate."""
    blocks = [_artifact(c, a) for c in results.candidates for a in c.artifacts]
    if not blocks:
        return tag("p", "No artifacts were exported in this run yet, so nothing was measured in a runtime.",
                   class_="muted")
    return join(blocks)


def _artifact(cand: CandidateResult, art: Artifact) -> Markup:
    title = tag("h3", f"{cand.name} · {art.format} {art.precision}")
    facts = tag("p", tag("code", str(art.path)), f" — {format_bytes(art.size_bytes)}, sha256 ",
                tag("code", art.sha256[:16] + ("…" if len(art.sha256) > 16 else ""), title=art.sha256))
    header = ["runtime", "threads", "batch", "median latency", "p90 latency", "accuracy", "peak memory"]
    rows = [
        [m.runtime, m.threads, m.batch_size, fmt_ms(m.latency_ms_median), fmt_ms(m.latency_ms_p90),
         fmt_pct(m.accuracy), format_bytes(m.peak_memory_bytes)]
        for m in art.measurements
    ]
    measured = table(header, rows, class_="measurements") if rows else tag("p", "Not measured.", class_="muted")
    return tag("div", title, facts, measured, _estimate(art), class_="artifact")


def _estimate(art: Artifact) -> Markup:
    parts: list[Any] = []
    if art.estimate is not None:
        e = art.estimate
        parts += [f"Estimated latency on {e.device} ({e.precision}): {fmt_ms(e.latency_ms)} ", estimate_badge()]
    if art.estimate_vs_measured is not None:
        if parts:
            parts.append(Markup("<br>"))
        parts += [f"Estimate ÷ measured latency on this host: {fmt_ratio(art.estimate_vs_measured)} ",
                  estimate_badge(), " (how far the device model is off here)."]
    return tag("p", *parts, class_="estimate-line") if parts else Markup("")


def _steps(cand: CandidateResult) -> str:
    lineage = cand.lineage
    root = [str(lineage["root"].get("source", "?"))] if isinstance(lineage, dict) and lineage.get("root") else []
    entries = lineage.get("steps", []) if isinstance(lineage, dict) else lineage or []
    steps = root + [str(s.get("type") or s.get("step") or "?") for s in entries]
    return " → ".join(steps) or "—"


def _size_word(source: str | None) -> str | None:
    return {"checkpoint": "checkpoint", "params": "params only"}.get(source or "", source)


def _with_note(value: str, note: str | None) -> Markup:
    return join([value, tag("small", note)] if note else [value], sep=" ")


_BYTE_WORDS = ("bytes", "memory", "ram", "flash", "storage", "size")


def _result(passed: bool | None) -> Markup:
    if passed is None:
        return tag("span", "n/a", class_="muted", title="not applicable (no budget or capacity given)")
    return tag("span", "pass", class_="pass") if passed else tag("span", "FAIL", class_="fail")


def _fit_value(check: FitCheck, value: float | None) -> str:
    if value is None:
        return "n/a"
    unit = (check.unit or "").lower()
    name = check.name.lower()
    if unit in ("bytes", "b") or (not unit and any(w in name for w in _BYTE_WORDS)):
        return format_bytes(value)
    if unit == "ms" or (not unit and ("latency" in name or name.endswith("_ms"))):
        return fmt_ms(value)
    return f"{value:.4g}" + (f" {check.unit}" if check.unit else "")


def _verdict_class(fit: DeviceFit) -> str:
    return "fail" if any(c.passed is False for c in fit.checks) else "pass"
