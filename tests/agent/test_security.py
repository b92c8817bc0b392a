"""Every request authenticated; unauthenticated, wrong-token, replayed, expired, tampered ones change nothing.

One torch-free agent on 127.0.0.1 serves the module (``agent`` fixture: 1 MiB upload limit,
2 s request timeout).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from agent_helpers import HOST, raw, sha256_file, signed, variant

from edgeopt.agent.client import AgentClient
from edgeopt.agent.protocol import H_SIGNATURE
from edgeopt.errors import EdgeoptError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def client(agent, token):
    return AgentClient(agent.url, token=token, retries=1, backoff=0.1)


@pytest.fixture
def stored(client, cnn_onnx):
    """An artifact the agent has, and a job request for it."""
    info = client.upload(cnn_onnx)
    body = json.dumps({"artifacts": [{"sha256": info["sha256"], "name": "cnn.onnx"}], "runs": 2, "warmup": 0,
                       "rounds": 1, "memory": False, "gate_retries": 0}).encode()
    return info["sha256"], body


def _submitted(client) -> int:
    return client.info()["queue"]["submitted"]


def _has(client, sha: str) -> bool:
    return client.request("GET", f"/v1/artifacts/{sha}").status == 200


def test_unauthenticated_requests_are_401_and_change_nothing(agent, client, stored, cnn_onnx, tmp_path):
    fresh = variant(cnn_onnx, tmp_path / "fresh.onnx", "unauthenticated")
    _, job = stored
    before = _submitted(client)
    requests = (("GET", "/v1/info", b""), ("PUT", f"/v1/artifacts/{sha256_file(fresh)}", fresh.read_bytes()),
                ("POST", "/v1/jobs", job), ("GET", "/v1/jobs/abcdef01-000001", b""))
    for method, target, body in requests:
        status, answer, headers = raw(agent, method, target, body)
        assert (status, answer["code"]) == (401, "unauthenticated"), (method, target)
        assert "needs edgeopt's client" in answer["error"] and H_SIGNATURE not in headers
    assert not _has(client, sha256_file(fresh)) and _submitted(client) == before


def test_a_wrong_token_is_401_and_changes_nothing(agent, client, stored, cnn_onnx, tmp_path):
    fresh = variant(cnn_onnx, tmp_path / "fresh.onnx", "wrong token")
    data, sha = fresh.read_bytes(), sha256_file(fresh)
    _, job = stored
    before = _submitted(client)
    wrong = b"w" * 43
    for method, target, body in (("PUT", f"/v1/artifacts/{sha}", data), ("POST", "/v1/jobs", job),
                                 ("GET", "/v1/info", b"")):
        status, answer, _ = raw(agent, method, target, body, signed(wrong, method, target, body))
        assert (status, answer["code"]) == (401, "bad_signature")
        assert "does not match this agent's token" in answer["error"]
    assert not _has(client, sha) and _submitted(client) == before
    with pytest.raises(EdgeoptError, match=r"refused the token .*does not match") as info:
        AgentClient(agent.url, token=wrong).info()
    assert "same token file" in str(info.value) and "\n" not in str(info.value)


def test_a_replayed_request_is_403_and_changes_nothing(agent, client, stored, token):
    _, job = stored
    before = _submitted(client)
    captured = signed(token, "POST", "/v1/jobs", job)
    status, first, _ = raw(agent, "POST", "/v1/jobs", job, captured)
    assert status == 202 and first["state"] in ("queued", "running")
    for _ in range(3):
        status, answer, headers = raw(agent, "POST", "/v1/jobs", job, captured)
        assert (status, answer["code"]) == (403, "replayed")
        assert H_SIGNATURE in headers  # authentic, so the refusal is signed
    assert _submitted(client) == before + 1  # the original only
    info_headers = signed(token, "GET", "/v1/info")
    assert raw(agent, "GET", "/v1/info", b"", info_headers)[0] == 200
    assert raw(agent, "GET", "/v1/info", b"", info_headers)[0] == 403


@pytest.mark.parametrize("shift", [-1000, +1000])
def test_expired_and_future_requests_are_403_and_change_nothing(agent, client, stored, token, shift, cnn_onnx,
                                                                 tmp_path):
    fresh = variant(cnn_onnx, tmp_path / "fresh.onnx", f"expired {shift}")
    data, sha = fresh.read_bytes(), sha256_file(fresh)
    _, job = stored
    before = _submitted(client)
    when = time.time() + shift
    for method, target, body in (("PUT", f"/v1/artifacts/{sha}", data), ("POST", "/v1/jobs", job)):
        status, answer, _ = raw(agent, method, target, body, signed(token, method, target, body, now=when))
        assert (status, answer["code"]) == (403, "expired")
        assert "s from the agent's clock (±120 s allowed)" in answer["error"]
        assert abs(answer["server_time"] - time.time()) < 60
    assert not _has(client, sha) and _submitted(client) == before


def test_the_client_follows_the_agents_clock_once(agent, token):
    client = AgentClient(agent.url, token=token)
    client.clock_offset = -5000.0  # this machine's clock is far behind the device's
    assert client.info()["protocol"] == "edgeopt-agent-1"
    assert abs(client.clock_offset) < 60


def test_a_body_swapped_under_a_valid_signature_is_refused(agent, client, stored, token, cnn_onnx, tmp_path):
    fresh = variant(cnn_onnx, tmp_path / "fresh.onnx", "swapped")
    data, sha = fresh.read_bytes(), sha256_file(fresh)
    evil = bytes(data[:-1]) + bytes([data[-1] ^ 1])
    target = f"/v1/artifacts/{sha}"
    status, answer, _ = raw(agent, "PUT", target, evil, signed(token, "PUT", target, data))
    assert status == 400 and "hash to" in answer["error"]
    _, job = stored
    before = _submitted(client)
    other = job.replace(b'"runs": 2', b'"runs": 9')
    status, answer, _ = raw(agent, "POST", "/v1/jobs", other, signed(token, "POST", "/v1/jobs", job))
    assert (status, answer["code"]) == (400, "body_mismatch")
    assert not _has(client, sha) and _submitted(client) == before


def test_the_client_refuses_answers_not_signed_by_the_agent(token):
    class Impostor(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"protocol": "edgeopt-agent-1", "device": {}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header(H_SIGNATURE, "0" * 64)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((HOST, 0), Impostor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(EdgeoptError, match="not signed with the agent's token"):
            AgentClient(f"agent://{HOST}:{server.server_address[1]}", token=token).info()
    finally:
        server.shutdown()
        server.server_close()


def _closed_by_agent(sock: socket.socket) -> bool:
    """True when the agent closed the connection (recv gives end-of-file) within 30 s."""
    sock.settimeout(30)
    try:
        while sock.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_a_client_trickling_its_headers_is_cut_off_and_the_agent_keeps_serving(agent, client):
    slow = socket.create_connection((HOST, agent.port))
    try:
        slow.sendall(b"GET /v1/info HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        assert _closed_by_agent(slow)  # after --request-timeout (2 s here), not never
    finally:
        slow.close()
    assert client.info()["protocol"] == "edgeopt-agent-1"


def test_a_client_that_vanishes_or_stalls_mid_upload_leaves_nothing(agent, client, token, cnn_onnx, tmp_path):
    fresh = variant(cnn_onnx, tmp_path / "fresh.onnx", "vanishing")
    data, sha = fresh.read_bytes(), sha256_file(fresh)
    target = f"/v1/artifacts/{sha}"
    head = "".join(f"{k}: {v}\r\n" for k, v in signed(token, "PUT", target, data).items())
    for stall in (False, True):
        sock = socket.create_connection((HOST, agent.port))
        try:
            request = f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n{head}\r\n"
            sock.sendall(request.encode() + data[:1000])
            if stall:  # a body that never completes: the agent's body deadline ends it
                assert _closed_by_agent(sock)
        finally:
            sock.close()  # a client that vanishes mid-upload
    assert client.info()["queue"] is not None
    assert not _has(client, sha)
    assert [p.name for p in (agent.store / "incoming").iterdir()] == []  # no partial file left


def test_get_requests_cannot_carry_a_body_and_unknown_routes_are_404(agent, client, token):
    target = "/v1/info"
    assert raw(agent, "PUT", target, b"x", signed(token, "PUT", target, b"x"))[0] == 404
    for target in ("/v1/../../etc/passwd", "/etc/passwd", "/v2/info", "/v1/artifacts/../../x"):
        assert client.request("GET", target).status == 404
    body = b"{}"
    headers = {**signed(token, "GET", "/v1/info", body), "Content-Length": "2"}
    conn_status = raw(agent, "GET", "/v1/info", b"", headers)[0]
    assert conn_status == 400


def test_the_token_never_appears_in_the_agents_output(agent, token):
    text = agent.log
    assert "GET /v1/info" in text  # the log is there, and it holds requests
    assert token.decode() not in text
    assert hashlib.sha256(token).hexdigest() not in text


def test_connections_over_the_limit_are_turned_away_and_a_client_retries(token_file, token):
    from edgeopt.agent.server import AgentConfig, AgentServer

    server = AgentServer(AgentConfig(token_file=token_file, port=0, max_connections=1, request_timeout=1.0), token)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"agent://{HOST}:{server.server_address[1]}"
    try:
        hog = socket.create_connection((HOST, server.server_address[1]))  # holds the only slot, sends nothing
        time.sleep(0.3)
        status, _, _ = raw(server.server_address[1], "GET", "/v1/info")
        assert status == 503  # turned away at once, before any parsing
        assert AgentClient(url, token=token, retries=4, backoff=0.3).info()["protocol"] == "edgeopt-agent-1"
        hog.close()  # the hog was cut off at its deadline, then the retry got in
        store = server.store.root
        assert store.is_dir()
    finally:
        server.shutdown()
        server.close()
    assert not store.exists()  # uploads are deleted when the agent stops
