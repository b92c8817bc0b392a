"""The agent's wire protocol: request signing, the token file, addresses, names and pins.

Every request is signed with HMAC-SHA256 under the shared token (see docs/agent.md):

    signature = HMAC(token, "edgeopt-agent-1\\n" METHOD "\\n" TARGET "\\n" TIME "\\n" NONCE "\\n" BODY_SHA256)

where TARGET is the path with its query as sent, TIME the client's Unix time in seconds, NONCE
128 random bits (hex) and BODY_SHA256 the hex SHA-256 of the body (of ``b""`` without one). The
agent accepts a request only if the signature matches (compared in constant time), TIME is
within :data:`WINDOW_S` of its clock and NONCE was not seen in the last ``2 x WINDOW_S``: a
captured request cannot be replayed (same nonce) nor kept for later (old time), and its body
cannot be swapped (the hash is signed and checked against the bytes received).

Answers are signed too, over the request's nonce, the status and the answer's body hash, so the
client knows a measurement came from the agent that holds the token and answers this request.

Example:
    >>> headers = sign_request(b"k" * 32, "GET", "/v1/info", b"")
    >>> sorted(headers)
    ['X-Edgeopt-Content-SHA256', 'X-Edgeopt-Nonce', 'X-Edgeopt-Signature', 'X-Edgeopt-Time']
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edgeopt.errors import EdgeoptError

PROTOCOL = "edgeopt-agent-1"
URL_SCHEME = "agent://"
WINDOW_S = 120.0  # a request's time may differ from the agent's clock by this much
MIN_TOKEN_CHARS = 32  # e.g. the 43 characters of `edgeopt agent token` (256 random bits)

H_TIME = "X-Edgeopt-Time"
H_NONCE = "X-Edgeopt-Nonce"
H_BODY = "X-Edgeopt-Content-SHA256"
H_SIGNATURE = "X-Edgeopt-Signature"

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def canonical_request(method: str, target: str, timestamp: str, nonce: str, body_sha256: str) -> bytes:
    """The bytes a request's signature covers."""
    return "\n".join((PROTOCOL, method.upper(), target, timestamp, nonce, body_sha256)).encode()


def signature(key: bytes, message: bytes) -> str:
    """Hex HMAC-SHA256 of ``message`` under ``key``."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_request(
    key: bytes, method: str, target: str, body_sha256_or_bytes: str | bytes, *,
    now: float | None = None, nonce: str | None = None,
) -> dict[str, str]:
    """The four headers that authenticate one request (a fresh nonce unless one is given)."""
    body = body_sha256_or_bytes
    digest = hashlib.sha256(body).hexdigest() if isinstance(body, bytes) else body
    stamp = str(int(time.time() if now is None else now))
    once = nonce or secrets.token_hex(16)
    return {
        H_TIME: stamp,
        H_NONCE: once,
        H_BODY: digest,
        H_SIGNATURE: signature(key, canonical_request(method, target, stamp, once, digest)),
    }


def response_signature(key: bytes, nonce: str, status: int, body_sha256: str) -> str:
    """The signature of an answer to the request that carried ``nonce``."""
    return signature(key, "\n".join((PROTOCOL + "-response", nonce, str(status), body_sha256)).encode())


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two signatures or fingerprints."""
    return hmac.compare_digest(a.encode(), b.encode())


# --- the token file ----------------------------------------------------------------------------


