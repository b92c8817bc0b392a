"""Measuring through the agent: the project's bench on the device, one job at a time, faults made clear.

The agents here run with torch blocked (as on a device with ONNX Runtime only).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from agent_helpers import FAST, digits_arrays, fake_pte, wait_until

from edgeopt.agent.client import AgentClient, AgentUnreachable, measure_remote
from edgeopt.artifact import Artifact, Measurement
from edgeopt.errors import EdgeoptError
from edgeopt.runtime import OnnxRuntimeRunner

pytestmark = pytest.mark.timeout(300)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_measure_remote_is_the_projects_bench_on_the_device(agent, token, cnn_onnx, other_onnx):
    data = digits_arrays()
    given = Artifact.from_file(cnn_onnx)
    states: list[str] = []
    measured = measure_remote([given, other_onnx], agent.url, token=token, data=data, threads=1, runs=6,
                              warmup=1, rounds=2, memory=True, gate_retries=0,
                              progress=lambda job: states.append(job["state"]))
    assert given.measurements == ()  # the caller's artifact is unchanged
    assert states[-1] == "done"
    for art, path in zip(measured, (cnn_onnx, other_onnx), strict=True):
        (m,) = art.measurements
        assert isinstance(m, Measurement) and art.path == Path(path)
        assert (m.runtime, m.format, m.threads, m.runs, m.warmup, m.batch_size) == ("onnxruntime", "onnx", 1, 6, 1, 1)
        assert m.artifact == str(path) and m.size_bytes == path.stat().st_size
        assert 0 < m.latency_ms_min <= m.latency_ms_median <= m.latency_ms_p90
        assert m.latency_ms_spread[0] <= m.latency_ms_median <= m.latency_ms_spread[1]
        assert m.peak_memory_bytes >= m.baseline_memory_bytes > 0  # a fresh process on the device
        # the artifact's own outputs on the arrays sent, the same figure as here
        assert m.accuracy == OnnxRuntimeRunner(path, threads=1).accuracy(data)
        assert m.measured_on == agent.url
        device = m.device
        assert device["cores"]["logical"] >= 1 and device["memory_bytes"] > 0 and device["machine"]
        assert device["cpu"]["model"] and isinstance(device["cpu"]["flags"], list)
        assert device["runtimes"]["onnxruntime"] and device["runtimes"]["torch"] is None  # torch-free device
        assert Measurement.model_validate(m.to_dict()).device == device  # survives results.json
    info = AgentClient(agent.url, token=token).info()
    assert info["runtimes"]["onnxruntime"]["available"] and not info["runtimes"]["executorch"]["available"]


def test_a_runtime_missing_on_the_device_names_the_extra_to_install(agent, token, tmp_path):
    program = tmp_path / "model.pte"
    program.write_bytes(fake_pte())
    with pytest.raises(EdgeoptError, match=r"cannot run ExecuTorch programs \(.pte\): executorch is not installed "
                       r"on the device \(on the device: pip install 'edgeopt\[agent,executorch\]'"):
        measure_remote([program], agent.url, token=token, **FAST)
    client = AgentClient(agent.url, token=token)  # and the agent itself says so, should a client not ask first
    stored = client.upload(program)
    assert stored["format"] == "executorch"
    answer = client.request("POST", "/v1/jobs", b'{"artifacts": [{"sha256": "%s", "name": "m.pte"}]}'
                            % stored["sha256"].encode())
    assert (answer.status, answer.data["code"]) == (422, "runtime_missing")
    assert "pip install 'edgeopt[agent,executorch]'" in answer.data["hint"]


def test_torch_checkpoints_are_not_sent(agent, token, tmp_path):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"PK\x03\x04")
    with pytest.raises(EdgeoptError, match="measures .onnx and .pte files, not torch files"):
        measure_remote([checkpoint], agent.url, token=token)


def test_an_agent_that_is_down_is_a_one_line_error_exit_2(token_file, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AgentUnreachable, match=rf"cannot reach the agent at agent://127.0.0.1:{port}: connection "
                       r"refused \(2 tries over"):
        AgentClient(f"agent://127.0.0.1:{port}", token_file, retries=1, backoff=0.05).info()
    done = subprocess.run([sys.executable, "-m", "edgeopt.cli.agent_cmd", "info", f"agent://127.0.0.1:{port}",
                           "--token-file", str(token_file)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the agent" in lines[0] and "edgeopt agent serve" in lines[0]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "agent://127.0.0.1", "raspberrypi:8765"])
def test_a_wrong_url_is_a_one_line_error(url, token_file, cnn_onnx):
    with pytest.raises(EdgeoptError, match="agent") as info:
        measure_remote([cnn_onnx], url, token_file)
    assert "\n" not in str(info.value)


def test_an_unknown_host_is_a_one_line_error(token_file):
    with pytest.raises(EdgeoptError, match="cannot resolve the host of agent://no-such-host.invalid:8765"):
        AgentClient("agent://no-such-host.invalid:8765", token_file).info()


def test_four_concurrent_clients_are_served_in_order_one_at_a_time(agent, token, cnn_onnx, other_onnx):
    finals: list[dict] = []  # list.append is atomic: the four threads may share it
    errors: list[BaseException] = []

    def keep_final(job: dict) -> None:
        if job["state"] == "done":
            finals.append(job)

    def client(index: int) -> None:
        for _ in range(3):
            try:
                measure_remote([cnn_onnx if index % 2 else other_onnx], agent.url, token=token, progress=keep_final,
                               **FAST)
            except BaseException as exc:  # reported below
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    assert errors == [] and len(finals) == 12
    _assert_one_at_a_time_in_order(finals)


def _assert_one_at_a_time_in_order(finals: list[dict]) -> None:
    jobs = sorted(finals, key=lambda job: job["seq"])
    assert [j["seq"] for j in jobs] == list(range(jobs[0]["seq"], jobs[0]["seq"] + len(jobs)))
    for before, after in itertools.pairwise(jobs):
        assert before["started_at"] <= before["finished_at"] <= after["started_at"]  # never two at once, FIFO
        assert before["queued_at"] <= after["queued_at"]


@pytest.mark.slow
def test_two_hundred_sequential_clients_are_served_without_an_error(agent, token, cnn_onnx):
    finals: list[dict] = []
    for _ in range(200):  # each a new client; one round (its speed probes are most of a job's time)
        (art,) = measure_remote([cnn_onnx], agent.url, token=token, progress=lambda job: job["state"] == "done"
                                and finals.append(job), **{**FAST, "rounds": 1})
        assert art.measurements[-1].runs == 4
    assert len(finals) == 200
    _assert_one_at_a_time_in_order(finals)


def _long_job(agent, token, cnn_onnx, outcome: dict, retries: int = 3) -> threading.Thread:
    """A measurement of a few seconds, run in a thread; its result or error lands in ``outcome``."""

    def run() -> None:
        try:
            outcome["result"] = measure_remote([cnn_onnx], agent.url, token=token, runs=150_000, warmup=1, rounds=1,
                                               memory=False, gate_retries=0, retries=retries)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    client = AgentClient(agent.url, token=token)
    assert wait_until(lambda: client.info()["queue"]["running"] is not None, timeout=60), "the job never started"
    return thread


@pytest.mark.slow
def test_an_agent_killed_mid_measurement_is_a_clear_error_then_a_retry_succeeds(make_agent, token, cnn_onnx):
    agent = make_agent()
    assert agent.process is not None
    workers = _children(agent.process.pid)
    outcome: dict = {}
    thread = _long_job(agent, token, cnn_onnx, outcome)
    agent.kill()  # a crash, a power cut: no goodbye
    thread.join(120)
    error = outcome.get("error")
    assert isinstance(error, AgentUnreachable), outcome
    assert f"lost the agent at {agent.url} during measurement" in str(error)
    assert "nothing was measured; run the same command again" in str(error) and "\n" not in str(error)
    assert workers and wait_until(lambda: not any(_alive(pid) for pid in workers), timeout=30)  # no orphan burning CPU
    agent.start()  # the device is back, on the same port
    (art,) = measure_remote([cnn_onnx], agent.url, token=token, **FAST)
    assert art.measurements[-1].runtime == "onnxruntime"


@pytest.mark.slow
def test_an_agent_restarted_while_the_client_waits_gets_the_job_again(make_agent, token, cnn_onnx):
    agent = make_agent()
    outcome: dict = {}
    thread = _long_job(agent, token, cnn_onnx, outcome, retries=6)  # 0.5 + 1 + … + 16 s: room for a slow start
    agent.kill()
    agent.start()  # back within the client's retries: it no longer knows the job, which is sent again
    assert agent.starts == 2
    client = AgentClient(agent.url, token=token)
    assert wait_until(lambda: client.info()["queue"]["running"] is not None, timeout=60)
    thread.join(240)
    assert "error" not in outcome, outcome
    (art,) = outcome["result"]
    assert art.measurements[-1].runs == 150_000


def test_a_crashing_worker_fails_its_job_and_the_agent_goes_on(make_agent, token, cnn_onnx):
    agent = make_agent()
    assert agent.process is not None
    outcome: dict = {}
    thread = _long_job(agent, token, cnn_onnx, outcome)
    for pid in _children(agent.process.pid):  # the worker: as if its runtime crashed on the file
        os.kill(pid, signal.SIGKILL)
    thread.join(120)
    assert "the measuring process died (signal 9)" in str(outcome.get("error")), outcome
    (art,) = measure_remote([cnn_onnx], agent.url, token=token, **FAST)  # a new worker serves the next job
    assert art.measurements[-1].runs == 4


def test_a_job_over_the_timeout_is_stopped_and_the_agent_goes_on(make_agent, token, cnn_onnx):
    agent = make_agent("--job-timeout", "1")
    with pytest.raises(EdgeoptError, match="could not measure: the measurement took over 1 s and was stopped"):
        measure_remote([cnn_onnx], agent.url, token=token, runs=1_000_000, warmup=1, rounds=1, memory=False,
                       gate_retries=0)
    (art,) = measure_remote([cnn_onnx], agent.url, token=token, **FAST)
    assert art.measurements[-1].runs == 4
