"""The whole system on one machine: ``make run``.

Starts the local broker (unless ``KAFKA_BOOTSTRAP_SERVERS`` names an external Kafka), the three
services (each migrates its database; the registry loads demo data into an empty one) and the
gateway; prefixes every line of their logs with the process name; prints the gateway's URL;
stops everything on Ctrl-C or SIGTERM, leaving no process behind.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from setka_runtime.local_broker import free_port, start_tansu, wait_for_port  # noqa: E402

SERVICES = ("registry", "events", "analytics")
COLORS = {"tansu": 90, "registry": 36, "events": 35, "analytics": 33, "gateway": 32}
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Children get SIGTERM if the launcher itself is killed, so none is orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setpgrp()  # Ctrl-C reaches only the launcher, which stops the children in order


@dataclass
class Stack:
    """A running local stack; ``ports`` and ``env`` are what tests change."""

    var_dir: Path
    ports: Mapping[str, int]
    env: dict[str, str] = field(default_factory=dict)
    rate_limited: bool = False
    """Whether the gateway limits requests per client (make run: yes; tests and benchmarks, which
    send everything from one address, no)."""
    internal_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    """Signs the callers' identities the gateway passes to the services; new for every stack."""
    seed_demo: bool = True
    color: bool = False
    echo: bool = True
    """Print the processes' logs (always written to ``var_dir/<name>.log``)."""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    broker: subprocess.Popen[bytes] | None = None
    _pumps: list[threading.Thread] = field(default_factory=list)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}/graphql"

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        if "KAFKA_BOOTSTRAP_SERVERS" not in env:
            env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{self.ports['kafka']}"
        for name in SERVICES:
            prefix = name.upper()
            env.setdefault(f"{prefix}_DATABASE_URL", f"sqlite:///{self.var_dir / name}.db")
            env[f"{prefix}_PORT"] = str(self.ports[name])
            env[f"GATEWAY_{prefix}_URL"] = f"{self.service_url(name)}/graphql"
        env["GATEWAY_PORT"] = str(self.ports["gateway"])
        env.setdefault("INTERNAL_TOKEN_SECRET", self.internal_secret)
        if not self.rate_limited:
            env.setdefault("GATEWAY_RATE_LIMIT_PER_MINUTE", "0")
        if self.seed_demo:
            # the events service derives its demo year from the registry's demo data, once it arrives
            env.setdefault("EVENTS_SEED_DEMO", "1")
            # alerts of the demo a minute after its data arrives, not at the production's hour
            env.setdefault("ANALYTICS_ALERT_INTERVAL_SECONDS", "60")
        return env

    def start(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        external = "KAFKA_BOOTSTRAP_SERVERS" in {**os.environ, **self.env}
        if not external:
            self.broker = start_tansu(
                self.ports["kafka"], log_path=self.var_dir / "tansu.log", preexec_fn=_die_with_parent
            )
            self._say("tansu", f"local broker on 127.0.0.1:{self.ports['kafka']} (in memory)")
        for name in SERVICES:
            self.start_process(name)
        self.start_process("gateway")
        for name in (*SERVICES, "gateway"):
            self.wait_ready(name)

    def command(self, name: str) -> list[str]:
        if name == "gateway":
            return [sys.executable, "-m", "gateway", "serve"]
        argv = [sys.executable, "-m", f"services.{name}", "serve"]
        if name == "registry" and self.seed_demo:
            argv.append("--seed-demo")
        return argv

    def start_process(self, name: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            self.command(name),
            cwd=ROOT,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        self.processes[name] = process
        pump = threading.Thread(target=self._pump, args=(name, process), daemon=True)
        pump.start()
        self._pumps.append(pump)
        return process

    def _pump(self, name: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        log = open(self.var_dir / f"{name}.log", "ab")
        with log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                self._say(name, line.decode("utf-8", "replace").rstrip())

    def _say(self, name: str, text: str) -> None:
        if not self.echo:
            return
        label = f"{name:<9}|"
        if self.color:
            label = f"\033[{COLORS.get(name, 0)}m{label}\033[0m"
        with contextlib.suppress(OSError):  # a closed stdout must not stop the log files
            print(f"{label} {text}", flush=True)

    def wait_ready(self, name: str, *, timeout: float = 90.0) -> None:
        url = f"{self.service_url(name)}/readyz"
        deadline = time.monotonic() + timeout
        while True:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}; see its log")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after {timeout:.0f}s")
            time.sleep(0.25)

    def stop_process(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def stop(self) -> None:
        for name in ("gateway", *reversed(SERVICES)):
            if name in self.processes:
                self.stop_process(name)
        if self.broker and self.broker.poll() is None:
            self.broker.terminate()
            try:
                self.broker.wait(10)
            except subprocess.TimeoutExpired:
                self.broker.kill()
        for pump in self._pumps:
            pump.join(timeout=2)


def default_ports() -> dict[str, int]:
    env = os.environ
    return {
        "kafka": int(env.get("SETKA_KAFKA_PORT", 9092)),
        "registry": int(env.get("REGISTRY_PORT", 8001)),
        "events": int(env.get("EVENTS_PORT", 8002)),
        "analytics": int(env.get("ANALYTICS_PORT", 8003)),
        "gateway": int(env.get("GATEWAY_PORT", 8000)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, default=ROOT / "var", help="where SQLite files and logs go")
    parser.add_argument("--no-demo", action="store_true", help="do not load demo data")
    args = parser.parse_args()

    stack = Stack(
        var_dir=args.var,
        ports=default_ports(),
        seed_demo=not args.no_demo,
        color=sys.stdout.isatty(),
        rate_limited=True,
    )
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for port_name in ("gateway", *SERVICES):
            try:
                wait_for_port("127.0.0.1", stack.ports[port_name], timeout=0.2)
            except TimeoutError:
                continue
            raise SystemExit(f"port {stack.ports[port_name]} ({port_name}) is already in use")
        stack.start()
        from gateway.auth import issue_token
        from gateway.settings import GatewaySettings

        token = issue_token(
            GatewaySettings(), subject="demo-admin", roles=["regional_admin"], region_code="*"
        )
        print(
            "\n"
            f"  Setka is up. GraphQL (with the GraphiQL IDE): {stack.gateway_url}\n"
            f"  A demo token of an admin of every region (Authorization: Bearer …):\n    {token}\n"
            f"  Logs: {stack.var_dir}/*.log   Stop: Ctrl-C\n",
            flush=True,
        )
        while not stopping.wait(1.0):
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping", flush=True)
                    stopping.set()
    finally:
        with contextlib.suppress(OSError):  # the terminal or a pipe may be gone already
            print("stopping Setka…", flush=True)
        stack.stop()


if __name__ == "__main__":
    _ = free_port  # re-exported for tests
    main()
