"""The agent's HTTP service: the standard library's threading server, made strict.

Why ``http.server`` and not an ASGI stack: the agent does one slow thing at a time (a
measurement, in a worker process), so it gains nothing from an event loop, and it runs on
devices where every extra wheel is a problem (a Raspberry Pi, Termux on a phone): with the
standard library the agent needs only numpy, pydantic and the runtime. The usual objection —
``http.server`` "implements only basic security checks" — is answered here, not ignored; and the
ASGI servers have the same gap in the place that matters (uvicorn has no deadline for receiving
a request, so a client trickling bytes holds a connection forever). What this module adds:

- **Deadlines**: a whole request (TLS handshake and headers) must arrive within
  ``request_timeout`` of the connection, and a body within that plus its size at
  ``min_upload_rate``; a watchdog shuts down connections that overrun, and every read or write
  also has a per-call ``io_timeout``.
- **Bounded resources**: at most ``max_connections`` connections at once (more get 503), one
  request per connection (HTTP/1.0, no keep-alive), bodies only with a ``Content-Length`` within
  the route's limit (413 above it, checked before a byte of the body is read), 64 KiB of JSON.
- **Authentication before anything else**: the signature (see :mod:`edgeopt.agent.protocol`) is
  checked from the headers before the body is read; an unauthenticated, wrongly signed,
  expired or replayed request is answered 401/403 and changes nothing. The token is never
  logged; log lines name the method, the path and the status only.

Routes (all JSON): ``GET /v1/info``; ``GET|PUT /v1/artifacts/<sha256>[?name=NAME]``;
``GET|PUT /v1/data/<sha256>``; ``POST /v1/jobs``; ``GET /v1/jobs/<id>[?wait=S&seen=STATE]``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

from edgeopt.agent.device import describe_device, runtime_available
from edgeopt.agent.formats import Refused
from edgeopt.agent.jobs import Job, JobQueue, JobRequest, QueueFull, Worker
from edgeopt.agent.protocol import (
    EMPTY_SHA256,
    H_BODY,
    H_NONCE,
    H_SIGNATURE,
    H_TIME,
    NONCE_RE,
    PROTOCOL,
    SHA256_RE,
    WINDOW_S,
    AgentAddress,
    canonical_request,
    certificate_fingerprint,
    check_name,
    read_token,
    response_signature,
    same,
    signature,
)
from edgeopt.agent.storage import Kind, Store
from edgeopt.errors import EdgeoptError
from edgeopt.version import __version__

MIB = 1 << 20
_JSON_LIMIT = 64 * 1024
_MAX_WAIT_S = 20.0
_JOB_ID_RE = re.compile(r"^[0-9a-f]{8}-\d{6,}$")

# What each format needs on the device, for the "runtime missing" answer.
RUNTIMES = {
    "onnx": ("onnxruntime", "ONNX files (.onnx)", "pip install 'edgeopt[agent]' (onnxruntime)"),
    "executorch": ("executorch", "ExecuTorch programs (.pte)",
                   "pip install 'edgeopt[agent,executorch]' (ExecuTorch's Python runtime needs torch)"),
}


@dataclass(frozen=True)
class AgentConfig:
    """How the agent listens and what it accepts (the options of ``edgeopt agent serve``).

    Attributes:
        token_file: The shared token (``edgeopt agent token -o FILE``).
        host: Address to listen on (``0.0.0.0``: every interface; default this machine only).
        port: TCP port (0: any free one; the agent prints which).
        tls_cert, tls_key: PEM certificate and key: serve HTTPS (clients pin the certificate).
        max_upload_bytes: Largest artifact accepted.
        max_data_bytes: Largest evaluation data (.npz) accepted, packed and unpacked.
        store_bytes: Budget of the upload store.
        request_timeout: Seconds for a connection to deliver its request headers (and TLS handshake).
        min_upload_rate: Bytes per second a body must at least arrive at.
        io_timeout: Seconds any single read or write may block.
        job_timeout: Seconds a measurement may run before its worker is killed.
        max_queued: Jobs that may wait.
        max_connections: Connections served at once.
    """

    token_file: Path
    host: str = "127.0.0.1"
    port: int = 8765
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_upload_bytes: int = 256 * MIB
    max_data_bytes: int = 256 * MIB
    store_bytes: int = 1024 * MIB
    request_timeout: float = 10.0
    min_upload_rate: int = 64 * 1024
    io_timeout: float = 30.0
    job_timeout: float = 1800.0
    max_queued: int = 64
    max_connections: int = 32


class _Reply(Exception):
    """Answer the request with ``status`` and a JSON error (raised anywhere in a handler)."""

    def __init__(self, status: int, code: str, error: str, hint: str | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.payload = {"code": code, "error": error, "hint": hint, **extra}


class NonceCache:
    """Nonces of accepted requests, each kept ``ttl`` seconds (bounded; purged as it grows)."""

    def __init__(self, ttl: float, limit: int = 200_000) -> None:
        self.ttl, self.limit = ttl, limit
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, nonce: str) -> bool:
        """Remember ``nonce``; False if it was seen within its lifetime (a replay)."""
        now = time.monotonic()
        with self._lock:
            if len(self._seen) >= self.limit // 2:
                self._seen = {n: t for n, t in self._seen.items() if t > now}
            if len(self._seen) >= self.limit:
                raise _Reply(503, "busy", "the agent is receiving too many requests", hint="try again shortly")
            expires = self._seen.get(nonce)
            if expires is not None and expires > now:
                return False
            self._seen[nonce] = now + self.ttl
            return True


class Deadlines:
    """A watchdog that shuts down connections which overrun their deadline (keyed by file descriptor)."""

    def __init__(self, tick: float = 0.2) -> None:
        self._due: dict[int, float] = {}
        self._lock = threading.Lock()
        self._tick = tick
        threading.Thread(target=self._watch, name="edgeopt-agent-deadlines", daemon=True).start()

    def arm(self, fd: int, seconds: float) -> None:
        """Shut ``fd`` down ``seconds`` from now unless disarmed first."""
        with self._lock:
            self._due[fd] = time.monotonic() + seconds

    def disarm(self, fd: int) -> None:
        """The connection delivered what it had to (or is about to be closed)."""
        with self._lock:
            self._due.pop(fd, None)

    def _watch(self) -> None:
        while True:
            time.sleep(self._tick)
            now = time.monotonic()
            with self._lock:  # held while shutting down, so no fd is closed and reused meanwhile
                for fd in [fd for fd, due in self._due.items() if due < now]:
                    del self._due[fd]
                    _shutdown_fd(fd)


def _shutdown_fd(fd: int) -> None:
    """Wake any thread blocked reading ``fd``: its read returns end-of-file, the handler gives up."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()


