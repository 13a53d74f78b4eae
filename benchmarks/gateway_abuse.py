"""Well-behaved clients of the gateway while a hostile one sends it the worst documents there are,
next to the same clients undisturbed, in the same run.

The local stack runs with its demo data (real processes, SQLite, the local broker). A few
concurrent clients send ordinary queries (``{ __typename }`` and a page of organizations' names,
in turn, each client under its own operation names) for a while; their p50 and p99 are measured:

- undisturbed;
- while an anonymous hostile client sends the documents of :mod:`benchmarks.abuse_corpus` in turn
  over HTTP, 10 requests a second (paced: it does not wait for the answers), each made new so no
  cache answers it;
- with ``websocket``, the same over a WebSocket (``graphql-transport-ws``: a subscribe message a
  document; a connection the gateway closes is counted and replaced, as an attacker would).

Goal: the disturbed p99 at most 1.5x the undisturbed one. Also shown: the p99 of each query; the
latency of one more client sending, twice a second, a small document the gateway has not seen (so
it is prepared, not taken from the cache); what the hostile requests were answered (status and
code: they should be refused with a code before planning) and how long they took; the gateway's
and the registry's CPU in each phase; each document's cost to prepare (parse, validate, check,
plan), measured once in this process.

The gateway's rate limit is off, as in every benchmark (all clients share one address); the
default one (600 a minute, bursts of 60, per address) would let 10 requests a second through.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from benchmarks import abuse_corpus
from benchmarks.gateway_speed import Load

RATE = 10.0
"""Hostile requests a second."""
GOAL = 1.5
"""Disturbed p99 / undisturbed p99, at most."""
NAMES = "{ organizations(first: 10) { edges { node { shortName } } } }"
HOSTILE_TIMEOUT = 30.0
DRAIN_SECONDS = 30.0
"""How long a phase waits after the hostile client stops for the answers still due."""
NEW_DOCUMENTS_RATE = 2.0
"""A well-behaved client sending documents the gateway has not seen, this many a second."""
_numbers = itertools.count()
"""Numbers that make every hostile document, and every new well-behaved one, new."""
_UNSET = ("KAFKA_BOOTSTRAP_SERVERS", "REGISTRY_DATABASE_URL", "EVENTS_DATABASE_URL", "ANALYTICS_DATABASE_URL")


@dataclass
class Hostile:
    """What the hostile client sent and got back."""

    sent: int = 0
    answers: dict[str, Counter[str]] = field(default_factory=dict)
    """Per corpus entry: how it was answered (``400 MAX_FIELDS_LIMIT``, ``200 data``, ...) and
    how often."""
    latencies: list[float] = field(default_factory=list)
    closes: Counter[str] = field(default_factory=Counter)
    """Connections the gateway closed (the WebSocket client), by code."""
    drained: float = 0.0
    """Seconds from the last hostile request sent to the last answer."""

    def note(self, name: str, answer: str) -> None:
        self.answers.setdefault(name, Counter())[answer] += 1

    def summary(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.answers.values():
            total.update(counts)
        return total


@dataclass
class Phase:
    measured: Measured
    cpu_total: dict[str, float]
    """The gateway's and the registry's CPU seconds from the hostile client's start to its last
    answer."""
    hostile: Hostile | None

    @property
    def load(self) -> Load:
        return self.measured.load


async def run(workdir: Path, *, clients: int = 4, seconds: float = 10.0, websocket: bool = False) -> None:
    from setka_runtime.local_broker import free_port

    from deploy.local_stack import Stack

    names = list(abuse_corpus.CORPUS)
    print(
        f"\nGateway under abuse ({clients} well-behaved clients, {seconds:.0f} s a phase; a hostile"
        f" client sends {len(names)} documents of benchmarks/abuse_corpus.py in turn, {RATE:.0f}/s,"
        " anonymous, each made new)"
    )
    costs = await asyncio.to_thread(_prepare_costs, names)
    saved = {name: os.environ.pop(name, None) for name in _UNSET}
    ports = {name: free_port() for name in ("kafka", "registry", "events", "analytics", "gateway")}
    # the cost budgets on, as in production (the request rate limit stays off: every client here
    # shares one address); the well-behaved clients sign in, as portals do, each as itself
    budget = {"GATEWAY_ANONYMOUS_COST_BUDGET_PER_MINUTE": "60000", "GATEWAY_COST_BUDGET_PER_MINUTE": "300000"}
    stack = Stack(var_dir=workdir / "abuse-var", ports=ports, seed_demo=True, echo=False, env=budget)
    try:
        await asyncio.to_thread(stack.start)
        await _wait_for_organizations(stack.gateway_url)
        pids = {name: stack.processes[name].pid for name in ("gateway", "registry")}
        url = stack.gateway_url
        await _well_behaved(url, clients, 2.0, "warm-up", pids)  # connections, caches
        phases = [Phase(await _well_behaved(url, clients, seconds, "undisturbed", pids), {}, None)]
        hostiles: list[tuple[str, Callable[..., Any]]] = [("over HTTP", _hostile_http)]
        if websocket:
            hostiles.append(("over a WebSocket", _hostile_websocket))
        for how, hostile_client in hostiles:
            hostile = Hostile()
            cpu = _cpu_seconds(pids)
            stop = asyncio.Event()
            attack = asyncio.create_task(hostile_client(url, names, hostile, stop))
            title = f"hostile client {how}, {RATE:.0f}/s"
            measured = await _well_behaved(url, clients, seconds, title, pids, at_deadline=stop.set)
            await attack  # and the answers still due
            phases.append(Phase(measured, _cpu_seconds(pids, since=cpu), hostile))
        _report(phases, names, costs)
    finally:
        await asyncio.to_thread(stack.stop)
        for name, value in saved.items():
            if value is not None:
                os.environ[name] = value


# -- the well-behaved clients ---------------------------------------------------------------------
@dataclass
class Measured:
    load: Load
    """All the well-behaved clients' requests."""
    cpu: dict[str, float]
    """The gateway's and the registry's CPU seconds meanwhile."""
    by_query: dict[str, list[float]]
    new_documents: list[float]
    """Latencies of the documents the gateway had not seen."""


