"""The end of a run: the fastest artifact within the bounds, confirmed and gated, never a slower one.

1. **Reference**: the baseline's fp32 file in its fastest runtime and thread count (from the
   baseline trial): the artifact the user would ship without edgeopt.
2. **Confirm**: the ``confirm_top`` fastest deployments within every bound (figures from different
   trials were measured at different moments) are timed again side by side with the reference
   in one interleaved run; the fastest median wins.
3. **Gate each step**: from the reference to the winner, each step (the pruned model in fp32, then
   its int8 or bf16 deployment) is kept only if its file is measurably faster than the last kept
   one (:mod:`edgeopt.runtime.gate`: interleaved rounds, a distribution-free interval of the
   latency ratio wholly below 1); a step that is not is rolled back, with its figures. Finally
   the result is gated against the reference itself in a run of its own (the answer's latency
   and speed-up come from it): if it is not measurably faster, the reference is the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeopt.errors import EdgeoptError
from edgeopt.optimize.choices import Choice
from edgeopt.optimize.deployments import Deployment, open_deployment, timing_input
from edgeopt.optimize.variants import RunContext


def deployment_of(row: dict[str, Any]) -> Deployment:
    """The :class:`Deployment` a measured row describes."""
    return Deployment(row["runtime"], row["precision"], int(row["threads"]), row.get("calibration"))


def row_key(row: dict[str, Any]) -> tuple[str, str, str, int]:
    """What makes two rows the same artifact run the same way."""
    return str(row["file"]), str(row["runtime"]), str(row["precision"]), int(row["threads"])


def reference_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The baseline's fp32 file in its fastest runtime and thread count.

    Raises:
        EdgeoptError: the baseline trial measured nothing in fp32.
    """
    own = [r for r in rows if not Choice.from_dict(r["choice"]).pruned and r["precision"] == "fp32"
           and r.get("latency_ms") is not None]
    if not own:
        raise EdgeoptError("the baseline was not measured in fp32 in any runtime",
                           hint="check that the model exports to ONNX (edgeopt export MODEL)")
    return min(own, key=lambda r: float(r["latency_ms"]))


def local_row(row: dict[str, Any], context: RunContext) -> dict[str, Any]:
    """``row`` with a file this process can open.

    A worker on another machine made its files in its own directory: the deciding process makes
    the same choice's file here (in its run directory, once) and measures its accuracy on it,
    since fine-tuning on another CPU need not give the same weights. The row's latency stays
    the worker's until the side-by-side runs time the file here.
    """
    from edgeopt.optimize.deployments import accuracies
    from edgeopt.optimize.variants import make_variant

    if Path(row["file"]).exists():
        return row
    deployment = deployment_of(row)
    context.say(f"  {row_name(row)}: made by a worker on {(row.get('measured_on') or {}).get('host', 'another host')}"
                "; making its file here")
    path = make_variant(Choice.from_dict(row["choice"]), context).file(deployment.file_precision, row["runtime"],
                                                                       context, row.get("calibration"))
    val, test = accuracies(open_deployment(str(path), deployment), context)
    return {**row, "file": str(path), "size_bytes": path.stat().st_size, "accuracy_val": val, "accuracy_test": test,
            "made_here": True}


