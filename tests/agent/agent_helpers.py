"""Helpers of the agent tests: an agent in a subprocess, raw and signed requests, small files."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from edgeopt import export
from edgeopt.agent.protocol import sign_request
from edgeopt.models import create_model

HOST = "127.0.0.1"
# edgeopt's dependencies that `pip install edgeopt[agent]` does not need on a device (pyproject.toml)
NOT_IN_AGENT_EXTRA = ("torch", "onnx", "onnxscript", "matplotlib", "sklearn", "mlxtend", "PIL", "safetensors",
                      "torchvision", "executorch", "torchao", "optuna")
FAST = {"runs": 4, "warmup": 1, "rounds": 2, "memory": False, "gate_retries": 0}  # a quick, full measurement


def simple_cnn_onnx(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    model = create_model("simple_cnn", num_classes=10, in_chans=1).eval()
    return export.onnx(model, torch.zeros(1, 1, 8, 8), path).path


class Agent:
    """``edgeopt agent serve`` in a subprocess on 127.0.0.1 (its own process group)."""

    def __init__(self, token_file: Path, log_dir: Path, *, no_torch: Path | None, args: list[str] | None = None,
                 port: int = 0) -> None:
        self.token_file, self.log_dir, self.no_torch = token_file, log_dir, no_torch
        self.args = args or []
        self.port = port
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.starts = 0

    @property
    def url(self) -> str:
        return f"agent://{HOST}:{self.port}"

    @property
    def log(self) -> str:
        """Everything the agent printed (stdout and stderr) in all its runs."""
        return "\n".join(self.lines) + "".join(p.read_text() for p in sorted(self.log_dir.glob("stderr-*.txt")))

    @property
    def store(self) -> Path:
        line = next(line for line in reversed(self.lines) if "uploads in" in line)
        return Path(line.split("uploads in ", 1)[1].split(" (", 1)[0])

    def start(self) -> Agent:
        env = dict(os.environ)
        if self.no_torch is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(self.no_torch), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        self.starts += 1
        stderr = open(self.log_dir / f"stderr-{self.starts}.txt", "w")  # noqa: SIM115  # the agent holds it
        command = [sys.executable, "-m", "edgeopt.cli.agent_cmd", "serve", "--host", HOST, "--port", str(self.port),
                   "--token-file", str(self.token_file), *self.args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
                                        start_new_session=True)
        stderr.close()
        ready = threading.Event()
        threading.Thread(target=self._read, args=(self.process, ready), daemon=True).start()
        if not ready.wait(60) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"the agent did not start:\n{self.log}")
        return self

    def _read(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "listening on" in line:
                self.port = int(line.split("listening on agent://", 1)[1].split(",")[0].rsplit(":", 1)[1])
            if "uploads in" in line:
                ready.set()

    def kill(self) -> None:
        """SIGKILL the agent process alone (as a crash or power cut would): its worker must notice."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then whatever is left of the process group we started."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group we created: a worker left behind, if any


def raw(agent: Agent | int, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None,
        timeout: float = 30) -> tuple[int, dict, dict]:
    """One request exactly as given (no signing unless the headers carry it): status, JSON, headers."""
    conn = http.client.HTTPConnection(HOST, agent if isinstance(agent, int) else agent.port, timeout=timeout)
    try:
        all_headers = dict(headers or {})
        if method != "GET":
            all_headers.setdefault("Content-Length", str(len(body)))
        conn.request(method, target, body=body if method != "GET" else None, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else {}), dict(response.getheaders())
    finally:
        conn.close()


def signed(token: bytes, method: str, target: str, body: bytes = b"", **kwargs) -> dict[str, str]:
    return sign_request(token, method, target, body, **kwargs)


def digits_arrays():
    from edgeopt.data import load_dataset
    from edgeopt.runtime import ArrayData

    return ArrayData.from_splits(load_dataset("digits"))


def wait_until(predicate, timeout: float = 30, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def random_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def fake_pte(total: int = 256, program: int = 128, segment_base: int = 128, segments: int = 128) -> bytes:
    """The header of an ExecuTorch program (flatbuffer root offset, "ET12", the "eh00" extended header)."""
    import struct

    head = struct.pack("<I4s4sIQQQ", 40, b"ET12", b"eh00", 32, program, segment_base, segments)
    return head + bytes(total - len(head))


def variant(onnx_path: Path, out: Path, tag: str) -> Path:
    """The same model with another doc string: other bytes, another hash (a file no agent has yet)."""
    import onnx

    model = onnx.load(str(onnx_path))
    model.doc_string = tag
    onnx.save(model, str(out))
    return out


def sha256_file(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