async def _well_behaved(
    url: str,
    clients: int,
    seconds: float,
    name: str,
    pids: dict[str, int],
    *,
    at_deadline: Callable[[], object] | None = None,
) -> Measured:
    """``clients`` loops sending, in turn, ``{ __typename }`` and a page of names for ``seconds``;
    meanwhile one more client sends a document the gateway has not seen twice a second (which
    the gateway's cache cannot answer)."""
    queries = {"{ __typename }": "{ __typename }", "names": NAMES}
    bodies = [
        [
            (label, orjson.dumps({"query": f"query Client{n}Q{i} {text}"}))
            for i, (label, text) in enumerate(queries.items())
        ]
        for n in range(clients)
    ]
    headers = {"content-type": "application/json", "accept": "application/graphql-response+json"}
    signed_in = [{**headers, "authorization": f"Bearer {_token(n)}"} for n in range(clients + 1)]
    latencies: list[float] = []
    by_query: dict[str, list[float]] = {label: [] for label in queries}
    new_documents: list[float] = []
    failures: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=HOSTILE_TIMEOUT)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=clients + 20), timeout=timeout
    ) as session:
        started = time.perf_counter()
        deadline = started + seconds
        if at_deadline is not None:
            asyncio.get_running_loop().call_later(seconds, at_deadline)

        async def once(body: bytes, number: int) -> float:
            sent = time.perf_counter()
            async with session.post(url, data=body, headers=signed_in[number]) as reply:
                payload = await reply.read()
            if reply.status != 200 or b'"errors"' in payload:
                failures[f"{reply.status} {payload[:120]!r}"] += 1
            return time.perf_counter() - sent

        async def client(number: int, mine: list[tuple[str, bytes]]) -> None:
            turn = 0
            while time.perf_counter() < deadline:
                label, body = mine[turn % len(mine)]
                turn += 1
                took = await once(body, number)
                latencies.append(took)
                by_query[label].append(took)

        async def new_document(number: int) -> None:
            body = orjson.dumps({"query": f"query New{number} {{ __typename }}"})
            new_documents.append(await once(body, clients))

        async def new_documents_client() -> None:
            tasks = []
            while time.perf_counter() < deadline:
                tasks.append(asyncio.create_task(new_document(next(_numbers))))
                await asyncio.sleep(1 / NEW_DOCUMENTS_RATE)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    failures[f"new document: {type(result).__name__}"] += 1

        cpu = _cpu_seconds(pids)
        fresh = asyncio.create_task(new_documents_client())
        await asyncio.gather(*(client(n, mine) for n, mine in enumerate(bodies)))
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(pids, since=cpu)
        await fresh  # answers still due
    if failures:
        print(f"  WARNING: {sum(failures.values())} well-behaved requests failed ({name}): {dict(failures)}")
    return Measured(Load(name, latencies, elapsed), cpu, by_query, new_documents)


