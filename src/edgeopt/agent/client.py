"""The host's side: send artifacts to an agent, have them measured there, get Measurements back.

:func:`measure_remote` is what ``edgeopt bench FILES --device agent://HOST:PORT`` calls. It asks
the agent what it can run (a clear error before anything is sent if a runtime is missing there),
uploads each file unless the agent has it already (by hash), queues one job and follows it with
long polls. Every request is signed (:mod:`edgeopt.agent.protocol`) and every answer's signature
is checked, so figures come from the agent that holds the token. With a TLS pin the connection
is refused unless the server's certificate has exactly that SHA-256 (pinning replaces CA
checks: a self-signed certificate made on the device is the normal case).

Faults are bounded: a refused or dropped connection is retried ``retries`` times with backoff
(0.5 s, 1 s, 2 s…), then reported as one line; an agent that restarted while it held the job is
given the job again (``resubmits`` times). Nothing the caller passed is changed: the result is
new :class:`~edgeopt.artifact.Artifact` objects, each with one more measurement.

Example:
    >>> arts = measure_remote(["model.onnx"], "agent://raspberrypi.local:8765", "agent.token",
    ...                       data="mnist5k", threads=4)
    >>> m = arts[0].measurements[-1]
    >>> m.latency_ms_median, m.device["cpu"]["model"]
    (3.1, 'Cortex-A76')
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import secrets
import socket
import ssl
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from edgeopt.agent.protocol import (
    H_NONCE,
    H_SIGNATURE,
    AgentAddress,
    certificate_fingerprint,
    normalize_pin,
    parse_agent_url,
    read_token,
    response_signature,
    same,
    sign_request,
)
from edgeopt.artifact import Artifact, Measurement, sha256_of
from edgeopt.errors import EdgeoptError
from edgeopt.runtime.arrays import ArrayData

if TYPE_CHECKING:
    from edgeopt.data import DatasetSplits

_MAX_ANSWER = 16 << 20
_POLL_WAIT_S = 20
_AGENT_FORMATS = {"onnx": "onnxruntime", "executorch": "executorch"}
# A connection that failed or dropped (a TLS one ends with an EOF error): worth a retry.
_FAULTS = (ConnectionError, http.client.IncompleteRead, http.client.BadStatusLine, TimeoutError, ssl.SSLEOFError,
           ssl.SSLZeroReturnError)


class AgentUnreachable(EdgeoptError):
    """The agent could not be reached (after the retries) or stopped answering."""


class _Restarted(Exception):
    """The agent no longer knows the job: it restarted."""


@dataclass(frozen=True)
class Answer:
    """An agent's answer: the status and the JSON it sent."""

    status: int
    data: dict[str, Any]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class AgentClient:
    """Signed requests to one agent, with TLS pinning and bounded retries.

    Args:
        url: ``agent://HOST:PORT``.
        token_file: The shared token (or pass ``token``).
        token: The token itself (as :func:`~edgeopt.agent.protocol.read_token` returns it).
        tls_pin: SHA-256 fingerprint of the agent's certificate: connect with TLS and accept only it.
        retries: Retries of a request whose connection failed or dropped.
        backoff: Seconds before the first retry (doubled each time).
        timeout: Seconds to connect, and to wait for an answer.

    Raises:
        EdgeoptError: a malformed URL or pin, a missing or weak token file.
    """

    def __init__(self, url: str, token_file: str | os.PathLike[str] | None = None, *, token: bytes | None = None,
                 tls_pin: str | None = None, retries: int = 3, backoff: float = 0.5, timeout: float = 30.0) -> None:
        self.address: AgentAddress = parse_agent_url(url)
        if token is None:
            if token_file is None:
                raise EdgeoptError("measuring on an agent needs its token",
                                   hint="--token-file FILE (the file the agent was started with)")
            token = read_token(token_file)
        self._key = token
        self.pin = normalize_pin(tls_pin) if tls_pin else None
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.clock_offset = 0.0  # learnt from a signed "expired" answer: the agent's clock minus ours

    def __repr__(self) -> str:  # never the token
        return f"AgentClient({str(self.address)!r}, tls={self.pin is not None})"

    # --- one request --------------------------------------------------------------------------

    def request(self, method: str, target: str, body: bytes | Path = b"", *, body_sha256: str | None = None,
                read_timeout: float | None = None) -> Answer:
        """Send a signed request (retried on connection faults) and return the verified answer.

        Raises:
            AgentUnreachable: no connection after the retries, or the answer never came.
            EdgeoptError: a TLS pin mismatch, an answer not signed by the agent.
        """
        digest = body_sha256 or (sha256_of(body) if isinstance(body, Path) else _sha(body))
        tries, started, corrected = 0, time.monotonic(), False
        while True:
            try:
                answer = self._once(method, target, body, digest, read_timeout or self.timeout)
            except socket.gaierror as exc:
                raise EdgeoptError(f"cannot resolve the host of {self.address}: {exc.strerror or exc}",
                                   hint="check the device's name or use its IP address") from None
            except _FAULTS as exc:
                if tries >= self.retries:
                    raise self._unreachable(exc, tries, time.monotonic() - started) from None
                time.sleep(self.backoff * 2**tries)
                tries += 1
                continue
            except ssl.SSLError as exc:
                raise self._tls_error(exc) from None
            if answer.status == 403 and answer.data.get("code") == "expired" and not corrected:
                self.clock_offset = float(answer.data.get("server_time", time.time())) - time.time()
                corrected = True  # signed by the agent: its clock is the one that counts; once
                continue
            if answer.status == 503 and tries < self.retries:
                time.sleep(self.backoff * 2**tries)
                tries += 1
                continue
            return answer

    def _once(self, method: str, target: str, body: bytes | Path, digest: str, read_timeout: float) -> Answer:
        conn = self._connect()
        try:
            headers = sign_request(self._key, method, target, digest, now=time.time() + self.clock_offset)
            size = body.stat().st_size if isinstance(body, Path) else len(body)
            if method != "GET":
                headers["Content-Length"] = str(size)
                headers["Content-Type"] = "application/json" if isinstance(body, bytes) else "application/octet-stream"
            sock = conn.sock
            assert sock is not None  # connected by _connect
            stream: IO[bytes] | bytes
            with open(body, "rb") if isinstance(body, Path) else contextlib.nullcontext(body) as stream:
                conn.request(method, target, body=stream if method != "GET" else None, headers=headers)
            sock.settimeout(read_timeout)
            response = conn.getresponse()
            raw = response.read(_MAX_ANSWER)
            status = response.status
            signed = response.getheader(H_SIGNATURE)
        finally:
            conn.close()
        if status == 503 and not signed:  # turned away before authentication (too many connections)
            return Answer(503, {"code": "busy", "error": "the agent is busy"})
        if status != 401:  # a wrong token cannot check the agent's signature; nothing is taken from it
            expected = response_signature(self._key, headers[H_NONCE], status, _sha(raw))
            if not signed or not same(signed, expected):
                raise EdgeoptError(
                    f"the answer from {self.address} (HTTP {status}) is not signed with the agent's token",
                    hint="another service answers at that address, or something on the way changed the answer",
                )
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        return Answer(status, data if isinstance(data, dict) else {})

    def _connect(self) -> http.client.HTTPConnection:
        host, port = self.address.host, self.address.port
        if self.pin is None:
            plain = http.client.HTTPConnection(host, port, timeout=self.timeout)
            plain.connect()
            return plain
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = False  # the pin names the one certificate accepted: no CA, no name
        context.verify_mode = ssl.CERT_NONE
        secure = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=context)
        secure.connect()
        sock = secure.sock
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
        seen = certificate_fingerprint(der) if der else "none"
        if not same(seen, self.pin):
            secure.close()  # before a single byte of the request is sent
            raise EdgeoptError(f"the TLS certificate of {self.address} is not the pinned one (it has sha256 {seen})",
                               hint="if the agent has a new certificate, pin the fingerprint it prints at start")
        return secure

    def _unreachable(self, exc: BaseException, tries: int, seconds: float) -> AgentUnreachable:
        reason = {ConnectionRefusedError: "connection refused", ConnectionResetError: "connection reset",
                  http.client.RemoteDisconnected: "the connection closed without an answer",
                  TimeoutError: "no answer in time"}.get(type(exc), type(exc).__name__)
        hint = f"is the agent running? on the device: edgeopt agent serve --host 0.0.0.0 --port {self.address.port} " \
               "--token-file FILE"
        if isinstance(exc, ConnectionResetError) and self.pin is None:  # how a TLS server turns away plain HTTP
            hint = "if the agent serves TLS, pass --tls-pin with the fingerprint it prints at start"
        return AgentUnreachable(f"cannot reach the agent at {self.address}: {reason} "
                                f"({tries + 1} tries over {seconds:.1f} s)", hint=hint)

    def _tls_error(self, exc: ssl.SSLError) -> EdgeoptError:
        if "WRONG_VERSION_NUMBER" in str(exc) or "record layer failure" in str(exc).lower():
            return EdgeoptError(f"the agent at {self.address} does not speak TLS",
                                hint="drop --tls-pin, or start the agent with --tls-cert and --tls-key")
        return EdgeoptError(f"TLS with the agent at {self.address} failed: {exc.reason or exc}")

    def _refused(self, answer: Answer, what: str) -> EdgeoptError:
        error = str(answer.data.get("error") or f"HTTP {answer.status}")
        hint = answer.data.get("hint")
        if answer.status == 401 and answer.data.get("code") == "bad_signature":
            return EdgeoptError(f"the agent at {self.address} refused the token ({error})",
                                hint="use the same token file on both sides")
        return EdgeoptError(f"the agent at {self.address} refused {what}: {error}", hint=hint)

    # --- the API ------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The agent's device description, runtimes, limits and queue (``GET /v1/info``)."""
        answer = self.request("GET", "/v1/info")
        if not answer.ok:
            raise self._refused(answer, "the request for its description")
        return answer.data

    def upload(self, path: str | os.PathLike[str], name: str | None = None) -> dict[str, Any]:
        """Send an artifact unless the agent has it (by hash); its stored description."""
        file = Path(path)
        digest = sha256_of(file)
        known = self.request("GET", f"/v1/artifacts/{digest}")
        if known.ok:
            return known.data
        answer = self.request("PUT", f"/v1/artifacts/{digest}?name={quote(name or _plain(file.name))}", file,
                              body_sha256=digest, read_timeout=max(self.timeout, 60.0))
        if not answer.ok:
            raise self._refused(answer, f"{str(file)!r}")
        return answer.data

    def upload_data(self, data: ArrayData) -> str:
        """Send evaluation arrays unless the agent has them; their hash."""
        packed = pack_arrays(data)
        digest = _sha(packed)
        if self.request("GET", f"/v1/data/{digest}").ok:
            return digest
        answer = self.request("PUT", f"/v1/data/{digest}", packed, read_timeout=max(self.timeout, 60.0))
        if not answer.ok:
            raise self._refused(answer, f"the data {data.name!r}")
        return digest

    def submit(self, job: dict[str, Any]) -> dict[str, Any]:
        """Queue a job (``POST /v1/jobs``); its state."""
        answer = self.request("POST", "/v1/jobs", json.dumps(job).encode())
        if answer.status == 409:
            raise _Restarted  # it lost a file it had a moment ago
        if not answer.ok:
            raise self._refused(answer, "the measurement")
        return answer.data

    def wait(self, job: dict[str, Any], progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Follow a job until it is done or failed (long polls); its final state.

        Raises:
            AgentUnreachable: the agent went away during the job.
        """
        while job["state"] not in ("done", "failed"):
            target = f"/v1/jobs/{job['id']}?wait={_POLL_WAIT_S}&seen={job['state']}"
            try:
                answer = self.request("GET", target, read_timeout=_POLL_WAIT_S + self.timeout)
            except AgentUnreachable as exc:
                raise AgentUnreachable(f"lost the agent at {self.address} during measurement {job['id']}: "
                                       f"{exc.message.split(': ', 1)[-1]}",
                                       hint="nothing was measured; run the same command again when the agent "
                                       "is back (the caller's files and results are unchanged)") from None
            if answer.status == 404 and answer.data.get("code") == "unknown_job":
                raise _Restarted
            if not answer.ok:
                raise self._refused(answer, f"news of measurement {job['id']}")
            if answer.data.get("state") != job["state"] and progress:
                progress(answer.data)
            job = answer.data
        return job

    def measure(self, artifacts: Sequence[Artifact], data: ArrayData | None = None, *, resubmits: int = 1,
                progress: Callable[[dict[str, Any]], None] | None = None, **options: Any) -> list[Measurement]:
        """Measure ``artifacts`` on the agent in one job (interleaved there, as ``bench`` does locally).

        ``options`` are :func:`edgeopt.runtime.bench`'s: threads, runs, warmup, rounds,
        batch_size, input_shape, memory, gate_retries.

        Raises:
            EdgeoptError: a format the agent cannot run (naming what to install there), a file over
                its limit, a refused request, a failed measurement, an agent that went away.
        """
        info = self.info()
        self._check_can_run(artifacts, info)
        data_limit = int(info.get("limits", {}).get("max_data_bytes", 0))
        if data is not None and data_limit and data.x.nbytes > data_limit:
            raise EdgeoptError(f"the data ({data.x.nbytes} bytes) is over the agent's limit of {data_limit} bytes",
                               hint="send fewer samples, or start the agent with a larger --max-data-mb")
        names = _unique_names(artifacts)
        for attempt in range(resubmits + 1):
            try:
                refs = [{"sha256": self.upload(art.path, name)["sha256"], "name": name}
                        for art, name in zip(artifacts, names, strict=True)]
                data_sha = self.upload_data(data) if data is not None else None
                job = self.submit({"artifacts": refs, "data": data_sha, "client_job": secrets.token_hex(12),
                                   **{k: v for k, v in options.items() if v is not None}})
                if progress:
                    progress(job)
                final = self.wait(job, progress)
                break
            except _Restarted:
                if attempt == resubmits:
                    raise AgentUnreachable(f"the agent at {self.address} restarted during the measurement "
                                           f"{resubmits + 1} times", hint="check the device (power, memory)") from None
        if final["state"] == "failed":
            raise EdgeoptError(f"the agent at {self.address} could not measure: {final.get('error')}",
                               hint=final.get("hint"))
        device = final.get("device", info.get("device"))
        return [Measurement.model_validate({**row, "artifact": str(art.path), "measured_on": str(self.address),
                                            "device": device})
                for art, row in zip(artifacts, final["measurements"], strict=True)]

    def _check_can_run(self, artifacts: Sequence[Artifact], info: dict[str, Any]) -> None:
        runtimes = info.get("runtimes", {})
        limit = int(info.get("limits", {}).get("max_upload_bytes", 0))
        for art in artifacts:
            if art.format not in _AGENT_FORMATS:
                raise EdgeoptError(f"the agent measures .onnx and .pte files, not {art.format} files ({art.path})",
                                   hint="export it first: edgeopt export MODEL -o model.onnx")
            runtime = runtimes.get(_AGENT_FORMATS[art.format], {})
            if not runtime.get("available"):
                raise EdgeoptError(f"the agent at {self.address} cannot run {runtime.get('runs', art.format)}: "
                                   f"{_AGENT_FORMATS[art.format]} is not installed on the device",
                                   hint=f"on the device: {runtime.get('install') or 'pip install edgeopt[agent]'}")
            size = Path(art.path).stat().st_size
            if limit and size > limit:
                raise EdgeoptError(f"{str(art.path)!r} is {size} bytes, over the agent's upload limit of {limit}",
                                   hint="start the agent with a larger --max-upload-mb")


def measure_remote(
    artifacts: Sequence[Artifact | str | os.PathLike[str]],
    url: str,
    token_file: str | os.PathLike[str] | None = None,
    *,
    data: DatasetSplits | ArrayData | str | None = None,
    threads: int = 2,
    runs: int = 50,
    warmup: int = 10,
    rounds: int = 5,
    batch_size: int = 1,
    input_shape: Sequence[int] | None = None,
    memory: bool = True,
    gate_retries: int = 5,
    tls_pin: str | None = None,
    retries: int = 3,
    resubmits: int = 1,
    token: bytes | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[Artifact]:
    """Measure artifacts on the device an agent runs on; each comes back with one more measurement.

    The figures are :func:`edgeopt.runtime.bench`'s, taken on the device: latency (warm-up,
    interleaved rounds with speed probes, median/p90/spread), peak memory of a fresh process there,
    accuracy on ``data`` (sent as arrays). Each measurement also records ``measured_on`` (the
    agent's URL) and ``device`` (CPU model and flags, cores, memory, board, runtime versions).

    Args:
        artifacts: ``.onnx`` / ``.pte`` files (paths or :class:`Artifact` s).
        url: ``agent://HOST:PORT``.
        token_file: The token file the agent was started with.
        data: A dataset name, :class:`DatasetSplits` or :class:`ArrayData`: accuracy on its test
            split (the arrays are sent). None: latency and memory only.
        threads, runs, warmup, rounds, batch_size, input_shape, memory: as for ``bench``.
        gate_retries: Redos of a block timed in a slow phase.
        tls_pin: The agent certificate's SHA-256 (it prints it when it starts): use TLS.
        retries: Retries of a failed connection (with backoff) before giving up.
        resubmits: Times a job is sent again if the agent restarted while holding it.
        token: The token itself instead of ``token_file``.
        progress: Called with the job's state whenever it changes (queued, running, done).

    Returns:
        New :class:`Artifact` s, in the order given; the inputs are not changed.

    Raises:
        EdgeoptError: one line for a wrong URL, an agent that is down, a token mismatch, a runtime
            missing on the device (naming the extra to install there), a refused file.
    """
    client = AgentClient(url, token_file, token=token, tls_pin=tls_pin, retries=retries)
    arts = [a if isinstance(a, Artifact) else Artifact.from_file(a) for a in artifacts]
    if not arts:
        raise EdgeoptError("no artifacts to measure", hint="pass one or more .onnx / .pte files")
    arrays = _arrays(data)
    shape = list(input_shape) if input_shape is not None else None
    measured = client.measure(arts, arrays, resubmits=resubmits, progress=progress, threads=threads, runs=runs,
                              warmup=warmup, rounds=rounds, batch_size=batch_size, input_shape=shape,
                              memory=memory, gate_retries=gate_retries)
    return [art.with_measurement(m) for art, m in zip(arts, measured, strict=True)]


def pack_arrays(data: ArrayData) -> bytes:
    """``data`` as ``.npz`` bytes that are the same for the same arrays (fixed zip timestamps).

    ``numpy.savez`` stamps the current time into the archive, so the same data would hash
    differently each time and be sent again.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        arrays = {"x": data.x} if data.y is None else {"x": data.x, "y": data.y}
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _arrays(data: DatasetSplits | ArrayData | str | None) -> ArrayData | None:
    if data is None or isinstance(data, ArrayData):
        return data
    if isinstance(data, str):
        from edgeopt.data import load_dataset

        return ArrayData.from_splits(load_dataset(data))
    return ArrayData.from_splits(data)


def _unique_names(artifacts: Sequence[Artifact]) -> list[str]:
    names: list[str] = []
    for art in artifacts:
        name = _plain(Path(art.path).name)
        while name in names:
            name = f"{len(names)}-{name}"[:128]
        names.append(name)
    return names


def _plain(name: str) -> str:
    """A file name the agent accepts (letters, digits, ._+-; not starting with a dot)."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "._+-") else "_" for c in name)
    cleaned = cleaned.replace("..", "_").lstrip("._-+") or "artifact"
    return cleaned[:128]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
