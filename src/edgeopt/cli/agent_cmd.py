"""``edgeopt agent serve|token|info``, and what ``edgeopt bench --device agent://HOST:PORT`` needs.

The agent runs on the device (a Raspberry Pi, a Jetson, a phone); the host sends it artifacts
to measure. See docs/agent.md and :mod:`edgeopt.agent`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from edgeopt.cli.common import console, err_console, print_json

if TYPE_CHECKING:
    from edgeopt.artifact import Artifact
    from edgeopt.data import DatasetSplits

MIB = 1 << 20

agent_app = typer.Typer(
    name="agent",
    help="Measure on the real device: run the agent there (serve), make its token (token), ask it (info).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Options `edgeopt bench` adds for measuring on an agent.
DEVICE_OPTION = typer.Option(None, "--device", help="Measure on an edgeopt agent: agent://HOST:PORT "
                             "(started there with `edgeopt agent serve`).")
TOKEN_FILE_OPTION = typer.Option(None, "--token-file", help="The agent's token file (with --device).")
TLS_PIN_OPTION = typer.Option(None, "--tls-pin", help="SHA-256 fingerprint of the agent's TLS certificate "
                              "(it prints it when it starts): connect with TLS and accept only that certificate.")


@agent_app.command("serve")
def serve(
    port: int = typer.Option(8765, "--port", "-p", help="TCP port (0: any free one; the agent prints it)."),
    token_file: Path = typer.Option(..., "--token-file", help="The shared token (edgeopt agent token -o FILE); "
                                    "readable by its owner only."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; 0.0.0.0 for every interface "
                             "(to be reached from the network)."),
    tls_cert: Path = typer.Option(None, "--tls-cert", help="PEM certificate: serve HTTPS (clients pin it)."),
    tls_key: Path = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert."),
    max_upload_mb: float = typer.Option(256, "--max-upload-mb", help="Largest artifact accepted, MiB."),
    max_data_mb: float = typer.Option(256, "--max-data-mb", help="Largest evaluation data accepted, MiB."),
    store_mb: float = typer.Option(1024, "--store-mb", help="Disk budget for uploads, MiB (least recently "
                                   "used files go first)."),
    request_timeout: float = typer.Option(10.0, "--request-timeout", help="Seconds a connection has to send its "
                                          "request headers (bodies get more, by size)."),
    job_timeout: float = typer.Option(1800.0, "--job-timeout", help="Seconds a measurement may run."),
    max_queued: int = typer.Option(64, "--max-queued", help="Measurements that may wait."),
) -> None:
    """Run the agent on this device: receive artifacts, measure them one at a time, answer.

    Every request must be signed with the token (HMAC, timestamp, nonce). Uploads live in a
    private temporary directory, removed on exit. Stop with Ctrl-C.
    """
    from edgeopt.agent.server import AgentConfig, serve as run_server
    from edgeopt.errors import EdgeoptError

    for name, value in (("--max-upload-mb", max_upload_mb), ("--max-data-mb", max_data_mb),
                        ("--store-mb", store_mb), ("--request-timeout", request_timeout),
                        ("--job-timeout", job_timeout), ("--max-queued", max_queued)):
        if value <= 0:
            raise EdgeoptError(f"{name} must be positive, got {value}")
    if not 0 <= port < 65536:
        raise EdgeoptError(f"--port must be 0-65535, got {port}")
    config = AgentConfig(token_file=token_file, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key,
                         max_upload_bytes=int(max_upload_mb * MIB), max_data_bytes=int(max_data_mb * MIB),
                         store_bytes=int(store_mb * MIB), request_timeout=request_timeout,
                         job_timeout=job_timeout, max_queued=max_queued)
    run_server(config)


@agent_app.command("token")
def token(
    output: Path = typer.Option(..., "--output", "-o", help="File to write (never overwritten; mode 600)."),
) -> None:
    """Make a new shared token (256 random bits); copy the file to the device and the host."""
    from rich.markup import escape

    from edgeopt.agent.protocol import write_token

    write_token(output)
    console.print(f"Wrote a new token to [bold]{escape(str(output))}[/] (readable by you only). Copy it to the other "
                  "machine over a channel you trust (scp), and keep it out of version control.", highlight=False)


@agent_app.command("info")
def info(
    device: str = typer.Argument(..., help="agent://HOST:PORT"),
    token_file: Path = typer.Option(..., "--token-file", help="The agent's token file."),
    tls_pin: str = TLS_PIN_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the agent's full answer as JSON."),
) -> None:
    """Ask an agent what device it runs on, which runtimes it has, and how busy it is."""
    from edgeopt.agent.client import AgentClient
    from edgeopt.utils.units import format_bytes

    answer = AgentClient(device, token_file, tls_pin=tls_pin).info()
    if as_json:
        print_json(answer)
        return
    dev = answer.get("device", {})
    cpu, cores = dev.get("cpu", {}), dev.get("cores", {})
    memory = dev.get("memory_bytes")
    lines = [
        f"{device}: edgeopt agent {answer.get('agent')} ({'TLS' if answer.get('tls') else 'no TLS'})",
        f"  device   {dev.get('board') or dev.get('hostname')} ({dev.get('machine')}, {dev.get('os')})",
        f"  cpu      {cpu.get('model')}, {cores.get('usable')} usable cores of {cores.get('logical')}, "
        f"{len(cpu.get('flags', []))} flags",
        f"  memory   {format_bytes(memory) if memory else 'unknown'}",
    ]
    for name, runtime in answer.get("runtimes", {}).items():
        state = f"{runtime.get('version')}" if runtime.get("available") else \
            (runtime.get("note") or f"missing: {runtime.get('install')}")
        lines.append(f"  {name:<12} {state}")
    queue = answer.get("queue", {})
    lines.append(f"  queue    {queue.get('waiting', 0)} waiting, running: {queue.get('running') or 'nothing'}")
    console.print("\n".join(lines), highlight=False, markup=False)  # "[agent,executorch]" is not markup


def measure_on_device(
    files: list[Artifact], device: str, token_file: Path | None, tls_pin: str | None,
    splits: DatasetSplits | None, **options: Any,
) -> tuple[Artifact, ...]:
    """What ``edgeopt bench --device agent://…`` runs instead of measuring here.

    ``options`` are ``threads``, ``runs``, ``warmup``, ``batch_size``, ``input_shape``, ``memory``.
    Progress (queued, running) is printed to stderr; the result is the same table or JSON.
    """
    from edgeopt.agent.client import measure_remote

    def progress(job: dict[str, Any]) -> None:
        state = job.get("state")
        if state == "queued" and job.get("position"):
            err_console.print(f"{device}: queued behind {job['position']} measurement(s)", highlight=False,
                              markup=False)
        elif state == "running":
            dev = job.get("device", {})
            where = dev.get("board") or (dev.get("cpu") or {}).get("model") or dev.get("hostname")
            err_console.print(f"{device}: measuring on {where}", highlight=False, markup=False)

    return tuple(measure_remote(files, device, token_file, data=splits, tls_pin=tls_pin, progress=progress,
                                **options))


if __name__ == "__main__":  # python -m edgeopt.cli.agent_cmd serve …: the group alone, errors as one line
    import sys

    from edgeopt.errors import EdgeoptError

    try:
        agent_app()
    except EdgeoptError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False)
        sys.exit(2)
