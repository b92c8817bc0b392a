"""The measurement queue: one job at a time, first come first served, in a worker process.

Concurrent clients must not disturb each other's timings, so the agent measures one job at a
time: :class:`JobQueue` keeps submitted jobs in order and a single thread hands each to the
:class:`Worker` (a child process, :mod:`edgeopt.agent.worker`) and waits for its result. A
worker that crashes or overruns the job timeout is killed and replaced; the job fails with a
message saying so, and the queue goes on. Clients follow a job by polling it (long polls: an
answer comes as soon as its state changes), so a client that vanishes costs nothing and a
dropped connection loses no result.

Example:
    >>> queue = JobQueue(store, Worker(), job_timeout=600)
    >>> job = queue.submit(request, artifacts, data)
    >>> queue.wait(job.id, "queued", timeout=20).state
    'running'
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgeopt.agent.protocol import SHA256_RE, check_name
from edgeopt.agent.storage import Kind, Store, Stored
from edgeopt.errors import EdgeoptError

State = Literal["queued", "running", "done", "failed"]
_FINISHED: tuple[State, ...] = ("done", "failed")


class ArtifactRef(BaseModel):
    """An uploaded artifact a job measures, by hash, with the name to report it under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str = Field(pattern=SHA256_RE.pattern)
    name: str = Field(max_length=128)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        try:
            return check_name(name)
        except EdgeoptError as exc:
            raise ValueError(exc.message) from None