class AgentServer(ThreadingHTTPServer):
    """The HTTP server, its store, queue, worker, nonce cache and deadlines.

    Args:
        config: Listening address, TLS, limits, timeouts.
        token: The shared token (as :func:`~edgeopt.agent.protocol.read_token` returns it).
        worker: The measuring process (default: ``python -m edgeopt.agent.worker``).
        log: Where log lines go (default stderr).

    Raises:
        EdgeoptError: the address cannot be bound, the certificate or key cannot be loaded.
    """

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, config: AgentConfig, token: bytes, *, worker: Worker | None = None,
                 log: TextIO | None = None) -> None:
        self.config, self.key, self.log_to = config, token, log or sys.stderr
        self.ssl_context, self.fingerprint = _tls(config)
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        try:
            super().__init__((config.host, config.port), _Handler)
        except OSError as exc:
            raise EdgeoptError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}",
                               hint="pick another --port, or stop what uses it") from None
        self.store = Store(config.store_bytes, config.max_data_bytes)
        self.queue = JobQueue(self.store, worker or Worker(), config.job_timeout, config.max_queued)
        self.nonces = NonceCache(2 * WINDOW_S)
        self.deadlines = Deadlines()
        self.device = describe_device()
        self._slots = threading.BoundedSemaphore(config.max_connections)
        self.queue.worker.start()  # import the runtimes now, not during the first request

    @property
    def address(self) -> AgentAddress:
        """Where clients reach this agent (the bound host and port)."""
        host, port = self.server_address[0], self.server_address[1]
        return AgentAddress(str(host), int(port))

    def log(self, message: str) -> None:
        """One log line (never a header, a body or the token)."""
        with contextlib.suppress(OSError, ValueError):
            self.log_to.write(f"{time.strftime('%H:%M:%S')} {message}\n")
            self.log_to.flush()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.log(f"{client_address[0]} refused: {self.config.max_connections} connections open")
            with contextlib.suppress(OSError):
                if self.ssl_context is None:
                    request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        conn = request
        fd = request.fileno()
        self.deadlines.arm(fd, self.config.request_timeout)
        try:
            if self.ssl_context is not None:
                request.settimeout(self.config.io_timeout)
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            self.finish_request(conn, client_address)
        except (OSError, ssl.SSLError) as exc:
            self.log(f"{client_address[0]} connection dropped: {type(exc).__name__}")
        except Exception as exc:  # a bug in a handler must not take the agent down
            self.log(f"{client_address[0]} internal error: {type(exc).__name__}: {exc}")
        finally:
            self.deadlines.disarm(fd)
            self.shutdown_request(conn)
            self._slots.release()

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/info`` answers: the device, runtimes, limits, the queue."""
        runtimes: dict[str, Any] = {}
        for fmt, (runtime, what, install) in RUNTIMES.items():
            runtimes[runtime] = {"available": runtime_available(runtime), "format": fmt, "runs": what,
                                 "install": install, "version": self.device["runtimes"].get(runtime)}
        runtimes["openvino"] = {"available": False, "format": "openvino", "runs": "OpenVINO IR (.xml/.bin)",
                                "install": None, "note": "not supported by the agent yet"}
        return {
            "protocol": PROTOCOL, "agent": __version__, "instance": self.queue.instance,
            "server_time": time.time(), "tls": self.ssl_context is not None,
            "device": self.device, "runtimes": runtimes,
            "limits": {"max_upload_bytes": self.config.max_upload_bytes,
                       "max_data_bytes": self.config.max_data_bytes,
                       "max_queued": self.config.max_queued, "job_timeout_s": self.config.job_timeout,
                       "window_s": WINDOW_S},
            "queue": {"waiting": self.queue.waiting(), "running": self.queue.running(),
                      "submitted": self.queue.submitted},
        }

    def close(self) -> None:
        """Stop the queue and the worker, close the socket, delete the store."""
        self.queue.stop()
        self.server_close()
        self.store.close()


def _tls(config: AgentConfig) -> tuple[ssl.SSLContext | None, str | None]:
    if config.tls_cert is None and config.tls_key is None:
        return None, None
    if config.tls_cert is None or config.tls_key is None:
        raise EdgeoptError("TLS needs both --tls-cert and --tls-key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(config.tls_cert), str(config.tls_key))
        pem = Path(config.tls_cert).read_text(encoding="ascii", errors="replace")
        der = ssl.PEM_cert_to_DER_cert(pem[: pem.index("-----END CERTIFICATE-----") + 25])
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise EdgeoptError(
            f"cannot load the TLS certificate {str(config.tls_cert)!r} and key {str(config.tls_key)!r}: "
            f"{getattr(exc, 'strerror', None) or exc}",
            hint="make a pair: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            "-days 3650 -subj /CN=edgeopt-agent -keyout key.pem -out cert.pem",
        ) from None
    return context, certificate_fingerprint(der)


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    protocol_version = "HTTP/1.0"  # one request per connection: no keep-alive state to exhaust
    server_version = f"edgeopt-agent/{__version__}"
    sys_version = ""

    def setup(self) -> None:
        self._nonce: str | None = None
        self._status = 0
        super().setup()
        self.connection.settimeout(self.server.config.io_timeout)  # every read and write

    # --- plumbing ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(self.path).path if hasattr(self, "path") else "?"
        self.server.log(f"{self.client_address[0]} {getattr(self, 'command', '?')} {path} {code}")

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log(f"{self.client_address[0]} {format % args}"[:300])

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self._reply(code, {"code": "bad_request", "error": message or HTTPStatus(code).phrase})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.send_header("Cache-Control", "no-store")
        if self._nonce is not None:  # authenticated: the client checks this answer is the agent's
            digest = hashlib.sha256(body).hexdigest()
            self.send_header(H_SIGNATURE, response_signature(self.server.key, self._nonce, status, digest))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        self.server.deadlines.disarm(self.connection.fileno())  # the headers are in; a body gets its own
        try:
            status, payload = self._route(method, self._authenticate(method))
        except _Reply as reply:
            status, payload = reply.status, reply.payload
        except (OSError, ssl.SSLError):
            raise  # the connection is gone: nothing to answer
        except Exception as exc:  # a bug: answer 500, keep serving
            self.server.log(f"{self.client_address[0]} internal error: {type(exc).__name__}: {exc}")
            status, payload = 500, {"code": "internal", "error": "the agent failed on this request"}
        self._reply(status, payload)
        if status in (401, 403, 411, 413):
            self._drain()

    def _drain(self) -> None:
        """Read (a little of) a body we refused, so closing does not reset the answer away."""
        with contextlib.suppress(OSError, ValueError):
            self.connection.settimeout(1.0)
            self.rfile.read1(1 << 20)

    # --- authentication -----------------------------------------------------------------------

    def _authenticate(self, method: str) -> str:
        """The signed body hash, once the request is proven authentic, fresh and new."""
        stamp, nonce, body, sig = (self.headers.get(h) for h in (H_TIME, H_NONCE, H_BODY, H_SIGNATURE))
        if stamp is None or nonce is None or body is None or sig is None:
            raise _Reply(401, "unauthenticated", "the request is not signed: this agent needs edgeopt's client",
                         hint="--device agent://HOST:PORT --token-file FILE (the agent's token)")
        well_formed = stamp.isascii() and stamp.isdigit() and len(stamp) <= 12
        if not (well_formed and NONCE_RE.match(nonce) and SHA256_RE.match(body) and SHA256_RE.match(sig)):
            raise _Reply(401, "unauthenticated", "the request's authentication headers are malformed")
        expected = signature(self.server.key, canonical_request(method, self.path, stamp, nonce, body))
        if not same(sig, expected):
            raise _Reply(401, "bad_signature", "the request's signature does not match this agent's token",
                         hint="use the same token file on both sides")
        self._nonce = nonce  # authentic: from here on, answers are signed
        skew = int(stamp) - time.time()
        if abs(skew) > WINDOW_S:
            raise _Reply(403, "expired", f"the request's time is {skew:+.0f} s from the agent's clock "
                         f"(±{WINDOW_S:g} s allowed)", hint="set the clocks (NTP) of both machines",
                         server_time=time.time())
        if not self.server.nonces.add(nonce):
            raise _Reply(403, "replayed", "this request was received before (its nonce is used): refused")
        return body

    # --- routes -------------------------------------------------------------------------------

    def _route(self, method: str, body_sha: str) -> tuple[int, dict[str, Any]]:
        url = urlsplit(self.path)
        parts = url.path.split("/")
        try:
            query = parse_qs(url.query, max_num_fields=4)
        except ValueError:
            raise _Reply(400, "bad_request", "too many query fields") from None
        if len(parts) < 3 or parts[:2] != ["", "v1"]:
            raise _Reply(404, "not_found", f"no such route {url.path[:100]!r}")
        route = parts[2:]
        if method == "GET":
            self._expect_no_body(body_sha)
            if route == ["info"]:
                return 200, self.server.info()
            if len(route) == 2 and route[0] in ("artifacts", "data"):
                return self._get_stored(_kind(route[0]), route[1])
            if len(route) == 2 and route[0] == "jobs":
                return self._get_job(route[1], query)
        if method == "PUT" and len(route) == 2 and route[0] in ("artifacts", "data"):
            return self._put(_kind(route[0]), route[1], body_sha, query)
        if method == "POST" and route == ["jobs"]:
            return self._post_job(body_sha)
        raise _Reply(404, "not_found", f"no such route: {method} {url.path[:100]!r}")

    def _expect_no_body(self, body_sha: str) -> None:
        if self.headers.get("Content-Length", "0") != "0" or self.headers.get("Transfer-Encoding"):
            raise _Reply(400, "bad_request", "GET requests take no body")
        if body_sha != EMPTY_SHA256:
            raise _Reply(400, "body_mismatch", "the signed body hash is not that of an empty body")

    def _length(self, limit: int, what: str, flag: str) -> int:
        if self.headers.get("Transfer-Encoding"):
            raise _Reply(411, "length_required", "chunked bodies are not accepted: send a Content-Length")
        text = self.headers.get("Content-Length")
        if text is None or not (text.isascii() and text.isdigit()):
            raise _Reply(411, "length_required", "the request needs a Content-Length")
        length = int(text)
        if length > limit:
            raise _Reply(413, "too_large", f"{what} of {length} bytes is over this agent's limit of {limit} bytes",
                         hint=f"the agent's {flag} sets it", limit=limit)
        return length

    def _read_body(self, length: int) -> Callable[[int], bytes]:
        """A reader of the body, under a deadline proportional to its size."""
        allowed = self.server.config.request_timeout + length / self.server.config.min_upload_rate
        self.server.deadlines.arm(self.connection.fileno(), allowed)
        return self.rfile.read

    def _get_stored(self, kind: Kind, sha: str) -> tuple[int, dict[str, Any]]:
        if not SHA256_RE.match(sha):
            raise _Reply(404, "not_found", "not a SHA-256")
        item = self.server.store.get(kind, sha)
        if item is None:
            raise _Reply(404, f"unknown_{kind}", f"this agent has no {kind} {sha[:16]}…")
        return 200, item.to_dict()

    def _put(self, kind: Kind, sha: str, body_sha: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if not SHA256_RE.match(sha):
            raise _Reply(404, "not_found", "uploads go to /v1/<kind>/<sha256 of the bytes>")
        name = (query.get("name") or [f"{kind}-{sha[:12]}"])[0]
        try:
            check_name(name)
        except EdgeoptError as exc:
            raise _Reply(400, "bad_name", exc.message, hint=exc.hint) from None
        if body_sha != sha:
            raise _Reply(400, "body_mismatch", "the URL's hash and the signed body hash differ")
        config = self.server.config
        limit, flag = ((config.max_upload_bytes, "--max-upload-mb") if kind == "artifact"
                       else (config.max_data_bytes, "--max-data-mb"))
        length = self._length(limit, "an artifact" if kind == "artifact" else "the data", flag)
        read = self._read_body(length)
        try:
            item = self.server.store.receive(kind, sha, read, length, name)
        except Refused as exc:
            status = 400 if "hash to" in exc.message or "ended after" in exc.message else 415
            raise _Reply(status, "refused", exc.message, hint=exc.hint) from None
        finally:
            self.server.deadlines.disarm(self.connection.fileno())
        self.server.log(f"{self.client_address[0]} stored {kind} {sha[:12]} ({item.format}, {item.size} bytes)")
        return 201, item.to_dict()

    def _post_job(self, body_sha: str) -> tuple[int, dict[str, Any]]:
        length = self._length(_JSON_LIMIT, "a job request", "built-in 64 KiB")
        body = self._read_body(length)(length)
        self.server.deadlines.disarm(self.connection.fileno())
        if hashlib.sha256(body).hexdigest() != body_sha:
            raise _Reply(400, "body_mismatch", "the body is not the one that was signed")
        try:
            request = JobRequest.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise _Reply(422, "bad_job", f"job field {where!r}: {first['msg']}") from None
        store = self.server.store
        artifacts = []
        for ref in request.artifacts:
            item = store.get("artifact", ref.sha256)
            if item is None:
                raise _Reply(409, "unknown_artifact", f"this agent has no artifact {ref.sha256[:16]}…",
                             hint="upload it first (PUT /v1/artifacts/<sha256>)")
            runtime, what, install = RUNTIMES[item.format]
            if not runtime_available(runtime):
                raise _Reply(422, "runtime_missing", f"this agent cannot run {what}: {runtime} is not installed "
                             "on the device", hint=f"on the device: {install}", runtime=runtime)
            artifacts.append(item)
        data = store.get("data", request.data) if request.data else None
        if request.data and data is None:
            raise _Reply(409, "unknown_data", f"this agent has no data {request.data[:16]}…",
                         hint="upload it first (PUT /v1/data/<sha256>)")
        try:
            job = self.server.queue.submit(request, artifacts, data)
        except QueueFull as exc:
            raise _Reply(503, "queue_full", str(exc), hint="try again when the queue is shorter") from None
        return 202, self._job(job)

    def _get_job(self, job_id: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if not _JOB_ID_RE.match(job_id):
            raise _Reply(404, "unknown_job", "not a job id")
        try:
            wait = min(_MAX_WAIT_S, max(0.0, float((query.get("wait") or ["0"])[0])))
        except ValueError:
            wait = 0.0
        seen = query["seen"][0] if query.get("seen") else None
        job = self.server.queue.wait(job_id, seen, wait) if wait and seen else self.server.queue.get(job_id)
        if job is None:
            raise _Reply(404, "unknown_job", f"this agent has no job {job_id} (it restarted, or forgot it)",
                         instance=self.server.queue.instance)
        return 200, self._job(job)

    def _job(self, job: Job) -> dict[str, Any]:
        return {**job.to_dict(self.server.queue.position(job)), "instance": self.server.queue.instance,
                "device": self.server.device}


def _kind(segment: str) -> Kind:
    return "artifact" if segment == "artifacts" else "data"


def serve(config: AgentConfig, *, out: TextIO | None = None, worker: Worker | None = None) -> None:
    """Run the agent until Ctrl-C or SIGTERM; then stop the worker and delete the store.

    Prints one line with the address (and the TLS fingerprint clients pin) when it listens.

    Raises:
        EdgeoptError: a bad token file, certificate or address.
    """
    out = out or sys.stdout
    token = read_token(config.token_file)
    server = AgentServer(config, token, worker=worker)
    try:
        tls = f", TLS certificate sha256 {server.fingerprint}" if server.fingerprint else ", no TLS"
        out.write(f"edgeopt agent listening on {server.address}{tls}\n")
        out.write(f"  uploads in {server.store.root} (private, deleted on exit); one measurement at a time\n")
        if server.fingerprint is None and config.host not in ("127.0.0.1", "::1", "localhost"):
            out.write("  requests are signed, but files and figures travel unencrypted: "
                      "add --tls-cert/--tls-key on a network you do not trust\n")
        out.flush()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _stop)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def _stop(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt
