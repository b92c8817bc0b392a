"""Optional TLS: the client accepts only the certificate it pinned, and says so before sending anything."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from agent_helpers import FAST

from edgeopt.agent.client import AgentClient, AgentUnreachable, measure_remote
from edgeopt.agent.server import AgentConfig, AgentServer
from edgeopt.errors import EdgeoptError

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")]


def _certificate(folder, name: str) -> tuple:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return cert, key, der.strip().split("=", 1)[1]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    return _certificate(folder, "agent"), _certificate(folder, "impostor")


@pytest.fixture
def tls_agent(make_agent, certs):
    (cert, key, fingerprint), _ = certs
    agent = make_agent("--tls-cert", str(cert), "--tls-key", str(key))
    return agent, fingerprint


def test_the_pinned_certificate_is_accepted_and_measures(tls_agent, token, cnn_onnx):
    agent, fingerprint = tls_agent
    assert f"TLS certificate sha256 {fingerprint}" in agent.log  # what openssl says, printed at start
    (art,) = measure_remote([cnn_onnx], agent.url, token=token, tls_pin=fingerprint.lower().replace(":", ""), **FAST)
    assert art.measurements[-1].runs == 4
    assert AgentClient(agent.url, token=token, tls_pin=f"sha256:{fingerprint}").info()["tls"] is True


def test_another_certificate_is_refused_before_a_request_is_sent(tls_agent, token, certs):
    agent, _ = tls_agent
    (_, _, _), (_, _, impostor) = certs
    before = agent.log.count("/v1/info")
    with pytest.raises(EdgeoptError, match=r"TLS certificate of agent://127.0.0.1:\d+ is not the pinned one") as info:
        AgentClient(agent.url, token=token, tls_pin=impostor).info()
    assert "\n" not in str(info.value)
    assert agent.log.count("/v1/info") == before  # the agent never saw a request


def test_a_plain_client_of_a_tls_agent_is_told_to_pin(tls_agent, token):
    agent, _ = tls_agent
    with pytest.raises(AgentUnreachable, match="--tls-pin"):
        AgentClient(agent.url, token=token, retries=1, backoff=0.05).info()


def test_a_pinning_client_of_a_plain_agent_is_told_it_has_no_tls(make_agent, token, certs):
    agent = make_agent()
    (_, _, fingerprint), _ = certs
    with pytest.raises(EdgeoptError, match="does not speak TLS"):
        AgentClient(agent.url, token=token, tls_pin=fingerprint).info()


def test_a_bad_certificate_stops_the_agent_from_starting(tmp_path, token_file, certs):
    (cert, _, _), (_, other_key, _) = certs
    broken = tmp_path / "broken.pem"
    broken.write_text("not a certificate")
    for pair in ((broken, other_key), (cert, other_key)):  # garbage; a key that is not the certificate's
        with pytest.raises(EdgeoptError, match="cannot load the TLS certificate") as info:
            AgentServer(AgentConfig(token_file=token_file, port=0, tls_cert=pair[0], tls_key=pair[1]), b"t" * 43)
        assert "openssl req -x509" in str(info.value)
    with pytest.raises(EdgeoptError, match="TLS needs both --tls-cert and --tls-key"):
        AgentServer(AgentConfig(token_file=token_file, port=0, tls_cert=cert), b"t" * 43)