class JobRequest(BaseModel):
    """What a client asks the agent to measure (the options of :func:`edgeopt.runtime.bench`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    artifacts: list[ArtifactRef] = Field(min_length=1, max_length=16)
    data: str | None = Field(default=None, pattern=SHA256_RE.pattern)
    threads: int = Field(default=2, ge=1, le=256)
    runs: int = Field(default=50, ge=1, le=1_000_000)
    warmup: int = Field(default=10, ge=0, le=100_000)
    rounds: int = Field(default=5, ge=1, le=100)
    batch_size: int = Field(default=1, ge=1, le=4096)
    input_shape: list[int] | None = Field(default=None, min_length=1, max_length=8)
    memory: bool = True
    gate_retries: int = Field(default=5, ge=0, le=10)
    client_job: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")

    @field_validator("input_shape")
    @classmethod
    def _positive_dims(cls, shape: list[int] | None) -> list[int] | None:
        if shape is not None and any(not 0 < d <= 65536 for d in shape):
            raise ValueError("input_shape dimensions must be 1..65536")
        return shape


@dataclass
class Job:
    """One measurement request and what became of it (times are the agent's Unix time)."""

    id: str
    seq: int
    request: JobRequest
    artifacts: list[Stored]
    data: Stored | None
    state: State = "queued"
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    measurements: list[dict[str, Any]] | None = None
    error: str | None = None
    hint: str | None = None

    @property
    def keys(self) -> list[tuple[Kind, str]]:
        """The stored files this job needs."""
        keys: list[tuple[Kind, str]] = [("artifact", a.sha256) for a in self.artifacts]
        return keys + ([("data", self.data.sha256)] if self.data else [])

    def to_dict(self, position: int | None = None) -> dict[str, Any]:
        """What a client is told about the job."""
        out: dict[str, Any] = {
            "id": self.id, "seq": self.seq, "state": self.state, "position": position,
            "queued_at": self.queued_at, "started_at": self.started_at, "finished_at": self.finished_at,
        }
        if self.state == "done":
            out["measurements"] = self.measurements
        if self.state == "failed":
            out["error"], out["hint"] = self.error, self.hint
        return out

    def worker_job(self) -> dict[str, Any]:
        """The job as the worker process reads it."""
        options = self.request.model_dump(exclude={"artifacts", "data", "client_job"})
        return {"id": self.id, **options, "data": str(self.data.path) if self.data else None,
                "artifacts": [{"path": str(s.path), "name": ref.name}
                              for s, ref in zip(self.artifacts, self.request.artifacts, strict=True)]}


class WorkerFailed(Exception):
    """The worker process died or overran; ``str()`` says which."""


class Worker:
    """The measuring child process (started on first use, replaced after a crash or timeout).

    Args:
        command: The worker command; default ``python -m edgeopt.agent.worker`` with this interpreter.
    """

    startup_timeout = 300.0  # importing the runtimes on a slow board; not part of any job's time

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "edgeopt.agent.worker"]
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ready = False

    def start(self) -> None:
        """Start the process if it is not running (it imports the runtimes while the agent waits)."""
        if self._process is not None and self._process.poll() is None:
            return
        self._lines = queue.Queue()
        self._ready = False
        self._process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, encoding="utf-8", bufsize=1)
        assert self._process.stdout is not None
        threading.Thread(target=_pump, args=(self._process.stdout, self._lines), daemon=True).start()

    def run(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one job and wait for its result.

        Raises:
            WorkerFailed: the process died (a crashing runtime) or took over ``timeout`` seconds.
        """
        self.start()
        process = self._process
        assert process is not None and process.stdin is not None
        if not self._ready:  # the job's time starts when the worker can take it
            self._await(process, {"ready": True}, self.startup_timeout, "start")
            self._ready = True
        try:
            process.stdin.write(json.dumps(job) + "\n")
            process.stdin.flush()
        except OSError:
            raise WorkerFailed(self._death(process)) from None
        return self._await(process, {"id": job["id"]}, timeout, "measure")

    def _await(self, process: subprocess.Popen[str], match: dict[str, Any], timeout: float, what: str
               ) -> dict[str, Any]:
        """The next line whose keys include ``match``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise WorkerFailed(f"the measurement took over {timeout:g} s and was stopped" if what == "measure"
                                   else f"the measuring process did not start within {timeout:g} s") from None
            if line is None:
                raise WorkerFailed(self._death(process))
            try:
                result: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            if all(result.get(k) == v for k, v in match.items()):
                return result

    def _death(self, process: subprocess.Popen[str]) -> str:
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.stop()
            code = None
        self._process = None
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return f"the measuring process died ({how}) while it ran this job; the runtime crashed on the file"

    def stop(self) -> None:
        """Stop the process (kill it if it does not exit when its input closes)."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin:
                process.stdin.close()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


class QueueFull(Exception):
    """More jobs are waiting than the agent takes."""


class JobQueue:
    """Jobs in submission order, measured one at a time by a single thread.

    Args:
        store: Where the jobs' files are (pinned while a job waits or runs).
        worker: The measuring process.
        job_timeout: Seconds a job may run before its worker is killed.
        max_queued: Jobs waiting at most (more are refused: the client retries later).
        keep: Finished jobs remembered for clients that poll late.
    """

    def __init__(self, store: Store, worker: Worker, job_timeout: float = 1800.0, max_queued: int = 64,
                 keep: int = 1000) -> None:
        self.store, self.worker = store, worker
        self.job_timeout, self.max_queued, self.keep = job_timeout, max_queued, keep
        self.instance = secrets.token_hex(4)
        self._seq = itertools.count(1)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._by_client: dict[str, str] = {}
        self._pending: queue.Queue[Job | None] = queue.Queue()
        self._changed = threading.Condition()
        self.submitted = 0
        self._thread = threading.Thread(target=self._loop, name="edgeopt-agent-jobs", daemon=True)
        self._thread.start()

    def submit(self, request: JobRequest, artifacts: list[Stored], data: Stored | None) -> Job:
        """Queue a job (or return the one this client already submitted with the same ``client_job``).

        Raises:
            QueueFull: too many jobs are waiting.
        """
        with self._changed:
            if request.client_job and request.client_job in self._by_client:
                known = self._jobs.get(self._by_client[request.client_job])
                if known is not None:
                    return known
            if self.waiting() >= self.max_queued:
                raise QueueFull(f"{self.max_queued} jobs are waiting already")
            seq = next(self._seq)
            job = Job(f"{self.instance}-{seq:06d}", seq, request, artifacts, data)
            self.store.pin(job.keys)
            self._jobs[job.id] = job
            if request.client_job:
                self._by_client[request.client_job] = job.id
            self.submitted += 1
            self._forget_old()
            self._pending.put(job)
            return job

    def get(self, job_id: str) -> Job | None:
        """The job, or None if this agent (this run of it) never had it."""
        with self._changed:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, seen: str | None, timeout: float) -> Job | None:
        """The job once its state is no longer ``seen`` (or after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                job = self._jobs.get(job_id)
                left = deadline - time.monotonic()
                if job is None or job.state != seen or left <= 0:
                    return job
                self._changed.wait(left)

    def position(self, job: Job) -> int | None:
        """How many jobs run or wait before this one (0: it runs next or now); None when finished."""
        if job.state in _FINISHED:
            return None
        with self._changed:
            return sum(1 for j in self._jobs.values() if j.seq < job.seq and j.state in ("queued", "running"))

    def waiting(self) -> int:
        """Jobs queued, not yet running."""
        with self._changed:
            return sum(1 for j in self._jobs.values() if j.state == "queued")

    def running(self) -> str | None:
        """The id of the job being measured, if any."""
        with self._changed:
            return next((j.id for j in self._jobs.values() if j.state == "running"), None)

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state in _FINISHED]
        for job in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[job.id]
            if job.request.client_job:
                self._by_client.pop(job.request.client_job, None)

    def _set(self, job: Job, **changes: Any) -> None:
        with self._changed:
            for name, value in changes.items():
                setattr(job, name, value)
            self._changed.notify_all()

    def _loop(self) -> None:
        while True:
            job = self._pending.get()
            if job is None:
                return
            self._set(job, state="running", started_at=time.time())
            try:
                result = self.worker.run(job.worker_job(), self.job_timeout)
            except WorkerFailed as exc:
                result = {"ok": False, "error": str(exc),
                          "hint": "the agent is still up; check the file, or raise --job-timeout"}
            except Exception as exc:  # never let the queue thread die
                result = {"ok": False, "error": f"the agent failed to run the job: {type(exc).__name__}: {exc}",
                          "hint": None}
            finally:
                self.store.unpin(job.keys)
            if result.get("ok"):
                self._set(job, state="done", measurements=result["measurements"], finished_at=time.time())
            else:
                self._set(job, state="failed", error=result.get("error"), hint=result.get("hint"),
                          finished_at=time.time())

    def stop(self) -> None:
        """Stop taking jobs and stop the worker."""
        self._pending.put(None)
        self.worker.stop()