def _token(number: int) -> str:
    """A portal's token for well-behaved client ``number`` (each its own caller and budget)."""
    from gateway.auth import issue_token
    from gateway.settings import GatewaySettings

    return issue_token(GatewaySettings(), subject=f"portal-{number}", roles=["viewer"], region_code="39")


# -- the hostile client ---------------------------------------------------------------------------
async def _hostile_http(url: str, names: list[str], hostile: Hostile, stop: asyncio.Event) -> None:
    """Sends the corpus in turn at ``RATE`` a second until ``stop``, without waiting for answers
    (as an attacker would not); then waits for the answers still due."""
    headers = {"content-type": "application/json", "accept": "application/graphql-response+json"}
    timeout = aiohttp.ClientTimeout(total=HOSTILE_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def send(turn: int) -> None:
            name = names[turn % len(names)]
            body = orjson.dumps(abuse_corpus.request(name, next(_numbers)))
            sent = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as reply:
                    payload = await reply.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                hostile.note(name, f"no answer ({type(exc).__name__})")
                return
            hostile.latencies.append(time.perf_counter() - sent)
            hostile.note(name, f"{reply.status} {_code(payload)}")

        tasks = await _paced(send, hostile, stop)
        last_sent = time.perf_counter()
        await asyncio.gather(*tasks)
        hostile.drained = time.perf_counter() - last_sent


async def _hostile_websocket(url: str, names: list[str], hostile: Hostile, stop: asyncio.Event) -> None:
    """The same over ``graphql-transport-ws``: a subscribe message a document, on one connection;
    when the gateway closes it, on a new one (as an attacker would), the close counted."""
    async with aiohttp.ClientSession() as session:
        socket: _Socket | None = None
        sockets: list[_Socket] = []

        async def send(turn: int) -> None:
            nonlocal socket
            name = names[turn % len(names)]
            if socket is None or socket.closed:
                socket = _Socket(hostile)
                sockets.append(socket)
                await socket.open(session, url.replace("http", "ws", 1))
            await socket.send(str(turn), name, abuse_corpus.request(name, next(_numbers)))

        await asyncio.gather(*await _paced(send, hostile, stop))
        last_sent = time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.drained.wait() for s in sockets)), DRAIN_SECONDS)
        hostile.drained = time.perf_counter() - last_sent
        for each in sockets:
            await each.close()


