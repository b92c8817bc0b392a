"""The measuring process: ``python -m edgeopt.agent.worker``, one job at a time, JSON lines.

The agent runs measurements in this child process, not in itself: a model that crashes its
runtime, or a measurement that hangs, takes down (or is killed with) the worker only, and the
agent reports it and starts a new one. A job is measured with the project's own
:func:`edgeopt.runtime.bench` (interleaved rounds with speed probes, median/p90/spread,
fresh-process peak memory), so a figure from a device means what ``edgeopt bench`` means.

Protocol: one JSON object per line on stdin (a job), one per line on the original stdout (its
result). The runtimes' own prints go to stderr (fd 1 is pointed there), so they cannot corrupt
the results. The worker exits when stdin closes or when its parent (the agent) is gone.

Job: ``{"id", "artifacts": [{"path", "name"}], "data": path | null, "threads", "runs", "warmup",
"rounds", "batch_size", "input_shape", "memory", "gate_retries"}``.
Result: ``{"id", "ok": true, "measurements": [...]}`` or ``{"id", "ok": false, "error", "hint"}``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

_PARENT_POLL_S = 0.5


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Measure one job; never raises (an error is a result)."""
    from edgeopt.errors import EdgeoptError

    try:
        measurements = _measure(job)
    except EdgeoptError as exc:
        return {"id": job.get("id"), "ok": False, "error": exc.message, "hint": exc.hint}
    except Exception as exc:  # a runtime's own error: report it, keep serving
        first = (str(exc).splitlines() or [""])[0][:300]
        return {"id": job.get("id"), "ok": False, "error": f"{type(exc).__name__}: {first}", "hint": None}
    return {"id": job.get("id"), "ok": True, "measurements": measurements}


def _measure(job: dict[str, Any]) -> list[dict[str, Any]]:
    import numpy as np

    from edgeopt.artifact import Artifact
    from edgeopt.runtime.arrays import ArrayData
    from edgeopt.runtime.benchmark import bench

    artifacts = [Artifact.from_file(item["path"]) for item in job["artifacts"]]
    data = None
    if job.get("data"):
        with np.load(job["data"], allow_pickle=False) as npz:
            data = ArrayData(npz["x"], npz["y"] if "y" in npz.files else None, name="client data")
    shape = job.get("input_shape")
    rows = bench(artifacts, data=data, threads=job["threads"], runs=job["runs"], warmup=job["warmup"],
                 memory=job["memory"], batch_size=job["batch_size"], input_shape=shape,
                 rounds=job["rounds"], gate_retries=job["gate_retries"])
    # The client's names, never the agent's private paths.
    return [row.model_copy(update={"artifact": item["name"]}).to_dict()
            for row, item in zip(rows, job["artifacts"], strict=True)]


def _exit_with_parent(parent: int) -> None:
    """Exit when the agent is gone (killed with SIGKILL it cannot stop us itself)."""
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent:
            os._exit(3)


def main() -> None:
    """Serve jobs from stdin until it closes."""
    results = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # runtimes that print to stdout now print to stderr
    sys.stdout = sys.stderr
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    from edgeopt.utils.quiet import quiet_third_party

    quiet_third_party()
    results.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            job = json.loads(line)
        except ValueError:
            results.write(json.dumps({"id": None, "ok": False, "error": "unreadable job"}) + "\n")
            continue
        results.write(json.dumps(run_job(job)) + "\n")


if __name__ == "__main__":
    main()
