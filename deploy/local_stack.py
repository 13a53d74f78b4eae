"""The whole system on one machine: ``make run``.

Starts the local broker (unless ``KAFKA_BOOTSTRAP_SERVERS`` names an external Kafka), the three
services (each migrates its database; the registry loads demo data into an empty one) and the
gateway; prefixes every line of their logs with the process name; prints the gateway's URL;
stops everything on Ctrl-C or SIGTERM, leaving no process behind.

It supervises like a process manager: a process that exits unexpectedly is started again after a
pause that doubles on every quick failure (0.5 s up to 30 s; back to 0.5 s once it had stayed up
for a minute) while the others keep serving. If the local broker dies, it is started again; as it
keeps everything in memory, its topics are then created again and refilled from the services'
outboxes (the consumers see a broker with a new cluster id, read from the earliest offset again,
and their inboxes absorb what they had already applied).

Clients reach the broker through a gate on the public port (:class:`BrokerGate`): it is shut from
the moment the broker dies until the new one has every declared topic, so no client's metadata
request creates a topic with a partition count of the broker's choosing. What the dead broker
held that nobody had read — inbound facts not yet consumed, dead letters — cannot be refilled:
:class:`BrokerWatch` follows the log ends and the groups' committed offsets, so it is counted,
and the state file (``var/local-broker.json``: serving, down, refilling, refill failed; the loss)
is what the services' ``/readyz`` and ``setka status`` report.
"""

from __future__ import annotations

import argparse
import asyncio
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from setka_runtime.local_broker import (  # noqa: E402
    DOWN,
    REFILL_FAILED,
    REFILLING,
    SERVING,
    STATE_FILE_NAME,
    STOPPED,
    BrokerGate,
    free_port,
    start_tansu,
    wait_for_port,
    write_broker_state,
)