class _Socket:
    """One hostile ``graphql-transport-ws`` connection: what it sent and has not been answered."""

    def __init__(self, hostile: Hostile) -> None:
        self.hostile = hostile
        self.pending: dict[str, tuple[str, float]] = {}
        self.closed = False
        self.drained = asyncio.Event()
        self.drained.set()
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.ready = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    async def open(self, session: aiohttp.ClientSession, url: str) -> None:
        try:
            self.socket = await session.ws_connect(url, protocols=("graphql-transport-ws",), max_msg_size=0)
            await self.socket.send_str('{"type":"connection_init","payload":{}}')
            ack = await self.socket.receive_json()
        except (aiohttp.ClientError, ConnectionError, TypeError) as exc:
            self._lost(f"no connection ({type(exc).__name__})")
            return
        finally:
            self.ready.set()
        if ack.get("type") != "connection_ack":
            self._lost(f"refused ({ack})")
            return
        self.reader = asyncio.create_task(self._read())

    async def send(self, ident: str, name: str, payload: dict[str, Any]) -> None:
        await self.ready.wait()
        self.pending[ident] = (name, time.perf_counter())
        self.drained.clear()
        if self.closed or self.socket is None:
            self._lost("closed")
            return
        try:
            await self.socket.send_str(
                orjson.dumps({"id": ident, "type": "subscribe", "payload": payload}).decode()
            )
        except (aiohttp.ClientError, ConnectionError):
            self._lost(self._close_reason())

    async def _read(self) -> None:
        assert self.socket is not None
        async for message in self.socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            answer = orjson.loads(message.data)
            kind = answer.get("type")
            if kind == "ping":
                await self.socket.send_str('{"type":"pong"}')
                continue
            entry = self.pending.pop(str(answer.get("id")), None) if kind in ("error", "complete") else None
            if entry is not None:
                name, sent = entry
                self.hostile.latencies.append(time.perf_counter() - sent)
                if kind == "error":
                    self.hostile.note(name, f"error {_code(orjson.dumps({'errors': answer.get('payload')}))}")
                else:
                    self.hostile.note(name, "next, complete")
            if not self.pending:
                self.drained.set()
        self._lost(self._close_reason())

    def _close_reason(self) -> str:
        code = self.socket.close_code if self.socket is not None else None
        return f"socket closed ({code})" if code is not None else "socket lost"

    def _lost(self, reason: str) -> None:
        """The connection is gone: what it had not been answered is counted as ``reason``."""
        if not self.closed:
            self.closed = True
            self.hostile.closes[reason] += 1
        for name, _ in self.pending.values():
            self.hostile.note(name, f"no answer, {reason}")
        self.pending.clear()
        self.drained.set()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        if self.socket is not None:
            await self.socket.close()
        self.closed = True  # by this client: not counted as a close
        self._lost("no answer in time")