def confirm(candidates: list[dict[str, Any]], reference: dict[str, Any], context: RunContext,
            say: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Time ``candidates`` and the reference side by side; the fastest median and every figure."""
    from edgeopt.runtime.timing import interleaved_latency

    unique = {row_key(r): r for r in [reference, *candidates]}
    runners = {row_name(r): open_deployment(r["file"], deployment_of(r)) for r in unique.values()}
    say(f"confirming the {len(runners) - 1} fastest candidates beside the baseline "
        f"({context.config.gate_rounds} interleaved rounds)")
    timed = interleaved_latency(runners, timing_input(context), rounds=context.config.gate_rounds,
                                runs_per_round=20, max_retries=2)
    figures = {name: {"latency_ms": s.median_ms, "p90_ms": s.p90_ms, "min_ms": s.min_ms} for name, s in timed.items()}
    best = min(unique.values(), key=lambda r: figures[row_name(r)]["latency_ms"])
    return best, figures


def gated_chain(winner: dict[str, Any], reference: dict[str, Any], rows: list[dict[str, Any]],
                context: RunContext, say: Callable[[str], None],
                refine: Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]] | None = None,
                localize: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Walk from the reference to ``winner`` one step at a time, keeping only measured speed-ups.

    ``refine`` may add one more step to the kept artifact (the per-layer fallback) before the
    result is gated against the reference itself, always, in a run of its own: its figures are
    the answer's latency and speed-up. ``localize`` gives an intermediate row a file this
    process can open (:func:`local_row`).

    Returns:
        The artifact to ship (a row) and the steps: name, parent and child labels, the gate's
        figures and verdict, and whether the step was kept.
    """
    steps: list[dict[str, Any]] = []
    kept = reference
    for name, step_row in _chain(winner, reference, rows):
        child = localize(step_row) if localize is not None else step_row
        gate = _gate(kept, child, context)
        steps.append({"step": name, "parent": row_name(kept), "child": row_name(child), "gate": gate.to_dict(),
                      "kept": gate.keep})
        say(f"  {'kept' if gate.keep else 'rolled back'}: {name} — {gate}")
        if gate.keep:
            kept = child
    if kept is not reference and refine is not None:
        kept = refine(kept, steps)
    if kept is not reference:
        gate = _gate(reference, kept, context)
        steps.append({"step": "result against the baseline", "parent": row_name(reference), "child": row_name(kept),
                      "gate": gate.to_dict(), "kept": gate.keep, "final": True})
        say(f"  {'kept' if gate.keep else 'rolled back'}: result against the baseline — {gate}")
        if not gate.keep:
            kept = reference
    return kept, steps


def fallback_step(kept: dict[str, Any], steps: list[dict[str, Any]], context: RunContext,
                  within_bounds: Callable[[dict[str, Any]], bool], say: Callable[[str], None]) -> dict[str, Any]:
    """Try :mod:`~edgeopt.optimize.layer_fallback` on the kept artifact; keep it only if in bounds and faster."""
    from edgeopt.optimize.layer_fallback import fallback_row

    new, why = fallback_row(kept, context)
    if new is None:
        say(f"  per-layer float fallback: not tried — {why}")
        return kept
    name = f"per-layer float fallback ({why})"
    if not within_bounds(new):
        say(f"  rolled back: {name} — its accuracy breaks the bound")
        steps.append({"step": name, "parent": row_name(kept), "child": row_name(new), "gate": None, "kept": False,
                      "reason": "accuracy out of bounds"})
        return kept
    gate = _gate(kept, new, context)
    steps.append({"step": name, "parent": row_name(kept), "child": row_name(new), "gate": gate.to_dict(),
                  "kept": gate.keep})
    say(f"  {'kept' if gate.keep else 'rolled back'}: {name} — {gate}")
    return new if gate.keep else kept


def _chain(winner: dict[str, Any], reference: dict[str, Any],
           rows: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The intermediate artifacts from the reference to ``winner``, each one step further."""
    if row_key(winner) == row_key(reference):
        return []
    choice = Choice.from_dict(winner["choice"])
    chain: list[tuple[str, dict[str, Any]]] = []
    if choice.pruned and winner["precision"] != "fp32":
        float_rows = [r for r in rows if Choice.from_dict(r["choice"]).variant_key == choice.variant_key
                      and r["precision"] == "fp32" and r.get("latency_ms") is not None]
        if float_rows:
            chain.append((f"{choice.model_label}, fp32", min(float_rows, key=lambda r: float(r["latency_ms"]))))
    what = {"int8": f"int8 ({winner.get('calibration')})", "bf16": "bf16 execution"}.get(winner["precision"], "fp32")
    name = f"{choice.model_label} + {what}" if choice.pruned and not chain else what
    chain.append((f"{name} in {deployment_of(winner).label}", winner))
    return chain


def _gate(parent: dict[str, Any], child: dict[str, Any], context: RunContext) -> Any:
    from edgeopt.runtime.gate import compare

    sample = timing_input(context)
    return compare(open_deployment(parent["file"], deployment_of(parent)),
                   open_deployment(child["file"], deployment_of(child)), sample,
                   rounds=context.config.gate_rounds, runs_per_round=20, max_retries=2)


def row_name(row: dict[str, Any]) -> str:
    """How a row is named in steps and confirmation figures (``trial 3: prune 50% (l1) in onnxruntime fp32 ×1``)."""
    return f"trial {row['trial']}: {row['pipeline']} in {deployment_of(row).label}"