SERVICES = ("registry", "events", "analytics")
PROCESSES = (*SERVICES, "gateway")
CONSUMER_GROUPS = {"events": "setka.events", "analytics": "setka.analytics"}
DEV_SNILS_HMAC_KEY = "make-run-only-snils-key-not-for-any-real-installation"
"""The key СНИЛС are hashed with under ``make run`` (the registry and the events service share it)."""
"""The consumer group of each service that consumes (``setka.<service>``; the registry does not)."""
COLORS = {
    "tansu": 90,
    "registry": 36,
    "events": 35,
    "analytics": 33,
    "gateway": 32,
    "portal": 34,
    "supervisor": 1,
}
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Children get SIGTERM if the launcher itself is killed, so none is orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setpgrp()  # Ctrl-C reaches only the launcher, which stops the children in order


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait before starting an exited process again."""

    first_seconds: float = 0.5
    max_seconds: float = 30.0
    stable_seconds: float = 60.0
    """A process that stayed up this long before exiting starts again after ``first_seconds``."""

    def next_delay(self, previous: float | None, uptime: float) -> float:
        if previous is None or uptime >= self.stable_seconds:
            return self.first_seconds
        return min(previous * 2, self.max_seconds)


def describe_exit(code: int | None) -> str:
    """``-9`` → ``code -9 (SIGKILL)``."""
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"code {code} ({signal.Signals(-code).name})"
    return f"code {code}"


async def _groups_with_members(bootstrap: str, groups: list[str]) -> set[str]:
    """Which of ``groups`` have a member on the broker now (a group it cannot tell about: not)."""
    from aiokafka.admin import AIOKafkaAdminClient

    joined: set[str] = set()
    for wanted in groups:
        # one client per group: Tansu drops the connection when asked about a group it does not know
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            for response in await admin.describe_consumer_groups([wanted]):
                for error_code, group, _state, _type, _protocol, members, *_ in response.groups:
                    if error_code == 0 and members:
                        joined.add(group)
        except Exception:
            continue
        finally:
            await admin.close()
    return joined


class BrokerWatch:
    """Follows the local broker: the end of every partition of the inbound and dead-letter topics
    (read from the tail, since Tansu's reported end offsets lag behind a batch) and the offsets
    the consumer groups committed on them, so that when the broker dies what it held and no
    consumer had read can be counted. Outbound topics are not counted: they are refilled from
    the outboxes. Runs its own event loop in a daemon thread."""

    COMMITTED_EVERY_SECONDS = 0.25

    def __init__(self, bootstrap: str, groups: list[str], partitions: int | None = None) -> None:
        from setka_contracts import topics

        self.bootstrap = bootstrap
        self.groups = groups
        self.partitions = {spec.name: partitions or spec.partitions for spec in topics.DECLARED}
        """The partitions of each topic (the supervisor created them so before clients could)."""
        self.inbound = [spec.name for spec in topics.DECLARED if spec.kind == "inbound"]
        self.dead_letters = [spec.name for spec in topics.DECLARED if spec.kind == "dead-letter"]
        self._lock = threading.Lock()
        self._ends: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}
        self._epoch = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._follow()), name="broker-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def lost(self) -> dict[str, dict[str, int]]:
        """What the broker held that no group had committed as read (inbound topics) and every
        dead letter it held; forget both (the next broker starts empty)."""
        with self._lock:
            ends, committed = self._ends, self._committed
            self._ends, self._committed = {}, {}
            self._epoch += 1
        unread: dict[str, int] = {}
        dead: dict[str, int] = {}
        for (topic, partition), end in ends.items():
            if topic in self.dead_letters:
                if end:
                    dead[topic] = dead.get(topic, 0) + end
                continue
            behind = max(0, end - committed.get((topic, partition), 0))
            if behind:
                unread[topic] = unread.get(topic, 0) + behind
        return {"unread": unread, "dead_letters": dead}

    async def _follow(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        while not self._stopping.is_set():
            epoch = self._epoch
            # answered at once rather than after the usual half second: the ends lag the broker
            # by little more than a round trip, so little goes uncounted when it dies
            tail = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                fetch_max_wait_ms=20,
                max_partition_fetch_bytes=8 * 1024 * 1024,
            )
            admins = {group: AIOKafkaAdminClient(bootstrap_servers=self.bootstrap) for group in self.groups}
            try:
                await tail.start()
                for admin in admins.values():
                    await admin.start()
                partitions = [
                    TopicPartition(topic, partition)
                    for topic in (*self.inbound, *self.dead_letters)
                    for partition in range(self.partitions.get(topic, 1))
                ]
                tail.assign(partitions)
                await tail.seek_to_beginning(*partitions)
                polled = 0.0
                while not self._stopping.is_set() and self._epoch == epoch:
                    await tail.getmany(timeout_ms=100, max_records=10_000)
                    ends = {}
                    for tp in partitions:
                        end = tail.highwater(tp)
                        if end is not None:
                            ends[(tp.topic, tp.partition)] = end
                    committed: dict[tuple[str, int], int] | None = None
                    if time.monotonic() - polled >= self.COMMITTED_EVERY_SECONDS:
                        inbound = [tp for tp in partitions if tp.topic in self.inbound]
                        committed = await self._committed_offsets(admins, inbound)
                        polled = time.monotonic()
                    with self._lock:
                        if self._epoch != epoch:
                            break
                        for key, end in ends.items():
                            self._ends[key] = max(self._ends.get(key, 0), end)
                        if committed is not None:
                            for key, offset in committed.items():
                                self._committed[key] = max(self._committed.get(key, 0), offset)
            except Exception:
                await asyncio.sleep(0.3)  # the broker is down or starting: follow the next one
            finally:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await tail.stop()
                for admin in admins.values():
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await admin.close()

    async def _committed_offsets(
        self, admins: dict[str, Any], partitions: list[Any]
    ) -> dict[tuple[str, int], int]:
        """The furthest offset any group committed on each partition. A group the broker does not
        know yet makes Tansu drop the connection: its admin client is made again."""
        from aiokafka.admin import AIOKafkaAdminClient

        committed: dict[tuple[str, int], int] = {}
        for group in list(admins):
            try:
                offsets = await admins[group].list_consumer_group_offsets(group, partitions=partitions)
            except Exception:
                with contextlib.suppress(Exception):
                    await admins[group].close()
                admins[group] = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
                with contextlib.suppress(Exception):
                    await admins[group].start()
                continue
            for tp, meta in offsets.items():
                key = (tp.topic, tp.partition)
                committed[key] = max(committed.get(key, 0), meta.offset)
        return committed


@dataclass
class _Watch:
    """The supervisor's record of one process."""

    started_at: float
    delay: float | None = None
    due: float | None = None
    """When an exited process is started again (``None``: running, or not noticed yet)."""


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
    supervised: bool = False
    """Start the supervisor (a thread) once everything is ready: exited processes are started
    again, a dead local broker too, with its topics refilled. ``main()`` supervises in the main
    thread instead (:meth:`supervise`)."""
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    rejoin_timeout: float = 30.0
    """After a restart of the local broker, how long the refill waits for the consumers to join
    their groups on it again (they notice within a heartbeat or two)."""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    broker: subprocess.Popen[bytes] | None = None
    restarts: dict[str, int] = field(default_factory=dict)
    """How often the supervisor started each process (``tansu`` for the broker) again."""
    refills: list[int] = field(default_factory=list)
    """Events re-published after each restart of the local broker (once its refill finished)."""
    losses: list[dict[str, dict[str, int]]] = field(default_factory=list)
    """What each death of the local broker took with it that nobody had read (``BrokerWatch.lost``)."""
    broker_port: int = field(default_factory=free_port)
    """Where the local broker itself listens; clients reach it through the gate on ``ports['kafka']``."""
    gate: BrokerGate | None = None
    broker_opened: list[float] = field(default_factory=list)
    """When (``time.monotonic()``) clients could reach each start of the local broker."""
    watch: BrokerWatch | None = None
    _broker_epoch: int = 0
    _broker_state: dict[str, Any] = field(default_factory=dict)
    _pumps: list[threading.Thread] = field(default_factory=list)
    _watches: dict[str, _Watch] = field(default_factory=dict)
    _held: set[str] = field(default_factory=set)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None
    _refill_threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}/graphql"

    @property
    def workspace_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['portal']}/"

    @property
    def names(self) -> tuple[str, ...]:
        """The processes this stack runs: the services, the gateway and, if it has a port, the
        workspace."""
        return (*PROCESSES, "portal") if "portal" in self.ports else PROCESSES

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def environment(self) -> dict[str, str]:
        env = {"SETKA_ENV": "development", **os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        if "KAFKA_BOOTSTRAP_SERVERS" not in env:
            env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{self.ports['kafka']}"
        for name in SERVICES:
            prefix = name.upper()
            env.setdefault(f"{prefix}_DATABASE_URL", f"sqlite:///{self.var_dir / name}.db")
            env.setdefault(f"{prefix}_DOCUMENTS_DIR", str(self.var_dir / "documents" / name))
            env[f"{prefix}_PORT"] = str(self.ports[name])
            env[f"GATEWAY_{prefix}_URL"] = f"{self.service_url(name)}/graphql"
        env["GATEWAY_PORT"] = str(self.ports["gateway"])
        if "portal" in self.ports:
            env["PORTAL_PORT"] = str(self.ports["portal"])
            env["PORTAL_GATEWAY_URL"] = f"http://127.0.0.1:{self.ports['gateway']}"
        env.setdefault("INTERNAL_TOKEN_SECRET", self.internal_secret)
        # make run's own key for СНИЛС hashes (never a production one: set SNILS_HMAC_KEY there)
        env.setdefault("SNILS_HMAC_KEY", DEV_SNILS_HMAC_KEY)
        if not self.rate_limited:
            env.setdefault("GATEWAY_RATE_LIMIT_PER_MINUTE", "0")
            env.setdefault("GATEWAY_COST_BUDGET_PER_MINUTE", "0")
            env.setdefault("GATEWAY_ANONYMOUS_COST_BUDGET_PER_MINUTE", "0")
        if self.local_broker:
            env.setdefault("LOCAL_BROKER_STATE_FILE", str(self.broker_state_path))
        if self.seed_demo:
            # the events service derives its demo year from the registry's demo data, once it arrives
            env.setdefault("EVENTS_SEED_DEMO", "1")
            # alerts of the demo a minute after its data arrives, not at the production's hour
            env.setdefault("ANALYTICS_ALERT_INTERVAL_SECONDS", "60")
        return env

    @property
    def broker_state_path(self) -> Path:
        return self.var_dir / STATE_FILE_NAME

    @property
    def local_broker(self) -> bool:
        """Whether this stack runs the broker itself (no ``KAFKA_BOOTSTRAP_SERVERS`` given)."""
        return "KAFKA_BOOTSTRAP_SERVERS" not in {**os.environ, **self.env}

    def start(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        if self.local_broker:
            self.start_broker()
            self.set_broker_state(
                SERVING,
                lost_total={"unread": 0, "dead_letters": 0},
                last_loss=None,
                bootstrap=f"127.0.0.1:{self.ports['kafka']}",
            )
            if self.supervised:
                self._watch_broker()
        for name in SERVICES:
            self.start_process(name)
        self.start_process("gateway")
        if "portal" in self.ports:
            self.start_process("portal")
        for name in self.names:
            self.wait_ready(name)
        if self.supervised:
            self.start_supervisor()

    def _watch_broker(self) -> None:
        """Follow the local broker, so that what it held unread is counted if it dies (only where
        it is started again: a supervised stack)."""
        if self.broker is not None and self.watch is None:
            partitions = self.environment().get("KAFKA_TOPIC_PARTITIONS")
            self.watch = BrokerWatch(
                f"127.0.0.1:{self.ports['kafka']}",
                sorted(CONSUMER_GROUPS.values()),
                int(partitions) if partitions else None,
            )

    def start_broker(self) -> subprocess.Popen[bytes]:
        """Start the local broker behind the (shut) gate, create its declared topics, open the gate."""
        if self.gate is None:
            self.gate = BrokerGate(self.ports["kafka"], self.broker_port)
        self.gate.close()
        self.broker = start_tansu(
            self.broker_port,
            log_path=self.var_dir / "tansu.log",
            preexec_fn=_die_with_parent,
            advertised_port=self.ports["kafka"],
        )
        self._watches["tansu"] = _Watch(started_at=time.monotonic())
        try:
            asyncio.run(self._create_topics())
        except BaseException:
            self.broker.kill()
            raise
        self.gate.open()
        self.broker_opened.append(time.monotonic())
        self._say("tansu", f"local broker on 127.0.0.1:{self.ports['kafka']} (in memory)")
        return self.broker

    async def _create_topics(self) -> None:
        """Every declared topic with its declared partitions, on the broker itself (not through
        the gate); a topic with another partition count is reported."""
        from setka_contracts import topics
        from setka_runtime.kafka import and_dead_letters, create_topics_at, partition_counts_at

        partitions = self.environment().get("KAFKA_TOPIC_PARTITIONS")
        names = [spec.name for spec in topics.DECLARED]
        await create_topics_at(
            "127.0.0.1", self.broker_port, names, partitions=int(partitions) if partitions else None
        )
        counts = await partition_counts_at("127.0.0.1", self.broker_port, names)
        wrong = []
        for name in and_dead_letters(names):
            expected = int(partitions) if partitions else topics.spec_for(name).partitions
            if counts.get(name) != expected:
                wrong.append(f"{name}: {counts.get(name)} partitions, declared {expected}")
        if wrong:
            self._notice("topics of the local broker differ from their declaration: " + "; ".join(wrong))

    def set_broker_state(self, state: str, **details: Any) -> None:
        """Record what the local broker is doing (``var/local-broker.json``)."""
        with self._lock:
            current = self._broker_state
            current.update(details)
            current.update(
                state=state,
                changed_at=datetime.now(UTC).isoformat(timespec="seconds"),
                restarts=self.restarts.get("tansu", 0),
            )
            if state == SERVING:
                current.pop("error", None)
            write_broker_state(self.broker_state_path, current)

    def command(self, name: str) -> list[str]:
        if name == "gateway":
            return [sys.executable, "-m", "gateway", "serve"]
        if name == "portal":
            return [sys.executable, "-m", "portal"]
        argv = [sys.executable, "-m", f"services.{name}", "serve"]
        if name in ("registry", "analytics") and self.seed_demo:
            argv.append("--seed-demo")  # analytics: the usual school holidays of the demo's regions
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
        with self._lock:
            self.processes[name] = process
            self._held.discard(name)
            previous = self._watches.get(name)
            self._watches[name] = _Watch(
                started_at=time.monotonic(), delay=previous.delay if previous else None
            )
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
        label = f"{name:<10}|"
        if self.color:
            label = f"\033[{COLORS.get(name, 0)}m{label}\033[0m"
        with contextlib.suppress(OSError):  # a closed stdout must not stop the log files
            print(f"{label} {text}", flush=True)

    def wait_ready(self, name: str, *, timeout: float = 90.0) -> None:
        url = f"{self.service_url(name)}/readyz"
        deadline = time.monotonic() + timeout
        while True:
            process = self.processes[name]
            restarting = self.supervising and name not in self._held
            if process.poll() is not None and not restarting:
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
        """Stop ``name`` on purpose: the supervisor leaves it stopped until ``start_process``."""
        with self._lock:
            self._held.add(name)
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
        self._stopping.set()  # no restarts from here on
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join()
        for name in ("portal", "gateway", *reversed(SERVICES)):
            if name in self.processes:
                self.stop_process(name)
        if self.watch is not None:
            self.watch.stop()  # before the broker: its client would only complain of it going
        if self.broker is not None:
            # what is left on disk must not say the broker serves after make run has ended
            self.set_broker_state(STOPPED)
        if self.broker and self.broker.poll() is None:
            self.broker.terminate()
            try:
                self.broker.wait(10)
            except subprocess.TimeoutExpired:
                self.broker.kill()
        if self.gate is not None:
            self.gate.stop()
        for pump in self._pumps:
            pump.join(timeout=2)
        for refill in self._refill_threads:
            refill.join(timeout=10)

    # --- supervision -------------------------------------------------------------------------

    @property
    def supervising(self) -> bool:
        return self._supervisor is not None and self._supervisor.is_alive()

    def start_supervisor(self, *, interval: float = 0.1) -> threading.Thread:
        """Supervise in a daemon thread until :meth:`stop`."""
        thread = threading.Thread(
            target=self.supervise, kwargs={"interval": interval}, name="supervisor", daemon=True
        )
        self._supervisor = thread
        thread.start()
        return thread

    def supervise(self, until: threading.Event | None = None, *, interval: float = 0.1) -> None:
        """Watch the processes until ``until`` is set or :meth:`stop` is called: start again what
        exited unexpectedly (with backoff), and the local broker with its topics refilled."""
        if self._supervisor is None:
            self._supervisor = threading.current_thread()
        self._watch_broker()
        while not self._stopping.is_set() and not (until is not None and until.is_set()):
            self.check()
            self._stopping.wait(interval)

    def check(self) -> None:
        """One round of supervision (what :meth:`supervise` does every ``interval``)."""
        now = time.monotonic()
        if self.broker is not None and not self._stopping.is_set():
            self._check_broker(now)
        for name in self.names:
            if self._stopping.is_set():
                return
            with self._lock:
                process = self.processes.get(name)
                held = name in self._held
            if process is None or held:
                continue
            watch = self._watches[name]
            if process.poll() is None:
                continue
            if watch.due is None:
                watch.delay = self.restart_policy.next_delay(watch.delay, now - watch.started_at)
                watch.due = now + watch.delay
                self._notice(
                    f"{name} exited with {describe_exit(process.returncode)} after "
                    f"{now - watch.started_at:.1f}s; starting it again in {watch.delay:.1f}s"
                )
            elif now >= watch.due:
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self._notice(f"starting {name} again (restart {self.restarts[name]})")
                self.start_process(name)

    def _check_broker(self, now: float) -> None:
        assert self.broker is not None
        watch = self._watches["tansu"]
        if self.broker.poll() is None:
            return
        if watch.due is None:
            if self.gate is not None:
                self.gate.close()  # nobody reaches the next broker before its topics exist
            self._broker_epoch += 1
            watch.delay = self.restart_policy.next_delay(watch.delay, now - watch.started_at)
            watch.due = now + watch.delay
            self._notice(
                f"the local broker exited with {describe_exit(self.broker.returncode)}; its topics are "
                f"gone; starting it again in {watch.delay:.1f}s"
            )
            self._count_loss()
            return
        if now < watch.due:
            return
        try:
            self.start_broker()
        except (OSError, TimeoutError, RuntimeError, ConnectionError) as exc:
            watch.delay = self.restart_policy.next_delay(watch.delay, 0.0)
            watch.due = time.monotonic() + watch.delay
            self._notice(f"the local broker did not start ({exc}); next try in {watch.delay:.1f}s")
            return
        self._watches["tansu"].delay = watch.delay
        self.restarts["tansu"] = self.restarts.get("tansu", 0) + 1
        self.start_refill("local broker started again; its topics created; refilling them from the outboxes")

    def _count_loss(self) -> None:
        """Count and report what the dead broker held that cannot be refilled."""
        lost = self.watch.lost() if self.watch is not None else {"unread": {}, "dead_letters": {}}
        self.losses.append(lost)
        unread = sum(lost["unread"].values())
        dead = sum(lost["dead_letters"].values())
        total = dict(self._broker_state.get("lost_total") or {"unread": 0, "dead_letters": 0})
        total = {
            "unread": total.get("unread", 0) + unread,
            "dead_letters": total.get("dead_letters", 0) + dead,
        }
        at = datetime.now(UTC).isoformat(timespec="seconds")
        self.set_broker_state(DOWN, last_loss={"at": at, **lost}, lost_total=total)
        if unread or dead:
            detail = ", ".join(
                f"{topic} {count}"
                for topic, count in sorted({**lost["unread"], **lost["dead_letters"]}.items())
            )
            self._notice(
                f"LOST with the local broker: at least {unread} acknowledged inbound message(s) no "
                f"consumer had committed as read and {dead} dead letter(s) ({detail}); their senders "
                "must send them again"
            )
        else:
            self._notice("the local broker held no inbound message or dead letter that had not been read")

    def start_refill(self, why: str) -> None:
        """Refill the local broker from the outboxes in the background, until it is complete (see
        :meth:`refill`); the broker's state says ``refilling`` (services not ready) meanwhile."""
        self._notice(why)
        self.set_broker_state(REFILLING)
        refill = threading.Thread(target=self._refill, args=(self._broker_epoch,), name="refill", daemon=True)
        self._refill_threads.append(refill)
        refill.start()

    def _refill(self, epoch: int) -> None:
        delay = 1.0
        while not self._stopping.is_set() and epoch == self._broker_epoch:
            try:
                count = asyncio.run(self.refill())
            except Exception as exc:
                if epoch != self._broker_epoch:
                    return  # the broker died again: its next start refills again
                error = f"{type(exc).__name__}: {exc}"[:500]
                self.set_broker_state(REFILL_FAILED, error=error)
                self._notice(f"refilling the local broker failed ({error}); trying again in {delay:.0f}s")
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            if epoch != self._broker_epoch:
                return
            self.refills.append(count)
            self.set_broker_state(SERVING, refilled=count)
            self._notice(f"local broker refilled: {count} events re-published from the outboxes")
            return

    async def refill(self) -> int:
        """Create every declared topic (with its dead-letter topic and declared configuration) on
        the broker, then re-publish each service's outbox history into it; return how many events
        were published."""
        from setka_contracts import topics
        from setka_runtime.kafka import ensure_topics
        from setka_runtime.republish import republish

        env = self.environment()
        bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
        partitions = env.get("KAFKA_TOPIC_PARTITIONS")
        await ensure_topics(
            bootstrap,
            [spec.name for spec in topics.DECLARED],
            partitions=int(partitions) if partitions else None,
            replication_factor=int(env.get("KAFKA_REPLICATION_FACTOR", "1")),
        )
        waiting = await self._wait_for_consumers(bootstrap, timeout=self.rejoin_timeout)
        if waiting:
            self._notice(f"refilling although {', '.join(waiting)} did not rejoin the new broker yet")
        total = 0
        for name in SERVICES:
            if self._stopping.is_set():
                break
            total += await republish(env[f"{name.upper()}_DATABASE_URL"], bootstrap, progress=False)
        return total

    async def _wait_for_consumers(self, bootstrap: str, *, timeout: float) -> list[str]:
        """Wait until the consumer group of every running consuming service has a member on the
        restarted broker; return the groups still waiting after ``timeout``.

        A consumer that has not noticed the restart yet still holds its positions in the old log;
        the new broker takes its commits all the same (it lost the group's generation), so had it
        fetched the refilled log from those positions and committed, it would skip what the refill
        put before them. Once it has joined the group again, its positions come from the new
        broker's committed offsets: none, so it reads from the earliest."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                running = [
                    group
                    for name, group in CONSUMER_GROUPS.items()
                    if name in self.processes and self.processes[name].poll() is None
                ]
            waiting = set(running) - await _groups_with_members(bootstrap, running)
            if not waiting or self._stopping.is_set() or time.monotonic() > deadline:
                return sorted(waiting)
            await asyncio.sleep(0.3)

    def _notice(self, text: str) -> None:
        """What the supervisor does: on the console and in ``var_dir/supervisor.log``."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with contextlib.suppress(OSError), open(self.var_dir / "supervisor.log", "a") as log:
            log.write(f"{stamp} {text}\n")
        self._say("supervisor", text)


def default_ports() -> dict[str, int]:
    env = os.environ
    return {
        "kafka": int(env.get("SETKA_KAFKA_PORT", 9092)),
        "registry": int(env.get("REGISTRY_PORT", 8001)),
        "events": int(env.get("EVENTS_PORT", 8002)),
        "analytics": int(env.get("ANALYTICS_PORT", 8003)),
        "gateway": int(env.get("GATEWAY_PORT", 8000)),
        "portal": int(env.get("PORTAL_PORT", 8010)),
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
        for port_name in ("portal", "gateway", *SERVICES):
            try:
                wait_for_port("127.0.0.1", stack.ports[port_name], timeout=0.2)
            except TimeoutError:
                continue
            raise SystemExit(f"port {stack.ports[port_name]} ({port_name}) is already in use")
        # the in-memory broker starts empty: services that ran before refill it from their outboxes
        ran_before = stack.local_broker and any((stack.var_dir / f"{name}.db").exists() for name in SERVICES)
        stack.start()
        if ran_before:
            stack.start_refill(
                "the local broker starts empty; refilling it from the outboxes of earlier runs"
            )
        from gateway.auth import issue_token
        from gateway.settings import GatewaySettings

        token = issue_token(
            GatewaySettings(), subject="demo-admin", roles=["regional_admin"], region_code="*"
        )
        print(
            "\n"
            f"  Setka is up. The workspace (sign in as a demo person): {stack.workspace_url}\n"
            f"  GraphQL (with the GraphiQL IDE): {stack.gateway_url}\n"
            f"  A demo token of an admin of every region (Authorization: Bearer …):\n    {token}\n"
            f"  Logs: {stack.var_dir}/*.log   Stop: Ctrl-C\n",
            flush=True,
        )
        stack.supervise(stopping)
    finally:
        with contextlib.suppress(OSError):  # the terminal or a pipe may be gone already
            print("stopping Setka…", flush=True)
        stack.stop()


if __name__ == "__main__":
    _ = free_port  # re-exported for tests
    main()