async def _paced(
    send: Callable[[int], Any], hostile: Hostile, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    """Starts ``send(n)`` at ``RATE`` a second until ``stop``; the tasks started."""
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    while not stop.is_set():
        tasks.append(asyncio.create_task(send(hostile.sent)))
        hostile.sent += 1
        delay = started + hostile.sent / RATE - time.perf_counter()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
    return tasks


def _code(payload: bytes) -> str:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return "not JSON"
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return "data"
    codes = {(e.get("extensions") or {}).get("code") or "no code" for e in errors}
    return "+".join(sorted(codes))


# -- measuring and printing -------------------------------------------------------------------------
def _prepare_costs(names: list[str]) -> dict[str, float]:
    """Seconds the gateway's engine takes to prepare each document (or refuse it), once, here."""
    from gateway.federation.engine import Engine, Limits, RequestError
    from gateway.federation.supergraph import Supergraph
    from gateway.federation.transport import Subgraphs
    from gateway.settings import GatewaySettings

    settings = GatewaySettings()  # as the stack's gateway has them
    urls = {name: "http://127.0.0.1:9/graphql" for name in ("registry", "events", "analytics")}
    supergraph = Supergraph.load(settings.supergraph, urls)
    limits = Limits(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_cost=settings.max_cost,
        max_fields=settings.max_fields,
        max_document_chars=settings.max_document_chars,
        introspection=settings.introspection_enabled,
    )
    engine = Engine(supergraph, Subgraphs(supergraph.graphs, timeout=1), limits)
    costs: dict[str, float] = {}
    for number, name in enumerate(names):
        body = abuse_corpus.request(name, -number - 1)
        gc.collect()  # the garbage of the one before is not this one's cost
        started = time.perf_counter()
        try:
            engine.prepare(body["query"], body.get("operationName"))
        except RequestError:
            pass
        costs[name] = time.perf_counter() - started
    engine.close()
    return costs


def _cpu_seconds(pids: dict[str, int], *, since: dict[str, float] | None = None) -> dict[str, float]:
    """User and system CPU seconds of each process so far (Linux), or since ``since``."""
    used = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            used[name] = 0.0
            continue
        used[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return {name: value - (since or {}).get(name, 0.0) for name, value in used.items()}


def _report(phases: list[Phase], names: list[str], costs: dict[str, float]) -> None:
    quiet = phases[0].measured
    cpu_a_request = {name: used / len(quiet.load.latencies) for name, used in quiet.cpu.items()}
    for phase in phases:
        cpu = ", ".join(
            f"{name} {used / phase.load.seconds:4.0%}" for name, used in phase.measured.cpu.items()
        )
        print(f"{phase.load.line()}   CPU: {cpu}")
    hostiles = [phase.hostile for phase in phases if phase.hostile is not None]
    for phase in phases:
        measured = phase.measured
        by_query = ", ".join(f"{label} {_p99(values):.1f} ms" for label, values in measured.by_query.items())
        new = sorted(measured.new_documents) or [0.0]
        print(
            f"  {measured.load.name}: p99 of {by_query}; documents the gateway had not seen"
            f" ({NEW_DOCUMENTS_RATE:.0f}/s): p50 {statistics.median(new) * 1000:.1f} ms, at worst"
            f" {new[-1] * 1000:.0f} ms"
        )
    for phase in phases[1:]:
        load, hostile = phase.load, phase.hostile
        assert hostile is not None
        verdict = "met" if load.p99 <= GOAL * quiet.load.p99 else "NOT met"
        print(
            f"  {load.name}: disturbed / undisturbed p99 {load.p99 / quiet.load.p99:.2f}x (goal <= {GOAL}x:"
            f" {verdict}); p50 {load.p50 / quiet.load.p50:.2f}x; throughput {load.rps / quiet.load.rps:.2f}x"
        )
        answers = ", ".join(f"{answer} x{count}" for answer, count in hostile.summary().most_common())
        ordered = sorted(hostile.latencies) or [0.0]
        median, worst = statistics.median(ordered) * 1000, ordered[-1] * 1000
        extra = {
            name: (used - len(load.latencies) * cpu_a_request[name]) / max(1, hostile.sent)
            for name, used in phase.cpu_total.items()
        }
        print(f"    {hostile.sent} hostile requests: {answers}")
        if hostile.closes:
            closes = ", ".join(f"{reason} x{count}" for reason, count in hostile.closes.items())
            print(f"    the gateway closed the hostile client's connections: {closes}")
        print(
            f"    answered in p50 {median:.0f} ms, at worst {worst:.0f} ms; the last answer"
            f" {hostile.drained:.1f} s after the last request; each cost about"
            f" {extra['gateway'] * 1000:.0f} ms of the gateway's CPU and {extra['registry'] * 1000:.0f} ms"
            " of the registry's"
        )
    print("  each document: its cost to prepare (once, in this process); how the gateway answered it")
    for name in names:
        answers = " | ".join(
            ", ".join(f"{answer} x{count}" for answer, count in hostile.answers.get(name, Counter()).items())
            for hostile in hostiles
        )
        print(f"    {name:<56} {costs[name] * 1000:6.0f} ms   {answers}")
    passed = [
        name
        for name in names
        if any(
            answer.startswith(("200", "next"))
            for hostile in hostiles
            for answer in hostile.answers.get(name, Counter())
        )
    ]
    if passed:
        print(f"  answered, not refused (valid and under every limit): {'; '.join(passed)}")


def _p99(values: list[float]) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


async def _wait_for_organizations(url: str) -> None:
    """Until the registry's demo organizations answer through the gateway."""
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.post(url, json={"query": NAMES}) as reply:
                body = orjson.loads(await reply.read())
            if ((body.get("data") or {}).get("organizations") or {}).get("edges"):
                return
            await asyncio.sleep(0.5)
    raise RuntimeError("the demo organizations did not arrive within 120 s")
