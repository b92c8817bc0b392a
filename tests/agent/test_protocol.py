"""Signing, token files, agent URLs, artifact names and certificate pins."""

from __future__ import annotations

import pytest

from edgeopt.agent.protocol import (
    H_SIGNATURE,
    AgentAddress,
    certificate_fingerprint,
    check_name,
    normalize_pin,
    parse_agent_url,
    read_token,
    sign_request,
    write_token,
)
from edgeopt.errors import EdgeoptError

KEY = b"k" * 43


def test_the_signature_covers_method_target_time_nonce_and_body():
    base = {"now": 1_700_000_000, "nonce": "0" * 32}
    reference = sign_request(KEY, "POST", "/v1/jobs", b"{}", **base)[H_SIGNATURE]
    variants = [
        sign_request(KEY, "PUT", "/v1/jobs", b"{}", **base),
        sign_request(KEY, "POST", "/v1/jobs?x=1", b"{}", **base),
        sign_request(KEY, "POST", "/v1/jobs", b"{ }", **base),
        sign_request(KEY, "POST", "/v1/jobs", b"{}", now=1_700_000_001, nonce="0" * 32),
        sign_request(KEY, "POST", "/v1/jobs", b"{}", now=1_700_000_000, nonce="1" * 32),
        sign_request(b"j" * 43, "POST", "/v1/jobs", b"{}", **base),
    ]
    assert all(v[H_SIGNATURE] != reference for v in variants)
    assert sign_request(KEY, "POST", "/v1/jobs", b"{}", **base)[H_SIGNATURE] == reference
    assert sign_request(KEY, "GET", "/v1/info", b"")["X-Edgeopt-Nonce"] != sign_request(KEY, "GET", "/v1/info", b"")[
        "X-Edgeopt-Nonce"]  # a fresh nonce each time


def test_token_files_are_checked_like_ssh_keys_and_never_echoed(tmp_path):
    good = write_token(tmp_path / "t")
    assert oct(good.stat().st_mode & 0o777) == "0o600" and len(read_token(good)) >= 32
    with pytest.raises(EdgeoptError, match="exists already"):
        write_token(good)  # never overwritten
    secret = "s3cr3t-" * 8
    loose = tmp_path / "loose"
    loose.write_text(secret)
    loose.chmod(0o644)
    with pytest.raises(EdgeoptError, match="readable by other users") as info:
        read_token(loose)
    assert secret not in str(info.value) and "chmod 600" in str(info.value)
    short = tmp_path / "short"
    short.write_text("abc")
    short.chmod(0o600)
    with pytest.raises(EdgeoptError, match="too weak") as info:
        read_token(short)
    assert "abc" not in str(info.value).replace("tmp", "")
    with pytest.raises(EdgeoptError, match="does not exist"):
        read_token(tmp_path / "missing")


@pytest.mark.parametrize(("url", "address"), [
    ("agent://raspberrypi.local:8765", AgentAddress("raspberrypi.local", 8765)),
    ("agent://192.168.1.20:80", AgentAddress("192.168.1.20", 80)),
    ("agent://[::1]:9000", AgentAddress("::1", 9000)),
])
def test_agent_urls(url, address):
    assert parse_agent_url(url) == address and str(address) == url


@pytest.mark.parametrize("url", ["http://pi:8765", "agent://pi", "agent://pi:0", "agent://pi:8765/x",
                                 "agent://user@pi:1", "agent://pi:70000", "pi:8765", ""])
def test_bad_agent_urls_are_one_line_errors(url):
    with pytest.raises(EdgeoptError, match="agent") as info:
        parse_agent_url(url)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", ".bashrc", "a/b.onnx", "a\\b.onnx",
                                  "model..onnx", "", "x" * 200, "mo del.onnx", "ünï.onnx", "a\x00.onnx"])
def test_names_that_are_paths_are_refused(name):
    with pytest.raises(EdgeoptError, match="not a plain file name"):
        check_name(name)


@pytest.mark.parametrize("name", ["model.onnx", "model.int8.pte", "cnn_v2-final+q.onnx", "0.onnx"])
def test_plain_names_pass(name):
    assert check_name(name) == name


def test_pins_are_normalised():
    fingerprint = certificate_fingerprint(b"certificate bytes")
    assert len(fingerprint) == 95 and fingerprint.count(":") == 31
    for form in (fingerprint, fingerprint.lower(), fingerprint.replace(":", ""), f"sha256:{fingerprint}",
                 f"SHA256 Fingerprint={fingerprint}"):
        assert normalize_pin(form) == fingerprint
    with pytest.raises(EdgeoptError, match="not a SHA-256 fingerprint"):
        normalize_pin("AB:CD")