def read_token(path: str | os.PathLike[str]) -> bytes:
    """The shared token in ``path`` (surrounding whitespace dropped), checked like an SSH key.

    The file must be readable by its owner only (on POSIX) and hold at least
    :data:`MIN_TOKEN_CHARS` characters. No error message ever contains the token.

    Raises:
        EdgeoptError: missing file, loose permissions, too short or not text.
    """
    file = Path(path)
    if not file.is_file():
        raise EdgeoptError(f"token file {str(file)!r} does not exist",
                           hint="make one with `edgeopt agent token -o FILE` and copy it to both sides")
    if sys.platform != "win32" and file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise EdgeoptError(f"token file {str(file)!r} is readable by other users",
                           hint=f"chmod 600 {file}")
    try:
        token = file.read_bytes().strip().decode("ascii")
    except UnicodeDecodeError:
        raise EdgeoptError(f"token file {str(file)!r} is not plain ASCII text",
                           hint="make one with `edgeopt agent token -o FILE`") from None
    if len(token) < MIN_TOKEN_CHARS or not token.isprintable() or any(c.isspace() for c in token):
        raise EdgeoptError(
            f"the token in {str(file)!r} is too weak: it needs {MIN_TOKEN_CHARS} or more characters "
            "and no spaces", hint="make one with `edgeopt agent token -o FILE`",
        )
    return token.encode("ascii")


def new_token() -> str:
    """A fresh token: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def write_token(path: str | os.PathLike[str]) -> Path:
    """Write a new token to ``path``, readable by its owner only; never overwrites a file.

    Raises:
        EdgeoptError: ``path`` exists already.
    """
    file = Path(path)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EdgeoptError(f"token file {str(file)!r} exists already",
                           hint="use it, or delete it first to make a new one") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(new_token() + "\n")
    return file


# --- addresses, names, pins --------------------------------------------------------------------


@dataclass(frozen=True)
class AgentAddress:
    """Where an agent listens: ``agent://HOST:PORT`` (``[::1]`` for an IPv6 host)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{URL_SCHEME}{host}:{self.port}"


def parse_agent_url(url: str) -> AgentAddress:
    """``agent://HOST:PORT`` → :class:`AgentAddress`.

    Raises:
        EdgeoptError: anything else (another scheme, no port, a path).

    Example:
        >>> parse_agent_url("agent://raspberrypi.local:8765")
        AgentAddress(host='raspberrypi.local', port=8765)
    """
    hint = "e.g. --device agent://raspberrypi.local:8765"
    text = str(url).strip()
    if not text.startswith(URL_SCHEME):
        raise EdgeoptError(f"device {url!r} is not an agent URL (agent://HOST:PORT)", hint=hint)
    rest = text[len(URL_SCHEME):]
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([A-Za-z0-9.-]+):(\d{1,5})", rest)
    if not match:
        raise EdgeoptError(f"agent URL {url!r} is not agent://HOST:PORT", hint=hint)
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 < port < 65536:
        raise EdgeoptError(f"agent URL {url!r} has port {port}, outside 1-65535", hint=hint)
    return AgentAddress(host, port)


def check_name(name: str) -> str:
    """An artifact's display name: a plain file name (no directories, no leading dot).

    The agent never stores a file under a name a client chose (files live under their hash);
    names are only echoed back in measurements, and refused when they look like a path.

    Raises:
        EdgeoptError: a path, a traversal, a hidden or over-long name, odd characters.
    """
    if not _NAME_RE.fullmatch(name) or ".." in name:
        raise EdgeoptError(
            f"artifact name {name[:80]!r} is not a plain file name",
            hint="letters, digits and . _ + - only, no directories or '..', at most 128 characters",
        )
    return name


def certificate_fingerprint(der: bytes) -> str:
    """The SHA-256 of a DER certificate as ``AB:CD:…`` (what ``openssl x509 -fingerprint -sha256`` prints)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2))


def normalize_pin(pin: str) -> str:
    """A pinned fingerprint in the form :func:`certificate_fingerprint` gives.

    Accepts ``sha256:`` / ``SHA256 Fingerprint=`` prefixes, colons or none, any case.

    Raises:
        EdgeoptError: not 32 hex bytes.
    """
    text = pin.strip()
    for prefix in ("sha256 fingerprint=", "sha256:", "sha256="):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    digits = text.replace(":", "").strip().upper()
    if not re.fullmatch(r"[0-9A-F]{64}", digits):
        raise EdgeoptError(f"TLS pin {pin[:100]!r} is not a SHA-256 fingerprint",
                           hint="copy the fingerprint the agent prints when it starts (AB:CD:… 32 bytes)")
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))
