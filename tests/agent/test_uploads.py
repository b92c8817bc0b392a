"""Uploads: limited in size, judged by content, stored by hash in a private directory, never by a client's path.

Authenticated requests throughout (the ``agent`` fixture: 1 MiB upload limit), so every refusal
here is about the file or its name, not about who sent it.
"""

from __future__ import annotations

import io
import os
import pickle
import stat

import pytest
import torch
from agent_helpers import raw, sha256_file, signed, variant

from edgeopt.agent.client import AgentClient
from edgeopt.errors import EdgeoptError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def client(agent, token):
    return AgentClient(agent.url, token=token, retries=1, backoff=0.1)


def _put(client, data: bytes, name: str = "model.onnx"):
    import hashlib
    from urllib.parse import quote

    sha = hashlib.sha256(data).hexdigest()
    answer = client.request("PUT", f"/v1/artifacts/{sha}?name={quote(name, safe='')}", data)
    return answer, sha


def _stored_files(agent) -> set[str]:
    return {str(p.relative_to(agent.store)) for p in agent.store.rglob("*") if p.is_file()}


def test_an_upload_is_stored_by_hash_in_a_private_directory(agent, client, cnn_onnx, tmp_path):
    fresh = variant(cnn_onnx, tmp_path / "whatever-name.onnx", "stored")
    answer = client.upload(fresh)
    sha = sha256_file(fresh)
    assert answer == {"kind": "artifact", "sha256": sha, "format": "onnx", "size": fresh.stat().st_size,
                      "name": "whatever-name.onnx"}
    assert f"artifact/{sha}/artifact.onnx" in _stored_files(agent)  # the hash and a fixed name, not the client's
    assert stat.S_IMODE(agent.store.stat().st_mode) == 0o700
    assert client.upload(fresh) == answer  # known by hash: not sent again
    assert "path" not in answer and str(agent.store) not in str(answer)


def test_an_oversized_upload_is_413_before_its_body_is_read(agent, client, token):
    big = os.urandom(2 << 20)  # over the agent's 1 MiB
    import hashlib

    sha = hashlib.sha256(big).hexdigest()
    target = f"/v1/artifacts/{sha}"
    status, answer, _ = raw(agent, "PUT", target, big[:1000],  # says 2 MiB, sends 1000 bytes: never read
                            {**signed(token, "PUT", target, sha), "Content-Length": str(len(big))})
    assert (status, answer["code"]) == (413, "too_large")
    assert answer["error"] == f"an artifact of {2 << 20} bytes is over this agent's limit of {1 << 20} bytes"
    assert "--max-upload-mb" in answer["hint"]
    assert client.request("GET", target).status == 404


def test_the_client_names_the_agents_limit_before_sending(agent, token, tmp_path):
    from edgeopt.agent.client import measure_remote

    big = tmp_path / "big.onnx"
    big.write_bytes(b"\0" * (2 << 20))
    with pytest.raises(EdgeoptError, match=r"big.onnx' is 2097152 bytes, over the agent's upload limit of 1048576"):
        measure_remote([big], agent.url, token=token)


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_a_truncated_onnx_file_is_refused(client, cnn_onnx, cut):
    data = cnn_onnx.read_bytes()
    answer, sha = _put(client, data[: int(len(data) * cut)])
    assert answer.status == 415 and "not a complete ONNX model" in answer.data["error"]
    assert "truncated" in answer.data["error"] and "edgeopt export" in answer.data["hint"]
    assert client.request("GET", f"/v1/artifacts/{sha}").status == 404


def test_a_file_that_is_no_artifact_is_refused(client):
    answer, _ = _put(client, b"name,accuracy\nmodel,0.9\n" * 50, "results.onnx")
    assert answer.status == 415 and "not an ONNX model" in answer.data["error"]


def test_a_pickle_disguised_as_onnx_is_refused(client):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch /tmp/edgeopt-agent-pwned",))

    answer, sha = _put(client, pickle.dumps(Payload()), "model.onnx")
    assert answer.status == 415 and "Python pickle" in answer.data["error"]
    assert "never loads pickles" in answer.data["hint"]
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer)
    answer, _ = _put(client, buffer.getvalue(), "model.onnx")
    assert answer.status == 415 and "zip archive" in answer.data["error"]
    assert not os.path.exists("/tmp/edgeopt-agent-pwned")
    assert client.request("GET", f"/v1/artifacts/{sha}").status == 404


def test_openvino_ir_is_refused_as_not_supported_yet(client):
    answer, _ = _put(client, b'<?xml version="1.0"?>\n<net name="m" version="11"></net>\n', "model.xml")
    assert answer.status == 415 and answer.data["error"] == "OpenVINO IR is not supported by the agent yet"
    info = client.info()
    assert info["runtimes"]["openvino"] == {"available": False, "format": "openvino", "runs": "OpenVINO IR (.xml/.bin)",
                                            "install": None, "note": "not supported by the agent yet"}


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/cron.d/x", "..", ".ssh", "a/../../b.onnx",
                                  "..%2F..%2Fetc%2Fpasswd", "C:\\x.onnx"])
def test_a_path_traversal_name_is_refused_and_writes_nothing(agent, client, cnn_onnx, tmp_path, name):
    fresh = variant(cnn_onnx, tmp_path / "fresh.onnx", f"traversal {name}")
    before = _stored_files(agent)
    answer, sha = _put(client, fresh.read_bytes(), name)
    assert (answer.status, answer.data["code"]) == (400, "bad_name")
    assert "not a plain file name" in answer.data["error"]
    assert _stored_files(agent) == before and client.request("GET", f"/v1/artifacts/{sha}").status == 404


def test_a_path_in_the_url_is_not_a_place_to_write(agent, client, cnn_onnx):
    data = cnn_onnx.read_bytes()
    for target in ("/v1/artifacts/../../../tmp/x.onnx", "/v1/artifacts/%2e%2e%2fx", "/v1/artifacts/abc",
                   "/v1/x/../artifacts/aa"):
        assert client.request("PUT", target, data).status in (400, 404), target
    assert not os.path.exists("/tmp/x.onnx")


def test_a_hash_that_does_not_match_the_url_is_refused(client, cnn_onnx):
    data = cnn_onnx.read_bytes()
    import hashlib

    other = hashlib.sha256(b"other").hexdigest()
    answer = client.request("PUT", f"/v1/artifacts/{other}", data)
    assert (answer.status, answer.data["code"]) == (400, "body_mismatch")
